//! `serve --record FILE`: every MCP message between `serve` and its hosts, one JSON object a
//! line (`dir`, `time`, `ms`, `pid`, `connection`, `server`, `message`), for `serve --replay`
//! or for reading. Runs append to the file, so one recording can hold the sessions of several
//! commands (a CI script's); `pid` and `connection` tell the sessions apart. The taps sit where every host message passes: the line wire (stdio, socket) and
//! the HTTP gate.
//!
//! Guarantees: each message is masked by `redact::json_line` before it is written, so no
//! registered secret (an upstream's `?token=`, header or OAuth token) reaches the file; the
//! file is created 0600 (an existing one is tightened to 0600 and appended to), never written
//! through a symbolic link (`O_NOFOLLOW`: a link is refused, exit 2), and each line is
//! appended whole with one `write` (`O_APPEND`) as it happens, so a killed `serve` leaves every line it
//! recorded. A failing write is reported once and `serve` goes on unrecorded.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use hyper::body::{Body, Bytes, Frame};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::exit::Failure;

/// The recording of this process, when `--record` was given: one `serve` per process.
static RECORDER: OnceLock<Recorder> = OnceLock::new();

struct Recorder {
    file: Mutex<File>,
    started: Instant,
    connections: AtomicU64,
    /// The lone upstream, when there is one: every message concerns it.
    server: OnceLock<String>,
    failed: AtomicBool,
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    HostToServe,
    ServeToHost,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::HostToServe => "host_to_serve",
            Direction::ServeToHost => "serve_to_host",
        }
    }
}

/// One line of a recording.
#[derive(Serialize)]
struct Entry<'a> {
    dir: &'static str,
    time: String,
    ms: u128,
    pid: u32,
    connection: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a str>,
    message: &'a RawValue,
}

/// Start recording to `path` (see the module docs); exit 2 when it cannot be opened.
pub fn start(path: &Path) -> Result<(), Failure> {
    let file = open(path).map_err(|e| {
        let failure = Failure::usage(format!(
            "cannot write the recording {}: {e}",
            path.display()
        ));
        if e.raw_os_error() == Some(libc::ELOOP) {
            failure.hint("it is a symbolic link; serve records only to a file it opens itself")
        } else {
            failure
        }
    })?;
    let recorder = Recorder {
        file: Mutex::new(file),
        started: Instant::now(),
        connections: AtomicU64::new(0),
        server: OnceLock::new(),
        failed: AtomicBool::new(false),
    };
    RECORDER
        .set(recorder)
        .map_err(|_| Failure::usage("serve records to one file at a time"))
}

/// The file, 0600, for appending, not through a link, and a plain file (not a FIFO or a
/// device).
fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        crate::private_file::create_dir(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    // An existing file keeps its mode through the open; a recording holds what the hosts and
    // the servers said, so it is the user's alone.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Name the lone upstream: every message of the recording concerns it.
pub fn lone_server(name: &str) {
    if let Some(recorder) = RECORDER.get() {
        let _ = recorder.server.set(name.to_string());
    }
}

/// A host connection's tap: `None` when not recording.
#[derive(Debug, Clone)]
pub struct Tap {
    connection: Value,
}

/// A new host connection, numbered from 1 (`None` when not recording).
pub fn connection() -> Option<Tap> {
    let recorder = RECORDER.get()?;
    let number = recorder.connections.fetch_add(1, Ordering::Relaxed) + 1;
    Some(Tap {
        connection: Value::from(number),
    })
}

/// The tap of one HTTP request: its host session's id when it names one (`Mcp-Session-Id`),
/// else a new number (an `initialize`, a stateless request). `None` when not recording.
pub fn http_exchange(headers: &hyper::HeaderMap) -> Option<Tap> {
    let session = headers
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok());
    match session {
        Some(session) => {
            RECORDER.get()?;
            Some(Tap {
                connection: Value::from(session),
            })
        }
        None => connection(),
    }
}

impl Tap {
    /// Record one message (JSON text) that went `direction`.
    pub fn note(&self, direction: Direction, text: &str) {
        let Some(recorder) = RECORDER.get() else {
            return;
        };
        let masked = crate::redact::json_line(text.trim());
        let Ok(message) = serde_json::from_str::<&RawValue>(&masked) else {
            tracing::debug!("not recorded: a message that is not JSON");
            return;
        };
        let entry = Entry {
            dir: direction.as_str(),
            time: crate::conversation::rfc3339(SystemTime::now()),
            ms: recorder.started.elapsed().as_millis(),
            pid: std::process::id(),
            connection: &self.connection,
            server: recorder.server.get().map(String::as_str),
            message,
        };
        let Ok(mut line) = serde_json::to_vec(&entry) else {
            return;
        };
        line.push(b'\n');
        recorder.write(&line);
    }
}

impl Tap {
    /// Record what an HTTP body or frame holds: a JSON message, a batch of them, or SSE
    /// events whose `data` are messages (priming events without data are not messages).
    pub fn note_http(&self, direction: Direction, bytes: &[u8]) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return;
        };
        let trimmed = text.trim_start();
        if trimmed.starts_with('[') {
            let Ok(batch) = serde_json::from_str::<Vec<&RawValue>>(trimmed) else {
                return;
            };
            batch.iter().for_each(|m| self.note(direction, m.get()));
        } else if trimmed.starts_with('{') {
            self.note(direction, trimmed);
        } else {
            for event in text.split("\n\n") {
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if !data.is_empty() && !data.concat().trim().is_empty() {
                    self.note(direction, &data.join("\n"));
                }
            }
        }
    }
}

/// A host's HTTP request body, recorded once it has been read whole.
pub struct Teed<B> {
    inner: B,
    tap: Option<Tap>,
    seen: Vec<u8>,
}

impl<B> Teed<B> {
    pub fn new(inner: B, tap: Option<Tap>) -> Self {
        Teed {
            inner,
            tap,
            seen: Vec::new(),
        }
    }

    fn done(&mut self) {
        if let Some(tap) = self.tap.take() {
            tap.note_http(Direction::HostToServe, &self.seen);
            self.seen = Vec::new();
        }
    }
}

impl<B> Body for Teed<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(context);
        match &polled {
            Poll::Ready(Some(Ok(frame))) if this.tap.is_some() => {
                if let Some(data) = frame.data_ref() {
                    this.seen.extend_from_slice(data);
                }
                if this.inner.is_end_stream() {
                    this.done();
                }
            }
            Poll::Ready(None) => this.done(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Recorder {
    /// One whole line per `write`; a failure is reported once.
    fn write(&self, line: &[u8]) {
        let result = match self.file.lock() {
            Ok(mut file) => file.write_all(line),
            Err(_) => return,
        };
        if let Err(error) = result
            && !self.failed.swap(true, Ordering::Relaxed)
        {
            tracing::warn!("writing the recording failed, serve goes on unrecorded: {error}");
        }
    }
}
