//! The HTTP client an OAuth server's transport uses: it adds the stored access token, refreshes
//! it shortly before expiry, and after a 401 refreshes once and retries.
//!
//! Refreshes are serialised across processes by the token store's refresh lock, and a process
//! that waited for the lock first re-reads the store: when another process has refreshed in the
//! meantime, its token is used as is. With rotating refresh tokens, N processes starting together
//! after expiry therefore refresh once between them and all succeed.
//!
//! A DPoP-bound token (`token_type: DPoP`) goes with the `DPoP` scheme and a fresh proof on
//! every request; a `use_dpop_nonce` challenge is answered once with the server's nonce.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderName, HeaderValue};
use rmcp::transport::auth::{AuthError, AuthorizationManager};
use rmcp::transport::streamable_http_client::{StreamableHttpError, StreamableHttpPostResponse};

use super::dpop::{self, DpopKey};
use super::dpop_http::{self, Binding};
use crate::auth::store::TokenStore;
use crate::mcp::transport::http_layer::{
    Delete, Get, HttpHooks, Post, SseStream, streamable_http_via_hooks,
};

/// Refresh when less than this many seconds of validity are left.
const REFRESH_MARGIN_SECS: u64 = 30;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Gets a new token with a headless grant (client credentials, JWT bearer, enterprise-managed)
/// and stores it: what those servers have instead of a refresh token.
pub type Regrant = Arc<
    dyn Fn() -> futures::future::BoxFuture<'static, Result<(), crate::exit::Failure>> + Send + Sync,
>;

/// Hands out the current access token and refreshes it.
pub struct TokenSource {
    manager: AuthorizationManager,
    regrant: Option<Regrant>,
    store: TokenStore,
    key: String,
    /// The token in use and when it expires, so that requests do not re-read the store;
    /// the store is read again only when this one is about to expire or was rejected.
    current: std::sync::Mutex<Option<(String, Option<u64>)>>,
    /// The key of DPoP-bound tokens, and whether the token in use is bound (`token_type`).
    dpop: Option<Arc<Binding>>,
    bound: std::sync::atomic::AtomicBool,
}

/// Good to send (see `store::usable`): the margin left, or obtained by this process.
fn fresh(token: &str, expires_at: Option<u64>) -> bool {
    super::store::usable(token, expires_at, REFRESH_MARGIN_SECS)
}

impl TokenSource {
    pub fn new(manager: AuthorizationManager, store: TokenStore, key: String) -> Self {
        TokenSource {
            manager,
            regrant: None,
            store,
            key,
            current: std::sync::Mutex::new(None),
            dpop: None,
            bound: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Renew tokens with `regrant` instead of a refresh token.
    pub fn with_regrant(mut self, regrant: Regrant) -> Self {
        self.regrant = Some(regrant);
        self
    }

    /// Present bound tokens with this key.
    pub fn with_dpop(mut self, binding: Option<Arc<Binding>>) -> Self {
        self.dpop = binding;
        self
    }

    /// The key to present the token in use with, when it is DPoP-bound.
    pub fn bound_key(&self) -> Option<&DpopKey> {
        self.dpop
            .as_deref()
            .filter(|_| self.bound.load(std::sync::atomic::Ordering::SeqCst))
            .map(Binding::key)
    }

    fn remember(&self, token: &str, expires_at: Option<u64>, bound: bool) {
        crate::redact::register(token);
        self.bound.store(bound, std::sync::atomic::Ordering::SeqCst);
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((token.to_string(), expires_at));
    }

    /// The stored token and whether it is still comfortably valid (this reads the store).
    fn stored(&self) -> Result<Option<(String, bool)>, AuthError> {
        use oauth2::TokenResponse;
        let entry = self
            .store
            .get(&self.key)
            .map_err(|f| AuthError::CredentialStoreError(f.message))?;
        let Some(credentials) = entry.and_then(|e| e.credentials) else {
            return Ok(None);
        };
        let Some(token) = credentials.token_response.as_ref() else {
            return Ok(None);
        };
        let expires_at = super::store::expires_at(&credentials);
        let secret = token.access_token().secret().to_string();
        self.remember(&secret, expires_at, dpop::bound(token.token_type()));
        let fresh = fresh(&secret, expires_at);
        Ok(Some((secret, fresh)))
    }

    /// The token to send: the one in use, else the stored one, refreshed first if it is
    /// about to expire.
    pub async fn token(&self) -> Result<Option<String>, AuthError> {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((token, expires_at)) = current
            && fresh(&token, expires_at)
        {
            return Ok(Some(token));
        }
        match self.stored()? {
            None => Ok(None),
            Some((token, true)) => Ok(Some(token)),
            Some((token, false)) => self.refresh(Some(&token)).await,
        }
    }

    /// Refresh, unless another process already replaced `rejected`. `None` means the grant is
    /// gone (no refresh token, or it was rejected): the caller goes on unauthenticated and the
    /// server's 401 ends the command with a hint to log in.
    pub async fn refresh(&self, rejected: Option<&str>) -> Result<Option<String>, AuthError> {
        if let Some(regrant) = &self.regrant {
            return self.run_regrant(regrant).await;
        }
        let store = self.store.clone();
        let _lock = tokio::task::spawn_blocking(move || store.refresh_lock())
            .await
            .map_err(|e| AuthError::CredentialStoreError(e.to_string()))?
            .map_err(|f| AuthError::CredentialStoreError(f.message))?;
        if let Some((token, fresh)) = self.stored()?
            && fresh
            && Some(token.as_str()) != rejected
        {
            tracing::debug!("another process refreshed the token; using it");
            return Ok(Some(token));
        }
        match self.manager.refresh_token().await {
            Ok(response) => {
                use oauth2::TokenResponse;
                let token = response.access_token().secret().to_string();
                super::store::mark_obtained(&token);
                self.remember(
                    &token,
                    response
                        .expires_in()
                        .map(|d| crate::durations::token_expiry(now(), d)),
                    dpop::bound(response.token_type()),
                );
                if let Some(refresh) = response.refresh_token() {
                    crate::redact::register(refresh.secret());
                }
                tracing::info!("refreshed the access token");
                Ok(Some(token))
            }
            Err(AuthError::AuthorizationRequired | AuthError::TokenRefreshRejected(_)) => {
                *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
                tracing::warn!(
                    "the refresh token was rejected or is missing; a new login is needed"
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

impl TokenSource {
    /// A new token from the headless grant (which takes the refresh lock itself). A failed
    /// grant is reported and, like a rejected refresh token, leaves no token: the server's
    /// 401 then ends the command with exit 3.
    async fn run_regrant(&self, regrant: &Regrant) -> Result<Option<String>, AuthError> {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if let Err(failure) = regrant().await {
            tracing::warn!("{}", crate::redact::text(&failure.message));
            return Ok(None);
        }
        tracing::info!("got a new access token with the server's grant");
        Ok(self.stored()?.map(|(token, _)| token))
    }
}

/// `reqwest::Client` plus a [`TokenSource`].
#[derive(Clone)]
pub struct OAuthHttp {
    pub http: reqwest::Client,
    pub tokens: Arc<TokenSource>,
}

type Error = StreamableHttpError<reqwest::Error>;

impl OAuthHttp {
    /// How `token` goes on a request: rmcp's `Bearer` argument, or (bound) no argument and
    /// the `DPoP` headers added to the custom ones.
    fn present(
        &self,
        method: &str,
        uri: &str,
        token: Option<String>,
        custom: &HashMap<HeaderName, HeaderValue>,
    ) -> Result<(Option<String>, HashMap<HeaderName, HeaderValue>), Error> {
        match (self.tokens.bound_key(), token) {
            (Some(key), Some(token)) => {
                let headers = dpop_http::resource_headers(key, method, uri, &token, custom)
                    .map_err(|f| StreamableHttpError::Auth(AuthError::InternalError(f.message)))?;
                Ok((None, headers))
            }
            (_, token) => Ok((token, custom.clone())),
        }
    }

    async fn with_token<T, F, Fut>(
        &self,
        method: &str,
        uri: &str,
        custom: &HashMap<HeaderName, HeaderValue>,
        call: F,
    ) -> Result<T, Error>
    where
        F: Fn(Option<String>, HashMap<HeaderName, HeaderValue>) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let send = |token: Option<String>| async {
            let (bearer, headers) = self.present(method, uri, token, custom)?;
            call(bearer, headers).await
        };
        let token = self
            .tokens
            .token()
            .await
            .map_err(StreamableHttpError::Auth)?;
        let mut result = send(token.clone()).await;
        if let Err(StreamableHttpError::AuthRequired(challenge)) = &result
            && let (Some(key), Some(bound)) = (self.tokens.bound_key(), token.as_deref())
            && dpop_http::asks_for_nonce(&challenge.www_authenticate_header)
        {
            tracing::debug!("the MCP server asked for a DPoP nonce; retrying");
            dpop_http::learn_resource_nonce(&self.http, key, uri, bound, custom).await;
            result = send(token.clone()).await;
        }
        match result {
            Err(StreamableHttpError::AuthRequired(challenge)) if token.is_some() => {
                let fresh = self
                    .tokens
                    .refresh(token.as_deref())
                    .await
                    .map_err(StreamableHttpError::Auth)?;
                match fresh {
                    Some(fresh) if Some(&fresh) != token.as_ref() => send(Some(fresh)).await,
                    _ => Err(StreamableHttpError::AuthRequired(challenge)),
                }
            }
            result => result,
        }
    }
}

/// Every request goes with the current token (see [`OAuthHttp::with_token`]); the `Bearer`
/// argument rmcp passes is replaced.
impl HttpHooks for OAuthHttp {
    type Inner = reqwest::Client;

    fn inner(&self) -> &reqwest::Client {
        &self.http
    }

    async fn post(&self, post: Post) -> Result<StreamableHttpPostResponse, Error> {
        self.with_token("POST", &post.uri, &post.custom_headers, |token, headers| {
            post.authorized(token, headers).send(&self.http)
        })
        .await
    }

    async fn get(&self, get: Get) -> Result<SseStream, Error> {
        self.with_token("GET", &get.uri, &get.custom_headers, |token, headers| {
            get.authorized(token, headers).send(&self.http)
        })
        .await
    }

    async fn delete(&self, delete: Delete) -> Result<(), Error> {
        self.with_token(
            "DELETE",
            &delete.uri,
            &delete.custom_headers,
            |token, headers| delete.authorized(token, headers).send(&self.http),
        )
        .await
    }
}

streamable_http_via_hooks!(for OAuthHttp);
