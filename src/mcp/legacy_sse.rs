//! The legacy HTTP+SSE transport of protocol 2024-11-05, for servers that predate Streamable
//! HTTP (rmcp has no client for it). A GET opens the event stream; its first `endpoint` event
//! names the URL to POST messages to; every server message then arrives as a `message` event.
//!
//! Guarantees: opening the stream is bounded by the caller's connect timeout; a POST that is
//! not accepted is an error for that message; an event over `max_message_bytes`, not UTF-8 or
//! not JSON-RPC fails the pending request at once; the reader task ends with the transport.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use rmcp::RoleClient;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc;

use super::framing::{Fault, Frame, Pending, decode};

#[derive(Debug, thiserror::Error)]
pub enum SseError {
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the server answered HTTP {0} to a message")]
    Status(u16),
    #[error("the event stream ended before it named an endpoint")]
    NoEndpoint,
    #[error("the endpoint URL is invalid: {0}")]
    Endpoint(String),
    #[error("the event stream is not text/event-stream (HTTP {0})")]
    NotSse(u16),
}

pub struct LegacySse {
    http: reqwest::Client,
    endpoint: Arc<str>,
    headers: reqwest::header::HeaderMap,
    incoming: mpsc::Receiver<ServerJsonRpcMessage>,
    reader: tokio::task::JoinHandle<()>,
    /// Requests awaiting an answer, so that an unusable event fails them at once.
    pending: Arc<Mutex<Pending>>,
}

/// The error text the size limiter puts in the byte stream.
const TOO_LARGE: &str = "mcpchat: SSE event over the cap";

/// Counts the bytes of the SSE event being received (since the last blank line).
struct EventLimit {
    cap: usize,
    current: usize,
    newline: bool,
}

impl EventLimit {
    fn new(cap: usize) -> Self {
        EventLimit {
            cap,
            current: 0,
            newline: false,
        }
    }

    /// True once the current event is over the cap.
    fn observe(&mut self, chunk: &[u8]) -> bool {
        for byte in chunk {
            match byte {
                b'\r' => {}
                b'\n' if self.newline => self.current = 0,
                b'\n' => self.newline = true,
                _ => {
                    self.newline = false;
                    self.current += 1;
                }
            }
            if self.current > self.cap {
                return true;
            }
        }
        false
    }
}

/// Forward each `message` event; an event we cannot use fails the requests it answered.
async fn read_events(
    mut events: impl futures::Stream<Item = Result<sse_stream::Sse, sse_stream::Error>> + Unpin,
    sender: mpsc::Sender<ServerJsonRpcMessage>,
    pending: Arc<Mutex<Pending>>,
    cap: usize,
) {
    let fail = |fault: Fault| {
        let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.fail(&fault, None)
    };
    while let Some(event) = events.next().await {
        let frame = match event {
            Ok(event) => {
                if !matches!(event.event.as_deref(), None | Some("message")) {
                    continue;
                }
                let Some(data) = event.data else { continue };
                let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
                decode(data.as_bytes(), &mut pending)
            }
            Err(error) => {
                let text = format!("{error:?}");
                let fault = if text.contains(TOO_LARGE) {
                    Fault::TooLarge { size: None, cap }
                } else if text.contains("Utf8") {
                    Fault::NotUtf8
                } else {
                    tracing::debug!("the SSE stream failed: {error}");
                    break;
                };
                let errors = fail(fault.clone());
                Frame::Failed(fault, errors)
            }
        };
        let ends = matches!(
            &frame,
            Frame::Failed(Fault::TooLarge { .. } | Fault::NotUtf8, _)
        );
        let messages = match frame {
            Frame::Message(message) => vec![message],
            Frame::Failed(_, errors) => errors,
            Frame::Ignored(note) => {
                tracing::info!("{note}");
                Vec::new()
            }
        };
        for message in messages {
            if sender.send(message).await.is_err() {
                return;
            }
        }
        if ends {
            // The stream cannot be read past a broken event.
            break;
        }
    }
}

impl LegacySse {
    /// Open the event stream at `url` and wait for the `endpoint` event.
    pub async fn connect(
        http: reqwest::Client,
        url: &str,
        headers: reqwest::header::HeaderMap,
        max_message_bytes: usize,
    ) -> Result<LegacySse, SseError> {
        let response = http
            .get(url)
            .headers(headers.clone())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await?;
        let status = response.status();
        let is_sse = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !status.is_success() || !is_sse {
            return Err(SseError::NotSse(status.as_u16()));
        }
        let base = response.url().clone();
        let limit = EventLimit::new(max_message_bytes);
        let bytes = response.bytes_stream().scan(limit, |limit, chunk| {
            let chunk = chunk.map_err(std::io::Error::other).and_then(|chunk| {
                if limit.observe(&chunk) {
                    Err(std::io::Error::other(TOO_LARGE))
                } else {
                    Ok(chunk)
                }
            });
            futures::future::ready(Some(chunk))
        });
        let mut events = sse_stream::SseStream::from_bytes_stream(bytes);
        let endpoint = loop {
            match events.next().await {
                Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                    let data = event.data.unwrap_or_default();
                    break base
                        .join(data.trim())
                        .map_err(|e| SseError::Endpoint(e.to_string()))?;
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(SseError::NoEndpoint),
            }
        };
        if endpoint.origin() != base.origin() {
            return Err(SseError::Endpoint(format!(
                "{} is on another origin than the stream",
                crate::redact::url(endpoint.as_str())
            )));
        }
        let (sender, incoming) = mpsc::channel(64);
        let pending: Arc<Mutex<Pending>> = Arc::default();
        let reader = tokio::spawn(read_events(
            events,
            sender,
            pending.clone(),
            max_message_bytes,
        ));
        Ok(LegacySse {
            http,
            endpoint: Arc::from(endpoint.as_str()),
            headers,
            incoming,
            reader,
            pending,
        })
    }
}

impl Transport<RoleClient> for LegacySse {
    type Error = SseError;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), SseError>> + Send + 'static {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sent(&item);
        let http = self.http.clone();
        let endpoint = self.endpoint.clone();
        let headers = self.headers.clone();
        async move {
            let response = http
                .post(&*endpoint)
                .headers(headers)
                .json(&item)
                .send()
                .await?;
            let status = response.status();
            let _ = response.bytes().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(SseError::Status(status.as_u16()))
            }
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ServerJsonRpcMessage>> + Send {
        self.incoming.recv()
    }

    async fn close(&mut self) -> Result<(), SseError> {
        self.reader.abort();
        Ok(())
    }
}

impl Drop for LegacySse {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
