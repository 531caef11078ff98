//! `auth_type: jwt_bearer`: the JWT bearer authorization grant (RFC 7523 §2.1) with a workload
//! identity token as the assertion (workload identity federation, SEP-1933): a Kubernetes
//! projected service-account token, a CI job's OIDC token. Headless like client credentials:
//! `auth login` fetches a token, and so does any command that finds none or an expiring one.
//!
//! Guarantees: the assertion is read fresh for every token request (it rotates) and is never
//! printed; a rejected assertion ends with an auth failure (exit 3) without a retry or another
//! grant (the authorization server's answer stands until the token changes).

use oauth2::TokenResponse;
use rmcp::transport::auth::{AuthorizationMetadata, OAuthTokenResponse};

use super::headless::{
    Granted, Source, discover, has_fresh_token, http_client, refresh_lock, save, url_of,
};
use crate::auth::auth_failure;
use crate::auth::client_auth;
use crate::auth::store::{ClientSource, Registration, TokenStore};
use crate::config::{OAuthConfig, ServerConfig};
use crate::exit::{Failure, Kind};

/// RFC 7523 §2.1: the grant type of the token request.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// What the assertion is called in messages.
const WHAT: &str = "workload identity token";

/// Get a token with the JWT bearer grant when there is none or it is about to expire (or
/// always, with `force`).
pub async fn ensure(server: &ServerConfig, store: &TokenStore, force: bool) -> Result<(), Failure> {
    let url = url_of(server, "jwt_bearer")?;
    if !force && has_fresh_token(store, url)? {
        return Ok(());
    }
    let oauth = server.oauth.clone().unwrap_or_default();
    let source = Source::from_config(
        server,
        ("oauth.assertion_file", oauth.assertion_file.as_deref()),
        ("oauth.assertion_env", oauth.assertion_env.as_deref()),
        WHAT,
    )?;
    let _lock = refresh_lock(store).await?;
    // Another process may have fetched one while this one waited for the lock.
    if !force && has_fresh_token(store, url)? {
        return Ok(());
    }
    let assertion = source.read(server, WHAT)?;
    let metadata = discover(server, url).await?;
    let token = request_token(server, &oauth, &metadata, &assertion, url).await?;
    let scopes = token
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_else(|| oauth.scopes.clone());
    let granted = Granted {
        metadata,
        client_id: oauth.client_id,
        token,
        scopes,
    };
    save(server, store, url, granted, |_| {})
}

/// The grant's own parameters (RFC 7523 §2.1, RFC 8707 `resource`), before client
/// authentication.
pub fn grant_form(assertion: &str, scopes: &[String], resource: &str) -> Vec<(String, String)> {
    let mut form = vec![
        ("grant_type".to_string(), GRANT_TYPE.to_string()),
        ("assertion".to_string(), assertion.to_string()),
    ];
    if !scopes.is_empty() {
        form.push(("scope".to_string(), scopes.join(" ")));
    }
    form.push(("resource".to_string(), resource.to_string()));
    form
}

/// The configured client, if any: RFC 7523 makes client authentication optional for this
/// grant, so a workload without a client ID sends none.
fn client(oauth: &OAuthConfig) -> Option<Registration> {
    oauth.client_id.clone().map(|client_id| Registration {
        client_id,
        client_secret: oauth.client_secret.clone(),
        redirect_uri: None,
        source: ClientSource::Config,
        token_endpoint_auth_method: None,
    })
}

/// One token request; its answer, or the failure that ends the command.
async fn request_token(
    server: &ServerConfig,
    oauth: &OAuthConfig,
    metadata: &AuthorizationMetadata,
    assertion: &str,
    resource: &str,
) -> Result<OAuthTokenResponse, Failure> {
    let endpoint = &metadata.token_endpoint;
    let mut form = grant_form(assertion, &oauth.scopes, resource);
    let mut request = http_client(server, resource)?
        .post(endpoint)
        .map_err(|refused| {
            crate::auth::auth_failure(server, format!("the token endpoint {endpoint}: {refused}"))
        })?
        .header("Accept", "application/json")
        .timeout(server.timeout);
    if let Some(client) = client(oauth) {
        let method = client_auth::method_for(server, &client, metadata)?;
        request = client_auth::authenticate(request, &mut form, &client, method);
    }
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    let response = request
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            Failure::new(
                Kind::Unreachable,
                format!(
                    "cannot reach the token endpoint {endpoint} of MCP server `{}`: {}",
                    server.name,
                    crate::auth::guard::explain(&e)
                ),
            )
        })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    read_answer(server, status, &body)
}

/// The token endpoint's answer: a token, or an auth failure saying why it refused.
pub fn read_answer(
    server: &ServerConfig,
    status: u16,
    body: &str,
) -> Result<OAuthTokenResponse, Failure> {
    if (200..300).contains(&status) {
        return serde_json::from_str(body).map_err(|e| {
            Failure::new(
                Kind::Protocol,
                format!(
                    "the token response for MCP server `{}` is not valid: {e}",
                    server.name
                ),
            )
        });
    }
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let error = value.get("error").and_then(|v| v.as_str());
    let description = value
        .get("error_description")
        .and_then(|v| v.as_str())
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    let why = match error {
        Some(error) => format!("{error}{description}"),
        None => format!("HTTP {status}"),
    };
    let failure = auth_failure(
        server,
        format!("the authorization server rejected the {WHAT} ({why})"),
    );
    Err(match error {
        Some("invalid_grant") => failure.hint(
            "the token must be unexpired, signed by an issuer the authorization server trusts, \
             and have its issuer as audience",
        ),
        Some("invalid_client" | "unauthorized_client") => {
            failure.hint("check oauth.client_id (and oauth.client_secret)")
        }
        Some("invalid_scope") => failure.hint("check oauth.scopes"),
        _ => failure,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn server() -> ServerConfig {
        ServerConfig::http_for_tests(
            "s",
            "http://127.0.0.1:9/mcp",
            crate::config::AuthType::JwtBearer,
        )
    }

    #[test]
    fn the_form_carries_the_grant_the_assertion_the_scopes_and_the_resource() {
        let form = grant_form("eyJ.a.b", &["read".into(), "write".into()], "http://h/mcp");
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("grant_type", GRANT_TYPE),
                ("assertion", "eyJ.a.b"),
                ("scope", "read write"),
                ("resource", "http://h/mcp"),
            ]
        );
        assert!(!grant_form("x", &[], "r").iter().any(|(k, _)| k == "scope"));
    }

    #[test]
    fn a_rejected_assertion_is_an_auth_failure_naming_the_error() {
        let failure = read_answer(
            &server(),
            400,
            r#"{"error":"invalid_grant","error_description":"expired"}"#,
        )
        .unwrap_err();
        assert_eq!(failure.kind, Kind::Auth);
        assert_eq!(
            failure.message,
            "OAuth for MCP server `s`: the authorization server rejected the workload identity token (invalid_grant: expired)"
        );
        let failure = read_answer(&server(), 503, "<html>").unwrap_err();
        assert!(
            failure.message.ends_with("(HTTP 503)"),
            "{}",
            failure.message
        );
        let token = read_answer(
            &server(),
            200,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":60}"#,
        )
        .unwrap();
        assert_eq!(token.access_token().secret(), "a");
    }
}
