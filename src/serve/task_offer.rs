//! Whether the upstreams offer tasks, and the `tasks` capability `serve` declares to 2025-era
//! hosts when one does (rmcp's capability types carry only the 2026-07-28 extension, so the
//! `initialize` answer gets it on its way out, over stdio, the socket and HTTP alike).
//!
//! Guarantees: `tasks` is declared only once an upstream answered `tasks/list`; asking takes
//! at most `PROBE_LIMIT` per upstream at start, so a server that leaves unknown requests
//! unanswered does not hold `serve` up.

use std::sync::atomic::{AtomicBool, Ordering};

use rmcp::model::{ClientRequest, CustomRequest};
use serde_json::{Value, json};

use crate::mcp::Session;

/// The 2025-11-25 tasks capability `serve` declares when an upstream offers tasks: what it
/// relays (listing merged, cancelling, task-augmented tool calls).
fn declared_2025() -> Value {
    json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}})
}

/// How long `probe` waits for an answer.
const PROBE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether some upstream of this `serve` answered `tasks/list` (see `probe`): the 2025-era
/// `initialize` answer then declares `tasks`, which rmcp's capability types cannot carry.
static OFFERED: AtomicBool = AtomicBool::new(false);

/// Whether `session` serves tasks: a 2026-07-28 server declares the extension; a 2025-11-25
/// server is asked `tasks/list` once (rmcp drops the `tasks` capability of a 2025-era
/// `initialize` answer, so asking is the way to know).
pub async fn probe(session: &Session) -> bool {
    let Some(info) = session.peer_info() else {
        return false;
    };
    if info.capabilities.supports_tasks() {
        return true;
    }
    // Tasks came with 2025-11-25, and a later server declares the extension: only a
    // 2025-11-25 server is asked.
    if info.protocol_version.to_string() != "2025-11-25" {
        return false;
    }
    let request = ClientRequest::CustomRequest(CustomRequest::new("tasks/list", Some(json!({}))));
    // A server that leaves unknown requests unanswered must not hold up serve's start: the
    // probe is given up (and cancelled) after `PROBE_LIMIT`.
    let given_up = tokio::time::sleep(PROBE_LIMIT);
    let answered = session
        .forward("tasks/list", request, given_up, None)
        .await
        .is_ok();
    if answered {
        OFFERED.store(true, Ordering::Relaxed);
    }
    answered
}

/// An `initialize` answer to a host, with the 2025-11-25 `tasks` capability added when an
/// upstream offers tasks; any other message as it is.
pub fn declared_in(text: String) -> String {
    if !OFFERED.load(Ordering::Relaxed) || !text.contains("\"serverInfo\"") {
        return text;
    }
    let Ok(mut message) = serde_json::from_str::<Value>(&text) else {
        return text;
    };
    if message.pointer("/result/serverInfo").is_none() {
        return text;
    }
    match message.pointer_mut("/result/capabilities") {
        Some(Value::Object(capabilities)) => {
            capabilities.insert("tasks".into(), declared_2025());
        }
        _ => return text,
    }
    message.to_string()
}

/// An HTTP response frame to a host (a JSON body or an SSE event) with `declared_in`
/// applied to the JSON in it.
pub fn declared_in_frame(data: hyper::body::Bytes) -> hyper::body::Bytes {
    if !OFFERED.load(Ordering::Relaxed) || !data.windows(12).any(|w| w == b"\"serverInfo\"") {
        return data;
    }
    let Ok(text) = std::str::from_utf8(&data) else {
        return data;
    };
    if text.trim_start().starts_with('{') {
        return declared_in(text.to_string()).into();
    }
    let events: Vec<String> = text
        .split('\n')
        .map(|line| match line.strip_prefix("data:") {
            Some(json) => format!("data: {}", declared_in(json.trim_start().to_string())),
            None => line.to_string(),
        })
        .collect();
    events.join("\n").into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_initialize_answer_declares_tasks_only_once_an_upstream_offers_them() {
        let answer = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"mcpchat","version":"1"}}}"#;
        assert_eq!(declared_in(answer.to_string()), answer);
        OFFERED.store(true, Ordering::Relaxed);
        let declared: Value = serde_json::from_str(&declared_in(answer.to_string())).unwrap();
        assert_eq!(declared["result"]["capabilities"]["tasks"], declared_2025());
        let other = r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}"#;
        assert_eq!(declared_in(other.to_string()), other);
        let event = format!("id: 0\nevent: message\ndata: {answer}\n\n");
        let declared = declared_in_frame(event.into());
        let text = std::str::from_utf8(&declared).unwrap();
        let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        let data: Value = serde_json::from_str(data).unwrap();
        assert_eq!(data["result"]["capabilities"]["tasks"], declared_2025());
        assert!(
            text.starts_with("id: 0\nevent: message\n") && text.ends_with("\n\n"),
            "{text}"
        );
    }
}
