//! Tasks through `serve`: a host's task-augmented `tools/call` goes to the tool's upstream
//! (its own tool name), and `tasks/get`, `tasks/result`, `tasks/cancel` (and 2026-07-28's
//! `tasks/update`) go to the upstream that owns the task; `tasks/list` merges every
//! upstream's tasks, paged as the other lists are (`pages`); an upstream's task status
//! notifications reach the host that created the task. Task ids are named as tool names
//! are (`task_ids`).
//!
//! rmcp reads a 2025-11-25 `tools/call` as a plain call (its `task` parameter dropped) and
//! gates `tasks/get` and `tasks/cancel` on the 2026-07-28 tasks extension, which 2025-era
//! hosts do not declare; so the host transports hand these requests over untyped
//! (`untyped`), and they are relayed as the host sent them, ids aside. Both eras pass
//! through as long as host and upstream speak the same one; one era is not translated into
//! the other.
//!
//! Guarantees: a task request reaches only the upstream that named the task id to this
//! `serve`; an id it did not name is -32602 naming the id, sent nowhere; a tool the config
//! denies cannot be started as a task either.

use rmcp::model::{
    ClientJsonRpcMessage, ClientRequest, CustomRequest, CustomResult, ErrorCode, JsonRpcRequest,
    NumberOrString, RequestId,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Peer, RoleServer};
use serde_json::{Value, json};

use super::pages::{self, Position};
use super::relay::{Relay, refusal, relayed_meta};
use super::router::Named;
use super::task_ids::rename_ids;
use crate::exit::{Failure, Kind};
use crate::mcp::Refused;

/// Over HTTP, the method name prefix that makes rmcp hand a task request over untyped (a
/// method it does not know); taken off again before anything else sees it.
pub const UNTYPED: &str = "mcpchat-serve-untyped:";

/// The method of a host request that must reach `serve` untyped (see the module docs): a
/// `tools/call` with `task`, or `tasks/get`, `tasks/cancel`, `tasks/update` of either era
/// (relayed as they are, so the upstream, not rmcp's types, decides what they mean).
fn needs_untyped(message: &Value) -> Option<&str> {
    let method = message.get("method")?.as_str()?;
    message.get("id")?;
    let wanted = match method {
        "tools/call" => message.get("params").and_then(|p| p.get("task")).is_some(),
        "tasks/get" | "tasks/cancel" | "tasks/update" => true,
        _ => false,
    };
    wanted.then_some(method)
}

/// A host's line as the untyped request it must be (stdio and socket hosts), or None for
/// every other line (parsed as usual).
pub fn untyped(line: &[u8]) -> Option<ClientJsonRpcMessage> {
    // Most lines are not about tasks: no second parse for them.
    if !line.windows(5).any(|w| w == b"\"task") {
        return None;
    }
    let message: Value = serde_json::from_slice(line).ok()?;
    let method = needs_untyped(&message)?.to_string();
    let id = match message.get("id")? {
        Value::Number(n) => NumberOrString::Number(n.as_i64()?),
        Value::String(s) => NumberOrString::String(s.as_str().into()),
        _ => return None,
    };
    let request = CustomRequest::new(method, message.get("params").cloned());
    Some(ClientJsonRpcMessage::Request(JsonRpcRequest::new(
        RequestId::from(id),
        ClientRequest::CustomRequest(request),
    )))
}

/// An HTTP host's request body with the method of an untyped task request prefixed with
/// `UNTYPED` (rmcp then hands it over as a custom request), and that method (for the
/// `Mcp-Method` header, which must match it); None when nothing changes.
pub fn untyped_body(body: &[u8]) -> Option<(Vec<u8>, String)> {
    if !body.windows(5).any(|w| w == b"\"task") {
        return None;
    }
    let mut message: Value = serde_json::from_slice(body).ok()?;
    let method = format!("{UNTYPED}{}", needs_untyped(&message)?);
    message["method"] = Value::String(method.clone());
    Some((serde_json::to_vec(&message).ok()?, method))
}

/// The task id a request names, as the host sent it.
fn task_id(params: &Value) -> Result<&str, ErrorData> {
    params
        .get("taskId")
        .and_then(Value::as_str)
        .ok_or_else(|| ErrorData::invalid_params("taskId is missing", None))
}

/// A relayed request's failure as a `Failure` (a list part left out says why).
fn as_failure(server: &str, refused: Refused) -> Failure {
    match refused {
        Refused::Failed(failure) => failure,
        Refused::Upstream(error) => Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{server}` refused tasks/list: {}",
                error.message
            ),
        ),
        Refused::Cancelled => Failure::new(Kind::Interrupted, "tasks/list was cancelled"),
    }
}

impl Relay {
    /// A host request rmcp does not type: the task requests, else method not found.
    pub(super) async fn custom(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        let method = request
            .method
            .strip_prefix(UNTYPED)
            .unwrap_or(&request.method);
        let params = request.params.clone().unwrap_or_else(|| json!({}));
        let answer = match method {
            "tools/call" => self.start_task(params, &context).await?,
            "tasks/get" | "tasks/result" | "tasks/cancel" | "tasks/update" => {
                self.task_request(method, params, &context).await?
            }
            "tasks/list" => self.list_tasks(&params).await?,
            _ => {
                return Err(ErrorData::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    method.to_string(),
                    None,
                ));
            }
        };
        Ok(CustomResult(answer))
    }

    /// A task-augmented `tools/call`: to the tool's upstream under its own name; the task id
    /// in the answer is named for the host and remembered.
    async fn start_task(
        &self,
        mut params: Value,
        context: &RequestContext<RoleServer>,
    ) -> Result<Value, ErrorData> {
        let exposed = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ErrorData::invalid_params("the tool name is missing", None))?
            .to_string();
        let (index, name) = self.route(Named::Tool, &exposed).await?;
        let session = self
            .session(index)
            .map_err(|f| super::relay::as_error(&f))?;
        if !session.server.tools.permits(&name) {
            return Err(ErrorData::invalid_params(
                format!("tool `{exposed}` is not allowed by the config"),
                None,
            ));
        }
        params["name"] = Value::String(name.clone());
        let meta = params
            .get("_meta")
            .cloned()
            .and_then(|m| serde_json::from_value(m).ok());
        match relayed_meta(meta) {
            Some(meta) => params["_meta"] = serde_json::to_value(meta).unwrap_or_default(),
            None => {
                if let Some(object) = params.as_object_mut() {
                    object.remove("_meta");
                }
            }
        }
        let what = format!("tools/call `{name}` as a task");
        let raw = self
            .forward_untyped(index, &what, "tools/call", params, context)
            .await?;
        Ok(self.named_for_host(index, raw, Some(&context.peer)))
    }

    /// `raw` with the task ids an upstream named renamed for the host, and remembered.
    pub(super) fn named_for_host(
        &self,
        index: usize,
        mut raw: Value,
        host: Option<&Peer<RoleServer>>,
    ) -> Value {
        let (router, ids) = (&self.hub.router, &self.hub.task_ids);
        rename_ids(&mut raw, &mut |id| {
            let host_id = router.exposed(index, id);
            ids.remember(&host_id, index, id, host);
            host_id
        });
        raw
    }

    /// `tasks/get`, `tasks/result`, `tasks/cancel`, `tasks/update`: to the task's upstream.
    async fn task_request(
        &self,
        method: &str,
        mut params: Value,
        context: &RequestContext<RoleServer>,
    ) -> Result<Value, ErrorData> {
        let host_id = task_id(&params)?.to_string();
        let owner = self.hub.task_ids.owner(&host_id).ok_or_else(|| {
            ErrorData::invalid_params(
                format!("unknown task `{host_id}`: no server of mcpchat serve named it"),
                Some(json!({"taskId": host_id})),
            )
        })?;
        params["taskId"] = Value::String(owner.id.clone());
        let what = format!("{method} `{}`", owner.id);
        let raw = self
            .forward_untyped(owner.upstream, &what, method, params, context)
            .await?;
        Ok(self.named_for_host(owner.upstream, raw, None))
    }

    /// Send a request as it is to upstream `index`, its answer raw; the host's cancellation
    /// passed on, and the upstream's requests meanwhile sent to this host.
    async fn forward_untyped(
        &self,
        index: usize,
        what: &str,
        method: &str,
        params: Value,
        context: &RequestContext<RoleServer>,
    ) -> Result<Value, ErrorData> {
        let session = self
            .session(index)
            .map_err(|f| super::relay::as_error(&f))?;
        let request = ClientRequest::CustomRequest(CustomRequest::new(method, Some(params)));
        let _flying = self.hub.hosts.flying(index, &context.peer);
        session
            .forward(what, request, context.ct.cancelled(), None)
            .await
            .map_err(refusal)
    }

    /// One merged page of every upstream's tasks (those that offer tasks).
    async fn list_tasks(&self, params: &Value) -> Result<Value, ErrorData> {
        let cursor = params.get("cursor").and_then(Value::as_str);
        let at = Position::decode(cursor)?;
        let offering = self
            .hub
            .live()
            .filter(|(index, _)| self.hub.offers_tasks(*index));
        let parts = pages::fetch(offering, &at, |session, cursor| async move {
            let params = match cursor {
                Some(cursor) => json!({"cursor": cursor}),
                None => json!({}),
            };
            let request =
                ClientRequest::CustomRequest(CustomRequest::new("tasks/list", Some(params)));
            let page = session
                .forward("tasks/list", request, std::future::pending(), None)
                .await
                .map_err(|refused| as_failure(session.name(), refused))?;
            let tasks = page
                .get("tasks")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let next = page
                .get("nextCursor")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            Ok((tasks, next))
        })
        .await;
        let (kept, next) = pages::cut(parts, &at);
        let mut merged = Vec::new();
        for (index, _, (_, server, listed)) in kept {
            let Some((tasks, _)) = super::relay::kept_list(&server, "tasks/list", listed) else {
                continue;
            };
            let renamed = self.named_for_host(index, json!({"tasks": tasks}), None);
            if let Some(Value::Array(tasks)) = renamed.get("tasks") {
                merged.extend(tasks.iter().cloned());
            }
        }
        let mut answer = json!({"tasks": merged});
        if let Some(next) = next {
            answer["nextCursor"] = Value::String(next.encode());
        }
        Ok(answer)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_rmcp_would_misread_are_handed_over_untyped() {
        let untyped_method = |line: &str| match untyped(line.as_bytes()) {
            Some(ClientJsonRpcMessage::Request(request)) => {
                Some(request.request.method().to_string())
            }
            _ => None,
        };
        let task_call =
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x","task":{}}}"#;
        assert_eq!(untyped_method(task_call).as_deref(), Some("tools/call"));
        let plain_call =
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"task"}}"#;
        assert_eq!(untyped_method(plain_call), None);
        let old_get = r#"{"jsonrpc":"2.0","id":"a","method":"tasks/get","params":{"taskId":"t"}}"#;
        assert_eq!(untyped_method(old_get).as_deref(), Some("tasks/get"));
        let new_get = r#"{"jsonrpc":"2.0","id":4,"method":"tasks/get","params":{"taskId":"t","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
        assert_eq!(untyped_method(new_get).as_deref(), Some("tasks/get"));
        let listed =
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"cursor":"tasks"}}"#;
        assert_eq!(untyped_method(listed), None);
        let (body, method) = untyped_body(old_get.as_bytes()).unwrap();
        let renamed: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(renamed["method"], format!("{UNTYPED}tasks/get"));
        assert_eq!(method, format!("{UNTYPED}tasks/get"));
        assert_eq!(untyped_body(plain_call.as_bytes()), None);
    }
}
