//! RFC 7591 dynamic client registration.

use std::time::Duration;

use super::auth_failure;
use super::store::{ClientSource, Registration};
use crate::config::ServerConfig;
use crate::exit::Failure;
use crate::redact;

/// RFC 7591 dynamic registration as a native app. A confidential client (`client_secret_post`)
/// when the server supports it, since mcpchat keeps the secret in its 0600 store (and persists
/// it, unlike rmcp: issue #784); a public client (`none`) otherwise.
pub(super) async fn register(
    server: &ServerConfig,
    http: &super::guard::Guarded,
    endpoint: &str,
    metadata: &rmcp::transport::auth::AuthorizationMetadata,
    redirect_uri: &str,
    scopes: &[String],
) -> Result<Registration, Failure> {
    let method = requested_method(metadata);
    let body = request_body(metadata, method, redirect_uri, scopes);
    let failed =
        |why: String| auth_failure(server, format!("dynamic client registration failed: {why}"));
    let response = http
        .post(endpoint)
        .map_err(|refused| failed(refused.to_string()))?
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| failed(super::guard::explain(&e)))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(auth_failure(
            server,
            format!(
                "dynamic client registration failed: HTTP {status}: {}",
                text.trim()
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        auth_failure(
            server,
            format!("the registration response is not JSON: {e}"),
        )
    })?;
    let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_string);
    let client_id = field("client_id")
        .ok_or_else(|| auth_failure(server, "the registration response has no client_id"))?;
    let client_secret = field("client_secret");
    if let Some(secret) = &client_secret {
        redact::register(secret);
    }
    // RFC 7591 §3.2.1: the response holds the registered metadata; some servers leave out
    // what they accepted as asked, so the requested method stands then.
    let registered = field("token_endpoint_auth_method").unwrap_or_else(|| method.to_string());
    tracing::info!(server = %server.name, method = %registered, confidential = client_secret.is_some(), "registered a client");
    Ok(Registration {
        client_id,
        client_secret,
        redirect_uri: Some(redirect_uri.to_string()),
        source: ClientSource::Dynamic,
        token_endpoint_auth_method: Some(registered),
    })
}

/// The client authentication to ask for: a secret in the body when the server takes it
/// (confidential clients refresh without the user), else a public client, else Basic.
fn requested_method(metadata: &rmcp::transport::auth::AuthorizationMetadata) -> &'static str {
    let methods = super::client_auth::supported(metadata);
    if methods.iter().any(|m| m == "client_secret_post") {
        "client_secret_post"
    } else if methods.is_empty() || methods.iter().any(|m| m == "none") {
        "none"
    } else if methods.iter().any(|m| m == "client_secret_basic") {
        "client_secret_basic"
    } else {
        "none"
    }
}

/// The RFC 7591 registration request of a native client.
fn request_body(
    metadata: &rmcp::transport::auth::AuthorizationMetadata,
    method: &str,
    redirect_uri: &str,
    scopes: &[String],
) -> serde_json::Value {
    // The device grant too when the server has it, so one client serves both logins.
    let mut grant_types = vec!["authorization_code", "refresh_token"];
    if super::grants::device::endpoint(metadata).is_some() {
        grant_types.push(super::grants::device::GRANT_TYPE);
    }
    let mut body = serde_json::json!({
        "client_name": "mcpchat",
        "redirect_uris": [redirect_uri],
        "grant_types": grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "application_type": "native",
    });
    if !scopes.is_empty() {
        body["scope"] = serde_json::json!(scopes.join(" "));
    }
    body
}
