//! The legacy HTTP+SSE transport of protocol 2024-11-05, for servers that predate Streamable
//! HTTP (rmcp has no client for it). A GET opens the event stream; its first `endpoint` event
//! names the URL to POST messages to; every server message then arrives as a `message` event.
//!
//! Guarantees: opening the stream is bounded by the caller's connect timeout; a POST that is
//! not accepted is an error for that message; the reader task ends with the transport.

use std::sync::Arc;

use futures::StreamExt;
use rmcp::RoleClient;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc;

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
}

impl LegacySse {
    /// Open the event stream at `url` and wait for the `endpoint` event.
    pub async fn connect(
        http: reqwest::Client,
        url: &str,
        headers: reqwest::header::HeaderMap,
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
        let mut events = sse_stream::SseStream::from_bytes_stream(response.bytes_stream());
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
        let reader = tokio::spawn(async move {
            while let Some(Ok(event)) = events.next().await {
                if let Some(message) = message_of(event)
                    && sender.send(message).await.is_err()
                {
                    break;
                }
            }
        });
        Ok(LegacySse {
            http,
            endpoint: Arc::from(endpoint.as_str()),
            headers,
            incoming,
            reader,
        })
    }
}

/// The JSON-RPC message an SSE event carries: `message` events (or unnamed ones) only.
fn message_of(event: sse_stream::Sse) -> Option<ServerJsonRpcMessage> {
    if !matches!(event.event.as_deref(), None | Some("message")) {
        return None;
    }
    let data = event.data?;
    match serde_json::from_str::<ServerJsonRpcMessage>(&data) {
        Ok(message) => Some(message),
        Err(e) => {
            tracing::warn!("ignored an SSE message that is not JSON-RPC: {e}");
            None
        }
    }
}

impl Transport<RoleClient> for LegacySse {
    type Error = SseError;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), SseError>> + Send + 'static {
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
