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

use base64::Engine;

const MASK: &str = "***";

/// Shorter values are never registered (documented in docs/reliability.md).
pub const MIN_SECRET_LEN: usize = 4;

/// Header names whose values are not credentials: masking `application/json` everywhere
/// would damage tool results and help nobody.
const PLAIN_HEADERS: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "content-type",
    "mcp-protocol-version",
    "user-agent",
];

/// Authorization schemes whose credential part is registered in any header.
const AUTH_SCHEMES: &[&str] = &[
    "basic",
    "bearer",
    "token",
    "dpop",
    "digest",
    "negotiate",
    "apikey",
    "api-key",
    "key",
    "sso-key",
    "ssws",
    "mac",
    "hmac",
];

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

/// Register a header value and its credential part: `Bearer XYZ` also masks `XYZ`; `Basic B64`
/// also masks `B64`, the decoded `user:pass` and `pass`. Values of [`PLAIN_HEADERS`] are left.
pub fn register_header(name: &str, value: &str) {
    if PLAIN_HEADERS.contains(&name.trim().to_ascii_lowercase().as_str()) {
        return;
    }
    let value = value.trim();
    register(value);
    let Some((scheme, credential)) = value.split_once(' ') else {
        return;
    };
    // `Authorization: <any scheme> <credential>`; elsewhere only well-known schemes, so that
    // `X-Client: acme testing` does not make the word "testing" a secret.
    let is_authorization = name.trim().to_ascii_lowercase().ends_with("authorization");
    if !is_authorization && !AUTH_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
        return;
    }
    let credential = credential.trim();
    register(credential);
    if scheme.eq_ignore_ascii_case("basic")
        && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credential)
        && let Ok(decoded) = String::from_utf8(decoded)
    {
        register(&decoded);
        if let Some((_, password)) = decoded.split_once(':') {
            register(password);
        }
    }
}

/// Register the secret parts of a URL: query values, the userinfo password (or a lone
/// username, which then is the credential), and the `Basic` header reqwest derives from them.
pub fn register_url(url: &str) {
    let Ok(parsed) = url::Url::parse(url) else {
        return;
    };
    for (_, value) in parsed.query_pairs() {
        register(&value);
    }
    for pair in parsed.query().unwrap_or_default().split('&') {
        if let Some((_, raw)) = pair.split_once('=') {
            register(raw);
        }
    }
    let user = percent_decode(parsed.username());
    let password = parsed.password().map(percent_decode);
    match &password {
        Some(password) => {
            register(password);
            register(parsed.password().unwrap_or_default());
            register(&format!("{user}:{password}"));
        }
        None if !user.is_empty() => {
            register(&user);
            register(parsed.username());
        }
        None => return,
    }
    // reqwest moves userinfo into `Authorization: Basic base64(user:pass)`.
    let basic = format!("{user}:{}", password.unwrap_or_default());
    register(&base64::engine::general_purpose::STANDARD.encode(basic));
}

/// Register every base64 line of a PEM file's body (a private key) and the body whole.
pub fn register_pem(pem: &str) {
    let body: Vec<&str> = pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .collect();
    for line in &body {
        register(line);
    }
    register(&body.concat());
}

/// Does a variable or header name say its value is a credential (`GITHUB_TOKEN`, `API_KEY`)?
pub fn is_secret_name(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "PASS",
        "KEY",
        "AUTH",
        "CREDENTIAL",
        "COOKIE",
        "SESSION",
        "PAT",
    ];
    name.to_ascii_uppercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| {
            WORDS
                .iter()
                .any(|w| word == *w || word.ends_with(w) && *w != "PAT")
        })
}

/// Decode `%XX` escapes (userinfo as the URL parser keeps it); invalid UTF-8 is kept lossy.
fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mask every secret in `text`, then everything shaped like a credential.
pub fn text(text: &str) -> String {
    mask_patterns(&registered(text))
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

/// Mask registered secrets inside the string literals of one serialised JSON line. The line
/// stays valid JSON: a match must start on an escape boundary, and numbers, keywords and
/// punctuation are never touched.
pub fn json_line(line: &str) -> String {
    let Ok(registry) = registry().read() else {
        return line.to_string();
    };
    if registry.json.is_empty() {
        return line.to_string();
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
    out
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
        assert_eq!(json_line(&line), line);
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

/// Property tests: a random secret embedded in random text is never printed.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Secrets with the characters that escape differently in JSON, Debug and URLs. `*` is left
    /// out: a secret made of the mask's own character is indistinguishable from the mask. Edge
    /// whitespace is not part of a secret (`register` trims, as header values are trimmed).
    fn secret() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9\"\\\\/\n\t\u{1}é€😀 %+&=:@-]{4,24}"
            .prop_filter("no edge whitespace", |s| s.trim() == s)
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-z \"\\\\\n{}:,é]{0,40}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn a_registered_secret_never_survives_in_messages(
            secret in secret(), before in text(), after in text()
        ) {
            register(&secret);
            let forms = [
                secret.clone(),
                json_escaped(&secret),
                {
                    let debug = format!("{secret:?}");
                    debug[1..debug.len() - 1].to_string()
                },
            ];
            for form in &forms {
                let message = super::text(&format!("{before}{form}{after}"));
                prop_assert!(!message.contains(&secret), "{message:?}");
                prop_assert!(!message.contains(form.as_str()), "{message:?}");
            }
        }

        #[test]
        fn a_registered_secret_never_survives_in_a_stdout_line_which_stays_json(
            secret in secret(), before in text(), after in text(), number in any::<i64>()
        ) {
            register(&secret);
            let embedded = format!("{before}{secret}{after}");
            let line = serde_json::json!({
                "text": embedded,
                "nested": [{"k": format!("{secret}{secret}")}, number],
                embedded.clone(): true,
            })
            .to_string();
            let masked = json_line(&line);
            let parsed: serde_json::Value = serde_json::from_str(&masked)
                .map_err(|e| TestCaseError::fail(format!("{e}: {masked}")))?;
            prop_assert!(!masked.contains(&json_escaped(&secret)), "{masked}");
            let mut strings = Vec::new();
            collect_strings(&parsed, &mut strings);
            for s in strings {
                prop_assert!(!s.contains(&secret), "{s:?} in {masked}");
            }
            prop_assert_eq!(&parsed["nested"][1], &serde_json::json!(number));
        }

        #[test]
        fn lines_without_secrets_pass_through_unchanged(value in text()) {
            let line = serde_json::json!({"v": value, "n": 1.5}).to_string();
            // Registered secrets from other cases may match; only check lines that hold none.
            let holds_none = registry()
                .read()
                .map(|r| r.json.iter().all(|s| !line.contains(s.as_str())))
                .unwrap_or(false);
            if holds_none {
                prop_assert_eq!(json_line(&line), line);
            }
        }
    }

    fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    out.push(k.clone());
                    collect_strings(v, out);
                }
            }
            _ => {}
        }
    }
}
