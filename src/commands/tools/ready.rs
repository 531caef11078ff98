//! A connected server ready for calls: its tools (cached or listed) with argument validators
//! compiled on first use, checked before every call and listed again when the cache proves stale.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use rmcp::model::Tool;
use serde_json::Value;

use super::{SEPARATOR, result_event};
use crate::cache::ListKind;
use crate::config::ServerConfig;
use crate::events::{RawId, ToolResult};
use crate::exit::{Failure, Kind};
use crate::mcp::{CallResult, Checked, Session};
use crate::validate::LazyValidator;

use crate::commands::App;

/// Each tool's argument validator (compiled on the tool's first call), by tool name.
type Validators = HashMap<String, LazyValidator>;

/// A connected server with its tools and compiled argument validators.
pub(super) struct Ready {
    pub(super) session: Session,
    /// Check arguments against the input schema before calling (off with --no-validate).
    validate: bool,
    /// From the cache until the server rejects a call made from it; then listed again.
    tools: std::sync::RwLock<(Validators, bool)>,
    /// Serialises re-listing (a batch may see several rejections at once).
    relisting: tokio::sync::Mutex<()>,
}

fn validators(tools: Vec<Tool>) -> Validators {
    tools
        .into_iter()
        .map(|tool| (tool.name.to_string(), LazyValidator::new(tool.input_schema)))
        .collect()
}

impl Ready {
    pub(super) async fn open(
        server: Arc<ServerConfig>,
        app: &App,
        validate: bool,
    ) -> Result<Ready, Failure> {
        let session = crate::daemon::connect(app, server, None).await?;
        // Listed (or taken from the cache) even without validation: on 2026-07-28 servers the
        // tool's definition tells rmcp which arguments to mirror into Mcp-Param-* headers.
        let (tools, cached) = match session.tools().await {
            Ok(tools) => tools,
            Err(failure) => {
                session.close().await;
                return Err(failure);
            }
        };
        Ok(Ready {
            session,
            validate,
            tools: std::sync::RwLock::new((validators(tools), cached)),
            relisting: tokio::sync::Mutex::new(()),
        })
    }

    fn uses_cached_list(&self) -> bool {
        self.tools.read().unwrap_or_else(|e| e.into_inner()).1
    }

    /// The cached list proved stale: forget it and list the tools from the server (once).
    async fn relist(&self) -> Result<(), Failure> {
        let _one = self.relisting.lock().await;
        if !self.uses_cached_list() {
            return Ok(());
        }
        tracing::info!(server = %self.session.name(), "the cached tools list looks stale; listing the tools again");
        self.session.forget_tools();
        let tools = self.session.list_tools().await?;
        *self.tools.write().unwrap_or_else(|e| e.into_inner()) = (validators(tools), false);
        Ok(())
    }

    /// The arguments with the defaults of required properties they leave out (see
    /// [`LazyValidator::fill_defaults`]); as given with `--no-validate` or an unknown tool.
    fn with_defaults(&self, tool: &str, mut arguments: Value) -> Value {
        if self.validate {
            let tools = self.tools.read().unwrap_or_else(|e| e.into_inner());
            if let Some(validator) = tools.0.get(tool) {
                validator.fill_defaults(&mut arguments);
            }
        }
        arguments
    }

    /// Find the tool and check the arguments, without calling anything.
    pub(super) fn check(&self, tool: &str, arguments: &Value) -> Result<(), Failure> {
        self.check_with(tool, arguments, true)
    }

    /// [`Self::check`] before a call: through a daemon that checks, the tool is only found
    /// here, and the daemon checks the arguments with the call (see `send`).
    fn check_before_call(&self, tool: &str, arguments: &Value) -> Result<(), Failure> {
        self.check_with(tool, arguments, !self.session.daemon_checks())
    }

    /// Find the tool and, when `here`, check the arguments.
    fn check_with(&self, tool: &str, arguments: &Value, here: bool) -> Result<(), Failure> {
        if !self.validate {
            // The config's allow/deny lists hold whatever the flags say.
            if !self.session.server.tools.permits(tool) {
                return Err(Failure::new(
                    Kind::ToolDenied,
                    format!(
                        "tool `{tool}` of MCP server `{}` is not allowed by the config's `tools` allow/deny lists",
                        self.session.name()
                    ),
                ));
            }
            return Ok(());
        }
        let server = self.session.name();
        let tools = self.tools.read().unwrap_or_else(|e| e.into_inner());
        let tools = &tools.0;
        let Some(validator) = tools.get(tool) else {
            let mut failure = Failure::new(
                Kind::UnknownTool,
                format!("MCP server `{server}` has no tool `{tool}`"),
            );
            if self.session.server.tools.permits(tool) {
                let names: Vec<&str> = tools.keys().map(String::as_str).collect();
                if let Some(best) = crate::config::suggest(tool, &names) {
                    failure = failure.hint(format!("did you mean `{server}{SEPARATOR}{best}`?"));
                }
            } else {
                failure = Failure::new(
                    Kind::ToolDenied,
                    format!(
                        "tool `{tool}` of MCP server `{server}` is not allowed by the config's `tools` allow/deny lists"
                    ),
                );
            }
            return Err(failure.hint(format!(
                "`mcpchat tools list --server {server}` shows its tools"
            )));
        };
        if !here {
            return Ok(());
        }
        let violations = validator.violations(tool, arguments);
        if violations.is_empty() {
            return Ok(());
        }
        Err(crate::validate::mismatch(server, tool, &violations))
    }

    /// The input schema the daemon is to check a call's arguments against, when it checks.
    fn schema_to_check(&self, tool: &str) -> Option<Arc<rmcp::model::JsonObject>> {
        if !self.validate || !self.session.daemon_checks() {
            return None;
        }
        let tools = self.tools.read().unwrap_or_else(|e| e.into_inner());
        tools
            .0
            .get(tool)
            .map(|validator| validator.schema().clone())
    }

    /// Call the tool; through a daemon that checks, with the schema to check against: a
    /// misfit against a cached schema lists the tools again and is checked once more (as
    /// directly), and a schema the daemon cannot compile is checked here (nothing was
    /// called either time, so calling again is safe).
    async fn send(
        &self,
        tool: &str,
        map: serde_json::Map<String, Value>,
    ) -> Result<CallResult, Failure> {
        for attempt in 0..2 {
            let Some(schema) = self.schema_to_check(tool) else {
                break;
            };
            tracing::debug!(tool, "the daemon checks the arguments");
            let outcome = self
                .session
                .call_tool_checked(tool, map.clone(), Some(&schema));
            match outcome.await {
                Ok(Checked::Called(result)) => return Ok(result),
                Ok(Checked::Unchecked) => {
                    self.check(tool, &Value::Object(map.clone()))?;
                    break;
                }
                Err(failure)
                    if attempt == 0
                        && failure.kind == Kind::InvalidArguments
                        && self.uses_cached_list() =>
                {
                    self.relist().await?;
                    self.check_before_call(tool, &Value::Object(map.clone()))?;
                }
                Err(failure) => return Err(failure),
            }
        }
        self.session.call_tool(tool, map).await
    }

    pub(super) async fn call(
        &self,
        id: Option<RawId>,
        tool: &str,
        arguments: Value,
    ) -> Result<ToolResult, Failure> {
        if self.session.take_list_changed(ListKind::Tools) {
            // The server said its tools changed (list_changed): list them before this call.
            self.tools.write().unwrap_or_else(|e| e.into_inner()).1 = true;
            self.relist().await?;
        }
        let arguments = self.with_defaults(tool, arguments);
        match self.check_before_call(tool, &arguments) {
            // A tool or schema the cached list does not know yet: ask the server.
            Err(failure)
                if self.uses_cached_list()
                    && matches!(failure.kind, Kind::UnknownTool | Kind::InvalidArguments) =>
            {
                self.relist().await?;
                self.check_before_call(tool, &arguments)?;
            }
            checked => checked?,
        }
        let Value::Object(map) = arguments.clone() else {
            return Err(Failure::new(
                Kind::InvalidArguments,
                "arguments must be a JSON object",
            ));
        };
        let started = Instant::now();
        let outcome = self.send(tool, map).await;
        let rejected = match &outcome {
            Err(failure) => crate::mcp::rejected_as_stale(failure),
            Ok(result) => crate::mcp::result_rejected_as_stale(result),
        };
        if rejected && self.uses_cached_list() {
            // Validated against a stale schema: list again and report against the new one.
            self.relist().await?;
            self.check(tool, &arguments)?;
        }
        Ok(result_event(
            id,
            self.session.name(),
            tool,
            outcome?,
            started,
        ))
    }
}
