//! Keeps secrets out of every message mcpchat prints or logs.
//!
//! Two layers: values registered as secret (header values, URL query values, tokens) are
//! replaced wherever they appear, and anything shaped like a credential (`?token=...`,
//! `Bearer ...`, `user:pass@`) is masked even when nobody registered it.

use std::sync::{OnceLock, RwLock};

const MASK: &str = "***";

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

fn registry() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Remember a value that must never be printed. Very short values are ignored: masking
/// every "a" in a message would make errors unreadable and protects nothing.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < 4 {
        return;
    }
    if let Ok(mut secrets) = registry().write()
        && !secrets.iter().any(|s| s == secret)
    {
        secrets.push(secret.to_string());
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Register the secret parts of a URL: query values and the userinfo password.
pub fn register_url(url: &str) {
    if let Ok(parsed) = url::Url::parse(url) {
        for (_, value) in parsed.query_pairs() {
            register(&value);
        }
        if let Some(password) = parsed.password() {
            register(password);
        }
    }
}

/// Mask every secret in `text`.
pub fn text(text: &str) -> String {
    let mut out = text.to_string();
    if let Ok(secrets) = registry().read() {
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
    }
    mask_patterns(&out)
}

/// A URL fit for messages: query values masked, userinfo dropped.
pub fn url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) => {
            if parsed.password().is_some() || !parsed.username().is_empty() {
                let _ = parsed.set_password(None);
                let _ = parsed.set_username("");
            }
            if parsed.query().is_some() {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(k, _)| (k.into_owned(), MASK.to_string()))
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            // `extend_pairs` percent-encodes the mask; show it plainly.
            parsed.to_string().replace("%2A%2A%2A", MASK)
        }
        Err(_) => text(raw),
    }
}

/// Mask credential-shaped substrings: `name=value` for secret parameter names,
/// `Bearer xyz`, and `scheme://user:pass@`.
fn mask_patterns(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // `<name>=<value>` where the name is a secret parameter name.
        if bytes[i] == b'=' {
            let start = input[..i]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .map_or(0, |p| p + 1);
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
        // `Bearer <token>` (Authorization header values).
        if input[i..].starts_with("Bearer ") || input[i..].starts_with("bearer ") {
            out.push_str(&input[i..i + 7]);
            let end = value_end(input, i + 7);
            if end > i + 7 {
                out.push_str(MASK);
            }
            i = end;
            continue;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_token_query_values() {
        assert_eq!(
            mask_patterns("GET https://x.example/mcp?token=abc123&x=1 failed"),
            "GET https://x.example/mcp?token=***&x=1 failed"
        );
    }

    #[test]
    fn masks_bearer_and_userinfo() {
        assert_eq!(
            mask_patterns("Authorization: Bearer eyJabc.def"),
            "Authorization: Bearer ***"
        );
        assert_eq!(mask_patterns("http://bob:hunter2@h/p"), "http://***@h/p");
    }

    #[test]
    fn url_masks_every_query_value() {
        assert_eq!(
            url("https://h.example/ws/mcp?token=s3cr3t&b=2"),
            "https://h.example/ws/mcp?token=***&b=***"
        );
    }

    #[test]
    fn registered_secrets_are_masked_anywhere() {
        register("very-secret-header-value");
        assert_eq!(text("sent very-secret-header-value to x"), "sent *** to x");
    }
}
