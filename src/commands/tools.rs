//! `tools list`, `tools call` and `tools call --batch`.
//!
//! Only the servers a command needs are contacted, concurrently; one failing server produces
//! an `error` line and a warning while the others go on. Arguments are validated against the
//! tool's `inputSchema` before any call.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Read};
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use rmcp::model::Tool;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::{OnceCell, Semaphore};

use crate::cli::{CallArgs, Shard};
use crate::config::ServerConfig;
use crate::events::{ErrorInfo, Event, RawId, ToolInfo, ToolResult};
use crate::exit::{Code, Failure, Kind};
use crate::mcp::{CallResult, Session};
use crate::report;
use crate::validate::ArgsValidator;

use super::App;

/// Separator between server and tool in prefixed names.
pub const SEPARATOR: &str = "__";

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

/// `tools list --cached`: the cached lists, without connecting. Servers without a fresh
/// entry get an `error` line and make the command exit 4.
pub fn list_cached(app: &App) -> anyhow::Result<Code> {
    let selected = app.config.select(&app.selected)?;
    let mut missing = Vec::new();
    for selected in selected {
        let cached = selected.server.as_ref().ok().and_then(|server| {
            let key = crate::cache::Key::of(server, &app.context.store);
            app.context.cache.tools(&key).map(|tools| (server, tools))
        });
        let Some((server, tools)) = cached else {
            let failure = Failure::new(
                Kind::Unreachable,
                format!("no cached tools list for MCP server `{}`", selected.name),
            );
            app.output
                .emit(&Event::Error(server_error(&selected.name, &failure)))?;
            missing.push(selected.name);
            continue;
        };
        for tool in tools.iter().filter(|t| server.tools.permits(&t.name)) {
            app.output
                .emit(&Event::Tool(tool_info(&selected.name, tool)))?;
        }
    }
    if missing.is_empty() {
        return Ok(Code::Success);
    }
    let names = missing
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(Failure::new(
        Kind::Unreachable,
        format!("no cached tools list (or only a stale one) for MCP server(s) {names}"),
    )
    .hint("`mcpchat tools list` lists them live and fills the cache")
    .into())
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
            let context = app.context.clone();
            async move {
                let outcome = async {
                    let session = Session::connect(selected.server?, &context).await?;
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

pub fn server_error(server: &str, failure: &Failure) -> ErrorInfo {
    ErrorInfo {
        server: Some(server.to_string()),
        ..ErrorInfo::from_failure(failure)
    }
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
    }
}

pub fn result_event(
    id: Option<RawId>,
    server: &str,
    tool: &str,
    result: &CallResult,
    started: Instant,
) -> ToolResult {
    ToolResult {
        id,
        server: Some(server.to_string()),
        tool: tool.to_string(),
        name: format!("{server}{SEPARATOR}{tool}"),
        is_error: result.is_error,
        content: result.content.clone(),
        structured_content: result.structured_content.clone(),
        text: result.text.clone(),
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

/// A tool's definition and its compiled argument validator, by tool name.
type Validators = HashMap<String, (Tool, ArgsValidator)>;

/// A connected server with its tools and compiled argument validators.
struct Ready {
    session: Session,
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
        .map(|tool| {
            let validator =
                ArgsValidator::new(&tool.name, &Value::Object((*tool.input_schema).clone()));
            (tool.name.to_string(), (tool, validator))
        })
        .collect()
}

impl Ready {
    async fn open(server: Arc<ServerConfig>, app: &App, validate: bool) -> Result<Ready, Failure> {
        let session = Session::connect(server, &app.context).await?;
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

    /// Find the tool and check the arguments, without calling anything.
    fn check(&self, tool: &str, arguments: &Value) -> Result<(), Failure> {
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
        let Some((_, validator)) = tools.get(tool) else {
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
        let violations = validator.violations(arguments);
        if violations.is_empty() {
            return Ok(());
        }
        let mut failure = Failure::new(
            Kind::InvalidArguments,
            format!(
                "arguments for `{server}{SEPARATOR}{tool}` do not match its input schema:\n  {}",
                violations.join("\n  ")
            ),
        );
        failure = failure.hint(format!(
            "`mcpchat tools list --server {server}` shows the schema"
        ));
        Err(failure)
    }

    async fn call(
        &self,
        id: Option<RawId>,
        tool: &str,
        arguments: Value,
    ) -> Result<ToolResult, Failure> {
        match self.check(tool, &arguments) {
            // A tool or schema the cached list does not know yet: ask the server.
            Err(failure)
                if self.uses_cached_list()
                    && matches!(failure.kind, Kind::UnknownTool | Kind::InvalidArguments) =>
            {
                self.relist().await?;
                self.check(tool, &arguments)?;
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
        let outcome = self.session.call_tool(tool, map).await;
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
            &outcome?,
            started,
        ))
    }
}

pub async fn call(app: &App, args: &CallArgs) -> anyhow::Result<Code> {
    if args.batch {
        let jobs = args.jobs.unwrap_or(16) as usize;
        return batch(app, jobs, args.shard, !args.no_validate).await;
    }
    // clap's `requires = "batch"` does not hold against a flag's default (false).
    if args.shard.is_some() || args.jobs.is_some() {
        return Err(Failure::usage("--shard and --jobs work only with --batch")
            .hint("mcpchat tools call --batch --shard K/N < requests.jsonl")
            .into());
    }
    let Some(name) = args.name.as_deref() else {
        return Err(Failure::usage("tools call needs a tool name (or --batch)").into());
    };
    let arguments = call_arguments(args)?;
    let (server, tool) = resolve_name(app, name)?;
    if args.task && matches!(server.transport, crate::config::Transport::Stdio { .. }) {
        return Err(Failure::usage(format!(
            "--task needs an HTTP server: the tasks of stdio server `{}` end with its process, when this command exits",
            server.name
        ))
        .hint("without --task, `tools call` runs a task-mode tool as a task and waits for its result")
        .into());
    }
    let ready = Ready::open(server, app, !args.no_validate).await?;
    if args.task {
        if let Err(failure) = ready.check(&tool, &arguments) {
            ready.session.close().await;
            return Err(failure.into());
        }
        let Value::Object(map) = arguments else {
            return Err(
                Failure::new(Kind::InvalidArguments, "arguments must be a JSON object").into(),
            );
        };
        return super::tasks::start(app, ready.session, &tool, map).await;
    }
    let outcome = ready.call(None, &tool, arguments).await;
    // Print first, then end the session: the reader of stdout need not wait for the server
    // to shut down.
    app.context.progress.clear();
    let printed = match &outcome {
        Ok(result) => app.output.emit(&Event::ToolResult(result.clone())),
        Err(_) => Ok(()),
    };
    ready.session.close().await;
    let is_error = outcome?.is_error;
    printed?;
    if is_error {
        report::warning(&Failure::new(
            Kind::ToolError,
            format!("tool `{name}` returned an error (isError)"),
        ));
        return Ok(Code::TaskFailed);
    }
    Ok(Code::Success)
}

/// The JSON object from ARGS_JSON (or stdin with `-`), with `--arg key=value` merged over it.
fn call_arguments(args: &CallArgs) -> Result<Value, Failure> {
    let mut object = match args.arguments.as_deref() {
        None => Map::new(),
        Some(text) => {
            let text = if text == "-" {
                if std::io::stdin().is_terminal() {
                    return Err(Failure::usage(
                        "`-` reads the arguments from stdin, but stdin is a terminal",
                    )
                    .hint("pipe the JSON in: echo '{\"a\": 1}' | mcpchat tools call NAME -"));
                }
                let mut buffer = String::new();
                std::io::stdin().read_to_string(&mut buffer).map_err(|e| {
                    Failure::usage(format!("cannot read arguments from stdin: {e}"))
                })?;
                buffer
            } else {
                text.to_string()
            };
            let text = text.trim();
            if text.is_empty() {
                Map::new()
            } else {
                match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(map)) => map,
                    Ok(other) => {
                        return Err(Failure::new(
                            Kind::InvalidArguments,
                            format!(
                                "tool arguments must be a JSON object, not {}",
                                json_kind(&other)
                            ),
                        ));
                    }
                    Err(e) => {
                        return Err(Failure::new(
                            Kind::InvalidArguments,
                            format!("tool arguments are not valid JSON: {e}"),
                        )
                        .hint("quote the JSON for the shell: '{\"a\": 2, \"b\": 3}', or use --arg a=2 --arg b=3"));
                    }
                }
            }
        }
    };
    for pair in &args.args {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Failure::usage(format!(
                "--arg `{pair}` must look like key=value"
            )));
        };
        let value = serde_json::from_str::<Value>(value)
            .unwrap_or_else(|_| Value::String(value.to_string()));
        object.insert(key.to_string(), value);
    }
    Ok(Value::Object(object))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One batch request line.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    /// Kept as written, `null` included (`Option` alone would turn `null` into no id).
    #[serde(default, deserialize_with = "raw_id")]
    id: Option<Box<RawValue>>,
    #[serde(alias = "name")]
    tool: String,
    #[serde(default)]
    arguments: Option<Value>,
}

fn raw_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    serde::Deserialize::deserialize(d).map(Some)
}

/// Just the id of a line that is JSON but not a valid request, so its error line carries it.
#[derive(serde::Deserialize)]
struct IdOnly {
    #[serde(default, deserialize_with = "raw_id")]
    id: Option<Box<RawValue>>,
}

type Shared = Arc<OnceCell<Result<Arc<Ready>, Failure>>>;

/// `tools call --batch`: JSONL requests from stdin (only the `shard`'s lines, if given), one
/// session per server, `jobs` calls at a time, one line per request in completion order.
async fn batch(
    app: &App,
    jobs: usize,
    shard: Option<Shard>,
    validate: bool,
) -> anyhow::Result<Code> {
    if std::io::stdin().is_terminal() {
        return Err(Failure::usage("--batch reads JSON Lines requests from stdin, but stdin is a terminal")
            .hint("echo '{\"id\": 1, \"tool\": \"server__tool\", \"arguments\": {}}' | mcpchat tools call --batch")
            .into());
    }
    let app = Arc::new(app.clone());
    let semaphore = Arc::new(Semaphore::new(jobs));
    let servers: Arc<std::sync::Mutex<HashMap<String, Shared>>> = Arc::default();
    let worst = Arc::new(std::sync::Mutex::new(Code::Success));
    let outstanding: Outstanding = Arc::new(std::sync::Mutex::new(Some(BTreeMap::new())));
    let mut tasks = tokio::task::JoinSet::new();
    let bar = app.context.progress.batch_bar(
        app.context
            .progress
            .is_drawn()
            .then(|| requests_in_stdin_file(shard))
            .flatten(),
    );
    let mut broken = false;
    let work = async {
        let stdin = tokio::io::stdin();
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdin));
        let mut line_number = 0usize;
        loop {
            let line = match lines.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => {
                    let failure =
                        Failure::usage(format!("cannot read batch requests from stdin: {e}"));
                    record(&app, &worst, None, None, &failure);
                    break;
                }
            };
            line_number += 1;
            // Numbers stay those of the whole input, so ids and `batch line N` match any shard's.
            if shard.is_some_and(|shard| !shard.owns(line_number - 1)) || line.trim().is_empty() {
                continue;
            }
            accept(&outstanding, line_number, &line);
            let permit = semaphore.clone().acquire_owned().await?;
            let app = app.clone();
            let servers = servers.clone();
            let worst = worst.clone();
            let outstanding = outstanding.clone();
            let bar = bar.clone();
            tasks.spawn(async move {
                let _permit = permit;
                let _done = IncOnDrop(bar);
                let (id, tool, outcome) =
                    run_line(&app, &servers, &line, line_number, validate).await;
                // Answered and printed under the lock, so an interruption never reports a
                // request twice or misses one.
                let mut open = outstanding.lock().unwrap_or_else(|e| e.into_inner());
                let Some(waiting) = open.as_mut() else {
                    return false;
                };
                waiting.remove(&line_number);
                match outcome {
                    Ok(result) => {
                        if result.is_error {
                            raise(&worst, Code::TaskFailed);
                        }
                        app.output.emit(&Event::ToolResult(result)).is_err()
                    }
                    Err(failure) => record(&app, &worst, id, tool, &failure),
                }
            });
            // Reap finished tasks as we go so memory stays flat on long inputs.
            while let Some(done) = tasks.try_join_next() {
                broken |= done.unwrap_or(false);
            }
            if broken {
                break;
            }
        }
        while let Some(done) = tasks.join_next().await {
            broken |= done.unwrap_or(false);
        }
        anyhow::Ok(())
    };
    let interrupted = tokio::select! {
        done = work => { done?; None }
        what = crate::interrupt::wait() => Some(what),
    };
    bar.finish_and_clear();
    if let Some(what) = interrupted {
        broken |= report_unanswered(&app, &outstanding);
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        close_all(&servers).await;
        if broken {
            return Err(crate::exit::BrokenPipe.into());
        }
        return Err(Failure::new(Kind::Interrupted, what).into());
    }
    close_all(&servers).await;
    if broken {
        return Err(crate::exit::BrokenPipe.into());
    }
    let code = *worst.lock().unwrap_or_else(|e| e.into_inner());
    Ok(code)
}

/// Batch requests read but not answered yet: line number -> the request's `id`, if it has
/// one. `None` once the batch was interrupted and the rest were reported.
type Outstanding = Arc<std::sync::Mutex<Option<BTreeMap<usize, Option<RawId>>>>>;

fn accept(outstanding: &Outstanding, line_number: usize, line: &str) {
    // The id as written, like every other line of the batch.
    let id = serde_json::from_str::<IdOnly>(line)
        .ok()
        .and_then(|only| only.id)
        .map(RawId::from);
    if let Some(waiting) = outstanding
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
    {
        waiting.insert(line_number, id);
    }
}

/// After a signal: an `interrupted` error line for every request still without an answer, in
/// input order, so the caller can re-run exactly those. Returns true when stdout is gone.
fn report_unanswered(app: &App, outstanding: &Outstanding) -> bool {
    let mut open = outstanding.lock().unwrap_or_else(|e| e.into_inner());
    let waiting = open.take().unwrap_or_default();
    for (line_number, id) in waiting {
        let failure = Failure::new(
            Kind::Interrupted,
            format!("batch line {line_number}: interrupted before an answer arrived"),
        );
        let event = ErrorInfo {
            id,
            ..ErrorInfo::from_failure(&failure)
        };
        if app.output.emit(&Event::Error(event)).is_err() {
            return true;
        }
    }
    false
}

async fn close_all(servers: &std::sync::Mutex<HashMap<String, Shared>>) {
    let opened: HashMap<String, Shared> =
        std::mem::take(&mut *servers.lock().unwrap_or_else(|e| e.into_inner()));
    let closing = opened.into_values().filter_map(|cell| {
        let ready = Arc::try_unwrap(cell).ok()?.into_inner()?.ok()?;
        Arc::try_unwrap(ready)
            .ok()
            .map(|ready| ready.session.close())
    });
    futures::future::join_all(closing).await;
}

/// Counts a request as done however its task ends.
struct IncOnDrop(indicatif::ProgressBar);

impl Drop for IncOnDrop {
    fn drop(&mut self) {
        self.0.inc(1);
    }
}

/// How many requests a batch has, when stdin is a regular file (`< requests.jsonl`): counted
/// ahead through a duplicate of the descriptor, then rewound, so the bar can show done/total.
/// None for a pipe, which can be read only once.
fn requests_in_stdin_file(shard: Option<Shard>) -> Option<u64> {
    use std::io::{BufRead, Seek, SeekFrom};
    let fd = std::os::fd::AsFd::as_fd(&std::io::stdin())
        .try_clone_to_owned()
        .ok()?;
    let mut file = std::fs::File::from(fd);
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let start = file.stream_position().ok()?;
    let mut count = 0u64;
    for (number, line) in std::io::BufReader::new(&mut file).split(b'\n').enumerate() {
        let line = line.ok()?;
        if shard.is_none_or(|shard| shard.owns(number)) && !line.trim_ascii().is_empty() {
            count += 1;
        }
    }
    // The duplicate shares the offset with stdin: put it back where reading starts.
    file.seek(SeekFrom::Start(start)).ok()?;
    Some(count)
}

/// Print an `error` line for one request; returns true when stdout is gone.
fn record(
    app: &App,
    worst: &std::sync::Mutex<Code>,
    id: Option<RawId>,
    tool: Option<(String, String)>,
    failure: &Failure,
) -> bool {
    raise(worst, failure.code());
    report::warning(failure);
    let (server, tool) = match tool {
        Some((server, tool)) => (Some(server), Some(tool)),
        None => (None, None),
    };
    let event = ErrorInfo {
        id,
        server,
        tool,
        ..ErrorInfo::from_failure(failure)
    };
    app.output.emit(&Event::Error(event)).is_err()
}

fn raise(worst: &std::sync::Mutex<Code>, code: Code) {
    let mut worst = worst.lock().unwrap_or_else(|e| e.into_inner());
    if code > *worst {
        *worst = code;
    }
}

async fn run_line(
    app: &App,
    servers: &std::sync::Mutex<HashMap<String, Shared>>,
    line: &str,
    line_number: usize,
    validate: bool,
) -> (
    Option<RawId>,
    Option<(String, String)>,
    Result<ToolResult, Failure>,
) {
    let request: Request = match serde_json::from_str(line) {
        Ok(request) => request,
        Err(e) => {
            // Salvage the id if the line is JSON at all, so the caller can match the error.
            let id = serde_json::from_str::<IdOnly>(line)
                .ok()
                .and_then(|only| only.id)
                .map(RawId::from);
            return (
                id,
                None,
                Err(Failure::usage(format!("batch line {line_number}: not a valid request: {e}"))
                    .hint("each line must be {\"id\": ..., \"tool\": \"server__tool\", \"arguments\": {...}}")),
            );
        }
    };
    let id = request.id.map(RawId::from);
    let arguments = request
        .arguments
        .unwrap_or_else(|| Value::Object(Map::new()));
    // Only the name is looked at per line; each server is resolved and connected once.
    let split = split_name(app, &request.tool);
    let names = split.as_ref().ok().cloned();
    let outcome = async {
        let (server, tool) = split?;
        let cell = {
            let mut map = servers.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(server.clone()).or_default().clone()
        };
        let ready = cell
            .get_or_init(|| async {
                let server = app.config.server(&server)?;
                Ready::open(server, app, validate).await.map(Arc::new)
            })
            .await
            .clone()?;
        ready.call(id.clone(), &tool, arguments).await
    }
    .await;
    let outcome = outcome.map_err(|mut failure| {
        failure.message = format!("batch line {line_number}: {}", failure.message);
        failure
    });
    (id, names, outcome)
}

/// Property tests over batch lines: any JSON id, however spaced, comes back as written.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn space() -> impl Strategy<Value = String> {
        "[ \t]{0,2}"
    }

    /// JSON text with odd spacing, numbers no f64 can hold, and escapes.
    fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            "-?(0|[1-9][0-9]{0,40})(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,4})?",
            "\\PC{0,10}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
            Just(r#""\u00e9\/\ud83d\ude00\"""#.to_string()),
            Just("true".to_string()),
            Just("null".to_string()),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec((space(), inner.clone()), 0..4).prop_map(|items| {
                    let items: Vec<String> = items
                        .into_iter()
                        .map(|(s, v)| format!("{s}{v}{s}"))
                        .collect();
                    format!("[{}]", items.join(","))
                }),
                prop::collection::vec(("[a-z]{1,4}", space(), inner), 0..4).prop_map(|items| {
                    let items: Vec<String> = items
                        .into_iter()
                        .map(|(k, s, v)| format!("{s}\"{k}\"{s}:{s}{v}"))
                        .collect();
                    format!("{{{}}}", items.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_json_id_is_kept_byte_for_byte(id in json_text(), extra in any::<bool>()) {
            let line = if extra {
                format!(r#"{{"tool": "s__t", "id":{id} , "bogus": 1}}"#)
            } else {
                format!(r#"{{"tool": "s__t", "id":{id} , "arguments": {{}}}}"#)
            };
            let raw = if extra {
                prop_assert!(serde_json::from_str::<Request>(&line).is_err());
                serde_json::from_str::<IdOnly>(&line).ok().and_then(|only| only.id)
            } else {
                serde_json::from_str::<Request>(&line)
                    .map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?
                    .id
            };
            let raw = raw.map(RawId::from);
            prop_assert_eq!(raw.as_ref().map(RawId::as_str), Some(id.as_str()));
            // And it is written out as is.
            let written = serde_json::to_string(&raw).unwrap_or_default();
            prop_assert_eq!(written, id);
        }

        #[test]
        fn any_line_parses_or_fails_without_panicking(line in "[{}\\[\\]\":,a-z0-9. \\\\]{0,60}") {
            let _ = serde_json::from_str::<Request>(&line);
            let _ = serde_json::from_str::<IdOnly>(&line);
        }
    }
}
