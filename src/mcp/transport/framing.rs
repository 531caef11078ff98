//! Reading what a server sends without dropping anything silently. A reply we cannot use (over
//! the size cap, not UTF-8, not JSON-RPC) becomes, at once, an error for the request it
//! answered, instead of a timeout a minute later. Shared by the transports we own (stdio and
//! legacy HTTP+SSE) and by `guarded_http` (Streamable HTTP, where rmcp enforces the caps).
//!
//! Guarantees: a line never grows past the cap in memory; each fault names its cause; a
//! stray line that is not JSON (a banner) is ignored with a note at `-v`; the results of
//! `tools/list` and `tools/call` reach the session as the raw JSON the server sent (rmcp's
//! typed models drop unknown fields), so they can be parsed leniently.

use std::collections::HashMap;

use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, CustomResult, ErrorCode, ErrorData, JsonRpcError,
    JsonRpcResponse, RequestId, ServerJsonRpcMessage, ServerResult,
};
use serde_json::Value;

/// Default cap on one message from a server (a stdio line, an SSE event, an HTTP body).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Marks the `data` of the errors we hand rmcp, so `classify` can tell our verdict on a reply
/// from an error the server sent.
pub const FAULT_MARKER: &str = "mcpchat_fault";

/// Methods whose results are passed on as raw JSON (see the module docs).
const RAW_METHODS: &[&str] = &["tools/list", "tools/call"];

/// How much of an oversized line is kept to find its request id (both ends: SDKs put the id
/// first or last).
const ENDS: usize = 4096;

/// Why a reply could not be used.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// `size` is None where reading stopped at the cap.
    TooLarge {
        size: Option<u64>,
        cap: usize,
    },
    NotUtf8,
    NotJsonRpc(String),
    /// Under the cap, but its parsed form would be too big (see `json_cost`).
    TooCostly(crate::json_cost::TooCostly),
}

impl Fault {
    pub fn describe(&self) -> String {
        match self {
            Fault::TooLarge {
                size: Some(size),
                cap,
            } => format!(
                "reply of {} exceeds the {} cap",
                human_bytes(*size),
                human_bytes(*cap as u64)
            ),
            Fault::TooLarge { size: None, cap } => {
                format!("reply exceeds the {} cap", human_bytes(*cap as u64))
            }
            Fault::NotUtf8 => "reply is not valid UTF-8".to_string(),
            Fault::NotJsonRpc(why) => format!("reply is not JSON-RPC: {why}"),
            Fault::TooCostly(costly) => costly.describe(),
        }
    }
}

/// `17 MiB`, `1.5 KiB`, `300 bytes`: sizes as people say them.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: &[(u64, &str)] = &[(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if bytes >= *unit {
            let value = bytes as f64 / *unit as f64;
            return if bytes.is_multiple_of(*unit) || value >= 10.0 {
                format!("{} {name}", (value.floor()) as u64)
            } else {
                format!("{value:.1} {name}")
            };
        }
    }
    format!("{bytes} bytes")
}

/// The error that answers request `id` for an unusable reply, marked as our verdict. `unsure`:
/// the reply may have answered another pending request.
pub fn fault_error(id: RequestId, fault: &Fault, unsure: bool) -> ServerJsonRpcMessage {
    let mut message = fault.describe();
    if unsure {
        message.push_str(" (it could be the answer to any pending request)");
    }
    let data = serde_json::json!({ FAULT_MARKER: true });
    ServerJsonRpcMessage::Error(JsonRpcError::new(
        Some(id),
        ErrorData::new(ErrorCode::INTERNAL_ERROR, message, Some(data)),
    ))
}

/// The requests sent and not yet answered, with their methods.
#[derive(Debug, Default)]
pub struct Pending {
    requests: HashMap<RequestId, String>,
}

impl Pending {
    /// Note an outgoing message: a request is pending until answered or cancelled.
    pub fn sent(&mut self, message: &ClientJsonRpcMessage) {
        match message {
            ClientJsonRpcMessage::Request(request) => {
                self.requests
                    .insert(request.id.clone(), request.request.method().to_string());
            }
            ClientJsonRpcMessage::Notification(notification) => {
                if let ClientNotification::CancelledNotification(cancelled) =
                    &notification.notification
                    && let Some(id) = &cancelled.params.request_id
                {
                    self.requests.remove(id);
                }
            }
            _ => {}
        }
    }

    fn answered(&mut self, message: &ServerJsonRpcMessage) {
        match message {
            ServerJsonRpcMessage::Response(response) => {
                self.requests.remove(&response.id);
            }
            ServerJsonRpcMessage::Error(JsonRpcError { id: Some(id), .. }) => {
                self.requests.remove(id);
            }
            _ => {}
        }
    }

    /// Errors for the requests a bad reply answered: the one it names when that is pending,
    /// else every pending request (one of them lost its answer, and we cannot tell which).
    pub fn fail(&mut self, fault: &Fault, named: Option<RequestId>) -> Vec<ServerJsonRpcMessage> {
        let ids: Vec<RequestId> = match named {
            Some(id) if self.requests.contains_key(&id) => vec![id],
            _ => self.requests.keys().cloned().collect(),
        };
        let unsure = ids.len() > 1;
        ids.into_iter()
            .map(|id| {
                self.requests.remove(&id);
                fault_error(id, fault, unsure)
            })
            .collect()
    }

    /// Which pending request ids appear in `text` as `"id": N` or `"id": "S"`; exactly one
    /// is an answer, more (or none) is a guess we do not make.
    fn named_in(&self, text: &[u8]) -> Option<RequestId> {
        let text = String::from_utf8_lossy(text);
        let mut found: Vec<RequestId> = Vec::new();
        let mut rest = text.as_ref();
        while let Some(pos) = rest.find("\"id\"") {
            rest = &rest[pos + 4..];
            let Some(value) = rest.trim_start().strip_prefix(':') else {
                continue;
            };
            let value = value.trim_start();
            let candidate = if let Some(quoted) = value.strip_prefix('"') {
                quoted
                    .split('"')
                    .next()
                    .map(|s| RequestId::String(s.into()))
            } else {
                let digits: String = value
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '-')
                    .collect();
                digits.parse().ok().map(RequestId::Number)
            };
            if let Some(id) = candidate
                && self.requests.contains_key(&id)
                && !found.contains(&id)
            {
                found.push(id);
            }
        }
        (found.len() == 1).then(|| found.remove(0))
    }
}

/// What one line (or SSE event) from the server turned out to be. Short-lived, so the size
/// of a message inline does not matter.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Frame {
    Message(ServerJsonRpcMessage),
    /// Errors for the pending requests a bad reply answered (empty: nobody was waiting).
    Failed(Fault, Vec<ServerJsonRpcMessage>),
    /// Not for us (a banner, a log line, an unknown notification): why, for `-v`.
    Ignored(String),
}

/// Decide what a complete message is. `line` has no trailing newline; `cap` is the size cap it
/// was read under, which also bounds what parsing it may cost.
pub fn decode(line: &[u8], cap: usize, pending: &mut Pending) -> Frame {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let Ok(text) = std::str::from_utf8(line) else {
        let named = pending.named_in(line);
        let fault = Fault::NotUtf8;
        let errors = pending.fail(&fault, named);
        return Frame::Failed(fault, errors);
    };
    if let Err(costly) = crate::json_cost::check(line, cap) {
        let (head, tail) = ends(line);
        let named = pending.named_in(head).or_else(|| pending.named_in(tail));
        let fault = Fault::TooCostly(costly);
        let errors = pending.fail(&fault, named);
        return Frame::Failed(fault, errors);
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => {
            let trimmed = text.trim_start();
            if trimmed.starts_with('{') && text.contains("\"jsonrpc\"") {
                // A reply cut short or garbled, not a banner.
                let fault = Fault::NotJsonRpc(format!("not valid JSON ({error})"));
                let named = pending.named_in(line);
                let errors = pending.fail(&fault, named);
                return Frame::Failed(fault, errors);
            }
            return Frame::Ignored(format!(
                "ignored a line that is not JSON: {}",
                excerpt(text)
            ));
        }
    };
    decode_value(value, text, pending)
}

/// The first and last [`ENDS`] bytes of a message, where SDKs put its id.
fn ends(line: &[u8]) -> (&[u8], &[u8]) {
    let head = &line[..line.len().min(ENDS)];
    let tail = &line[line.len().saturating_sub(ENDS)..];
    (head, tail)
}

/// Takes `value` by value and never copies it: a reply may be as big as the cap.
fn decode_value(mut value: Value, text: &str, pending: &mut Pending) -> Frame {
    if let Some(message) = raw_result(&mut value, pending) {
        pending.answered(&message);
        return Frame::Message(message);
    }
    let has_method = value.get("method").is_some();
    let looks_like_reply = ["result", "error", "jsonrpc"]
        .iter()
        .any(|key| value.get(key).is_some());
    let id = value.get("id").and_then(request_id);
    match serde_json::from_value::<ServerJsonRpcMessage>(value) {
        Ok(message) => {
            pending.answered(&message);
            Frame::Message(message)
        }
        Err(error) if has_method => Frame::Ignored(format!(
            "ignored a message the server sent that mcpchat does not understand ({error}): {}",
            excerpt(text)
        )),
        Err(error) if id.is_some() || looks_like_reply => {
            let fault = Fault::NotJsonRpc(error.to_string());
            let errors = pending.fail(&fault, id);
            Frame::Failed(fault, errors)
        }
        Err(_) => Frame::Ignored(format!(
            "ignored a JSON line that is not JSON-RPC: {}",
            excerpt(text)
        )),
    }
}

/// A result for `tools/list` / `tools/call`, kept as the server's raw JSON (moved out of
/// `value`, not copied).
fn raw_result(value: &mut Value, pending: &Pending) -> Option<ServerJsonRpcMessage> {
    let id = value.get("id").and_then(request_id)?;
    value.get("result")?;
    if value.get("error").is_some() || value.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return None;
    }
    let method = pending.requests.get(&id)?;
    if !RAW_METHODS.contains(&method.as_str()) {
        return None;
    }
    let result = value.get_mut("result").map(Value::take)?;
    Some(ServerJsonRpcMessage::Response(JsonRpcResponse {
        jsonrpc: Default::default(),
        id,
        result: ServerResult::CustomResult(CustomResult(result)),
    }))
}

fn request_id(value: &Value) -> Option<RequestId> {
    match value {
        Value::Number(n) => n.as_i64().map(RequestId::Number),
        Value::String(s) => Some(RequestId::String(s.as_str().into())),
        _ => None,
    }
}

/// The start of a line, for a log note.
fn excerpt(text: &str) -> String {
    let cut: String = text.chars().take(120).collect();
    let cut = crate::redact::text(&cut);
    if cut.len() < text.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

/// The fault for an oversized message, with the request its kept ends name.
pub fn too_large(size: u64, cap: usize, head: &[u8], tail: &[u8], pending: &mut Pending) -> Frame {
    let fault = Fault::TooLarge {
        size: Some(size),
        cap,
    };
    let named = pending.named_in(head).or_else(|| pending.named_in(tail));
    let errors = pending.fail(&fault, named);
    Frame::Failed(fault, errors)
}

/// A newline-delimited reader that never holds more than `cap` bytes of one line. Cancel
/// safe: all state lives here, so a `receive` dropped inside rmcp's `select!` resumes where it
/// stopped.
pub struct Lines<R> {
    read: tokio::io::BufReader<R>,
    buf: Vec<u8>,
    cap: usize,
    /// Set while skipping the rest of a line over the cap.
    over: Option<Oversized>,
}

/// What is kept of a line over the cap: its size so far and both ends.
#[derive(Debug, Default)]
pub struct Oversized {
    pub size: u64,
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
}

/// One read from [`Lines`].
#[derive(Debug)]
pub enum Line {
    Complete(Vec<u8>),
    TooLarge(Oversized),
    Eof,
}

impl<R: tokio::io::AsyncRead + Unpin> Lines<R> {
    pub fn new(read: R, cap: usize) -> Self {
        Lines {
            read: tokio::io::BufReader::with_capacity(64 * 1024, read),
            buf: Vec::new(),
            cap,
            over: None,
        }
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    pub async fn next(&mut self) -> std::io::Result<Line> {
        use tokio::io::AsyncBufReadExt;
        loop {
            let available = self.read.fill_buf().await?;
            if available.is_empty() {
                if let Some(over) = self.over.take() {
                    return Ok(Line::TooLarge(over));
                }
                if self.buf.is_empty() {
                    return Ok(Line::Eof);
                }
                // A last message without its newline.
                return Ok(Line::Complete(std::mem::take(&mut self.buf)));
            }
            let newline = available.iter().position(|b| *b == b'\n');
            let chunk = &available[..newline.unwrap_or(available.len())];
            let taken = newline.map_or(available.len(), |i| i + 1);
            if self.over.is_none() && self.buf.len() + chunk.len() > self.cap {
                let mut over = Oversized {
                    size: self.buf.len() as u64,
                    head: std::mem::take(&mut self.buf),
                    tail: Vec::new(),
                };
                over.head.truncate(ENDS);
                self.over = Some(over);
            }
            match self.over.as_mut() {
                Some(over) => {
                    over.size += chunk.len() as u64;
                    if over.head.len() < ENDS {
                        let room = ENDS - over.head.len();
                        over.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
                    }
                    over.tail.extend_from_slice(chunk);
                    if over.tail.len() > 2 * ENDS {
                        over.tail.drain(..over.tail.len() - ENDS);
                    }
                }
                None => self.buf.extend_from_slice(chunk),
            }
            self.read.consume(taken);
            if newline.is_some() {
                if let Some(over) = self.over.take() {
                    return Ok(Line::TooLarge(over));
                }
                let mut line = std::mem::take(&mut self.buf);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Line::Complete(line));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8], cap: usize) -> Vec<Line> {
        let mut lines = Lines::new(input, cap);
        let mut out = Vec::new();
        loop {
            match lines.next().await.unwrap() {
                Line::Eof => return out,
                line => out.push(line),
            }
        }
    }

    #[tokio::test]
    async fn lines_over_the_cap_are_measured_not_kept() {
        let mut input = b"{\"a\":1}\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100));
        input.extend(b"\nlast");
        let lines = read_all(&input, 50).await;
        assert!(matches!(&lines[0], Line::Complete(l) if l == b"{\"a\":1}"));
        assert!(matches!(&lines[1], Line::TooLarge(o) if o.size == 100 && o.head.len() == 100));
        assert!(matches!(&lines[2], Line::Complete(l) if l == b"last"));
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_bytes(17 * 1024 * 1024), "17 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(300), "300 bytes");
    }

    fn pending_with(ids: &[i64]) -> Pending {
        let mut pending = Pending::default();
        for id in ids {
            pending
                .requests
                .insert(RequestId::Number(*id), "tools/call".to_string());
        }
        pending
    }

    #[test]
    fn a_fault_names_the_request_its_reply_carries() {
        let mut pending = pending_with(&[3, 4]);
        let frame = decode(
            b"{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":\xff}",
            DEFAULT_MAX_MESSAGE_BYTES,
            &mut pending,
        );
        let Frame::Failed(Fault::NotUtf8, errors) = frame else {
            panic!("{frame:?}")
        };
        assert_eq!(errors.len(), 1);
        assert!(pending.requests.contains_key(&RequestId::Number(3)));
    }

    #[test]
    fn banners_are_ignored_and_json_logs_too() {
        let mut pending = pending_with(&[1]);
        assert!(matches!(
            decode(b"Server started on stdio", 1024, &mut pending),
            Frame::Ignored(_)
        ));
        assert!(matches!(
            decode(b"{\"level\":\"info\",\"msg\":\"hi\"}", 1024, &mut pending),
            Frame::Ignored(_)
        ));
        assert_eq!(pending.requests.len(), 1);
    }

    #[test]
    fn a_reply_without_a_usable_shape_fails_the_pending_request() {
        let mut pending = pending_with(&[1]);
        let frame = decode(b"{\"jsonrpc\":\"2.0\",\"id\":1}", 1024, &mut pending);
        assert!(matches!(frame, Frame::Failed(Fault::NotJsonRpc(_), ref e) if e.len() == 1));
    }
}
