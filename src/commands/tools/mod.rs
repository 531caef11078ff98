//! `tools list`, `tools call` and `tools call --batch`.
//!
//! Only the servers a command needs are contacted, concurrently; one failing server produces
//! an `error` line and a warning while the others go on. Arguments are validated against the
//! tool's `inputSchema` before any call.
//!
//! Parts: this file lists tools and holds what other commands share (connecting to every
//! selected server, exit codes for failed servers, tool names); `ready` (a connected server
//! with its validators), `call` (one call), `batch` (JSON Lines of calls), `search` (`tools
//! search` and `tools show`), `signature` (a tool as one line of text).

mod batch;
mod call;
mod ready;
mod search;
mod signature;

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use rmcp::model::Tool;
use serde_json::Value;

use crate::cache::ListKind;
use crate::config::ServerConfig;
use crate::events::{Event, RawId, ToolInfo, ToolResult};
use crate::exit::{Code, Failure, Kind};
use crate::mcp::{CallResult, Session};
use crate::report;

use super::App;

pub use call::call;
pub use search::{search, show};

// Declared lower down (the separator with the server names in `config`, the error line in the
// commands' root) so that `cli` and `cached` need not import this module; re-exported under
// the paths the other commands use.
pub use super::server_error;
pub use crate::config::SEPARATOR;

pub async fn list(app: &App) -> anyhow::Result<Code> {
    let selected = app.config.select(&app.selected)?;
    let total = selected.len();
    let mut pending = connect_all(app, selected);

    let mut sessions = Vec::new();
    let mut failures: Vec<(bool, Failure)> = Vec::new();
    let mut output_result = Ok(());
    while let Some((name, required, result)) = pending.next().await {
        match result {
            Ok((session, tools)) => {
                if output_result.is_ok() {
                    for tool in &tools {
                        if let Err(e) = app.output.emit(&Event::Tool(tool_info(&name, tool))) {
                            output_result = Err(e);
                            break;
                        }
                    }
                }
                sessions.push(session);
            }
            Err(failure) => {
                if total > 1 {
                    report::warning(&failure);
                }
                if output_result.is_ok() {
                    output_result = app
                        .output
                        .emit(&Event::Error(server_error(&name, &failure)));
                }
                failures.push((required, failure));
            }
        }
        if output_result.is_err() {
            break;
        }
    }
    futures::future::join_all(sessions.into_iter().map(Session::close)).await;
    output_result?;
    let code = exit_for_servers(total, &failures);
    if code != Code::Success {
        return Err(servers_failure(total, &failures).into());
    }
    Ok(code)
}

/// `tools list --cached`: the cached lists (filtered by the config's allow/deny globs), without
/// connecting.
pub fn list_cached(app: &App) -> anyhow::Result<Code> {
    super::cached::list(app, ListKind::Tools, |server, tools: Vec<Tool>| {
        tools
            .iter()
            .filter(|t| server.tools.permits(&t.name))
            .map(|tool| Event::Tool(tool_info(&server.name, tool)))
            .collect()
    })
}

/// The error that ends a command when its servers failed (see [`exit_for_servers`]).
pub fn servers_failure(total: usize, failures: &[(bool, Failure)]) -> Failure {
    let worst = |required_only: bool| {
        failures
            .iter()
            .filter(|(required, _)| *required || !required_only)
            .max_by_key(|(_, f)| f.code())
            .map(|(_, f)| f.clone())
    };
    if total == 1
        && let Some((_, failure)) = failures.first()
    {
        return failure.clone();
    }
    if let Some(failure) = worst(true) {
        return Failure::new(
            failure.kind,
            format!("a required MCP server failed: {}", failure.message),
        );
    }
    let kind = worst(false).map_or(Kind::Unreachable, |f| f.kind);
    Failure::new(kind, format!("all {total} selected MCP servers failed"))
}

/// What connecting to one selected server gave: its name, whether it is `required`, and the
/// session with its tools.
pub type Connected = (String, bool, Result<(Session, Vec<Tool>), Failure>);

/// Connect to every selected server at once and list its tools; results arrive in config order
/// as soon as each one (and those before it) is ready.
pub fn connect_all(
    app: &App,
    selected: Vec<crate::config::Selected>,
) -> FuturesOrdered<impl Future<Output = Connected> + use<>> {
    selected
        .into_iter()
        .map(|selected| {
            let app = app.clone();
            async move {
                let outcome = async {
                    let session = crate::daemon::connect(&app, selected.server?, None).await?;
                    match session.list_tools().await {
                        Ok(tools) => Ok((session, tools)),
                        Err(failure) => {
                            session.close().await;
                            Err(failure)
                        }
                    }
                }
                .await;
                (selected.name, selected.required, outcome)
            }
        })
        .collect()
}

/// 0 while at least one server answered and no `required` one failed; else the most severe
/// failure's code (config 2, auth 3, unreachable/timeout 4).
pub fn exit_for_servers(total: usize, failures: &[(bool, Failure)]) -> Code {
    let required = failures
        .iter()
        .filter(|(required, _)| *required)
        .map(|(_, f)| f.code())
        .max();
    if let Some(code) = required {
        return code;
    }
    if !failures.is_empty() && failures.len() == total {
        return failures
            .iter()
            .map(|(_, f)| f.code())
            .max()
            .unwrap_or(Code::Unavailable);
    }
    Code::Success
}

pub fn tool_info(server: &str, tool: &Tool) -> ToolInfo {
    ToolInfo {
        server: server.to_string(),
        name: format!("{server}{SEPARATOR}{}", tool.name),
        tool: tool.name.to_string(),
        title: tool.title.clone(),
        description: tool.description.as_ref().map(|d| d.to_string()),
        input_schema: Value::Object((*tool.input_schema).clone()),
        output_schema: tool
            .output_schema
            .as_ref()
            .map(|s| Value::Object((**s).clone())),
        annotations: tool
            .annotations
            .as_ref()
            .and_then(|a| serde_json::to_value(a).ok())
            .filter(|v| v.as_object().is_some_and(|o| !o.is_empty())),
        score: None,
    }
}

pub fn result_event(
    id: Option<RawId>,
    server: &str,
    tool: &str,
    result: CallResult,
    started: Instant,
) -> ToolResult {
    ToolResult {
        id,
        server: Some(server.to_string()),
        tool: tool.to_string(),
        name: format!("{server}{SEPARATOR}{tool}"),
        is_error: result.is_error,
        content: result.content,
        structured_content: result.structured_content,
        text: result.text,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

/// Which server owns `name`: `server__tool`, or a bare name when only one server is in play.
fn resolve_name(app: &App, name: &str) -> Result<(Arc<ServerConfig>, String), Failure> {
    let (server, tool) = split_name(app, name)?;
    Ok((app.config.server(&server)?, tool))
}

/// The server name and tool of `name`, without resolving the server's settings.
fn split_name(app: &App, name: &str) -> Result<(String, String), Failure> {
    if let Some((server, tool)) = name.split_once(SEPARATOR)
        && !server.is_empty()
        && !tool.is_empty()
    {
        if !app.selected.is_empty() && !app.selected.iter().any(|s| s == server) {
            return Err(Failure::usage(format!(
                "tool `{name}` belongs to server `{server}`, which --server does not select"
            )));
        }
        return Ok((server.to_string(), tool.to_string()));
    }
    let servers = app.config.selected_names(&app.selected)?;
    if servers.len() == 1 {
        return Ok((servers[0].clone(), name.to_string()));
    }
    Err(Failure::usage(format!(
        "tool name `{name}` needs its server prefix: SERVER{SEPARATOR}TOOL"
    ))
    .hint(format!(
        "servers: {} (or pick one with --server NAME)",
        servers.join(", ")
    ))
    .hint("`mcpchat tools list` shows every tool's full name"))
}
