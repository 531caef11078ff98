//! `mcpchat daemon run`: the daemon itself. It listens on its private socket and serves each
//! connection as one kept-alive server (`serve`'s relay over a one-upstream hub), or answers
//! one control request: `io.mcpchat/status` (what it keeps) or `io.mcpchat/stop`.
//!
//! Guarantees: the socket is 0600 in a 0700 directory and a connection from another uid is
//! closed before it is read (as `serve --socket`); the servers a killed daemon left behind
//! (their process groups, from its pid file) are ended before a new one listens; on stop,
//! SIGTERM, or when the last server ended idle, every server's process group is ended and
//! the socket and pid files are removed.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;

use crate::commands::App;
use crate::exit::{Code, Failure, Kind};
use crate::serve::listener;
use crate::serve::relay::Relay;
use crate::serve::wire::HostWire;

use super::place::{Place, alive};
use super::pool::Pool;
use super::spec::{CAPABILITY, Spec};
use super::wire::{KeptWire, META};

/// How often idle servers are looked for.
const SWEEP_EVERY: Duration = Duration::from_millis(250);
/// A daemon that never kept a server exits after this long.
const IDLE_EXIT: Duration = Duration::from_secs(600);
/// The cap on a command's first line (its `initialize` or a control request).
const FIRST_LINE_CAP: u64 = 1024 * 1024;

pub async fn run(app: &App) -> anyhow::Result<Code> {
    let place = Place::locate()?;
    listener::private_dir(&place.dir)?;
    // Held while the daemon runs: a second one started at the same moment stops here,
    // before it could take the first one's socket for a stale one.
    let _lock = lock(&place)?;
    end_orphans(&place).await;
    let listener = bind(&place)?;
    let pool = Arc::new(Pool::new(app.context.clone(), place.clone()));
    pool.close_all().await; // writes the pid file
    tracing::info!(pid = std::process::id(), socket = %place.socket.display(), "daemon listening");
    let cap = app
        .config
        .max_message_bytes
        .unwrap_or(crate::mcp::DEFAULT_MAX_MESSAGE_BYTES);
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut connections = JoinSet::new();
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    let why = loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if !listener::same_user(&stream) {
                    tracing::warn!("refused a connection from another user");
                    continue;
                }
                let (pool, stop) = (pool.clone(), stop.clone());
                connections.spawn(connection(stream, pool, stop, cap));
                while connections.try_join_next().is_some() {}
            }
            () = stop.notified() => break "stopped",
            _ = sweep.tick() => if pool.sweep(IDLE_EXIT).await { break "idle" },
            what = crate::interrupt::wait() => break what,
        }
    };
    tracing::info!("daemon exiting ({why})");
    drop(listener);
    let _ = std::fs::remove_file(&place.socket);
    connections.shutdown().await;
    pool.close_all().await;
    let _ = std::fs::remove_file(&place.pid_file);
    match why {
        "stopped" | "idle" => Ok(Code::Success),
        what => Err(Failure::new(Kind::Interrupted, what).into()),
    }
}

/// The daemon's lock file, locked (exclusive, released when the process ends however it
/// ends); a failure when another daemon holds it.
fn lock(place: &Place) -> Result<std::fs::File, Failure> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let path = place.dir.join("daemon.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Failure::usage(format!("cannot open {}: {e}", path.display())))?;
    // SAFETY: flock on a descriptor we own; it only takes an advisory lock.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(Failure::usage(
            "another daemon is running (its lock is held)",
        ));
    }
    Ok(file)
}

/// The socket, private, replacing a stale one.
fn bind(place: &Place) -> Result<UnixListener, Failure> {
    listener::remove_stale(&place.socket)?;
    let listener = UnixListener::bind(&place.socket).map_err(|e| {
        Failure::usage(format!(
            "cannot listen on the socket {}: {e}",
            place.socket.display()
        ))
    })?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&place.socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Failure::usage(format!("cannot make the socket private: {e}")))?;
    Ok(listener)
}

/// End the servers of a daemon that died without ending them (`kill -9`): each recorded
/// process group that still exists and is a group of its own.
pub async fn end_orphans(place: &Place) {
    let Some(file) = place.read_pid_file() else {
        return;
    };
    if file.pid != std::process::id() && alive(file.pid) {
        return;
    }
    for child in file.children {
        let Ok(pid) = i32::try_from(child) else {
            continue;
        };
        // SAFETY: getpgid only reads the process table.
        if pid > 0 && unsafe { libc::getpgid(pid) } == pid {
            tracing::info!(pid, "ending a server left by a daemon that was killed");
            crate::mcp::transport::children::terminate(child, Duration::from_millis(200)).await;
        }
    }
}

/// One command's connection: a control request, or a kept-alive server.
async fn connection(
    stream: UnixStream,
    pool: Arc<Pool>,
    stop: Arc<tokio::sync::Notify>,
    cap: usize,
) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut first = Vec::new();
    if (&mut read)
        .take(FIRST_LINE_CAP)
        .read_until(b'\n', &mut first)
        .await
        .is_err()
    {
        return;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&first) else {
        let _ = reply(
            &mut write,
            Value::Null,
            Err((-32700, "parse error".into(), None)),
        )
        .await;
        return;
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    match request.get("method").and_then(Value::as_str) {
        Some("io.mcpchat/status") => {
            let _ = reply(&mut write, id, Ok(status(&pool).await)).await;
        }
        Some("io.mcpchat/stop") => {
            let _ = reply(&mut write, id, Ok(json!({}))).await;
            stop.notify_one();
        }
        Some("initialize") => kept(request, id, read, write, &pool, cap).await,
        _ => {
            let error = (
                -32601,
                "the daemon serves `initialize` with a server to keep".into(),
                None,
            );
            let _ = reply(&mut write, id, Err(error)).await;
        }
    }
}

/// Serve the server the `initialize` names, over this connection.
async fn kept(
    request: Value,
    id: Value,
    read: BufReader<tokio::net::unix::OwnedReadHalf>,
    mut write: tokio::net::unix::OwnedWriteHalf,
    pool: &Pool,
    cap: usize,
) {
    let spec = request
        .pointer("/params/capabilities/experimental")
        .and_then(|e| e.get(CAPABILITY))
        .cloned()
        .and_then(|spec| serde_json::from_value::<Spec>(spec).ok());
    let Some(mut spec) = spec else {
        let error = (
            -32602,
            format!("initialize names no server ({CAPABILITY})"),
            None,
        );
        let _ = reply(&mut write, id, Err(error)).await;
        return;
    };
    spec.declared = declared(&request);
    // The spec (the command's environment among it) is read: the session need not parse it.
    let mut request = request;
    if let Some(experimental) = request
        .pointer_mut("/params/capabilities/experimental")
        .and_then(Value::as_object_mut)
    {
        experimental.shift_remove(CAPABILITY);
    }
    let Ok(message) = serde_json::from_value::<ClientJsonRpcMessage>(request) else {
        let _ = reply(
            &mut write,
            id,
            Err((-32600, "invalid request".into(), None)),
        )
        .await;
        return;
    };
    if let Some(why) = foreign(&spec) {
        let data = json!({META: {"kind": "unreachable", "message": why, "direct": true,
            "hints": ["`mcpchat daemon restart` from this environment keeps it alive"]}});
        let _ = reply(&mut write, id, Err((-32603, why, Some(data)))).await;
        return;
    }
    let (hold, note) = match pool.hold(&spec).await {
        Ok(held) => held,
        Err(failure) => {
            tracing::warn!(server = %spec.name, "{}", failure.message);
            let data = json!({META: {"kind": failure.kind.as_str(), "message": failure.message, "hints": failure.hints}});
            let _ = reply(
                &mut write,
                id,
                Err((-32603, failure.message.clone(), Some(data))),
            )
            .await;
            return;
        }
    };
    let Some(upstream) = hold.0.session().and_then(|s| s.peer_info()) else {
        return;
    };
    let mut relay = Relay::new(hold.0.hub.clone());
    // What fails on the command's behalf (the server exited during its call) fails the
    // command as directly: same message, hints and exit code.
    relay.failures_as_errors = true;
    let wire = KeptWire {
        first: Some(message),
        inner: HostWire::new(read, write, cap),
        hold,
        answer: Some((initialize_result(&upstream), note)),
        in_flight: Vec::new(),
    };
    listener::run_connection(relay, wire).await;
}

/// The client capabilities the command declared, without our own (`experimental`): the
/// kept server is told the same (and they are part of its key).
fn declared(request: &Value) -> Value {
    let mut declared = request
        .pointer("/params/capabilities")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(capabilities) = declared.as_object_mut() {
        capabilities.shift_remove("experimental");
    }
    declared
}

/// Why the daemon cannot reach an HTTP server as the command would: it runs with other
/// proxy or TLS variables (the command then connects directly).
fn foreign(spec: &Spec) -> Option<String> {
    let differ = spec.remote.as_ref()?.foreign_reach();
    if differ.is_empty() {
        return None;
    }
    Some(format!(
        "the daemon runs with other {} than this command, so it would not reach MCP server `{}` \
         the same way; connecting to it directly",
        differ.join(", "),
        spec.name
    ))
}

/// The upstream's own answer to `initialize`, to answer the command with.
fn initialize_result(upstream: &rmcp::model::ServerPeerInfo) -> rmcp::model::InitializeResult {
    let mut result = rmcp::model::InitializeResult::new(upstream.capabilities.clone());
    result.protocol_version = upstream.protocol_version.clone();
    // A server that gave no serverInfo: an empty name, as near to nothing as the type allows.
    result.server_info = upstream
        .server_info
        .clone()
        .unwrap_or_else(|| rmcp::model::Implementation::new("", ""));
    result.instructions = upstream.instructions.clone();
    result.meta = upstream.meta.clone();
    result
}

/// What `daemon status` shows.
async fn status(pool: &Pool) -> Value {
    let servers: Vec<Value> = pool
        .list()
        .await
        .iter()
        .map(|kept| {
            json!({
                "server": kept.name,
                "key": kept.key,
                "pid": kept.pid,
                "uptime_secs": kept.started.elapsed().as_secs(),
                "idle_secs": kept.idle().as_secs(),
                "calls": kept.calls.load(std::sync::atomic::Ordering::Relaxed),
                "connections": kept.active.load(std::sync::atomic::Ordering::Relaxed),
                "protocol_version": kept.protocol_version,
                "transport": kept.transport,
                "auth": kept.auth,
            })
        })
        .collect();
    json!({
        "pid": std::process::id(),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": pool.born.elapsed().as_secs(),
        "servers": servers,
    })
}

/// One JSON-RPC answer line.
async fn reply(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    id: Value,
    outcome: Result<Value, (i64, String, Option<Value>)>,
) -> std::io::Result<()> {
    let message = match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err((code, message, data)) => {
            let mut error = json!({"code": code, "message": message});
            if let Some(data) = data {
                error["data"] = data;
            }
            json!({"jsonrpc": "2.0", "id": id, "error": error})
        }
    };
    let mut line = crate::redact::json_line(&message.to_string()).into_owned();
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    write.flush().await
}
