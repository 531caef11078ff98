//! A live connection to one MCP server: requests under the server's timeout, their failures
//! classified, and a clean close.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientRequest, NumberOrString, ProgressToken,
    RequestMetaObject, ServerResult, Tool,
};
use rmcp::service::PeerRequestOptions;
use serde_json::Value;

use super::classify::{request_failure, request_timeout};
use super::connect::Client;
use super::features::lenient::{self, CallResult};
use super::features::wire::Primed;
use super::transport::stdio::Child;
use crate::auth::store::TokenStore;
use crate::cache::{Cache, Key, ListKind};
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
    /// URIs of `notifications/resources/updated`, as the handler receives them.
    pub(super) resource_updates: tokio::sync::broadcast::Sender<String>,
    /// How long connecting (and the handshake) took.
    pub connect_ms: u64,
    pub(super) progress: Arc<crate::ui::Progress>,
    /// The HTTP session's id and whether to keep it open (Streamable HTTP only).
    pub(super) keep: Option<Arc<super::transport::resume::Keep>>,
    /// Lists the server said changed during this session.
    pub(super) changes: Arc<super::features::lists::ListChanges>,
    /// Reached through the daemon (its socket, no transport of ours): a failure the daemon
    /// met on our behalf, in an error's data, is believed (see `classify::relayed`).
    pub(super) relayed: bool,
    /// The daemon checks tool arguments (see `validate::CHECK_KEY`): relayed sessions only.
    pub(super) daemon_checks: bool,
}

/// A `tools/call` whose arguments the daemon was asked to check.
pub enum Checked {
    Called(CallResult),
    /// The schema does not compile: nothing was called (check as directly, then call).
    Unchecked,
}

impl Session {
    pub fn name(&self) -> &str {
        &self.server.name
    }

    /// The process id of a stdio server's child (None over HTTP or a socket).
    pub fn child_pid(&self) -> Option<u32> {
        self.child.as_ref().map(|child| child.pid)
    }

    /// Whether the connection still runs: false once a stdio child exited or the
    /// transport closed (the daemon then starts the server again).
    pub fn is_alive(&self) -> bool {
        !self.client.peer().is_transport_closed()
    }

    /// All tools (every page) as the server lists them now, filtered by the server's
    /// allow/deny globs; the unfiltered list goes to the cache with the server's hints. A
    /// malformed tool is reported and skipped; a repeated cursor is a protocol error.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, Failure> {
        let tools = self.list_live(ListKind::Tools, lenient::tools_page).await?;
        Ok(self.permitted(tools))
    }

    /// The tools to call from: from the cache when it has a fresh list (no `tools/list` is
    /// sent), also one the server said changed since (see `Cache::tools`), else from the
    /// server. The flag says whether they came from the cache.
    pub async fn tools(&self) -> Result<(Vec<Tool>, bool), Failure> {
        self.tools_from(self.cache.tools(&self.key)).await
    }

    /// The tools to show or offer (`serve`'s `tools/list`): the same, but a cached list the
    /// server said changed is listed again.
    pub async fn tools_to_show(&self) -> Result<(Vec<Tool>, bool), Failure> {
        self.tools_from(self.cached(ListKind::Tools)).await
    }

    async fn tools_from(&self, cached: Option<Vec<Tool>>) -> Result<(Vec<Tool>, bool), Failure> {
        let Some(cached) = cached else {
            return Ok((self.list_tools().await?, false));
        };
        if let Some(primed) = &self.primed {
            // rmcp learns the definitions (for Mcp-Param-* headers) from a tools/list it
            // sees: answer one locally.
            primed.lock().unwrap_or_else(|e| e.into_inner()).tools = Some(cached.clone());
            let local = match tokio::time::timeout(
                self.server.timeout,
                self.client.peer().list_all_tools(),
            )
            .await
            {
                Ok(Ok(local)) => local,
                Ok(Err(error)) => return Err(self.failed("tools/list", &error).await),
                Err(_) => return Err(request_timeout(&self.server, "tools/list")),
            };
            return Ok((self.permitted(local), true));
        }
        Ok((self.permitted(cached), true))
    }

    /// Drop the cached list (the server rejected a call made from it).
    pub fn forget_tools(&self) {
        self.forget(ListKind::Tools);
    }

    pub(super) fn permitted(&self, tools: Vec<Tool>) -> Vec<Tool> {
        tools
            .into_iter()
            .filter(|t| self.server.tools.permits(&t.name))
            .collect()
    }

    /// Call a tool; `isError` results are `Ok` (the caller decides what they mean). The
    /// content comes back as the server sent it.
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, Value>,
    ) -> Result<CallResult, Failure> {
        match self.call_tool_checked(tool, arguments, None).await? {
            Checked::Called(result) => Ok(result),
            Checked::Unchecked => Err(Failure::new(
                Kind::Internal,
                format!("the daemon refused to call `{tool}` for a check nobody asked for"),
            )),
        }
    }

    /// Whether the daemon checks tool arguments for this session ([`Self::call_tool_checked`]).
    pub fn daemon_checks(&self) -> bool {
        self.daemon_checks
    }

    /// The daemon said it checks tool arguments (on a session through it only).
    pub fn leave_checks_to_daemon(&mut self) {
        self.daemon_checks = self.relayed;
    }

    /// [`Self::call_tool`]; with `check`, the daemon checks the arguments against that
    /// schema first (a misfit fails as a direct check does).
    pub async fn call_tool_checked(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, Value>,
        check: Option<&rmcp::model::JsonObject>,
    ) -> Result<Checked, Failure> {
        static NEXT_TOKEN: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
        let token = NEXT_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        // A progress token, so progress notifications reach stderr.
        params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
            NumberOrString::Number(token),
        )));
        // Only this first request carries the schema to check: rounds and task mode go on
        // without it (the check was made).
        let asked = check.filter(|_| self.daemon_checks);
        let mut first = params.clone();
        if let (Some(schema), Some(meta)) = (asked, first.meta.as_mut()) {
            meta.insert(
                crate::validate::CHECK_KEY.to_string(),
                Value::Object(schema.clone()),
            );
        }
        let what = format!("tools/call `{tool}`");
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(first));
        let mut result = match self.request_raw(&what, request).await? {
            Ok(result) => result,
            Err(rmcp::service::ServiceError::McpError(data))
                if asked.is_some() && unchecked(&data) =>
            {
                return Ok(Checked::Unchecked);
            }
            Err(error) => return Err(self.failed(&what, &error).await),
        };
        if result.get("resultType").and_then(Value::as_str) == Some("input_required") {
            // The server wants input first (SEP-2322): rmcp drives those rounds from the
            // start (our handler answers them), and its typed result is what we get then.
            result = self.mrtr_call(&what, params.clone()).await?;
        }
        let first = lenient::call_result(self.name(), tool, result)?;
        if !super::features::tasks::refuses_plain_call(&first) {
            return Ok(Checked::Called(first));
        }
        // The server runs this tool only as a task: run it as one and wait for the result.
        tracing::debug!(server = %self.name(), tool, "the tool requires task mode");
        let task = self
            .start_task(tool, params.arguments.unwrap_or_default())
            .await?;
        self.task_result(task, tool).await.map(Checked::Called)
    }

    /// Run one request under the server's timeout and classify its failure.
    pub(super) async fn bounded<T>(
        &self,
        what: &str,
        request: impl Future<Output = Result<T, rmcp::service::ServiceError>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.server.timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.failed(what, &error).await),
            Err(_) => Err(request_timeout(&self.server, what)),
        }
    }

    /// The MCP `ping` request under the server's timeout; how long its answer took.
    pub async fn ping(&self) -> Result<Duration, Failure> {
        let started = std::time::Instant::now();
        let ping = ClientRequest::PingRequest(rmcp::model::PingRequest::default());
        self.request("ping", ping).await?;
        Ok(started.elapsed())
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

    async fn mrtr_call(&self, what: &str, params: CallToolRequestParams) -> Result<Value, Failure> {
        match tokio::time::timeout(self.server.timeout, self.client.call_tool(params)).await {
            Ok(Ok(result)) => Ok(serde_json::to_value(&result).unwrap_or(Value::Null)),
            Ok(Err(error)) => Err(self.failed(what, &error).await),
            Err(_) => Err(request_timeout(&self.server, what)),
        }
    }

    /// A request's error as a Failure (see `classify`), as this session reaches its server.
    pub(super) async fn classified(
        &self,
        what: &str,
        error: &rmcp::service::ServiceError,
    ) -> Failure {
        let child = self.child.as_ref();
        request_failure(&self.server, &self.store, child, self.relayed, what, error).await
    }

    /// A request's error as a Failure. Connected from memory without asking the server, a
    /// failure at the HTTP or protocol level may mean it speaks another era now: detect it
    /// afresh next time. Not for an internal error (-32603): the server understood the
    /// request well enough to fail it (the Python SDK answers an unknown prompt so).
    async fn failed(&self, what: &str, error: &rmcp::service::ServiceError) -> Failure {
        let failure = self.classified(what, error).await;
        if self.era_unconfirmed
            && matches!(failure.kind, Kind::Http | Kind::Protocol)
            && !super::rejected_as_stale(&failure)
            && !failure.message.ends_with("(code -32603)")
        {
            self.cache.remember_era(&self.key, None);
        }
        failure
    }

    /// One request under the server's timeout (rmcp sends the cancellation when it runs out);
    /// the result as raw JSON where our transport kept it, else as rmcp's model serialises.
    pub(super) async fn request(
        &self,
        what: &str,
        request: ClientRequest,
    ) -> Result<Value, Failure> {
        match self.request_raw(what, request).await? {
            Ok(result) => Ok(result),
            Err(error) => Err(self.failed(what, &error).await),
        }
    }

    /// [`Self::request`] with the server's error as it is.
    async fn request_raw(
        &self,
        what: &str,
        request: ClientRequest,
    ) -> Result<Result<Value, rmcp::service::ServiceError>, Failure> {
        let result = match self.exchange(what, request.clone()).await? {
            Ok(result) => result,
            // -32042: the user had to open a URL first; once that is done, ask again (once).
            Err(error) if self.url_elicitation_done(&error).await => {
                match self.exchange(what, request).await? {
                    Ok(result) => result,
                    Err(error) => return Ok(Err(error)),
                }
            }
            Err(error) => return Ok(Err(error)),
        };
        Ok(Ok(match result {
            ServerResult::CustomResult(raw) => raw.0,
            typed => serde_json::to_value(&typed).unwrap_or(Value::Null),
        }))
    }

    /// One request and its answer: the server's error as it is, a timeout as a Failure.
    async fn exchange(
        &self,
        what: &str,
        request: ClientRequest,
    ) -> Result<Result<ServerResult, rmcp::service::ServiceError>, Failure> {
        let peer = self.client.peer();
        let options = PeerRequestOptions::with_timeout(self.server.timeout);
        let exchange = async {
            let handle = peer.send_request_with_option(request, options).await?;
            handle.await_response().await
        };
        // A backstop only: rmcp's own timeout fires first and cancels the request.
        let limit = self.server.timeout + Duration::from_secs(2);
        match tokio::time::timeout(limit, exchange).await {
            Ok(Err(rmcp::service::ServiceError::Timeout { .. })) | Err(_) => {
                Err(request_timeout(&self.server, what))
            }
            Ok(outcome) => Ok(outcome),
        }
    }

    /// Whether `error` is a -32042 (URL elicitation required) whose URLs the user was shown
    /// and completed (see `elicit`); false for any other error.
    async fn url_elicitation_done(&self, error: &rmcp::service::ServiceError) -> bool {
        match error {
            rmcp::service::ServiceError::McpError(data) if data.code.0 == -32042 => {
                let elicitor = &self.client.service().elicitor;
                elicitor.url_required(self.name(), data.data.as_ref()).await
            }
            _ => false,
        }
    }

    /// End the session: DELETE the HTTP session, or close a child's stdin and let it exit
    /// (SIGTERM, then SIGKILL for its whole process group if it lingers); through the
    /// daemon, close the connection.
    pub async fn close(self) {
        let Session {
            client,
            child,
            relayed,
            ..
        } = self;
        if relayed {
            // Through the daemon: nothing to wait for. Dropped, the session's task closes
            // the socket (or the process's exit does), and the daemon sees the command go.
            drop(client);
            return;
        }
        let grace = if child.is_some() {
            Duration::from_millis(1500)
        } else {
            Duration::from_secs(1)
        };
        let _ = tokio::time::timeout(grace, client.cancel()).await;
        if let Some(child) = child {
            super::transport::children::terminate(child.pid, Duration::from_millis(100)).await;
        }
    }
}

/// Whether the daemon said the schema it was to check against does not compile.
fn unchecked(data: &rmcp::ErrorData) -> bool {
    data.data
        .as_ref()
        .and_then(|d| d.get(crate::validate::UNCHECKED_KEY))
        .is_some()
}
