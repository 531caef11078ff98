//! OAuth 2.x for MCP servers, on top of rmcp's auth module: `auth login` (discovery,
//! registration, PKCE, loopback callback, browser), the authorized HTTP client every command
//! uses (proactive and reactive refresh through the token store), and the headless grants.
//!
//! Parts: `grants/` (how a token is obtained: `login`, the authorization-code flow as steps;
//! `device`, RFC 8628; the headless grants `client_credentials`, `jwt_bearer`, `enterprise`, with
//! `headless` (what they share) below them and the folder's `mod.rs` choosing which one runs),
//! and beside it what the grants share: `store` + `keychain` (the token store), `tokens` +
//! `http` (stored tokens for every command, the refreshing HTTP client), `dpop` + `dpop_http`
//! (RFC 9449), `registration` (RFC 7591), `probe` (reading a server's challenge), `client_auth`
//! (token endpoint authentication), `browser` and `callback` (the user's side), `revoke`, and
//! `guard` (the one HTTP client for every OAuth request whose URL a server named: addresses
//! checked where names resolve, redirects kept within their origin).
//!
//! Guarantees: only `auth login` opens a browser; tokens, secrets and codes are never printed
//! (they are registered with `redact`); the callback listens on 127.0.0.1 only, accepts one
//! callback with the right `state`, and gives up after the timeout.

mod browser;
mod callback;
mod client_auth;
pub mod dpop;
mod dpop_http;
mod grants;
mod guard;
pub mod http;
mod keychain;
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

pub use grants::enterprise::IdentityProvider;
pub use grants::headless::auth_type_name;
pub use grants::login::{LoginOptions, login};
pub use grants::{ensure_token, is_headless};
pub use tokens::{access_token, authorized_client};

/// Whether `auth_type` gets its tokens from an OAuth authorization server (and keeps them in
/// the token store).
pub fn uses_oauth(auth_type: AuthType) -> bool {
    auth_type == AuthType::Oauth || is_headless(auth_type)
}

/// The store key of a server: its URL exactly as configured.
pub fn key(server: &ServerConfig) -> Option<&str> {
    match &server.transport {
        Transport::Http { url, .. } => Some(url.as_str()),
        Transport::Stdio { .. } => None,
    }
}

/// An rmcp authorization manager for `url` whose OAuth requests all go through our guarded
/// client (`guard`): the address rule of rmcp's own client, and also the `ca_file` and the
/// proxy, on every path.
pub(super) async fn manager(
    server: &ServerConfig,
    url: &str,
) -> Result<rmcp::transport::auth::AuthorizationManager, Failure> {
    manager_for(server, url, None).await
}

/// The same, and its token requests carry DPoP proofs while `binding` is active.
pub(super) async fn manager_for(
    server: &ServerConfig,
    url: &str,
    binding: Option<&std::sync::Arc<dpop_http::Binding>>,
) -> Result<rmcp::transport::auth::AuthorizationManager, Failure> {
    rmcp::transport::auth::AuthorizationManager::new_with_oauth_http_client(
        url,
        oauth_client(server, url, binding)?,
    )
    .await
    .map_err(|e| auth_failure(server, e))
}

/// The OAuth client of a manager: the guarded client, with DPoP proofs when `binding` is given.
pub(super) fn oauth_client(
    server: &ServerConfig,
    url: &str,
    binding: Option<&std::sync::Arc<dpop_http::Binding>>,
) -> Result<std::sync::Arc<dyn rmcp::transport::auth::OAuthHttpClient>, Failure> {
    let http = guard::Guarded::new(server, url)?;
    Ok(match binding {
        Some(binding) => {
            std::sync::Arc::new(dpop_http::DpopOAuthClient::new(http, binding.clone()))
        }
        None => std::sync::Arc::new(http),
    })
}

/// A new login's DPoP binding, with a fresh key, when `oauth.dpop` and the MCP server's
/// `challenge` call for one.
pub(super) fn new_binding(
    server: &ServerConfig,
    challenge: Option<&str>,
) -> Result<Option<std::sync::Arc<dpop_http::Binding>>, Failure> {
    let mode = server
        .oauth
        .as_ref()
        .and_then(|o| o.dpop)
        .unwrap_or_default();
    if !mode.wanted(challenge.is_some_and(dpop::demanded)) {
        return Ok(None);
    }
    let binding = dpop_http::Binding::new(dpop::DpopKey::generate()?);
    tracing::info!(jkt = %binding.key().thumbprint(), "binding tokens to a DPoP key");
    Ok(Some(binding))
}

/// The stored form of a binding that was used (for the store entry).
pub(super) fn stored_key(
    binding: Option<&std::sync::Arc<dpop_http::Binding>>,
) -> Option<dpop::StoredKey> {
    binding.map(|b| b.key().stored().clone())
}

pub(super) fn auth_failure(server: &ServerConfig, what: impl std::fmt::Display) -> Failure {
    let mut what = what.to_string();
    // rmcp reports a token request our client failed as "Request failed", without the cause.
    if what.contains("Request failed")
        && let Some(why) = key(server).and_then(guard::take_failure)
    {
        what = format!("{what}: {why}");
    }
    Failure::new(
        Kind::Auth,
        format!(
            "OAuth for MCP server `{}`: {}",
            server.name,
            redact::text(&what)
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
    if let Some(key) = &entry.dpop_key {
        redact::register(&key.private_key);
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
    let auth_type = auth_type_name(server.auth_type);
    let oauth_like = uses_oauth(server.auth_type);
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
            .and_then(|e| e.client.as_ref().map(|c| c.client_id.clone()))
            .filter(|id| !id.is_empty()),
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
        // A new login makes a new key; the old one is of no use without its tokens.
        entry.dpop_key = None;
    })?;
    Ok(revoked)
}
