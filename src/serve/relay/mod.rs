//! The MCP server the host talks to: every request answered by relaying it to the upstream
//! that owns the name or URI (lists merged from all of them), with the names the router gives.
//!
//! Guarantees: a call reaches only the upstream its name routes to, under the upstream's own
//! name, and only if the upstream's allow/deny lists permit it; an upstream's JSON-RPC error
//! reaches the host as the upstream sent it (redacted); a tool call that cannot reach its
//! upstream (not connected, timed out, needs `auth login`) is an `isError` result naming the
//! server and saying why, so the host's model can read it (the daemon's relay instead fails
//! any request, lists included, with the failure itself, for the command to fail as
//! directly); a host's cancellation is passed on.
//!
//! Parts: this file (the relay and what its parts share), `answers` (failures, refusals and
//! malformed results as the host sees them), `routes` (which upstream a request goes to),
//! `lists` (merged, paged lists), `handler` (the MCP server's methods).

mod answers;
mod handler;
mod lists;
mod routes;

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::model::{PaginatedRequestParams, RequestMetaObject};
use serde_json::{Value, json};

use crate::serve::hub::Hub;
use crate::serve::pages::Position;

pub(super) use answers::{as_error, kept_list, refusal};

/// One host connection's view of the shared upstreams.
#[derive(Clone)]
pub struct Relay {
    pub hub: Arc<Hub>,
    /// The tools last listed to a host, by the name it sees (shared by every connection):
    /// the HTTP layer checks a call's `Mcp-Param-*` headers against the tool's schema.
    listed_tools: Arc<std::sync::Mutex<HashMap<String, rmcp::model::Tool>>>,
    /// The daemon's relay: a tool call that fails for a reason of ours (the upstream exited)
    /// is an error carrying the failure, so the command fails as directly, not an `isError`
    /// result for a host's model.
    pub failures_as_errors: bool,
    /// The `input_required` rounds waiting for their hosts' retries.
    pub rounds: Arc<crate::serve::input::Rounds>,
    /// 2025-era hosts' subscriptions to resources of 2026-07-28 upstreams.
    watches: Arc<crate::serve::watches::Watches>,
}

impl Relay {
    pub fn new(hub: Arc<Hub>) -> Relay {
        Relay {
            hub,
            listed_tools: Arc::default(),
            failures_as_errors: false,
            rounds: Arc::default(),
            watches: Arc::default(),
        }
    }
}

/// An upstream's result marked complete where it does not say (2025-era servers do not):
/// 2026-07-28 hosts require the mark, and rmcp strips it again for older hosts.
fn completed(mut raw: Value) -> Value {
    if let Some(result) = raw.as_object_mut() {
        result
            .entry("resultType")
            .or_insert_with(|| Value::from("complete"));
    }
    raw
}

/// The host's `_meta` as the upstream should get it: our own progress token and protocol
/// keys replace the host's (the upstream may speak another era than the host).
pub(super) fn relayed_meta(meta: Option<RequestMetaObject>) -> Option<RequestMetaObject> {
    let mut meta = meta?;
    meta.retain(|key, _| {
        key != "progressToken"
            && !key.starts_with("io.modelcontextprotocol/")
            // Ours (a command's to the daemon): never an upstream's business.
            && !key.starts_with("io.mcpchat/")
    });
    (!meta.is_empty()).then_some(meta)
}

/// The capabilities the host is offered: the union of the upstreams' (tools always, so that
/// a dead upstream's calls can still say why they fail; logging always, as that is how a
/// dead upstream is announced); lists announce changes.
fn capabilities(hub: &Hub) -> Value {
    let mut declared = json!({"tools": {"listChanged": true}, "logging": {}});
    for (_, session) in hub.live() {
        let Some(info) = session.peer_info() else {
            continue;
        };
        let offered = &info.capabilities;
        if offered.prompts.is_some() {
            declared["prompts"] = json!({"listChanged": true});
        }
        if let Some(resources) = &offered.resources {
            let subscribe = resources.subscribe == Some(true)
                || declared["resources"]["subscribe"] == json!(true);
            declared["resources"] = json!({"listChanged": true, "subscribe": subscribe});
        }
        if offered.completions.is_some() {
            declared["completions"] = json!({});
        }
        if offered.supports_tasks() {
            declared["extensions"][rmcp::model::TASKS_EXTENSION_ID] = json!({});
        }
    }
    declared
}

/// Where the host's list request starts: its cursor (the start without one), and whether it
/// asked for the lists as the upstreams list them now (`FRESH_KEY` in its `_meta`, which
/// rmcp hands over in the request's context).
fn position(
    request: &Option<PaginatedRequestParams>,
    context: &rmcp::service::RequestContext<rmcp::RoleServer>,
) -> Result<(Position, bool), rmcp::ErrorData> {
    let cursor = request.as_ref().and_then(|r| r.cursor.as_deref());
    let asked = |meta: Option<&RequestMetaObject>| {
        meta.and_then(|meta| meta.get(crate::mcp::FRESH_KEY)) == Some(&Value::Bool(true))
    };
    let fresh = asked(Some(&context.meta)) || asked(request.as_ref().and_then(|r| r.meta.as_ref()));
    Ok((Position::decode(cursor)?, fresh))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_progress_token_and_protocol_keys_stay_home() {
        let meta: RequestMetaObject = serde_json::from_value(json!({
            "progressToken": 7,
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "trace": "abc"
        }))
        .unwrap();
        let relayed = serde_json::to_value(relayed_meta(Some(meta))).unwrap();
        assert_eq!(relayed, json!({"trace": "abc"}));
        let only_ours: RequestMetaObject =
            serde_json::from_value(json!({"progressToken": 7})).unwrap();
        assert_eq!(relayed_meta(Some(only_ours)), None);
    }
}
