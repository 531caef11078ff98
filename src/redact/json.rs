//! Masking inside serialised JSON lines (stdout): only inside string literals, only on escape
//! boundaries, so every masked line is still the same JSON shape.

use super::{MASK, registry};

/// Mask registered secrets inside the string literals of one serialised JSON line. The line
/// stays valid JSON: a match must start on an escape boundary, and numbers, keywords and
/// punctuation are never touched.
pub fn json_line(line: &str) -> std::borrow::Cow<'_, str> {
    let Ok(registry) = registry().read() else {
        return line.into();
    };
    // Nothing registered (most runs): no copy of what may be a line of many megabytes.
    if registry.json.is_empty() {
        return line.into();
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..=open]);
        let literal = &rest[open + 1..];
        let close = string_end(literal);
        out.push_str(&mask_literal(&literal[..close], &registry.json));
        rest = &literal[close..];
        if let Some(after) = rest.strip_prefix('"') {
            out.push('"');
            rest = after;
        }
    }
    out.push_str(rest);
    out.into()
}

/// Index of the closing quote of a JSON string literal's body (or its length if unterminated).
fn string_end(literal: &str) -> usize {
    let bytes = literal.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Replace each escaped secret in a literal's body where it starts on an escape boundary
/// (an even run of backslashes before it), so `\n` + `abc` never matches a secret `nabc`.
fn mask_literal(body: &str, secrets: &[String]) -> String {
    let mut out = body.to_string();
    for secret in secrets {
        if !out.contains(secret.as_str()) {
            continue;
        }
        let mut masked = String::with_capacity(out.len());
        let mut from = 0;
        while let Some(found) = out[from..].find(secret.as_str()) {
            let at = from + found;
            let backslashes = out[..at].bytes().rev().take_while(|&b| b == b'\\').count();
            if backslashes % 2 == 0 {
                masked.push_str(&out[from..at]);
                masked.push_str(MASK);
                from = at + secret.len();
            } else {
                let next = at + out[at..].chars().next().map_or(1, char::len_utf8);
                masked.push_str(&out[from..next]);
                from = next;
            }
        }
        masked.push_str(&out[from..]);
        out = masked;
    }
    out
}
