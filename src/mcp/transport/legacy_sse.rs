//! The legacy HTTP+SSE transport of protocol 2024-11-05, for servers that predate Streamable
//! HTTP (rmcp has no client for it). A GET opens the event stream; its first `endpoint` event
//! names the URL to POST messages to; every server message then arrives as a `message` event.
//!
//! Guarantees: opening the stream is bounded by the caller's connect timeout; a POST that is
//! not accepted is an error for that message; an event over `max_message_bytes`, not UTF-8 or
//! not JSON-RPC fails the pending request at once; the reader task ends with the transport;
//! `notifications/*/list_changed` drops the cached list as it is read.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use rmcp::RoleClient;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc;

use super::Watcher;
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
    #[error("the endpoint {endpoint} is on another origin than the stream ({stream})")]
    CrossOrigin { endpoint: String, stream: String },
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
    changes: Arc<dyn Watcher>,
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
                // Before rmcp sees the reply that follows it (see `Watcher`).
                changes.seen(&data);
                let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
                decode(data.as_bytes(), cap, &mut pending)
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
    pub(crate) async fn connect(
        http: reqwest::Client,
        url: &str,
        headers: reqwest::header::HeaderMap,
        max_message_bytes: usize,
        changes: Arc<dyn Watcher>,
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
            return Err(SseError::CrossOrigin {
                endpoint: crate::redact::url(endpoint.as_str()),
                stream: base.origin().ascii_serialization(),
            });
        }
        let (sender, incoming) = mpsc::channel(64);
        let pending: Arc<Mutex<Pending>> = Arc::default();
        let reader = tokio::spawn(read_events(
            events,
            sender,
            pending.clone(),
            max_message_bytes,
            changes,
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

/// The JSON-RPC message an SSE event carries (`message` events or unnamed ones), decoded as
/// the reader does with no request pending.
#[cfg(test)]
fn message_of(event: sse_stream::Sse) -> Option<ServerJsonRpcMessage> {
    if !matches!(event.event.as_deref(), None | Some("message")) {
        return None;
    }
    match decode(
        event.data?.as_bytes(),
        super::framing::DEFAULT_MAX_MESSAGE_BYTES,
        &mut Pending::default(),
    ) {
        Frame::Message(message) => Some(message),
        _ => None,
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

/// Property tests over the legacy transport's framing: whatever the chunk boundaries, line
/// endings, comments and multi-line `data:`, the same messages come out in order.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn events_of(chunks: Vec<Vec<u8>>) -> Vec<sse_stream::Sse> {
        let stream = futures::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(std::io::Cursor::new(c))),
        );
        let events = sse_stream::SseStream::from_bytes_stream(stream);
        futures::executor::block_on(events.filter_map(|e| async { e.ok() }).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn messages_survive_any_chunking_and_line_endings(
            texts in prop::collection::vec("\\PC{0,16}", 1..5),
            crlf in any::<bool>(),
            pretty in any::<bool>(),
            named in any::<bool>(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut body = format!(": hello{eol}event: endpoint{eol}data: /messages?s=1{eol}{eol}");
            let sent: Vec<Value> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| json!({"jsonrpc": "2.0", "id": i, "result": {"text": t}}))
                .collect();
            for message in &sent {
                let text = if pretty {
                    serde_json::to_string_pretty(message).unwrap_or_default()
                } else {
                    message.to_string()
                };
                if named {
                    body.push_str(&format!("event: message{eol}"));
                }
                for line in text.lines() {
                    body.push_str(&format!("data: {line}{eol}"));
                }
                body.push_str(&format!(": ping{eol}{eol}"));
            }
            let bytes = body.into_bytes();
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for point in points {
                chunks.push(bytes[from..point].to_vec());
                from = point;
            }
            chunks.push(bytes[from..].to_vec());

            let events = events_of(chunks);
            prop_assert_eq!(events[0].event.as_deref(), Some("endpoint"));
            prop_assert_eq!(events[0].data.as_deref(), Some("/messages?s=1"));
            let received: Vec<Value> = events
                .into_iter()
                .filter_map(message_of)
                .map(|m| serde_json::to_value(m).unwrap_or_default())
                .collect();
            prop_assert_eq!(received, sent);
        }
    }
}
