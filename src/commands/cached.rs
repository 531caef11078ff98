//! `--cached` for the list commands (`tools list`, `prompts list`, `resources list`,
//! `resources templates`): the lines come from the cache, no server is contacted.
//!
//! Guarantee: a server without a fresh entry gets an `error` line and makes the command exit 4
//! naming it; the others' lines are exactly what the live listing printed.

use serde::de::DeserializeOwned;

use crate::cache::{Key, ListKind};
use crate::config::ServerConfig;
use crate::events::Event;
use crate::exit::{Code, Failure, Kind};

use super::App;
use super::server_error;

/// Print each selected server's cached list of `kind` as `lines` turns it into events.
pub fn list<T: DeserializeOwned>(
    app: &App,
    kind: ListKind,
    lines: impl Fn(&ServerConfig, Vec<T>) -> Vec<Event>,
) -> anyhow::Result<Code> {
    let selected = app.config.select(&app.selected)?;
    let mut missing = Vec::new();
    let mut broken = None;
    for selected in selected {
        if let Err(failure) = &selected.server {
            // A config error says more than "nothing cached" would.
            app.output
                .emit(&Event::Error(server_error(&selected.name, failure)))?;
            broken.get_or_insert_with(|| failure.clone());
            continue;
        }
        let cached = selected.server.as_ref().ok().and_then(|server| {
            let key = Key::of(server, &app.context.store);
            app.context
                .cache
                .list(&key, kind)
                .map(|items| (server, items))
        });
        let Some((server, items)) = cached else {
            let failure = Failure::new(
                Kind::Unreachable,
                format!(
                    "no cached {} list for MCP server `{}`",
                    kind.noun(),
                    selected.name
                ),
            );
            app.output
                .emit(&Event::Error(server_error(&selected.name, &failure)))?;
            missing.push(selected.name);
            continue;
        };
        for event in lines(server, items) {
            app.output.emit(&event)?;
        }
    }
    if let Some(failure) = broken {
        return Err(failure.into());
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
        format!(
            "no cached {} list (or only a stale one) for MCP server(s) {names}",
            kind.noun()
        ),
    )
    .hint(format!(
        "`mcpchat {}` lists them live and fills the cache",
        live_command(kind)
    ))
    .into())
}

fn live_command(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Tools => "tools list",
        ListKind::Prompts => "prompts list",
        ListKind::Resources => "resources list",
        ListKind::Templates => "resources templates",
    }
}
