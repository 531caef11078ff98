//! `tools call --batch`: JSON Lines requests from stdin, one session per server, `--jobs`
//! calls at a time, one line per request in completion order; request ids come back byte for
//! byte, and an interruption reports every request still without an answer. The lines for one
//! server run one after another in input order (a stateful flow: navigate, click, snapshot),
//! unless `--unordered`; lines for different servers run concurrently. A line's `answers`
//! answer the forms its server asks for while that line runs (`elicit::lines`).

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::{OnceCell, Semaphore, oneshot};

use super::ready::Ready;
use super::split_name;
use crate::cli::Shard;
use crate::events::{ErrorInfo, Event, RawId, ToolResult};
use crate::exit::{Code, Failure, Kind};
use crate::report;

use crate::commands::App;

mod answers;

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
    /// Answers to the forms the server asks for while this line runs: one object of field
    /// values, or an array of them in order.
    #[serde(default, deserialize_with = "answers::parse")]
    answers: Option<Vec<Map<String, Value>>>,
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

/// Just the tool a request names, to know its server before it runs.
#[derive(serde::Deserialize)]
struct ToolOnly {
    #[serde(alias = "name")]
    tool: String,
}

type Shared = Arc<OnceCell<Result<Arc<Ready>, Failure>>>;

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
        done = dispatch(&state, &mut tasks, &mut broken, &options) => { done?; None }
        what = crate::interrupt::wait() => Some(what),
    };
    state.bar.finish_and_clear();
    if interrupted.is_some() {
        broken |= report_unanswered(&state.app, &state.outstanding);
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    close_all(&state.servers).await;
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

/// How many lines may be read ahead of their answers: lines waiting for their turn on a
/// busy server do not stop lines for other servers, and memory stays bounded.
const READ_AHEAD: usize = 4096;

/// What every request task of one batch shares.
struct State {
    app: Arc<App>,
    /// Bounds the calls in flight to `--jobs`.
    semaphore: Arc<Semaphore>,
    /// Bounds the lines read but not answered to [`READ_AHEAD`] (at least `--jobs`).
    ahead: Arc<Semaphore>,
    /// One session per server, opened by the first request that names it.
    servers: Arc<std::sync::Mutex<HashMap<String, Shared>>>,
    /// The exit code so far: the worst of all requests.
    worst: Arc<std::sync::Mutex<Code>>,
    outstanding: Outstanding,
    bar: indicatif::ProgressBar,
}

impl State {
    /// Fresh state; the progress bar knows the total only when stdin is a file it can count.
    fn new(app: &App, jobs: usize, shard: Option<Shard>) -> State {
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
            servers: Arc::default(),
            worst: Arc::new(std::sync::Mutex::new(Code::Success)),
            outstanding: Arc::new(std::sync::Mutex::new(Some(BTreeMap::new()))),
            bar,
        }
    }
}

type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>;

/// Read stdin to its end, spawning one task per owned request (`--jobs` calls at a time), then
/// wait for them all. Sets `broken` and stops reading once stdout is gone.
async fn dispatch(
    state: &State,
    tasks: &mut tokio::task::JoinSet<bool>,
    broken: &mut bool,
    options: &Options,
) -> anyhow::Result<()> {
    let stdin = tokio::io::stdin();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdin));
    let mut line_number = 0usize;
    let mut turns = Turns::default();
    while let Some(line) = next_line(state, &mut lines).await {
        line_number += 1;
        // Numbers stay those of the whole input, so ids and `batch line N` match any shard's.
        if options
            .shard
            .is_some_and(|shard| !shard.owns(line_number - 1))
            || line.trim().is_empty()
        {
            continue;
        }
        accept(&state.outstanding, line_number, &line);
        let ahead = state.ahead.clone().acquire_owned().await?;
        let turn = match options.ordered {
            true => turns.next(server_of(&state.app, &line)),
            false => Turn::default(),
        };
        let line = Line {
            text: line,
            number: line_number,
        };
        let checks = Checks {
            validate: options.validate,
            ordered: options.ordered,
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

/// The next line of stdin, or None at its end; a read error is reported as an `error` line
/// (and counts toward the exit code) and ends the input there.
async fn next_line(state: &State, lines: &mut Lines) -> Option<String> {
    match lines.next_line().await {
        Ok(line) => line,
        Err(e) => {
            let failure = Failure::usage(format!("cannot read batch requests from stdin: {e}"));
            record(&state.app, &state.worst, None, None, &failure);
            None
        }
    }
}

/// The server a request line names, when it names one we can tell: the key of its turn.
fn server_of(app: &App, line: &str) -> Option<String> {
    let only = serde_json::from_str::<ToolOnly>(line).ok()?;
    split_name(app, &only.tool).ok().map(|(server, _)| server)
}

/// The order of the lines for each server: each line waits for the one before it.
#[derive(Default)]
struct Turns {
    /// Per server, what the last line given a turn drops when it is done.
    last: HashMap<String, oneshot::Receiver<()>>,
}

impl Turns {
    /// The turn of the next line for `server` (a line without a known server needs none).
    fn next(&mut self, server: Option<String>) -> Turn {
        let Some(server) = server else {
            return Turn::default();
        };
        let (done, finished) = oneshot::channel();
        Turn {
            after: self.last.insert(server, finished),
            done: Some(done),
        }
    }
}

/// A line's place in its server's order: it starts once `after` resolves (the line before it
/// is answered, or its task is gone), and its own `done` is dropped when it is answered.
#[derive(Default)]
struct Turn {
    after: Option<oneshot::Receiver<()>>,
    done: Option<oneshot::Sender<()>>,
}

/// Answer one request line in its own task: after its turn, holding a `--jobs` permit while
/// it runs, and ticking the progress bar however the task ends.
fn spawn_answer(
    state: &State,
    tasks: &mut tokio::task::JoinSet<bool>,
    (ahead, turn): (tokio::sync::OwnedSemaphorePermit, Turn),
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
        let broken = answer(&app, &servers, &worst, &outstanding, line, checks).await;
        // Printed first: the next line for this server starts after this one's answer.
        drop(done);
        broken
    });
}

/// One request line and its 1-based number in the whole input.
#[derive(Clone, Copy)]
struct Line<T> {
    text: T,
    number: usize,
}

/// Run one request and print its answer, unless an interruption reported it already.
/// Returns true when stdout is gone.
async fn answer(
    app: &App,
    servers: &std::sync::Mutex<HashMap<String, Shared>>,
    worst: &std::sync::Mutex<Code>,
    outstanding: &Outstanding,
    line: Line<&str>,
    checks: Checks,
) -> bool {
    let (id, tool, outcome) = run_line(app, servers, line.text, line.number, checks).await;
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
    checks: Checks,
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
    let answers = request.answers;
    let arguments = request
        .arguments
        .unwrap_or_else(|| Value::Object(Map::new()));
    // Only the name is looked at per line; each server is resolved and connected once.
    let split = split_name(app, &request.tool);
    let names = split.as_ref().ok().cloned();
    let outcome = async {
        let (server, tool) = split?;
        if answers.is_some() {
            answers::allowed(app, checks.ordered)?;
        }
        let cell = {
            let mut map = servers.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(server.clone()).or_default().clone()
        };
        let ready = cell
            .get_or_init(|| async {
                let server = app.config.server(&server)?;
                Ready::open(server, app, checks.validate)
                    .await
                    .map(Arc::new)
            })
            .await
            .clone()?;
        let call = ready.call(id.clone(), &tool, arguments);
        answers::with_answers(app, &server, line_number, answers, call).await
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
