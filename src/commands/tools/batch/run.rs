//! Answering one batch line: read it, open its server (once per batch, by the first line that
//! names it; the lines after share the session or its failure), call the tool with the line's
//! `answers` offered to the forms it asks for; and closing every server at the end.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use super::Checks;
use super::answers;
use super::lines::{self, Line, Request};
use crate::commands::App;
use crate::commands::tools::ready::Ready;
use crate::commands::tools::split_name;
use crate::events::{RawId, ToolResult};
use crate::exit::Failure;

/// A server's session, opened by the first line that names it (or why it could not be).
type Shared = Arc<OnceCell<Result<Arc<Ready>, Failure>>>;

/// The batch's servers by name.
pub(super) type Servers = std::sync::Mutex<HashMap<String, Shared>>;

/// What one line came to: its id, its server and tool (when the name splits), its outcome.
pub(super) type Outcome = (
    Option<RawId>,
    Option<(String, String)>,
    Result<ToolResult, Failure>,
);

/// Run one request line; a failure's message starts with `batch line N: `.
pub(super) async fn run_line(
    app: &App,
    servers: &Servers,
    line: Line<&str>,
    checks: Checks,
) -> Outcome {
    let request = match lines::parse(line) {
        Ok(request) => request,
        Err((id, failure)) => return (id, None, Err(failure)),
    };
    let id = request.id.clone().map(RawId::from);
    // Only the name is looked at per line; each server is resolved and connected once.
    let split = split_name(app, &request.tool);
    let names = split.as_ref().ok().cloned();
    let outcome = async {
        let (server, tool) = split?;
        call(
            app,
            servers,
            (&server, &tool),
            request,
            (line.number, checks),
        )
        .await
    }
    .await;
    let outcome = outcome.map_err(|mut failure| {
        failure.message = format!("batch line {}: {}", line.number, failure.message);
        failure
    });
    (id, names, outcome)
}

/// Call `tool` on `server` (opened if this is its first line) with the request's arguments
/// and answers.
async fn call(
    app: &App,
    servers: &Servers,
    (server, tool): (&str, &str),
    request: Request,
    (line_number, checks): (usize, Checks),
) -> Result<ToolResult, Failure> {
    if request.answers.is_some() {
        answers::allowed(app, checks.ordered)?;
    }
    let ready = open(app, servers, server, checks.validate).await?;
    let arguments = request
        .arguments
        .unwrap_or_else(|| Value::Object(Map::new()));
    let call = ready.call(request.id.map(RawId::from), tool, arguments);
    answers::with_answers(app, server, line_number, request.answers, call).await
}

/// The session of `server`: opened by the first line that names it, shared by the rest.
async fn open(
    app: &App,
    servers: &Servers,
    server: &str,
    validate: bool,
) -> Result<Arc<Ready>, Failure> {
    let cell = {
        let mut map = servers.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(server.to_string()).or_default().clone()
    };
    cell.get_or_init(|| async {
        let server = app.config.server(server)?;
        Ready::open(server, app, validate).await.map(Arc::new)
    })
    .await
    .clone()
}

/// Close every session the batch opened, at once.
pub(super) async fn close_all(servers: &Servers) {
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
