//! The per-user daemon that keeps servers alive between commands (`keep_alive:`,
//! `--keep-alive`, `mcpchat daemon`). It is `serve` on a private Unix socket: the protocol
//! is MCP itself, one connection per server per command, the server named by the command's
//! `initialize`. Commands connect through it with the same stdout and exit codes as direct.
//!
//! Parts: `place` (its directory, socket, pid file and log), `spec` (what a command sends to
//! name a server, and its key), `environment` (what of the command's environment a server
//! gets and is keyed on), `pool` (the kept servers, inside the daemon), `asks` (a kept
//! server's requests and notifications, to the command using it), `run` (the daemon's
//! loop), `wire` (both ends of a connection), `overlap` (the command's own work while the
//! daemon answers), `client` (find, start, stop it).
//! This module sits beside `commands` and uses `mcp` and `serve`; neither uses it.
//!
//! Guarantees: direct mode stays the default and the fallback: a server is routed through
//! the daemon only with `keep_alive: true` (the daemon is started then) or `auto` while it
//! runs; when the daemon cannot be started or reached, the command runs direct after one
//! stderr line saying why; a failure of the server itself (it cannot start) is the same
//! failure, with the same exit code, as direct.

mod asks;
pub mod client;
mod environment;
mod overlap;
pub mod place;
mod pool;
pub mod run;
mod spec;
mod wire;

use std::sync::Arc;

use tokio::net::UnixStream;

use crate::commands::App;
use crate::config::{KeepAlive, ServerConfig};
use crate::exit::{Failure, Kind};
use crate::mcp::{Resume, Session};

use place::Place;
use spec::Spec;
use wire::CommandWire;

/// What this process knows of the daemon (asked once per command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Unasked,
    Running,
    /// Not running, and we were not asked to start it.
    Absent,
    /// Could not be started (said once on stderr).
    Failed,
}

static KNOWN: tokio::sync::Mutex<Known> = tokio::sync::Mutex::const_new(Known::Unasked);

/// Connect to `server` the way its `keep_alive` says: through the daemon, or direct.
pub async fn connect(
    app: &App,
    server: Arc<ServerConfig>,
    resume: Option<Resume>,
) -> Result<Session, Failure> {
    if resume.is_none()
        && let Some(session) = through_daemon(app, &server).await?
    {
        return Ok(session);
    }
    crate::validate::warm_up_if_wanted();
    Session::connect_resuming(server, &app.context, resume).await
}

/// The session through the daemon, or None to go direct.
async fn through_daemon(app: &App, server: &Arc<ServerConfig>) -> Result<Option<Session>, Failure> {
    let keeping = app.config.keeping(&server.name);
    if keeping.keep_alive == KeepAlive::Off {
        return Ok(None);
    }
    let pinned = app.context.protocol_version.as_deref();
    let Some(spec) = Spec::of(server, pinned, keeping.idle_timeout, &app.context.store) else {
        return Ok(None);
    };
    let start = keeping.keep_alive == KeepAlive::On;
    let place = match Place::locate() {
        Ok(place) => place,
        Err(failure) => {
            if start {
                cannot_use(&failure.message).await;
            }
            return Ok(None);
        }
    };
    for attempt in 0..2 {
        if !ready(&place, start, attempt > 0).await {
            return Ok(None);
        }
        match UnixStream::connect(&place.socket).await {
            Ok(stream) => return connect_over(app, server, &spec, stream).await,
            // The daemon exited (idle) since we asked, or its pid file was stale: ask again
            // (and start it, when we may) once.
            Err(error) if attempt == 0 => {
                tracing::debug!("the daemon's socket refused a connection: {error}");
            }
            Err(error) => {
                cannot_use(&format!("cannot reach the daemon: {error}")).await;
                return Ok(None);
            }
        }
    }
    Ok(None)
}

/// Whether a daemon of our version runs (started now when `start`); `again` asks afresh.
async fn ready(place: &Place, start: bool, again: bool) -> bool {
    let mut known = KNOWN.lock().await;
    if again && *known == Known::Running {
        *known = Known::Unasked;
    }
    match *known {
        Known::Running => return true,
        Known::Failed => return false,
        Known::Absent if !start => return false,
        Known::Absent | Known::Unasked => {}
    }
    // The fast path of a kept-alive command: the pid file of a live daemon of our version
    // says as much as a status round trip on the socket would, for a file read. A socket
    // that then refuses the connection sends the caller back here with `again`.
    if !again && running_by_pid_file(place) {
        *known = Known::Running;
        return true;
    }
    let outcome = if start {
        client::ensure(place).await.map(|_| true)
    } else {
        match client::status(place).await {
            Some(running) if running.version != env!("CARGO_PKG_VERSION") => {
                client::ensure(place).await.map(|_| true)
            }
            Some(_) => Ok(true),
            None => Ok(false),
        }
    };
    *known = match outcome {
        Ok(true) => Known::Running,
        Ok(false) => Known::Absent,
        Err(failure) => {
            say_once(&failure.message);
            Known::Failed
        }
    };
    *known == Known::Running
}

/// Whether the pid file names a live daemon of our version. Only the user can write there
/// (the directory is 0700); a stale file (a daemon killed with -9, its pid reused) costs a
/// refused connection and the status round trip this skips.
fn running_by_pid_file(place: &Place) -> bool {
    place
        .read_pid_file()
        .is_some_and(|file| file.version == env!("CARGO_PKG_VERSION") && place::alive(file.pid))
}

/// The daemon cannot be used for this command: say why once, and go direct.
async fn cannot_use(why: &str) {
    let mut known = KNOWN.lock().await;
    if *known != Known::Failed {
        say_once(why);
        *known = Known::Failed;
    }
}

fn say_once(why: &str) {
    crate::report::warning(&Failure::new(
        Kind::Unreachable,
        format!("{why}; connecting to servers directly"),
    ));
}

/// The MCP session with `server` over a connection to the daemon; None when the daemon
/// says this server is better reached directly (said on stderr).
async fn connect_over(
    app: &App,
    server: &Arc<ServerConfig>,
    spec: &Spec,
    stream: UnixStream,
) -> Result<Option<Session>, Failure> {
    let spec = serde_json::to_value(spec).unwrap_or_default();
    let wire = CommandWire::new(stream, spec, server.max_message_bytes);
    let said = wire.said.clone();
    let wire = overlap::Overlapped::new(wire, meanwhile(app, server));
    let connected = Session::connect_over(server.clone(), &app.context, wire).await;
    let said = std::mem::take(&mut *said.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(note) = said.note {
        crate::report::notice(&note);
    }
    match (connected, said.failure) {
        (Ok(mut session), _) => {
            if said.checks {
                session.leave_checks_to_daemon();
            } else {
                crate::validate::warm_up_if_wanted();
            }
            Ok(Some(session))
        }
        (Err(_), Some(failure))
            if failure.get("direct") == Some(&serde_json::Value::Bool(true)) =>
        {
            crate::report::warning(&failure_of(&failure));
            Ok(None)
        }
        (Err(_), Some(failure)) => Err(failure_of(&failure)),
        (Err(failure), None) => Err(failure),
    }
}

/// What the command does while the daemon answers `initialize`, which it would otherwise
/// do right after, on the critical path of a kept call: read and parse the server's cache
/// file (about 13 KB for server-everything) into this process's memo, where the session's
/// own read of the tools list then finds it (the items are parsed for real there).
fn meanwhile(app: &App, server: &ServerConfig) -> overlap::Meanwhile {
    let cache = app.context.cache.clone();
    let key = crate::cache::Key::of(server, &app.context.store);
    Box::new(move || {
        let _ = cache.list::<serde::de::IgnoredAny>(&key, crate::cache::ListKind::Tools);
    })
}

/// The daemon's failure to provide a server, as the command reports it.
fn failure_of(said: &serde_json::Value) -> Failure {
    let kind = said
        .get("kind")
        .and_then(serde_json::Value::as_str)
        .and_then(Kind::named)
        .unwrap_or(Kind::Protocol);
    let message = said
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("the daemon could not start the server");
    crate::mcp::classify::with_hints(Failure::new(kind, message), said)
}
