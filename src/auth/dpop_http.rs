//! DPoP on the wire: the OAuth HTTP client rmcp's token requests (code exchange, refresh,
//! client credentials) go through when a login may bind its tokens, which adds a proof to
//! every token request and retries once with the authorization server's nonce
//! (`use_dpop_nonce`, RFC 9449 §8); and the headers and nonce retry of MCP requests (§7, §9).

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue};
use rmcp::transport::auth::{OAuthHttpClient, OAuthHttpClientFuture, OAuthHttpRequest};

use super::dpop::{self, DpopKey};
use crate::exit::Failure;

/// The DPoP key a server's tokens are (to be) bound to: its token requests carry proofs.
pub struct Binding {
    key: DpopKey,
}

impl Binding {
    pub fn new(key: DpopKey) -> Arc<Binding> {
        Arc::new(Binding { key })
    }

    pub fn key(&self) -> &DpopKey {
        &self.key
    }
}

/// Whether an error answer asks for a DPoP nonce (RFC 9449 §8: a 400 JSON body; §9: a 401
/// challenge).
pub fn asks_for_nonce(text: &str) -> bool {
    text.contains("use_dpop_nonce")
}

/// The OAuth HTTP client of a manager whose tokens may be DPoP-bound (over the guarded client).
pub struct DpopOAuthClient {
    http: super::guard::Guarded,
    binding: Arc<Binding>,
}

impl DpopOAuthClient {
    pub fn new(http: super::guard::Guarded, binding: Arc<Binding>) -> DpopOAuthClient {
        DpopOAuthClient { http, binding }
    }

    async fn send(
        &self,
        parts: &oauth2::http::request::Parts,
        body: &[u8],
        timeout: Option<std::time::Duration>,
        token_request: bool,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>), String> {
        let uri = parts.uri.to_string();
        let mut request = self
            .http
            .request(parts.method.clone(), &uri)
            .map_err(|refused| refused.to_string())?
            .headers(parts.headers.clone())
            .body(body.to_vec());
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        if token_request {
            let nonce = dpop::nonce_for(&uri);
            let proof = self
                .binding
                .key
                .proof(parts.method.as_str(), &uri, None, nonce.as_deref())
                .map_err(|f| f.message)?;
            request = request.header("DPoP", proof);
        }
        let response = request
            .send()
            .await
            .map_err(|e| super::guard::explain(&e))?;
        dpop::remember_nonce(&uri, response.headers());
        let answer = super::guard::read_capped(response).await?;
        let (parts, body) = answer.into_parts();
        Ok((parts.status, parts.headers, body))
    }
}

/// A token request: a POST whose form names a `grant_type`.
fn is_token_request(parts: &oauth2::http::request::Parts, body: &[u8]) -> bool {
    parts.method == oauth2::http::Method::POST
        && url::form_urlencoded::parse(body).any(|(name, _)| name == "grant_type")
}

impl OAuthHttpClient for DpopOAuthClient {
    fn execute(&self, request: OAuthHttpRequest) -> OAuthHttpClientFuture<'_> {
        Box::pin(async move {
            let OAuthHttpRequest {
                request, timeout, ..
            } = request;
            let (parts, body) = request.into_parts();
            let token_request = is_token_request(&parts, &body);
            let mut answer = self.send(&parts, &body, timeout, token_request).await?;
            let (status, headers, text) = &answer;
            if token_request
                && *status == reqwest::StatusCode::BAD_REQUEST
                && headers.contains_key("dpop-nonce")
                && asks_for_nonce(&String::from_utf8_lossy(text))
            {
                tracing::debug!("the authorization server asked for a DPoP nonce; retrying");
                answer = self.send(&parts, &body, timeout, token_request).await?;
            }
            let (status, headers, body) = answer;
            let mut response = oauth2::http::Response::builder().status(status);
            for (name, value) in &headers {
                response = response.header(name, value);
            }
            Ok(response.body(body)?)
        })
    }
}

/// The headers that present `token` with `key` on one MCP request (RFC 9449 §7.1): the
/// `DPoP` scheme and a fresh proof with `ath` and the origin's latest nonce.
pub fn resource_headers(
    key: &DpopKey,
    method: &str,
    uri: &str,
    token: &str,
    custom: &HashMap<HeaderName, HeaderValue>,
) -> Result<HashMap<HeaderName, HeaderValue>, Failure> {
    let nonce = dpop::nonce_for(uri);
    let proof = key.proof(method, uri, Some(token), nonce.as_deref())?;
    let value = |text: String| {
        HeaderValue::from_str(&text).map_err(|_| {
            Failure::new(
                crate::exit::Kind::Auth,
                "the access token is not a valid header value",
            )
        })
    };
    let mut headers = custom.clone();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        value(format!("DPoP {token}"))?,
    );
    headers.insert(HeaderName::from_static("dpop"), value(proof)?);
    Ok(headers)
}

/// Learn the nonce an MCP server demands (`use_dpop_nonce`, RFC 9449 §9). rmcp's transport
/// keeps only the challenge of a 401, not its `DPoP-Nonce` header, so this asks again with a
/// JSON-RPC `ping` (which has no effect on any server) and keeps the nonce of the answer.
pub async fn learn_resource_nonce(
    http: &reqwest::Client,
    key: &DpopKey,
    uri: &str,
    token: &str,
    custom: &HashMap<HeaderName, HeaderValue>,
) {
    let headers = match resource_headers(key, "POST", uri, token, custom) {
        Ok(headers) => headers,
        Err(_) => return,
    };
    let mut request = http
        .post(uri)
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":"mcpchat-dpop-nonce","method":"ping"}"#);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(response) => {
            dpop::remember_nonce(uri, response.headers());
            tracing::debug!(
                status = response.status().as_u16(),
                nonce = response.headers().contains_key("dpop-nonce"),
                "asked the MCP server for its DPoP nonce"
            );
        }
        Err(e) => tracing::debug!("cannot ask the MCP server for its DPoP nonce: {e}"),
    }
}
