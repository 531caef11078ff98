//! Keeps secrets out of every message mcpchat prints or logs.
//!
//! Two layers: values registered as secret (header values and their credential part, URL
//! userinfo and query values, tokens, keys) are replaced wherever they appear, and anything
//! shaped like a credential (`?token=...`, `Bearer ...`, `user:pass@`) is masked in messages
//! even when nobody registered it. Stdout only gets the first layer ([`json_line`]): masking
//! patterns there would rewrite tool results that merely talk about tokens.
//!
//! A secret is masked in the forms it travels in: as is, JSON-escaped, Rust-`Debug`-escaped
//! (what `tracing` prints for `?field`) and percent-encoded (in URLs). Values shorter than
//! [`MIN_SECRET_LEN`] are not registered: masking every "ab" would make messages unreadable.

use std::sync::{OnceLock, RwLock};

mod json;
mod patterns;
#[cfg(test)]
mod props;
mod sources;

pub use json::json_line;
pub use sources::{is_secret_name, register_header, register_pem, register_url};

const MASK: &str = "***";

/// Shorter values are never registered (documented in docs/reliability.md).
pub const MIN_SECRET_LEN: usize = 4;

/// Every form of every registered secret: `text` masks these in messages; `json` holds their
/// JSON-escaped forms, masked inside the string literals of stdout lines. Longest first, so a
/// secret containing another is masked whole.
#[derive(Default)]
struct Registry {
    originals: Vec<String>,
    text: Vec<String>,
    json: Vec<String>,
}

fn registry() -> &'static RwLock<Registry> {
    static SECRETS: OnceLock<RwLock<Registry>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Registry::default()))
}

/// Remember a value that must never be printed, in every form it may travel in.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let Ok(mut registry) = registry().write() else {
        return;
    };
    if registry.originals.iter().any(|s| s == secret) {
        return;
    }
    registry.originals.push(secret.to_string());
    for form in forms(secret) {
        let json = json_escaped(&form);
        if !registry.text.contains(&form) {
            registry.text.push(form);
        }
        if !registry.json.contains(&json) {
            registry.json.push(json);
        }
    }
    registry.text.sort_by_key(|s| std::cmp::Reverse(s.len()));
    registry.json.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// The forms a secret is printed in: as is, JSON-escaped, `Debug`-escaped, percent-encoded.
fn forms(secret: &str) -> Vec<String> {
    let debug = format!("{secret:?}");
    let form_encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let mut forms = vec![
        secret.to_string(),
        json_escaped(secret),
        debug[1..debug.len() - 1].to_string(),
        form_encoded.replace('+', "%20"),
        form_encoded,
    ];
    forms.dedup();
    forms
}

/// `s` as serde_json writes it inside a string literal (without the quotes).
fn json_escaped(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

/// Mask every secret in `text`, then everything shaped like a credential.
pub fn text(text: &str) -> String {
    patterns::mask_patterns(&registered(text))
}

/// Mask only registered secrets (text stdout lines: patterns would rewrite tool results).
pub fn registered(text: &str) -> String {
    let mut out = text.to_string();
    if let Ok(registry) = registry().read() {
        for secret in registry.text.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::patterns::mask_patterns;
    use super::*;
    use base64::Engine;

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
    fn bearer_in_prose_is_not_taken_for_a_token() {
        assert_eq!(
            mask_patterns("auth_type jwt_bearer but no assertion"),
            "auth_type jwt_bearer but no assertion"
        );
        assert_eq!(
            mask_patterns("send a bearer token, not bearer abc-1"),
            "send a bearer token, not bearer ***"
        );
        assert_eq!(
            mask_patterns("Authorization: Bearer changeme"),
            "Authorization: Bearer ***"
        );
        assert_eq!(
            mask_patterns("WWW-Authenticate: Bearer realm=x; Bearer sk_live_9"),
            "WWW-Authenticate: Bearer *** Bearer ***"
        );
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

    #[test]
    fn a_basic_header_masks_its_encoded_and_decoded_parts() {
        register_header("X-Proxy", "Basic dXNyMTpwYXNzd29yZDE=");
        assert_eq!(
            registered("got dXNyMTpwYXNzd29yZDE= usr1:password1 and password1"),
            "got *** *** and ***"
        );
    }

    #[test]
    fn only_credential_parts_are_split_off() {
        register_header("X-Client", "acme widgets-tool");
        assert_eq!(registered("widgets-tool"), "widgets-tool");
        register_header("Authorization", "Custom cred-part-77");
        assert_eq!(registered("x cred-part-77"), "x ***");
    }

    #[test]
    fn plain_headers_are_not_registered() {
        register_header("Content-Type", "application/vnd.plain-test");
        assert_eq!(
            registered("application/vnd.plain-test"),
            "application/vnd.plain-test"
        );
    }

    #[test]
    fn url_userinfo_masks_the_basic_header_reqwest_derives() {
        register_url("https://u%40x:p%23ss-word@h.example/mcp?k=a%20b+c");
        let basic = base64::engine::general_purpose::STANDARD.encode("u@x:p#ss-word");
        assert_eq!(registered(&format!("Basic {basic}")), "Basic ***");
        assert_eq!(registered("u@x:p#ss-word / p%23ss-word"), "*** / ***");
        assert_eq!(registered("a b c / a%20b+c"), "*** / ***");
    }

    #[test]
    fn json_lines_mask_escaped_secrets_and_stay_valid() {
        register(r#"q"uo\te-secret"#);
        let line = serde_json::json!({"a": r#"x q"uo\te-secret y"#, "b": 12}).to_string();
        let masked = json_line(&line);
        assert_eq!(masked, r#"{"a":"x *** y","b":12}"#);
        // `\n` followed by the rest of a secret is not the secret.
        register("nabc-secret");
        let line = serde_json::json!({"a": "\nabc-secret"}).to_string();
        assert_eq!(json_line(&line).as_ref(), line.as_str());
    }

    #[test]
    fn credential_names_are_recognised_and_others_are_not() {
        for name in [
            "GITHUB_TOKEN",
            "OPENAI_API_KEY",
            "DB_PASSWORD",
            "APIKEY",
            "gh-pat",
            "X-Auth",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "HOME",
            "PATH",
            "TZ",
            "PYTHON",
            "DEMO_SCRIPT",
            "PATTERN",
            "LANG",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn pem_bodies_are_masked_line_by_line() {
        register_pem(
            "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\nAgEGCCqGSM49AwEHBG0w\n-----END PRIVATE KEY-----\n",
        );
        assert_eq!(
            registered("key MIGHAgEAMBMGByqGSM49 AgEGCCqGSM49AwEHBG0w"),
            "key *** ***"
        );
    }
}
