//! `serve --replay FILE --listen HOST:PORT`: the recording over Streamable HTTP at `/mcp`,
//! with the address and token rules of `serve --listen` (the same bind).
//!
//! Guarantees: with a token, a request without `Authorization: Bearer TOKEN` gets 401; a
//! request whose `Origin` is not a loopback name or the bound address gets 403, and on
//! loopback one whose `Host` is not a loopback name with the bound port (DNS rebinding); a
//! body over the message cap gets 413. A POSTed request is answered as JSON, or as an SSE
//! stream when recorded notifications follow its answer; `initialize` opens a session
//! (`Mcp-Session-Id`), each session replays from the start, requests without a session share
//! one replay. GET has no stream to offer (405); DELETE ends a session.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::{Recording, Replayer};
use crate::serve::http::{HostBody, Listen};

/// What every request of the listener shares.
struct Server {
    recording: Arc<Recording>,
    bound: SocketAddr,
    token: Option<Arc<str>>,
    cap: usize,
    sessions: Mutex<HashMap<String, Replayer>>,
}

/// Serve the recording on `listen` until this future is dropped.
pub async fn accept(listen: Listen, recording: Arc<Recording>, cap: usize) {
    crate::report::serving(&listen.url());
    let (listener, bound, token) = listen.into_parts();
    let server = Arc::new(Server {
        recording,
        bound,
        token,
        cap,
        sessions: Mutex::new(HashMap::new()),
    });
    serve_connections(listener, server).await;
}

async fn serve_connections(listener: TcpListener, server: Arc<Server>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let server = server.clone();
        let handler = hyper::service::service_fn(move |request| {
            let server = server.clone();
            async move { Ok::<_, Infallible>(server.answer(request).await) }
        });
        connections.spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler);
            if let Err(error) = connection.await {
                tracing::debug!("a host connection ended with an error: {error}");
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

impl Server {
    async fn answer(&self, request: Request<Incoming>) -> Response<HostBody> {
        if let Some(refused) = self.refusal(&request) {
            return refused;
        }
        let session = request
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match *request.method() {
            Method::POST => {}
            Method::DELETE => {
                if let (Some(session), Ok(mut sessions)) = (&session, self.sessions.lock()) {
                    sessions.remove(session);
                }
                return text(StatusCode::OK, "");
            }
            _ => return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
        }
        let Some(body) = read_body(request.into_body(), self.cap).await else {
            return text(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large");
        };
        self.replay(&body, session)
    }

    /// The refusal of a request outside the rules (see the module docs), if it is one.
    fn refusal<B>(&self, request: &Request<B>) -> Option<Response<HostBody>> {
        if request.uri().path() != "/mcp" {
            return Some(text(
                StatusCode::NOT_FOUND,
                "Not Found: MCP is served at /mcp",
            ));
        }
        if let Some(token) = &self.token
            && !crate::serve::http::bearer_matches(request, token)
        {
            return Some(text(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: a bearer token is required",
            ));
        }
        let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
        if let Some(origin) = header("origin")
            && !self.local_origin(origin)
        {
            return Some(text(
                StatusCode::FORBIDDEN,
                "Forbidden: Origin header is not allowed",
            ));
        }
        if self.bound.ip().is_loopback() && !header("host").is_some_and(|h| self.local_host(h)) {
            return Some(text(
                StatusCode::FORBIDDEN,
                "Forbidden: Host header is not allowed",
            ));
        }
        None
    }

    fn local_origin(&self, origin: &str) -> bool {
        let Ok(url) = url::Url::parse(origin) else {
            return false;
        };
        match url.host() {
            Some(url::Host::Domain(name)) => name == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback() || self.bound.ip() == ip,
            Some(url::Host::Ipv6(ip)) => ip.is_loopback() || self.bound.ip() == ip,
            None => false,
        }
    }

    fn local_host(&self, host: &str) -> bool {
        let port = self.bound.port();
        ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .any(|name| host == format!("{name}:{port}"))
    }

    /// The answer to one POSTed message from the replay of its session.
    fn replay(&self, body: &[u8], session: Option<String>) -> Response<HostBody> {
        let message = serde_json::from_slice::<Value>(body).ok();
        let opens = message
            .as_ref()
            .is_some_and(|m| m["method"] == "initialize" && m.get("id").is_some());
        let session = match session {
            Some(session) => session,
            None if opens => new_session_id(),
            None => String::new(),
        };
        let out = match self.sessions.lock() {
            Ok(mut sessions) => sessions
                .entry(session.clone())
                .or_insert_with(|| Replayer::new(self.recording.clone()))
                .line(body),
            Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        };
        let mut response = match out.as_slice() {
            [] => text(StatusCode::ACCEPTED, ""),
            [one] => body_of(one.to_string(), "application/json"),
            all => {
                let events: String = all
                    .iter()
                    .map(|message| format!("event: message\ndata: {message}\n\n"))
                    .collect();
                body_of(events, "text/event-stream")
            }
        };
        if opens && let Ok(value) = HeaderValue::from_str(&session) {
            response.headers_mut().insert("mcp-session-id", value);
        }
        response
    }
}

/// The whole body, or `None` past `cap` bytes.
async fn read_body(mut body: Incoming, cap: usize) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(frame) = frame else { return None };
        if let Some(data) = frame.data_ref() {
            bytes.extend_from_slice(data);
            if bytes.len() > cap {
                return None;
            }
        }
    }
    Some(bytes)
}

/// A session id nobody can guess (a counter when the system has no randomness).
fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        return format!(
            "replay-{}",
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn body_of(text: String, kind: &'static str) -> Response<HostBody> {
    let mut response = Response::new(HostBody::Plain(Some(Bytes::from(text))));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}

fn text(status: StatusCode, text: &'static str) -> Response<HostBody> {
    let mut response = body_of(text.to_string(), "text/plain; charset=utf-8");
    *response.status_mut() = status;
    response
}
