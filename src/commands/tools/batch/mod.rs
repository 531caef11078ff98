//! `tools call --batch`: JSON Lines requests from stdin, one session per server, `--jobs`
//! calls at a time, one line per request in completion order; request ids come back byte for
//! byte, and an interruption reports every request still without an answer. The lines for one
//! server run one after another in input order (a stateful flow: navigate, click, snapshot),
//! unless `--unordered`; lines for different servers run concurrently. A line's `answers`
//! answer the forms its server asks for while that line runs (`elicit::lines`).
//!
//! Parts: this file runs a batch from start to end; `dispatch` reads stdin and gives each line
//! its task, `turns` keeps each server's lines in order, `run` answers one line (its server
//! opened once), `lines` is what a line may say, `replies` what the batch prints for each
//! line (and the exit code), `answers` a line's `answers`, `progress` the batch's bar.

use std::io::IsTerminal;

use crate::cli::Shard;
use crate::exit::{Code, Failure, Kind};
use crate::report;

use crate::commands::App;

mod answers;
mod dispatch;
mod lines;
mod progress;
mod replies;
mod run;
mod turns;

use dispatch::State;

/// How a batch runs.
pub(super) struct Options {
    /// Calls at a time, across servers.
    pub jobs: usize,
    /// Only this shard's lines.
    pub shard: Option<Shard>,
    /// Check arguments against the tool's schema first.
    pub validate: bool,
    /// Lines for one server one after another, in input order.
    pub ordered: bool,
}

/// What each line is held to: its arguments checked first, its server's lines in order.
#[derive(Clone, Copy)]
struct Checks {
    validate: bool,
    ordered: bool,
}

/// `tools call --batch`: JSONL requests from stdin (only the `shard`'s lines, if given), one
/// session per server, `jobs` calls at a time, one line per request in completion order.
pub(super) async fn batch(app: &App, options: Options) -> anyhow::Result<Code> {
    refuse_terminal_stdin()?;
    let jobs = jobs_within_budget(app, options.jobs);
    let state = State::new(app, jobs, options.shard);
    let mut tasks = tokio::task::JoinSet::new();
    let mut broken = false;
    let interrupted = tokio::select! {
        done = dispatch::dispatch(&state, &mut tasks, &mut broken, &options) => { done?; None }
        what = crate::interrupt::wait() => Some(what),
    };
    state.bar.finish_and_clear();
    if interrupted.is_some() {
        broken |= replies::report_unanswered(&state.app, &state.outstanding);
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    run::close_all(&state.servers).await;
    if broken {
        return Err(crate::exit::BrokenPipe.into());
    }
    if let Some(what) = interrupted {
        return Err(Failure::new(Kind::Interrupted, what).into());
    }
    let code = *state.worst.lock().unwrap_or_else(|e| e.into_inner());
    Ok(code)
}

/// The most reply bytes the calls in flight may hold at once, counted at each server's cap:
/// 16 calls of 16 MiB, the defaults. Each reply also costs at most twice its cap parsed
/// (`json_cost`), so this bounds a batch's memory whatever its peers send.
const BATCH_REPLY_BYTES: usize = 256 * 1024 * 1024;

/// `--jobs`, lowered (with a note) when that many replies at the largest cap of the configured
/// servers would pass [`BATCH_REPLY_BYTES`].
fn jobs_within_budget(app: &App, jobs: usize) -> usize {
    let cap = app
        .config
        .server_names()
        .into_iter()
        .filter_map(|name| app.config.server(name).ok())
        .map(|server| server.max_message_bytes)
        .max()
        .unwrap_or(crate::mcp::DEFAULT_MAX_MESSAGE_BYTES)
        .max(1);
    let most = (BATCH_REPLY_BYTES / cap).max(1);
    if jobs <= most {
        return jobs;
    }
    report::notice(&format!(
        "--jobs {jobs} lowered to {most}: a batch holds at most {} of replies at once, and each may be {} (--max-message-bytes); a lower cap allows more jobs",
        crate::mcp::human_bytes(BATCH_REPLY_BYTES as u64),
        crate::mcp::human_bytes(cap as u64),
    ));
    most
}

/// A terminal on stdin means the user forgot the requests: say how to give them rather than
/// wait for typing.
fn refuse_terminal_stdin() -> anyhow::Result<()> {
    if std::io::stdin().is_terminal() {
        return Err(Failure::usage("--batch reads JSON Lines requests from stdin, but stdin is a terminal")
            .hint("echo '{\"id\": 1, \"tool\": \"server__tool\", \"arguments\": {}}' | mcpchat tools call --batch")
            .into());
    }
    Ok(())
}
