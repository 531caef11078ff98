//! Where secrets come from: header values and their credential part, URL userinfo and query
//! values, PEM bodies, and which variable names say "credential".

use base64::Engine;

use super::register;

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
