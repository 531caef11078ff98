//! A live connection to one MCP server: requests under the server's timeout, their failures
//! classified, and a clean close.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{CallToolResult, Tool};
use serde_json::Value;

use super::classify::{request_failure, request_timeout};
use super::connect::Client;
use super::stdio::Child;
use crate::auth::store::TokenStore;
use crate::config::ServerConfig;
use crate::exit::Failure;

/// A live connection to one MCP server.
pub struct Session {
    pub server: Arc<ServerConfig>,
    pub(super) store: TokenStore,
    pub(super) client: Client,
    pub(super) child: Option<Child>,
    pub(super) progress: Arc<crate::ui::Progress>,
    /// The HTTP session's id and whether to keep it open (Streamable HTTP only).
    pub(super) keep: Option<Arc<super::resume::Keep>>,
}

impl Session {
    pub fn name(&self) -> &str {
        &self.server.name
    }

    /// All tools (every page), filtered by the server's allow/deny globs.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, Failure> {
        let tools = self
            .bounded("tools/list", self.client.peer().list_all_tools())
            .await?;
        Ok(tools
            .into_iter()
            .filter(|t| self.server.tools.permits(&t.name))
            .collect())
    }

    /// Call a tool; `isError` results are `Ok` (the caller decides what they mean). A tool the
    /// server will only run as a task runs as one, and this waits for its result.
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, Value>,
    ) -> Result<CallToolResult, Failure> {
        match self.call_tool_or_task(tool, arguments.clone()).await? {
            super::TaskCall::Done(result) => Ok(result),
            super::TaskCall::NeedsTask => {
                let task = self.start_task(tool, arguments).await?;
                self.task_result(task).await
            }
        }
    }

    /// What a later command needs to go on in this HTTP session (None without a session id),
    /// and from now on the session is left open at close.
    pub fn keep_open(&self) -> Option<super::Resume> {
        let keep = self.keep.as_ref()?;
        let session_id = keep
            .session_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        let initialize = serde_json::to_value(self.client.peer().peer_info()?.as_ref()).ok()?;
        keep.keep.store(true, std::sync::atomic::Ordering::Relaxed);
        Some(super::Resume {
            session_id,
            initialize,
        })
    }

    /// Run one request under the server's timeout and classify its failure.
    pub(super) async fn bounded<T>(
        &self,
        what: &str,
        request: impl Future<Output = Result<T, rmcp::service::ServiceError>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.server.timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(request_failure(
                &self.server,
                &self.store,
                self.child.as_ref(),
                what,
                &error,
            )),
            Err(_) => Err(request_timeout(&self.server, what)),
        }
    }

    /// End the session: DELETE the HTTP session, or close a child's stdin and let it exit
    /// (SIGTERM, then SIGKILL for its whole process group if it lingers).
    pub async fn close(self) {
        let Session { client, child, .. } = self;
        let grace = if child.is_some() {
            Duration::from_millis(1500)
        } else {
            Duration::from_secs(1)
        };
        let _ = tokio::time::timeout(grace, client.cancel()).await;
        if let Some(child) = child {
            super::children::terminate(child.pid, Duration::from_millis(100));
        }
    }
}
