//! Stored tokens for every command: the refreshing HTTP client for OAuth servers (and those
//! with a headless grant), and a fresh access token for `auth token`.

use std::sync::Arc;

use rmcp::transport::auth::AuthorizationManager;

use super::client_auth;
use super::dpop::DpopKey;
use super::dpop_http::Binding;
use super::grants::{ensure_token, is_headless};
use super::http::{OAuthHttp, TokenSource};
use super::store::{Entry, ServerCredentials, TokenStore};
use super::{auth_failure, key, login_hint, register_secrets};
use crate::config::ServerConfig;
use crate::exit::{Failure, Kind};

/// A manager for `server` that reads and writes the store, configured with the stored client,
/// and the DPoP binding of the stored tokens (its refreshes carry proofs).
async fn stored_manager(
    server: &ServerConfig,
    store: &TokenStore,
    entry: &Entry,
) -> Result<Option<(AuthorizationManager, Option<Arc<Binding>>)>, Failure> {
    let Some(url) = key(server) else {
        return Ok(None);
    };
    let Some(client) = &entry.client else {
        return Ok(None);
    };
    // The tokens are bound to the stored key whatever `oauth.dpop` says now: it applies to
    // the next login.
    let binding = match &entry.dpop_key {
        Some(stored) => Some(Binding::new(DpopKey::from_stored(stored)?)),
        None => None,
    };
    let mut manager = super::manager_for(server, url, binding.as_ref()).await?;
    manager.set_credential_store(ServerCredentials {
        store: store.clone(),
        key: url.to_string(),
    });
    let metadata = match (&entry.metadata, &entry.resource) {
        // The refresh `resource` defaults to the server URL; when the protected resource named
        // another value, discovery is needed to send it byte for byte.
        (Some(metadata), resource) if resource.as_deref().is_none_or(|r| r == url) => {
            metadata.clone()
        }
        _ => {
            manager
                .resolve_metadata()
                .await
                .map_err(|e| auth_failure(server, e))?
                .metadata
        }
    };
    // Refreshing sends the refresh token: not in clear, also with metadata stored earlier.
    super::guard::require_tls(&metadata).map_err(|why| auth_failure(server, why))?;
    let scopes = entry
        .credentials
        .as_ref()
        .map(|c| c.granted_scopes.clone())
        .unwrap_or_default();
    client_auth::configure(server, &mut manager, &metadata, client, scopes)?;
    Ok(Some((manager, binding)))
}

/// The token source for `server`, with the DPoP binding of its stored tokens: servers with a
/// headless grant renew by running it again.
fn token_source(
    server: &ServerConfig,
    store: &TokenStore,
    (manager, binding): (AuthorizationManager, Option<Arc<Binding>>),
    url: &str,
) -> TokenSource {
    let source = TokenSource::new(manager, store.clone(), url.to_string()).with_dpop(binding);
    if !is_headless(server.auth_type) {
        return source;
    }
    let (server, store) = (server.clone(), store.clone());
    source.with_regrant(Arc::new(move || {
        let (server, store) = (server.clone(), store.clone());
        Box::pin(async move { ensure_token(&server, &store, true).await })
    }))
}

/// The HTTP client a command uses for an OAuth or client-credentials server: it sends the
/// stored token, refreshes it shortly before expiry and once after a 401. `None` when there
/// is nothing stored (the server's 401 then ends the command with exit 3 and a hint).
pub async fn authorized_client(
    server: &ServerConfig,
    store: &TokenStore,
    http: &reqwest::Client,
) -> Result<Option<OAuthHttp>, Failure> {
    let Some(url) = key(server) else {
        return Ok(None);
    };
    ensure_token(server, store, false).await?;
    let Some(entry) = store.get(url)? else {
        return Ok(None);
    };
    if entry
        .credentials
        .as_ref()
        .and_then(|c| c.token_response.as_ref())
        .is_none()
    {
        return Ok(None);
    }
    register_secrets(&entry);
    let Some(stored) = stored_manager(server, store, &entry).await? else {
        return Ok(None);
    };
    Ok(Some(OAuthHttp {
        http: http.clone(),
        tokens: Arc::new(token_source(server, store, stored, url)),
    }))
}

/// A valid access token for `auth token`, refreshed if needed.
pub async fn access_token(server: &ServerConfig, store: &TokenStore) -> Result<String, Failure> {
    let url = key(server).ok_or_else(|| {
        Failure::usage(format!(
            "MCP server `{}` is a stdio server: it has no token",
            server.name
        ))
    })?;
    ensure_token(server, store, false).await?;
    let entry = store.get(url)?.unwrap_or_default();
    if entry
        .credentials
        .as_ref()
        .and_then(|c| c.token_response.as_ref())
        .is_none()
    {
        return Err(Failure::new(
            Kind::Auth,
            format!("not logged in to MCP server `{}`", server.name),
        )
        .hint(login_hint(server)));
    }
    register_secrets(&entry);
    let stored = stored_manager(server, store, &entry)
        .await?
        .ok_or_else(|| {
            Failure::new(
                Kind::Auth,
                format!("not logged in to MCP server `{}`", server.name),
            )
            .hint(login_hint(server))
        })?;
    let tokens = token_source(server, store, stored, url);
    let token = tokens
        .token()
        .await
        .map_err(|e| auth_failure(server, e))?
        .ok_or_else(|| {
            Failure::new(
                Kind::Auth,
                format!(
                    "the stored token for MCP server `{}` has expired and cannot be refreshed",
                    server.name
                ),
            )
            .hint(login_hint(server))
        })?;
    Ok(token)
}
