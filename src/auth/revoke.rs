//! Token revocation at `auth logout` (RFC 7009): when the authorization server publishes a
//! `revocation_endpoint`, the refresh token and then the access token are revoked there,
//! authenticated the way the client is registered.
//!
//! Guarantees: bounded by a short timeout per request; a failure is a warning on stderr and
//! never stops the local logout; no token or secret reaches a message (they go through
//! `redact`).

use std::time::Duration;

use rmcp::transport::auth::AuthorizationMetadata;

use super::auth_failure;
use super::client_auth::{self, Method};
use super::store::{Entry, Registration};
use crate::config::ServerConfig;
use crate::exit::Failure;

/// Each revocation request gives up after this long: logout must stay quick and work offline.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The server's revocation endpoint, when it has one.
fn endpoint(metadata: &AuthorizationMetadata) -> Option<String> {
    metadata
        .additional_fields
        .get("revocation_endpoint")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// Revoke the tokens stored in `entry`. `None` when there is nothing to revoke or nowhere to
/// revoke it; `Some(true)` when the server accepted every revocation; `Some(false)` after a
/// warning saying what failed.
pub async fn revoke(server: &ServerConfig, entry: &Entry) -> Option<bool> {
    let tokens = tokens(entry);
    let endpoint = entry.metadata.as_ref().and_then(endpoint);
    let (Some(endpoint), false) = (endpoint, tokens.is_empty()) else {
        return None;
    };
    match revoke_all(server, entry, &endpoint, &tokens).await {
        Ok(()) => Some(true),
        Err(failure) => {
            crate::report::warning(
                &failure.hint("the local tokens are forgotten all the same; they stay valid at the server until they expire"),
            );
            Some(false)
        }
    }
}

/// The refresh token first (revoking it usually ends the grant's access tokens too), then the
/// access token, each with its RFC 7009 `token_type_hint`.
fn tokens(entry: &Entry) -> Vec<(&'static str, String)> {
    use oauth2::TokenResponse;
    let Some(token) = entry
        .credentials
        .as_ref()
        .and_then(|c| c.token_response.as_ref())
    else {
        return vec![];
    };
    let mut tokens = vec![];
    if let Some(refresh) = token.refresh_token() {
        tokens.push(("refresh_token", refresh.secret().clone()));
    }
    tokens.push(("access_token", token.access_token().secret().clone()));
    tokens
}

async fn revoke_all(
    server: &ServerConfig,
    entry: &Entry,
    endpoint: &str,
    tokens: &[(&'static str, String)],
) -> Result<(), Failure> {
    let (client, method) = client(server, entry)?;
    let url = super::key(server).unwrap_or_default();
    let http = super::guard::Guarded::new(server, url)?;
    let mut revoked = 0;
    for (hint, token) in tokens {
        let mut form = vec![
            ("token".to_string(), token.clone()),
            ("token_type_hint".to_string(), hint.to_string()),
        ];
        let failed = |why: String| {
            auth_failure(
                server,
                format!("could not revoke the {hint} at {endpoint}: {why}"),
            )
        };
        let post = http.post(endpoint).map_err(|r| failed(r.to_string()))?;
        let request = client_auth::authenticate(post.timeout(TIMEOUT), &mut form, &client, method);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let response = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| failed(super::guard::explain(&e)))?;
        // RFC 7009 §2.2: 200 also for a token the server no longer knows.
        let status = response.status();
        if status.is_success() {
            revoked += 1;
            continue;
        }
        let body = response.text().await.unwrap_or_default();
        // §2.2.1: a server may not revoke some kinds of token (oidc-provider: JWT access
        // tokens); with the refresh token revoked, the grant is over all the same.
        if unsupported_token_type(&body) {
            continue;
        }
        let body: String = body.chars().take(300).collect();
        return Err(auth_failure(
            server,
            format!(
                "the authorization server refused to revoke the {hint} (HTTP {status}): {body}"
            ),
        ));
    }
    if revoked == 0 {
        return Err(auth_failure(
            server,
            "the authorization server does not revoke the kind of token stored (unsupported_token_type)",
        ));
    }
    Ok(())
}

fn unsupported_token_type(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")?
                .as_str()
                .map(|e| e == "unsupported_token_type")
        })
        .unwrap_or(false)
}

/// The client to authenticate as and how: the stored registration (its secret, or for a
/// client-credentials client the configured one) with the method token requests use.
fn client(server: &ServerConfig, entry: &Entry) -> Result<(Registration, Method), Failure> {
    let mut client = entry.client.clone().ok_or_else(|| {
        auth_failure(
            server,
            "no client registration is stored to revoke the tokens with",
        )
    })?;
    if client.token_endpoint_auth_method.as_deref() == Some("private_key_jwt") {
        return Err(auth_failure(
            server,
            "revocation with private_key_jwt client authentication is not supported",
        ));
    }
    if client.client_secret.is_none() {
        client.client_secret = server.oauth.as_ref().and_then(|o| o.client_secret.clone());
    }
    let metadata = entry.metadata.clone().unwrap_or_default();
    let method = client_auth::method_for(server, &client, &metadata)?;
    Ok((client, method))
}
