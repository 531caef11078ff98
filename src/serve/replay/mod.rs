//! `serve --replay FILE`: a recording of `serve --record` served as an MCP server, with no
//! upstream and no config, so a script's test runs against a recorded real server without it.
//! Over stdio (until the host closes stdin), a Unix socket (each connection replays the
//! recording from its start) or Streamable HTTP (`http`); the messages are the recorded ones,
//! byte for byte apart from the ids.
//!
//! Guarantees: a malformed recording stops `serve` before it serves anything (exit 2, with
//! `FILE:LINE`); each request is answered by `recording` (its matching rules), a request
//! nothing matches by a JSON-RPC error that names it, `ping` always; host notifications and
//! responses are read and dropped; a line over the message cap or one that is not JSON-RPC
//! is answered with a JSON-RPC error and the connection goes on.

mod http;
mod recording;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::cli::ServeArgs;
use crate::exit::{Code, Failure, Kind};
use crate::mcp::{Line, Lines};

use super::listener;
pub use recording::Recording;

/// Serve `args.replay` until the host goes (stdio) or a signal comes.
pub async fn replay(args: &ServeArgs, path: &Path, cap: usize) -> anyhow::Result<Code> {
    let recording = Arc::new(Recording::load(path)?);
    let signal = match (&args.socket, &args.listen) {
        (Some(path), _) => Some(on_socket(listener::Socket::bind(path)?, recording, cap).await),
        (None, Some(spec)) => {
            let listen = super::http::Listen::bind(spec, args.token.as_deref()).await?;
            Some(tokio::select! {
                () = http::accept(listen, recording, cap) => "stopped",
                what = crate::interrupt::wait() => what,
            })
        }
        (None, None) => tokio::select! {
            () = serve_lines(recording, tokio::io::stdin(), tokio::io::stdout(), cap) => None,
            what = crate::interrupt::wait() => Some(what),
        },
    };
    match signal {
        None => Ok(Code::Success),
        Some(what) => Err(Failure::new(Kind::Interrupted, what).into()),
    }
}

/// Replay to every host of a Unix socket until a signal comes; what the signal was.
async fn on_socket(
    mut socket: listener::Socket,
    recording: Arc<Recording>,
    cap: usize,
) -> &'static str {
    let what = tokio::select! {
        () = socket.accept_with(|read, write| serve_lines(recording.clone(), read, write, cap)) => "stopped",
        what = crate::interrupt::wait() => what,
    };
    socket.close().await;
    what
}

/// One host on a line transport, answered from the recording until it goes.
async fn serve_lines<R, W>(recording: Arc<Recording>, read: R, mut write: W, cap: usize)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut lines = Lines::new(read, cap);
    let mut replayer = Replayer::new(recording);
    loop {
        let out = match lines.next().await {
            Ok(Line::Complete(line)) if line.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(Line::Complete(line)) => replayer.line(&line),
            Ok(Line::TooLarge(_)) => vec![json!({"jsonrpc": "2.0", "id": null, "error":
                {"code": -32600, "message": format!("message exceeds the cap of {cap} bytes")}})],
            Ok(Line::Eof) | Err(_) => return,
        };
        for message in out {
            let mut text = message.to_string();
            text.push('\n');
            if write.write_all(text.as_bytes()).await.is_err() || write.flush().await.is_err() {
                return;
            }
        }
    }
}

/// One host connection's place in the recording: how many answers of each request it had.
struct Replayer {
    recording: Arc<Recording>,
    given: HashMap<String, usize>,
}

impl Replayer {
    fn new(recording: Arc<Recording>) -> Self {
        Replayer {
            recording,
            given: HashMap::new(),
        }
    }

    /// What to send for one line of the host's.
    fn line(&mut self, line: &[u8]) -> Vec<Value> {
        match serde_json::from_slice::<Value>(line) {
            Ok(message) if message.get("method").is_some_and(Value::is_string) => {
                self.respond(&message)
            }
            // A response of the host's (to nothing we asked): dropped.
            Ok(message) if message.get("method").is_none() && message.get("id").is_some() => {
                Vec::new()
            }
            _ => super::wire::unusable(line)
                .and_then(|text| serde_json::from_str(&text).ok())
                .into_iter()
                .collect(),
        }
    }

    /// The answer to a request (and the notifications recorded after it); nothing for a
    /// notification.
    fn respond(&mut self, message: &Value) -> Vec<Value> {
        let (Some(id), Some(method)) = (message.get("id"), message["method"].as_str()) else {
            return Vec::new();
        };
        let params = message.get("params");
        let mut key = recording::key(method, params);
        if self.recording.answers(&key).is_none()
            && let Some(other) = self.recording.other_era(&key)
        {
            key = other.to_string();
        }
        let Some(answers) = self.recording.answers(&key) else {
            return vec![unmatched(id, method, params)];
        };
        let given = self.given.entry(key).or_insert(0);
        let Some(answer) = answers.get(*given).or(answers.last()) else {
            return vec![unmatched(id, method, params)];
        };
        *given += 1;
        let mut reply = Map::new();
        reply.insert("jsonrpc".into(), "2.0".into());
        reply.insert("id".into(), id.clone());
        reply.extend(answer.reply.clone());
        let mut out = vec![Value::Object(reply)];
        out.extend(answer.notifications.iter().cloned());
        out
    }
}

/// The answer to a request the recording has no answer for (`ping` is always answered).
fn unmatched(id: &Value, method: &str, params: Option<&Value>) -> Value {
    if method == "ping" {
        return json!({"jsonrpc": "2.0", "id": id, "result": {}});
    }
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": recording::UNMATCHED,
        "message": format!("no recording matches {method} with params {}", recording::digest(params))}})
}
