//! Streamable HTTP replies we cannot use (over `max_message_bytes`, not UTF-8, not JSON-RPC)
//! answered as an error for the request that was posted. rmcp enforces the caps itself but
//! then ends the whole connection and keeps the reason in its own log; wrapped in [`Guarded`],
//! the request fails at once with the cause, like over stdio, and the session goes on.
//!
//! Guarantees: only replies to ordinary requests are touched (the handshake's own failures
//! keep deciding which protocol era to try); a stream ends after the event we replaced.

use futures::StreamExt;
use rmcp::model::{ClientJsonRpcMessage, RequestId, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{StreamableHttpClient, StreamableHttpPostResponse};
use serde_json::Value;

use super::framing::{Fault, fault_error};
use super::http_layer::{HttpHooks, HttpResult, Post, SseStream, streamable_http_via_hooks};

/// A Streamable HTTP client whose unusable replies become errors for their request.
#[derive(Clone)]
pub(in crate::mcp) struct Guarded<C> {
    pub inner: C,
}

/// The request id a posted message waits on, unless it is part of the handshake.
fn guarded_id(message: &ClientJsonRpcMessage) -> Option<RequestId> {
    match message {
        ClientJsonRpcMessage::Request(request)
            if !matches!(request.request.method(), "initialize" | "server/discover") =>
        {
            Some(request.id.clone())
        }
        _ => None,
    }
}

/// What an rmcp error says about the reply, if it is one of ours to report.
fn fault_in_text(text: &str, cap: usize) -> Option<Fault> {
    if text.contains("exceeded the maximum size of") {
        return Some(Fault::TooLarge { size: None, cap });
    }
    let (_, why) = text.split_once("could not parse JSON response as ServerJsonRpcMessage: ")?;
    if why.contains("invalid unicode code point") || why.contains("utf-8") {
        return Some(Fault::NotUtf8);
    }
    // Keep serde's reason, not the body preview after it (it may hold anything).
    let why = why.split(": {").next().unwrap_or(why);
    let why = why.split(" at line ").next().unwrap_or(why);
    Some(Fault::NotJsonRpc(why.to_string()))
}

/// An event whose data is a reply to `id` that rmcp's model cannot read, or that would cost
/// too much to parse (see `json_cost`).
fn unusable_reply(event: &sse_stream::Sse, id: &RequestId, cap: usize) -> Option<Fault> {
    if !matches!(event.event.as_deref(), None | Some("message")) {
        return None;
    }
    let data = event.data.as_deref()?;
    if let Err(costly) = crate::json_cost::check(data.as_bytes(), cap) {
        return Some(Fault::TooCostly(costly));
    }
    let value: Value = match serde_json::from_str(data) {
        Ok(value) => value,
        // On this request's own stream, a cut-short JSON-RPC message is its reply.
        Err(error) if data.trim_start().starts_with('{') && data.contains("\"jsonrpc\"") => {
            return Some(Fault::NotJsonRpc(format!("not valid JSON ({error})")));
        }
        Err(_) => return None,
    };
    let answers = match (id, value.get("id")) {
        (RequestId::Number(n), Some(Value::Number(v))) => v.as_i64() == Some(*n),
        (RequestId::String(s), Some(Value::String(v))) => **s == **v,
        _ => false,
    };
    if !answers || serde_json::from_value::<ServerJsonRpcMessage>(value).is_ok() {
        return None;
    }
    Some(Fault::NotJsonRpc(
        "unrecognized JSON-RPC message".to_string(),
    ))
}

fn fault_event(id: &RequestId, fault: &Fault) -> sse_stream::Sse {
    let message = fault_error(id.clone(), fault, false);
    sse_stream::Sse {
        event: Some("message".to_string()),
        data: serde_json::to_string(&message).ok(),
        id: None,
        retry: None,
    }
}

/// The response stream of one request, with its first unusable event replaced by an error
/// for that request (and the stream ended there).
fn guard_stream(stream: SseStream, id: RequestId, cap: usize) -> SseStream {
    futures::stream::unfold(
        (stream, id, false),
        move |(mut stream, id, done)| async move {
            if done {
                return None;
            }
            let item = stream.next().await?;
            let fault = match &item {
                Ok(event) => unusable_reply(event, &id, cap),
                Err(sse_stream::Error::Utf8Parse(_)) => Some(Fault::NotUtf8),
                Err(error) => fault_in_text(&format!("{error} {error:?}"), cap),
            };
            match fault {
                Some(fault) => {
                    tracing::debug!("replaced an unusable SSE reply: {}", fault.describe());
                    Some((Ok(fault_event(&id, &fault)), (stream, id, true)))
                }
                None => Some((item, (stream, id, false))),
            }
        },
    )
    .boxed()
}

impl<C: StreamableHttpClient + Sync> HttpHooks for Guarded<C> {
    type Inner = C;

    fn inner(&self) -> &C {
        &self.inner
    }

    async fn post(&self, post: Post) -> HttpResult<StreamableHttpPostResponse, C> {
        let id = guarded_id(&post.message);
        let cap = post.response_limits().max_json_response_size;
        let response = post.send(&self.inner).await;
        let Some(id) = id else { return response };
        match response {
            Ok(StreamableHttpPostResponse::Sse(stream, session)) => Ok(
                StreamableHttpPostResponse::Sse(guard_stream(stream, id, cap), session),
            ),
            Err(error) => match fault_in_text(&error.to_string(), cap) {
                Some(fault) => Ok(StreamableHttpPostResponse::Json(
                    fault_error(id, &fault, false),
                    None,
                )),
                None => Err(error),
            },
            other => other,
        }
    }
}

streamable_http_via_hooks!(impl<C> for Guarded<C>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmcp_errors_name_the_fault_without_the_body() {
        assert_eq!(
            fault_in_text(
                "HTTP response body exceeded the maximum size of 1048576 bytes",
                1048576
            ),
            Some(Fault::TooLarge {
                size: None,
                cap: 1048576
            })
        );
        assert_eq!(
            fault_in_text(
                "unexpected server response: could not parse JSON response as ServerJsonRpcMessage: unrecognized JSON-RPC message: {\"secret\": 1}",
                1
            ),
            Some(Fault::NotJsonRpc(
                "unrecognized JSON-RPC message".to_string()
            ))
        );
        assert_eq!(fault_in_text("connection refused", 1), None);
    }
}
