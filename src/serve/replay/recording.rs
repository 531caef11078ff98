//! A recording read back (what `serve --record` wrote) and the answers it holds: each host
//! request paired with serve's response on the same connection (`pid`, `connection`) and id,
//! keyed by method and params, with the notifications serve sent after it.
//!
//! Guarantees: a line that is not a recording line stops the load with `FILE:LINE` (exit 2);
//! requests match when their method is the same and their params are JSON-equal once `_meta`
//! (progress tokens, protocol keys) is left out, whatever the ids and key order, preferring
//! an answer of the request's own protocol era (serve shapes results by era); `initialize`
//! matches by method alone (each host names itself); answers to the same request are given
//! in recorded order, the last one again once they run out; a request nothing matches gets
//! a JSON-RPC error naming its method and a digest of its params.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::exit::Failure;

/// The JSON-RPC error code of a request no recorded answer matches (a server error, as the
/// request itself may be valid).
pub const UNMATCHED: i64 = -32000;

/// One recorded answer: the response without its id, then the notifications that followed.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub reply: Map<String, Value>,
    pub notifications: Vec<Value>,
}

/// Every answer of a recording, by request key, in recorded order.
#[derive(Debug, Default)]
pub struct Recording {
    answers: HashMap<String, Vec<Answer>>,
    /// The keys of the same request in every era it was recorded in, first recorded first.
    eras: HashMap<String, Vec<String>>,
}

/// What one connection of the recording is in the middle of, while it is read.
#[derive(Default)]
struct Reading {
    /// Requests waiting for their response: id (as JSON text) to key.
    pending: HashMap<String, String>,
    /// The answer notifications attach to: the last one this connection got.
    last: Option<(String, usize)>,
}

impl Recording {
    /// Read `path`; exit 2 with `path:line` for a line that is not a recording line.
    pub fn load(path: &Path) -> Result<Recording, Failure> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::usage(format!("cannot read the recording {}: {e}", path.display()))
        })?;
        let mut recording = Recording::default();
        let mut connections: HashMap<String, Reading> = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (direction, connection, message) = parse_line(line).map_err(|why| {
                Failure::usage(format!("{}:{}: {why}", path.display(), index + 1)).hint(
                    "a recording is what `mcpchat serve --record FILE` writes: one JSON object a line with `dir` and `message`",
                )
            })?;
            let reading = connections.entry(connection).or_default();
            match direction {
                "host_to_serve" => reading.request(&message),
                "serve_to_host" => recording.reply(reading, message),
                // Taps between serve and its upstreams say nothing about what the host got.
                _ => {}
            }
        }
        Ok(recording)
    }

    /// A response to a pending request becomes an answer; a notification joins the last one.
    fn reply(&mut self, reading: &mut Reading, message: Map<String, Value>) {
        if message.contains_key("method") {
            if message.contains_key("id") {
                // A request of serve's to the host (elicitation and the like): not replayed.
                return;
            }
            if let Some((key, at)) = &reading.last
                && let Some(answer) = self.answers.get_mut(key).and_then(|a| a.get_mut(*at))
            {
                answer.notifications.push(Value::Object(message));
            }
            return;
        }
        let Some(id) = message.get("id") else { return };
        let Some(key) = reading.pending.remove(&id.to_string()) else {
            return;
        };
        let mut reply = message;
        reply.remove("id");
        reply.remove("jsonrpc");
        if !self.answers.contains_key(&key) {
            let eras = self.eras.entry(without_era(&key).to_string()).or_default();
            eras.push(key.clone());
        }
        let answers = self.answers.entry(key.clone()).or_default();
        answers.push(Answer {
            reply,
            notifications: Vec::new(),
        });
        reading.last = Some((key, answers.len() - 1));
    }

    /// The recorded answers to the requests of `key` (see `key`), if any.
    pub fn answers(&self, key: &str) -> Option<&[Answer]> {
        self.answers.get(key).map(Vec::as_slice)
    }

    /// The key of the same request recorded in another protocol era, when `key` itself was
    /// not recorded: an answer of another era is better than none.
    pub fn other_era(&self, key: &str) -> Option<&str> {
        self.eras.get(without_era(key))?.first().map(String::as_str)
    }
}

impl Reading {
    /// A host request waits for its response; notifications and responses of the host's
    /// are not answered.
    fn request(&mut self, message: &Map<String, Value>) {
        let (Some(id), Some(method)) = (message.get("id"), message.get("method")) else {
            return;
        };
        let Some(method) = method.as_str() else {
            return;
        };
        self.pending
            .insert(id.to_string(), key(method, message.get("params")));
    }
}

/// One line: its direction, its connection (the serve process's and its own number, as
/// text) and its message.
fn parse_line(line: &str) -> Result<(&'static str, String, Map<String, Value>), String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut entry) = value else {
        return Err("not a JSON object".into());
    };
    let direction = match entry.get("dir").and_then(Value::as_str) {
        Some("host_to_serve") => "host_to_serve",
        Some("serve_to_host") => "serve_to_host",
        Some("serve_to_upstream") => "serve_to_upstream",
        Some("upstream_to_serve") => "upstream_to_serve",
        Some(other) => return Err(format!("unknown `dir` `{other}`")),
        None => return Err("no `dir`".into()),
    };
    let id = |name: &str| {
        entry
            .get(name)
            .map_or_else(|| "null".to_string(), Value::to_string)
    };
    let connection = format!("{} {}", id("pid"), id("connection"));
    let Some(Value::Object(message)) = entry.remove("message") else {
        return Err("no `message` object".into());
    };
    Ok((direction, connection, message))
}

/// What a request is matched by: its protocol era, its method and its params without
/// `_meta`, keys sorted (absent params are `{}`); `initialize` by its method alone. The era is
/// the version a 2026-07-28 request names in its `_meta` (empty in a session opened with
/// `initialize`): serve answers the eras in different shapes.
pub fn key(method: &str, params: Option<&Value>) -> String {
    if method == "initialize" {
        return format!("\n{method}");
    }
    let era = params
        .and_then(|p| p.get("_meta"))
        .and_then(|meta| meta.get("io.modelcontextprotocol/protocolVersion"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!("{era}\n{method}\n{}", canonical_params(params))
}

/// A key without its era.
fn without_era(key: &str) -> &str {
    key.split_once('\n').map_or(key, |(_, rest)| rest)
}

fn canonical_params(params: Option<&Value>) -> String {
    let mut params = match params {
        None | Some(Value::Null) => json!({}),
        Some(params) => params.clone(),
    };
    if let Some(object) = params.as_object_mut() {
        object.remove("_meta");
    }
    let mut text = String::new();
    canonical(&params, &mut text);
    text
}

/// JSON text with every object's keys in sorted order.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            out.push('{');
            for (n, key) in keys.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                canonical(&object[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A short digest of a request's params (as they are matched), for the error that says
/// nothing matched: the first 8 hex digits of their SHA-256.
pub fn digest(params: Option<&Value>) -> String {
    let hash = Sha256::digest(canonical_params(params).as_bytes());
    hash.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn params_match_without_meta_whatever_the_key_order_and_absent_params_are_empty() {
        let a =
            json!({"name": "add", "arguments": {"a": 1, "b": 2}, "_meta": {"progressToken": 7}});
        let b = json!({"arguments": {"b": 2, "a": 1}, "name": "add"});
        assert_eq!(key("tools/call", Some(&a)), key("tools/call", Some(&b)));
        assert_ne!(key("tools/call", Some(&a)), key("prompts/get", Some(&b)));
        assert_eq!(key("tools/list", None), key("tools/list", Some(&json!({}))));
        assert_eq!(
            key("initialize", Some(&json!({"clientInfo": {"name": "x"}}))),
            "\ninitialize"
        );
        let era = |v: &str| json!({"_meta": {"io.modelcontextprotocol/protocolVersion": v}});
        assert_ne!(
            key("tools/list", Some(&era("2026-07-28"))),
            key("tools/list", None)
        );
        assert_eq!(
            without_era(&key("tools/list", Some(&era("2026-07-28")))),
            without_era(&key("tools/list", None))
        );
        assert_eq!(digest(Some(&a)), digest(Some(&b)));
        assert_eq!(digest(None).len(), 8);
    }

    #[test]
    fn a_response_pairs_with_its_request_on_the_same_connection_and_notifications_follow_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let lines = [
            json!({"dir": "host_to_serve", "connection": 1, "message": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}}),
            json!({"dir": "host_to_serve", "connection": 2, "message": {"jsonrpc": "2.0", "id": 1, "method": "ping"}}),
            json!({"dir": "serve_to_host", "connection": 2, "message": {"jsonrpc": "2.0", "id": 1, "result": {}}}),
            json!({"dir": "serve_to_host", "connection": 1, "message": {"jsonrpc": "2.0", "id": 1, "result": {"tools": []}}}),
            json!({"dir": "serve_to_host", "connection": 1, "message": {"jsonrpc": "2.0", "method": "notifications/message"}}),
        ];
        let text: Vec<String> = lines.iter().map(Value::to_string).collect();
        std::fs::write(&path, text.join("\n")).unwrap();
        let recording = Recording::load(&path).unwrap();
        let tools = recording.answers(&key("tools/list", None)).unwrap();
        assert_eq!(tools.len(), 1);
        assert_eq!(
            Value::Object(tools[0].reply.clone()),
            json!({"result": {"tools": []}})
        );
        assert_eq!(tools[0].notifications.len(), 1);
        let ping = recording.answers(&key("ping", None)).unwrap();
        assert_eq!(ping[0].notifications, Vec::<Value>::new());
    }

    #[test]
    fn a_line_that_is_not_a_recording_line_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(
            &path,
            "{\"dir\": \"host_to_serve\", \"message\": {}}\n\n{\"dir\": 3}\n",
        )
        .unwrap();
        let failure = Recording::load(&path).unwrap_err();
        assert_eq!(failure.message, format!("{}:3: no `dir`", path.display()));
    }
}
