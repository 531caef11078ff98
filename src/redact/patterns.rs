//! Credential-shaped text masked in messages even when nobody registered it: `token=...`,
//! `Bearer ...`, `scheme://user:pass@`.

use super::MASK;

/// Query parameter names whose values are always masked.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "client_secret",
    "password",
    "code",
    "sig",
    "signature",
    "auth",
];

/// Mask credential-shaped substrings: `name=value` for secret parameter names,
/// `Bearer xyz`, and `scheme://user:pass@`.
pub(super) fn mask_patterns(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // `<name>=<value>` where the name is a secret parameter name.
        if bytes[i] == b'=' {
            // The name starts after the last character that cannot be in one (which may
            // take several bytes: `ச=` must not slice inside the `ச`).
            let start = input[..i]
                .char_indices()
                .rev()
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
                .map_or(0, |(p, c)| p + c.len_utf8());
            let name = input[start..i].to_ascii_lowercase();
            if SECRET_PARAMS.contains(&name.as_str()) && !input[i + 1..].starts_with(MASK) {
                let end = value_end(input, i + 1);
                out.push('=');
                if end > i + 1 && &input[i + 1..end] != MASK {
                    out.push_str(MASK);
                } else {
                    out.push_str(&input[i + 1..end]);
                }
                i = end;
                continue;
            }
        }
        // `Bearer <token>` (Authorization header values), as a word of its own.
        if (input[i..].starts_with("Bearer ") || input[i..].starts_with("bearer "))
            && !input[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        {
            let end = value_end(input, i + 7);
            if token_shaped(&input[i + 7..end]) {
                out.push_str(&input[i..i + 7]);
                out.push_str(MASK);
                i = end;
                continue;
            }
        }
        // `://user:password@host`
        if input[i..].starts_with("://") {
            let rest = &input[i + 3..];
            let authority_end = rest
                .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
                .unwrap_or(rest.len());
            if let Some(at) = rest[..authority_end].rfind('@') {
                out.push_str("://");
                out.push_str(MASK);
                out.push('@');
                i += 3 + at + 1;
                continue;
            }
        }
        let ch = input[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Whether the word after `Bearer ` may be a credential rather than prose ("a bearer
/// token", "bearer but"): a plain lowercase word of up to 7 letters is prose; anything
/// longer, or with a digit, a capital or a token punctuation mark, is masked.
fn token_shaped(word: &str) -> bool {
    word.len() >= 8 || word.chars().any(|c| !c.is_ascii_lowercase())
}

/// End of a parameter value: up to `&`, whitespace, quotes or closing brackets.
fn value_end(input: &str, from: usize) -> usize {
    input[from..]
        .find(|c: char| {
            c == '&'
                || c == '"'
                || c == '\''
                || c == '`'
                || c == ')'
                || c == ']'
                || c == ','
                || c == '>'
                || c.is_whitespace()
        })
        .map_or(input.len(), |p| from + p)
}
