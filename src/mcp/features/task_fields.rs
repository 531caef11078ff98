//! The 2025-11-25 names of a task's timings (`ttl`, `pollInterval`) kept through rmcp, which
//! reads `tasks/get` and `tasks/cancel` answers as its 2026-07-28 types (`ttlMs`,
//! `pollIntervalMs`) and drops the older names. Over an SSE reply the raw event is still at
//! hand: the 2026 names are added beside the 2025 ones (never over them) before rmcp parses it.
//! A plain JSON reply reaches us already parsed; its timings stay unknown (null).

use futures::StreamExt;
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::StreamableHttpPostResponse;
use serde_json::Value;

/// Whether `message` asks for a task whose answer rmcp reads in the 2026 shape.
pub(in crate::mcp) fn asks_for_a_task(message: &ClientJsonRpcMessage) -> bool {
    matches!(message, ClientJsonRpcMessage::Request(request)
        if matches!(request.request.method(), "tasks/get" | "tasks/cancel"))
}

/// The reply with `ttlMs` / `pollIntervalMs` added to SSE events that carry only the 2025 names.
pub(in crate::mcp) fn keep_timings(
    response: StreamableHttpPostResponse,
) -> StreamableHttpPostResponse {
    match response {
        StreamableHttpPostResponse::Sse(stream, session) => {
            let stream = stream.map(|item| {
                item.map(|mut event| {
                    if let Some(data) = event.data.as_deref().and_then(with_2026_names) {
                        event.data = Some(data);
                    }
                    event
                })
            });
            StreamableHttpPostResponse::Sse(stream.boxed(), session)
        }
        other => other,
    }
}

/// The event's JSON-RPC response with the 2026 names added, or None when nothing changes.
fn with_2026_names(data: &str) -> Option<String> {
    let mut value: Value = serde_json::from_str(data).ok()?;
    let result = value.get_mut("result")?.as_object_mut()?;
    let mut changed = false;
    for (old, new) in [("ttl", "ttlMs"), ("pollInterval", "pollIntervalMs")] {
        if !result.contains_key(new)
            && let Some(number) = result.get(old).cloned()
        {
            result.insert(new.to_string(), number);
            changed = true;
        }
    }
    changed.then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_the_2026_names_beside_the_2025_ones_and_never_over_them() {
        let old = r#"{"jsonrpc":"2.0","id":3,"result":{"taskId":"t","status":"working","ttl":300000,"pollInterval":1000}}"#;
        let added: Value =
            serde_json::from_str(&with_2026_names(old).unwrap_or_default()).unwrap_or_default();
        assert_eq!(added["result"]["ttlMs"], 300000);
        assert_eq!(added["result"]["pollIntervalMs"], 1000);
        assert_eq!(added["result"]["ttl"], 300000);
        let new =
            r#"{"jsonrpc":"2.0","id":3,"result":{"taskId":"t","ttlMs":5,"pollIntervalMs":7}}"#;
        assert_eq!(with_2026_names(new), None);
        assert_eq!(with_2026_names(r#"{"jsonrpc":"2.0","method":"x"}"#), None);
    }
}
