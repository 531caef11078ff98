//! A batch line's `answers`: parsed with the line, allowed only where an elicitation can be
//! told to its line (lines of one server in order, elicitation declared), and offered to the
//! forms the line's server asks for while its call runs (`elicit::lines`).

use serde_json::{Map, Value};

use crate::commands::App;
use crate::events::ToolResult;
use crate::exit::Failure;

/// A line's `answers`: one object of field values, or an array of them.
pub(super) fn parse<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<Map<String, Value>>>, D::Error> {
    let value: Value = serde::Deserialize::deserialize(d)?;
    crate::elicit::lines::parse(value)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A line's `answers` can be told to its server's elicitations only when that server runs
/// one line at a time; and they need a mode that lets servers ask.
pub(super) fn allowed(app: &App, ordered: bool) -> Result<(), Failure> {
    if !ordered {
        return Err(Failure::usage(
            "a line's `answers` needs the lines of each server in input order, and --unordered runs them at once",
        )
        .hint("drop --unordered, or give the answers with --answers"));
    }
    if !app.context.elicitor.mode.declares() {
        return Err(Failure::usage(
            "a line's `answers` are used only when servers may ask, and elicitation is declined",
        )
        .hint("add --elicitation answers"));
    }
    Ok(())
}

/// Run `call` with the line's `answers` (if any) offered to the forms `server` asks for
/// meanwhile; an answer that did not fit fails the line with its JSON path.
pub(super) async fn with_answers(
    app: &App,
    server: &str,
    line_number: usize,
    answers: Option<Vec<Map<String, Value>>>,
    call: impl std::future::Future<Output = Result<ToolResult, Failure>>,
) -> Result<ToolResult, Failure> {
    let Some(answers) = answers else {
        return call.await;
    };
    let elicitor = &app.context.elicitor;
    elicitor.begin_line(server, line_number, answers);
    let outcome = call.await;
    match elicitor.end_line(server) {
        Some(misfit) => Err(misfit),
        None => outcome,
    }
}
