//! OAuth 2.x for MCP servers, on top of rmcp's auth module: `auth login` (discovery,
//! registration, PKCE, loopback callback, browser), the authorized HTTP client every command
//! uses (proactive and reactive refresh through the token store), and client credentials.
//!
//! Parts: `login` (the authorization-code flow as steps), `registration` (RFC 7591), `probe`
//! (reading a server's challenge), `browser` and `callback` (the user's side), `tokens` (stored
//! tokens for every command), `client_credentials`, `http` (the refreshing HTTP client), `store`.
//!
//! Guarantees: only `auth login` opens a browser; tokens, secrets and codes are never printed
//! (they are registered with `redact`); the callback listens on 127.0.0.1 only, accepts one
//! callback with the right `state`, and gives up after the timeout.

mod browser;
mod callback;
mod client_auth;
mod client_credentials;
mod device;
pub mod http;
mod keychain;
mod login;
mod probe;
mod registration;
mod revoke;
pub mod store;
mod tokens;

use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{AuthType, ServerConfig, Transport};
use crate::exit::{Failure, Kind};
use crate::redact;
use store::{Entry, TokenStore, expires_at, has_refresh_token};

pub use client_credentials::ensure_client_credentials;
pub use login::{LoginOptions, login};
pub use tokens::{access_token, authorized_client};

/// The store key of a server: its URL exactly as configured.
pub fn key(server: &ServerConfig) -> Option<&str> {
    match &server.transport {
        Transport::Http { url, .. } => Some(url.as_str()),
        Transport::Stdio { .. } => None,
    }
}

/// An rmcp authorization manager for `url`. With a `ca_file` its OAuth requests go through a
/// client that trusts it (rmcp's own client knows only the system's roots); behind an HTTP
/// proxy, through ours too (see `http_client_trusting`; rmcp's address checks on discovered
/// hosts mean nothing there anyway, as the proxy resolves the names).
pub(super) async fn manager(
    server: &ServerConfig,
    url: &str,
) -> Result<rmcp::transport::auth::AuthorizationManager, Failure> {
    let mut manager = rmcp::transport::auth::AuthorizationManager::new(url)
        .await
        .map_err(|e| auth_failure(server, e))?;
    if server.ca_file.is_some() || crate::mcp::http_proxy_configured() {
        let http = crate::mcp::http_client_trusting(server.ca_file.as_deref())?;
        manager
            .with_client(http)
            .map_err(|e| auth_failure(server, e))?;
    }
    Ok(manager)
}

pub(super) fn auth_failure(server: &ServerConfig, what: impl std::fmt::Display) -> Failure {
    Failure::new(
        Kind::Auth,
        format!(
            "OAuth for MCP server `{}`: {}",
            server.name,
            redact::text(&what.to_string())
        ),
    )
}

pub(super) fn login_hint(server: &ServerConfig) -> String {
    format!("run: mcpchat auth login {}", server.name)
}

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Register every secret in an entry with `redact`, so none can reach a message.
pub(super) fn register_secrets(entry: &Entry) {
    if let Some(client) = &entry.client
        && let Some(secret) = &client.client_secret
    {
        redact::register(secret);
    }
    if let Some(credentials) = &entry.credentials
        && let Some(token) = &credentials.token_response
    {
        use oauth2::TokenResponse;
        redact::register(token.access_token().secret());
        if let Some(refresh) = token.refresh_token() {
            redact::register(refresh.secret());
        }
    }
}

/// What `auth status` reports for one server (never a token).
pub fn describe(
    server: &ServerConfig,
    store: &TokenStore,
) -> Result<crate::events::AuthStatus, Failure> {
    let auth_type = match server.auth_type {
        AuthType::Token => "token",
        AuthType::Oauth => "oauth",
        AuthType::ClientCredentials => "client_credentials",
        AuthType::None => "none",
    };
    let oauth_like = matches!(
        server.auth_type,
        AuthType::Oauth | AuthType::ClientCredentials
    );
    let entry = match key(server) {
        Some(url) if oauth_like => store.get(url)?,
        _ => None,
    };
    let credentials = entry
        .as_ref()
        .and_then(|e| e.credentials.clone())
        .filter(|c| c.token_response.is_some());
    let expires = credentials.as_ref().and_then(expires_at);
    let refreshable = credentials.as_ref().is_some_and(has_refresh_token);
    Ok(crate::events::AuthStatus {
        server: server.name.clone(),
        auth_type,
        logged_in: oauth_like
            .then(|| credentials.is_some() && (refreshable || expires.is_none_or(|at| at > now()))),
        expires_at: expires,
        expired: expires.map(|at| at <= now()),
        scopes: credentials
            .as_ref()
            .map(|c| c.granted_scopes.clone())
            .unwrap_or_default(),
        refreshable,
        issuer: entry.as_ref().and_then(|e| e.issuer.clone()),
        client_id: entry
            .as_ref()
            .and_then(|e| e.client.as_ref().map(|c| c.client_id.clone())),
        revoked: None,
    })
}

/// Forget a server's tokens (and its client registration with `forget_client`), after
/// revoking them at the authorization server when it offers revocation (RFC 7009). Returns
/// whether they were revoked: `None` when there was nothing to revoke or no endpoint to
/// revoke at, `Some(false)` when revoking failed (a warning says why; the tokens are
/// forgotten all the same).
pub async fn logout(
    server: &ServerConfig,
    store: &TokenStore,
    forget_client: bool,
) -> Result<Option<bool>, Failure> {
    let Some(url) = key(server) else {
        return Ok(None);
    };
    let revoked = match store.get(url)? {
        Some(entry) => {
            register_secrets(&entry);
            revoke::revoke(server, &entry).await
        }
        None => None,
    };
    store.update(url, |entry| {
        entry.credentials = None;
        if forget_client {
            entry.client = None;
            entry.metadata = None;
            entry.issuer = None;
        }
    })?;
    Ok(revoked)
}
