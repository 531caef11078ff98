//! Reading a batch: stdin line by line, each line this shard owns given its own task (after
//! its turn, holding a `--jobs` permit while it runs), at most [`READ_AHEAD`] lines read ahead
//! of their answers, finished tasks reaped as it goes so memory stays flat on long inputs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::lines::Line;
use super::progress::{IncOnDrop, requests_in_stdin_file};
use super::replies::{self, Outstanding};
use super::run::Servers;
use super::turns::{Turn, Turns, server_of};
use super::{Checks, Options};
use crate::cli::Shard;
use crate::commands::App;
use crate::exit::{Code, Failure};

/// How many lines may be read ahead of their answers: lines waiting for their turn on a
/// busy server do not stop lines for other servers, and memory stays bounded.
const READ_AHEAD: usize = 4096;

/// What every request task of one batch shares.
pub(super) struct State {
    pub app: Arc<App>,
    /// Bounds the calls in flight to `--jobs`.
    semaphore: Arc<Semaphore>,
    /// Bounds the lines read but not answered to [`READ_AHEAD`] (at least `--jobs`).
    ahead: Arc<Semaphore>,
    /// One session per server, opened by the first request that names it.
    pub servers: Arc<Servers>,
    /// The exit code so far: the worst of all requests.
    pub worst: Arc<std::sync::Mutex<Code>>,
    pub outstanding: Outstanding,
    pub bar: indicatif::ProgressBar,
}

impl State {
    /// Fresh state; the progress bar knows the total only when stdin is a file it can count.
    pub(super) fn new(app: &App, jobs: usize, shard: Option<Shard>) -> State {
        let app = Arc::new(app.clone());
        let bar = app.context.progress.batch_bar(
            app.context
                .progress
                .is_drawn()
                .then(|| requests_in_stdin_file(shard))
                .flatten(),
        );
        State {
            app,
            semaphore: Arc::new(Semaphore::new(jobs)),
            ahead: Arc::new(Semaphore::new(READ_AHEAD.max(jobs))),
            servers: Arc::new(Servers::new(HashMap::new())),
            worst: Arc::new(std::sync::Mutex::new(Code::Success)),
            outstanding: Arc::new(std::sync::Mutex::new(Some(BTreeMap::new()))),
            bar,
        }
    }
}

type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>;

/// Read stdin to its end, spawning one task per owned request (`--jobs` calls at a time), then
/// wait for them all. Sets `broken` and stops reading once stdout is gone.
pub(super) async fn dispatch(
    state: &State,
    tasks: &mut tokio::task::JoinSet<bool>,
    broken: &mut bool,
    options: &Options,
) -> anyhow::Result<()> {
    let stdin = tokio::io::stdin();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdin));
    let mut line_number = 0usize;
    let mut turns = Turns::default();
    let checks = Checks {
        validate: options.validate,
        ordered: options.ordered,
    };
    while let Some(text) = next_line(state, &mut lines).await {
        line_number += 1;
        if !owned(options.shard, line_number, &text) {
            continue;
        }
        replies::accept(&state.outstanding, line_number, &text);
        let ahead = state.ahead.clone().acquire_owned().await?;
        let turn = match options.ordered {
            true => turns.next(server_of(&state.app, &text)),
            false => Turn::default(),
        };
        let line = Line {
            text,
            number: line_number,
        };
        spawn_answer(state, tasks, (ahead, turn), line, checks);
        // Reap finished tasks as we go so memory stays flat on long inputs.
        while let Some(done) = tasks.try_join_next() {
            *broken |= done.unwrap_or(false);
        }
        if *broken {
            break;
        }
    }
    while let Some(done) = tasks.join_next().await {
        *broken |= done.unwrap_or(false);
    }
    Ok(())
}

/// Whether line `line_number` (1-based) is a request this run answers: not blank, and the
/// shard's. Numbers stay those of the whole input, so ids and `batch line N` match any shard's.
fn owned(shard: Option<Shard>, line_number: usize, line: &str) -> bool {
    shard.is_none_or(|shard| shard.owns(line_number - 1)) && !line.trim().is_empty()
}

/// The next line of stdin, or None at its end; a read error is reported as an `error` line
/// (and counts toward the exit code) and ends the input there.
async fn next_line(state: &State, lines: &mut Lines) -> Option<String> {
    match lines.next_line().await {
        Ok(line) => line,
        Err(e) => {
            let failure = Failure::usage(format!("cannot read batch requests from stdin: {e}"));
            replies::record(&state.app, &state.worst, None, None, &failure);
            None
        }
    }
}

/// Answer one request line in its own task: after its turn, holding a `--jobs` permit while
/// it runs, and ticking the progress bar however the task ends.
fn spawn_answer(
    state: &State,
    tasks: &mut tokio::task::JoinSet<bool>,
    (ahead, turn): (OwnedSemaphorePermit, Turn),
    line: Line<String>,
    checks: Checks,
) {
    let app = state.app.clone();
    let servers = state.servers.clone();
    let worst = state.worst.clone();
    let outstanding = state.outstanding.clone();
    let bar = state.bar.clone();
    let jobs = state.semaphore.clone();
    tasks.spawn(async move {
        let _ahead = ahead;
        let _done = IncOnDrop(bar);
        let Turn { after, done } = turn;
        if let Some(after) = after {
            // An error only means the line before is gone (answered or aborted): go on.
            let _ = after.await;
        }
        let Ok(_permit) = jobs.acquire_owned().await else {
            return false;
        };
        let line = Line {
            text: line.text.as_str(),
            number: line.number,
        };
        let broken = replies::answer(&app, &servers, &worst, &outstanding, line, checks).await;
        // Printed first: the next line for this server starts after this one's answer.
        drop(done);
        broken
    });
}
