//! What a batch prints for each line: its `tool_result` or `error` line, printed under the
//! lock of the lines still open so an interruption reports each unanswered line exactly once
//! (in input order, with its id); and the exit code, the worst of all lines.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Checks;
use super::lines::{self, Line};
use super::run::{Servers, run_line};
use crate::commands::App;
use crate::events::{ErrorInfo, Event, RawId};
use crate::exit::{Code, Failure, Kind};
use crate::report;

/// Batch requests read but not answered yet: line number -> the request's `id`, if it has
/// one. `None` once the batch was interrupted and the rest were reported.
pub(super) type Outstanding = Arc<std::sync::Mutex<Option<BTreeMap<usize, Option<RawId>>>>>;

/// A line read: open until it is answered.
pub(super) fn accept(outstanding: &Outstanding, line_number: usize, line: &str) {
    // The id as written, like every other line of the batch.
    let id = lines::id_of(line);
    if let Some(waiting) = outstanding
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
    {
        waiting.insert(line_number, id);
    }
}

/// Run one request and print its answer, unless an interruption reported it already.
/// Returns true when stdout is gone.
pub(super) async fn answer(
    app: &App,
    servers: &Servers,
    worst: &std::sync::Mutex<Code>,
    outstanding: &Outstanding,
    line: Line<&str>,
    checks: Checks,
) -> bool {
    let (id, tool, outcome) = run_line(app, servers, line, checks).await;
    // Answered and printed under the lock, so an interruption never reports a request twice
    // or misses one.
    let mut open = outstanding.lock().unwrap_or_else(|e| e.into_inner());
    let Some(waiting) = open.as_mut() else {
        return false;
    };
    waiting.remove(&line.number);
    match outcome {
        Ok(result) => {
            if result.is_error {
                raise(worst, Code::TaskFailed);
            }
            app.output.emit(&Event::ToolResult(result)).is_err()
        }
        Err(failure) => record(app, worst, id, tool, &failure),
    }
}

/// After a signal: an `interrupted` error line for every request still without an answer, in
/// input order, so the caller can re-run exactly those. Returns true when stdout is gone.
pub(super) fn report_unanswered(app: &App, outstanding: &Outstanding) -> bool {
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

/// Print an `error` line for one request; returns true when stdout is gone.
pub(super) fn record(
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

/// The exit code so far becomes `code` if that is worse.
fn raise(worst: &std::sync::Mutex<Code>, code: Code) {
    let mut worst = worst.lock().unwrap_or_else(|e| e.into_inner());
    if code > *worst {
        *worst = code;
    }
}
