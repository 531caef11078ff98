//! How what did not go through reaches the host: our failures (as an error carrying the
//! failure, or a tool result its model can read), an upstream's refusal, a result that does
//! not parse, a list left out.

use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use serde_json::Value;

use crate::exit::Failure;
use crate::mcp::Refused;

/// The text a host sees for a failure: the message, then its hints.
fn explain(failure: &Failure) -> String {
    let mut text = crate::redact::text(&failure.message);
    for hint in &failure.hints {
        text.push_str("\nhint: ");
        text.push_str(&crate::redact::text(hint));
    }
    text
}

/// A failure as a JSON-RPC error (for requests other than tool calls), the failure itself
/// in its data (a command through the daemon fails with it as directly).
pub(in crate::serve) fn as_error(failure: &Failure) -> ErrorData {
    let data = crate::mcp::classify::failure_data(failure);
    ErrorData::internal_error(explain(failure), Some(data))
}

/// A failure as a tool result the host's model can read.
pub(super) fn tool_error(failure: &Failure) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(explain(failure))]).into()
}

/// A relayed request that has no result, as the host should see it.
pub(in crate::serve) fn refusal(refused: Refused) -> ErrorData {
    match refused {
        Refused::Upstream(mut error) => {
            // Only we speak for ourselves: an upstream's claim to be our failure is dropped.
            if let Some(Value::Object(data)) = &mut error.data {
                data.shift_remove(crate::mcp::classify::FAILURE_KEY);
                // An upstream saying "unchecked" would have the command call it again.
                data.shift_remove(crate::validate::UNCHECKED_KEY);
            }
            error
        }
        Refused::Failed(failure) => as_error(&failure),
        Refused::Cancelled => ErrorData::internal_error("request cancelled", None),
    }
}

/// An upstream result that does not parse as what its method returns.
pub(super) fn malformed(server: &str, method: &str, error: &serde_json::Error) -> ErrorData {
    ErrorData::internal_error(
        format!("MCP server `{server}` sent a malformed {method} result: {error}"),
        None,
    )
}

/// A list from one upstream, or None (with a warning) when listing it failed: the others'
/// lists still reach the host.
pub(in crate::serve) fn kept_list<T>(
    server: &str,
    method: &str,
    listed: Result<T, Failure>,
) -> Option<T> {
    match listed {
        Ok(items) => Some(items),
        Err(failure) => {
            crate::report::warning(&Failure::new(
                failure.kind,
                format!(
                    "{method} of MCP server `{server}` left out: {}",
                    failure.message
                ),
            ));
            None
        }
    }
}
