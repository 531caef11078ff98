//! A live connection to one MCP server: requests under the server's timeout, their failures
//! classified, and a clean close.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, NumberOrString, ProgressToken, RequestMetaObject, Tool,
};
use serde_json::Value;

use super::classify::{request_failure, request_timeout};
use super::connect::Client;
use super::stdio::Child;
use super::wire::Primed;
use crate::auth::store::TokenStore;
use crate::cache::{Cache, Key};
use crate::config::ServerConfig;
use crate::exit::{Failure, Kind};

/// A live connection to one MCP server.
pub struct Session {
    pub server: Arc<ServerConfig>,
    pub(super) store: TokenStore,
    pub(super) client: Client,
    pub(super) child: Option<Child>,
    pub(super) cache: Cache,
    pub(super) key: Key,
    /// Answers rmcp gets locally (HTTP sessions only).
    pub(super) primed: Option<Arc<std::sync::Mutex<Primed>>>,
    /// Connected as a 2026-07-28 server from memory, without asking it: a request failing at
    /// the HTTP or protocol level may mean it speaks another era now.
    pub(super) era_unconfirmed: bool,
}

impl Session {
    pub fn name(&self) -> &str {
        &self.server.name
    }

    /// All tools (every page) as the server lists them now, filtered by the server's
    /// allow/deny globs. The unfiltered list goes to the cache with the server's hints.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, Failure> {
        let listed = self
            .bounded(
                "tools/list",
                self.client.peer().list_all_tools_with_cache_hint(),
            )
            .await?;
        self.cache
            .store_tools(&self.key, &listed.items, listed.ttl_ms, listed.cache_scope);
        Ok(self.permitted(listed.items))
    }

    /// The tools from the cache when it has a fresh list (no `tools/list` is sent), else
    /// from the server. The flag says whether they came from the cache.
    pub async fn tools(&self) -> Result<(Vec<Tool>, bool), Failure> {
        let Some(cached) = self.cache.tools(&self.key) else {
            return Ok((self.list_tools().await?, false));
        };
        if let Some(primed) = &self.primed {
            // rmcp learns the definitions (for Mcp-Param-* headers) from a tools/list it
            // sees: answer one locally.
            primed.lock().unwrap_or_else(|e| e.into_inner()).tools = Some(cached.clone());
            let local = self
                .bounded("tools/list", self.client.peer().list_all_tools())
                .await?;
            return Ok((self.permitted(local), true));
        }
        Ok((self.permitted(cached), true))
    }

    /// Drop the cached list (the server rejected a call made from it).
    pub fn forget_tools(&self) {
        self.cache.forget_tools(&self.key);
    }

    fn permitted(&self, tools: Vec<Tool>) -> Vec<Tool> {
        tools
            .into_iter()
            .filter(|t| self.server.tools.permits(&t.name))
            .collect()
    }

    /// Call a tool; `isError` results are `Ok` (the caller decides what they mean).
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, Value>,
    ) -> Result<CallToolResult, Failure> {
        static NEXT_TOKEN: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
        let token = NEXT_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
            NumberOrString::Number(token),
        )));
        let outcome = self
            .bounded(
                &format!("tools/call `{tool}`"),
                self.client.call_tool(params),
            )
            .await;
        if let Err(failure) = &outcome
            && self.era_unconfirmed
            && matches!(
                failure.kind,
                crate::exit::Kind::Http | crate::exit::Kind::Protocol
            )
            && !super::rejected_as_stale(failure)
        {
            // Detect the era afresh next time.
            self.cache.remember_era(&self.key, None);
        }
        outcome
    }

    /// Run one request under the server's timeout and classify its failure.
    async fn bounded<T>(
        &self,
        what: &str,
        request: impl Future<Output = Result<T, rmcp::service::ServiceError>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.server.timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                let failure =
                    request_failure(&self.server, &self.store, self.child.as_ref(), what, &error);
                if self.era_unconfirmed
                    && matches!(failure.kind, Kind::Http | Kind::Protocol)
                    && !super::rejected_as_stale(&failure)
                {
                    // Connected from memory without asking the server: it may speak another
                    // era now. Detect it afresh next time.
                    self.cache.remember_era(&self.key, None);
                }
                Err(failure)
            }
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
