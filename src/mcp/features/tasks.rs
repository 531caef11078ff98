//! Tool calls as tasks (SEP-1686, 2025-11-25): start a `tools/call` as a task, poll
//! `tasks/get`, fetch `tasks/result`, list and cancel tasks.
//!
//! rmcp 3.11 models only the 2026-07-28 tasks extension (SEP-2663), whose result shapes differ
//! (`ttlMs` vs `ttl`, a flattened task vs a nested one), so these requests go out as custom
//! requests and their results are read from JSON in either shape. A result rmcp recognises as
//! one of its own types is turned back into JSON first.

use std::time::Duration;

use rmcp::model::{ClientRequest, CustomRequest, NumberOrString, ServerResult};
use serde_json::{Map, Value, json};

use crate::exit::{Failure, Kind};
use crate::mcp::Session;

/// The state of a task as the server reported it.
#[derive(Debug, Clone, Default)]
pub struct TaskState {
    pub task_id: String,
    pub status: String,
    pub status_message: Option<String>,
    pub created_at: Option<String>,
    pub last_updated_at: Option<String>,
    pub ttl_ms: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    /// A 2026-07-28 server inlines the final result in `tasks/get`.
    pub result: Option<Value>,
}

impl TaskState {
    /// Read a task from either era's shape: nested under `task` or flattened.
    pub fn from_value(value: &Value) -> Option<TaskState> {
        let task = value.get("task").filter(|t| t.is_object()).unwrap_or(value);
        let text = |key: &str| task.get(key).and_then(Value::as_str).map(str::to_string);
        let number = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| task.get(*k).and_then(Value::as_u64))
        };
        Some(TaskState {
            task_id: text("taskId")?,
            status: text("status")?,
            status_message: text("statusMessage"),
            created_at: text("createdAt"),
            last_updated_at: text("lastUpdatedAt"),
            ttl_ms: number(&["ttl", "ttlMs"]),
            poll_interval_ms: number(&["pollInterval", "pollIntervalMs"]),
            result: task.get("result").cloned(),
        })
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "cancelled")
    }
}

/// Between polls: the server's suggestion, within sane bounds.
fn poll_delay(state: &TaskState) -> Duration {
    Duration::from_millis(state.poll_interval_ms.unwrap_or(1000).clamp(50, 5000))
}

/// A tool error result that says the tool must be called as a task (the TypeScript SDK sends
/// its -32601 "requires task augmentation" refusal as an error result).
pub(in crate::mcp) fn refuses_plain_call(result: &crate::mcp::CallResult) -> bool {
    result.is_error
        && result.text.contains("-32601")
        && result.text.contains("requires task augmentation")
}

impl Session {
    /// One custom request under the server's timeout; its result as JSON.
    async fn custom(&self, method: &str, params: Value, what: &str) -> Result<Value, Failure> {
        let request = ClientRequest::CustomRequest(CustomRequest::new(method, Some(params)));
        let result = self
            .bounded(what, self.client.peer().send_request(request))
            .await?;
        Ok(match result {
            ServerResult::CustomResult(custom) => custom.0,
            other => serde_json::to_value(&other).unwrap_or(Value::Null),
        })
    }

    fn task_failure(&self, what: &str, value: &Value) -> Failure {
        Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{}` answered {what} without a task: {}",
                self.name(),
                crate::redact::text(&value.to_string())
            ),
        )
    }

    /// Start `tools/call` as a task; the server answers at once with the task's first state.
    pub async fn start_task(
        &self,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> Result<TaskState, Failure> {
        let mut params = serde_json::to_value(self.call_params(tool, arguments))
            .unwrap_or_else(|_| json!({ "name": tool }));
        params["task"] = json!({});
        let what = format!("tools/call `{tool}` as a task");
        let value = self.custom("tools/call", params, &what).await?;
        TaskState::from_value(&value).ok_or_else(|| self.task_failure(&what, &value))
    }

    pub async fn get_task(&self, task_id: &str) -> Result<TaskState, Failure> {
        let what = format!("tasks/get `{task_id}`");
        let value = self
            .custom("tasks/get", json!({ "taskId": task_id }), &what)
            .await?;
        TaskState::from_value(&value).ok_or_else(|| self.task_failure(&what, &value))
    }

    pub async fn cancel_task(&self, task_id: &str) -> Result<TaskState, Failure> {
        let what = format!("tasks/cancel `{task_id}`");
        let value = self
            .custom("tasks/cancel", json!({ "taskId": task_id }), &what)
            .await?;
        match TaskState::from_value(&value) {
            Some(state) => Ok(state),
            // A 2026-07-28 server acknowledges with an empty result: ask for the new state.
            None => self.get_task(task_id).await,
        }
    }

    /// Every task the server lists for us (every page).
    pub async fn list_tasks(&self) -> Result<Vec<TaskState>, Failure> {
        let mut tasks = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = match &cursor {
                Some(cursor) => json!({ "cursor": cursor }),
                None => json!({}),
            };
            let page = self.custom("tasks/list", params, "tasks/list").await?;
            let items = page.get("tasks").and_then(Value::as_array);
            tasks.extend(
                items
                    .into_iter()
                    .flatten()
                    .filter_map(TaskState::from_value),
            );
            cursor = page
                .get("nextCursor")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            if cursor.is_none() {
                return Ok(tasks);
            }
        }
    }

    /// Poll until the task ends (status messages shown as progress), then fetch its result.
    pub async fn task_result(
        &self,
        first: TaskState,
        tool: &str,
    ) -> Result<crate::mcp::CallResult, Failure> {
        let mut state = first;
        let mut polls = 0u32;
        // `input_required`: the server's questions come through `tasks/result`, so ask for it
        // now (it answers once the task has ended).
        while !state.is_terminal() && state.status != "input_required" {
            tokio::time::sleep(poll_delay(&state)).await;
            let interval = state.poll_interval_ms;
            state = self.get_task(&state.task_id).await?;
            // Some answers do not repeat the interval: keep the last one the server gave.
            state.poll_interval_ms = state.poll_interval_ms.or(interval);
            polls += 1;
            self.progress_of(&state, polls);
        }
        self.progress.clear();
        if state.status == "cancelled" {
            return Err(Failure::new(
                Kind::ToolError,
                format!(
                    "task `{}` on MCP server `{}` was cancelled",
                    state.task_id,
                    self.name()
                ),
            ));
        }
        let value = match state.result.take() {
            Some(result) => result,
            None => {
                let what = format!("tasks/result `{}`", state.task_id);
                self.custom("tasks/result", json!({ "taskId": state.task_id }), &what)
                    .await?
            }
        };
        super::lenient::call_result(self.name(), tool, value)
    }

    fn progress_of(&self, state: &TaskState, polls: u32) {
        let token = format!("task {}", state.task_id);
        let message = format!(
            "{}{}",
            state.status,
            state
                .status_message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
        self.progress
            .update(self.name(), &token, f64::from(polls), None, Some(&message));
    }

    /// `tools/call` parameters with a fresh progress token.
    pub(in crate::mcp) fn call_params(
        &self,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> rmcp::model::CallToolRequestParams {
        use rmcp::model::{CallToolRequestParams, ProgressToken, RequestMetaObject};
        static NEXT_TOKEN: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
        let token = NEXT_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
            NumberOrString::Number(token),
        )));
        params
    }
}
