//! What the headless grants (client credentials, JWT bearer, enterprise-managed) share: when a
//! new token is needed, discovering the authorization server, reading a rotating credential
//! (a workload identity token, an ID token) fresh from a file or an environment variable, and
//! storing the token the grant returned.
//!
//! Guarantees: every credential read is registered with `redact` before anything can print
//! it; a missing or empty credential is a config error (exit 2) naming the key that points at
//! it; a token is fetched under the store's refresh lock, so processes starting together fetch
//! one between them.

use std::path::PathBuf;

use rmcp::transport::auth::{AuthorizationMetadata, OAuthTokenResponse, StoredCredentials};

use crate::auth::store::{ClientSource, Entry, Registration, TokenStore, token_usable};
use crate::auth::{auth_failure, key, now, register_secrets};
use crate::config::{AuthType, ServerConfig};
use crate::exit::{Failure, Kind};

/// The server's URL (the store key), or the config error saying `grant` needs one.
pub(in crate::auth) fn url_of<'a>(
    server: &'a ServerConfig,
    grant: &str,
) -> Result<&'a str, Failure> {
    key(server).ok_or_else(|| {
        Failure::config(format!(
            "server `{}` is a stdio server: auth_type {grant} is for servers with a url",
            server.name
        ))
    })
}

/// Whether the stored token is comfortably valid (a minute left, or of unknown lifetime).
pub(in crate::auth) fn has_fresh_token(store: &TokenStore, url: &str) -> Result<bool, Failure> {
    let entry = store.get(url)?.unwrap_or_default();
    Ok(entry
        .credentials
        .as_ref()
        .is_some_and(|c| token_usable(c, 60)))
}

/// Hold the store's refresh lock (taken off the async threads: it blocks).
pub(in crate::auth) async fn refresh_lock(store: &TokenStore) -> Result<impl Sized, Failure> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.refresh_lock())
        .await
        .map_err(|e| Failure::new(Kind::Internal, e.to_string()))?
}

/// The HTTP client for the grant's own requests to endpoints a server named: guarded by the
/// rule of `base` (see `guard`), trusts the server's `ca_file`, honours the proxy variables.
pub(in crate::auth) fn http_client(
    server: &ServerConfig,
    base: &str,
) -> Result<crate::auth::guard::Guarded, Failure> {
    crate::auth::guard::Guarded::new(server, base)
}

/// The authorization server's metadata, found from the MCP server (protected resource
/// metadata first); `oauth.token_url` overrides the token endpoint.
pub(in crate::auth) async fn discover(
    server: &ServerConfig,
    url: &str,
) -> Result<AuthorizationMetadata, Failure> {
    let manager = crate::auth::manager(server, url).await?;
    let mut metadata = manager
        .resolve_metadata()
        .await
        .map_err(|e| {
            auth_failure(
                server,
                format!(
                    "cannot discover the authorization server: {}",
                    crate::auth::guard::chain(&e)
                ),
            )
        })?
        .metadata;
    if let Some(token_url) = server.oauth.as_ref().and_then(|o| o.token_url.clone()) {
        metadata.token_endpoint = token_url;
    }
    crate::auth::guard::require_tls(&metadata).map_err(|why| auth_failure(server, why))?;
    Ok(metadata)
}

/// Where a rotating credential is read from. A file is read again for every token request
/// (Kubernetes rotates projected service-account tokens in place); a variable suits CI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::auth) enum Source {
    File { path: PathBuf, key: String },
    Env { name: String, key: String },
}

impl Source {
    /// From a `*_file` / `*_env` pair of config keys (`file_key`, `env_key` name them in
    /// errors): exactly one must be set.
    pub fn from_config(
        server: &ServerConfig,
        (file_key, file): (&str, Option<&str>),
        (env_key, env): (&str, Option<&str>),
        what: &str,
    ) -> Result<Source, Failure> {
        match (file, env) {
            (Some(path), None) => Ok(Source::File {
                path: PathBuf::from(path),
                key: file_key.to_string(),
            }),
            (None, Some(name)) => Ok(Source::Env {
                name: name.to_string(),
                key: env_key.to_string(),
            }),
            (Some(_), Some(_)) => Err(Failure::config(format!(
                "server `{}`: set either {file_key} or {env_key}, not both",
                server.name
            ))),
            (None, None) => Err(Failure::config(format!(
                "server `{}` (auth_type {}) needs {file_key} or {env_key}: the file or environment variable with the {what}",
                server.name,
                auth_type_name(server.auth_type)
            ))),
        }
    }

    /// The credential as it is now, surrounding whitespace removed, registered with `redact`.
    pub fn read(&self, server: &ServerConfig, what: &str) -> Result<String, Failure> {
        let value = match self {
            Source::File { path, key } => std::fs::read_to_string(path).map_err(|e| {
                Failure::config(format!(
                    "server `{}`: cannot read the {what} from {key} {}: {e}",
                    server.name,
                    path.display()
                ))
            })?,
            Source::Env { name, key } => std::env::var(name).map_err(|_| {
                Failure::config(format!(
                    "server `{}`: the environment variable {name} named by {key} is not set",
                    server.name
                ))
            })?,
        };
        let value = value.trim().to_string();
        if value.is_empty() {
            let (place, key) = match self {
                Source::File { path, key } => (path.display().to_string(), key),
                Source::Env { name, key } => (format!("${name}"), key),
            };
            return Err(Failure::config(format!(
                "server `{}`: the {what} in {place} ({key}) is empty",
                server.name
            )));
        }
        crate::redact::register(&value);
        Ok(value)
    }
}

/// The config spelling of an auth type.
pub fn auth_type_name(auth_type: AuthType) -> &'static str {
    match auth_type {
        AuthType::Token => "token",
        AuthType::Oauth => "oauth",
        AuthType::ClientCredentials => "client_credentials",
        AuthType::JwtBearer => "jwt_bearer",
        AuthType::EnterpriseManaged => "enterprise_managed",
        AuthType::None => "none",
    }
}

/// What a headless grant returned: the server's metadata, the configured client and the token.
pub(in crate::auth) struct Granted {
    pub metadata: AuthorizationMetadata,
    pub client_id: Option<String>,
    pub token: OAuthTokenResponse,
    pub scopes: Vec<String>,
}

/// Store the token a headless grant returned, with the metadata and the configured client,
/// the way every command then reads it; `more` sets what only some grants have (the client's
/// authentication method, a DPoP key).
pub(in crate::auth) fn save(
    server: &ServerConfig,
    store: &TokenStore,
    url: &str,
    granted: Granted,
    more: impl FnOnce(&mut Entry),
) -> Result<(), Failure> {
    let Granted {
        metadata,
        client_id,
        token,
        scopes,
    } = granted;
    crate::auth::store::check_token(&token).map_err(|why| auth_failure(server, why))?;
    let issuer = metadata.issuer.clone();
    let client_id = client_id.unwrap_or_default();
    let credentials = StoredCredentials::new(client_id.clone(), Some(token), scopes, Some(now()))
        .with_issuer(issuer.clone());
    register_secrets(&Entry {
        credentials: Some(credentials.clone()),
        ..Entry::default()
    });
    if let Some(token) = &credentials.token_response {
        use oauth2::TokenResponse;
        crate::auth::store::mark_obtained(token.access_token().secret());
    }
    store.update(url, |entry| {
        entry.server = Some(server.name.clone());
        entry.issuer = issuer;
        entry.metadata = Some(metadata);
        entry.client = Some(Registration {
            client_id,
            client_secret: None,
            redirect_uri: None,
            source: ClientSource::Config,
            token_endpoint_auth_method: None,
        });
        entry.credentials = Some(credentials);
        more(entry);
    })
}
