//! The two ends of a kept-alive connection on the daemon's socket, both JSON-RPC lines.
//!
//! - [`KeptWire`] (daemon side): the host wire of `serve`, with the command's `initialize`
//!   already read (it named the server), the upstream's own `initialize` result answered
//!   in place of serve's (so the command sees the server's name, version, capabilities and
//!   instructions as if it were direct), requests counted, and the requests in flight
//!   cancelled when the command goes away.
//! - [`CommandWire`] (command side): sends the server's [`Spec`](super::spec::Spec) in the
//!   `initialize`, and takes the daemon's own note or failure out of the answers before the
//!   session reads them.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage, ServerResult};
use rmcp::transport::Transport;
use rmcp::{RoleClient, RoleServer};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::pool::Hold;
use crate::mcp::{Line, Lines};
use crate::serve::wire::HostWire;

/// The key in an `initialize` result's `_meta` (daemon to command) and in an error's
/// `data` where the daemon speaks for itself.
pub const META: &str = "io.mcpchat/daemon";

pub struct KeptWire<R, W> {
    pub first: Option<ClientJsonRpcMessage>,
    pub inner: HostWire<R, W>,
    pub hold: Hold,
    /// The upstream's initialize result, and the daemon's note for the command.
    pub answer: Option<(rmcp::model::InitializeResult, Option<String>)>,
    /// The command's requests not answered yet: cancelled when the command goes.
    pub in_flight: Vec<rmcp::model::RequestId>,
}

impl<R, W> KeptWire<R, W> {
    /// A request answered: no longer in flight.
    fn answered(&mut self, item: &ServerJsonRpcMessage) {
        let id = match item {
            ServerJsonRpcMessage::Response(response) => Some(&response.id),
            ServerJsonRpcMessage::Error(error) => error.id.as_ref(),
            _ => None,
        };
        if let Some(id) = id {
            self.in_flight.retain(|flying| flying != id);
        }
    }

    /// The command went away (Ctrl-C, or it died): its next request in flight cancelled, as
    /// if it had said so. rmcp would only cancel them after draining for seconds; the relay
    /// passes the cancellation on to the server at once.
    fn gone(&mut self) -> Option<ClientJsonRpcMessage> {
        let id = self.in_flight.pop()?;
        let cancelled = serde_json::json!({
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": id, "reason": "the command went away"},
        });
        serde_json::from_value(cancelled).ok()
    }
}

impl<R, W> Transport<RoleServer> for KeptWire<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), std::io::Error>> + Send + 'static {
        let item = match (item, &mut self.answer) {
            (ServerJsonRpcMessage::Response(mut response), answer @ Some(_))
                if matches!(response.result, ServerResult::InitializeResult(_)) =>
            {
                if let Some((mut upstream, note)) = answer.take() {
                    let mut meta = upstream.meta.take().unwrap_or_default();
                    meta.insert(
                        META.to_string(),
                        // `checks`: this daemon checks tool arguments (`validate::CHECK_KEY`).
                        serde_json::json!({"version": env!("CARGO_PKG_VERSION"), "note": note, "checks": true}),
                    );
                    upstream.meta = Some(meta);
                    response.result = ServerResult::InitializeResult(upstream);
                }
                ServerJsonRpcMessage::Response(response)
            }
            (item, _) => item,
        };
        self.answered(&item);
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        let message = match self.first.take() {
            Some(first) => first,
            None => match self.inner.receive().await {
                Some(message) => message,
                None => return self.gone(),
            },
        };
        if let ClientJsonRpcMessage::Request(request) = &message {
            self.in_flight.push(request.id.clone());
            self.hold.0.used();
            if matches!(
                request.request,
                rmcp::model::ClientRequest::CallToolRequest(_)
            ) {
                self.hold.0.calls.fetch_add(1, Ordering::Relaxed);
            }
        }
        Some(message)
    }

    async fn close(&mut self) -> Result<(), std::io::Error> {
        self.inner.close().await
    }
}

/// What the daemon said about the connection itself.
#[derive(Debug, Default)]
pub struct Said {
    /// The daemon's note (e.g. the server was started again).
    pub note: Option<String>,
    /// The daemon's failure to provide the server, as `{kind, message, hints}`.
    pub failure: Option<Value>,
    /// The daemon checks tool arguments (see `validate::CHECK_KEY`).
    pub checks: bool,
}

pub struct CommandWire {
    lines: Lines<OwnedReadHalf>,
    write: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    spec: Value,
    pub said: Arc<Mutex<Said>>,
}

impl CommandWire {
    pub fn new(stream: tokio::net::UnixStream, spec: Value, cap: usize) -> CommandWire {
        let (read, write) = stream.into_split();
        CommandWire {
            lines: Lines::new(read, cap),
            write: Arc::new(tokio::sync::Mutex::new(write)),
            spec,
            said: Arc::default(),
        }
    }

    /// Take the daemon's own words out of a message before the session reads it.
    fn heard(&self, message: &mut Value) {
        let mut said = self.said.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(meta) = message
            .pointer_mut("/result/_meta")
            .and_then(Value::as_object_mut)
            && let Some(ours) = meta.shift_remove(META)
        {
            said.note = ours.get("note").and_then(Value::as_str).map(str::to_string);
            said.checks = ours.get("checks") == Some(&Value::Bool(true));
            if meta.is_empty()
                && let Some(result) = message.get_mut("result").and_then(Value::as_object_mut)
            {
                result.shift_remove("_meta");
            }
        }
        if let Some(failure) = message.pointer("/error/data").and_then(|d| d.get(META)) {
            said.failure = Some(failure.clone());
        }
    }
}

impl Transport<RoleClient> for CommandWire {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), std::io::Error>> + Send + 'static {
        let write = self.write.clone();
        let spec = self.spec.clone();
        async move {
            let mut value = serde_json::to_value(&item)?;
            if value.get("method").and_then(Value::as_str) == Some("initialize")
                && let Some(capabilities) = value
                    .pointer_mut("/params/capabilities")
                    .and_then(Value::as_object_mut)
            {
                let experimental = capabilities
                    .entry("experimental")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(experimental) = experimental.as_object_mut() {
                    experimental.insert(super::spec::CAPABILITY.to_string(), spec);
                }
            }
            let mut line = serde_json::to_vec(&value)?;
            line.push(b'\n');
            let mut write = write.lock().await;
            write.write_all(&line).await?;
            write.flush().await
        }
    }

    async fn receive(&mut self) -> Option<ServerJsonRpcMessage> {
        loop {
            let line = match self.lines.next().await {
                Ok(Line::Complete(line)) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(Line::Complete(line)) => line,
                Ok(Line::TooLarge(over)) => {
                    tracing::warn!(
                        "the daemon sent a message of {} bytes, over the cap; connection closed",
                        over.size
                    );
                    return None;
                }
                Ok(Line::Eof) | Err(_) => return None,
            };
            let Ok(mut value) = serde_json::from_slice::<Value>(&line) else {
                tracing::warn!("the daemon sent a line that is not JSON; skipped");
                continue;
            };
            self.heard(&mut value);
            match serde_json::from_value(value) {
                Ok(message) => return Some(message),
                Err(error) => tracing::warn!("the daemon sent an unusable message: {error}"),
            }
        }
    }

    async fn close(&mut self) -> Result<(), std::io::Error> {
        self.write.lock().await.shutdown().await
    }
}
