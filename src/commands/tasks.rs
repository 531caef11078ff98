//! `tools call --task` and `tasks list|get|result|cancel`.
//!
//! A task id is the server's own; which server it belongs to is remembered when `tools call
//! --task` starts it (`<data dir>/mcpchat/tasks.json`, with the tool's name), so later commands
//! need no `--server`. For ids mcpchat did not start, `--server` (or a single selected server)
//! says where to ask.

use std::time::Instant;

use serde_json::{Map, Value};

use crate::cli::TasksCommand;
use crate::events::{Event, TaskInfo};
use crate::exit::{Code, Failure, Kind};
use crate::mcp::{Session, TaskState};
use crate::report;

use super::App;
use super::each::each_server_resuming;
use super::tools::result_event;

mod records;

pub use records::Record;

pub async fn tasks(app: &App, command: &TasksCommand) -> anyhow::Result<Code> {
    match command {
        TasksCommand::List => list(app).await,
        TasksCommand::Get(args) => {
            let (session, _) = open(app, &args.id).await?;
            let outcome = session.get_task(&args.id).await;
            finish(app, session, outcome).await
        }
        TasksCommand::Cancel(args) => {
            let (session, _) = open(app, &args.id).await?;
            let outcome = session.cancel_task(&args.id).await;
            finish(app, session, outcome).await
        }
        TasksCommand::Result(args) => result(app, &args.id).await,
    }
}

/// `tools call --task`: start the call, print the task line at once, remember the task.
pub async fn start(
    app: &App,
    session: Session,
    tool: &str,
    arguments: Map<String, Value>,
) -> anyhow::Result<Code> {
    let outcome = session.start_task(tool, arguments).await;
    if let Ok(state) = &outcome {
        records::remember(Record::new(
            session.name(),
            tool,
            &state.task_id,
            session.keep_open(),
        ));
    }
    finish(app, session, outcome).await
}

/// Print the task line (or end with the failure) and close the session.
async fn finish(
    app: &App,
    session: Session,
    outcome: Result<TaskState, Failure>,
) -> anyhow::Result<Code> {
    app.context.progress.clear();
    let printed = match &outcome {
        Ok(state) => app
            .output
            .emit(&Event::Task(task_info(session.name(), state))),
        Err(_) => Ok(()),
    };
    session.close().await;
    outcome?;
    printed?;
    Ok(Code::Success)
}

/// `tasks result`: wait for the end, then the same `tool_result` line a plain call prints.
async fn result(app: &App, id: &str) -> anyhow::Result<Code> {
    let started = Instant::now();
    let (session, record) = open(app, id).await?;
    let outcome = async {
        let state = session.get_task(id).await?;
        let tool = record.as_ref().map(|r| r.tool.clone()).unwrap_or_default();
        session.task_result(state, &tool).await
    }
    .await;
    app.context.progress.clear();
    let tool = record.map(|r| r.tool).unwrap_or_default();
    let (printed, is_error) = match outcome {
        Ok(result) => {
            let is_error = result.is_error;
            let event = result_event(None, session.name(), &tool, result, started);
            (app.output.emit(&Event::ToolResult(event)), Ok(is_error))
        }
        Err(failure) => (Ok(()), Err(failure)),
    };
    session.close().await;
    let is_error = is_error?;
    printed?;
    if is_error {
        report::warning(&Failure::new(
            Kind::ToolError,
            format!("task `{id}` ended with a tool error (isError)"),
        ));
        return Ok(Code::TaskFailed);
    }
    Ok(Code::Success)
}

/// Connect to the server a task belongs to (resuming the HTTP session it was started in).
async fn open(app: &App, id: &str) -> Result<(Session, Option<Record>), Failure> {
    let record = records::find(id);
    let server = match &record {
        Some(record) if app.selected.is_empty() || app.selected.contains(&record.server) => {
            record.server.clone()
        }
        _ => only_server(app, id)?,
    };
    let config = app.config.server(&server)?;
    let resume = record
        .as_ref()
        .filter(|r| r.server == server)
        .and_then(|r| r.session.clone());
    let session = crate::daemon::connect(app, config, resume).await?;
    Ok((session, record))
}

fn only_server(app: &App, id: &str) -> Result<String, Failure> {
    let servers = app.config.selected_names(&app.selected)?;
    if let [only] = servers.as_slice() {
        return Ok(only.clone());
    }
    Err(Failure::usage(format!(
        "task `{id}` was not started by mcpchat here, so its server is unknown"
    ))
    .hint(format!(
        "name it: --server SERVER (servers: {})",
        servers.join(", ")
    )))
}

async fn list(app: &App) -> anyhow::Result<Code> {
    // Tasks may live in the session that started them: look there.
    each_server_resuming(app, records::latest_session, async |session: &Session| {
        let tasks = session.list_tasks().await?;
        Ok(tasks
            .iter()
            .map(|t| Event::Task(task_info(session.name(), t)))
            .collect())
    })
    .await
}

pub fn task_info(server: &str, state: &TaskState) -> TaskInfo {
    TaskInfo {
        server: server.to_string(),
        task_id: state.task_id.clone(),
        status: state.status.clone(),
        status_message: state.status_message.clone(),
        created_at: state.created_at.clone(),
        last_updated_at: state.last_updated_at.clone(),
        ttl_ms: state.ttl_ms,
        poll_interval_ms: state.poll_interval_ms,
    }
}
