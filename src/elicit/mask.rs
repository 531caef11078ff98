//! Which answers are secrets: fields with `format: password`, or whose names look like a
//! credential (token, secret, password, key...). Their values go to the server as typed but are
//! masked in the `elicitation` stdout line, in logs and on the terminal (no echo of what was
//! typed is ever printed back).

use serde_json::{Map, Value};

use super::fields::Field;

/// What a masked value becomes in the stdout line.
pub const MASK: &str = "***";

/// Parts of a field name that mark its value as a secret (compared without case, `_`, `-`).
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "key",
    "pin",
    "otp",
    "credential",
    "cvv",
    "ssn",
];

/// Whether `field`'s value is a secret.
pub fn is_sensitive(field: &Field) -> bool {
    field.schema.get("format").and_then(Value::as_str) == Some("password")
        || sensitive_name(&field.name)
}

/// Whether a field name looks like a credential: one of its words (split at `_`, `-`, spaces
/// and camelCase humps) is a secret word, or it contains `password`/`secret`/`token`/`apikey`.
pub fn sensitive_name(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if [
        "password",
        "secret",
        "token",
        "apikey",
        "passphrase",
        "credential",
    ]
    .iter()
    .any(|word| folded.contains(word))
    {
        return true;
    }
    words(name)
        .iter()
        .any(|word| SECRET_WORDS.contains(&word.as_str()))
}

/// `apiKey` -> [api, key]; `client_secret` -> [client, secret].
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            words.push(std::mem::take(&mut current));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    words.push(current);
    words.retain(|w| !w.is_empty());
    words
}

/// `content` with the values of sensitive fields replaced by [`MASK`]. A key the schema does
/// not name is masked by its name alone.
pub fn masked(content: &Map<String, Value>, fields: &[Field]) -> Map<String, Value> {
    content
        .iter()
        .map(|(name, value)| {
            let secret = match fields.iter().find(|f| &f.name == name) {
                Some(field) => is_sensitive(field),
                None => sensitive_name(name),
            };
            let shown = if secret {
                Value::String(MASK.into())
            } else {
                value.clone()
            };
            (name.clone(), shown)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn names_that_look_like_credentials_are_sensitive() {
        for name in [
            "password",
            "apiKey",
            "api_key",
            "API-KEY",
            "token",
            "accessToken",
            "client_secret",
            "pin",
            "key",
            "ssh-passphrase",
        ] {
            assert!(sensitive_name(name), "{name}");
        }
        for name in [
            "name",
            "monkey",
            "keyboard_layout",
            "email",
            "pineapple",
            "tokenizer_name",
        ] {
            // `tokenizer` contains `token`: a false positive is the safe side.
            assert_eq!(
                sensitive_name(name),
                name.starts_with("tokenizer"),
                "{name}"
            );
        }
    }

    #[test]
    fn sensitive_values_are_masked_and_the_others_kept() {
        let schema = json!({"type": "object", "properties": {
            "user": {"type": "string"},
            "pw": {"type": "string", "format": "password"},
            "apiKey": {"type": "string"}
        }});
        let fields = super::super::fields::fields(&schema);
        let content = json!({"user": "ann", "pw": "hunter2", "apiKey": "k-1", "token": "t"});
        let masked = masked(content.as_object().unwrap(), &fields);
        assert_eq!(
            Value::Object(masked),
            json!({"user": "ann", "pw": "***", "apiKey": "***", "token": "***"})
        );
    }
}
