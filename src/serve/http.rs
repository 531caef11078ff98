//! Streamable HTTP for hosts (`serve --listen HOST:PORT`): rmcp's Streamable HTTP service at
//! `/mcp` (sessions with SSE for 2025-era hosts, stateless 2026-07-28 requests), behind a gate
//! of our own.
//!
//! Guarantees: an address that is not loopback is served only with a bearer token (exit 2
//! otherwise); with a token, a request without `Authorization: Bearer TOKEN` gets 401 before
//! anything reads it; rmcp refuses (403) a request whose `Origin` is not loopback or the bound
//! address, and on loopback one whose `Host` is not the bound address or a loopback name (DNS
//! rebinding); every body to the host passes `redact::json_line`, so no registered upstream
//! secret reaches it whatever an upstream echoes; on the way out every host session and
//! connection is ended. With `--record`, request bodies and response frames are recorded.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::record;
use super::relay::Relay;
use crate::exit::Failure;

/// Where hosts send their requests.
const PATH: &str = "/mcp";

/// Shorter tokens are refused: one guards every upstream on an open port.
const MIN_TOKEN_LEN: usize = 16;

/// A bound HTTP listener, the connections it accepted and the gate they go through.
pub struct Listen {
    listener: TcpListener,
    bound: SocketAddr,
    token: Option<Arc<str>>,
    gate: Option<Arc<Gate>>,
    connections: JoinSet<()>,
}

/// The address of `--listen`: an IP address and port, or `localhost:PORT`.
fn parse_address(spec: &str) -> Result<SocketAddr, Failure> {
    if let Ok(address) = spec.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Some(port) = spec.strip_prefix("localhost:")
        && let Ok(port) = port.parse::<u16>()
    {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    Err(Failure::usage(format!(
        "--listen `{spec}` is not HOST:PORT with an IP address or localhost"
    ))
    .hint("for example --listen 127.0.0.1:8808, or --listen 127.0.0.1:0 for any free port"))
}

/// The token, if any, checked: long enough, and required off loopback.
fn checked_token(address: SocketAddr, token: Option<&str>) -> Result<Option<Arc<str>>, Failure> {
    let token = token.map(str::trim).filter(|t| !t.is_empty());
    match token {
        Some(token) if token.len() < MIN_TOKEN_LEN => Err(Failure::usage(format!(
            "the serve token is {} characters long; it needs at least {MIN_TOKEN_LEN}",
            token.len()
        ))
        .hint("make one with: openssl rand -hex 32")),
        Some(token) => {
            crate::redact::register(token);
            Ok(Some(token.into()))
        }
        None if address.ip().is_loopback() => Ok(None),
        None => Err(Failure::usage(format!(
            "--listen {address} is not a loopback address; serving it needs a token"
        ))
        .hint("pass --token TOKEN or set MCPCHAT_SERVE_TOKEN; hosts then send it as a bearer token")
        .hint("or listen on loopback: --listen 127.0.0.1:PORT")),
    }
}

impl Listen {
    /// Check the address and token, then bind.
    pub async fn bind(spec: &str, token: Option<&str>) -> Result<Listen, Failure> {
        let address = parse_address(spec)?;
        let token = checked_token(address, token)?;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|e| Failure::usage(format!("cannot listen on {address}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Failure::usage(format!("cannot read the address of {address}: {e}")))?;
        Ok(Listen {
            listener,
            bound,
            token,
            gate: None,
            connections: JoinSet::new(),
        })
    }

    /// The bound listener, its address and its token, for `serve --replay`'s own server.
    pub(super) fn into_parts(self) -> (TcpListener, SocketAddr, Option<Arc<str>>) {
        (self.listener, self.bound, self.token)
    }

    /// The URL hosts connect to.
    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.bound)
    }

    /// Serve hosts until this future is dropped; each connection runs on its own task, each
    /// host session (2025-era) on rmcp's.
    pub async fn accept(&mut self, relay: &Relay, cap: usize) {
        let factory = relay.clone();
        let service = StreamableHttpService::new(
            move || Ok(factory.clone()),
            Arc::new(LocalSessionManager::default()),
            rmcp_config(self.bound, cap),
        );
        let gate = Arc::new(Gate {
            service,
            token: self.token.clone(),
            cap,
        });
        self.gate = Some(gate.clone());
        loop {
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!("accepting a connection on {} failed: {error}", self.bound);
                    continue;
                }
            };
            let gate = gate.clone();
            let handler = hyper::service::service_fn(move |request| {
                let gate = gate.clone();
                async move { Ok::<_, Infallible>(gate.answer(request).await) }
            });
            self.connections.spawn(async move {
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), handler);
                if let Err(error) = connection.await {
                    tracing::debug!("a host connection ended with an error: {error}");
                }
            });
            while self.connections.try_join_next().is_some() {}
        }
    }

    /// End every host session and connection; the relays they hold go with them.
    pub async fn close(mut self) {
        if let Some(gate) = self.gate.take() {
            gate.service.config.cancellation_token.cancel();
        }
        self.connections.shutdown().await;
    }
}

/// rmcp's settings: the Host check on loopback, the Origin check always, our message cap.
fn rmcp_config(bound: SocketAddr, cap: usize) -> StreamableHttpServerConfig {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "[::1]".into()];
    let ip = bound.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(match ip {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        });
    }
    let origins = names
        .iter()
        .flat_map(|name| [format!("http://{name}:*"), format!("https://{name}:*")]);
    let config = StreamableHttpServerConfig::default()
        .with_allowed_origins(origins.collect::<Vec<_>>())
        .enforce_origin_validation()
        .with_max_request_body_bytes(cap);
    if ip.is_loopback() {
        // A host name that resolves to us by DNS rebinding is not one of these.
        let port = bound.port();
        config.with_allowed_hosts(
            names
                .iter()
                .map(|name| format!("{name}:{port}"))
                .collect::<Vec<_>>(),
        )
    } else {
        // Hosts reach a gateway under names we cannot know; the token guards it instead.
        config.disable_allowed_hosts()
    }
}

/// What stands between the network and rmcp's service: the path and the bearer token.
struct Gate {
    service: StreamableHttpService<Relay, LocalSessionManager>,
    token: Option<Arc<str>>,
    /// The message cap: how much of a body is read ahead for task requests.
    cap: usize,
}

impl Gate {
    async fn answer(&self, request: Request<Incoming>) -> Response<HostBody> {
        if request.uri().path() != PATH {
            return plain(StatusCode::NOT_FOUND, "Not Found: MCP is served at /mcp");
        }
        if let Some(token) = &self.token
            && !bearer_matches(&request, token)
        {
            let mut response = plain(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: a bearer token is required",
            );
            response.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Bearer"),
            );
            return response;
        }
        let tap = record::http_exchange(request.headers());
        let request = request.map(|body| record::Teed::new(body, tap.clone()));
        let request = super::http_tasks::untyped(request, self.cap).await;
        let response = self.service.handle(request).await;
        let (mut parts, body) = response.into_parts();
        // Masking changes the length; hyper frames the body itself.
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        Response::from_parts(parts, HostBody::Relayed(Box::pin(body), tap))
    }
}

/// Whether the request carries `Authorization: Bearer TOKEN` (compared in constant time).
pub(super) fn bearer_matches<B>(request: &Request<B>, token: &str) -> bool {
    let Some(value) = request.headers().get(hyper::header::AUTHORIZATION) else {
        return false;
    };
    let Some((scheme, given)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && same_bytes(given.trim().as_bytes(), token.as_bytes())
}

/// Equal byte strings, in a time that does not depend on where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn plain(status: StatusCode, text: &'static str) -> Response<HostBody> {
    let mut response = Response::new(HostBody::Plain(Some(Bytes::from_static(text.as_bytes()))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

type Relayed = Pin<Box<dyn Body<Data = Bytes, Error = Infallible> + Send + Sync>>;

/// A response body to the host: rmcp's, masked frame by frame (one frame is one whole JSON
/// body or one whole SSE event, so a secret is never split between two), or our own text.
pub enum HostBody {
    /// With `--record`, each frame is also recorded.
    Relayed(Relayed, Option<record::Tap>),
    Plain(Option<Bytes>),
}

impl Body for HostBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            HostBody::Plain(text) => Poll::Ready(text.take().map(|t| Ok(Frame::data(t)))),
            HostBody::Relayed(body, tap) => {
                let polled = body.as_mut().poll_frame(context);
                if let (Some(tap), Poll::Ready(Some(Ok(frame)))) = (tap, &polled)
                    && let Some(data) = frame.data_ref()
                {
                    tap.note_http(record::Direction::ServeToHost, data);
                }
                let answer = |data| super::task_offer::declared_in_frame(masked(data));
                polled.map(|frame| frame.map(|frame| frame.map(|frame| frame.map_data(answer))))
            }
        }
    }
}

/// One frame with the registered secrets masked inside its JSON strings.
fn masked(data: Bytes) -> Bytes {
    match std::str::from_utf8(&data) {
        Ok(text) => match crate::redact::json_line(text) {
            std::borrow::Cow::Borrowed(_) => data,
            std::borrow::Cow::Owned(text) => Bytes::from(text),
        },
        // rmcp writes only UTF-8 (serialised JSON); anything else has no secret of ours.
        Err(_) => data,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_address_needs_no_token_and_any_other_does() {
        let loopback = parse_address("127.0.0.1:0").unwrap();
        assert_eq!(checked_token(loopback, None).unwrap(), None);
        let open = parse_address("0.0.0.0:8808").unwrap();
        let refused = checked_token(open, None).unwrap_err();
        assert_eq!(
            refused.message,
            "--listen 0.0.0.0:8808 is not a loopback address; serving it needs a token"
        );
        assert!(checked_token(open, Some("short")).is_err());
        assert!(
            checked_token(open, Some("0123456789abcdef"))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn localhost_is_loopback_and_a_host_name_is_refused() {
        assert_eq!(
            parse_address("localhost:8808").unwrap(),
            "127.0.0.1:8808".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_address("[::1]:0").unwrap().ip().is_loopback());
        assert!(parse_address("example.com:80").is_err());
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let request = |value: &str| {
            Request::builder()
                .header("authorization", value)
                .body(())
                .unwrap()
        };
        let token = "0123456789abcdef";
        assert!(bearer_matches(&request("Bearer 0123456789abcdef"), token));
        assert!(bearer_matches(&request("bearer 0123456789abcdef"), token));
        assert!(!bearer_matches(&request("Bearer 0123456789abcdeF"), token));
        assert!(!bearer_matches(&request("Bearer 0123456789abcde"), token));
        assert!(!bearer_matches(&request("Basic 0123456789abcdef"), token));
        assert!(!bearer_matches(&Request::new(()), token));
    }
}
