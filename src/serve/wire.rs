//! The host's side of the line: JSON-RPC messages as lines on a reader and a writer (stdio or
//! a socket connection), read with the same bounded framing as our stdio servers and written
//! through the redaction of JSON lines.
//!
//! Guarantees: every message to the host is masked by `redact::json_line` first (the one place
//! all of them pass), so no registered upstream secret (a `?token=`, a header, a stored OAuth
//! token) reaches the host whatever an upstream echoes; a host line over the cap, or one that
//! is not a JSON-RPC message, is answered with a JSON-RPC error and the connection goes on.
//! With `--record`, every message both ways is also written to the recording (`record`).

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::record::{self, Direction, Tap};
use crate::mcp::{Line, Lines};

/// A line transport to the host.
pub struct HostWire<R, W> {
    lines: Lines<R>,
    write: Arc<tokio::sync::Mutex<W>>,
    /// `serve --record`: this connection's messages both ways.
    tap: Option<Tap>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> HostWire<R, W> {
    pub fn new(read: R, write: W, cap: usize) -> Self {
        HostWire {
            lines: Lines::new(read, cap),
            write: Arc::new(tokio::sync::Mutex::new(write)),
            tap: record::connection(),
        }
    }
}

/// Write one message as a masked line.
async fn write_line<W: AsyncWrite + Unpin>(
    write: &tokio::sync::Mutex<W>,
    text: &str,
) -> std::io::Result<()> {
    let mut line = crate::redact::json_line(text).into_owned();
    line.push('\n');
    let mut write = write.lock().await;
    write.write_all(line.as_bytes()).await?;
    write.flush().await
}

/// The JSON-RPC error for a line that cannot be a message: `-32700` for what is not JSON,
/// `-32600` for JSON that is not a request or notification we know the shape of.
pub(super) fn unusable(line: &[u8]) -> Option<String> {
    let (code, message, id) = match serde_json::from_slice::<Value>(line) {
        Err(error) => (-32700, format!("parse error: {error}"), Value::Null),
        // A response or notification with a bad shape has nobody to answer.
        Ok(value) => {
            let id = value.get("id").cloned()?;
            value.get("method")?;
            (-32600, "invalid request".to_string(), id)
        }
    };
    Some(
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
            .to_string(),
    )
}

impl<R, W> Transport<RoleServer> for HostWire<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), std::io::Error>> + Send + 'static {
        let write = self.write.clone();
        let tap = self.tap.clone();
        async move {
            let text = super::task_offer::declared_in(serde_json::to_string(&item)?);
            if let Some(tap) = tap {
                tap.note(Direction::ServeToHost, &text);
            }
            write_line(&write, &text).await
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            let answer = match self.lines.next().await {
                Ok(Line::Complete(line)) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(Line::Complete(line)) => match super::tasks::untyped(&line)
                    .map_or_else(|| serde_json::from_slice(&line), Ok)
                {
                    Ok(message) => {
                        if let Some(tap) = &self.tap {
                            tap.note(Direction::HostToServe, &String::from_utf8_lossy(&line));
                        }
                        return Some(message);
                    }
                    Err(error) => {
                        tracing::debug!("the host sent a line that is not a message: {error}");
                        unusable(&line)
                    }
                },
                Ok(Line::TooLarge(over)) => {
                    tracing::warn!(
                        "the host sent a message of {} bytes, over the cap of {} bytes; refused",
                        over.size,
                        self.lines.cap()
                    );
                    Some(
                        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600,
                            "message": format!("message exceeds the cap of {} bytes", self.lines.cap())}})
                        .to_string(),
                    )
                }
                Ok(Line::Eof) => return None,
                Err(error) => {
                    tracing::debug!("reading from the host failed: {error}");
                    return None;
                }
            };
            if let Some(answer) = answer
                && write_line(&self.write, &answer).await.is_err()
            {
                return None;
            }
        }
    }

    async fn close(&mut self) -> Result<(), std::io::Error> {
        self.write.lock().await.shutdown().await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::unusable;

    #[test]
    fn a_line_that_is_not_json_gets_a_parse_error_and_a_bad_request_an_invalid_request() {
        let parse: serde_json::Value = serde_json::from_str(&unusable(b"{nope").unwrap()).unwrap();
        assert_eq!(parse["error"]["code"], -32700);
        assert_eq!(parse["id"], serde_json::Value::Null);
        let invalid: serde_json::Value =
            serde_json::from_str(&unusable(br#"{"id": 7, "method": 3}"#).unwrap()).unwrap();
        assert_eq!(invalid["error"]["code"], -32600);
        assert_eq!(invalid["id"], 7);
        assert_eq!(unusable(br#"{"method": 3}"#), None);
    }
}
