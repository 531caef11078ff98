//! `auth login --device`: the OAuth device authorization grant (RFC 8628), for machines without
//! a browser. The user opens the verification URI elsewhere and enters the user code; mcpchat
//! polls the token endpoint, honouring `interval` and `slow_down`, and stores the tokens like
//! the browser flow does.
//!
//! Guarantees: the device code never reaches a message; `access_denied`, `expired_token` and
//! the login timeout end the login with an auth failure (exit 3); nothing is stored before the
//! tokens arrive.

use std::time::{Duration, Instant};

use oauth2::TokenResponse;
use rmcp::transport::auth::{AuthorizationMetadata, OAuthTokenResponse, StoredCredentials};
use serde::Deserialize;

use crate::auth::client_auth::{self, Method};
use crate::auth::store::Registration;
use crate::auth::{auth_failure, now};
use crate::config::ServerConfig;
use crate::events::AuthPrompt;
use crate::exit::{Failure, Kind};
use crate::redact;

/// RFC 8628 §3.4: the grant type of the token requests.
pub(in crate::auth) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// RFC 8628 §3.2: poll every 5 seconds when the server names no interval.
const DEFAULT_INTERVAL_SECS: u64 = 5;

/// The server's device authorization endpoint, when it has one.
pub(in crate::auth) fn endpoint(metadata: &AuthorizationMetadata) -> Option<String> {
    metadata
        .additional_fields
        .get("device_authorization_endpoint")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The device authorization endpoint, or the failure that says the server has none.
pub(in crate::auth) fn require_endpoint(
    server: &ServerConfig,
    metadata: &AuthorizationMetadata,
) -> Result<String, Failure> {
    endpoint(metadata).ok_or_else(|| {
        auth_failure(
            server,
            "the authorization server offers no device authorization (no device_authorization_endpoint)",
        )
        .hint(format!("log in with a browser: mcpchat auth login {}", server.name))
    })
}

/// RFC 8628 §3.2 device authorization response.
#[derive(Debug, Deserialize)]
struct DeviceAuthorization {
    device_code: String,
    user_code: String,
    #[serde(alias = "verification_url")]
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: u64,
    interval: Option<u64>,
}

/// What one poll of the token endpoint said.
#[derive(Debug)]
pub(in crate::auth) enum Poll {
    Tokens(Box<OAuthTokenResponse>),
    Pending,
    SlowDown,
    /// `access_denied`, `expired_token` or any other error: the login is over.
    Failed(String),
}

/// Read a token endpoint answer (RFC 8628 §3.5).
pub(in crate::auth) fn read_poll(status: u16, body: &str) -> Poll {
    if (200..300).contains(&status) {
        return match serde_json::from_str::<OAuthTokenResponse>(body) {
            Ok(tokens) => Poll::Tokens(Box::new(tokens)),
            Err(e) => Poll::Failed(format!("the token response is not valid: {e}")),
        };
    }
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let error = value.get("error").and_then(|v| v.as_str()).unwrap_or("");
    let description = value
        .get("error_description")
        .and_then(|v| v.as_str())
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    match error {
        "authorization_pending" => Poll::Pending,
        "slow_down" => Poll::SlowDown,
        "access_denied" => {
            Poll::Failed(format!("the login was denied (access_denied{description})"))
        }
        "expired_token" => Poll::Failed(format!(
            "the user code expired before the login was approved (expired_token{description})"
        )),
        "" => Poll::Failed(format!("the token endpoint answered HTTP {status}")),
        other => Poll::Failed(format!("{other}{description}")),
    }
}

/// The longest wait between polls a server can ask for (`interval`, `slow_down`): the value
/// is the server's, and `Instant + Duration::MAX` would panic.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// The next wait after a poll: RFC 8628 §3.5 adds 5 seconds on `slow_down` (up to a minute).
pub(in crate::auth) fn next_interval(interval: Duration, poll: &Poll) -> Duration {
    match poll {
        Poll::SlowDown => interval
            .saturating_add(Duration::from_secs(5))
            .min(MAX_INTERVAL),
        _ => interval,
    }
}

/// A completed device login: the tokens and what they were asked for.
pub(in crate::auth) struct DeviceTokens {
    pub credentials: StoredCredentials,
}

/// Everything the device flow needs about the server and the client.
pub(in crate::auth) struct DeviceRequest<'a> {
    pub server: &'a ServerConfig,
    pub http: &'a crate::auth::guard::Guarded,
    pub metadata: &'a AuthorizationMetadata,
    pub client: &'a Registration,
    pub scopes: &'a [String],
    pub resource: &'a str,
    pub timeout: Duration,
    /// The DPoP key the tokens are bound to, if any: token requests carry a proof.
    pub dpop: Option<&'a crate::auth::dpop::DpopKey>,
}

/// Run the device flow: ask for a code, show it (`prompt`), poll until the user approves.
pub(in crate::auth) async fn device_login(
    request: &DeviceRequest<'_>,
    prompt: &(dyn Fn(&AuthPrompt) + Send + Sync),
) -> Result<DeviceTokens, Failure> {
    let server = request.server;
    let endpoint = require_endpoint(server, request.metadata)?;
    let method = client_auth::method_for(server, request.client, request.metadata)?;
    let mut form = vec![("resource".to_string(), request.resource.to_string())];
    if !request.scopes.is_empty() {
        form.push(("scope".to_string(), request.scopes.join(" ")));
    }
    let (status, body) = post(request, &endpoint, method, form).await?;
    if !(200..300).contains(&status) {
        return Err(auth_failure(
            server,
            format!(
                "the device authorization request failed: HTTP {status}: {}",
                body.trim()
            ),
        ));
    }
    let device: DeviceAuthorization = serde_json::from_str(&body).map_err(|e| {
        auth_failure(
            server,
            format!("the device authorization response is not valid: {e}"),
        )
    })?;
    redact::register(&device.device_code);
    // Shown to open (on stderr and in the `auth_prompt` line) only when openable.
    crate::auth::browser::checked(server, "verification_uri", &device.verification_uri)?;
    if let Some(complete) = &device.verification_uri_complete {
        crate::auth::browser::checked(server, "verification_uri_complete", complete)?;
    }
    prompt(&AuthPrompt {
        server: server.name.clone(),
        flow: "device",
        verification_uri: device.verification_uri.clone(),
        verification_uri_complete: device.verification_uri_complete.clone(),
        user_code: device.user_code.clone(),
        expires_in: device.expires_in,
    });
    let tokens = poll(request, method, &device).await?;
    crate::auth::store::check_token(&tokens).map_err(|why| auth_failure(server, why))?;
    let granted = tokens
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_else(|| request.scopes.to_vec());
    let credentials = StoredCredentials::new(
        request.client.client_id.clone(),
        Some(*tokens),
        granted,
        Some(now()),
    )
    .with_issuer(request.metadata.issuer.clone());
    Ok(DeviceTokens { credentials })
}

/// Poll the token endpoint until the user approves, denies, or the code expires.
async fn poll(
    request: &DeviceRequest<'_>,
    method: Method,
    device: &DeviceAuthorization,
) -> Result<Box<OAuthTokenResponse>, Failure> {
    let server = request.server;
    let lifetime = Duration::from_secs(device.expires_in).min(request.timeout);
    let deadline = Instant::now() + lifetime;
    let mut interval = crate::durations::clamp_secs(
        device.interval.unwrap_or(DEFAULT_INTERVAL_SECS),
        Duration::from_secs(1),
        MAX_INTERVAL,
    );
    loop {
        if Instant::now() + interval > deadline {
            return Err(Failure::new(
                Kind::Auth,
                format!(
                    "the device login for MCP server `{}` was not approved within {}",
                    server.name,
                    crate::human::duration(lifetime)
                ),
            )
            .hint(format!(
                "run it again: mcpchat auth login --device {}",
                server.name
            )));
        }
        tokio::time::sleep(interval).await;
        let form = vec![
            ("grant_type".to_string(), GRANT_TYPE.to_string()),
            ("device_code".to_string(), device.device_code.clone()),
            ("resource".to_string(), request.resource.to_string()),
        ];
        let (status, body) = post(request, &request.metadata.token_endpoint, method, form).await?;
        let answer = read_poll(status, &body);
        interval = next_interval(interval, &answer);
        match answer {
            Poll::Tokens(tokens) => return Ok(tokens),
            Poll::Pending | Poll::SlowDown => {
                tracing::debug!(interval = interval.as_secs(), "device login pending");
            }
            Poll::Failed(why) => {
                return Err(
                    auth_failure(server, format!("device login failed: {why}")).hint(format!(
                        "run it again: mcpchat auth login --device {}",
                        server.name
                    )),
                );
            }
        }
    }
}

/// POST a form to one of the server's endpoints, authenticated as the client; a token
/// request with a DPoP key carries a proof, and is sent again once when the server asks for
/// a nonce (RFC 9449 §8).
async fn post(
    request: &DeviceRequest<'_>,
    endpoint: &str,
    method: Method,
    form: Vec<(String, String)>,
) -> Result<(u16, String), Failure> {
    let key = request
        .dpop
        .filter(|_| form.iter().any(|(name, _)| name == "grant_type"));
    let answer = send(request, endpoint, method, form.clone(), key).await?;
    match answer {
        (400, body, true) if key.is_some() && crate::auth::dpop_http::asks_for_nonce(&body) => {
            let (status, body, _) = send(request, endpoint, method, form, key).await?;
            Ok((status, body))
        }
        (status, body, _) => Ok((status, body)),
    }
}

/// One POST of `post`: the status, the body, and whether a `DPoP-Nonce` came with it.
async fn send(
    request: &DeviceRequest<'_>,
    endpoint: &str,
    method: Method,
    mut form: Vec<(String, String)>,
    dpop: Option<&crate::auth::dpop::DpopKey>,
) -> Result<(u16, String, bool), Failure> {
    let unreachable =
        |why: String| auth_failure(request.server, format!("cannot reach {endpoint}: {why}"));
    let mut builder = request
        .http
        .post(endpoint)
        .map_err(|refused| unreachable(refused.to_string()))?
        .header("Accept", "application/json")
        .timeout(Duration::from_secs(30));
    if let Some(key) = dpop {
        let nonce = crate::auth::dpop::nonce_for(endpoint);
        builder = builder.header("DPoP", key.proof("POST", endpoint, None, nonce.as_deref())?);
    }
    let builder = client_auth::authenticate(builder, &mut form, request.client, method);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    let response = builder
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| unreachable(crate::auth::guard::explain(&e)))?;
    crate::auth::dpop::remember_nonce(endpoint, response.headers());
    let nonce = response.headers().contains_key("dpop-nonce");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Ok((status, body, nonce))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn polls_read_pending_slow_down_denial_expiry_and_tokens() {
        let error = |e: &str| format!(r#"{{"error":"{e}","error_description":"why"}}"#);
        assert!(matches!(
            read_poll(400, &error("authorization_pending")),
            Poll::Pending
        ));
        assert!(matches!(
            read_poll(400, &error("slow_down")),
            Poll::SlowDown
        ));
        match read_poll(400, &error("access_denied")) {
            Poll::Failed(why) => assert_eq!(why, "the login was denied (access_denied: why)"),
            other => panic!("{other:?}"),
        }
        match read_poll(400, &error("expired_token")) {
            Poll::Failed(why) => assert!(why.starts_with("the user code expired"), "{why}"),
            other => panic!("{other:?}"),
        }
        match read_poll(502, "<html>") {
            Poll::Failed(why) => assert_eq!(why, "the token endpoint answered HTTP 502"),
            other => panic!("{other:?}"),
        }
        match read_poll(
            200,
            r#"{"access_token":"a","token_type":"bearer","expires_in":60}"#,
        ) {
            Poll::Tokens(tokens) => assert_eq!(tokens.access_token().secret(), "a"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn slow_down_adds_five_seconds_and_nothing_else_changes_the_interval() {
        let five = Duration::from_secs(5);
        assert_eq!(
            next_interval(five, &Poll::SlowDown),
            Duration::from_secs(10)
        );
        assert_eq!(next_interval(five, &Poll::Pending), five);
        assert_eq!(
            next_interval(Duration::from_secs(10), &Poll::SlowDown),
            Duration::from_secs(15)
        );
        assert_eq!(
            next_interval(Duration::from_secs(58), &Poll::SlowDown),
            MAX_INTERVAL
        );
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// A token response with any `expires_in` (any JSON number, a string) is read without
        /// a panic, and a token it gives expires no earlier than now and within ten years.
        #[test]
        fn any_expires_in_gives_an_expiry_within_ten_years(
            expires_in in proptest::prop_oneof![
                proptest::num::f64::ANY.prop_map(|f| format!("{f:?}")),
                proptest::num::i64::ANY.prop_map(|i| i.to_string()),
                proptest::num::u64::ANY.prop_map(|u| u.to_string()),
                "(1e400|-1|18446744073709551616|\"3600\"|\"soon\"|null|1.5)",
            ],
        ) {
            let body = format!(
                r#"{{"access_token":"a","token_type":"Bearer","expires_in":{expires_in}}}"#
            );
            if let Poll::Tokens(tokens) = read_poll(200, &body) {
                let received = now();
                let credentials =
                    StoredCredentials::new("c".into(), Some(*tokens), Vec::new(), Some(received));
                if let Some(at) = crate::auth::store::expires_at(&credentials) {
                    proptest::prop_assert!(at >= received);
                    proptest::prop_assert!(
                        at - received <= crate::durations::MAX_TOKEN_LIFETIME_SECS
                    );
                }
            }
        }
    }
}
