//! `auth_type: enterprise_managed`: enterprise-managed authorization (the MCP extension,
//! SEP-990). The user's ID token from the enterprise identity provider is exchanged there
//! (RFC 8693 token exchange) for an identity assertion JWT authorization grant (ID-JAG) bound to
//! the MCP server, which the MCP server's authorization server redeems (RFC 7523 JWT bearer)
//! for an access token. No browser: the enterprise's single sign-on already happened.
//!
//! rmcp's `enterprise` module performs both exchanges and checks the ID-JAG's bindings (issuer,
//! audience, client, resource, expiry); this module supplies the configuration, discovers both
//! token endpoints, and stores the token like every other grant.
//!
//! Guarantees: the ID token is read fresh for every exchange and, like the ID-JAG and the
//! client secrets, never printed; a rejected ID token or ID-JAG ends with exit 3, an
//! unreachable server with exit 4; nothing is retried.

use std::time::Duration;

use oauth2::ClientSecret;
use rmcp::transport::auth::enterprise::{
    EmaAccessToken, EmaAuthorizationServer, EmaClientAuthentication, EmaError, EmaExchangeRequest,
    EmaExchangeStage,
};
use rmcp::transport::auth::{
    AuthorizationMetadata, OAuthHttpClient, OAuthHttpClientFuture, OAuthHttpRequest,
    OAuthTokenResponse,
};
use serde::Deserialize;

use super::headless::{
    Granted, Source, discover, has_fresh_token, http_client, refresh_lock, save, url_of,
};
use crate::auth::auth_failure;
use crate::auth::client_auth::{self, Method};
use crate::auth::store::{ClientSource, Registration, TokenStore};
use crate::config::ServerConfig;
use crate::exit::{Failure, Kind};
use crate::redact;

/// `oauth.identity_provider`: the enterprise IdP, our client there, and the ID token.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProvider {
    /// The IdP's issuer identifier (its metadata is found under it).
    pub issuer: Option<String>,
    /// The IdP's token endpoint, when its metadata cannot be discovered.
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// client_secret_basic, client_secret_post or none (default: from the IdP's metadata).
    pub token_endpoint_auth_method: Option<String>,
    /// The user's ID token, read from this file for every exchange ...
    pub id_token_file: Option<String>,
    /// ... or from this environment variable.
    pub id_token_env: Option<String>,
}

impl IdentityProvider {
    /// With `${VAR}` references expanded (`file` also resolves a path against the config
    /// file's directory); the client secret is registered for masking.
    pub fn expanded(
        &self,
        expand: &dyn Fn(&str) -> Result<String, Failure>,
        file: &dyn Fn(&str) -> Result<String, Failure>,
    ) -> Result<IdentityProvider, Failure> {
        let each = |value: &Option<String>| value.as_deref().map(expand).transpose();
        let provider = IdentityProvider {
            issuer: each(&self.issuer)?,
            token_url: each(&self.token_url)?,
            client_id: each(&self.client_id)?,
            client_secret: each(&self.client_secret)?,
            token_endpoint_auth_method: self.token_endpoint_auth_method.clone(),
            id_token_file: self.id_token_file.as_deref().map(file).transpose()?,
            id_token_env: self.id_token_env.clone(),
        };
        if let Some(secret) = &provider.client_secret {
            redact::register(secret);
        }
        Ok(provider)
    }
}

/// What the ID token is called in messages.
const WHAT: &str = "ID token";

/// The checked configuration of one enterprise-managed server.
struct Settings {
    client_id: String,
    client_secret: Option<String>,
    provider: IdentityProvider,
    issuer: String,
    provider_client_id: String,
    id_token: Source,
}

fn settings(server: &ServerConfig) -> Result<Settings, Failure> {
    let oauth = server.oauth.clone().unwrap_or_default();
    let missing = |key: &str, what: &str| {
        Failure::config(format!(
            "server `{}` has auth_type enterprise_managed but no {key} ({what})",
            server.name
        ))
    };
    let client_id = oauth.client_id.clone().ok_or_else(|| {
        missing(
            "oauth.client_id",
            "the client registered at the MCP server's authorization server",
        )
    })?;
    let provider = oauth.identity_provider.clone().ok_or_else(|| {
        missing(
            "oauth.identity_provider",
            "the enterprise identity provider",
        )
    })?;
    let issuer = provider
        .issuer
        .clone()
        .ok_or_else(|| missing("oauth.identity_provider.issuer", "the IdP's issuer URL"))?;
    let provider_client_id = provider.client_id.clone().ok_or_else(|| {
        missing(
            "oauth.identity_provider.client_id",
            "the client registered at the IdP",
        )
    })?;
    let id_token = Source::from_config(
        server,
        (
            "oauth.identity_provider.id_token_file",
            provider.id_token_file.as_deref(),
        ),
        (
            "oauth.identity_provider.id_token_env",
            provider.id_token_env.as_deref(),
        ),
        WHAT,
    )?;
    Ok(Settings {
        client_id,
        client_secret: oauth.client_secret,
        provider,
        issuer,
        provider_client_id,
        id_token,
    })
}

/// Get a token through the IdP when there is none or it is about to expire (or always, with
/// `force`).
pub async fn ensure(server: &ServerConfig, store: &TokenStore, force: bool) -> Result<(), Failure> {
    let url = url_of(server, "enterprise_managed")?;
    if !force && has_fresh_token(store, url)? {
        return Ok(());
    }
    let settings = settings(server)?;
    let _lock = refresh_lock(store).await?;
    // Another process may have fetched one while this one waited for the lock.
    if !force && has_fresh_token(store, url)? {
        return Ok(());
    }
    let id_token = settings.id_token.read(server, WHAT)?;
    let metadata = discover(server, url).await?;
    // The identity provider is the user's choice: its own URL sets the rule of its requests.
    let idp_http = Http {
        client: http_client(server, &settings.issuer)?,
        timeout: server.timeout,
    };
    let http = Http {
        client: http_client(server, url)?,
        timeout: server.timeout,
    };
    let idp = identity_provider(server, &settings, &idp_http.client).await?;
    let resource_as = authorization_server(server, &settings, &metadata)?;
    let scopes = server
        .oauth
        .as_ref()
        .map(|o| o.scopes.clone())
        .unwrap_or_default();
    let jag = EmaExchangeRequest::new_with_id_token(idp, resource_as, url, &id_token)
        .with_scopes(scopes.clone())
        .exchange_id_jag(&idp_http)
        .await
        .map_err(|e| ema_failure(server, e))?;
    redact::register(jag.assertion().secret());
    let token = jag
        .exchange(&http)
        .await
        .map_err(|e| ema_failure(server, e))?;
    redact::register(token.access_token.secret());
    let mut granted: Vec<String> = token.scopes.iter().cloned().collect();
    granted.sort();
    let response = token_response(&token)?;
    let granted = Granted {
        metadata,
        client_id: Some(settings.client_id),
        token: response,
        scopes: if granted.is_empty() { scopes } else { granted },
    };
    save(server, store, url, granted, |_| {})
}

/// The MCP server's authorization server and how our client authenticates there (as
/// registered: `oauth.token_endpoint_auth_method`, else its metadata).
fn authorization_server(
    server: &ServerConfig,
    settings: &Settings,
    metadata: &AuthorizationMetadata,
) -> Result<EmaAuthorizationServer, Failure> {
    let issuer = metadata.issuer.clone().ok_or_else(|| {
        auth_failure(
            server,
            "the authorization server's metadata names no issuer (the ID-JAG's audience)",
        )
    })?;
    let client = Registration {
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        redirect_uri: None,
        source: ClientSource::Config,
        token_endpoint_auth_method: None,
    };
    let method = client_auth::method_for(server, &client, metadata)?;
    Ok(
        EmaAuthorizationServer::new(issuer, &metadata.token_endpoint, &settings.client_id)
            .with_client_authentication(authentication(method, &settings.client_secret)),
    )
}

/// The identity provider: its token endpoint (configured, else from its metadata) and how our
/// client authenticates there.
async fn identity_provider(
    server: &ServerConfig,
    settings: &Settings,
    http: &crate::auth::guard::Guarded,
) -> Result<EmaAuthorizationServer, Failure> {
    let provider = &settings.provider;
    let discovered = match &provider.token_url {
        Some(_) => None,
        None => Some(provider_metadata(server, http, &settings.issuer).await?),
    };
    let token_url = match (&provider.token_url, &discovered) {
        (Some(url), _) => url.clone(),
        (None, Some(metadata)) => metadata.token_endpoint.clone(),
        (None, None) => String::new(),
    };
    let method = match provider.token_endpoint_auth_method.as_deref() {
        Some(name) => Method::parse(name).ok_or_else(|| {
            Failure::config(format!(
                "server `{}`: oauth.identity_provider.token_endpoint_auth_method `{name}` is not one of client_secret_post, client_secret_basic, none",
                server.name
            ))
        })?,
        None if provider.client_secret.is_none() => Method::None,
        None => {
            let supported = discovered
                .map(|m| m.token_endpoint_auth_methods_supported)
                .unwrap_or_default();
            if supported.is_empty() || supported.iter().any(|m| m == "client_secret_basic") {
                Method::SecretBasic
            } else {
                Method::SecretPost
            }
        }
    };
    Ok(
        EmaAuthorizationServer::new(&settings.issuer, token_url, &settings.provider_client_id)
            .with_client_authentication(authentication(method, &provider.client_secret)),
    )
}

fn authentication(method: Method, secret: &Option<String>) -> EmaClientAuthentication {
    match (method, secret) {
        (Method::SecretBasic, Some(secret)) => {
            EmaClientAuthentication::ClientSecretBasic(ClientSecret::new(secret.clone()))
        }
        (Method::SecretPost, Some(secret)) => {
            EmaClientAuthentication::ClientSecretPost(ClientSecret::new(secret.clone()))
        }
        _ => EmaClientAuthentication::None,
    }
}

/// The part of the IdP's metadata we use.
#[derive(Debug, Deserialize)]
struct ProviderMetadata {
    issuer: Option<String>,
    token_endpoint: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

/// The IdP's metadata: OpenID Connect discovery, then RFC 8414. Its issuer must be the
/// configured one (RFC 8414 §3.3), or the ID-JAG would be checked against the wrong issuer.
async fn provider_metadata(
    server: &ServerConfig,
    http: &crate::auth::guard::Guarded,
    issuer: &str,
) -> Result<ProviderMetadata, Failure> {
    let mut last = String::new();
    for candidate in &metadata_urls(issuer) {
        let response = http
            .get(candidate)
            .map_err(|refused| {
                auth_failure(
                    server,
                    format!("the identity provider's metadata {candidate}: {refused}"),
                )
            })?
            .header("Accept", "application/json")
            .timeout(server.timeout)
            .send()
            .await;
        let response = match response {
            Ok(response) if response.status().is_success() => response,
            Ok(response) => {
                last = format!("{candidate} answered HTTP {}", response.status().as_u16());
                continue;
            }
            Err(e) => {
                return Err(Failure::new(
                    Kind::Unreachable,
                    format!(
                        "cannot reach the identity provider {issuer} of MCP server `{}`: {}",
                        server.name,
                        crate::auth::guard::explain(&e)
                    ),
                ));
            }
        };
        let metadata: ProviderMetadata = response.json().await.map_err(|e| {
            auth_failure(
                server,
                format!("the metadata at {candidate} is not valid: {e}"),
            )
        })?;
        return same_issuer(server, metadata, issuer);
    }
    Err(auth_failure(
        server,
        format!("cannot discover the identity provider's token endpoint ({last})"),
    )
    .hint("set oauth.identity_provider.token_url"))
}

/// Where an issuer's metadata may be, in the order tried: OpenID Connect discovery, then
/// RFC 8414 (the issuer's path after the well-known part).
fn metadata_urls(issuer: &str) -> Vec<String> {
    let base = issuer.trim_end_matches('/');
    let mut candidates = vec![format!("{base}/.well-known/openid-configuration")];
    if let Ok(parsed) = url::Url::parse(base) {
        let path = parsed.path().trim_end_matches('/');
        candidates.push(format!(
            "{}/.well-known/oauth-authorization-server{path}",
            parsed.origin().ascii_serialization()
        ));
    }
    candidates
}

/// The metadata, if the issuer it names (when it names one) is the configured one.
fn same_issuer(
    server: &ServerConfig,
    metadata: ProviderMetadata,
    issuer: &str,
) -> Result<ProviderMetadata, Failure> {
    match metadata.issuer.as_deref() {
        Some(found) if found != issuer => Err(auth_failure(
            server,
            format!(
                "the identity provider's metadata names issuer `{found}`, not the configured `{issuer}`"
            ),
        )),
        _ => Ok(metadata),
    }
}

/// The access token as a standard token response, for the store.
fn token_response(token: &EmaAccessToken) -> Result<OAuthTokenResponse, Failure> {
    let mut value = serde_json::json!({
        "access_token": token.access_token.secret(),
        "token_type": "bearer",
    });
    if let Some(expires_in) = token.expires_in {
        value["expires_in"] = serde_json::json!(expires_in.as_secs());
    }
    serde_json::from_value(value).map_err(|e| Failure::new(Kind::Internal, e.to_string()))
}

/// What a failed exchange means for the user, and its exit code.
fn ema_failure(server: &ServerConfig, error: EmaError) -> Failure {
    let at = |stage: &EmaExchangeStage| match stage {
        EmaExchangeStage::IdentityProvider => "the identity provider",
        _ => "the MCP server's authorization server",
    };
    match &error {
        EmaError::InvalidGrant(EmaExchangeStage::IdentityProvider) => auth_failure(
            server,
            "the identity provider rejected the ID token (invalid_grant)",
        )
        .hint("get a fresh ID token (sign in to the identity provider again)"),
        EmaError::InvalidGrant(_) => auth_failure(
            server,
            "the MCP server's authorization server rejected the ID-JAG (invalid_grant)",
        )
        .hint("check that the identity provider is trusted there for oauth.client_id"),
        EmaError::OAuthRejected {
            stage,
            status,
            code,
        } => auth_failure(
            server,
            format!(
                "{} refused the token request: HTTP {status}: {code}",
                at(stage)
            ),
        ),
        EmaError::RequestFailed(stage) => Failure::new(
            Kind::Unreachable,
            format!(
                "cannot reach {} for MCP server `{}` (run with -v for the cause)",
                at(stage),
                server.name
            ),
        ),
        EmaError::InvalidResponse { stage, message } => Failure::new(
            Kind::Protocol,
            format!(
                "{} answered the token request of MCP server `{}` wrongly: {message}",
                at(stage),
                server.name
            ),
        ),
        EmaError::InvalidRequest(why) => Failure::config(format!(
            "server `{}`: enterprise-managed authorization cannot start: {why}",
            server.name
        )),
        _ => auth_failure(server, error),
    }
}

/// rmcp's exchanges over the guarded client (CA file, proxy, address rule), with the server's
/// timeout.
struct Http {
    client: crate::auth::guard::Guarded,
    timeout: Duration,
}

impl OAuthHttpClient for Http {
    fn execute(&self, mut request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
        request.timeout = Some(request.timeout.unwrap_or(self.timeout).min(self.timeout));
        let target = request.request.uri().to_string();
        Box::pin(async move {
            self.client.execute(request).await.map_err(|e| {
                tracing::info!(url = %target, "enterprise-managed authorization: {e}");
                e
            })
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn server() -> ServerConfig {
        ServerConfig::http_for_tests(
            "wiki",
            "http://127.0.0.1:9/mcp",
            crate::config::AuthType::EnterpriseManaged,
        )
    }

    #[test]
    fn metadata_is_looked_for_by_openid_discovery_then_rfc_8414_after_the_well_known_part() {
        assert_eq!(
            metadata_urls("https://idp.example/tenant/"),
            [
                "https://idp.example/tenant/.well-known/openid-configuration",
                "https://idp.example/.well-known/oauth-authorization-server/tenant",
            ]
        );
    }

    #[test]
    fn a_secret_method_without_a_secret_falls_back_to_a_public_client() {
        let secret = Some("s".to_string());
        let name = |a: EmaClientAuthentication| format!("{a:?}");
        assert_eq!(
            name(authentication(Method::SecretBasic, &secret)),
            "ClientSecretBasic { .. }"
        );
        assert_eq!(
            name(authentication(Method::SecretPost, &secret)),
            "ClientSecretPost { .. }"
        );
        assert_eq!(name(authentication(Method::SecretBasic, &None)), "None");
        assert_eq!(name(authentication(Method::None, &secret)), "None");
    }

    #[test]
    fn failed_exchanges_map_to_auth_unreachable_protocol_and_config_exits() {
        let kind = |e: EmaError| ema_failure(&server(), e).kind;
        assert_eq!(
            kind(EmaError::InvalidGrant(EmaExchangeStage::IdentityProvider)),
            Kind::Auth
        );
        assert_eq!(
            kind(EmaError::OAuthRejected {
                stage: EmaExchangeStage::ResourceAuthorizationServer,
                status: 401,
                code: "invalid_client"
            }),
            Kind::Auth
        );
        assert_eq!(
            kind(EmaError::RequestFailed(EmaExchangeStage::IdentityProvider)),
            Kind::Unreachable
        );
        assert_eq!(
            kind(EmaError::InvalidResponse {
                stage: EmaExchangeStage::IdentityProvider,
                message: "ID-JAG resource mismatch"
            }),
            Kind::Protocol
        );
        assert_eq!(kind(EmaError::InvalidRequest("x")), Kind::Config);
        let rejected = ema_failure(
            &server(),
            EmaError::OAuthRejected {
                stage: EmaExchangeStage::ResourceAuthorizationServer,
                status: 401,
                code: "invalid_client",
            },
        );
        assert_eq!(
            rejected.message,
            "OAuth for MCP server `wiki`: the MCP server's authorization server refused the token request: HTTP 401: invalid_client"
        );
    }
}
