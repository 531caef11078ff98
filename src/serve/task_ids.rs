//! The task ids `serve` hands its hosts, and which upstream (and host) each belongs to. A task
//! id is the upstream's own, named the way tool names are (`server__id` with several
//! upstreams, as it is with one), so the host's next `tasks/*` request finds its owner.
//!
//! Guarantees: only ids an upstream named through this `serve` (in a task-augmented call's
//! answer, `tasks/list`, or a status notification for a task we know) route anywhere; any
//! other id is refused by the caller with -32602 and reaches no upstream. The map is bounded
//! (`MAX_TASKS`, the oldest forgotten first): upstreams and hosts cannot grow it without end.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use rmcp::{Peer, RoleServer};
use serde_json::Value;

/// How many task ids are remembered; past it the oldest are forgotten (a host asking about
/// one then gets -32602, as for a task its upstream dropped after its TTL).
pub const MAX_TASKS: usize = 10_000;

/// Where a host's task id goes.
#[derive(Clone)]
pub struct Owner {
    pub upstream: usize,
    /// The upstream's own id.
    pub id: String,
    /// The host that created the task (status notifications go to it); None for a task a
    /// host only saw listed.
    pub host: Option<Peer<RoleServer>>,
}

/// The task ids known to `serve`, shared by every host connection.
#[derive(Default)]
pub struct TaskIds {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By the id the host sees.
    owners: HashMap<String, Owner>,
    /// The host ids, oldest first (for the bound).
    order: VecDeque<String>,
}

impl TaskIds {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remember that `host_id` is task `id` of `upstream` (created by `host`, if given; a
    /// known task keeps the host that created it).
    pub fn remember(
        &self,
        host_id: &str,
        upstream: usize,
        id: &str,
        host: Option<&Peer<RoleServer>>,
    ) {
        let mut state = self.lock();
        if let Some(owner) = state.owners.get_mut(host_id) {
            if owner.host.is_none() {
                owner.host = host.cloned();
            }
            return;
        }
        while state.order.len() >= MAX_TASKS {
            if let Some(oldest) = state.order.pop_front() {
                state.owners.remove(&oldest);
            }
        }
        state.order.push_back(host_id.to_string());
        state.owners.insert(
            host_id.to_string(),
            Owner {
                upstream,
                id: id.to_string(),
                host: host.cloned(),
            },
        );
    }

    /// The owner of a host's task id.
    pub fn owner(&self, host_id: &str) -> Option<Owner> {
        self.lock().owners.get(host_id).cloned()
    }

    /// The host id of `upstream`'s task `id` and the host that created it, if known.
    pub fn host_of(&self, upstream: usize, id: &str) -> Option<(String, Option<Peer<RoleServer>>)> {
        let state = self.lock();
        state
            .owners
            .iter()
            .find(|(_, owner)| owner.upstream == upstream && owner.id == id)
            .map(|(host_id, owner)| (host_id.clone(), owner.host.clone()))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().owners.len()
    }
}

/// An upstream's task status notification (`notifications/tasks/status`, 2025-11-25, or
/// `notifications/tasks`, 2026-07-28) passed on to the host that created the task, under the
/// id that host knows; a status of a task no host created here goes nowhere.
pub fn pass_on_status(ids: &TaskIds, upstream: usize, method: &str, params: Option<&Value>) {
    if !matches!(method, "notifications/tasks/status" | "notifications/tasks") {
        return;
    }
    let Some(mut params) = params.cloned() else {
        return;
    };
    let Some(id) = params.get("taskId").and_then(Value::as_str) else {
        return;
    };
    let Some((host_id, Some(host))) = ids.host_of(upstream, id) else {
        tracing::debug!("a status of task `{id}`, which no host created here, was not passed on");
        return;
    };
    params["taskId"] = Value::String(host_id);
    let notification = rmcp::model::ServerNotification::CustomNotification(
        rmcp::model::CustomNotification::new(method, Some(params)),
    );
    tokio::spawn(async move {
        if let Err(error) = host.send_notification(notification).await {
            tracing::debug!("could not pass a task status on to its host: {error}");
        }
    });
}

/// Every task id in a task-shaped answer or notification, where either era puts one: the
/// top level (a flattened task: `tasks/get`, 2026 `CreateTaskResult`, status notifications),
/// `task` (2025 `CreateTaskResult`), `tasks[]` (`tasks/list`) and the related-task `_meta`
/// of a `tasks/result` answer. `rename` gets each id and returns the new one.
pub fn rename_ids(value: &mut Value, rename: &mut dyn FnMut(&str) -> String) {
    let mut at = |holder: Option<&mut Value>| {
        if let Some(Value::String(id)) = holder.and_then(|h| h.get_mut("taskId")) {
            *id = rename(id);
        }
    };
    at(Some(value));
    at(value.get_mut("task"));
    at(value
        .get_mut("_meta")
        .and_then(|meta| meta.get_mut("io.modelcontextprotocol/related-task")));
    if let Some(Value::Array(tasks)) = value.get_mut("tasks") {
        for task in tasks {
            at(Some(task));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_renamed_wherever_either_era_puts_them() {
        let mut value = json!({
            "taskId": "a",
            "task": {"taskId": "b"},
            "tasks": [{"taskId": "c"}, {"status": "working"}],
            "_meta": {"io.modelcontextprotocol/related-task": {"taskId": "d"}},
            "content": [{"type": "text", "text": "taskId"}]
        });
        rename_ids(&mut value, &mut |id| format!("s__{id}"));
        assert_eq!(
            value,
            json!({
                "taskId": "s__a",
                "task": {"taskId": "s__b"},
                "tasks": [{"taskId": "s__c"}, {"status": "working"}],
                "_meta": {"io.modelcontextprotocol/related-task": {"taskId": "s__d"}},
                "content": [{"type": "text", "text": "taskId"}]
            })
        );
    }

    #[test]
    fn the_map_is_bounded_and_forgets_the_oldest_first() {
        let ids = TaskIds::default();
        for n in 0..MAX_TASKS + 5 {
            ids.remember(&format!("h{n}"), 0, &format!("u{n}"), None);
        }
        assert_eq!(ids.len(), MAX_TASKS);
        assert!(ids.owner("h0").is_none());
        assert!(ids.owner("h4").is_none());
        assert_eq!(ids.owner("h5").unwrap().id, "u5");
        assert_eq!(
            ids.host_of(0, &format!("u{}", MAX_TASKS + 4)).unwrap().0,
            format!("h{}", MAX_TASKS + 4)
        );
    }
}
