//! The command side of the daemon: ask it how it is, start it (detached), stop it, and
//! connect a server through it.
//!
//! Guarantees: a socket nobody answers on (a daemon killed with -9) is treated as no daemon,
//! and the next start replaces it; a daemon of another mcpchat version is stopped and
//! replaced before it is used; `stop` returns once the daemon's process is gone (its servers
//! ended by it); starting waits until the socket answers, and a daemon that exits first is
//! a failure naming its log.

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::exit::{Failure, Kind};

use super::place::{Place, alive};

/// How long `start` waits for the socket to answer, and `stop` for the process to go.
const PATIENCE: Duration = Duration::from_secs(10);
/// The cap on one control answer.
const ANSWER_CAP: u64 = 4 * 1024 * 1024;

/// What a running daemon says about itself (`io.mcpchat/status`).
#[derive(Debug, Clone)]
pub struct Status {
    pub pid: u32,
    pub version: String,
    pub servers: Vec<Value>,
}

/// One control request and its result; None when no daemon answers on the socket.
async fn control(place: &Place, method: &str) -> Option<Value> {
    let exchange = async {
        let stream = UnixStream::connect(&place.socket).await.ok()?;
        let (read, mut write) = stream.into_split();
        let line = format!("{}\n", json!({"jsonrpc": "2.0", "id": 1, "method": method}));
        write.write_all(line.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        tokio::io::AsyncReadExt::take(BufReader::new(read), ANSWER_CAP)
            .read_until(b'\n', &mut answer)
            .await
            .ok()?;
        let answer: Value = serde_json::from_slice(&answer).ok()?;
        answer.get("result").cloned()
    };
    tokio::time::timeout(PATIENCE, exchange)
        .await
        .ok()
        .flatten()
}

/// The running daemon's status; None when none answers.
pub async fn status(place: &Place) -> Option<Status> {
    let result = control(place, "io.mcpchat/status").await?;
    Some(Status {
        pid: result
            .get("pid")
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())?,
        version: result.get("version")?.as_str()?.to_string(),
        servers: result
            .get("servers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    })
}

/// Stop the daemon that answers (if any) and wait until its process is gone; its pid.
pub async fn stop(place: &Place) -> Option<u32> {
    let running = status(place).await?;
    control(place, "io.mcpchat/stop").await;
    let deadline = Instant::now() + PATIENCE;
    while alive(running.pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Some(running.pid)
}

/// A daemon of our version, running: the one that answers, or a new one (a daemon of
/// another version is stopped first). The flag says whether it was started now.
pub async fn ensure(place: &Place) -> Result<(Status, bool), Failure> {
    if let Some(running) = status(place).await {
        if running.version == env!("CARGO_PKG_VERSION") {
            return Ok((running, false));
        }
        tracing::info!(
            "the daemon runs mcpchat {}, not {}: replacing it",
            running.version,
            env!("CARGO_PKG_VERSION")
        );
        stop(place).await;
    }
    Ok((start(place).await?, true))
}

/// Start `mcpchat daemon run` detached: its own session, no terminal, stdin and stdout
/// on /dev/null, stderr to the log; wait until it answers.
async fn start(place: &Place) -> Result<Status, Failure> {
    let cannot = |what: String| {
        Failure::new(
            Kind::Unreachable,
            format!("cannot start the daemon: {what}"),
        )
    };
    let exe = std::env::current_exe().map_err(|e| cannot(format!("no path to mcpchat: {e}")))?;
    let log = place
        .open_log()
        .map_err(|e| cannot(format!("cannot open the log {}: {e}", place.log.display())))?;
    let mut command = std::process::Command::new(exe);
    command
        .args(["daemon", "run"])
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; the child only calls it before exec.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| cannot(format!("{e}")))?;
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(running) = status(place).await {
            return Ok(running);
        }
        if let Ok(Some(exit)) = child.try_wait() {
            return Err(cannot(format!(
                "it exited ({exit}); see {}",
                place.log.display()
            )));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(cannot(format!(
                "its socket did not answer within {}s; see {}",
                PATIENCE.as_secs(),
                place.log.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
