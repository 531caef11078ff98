//! Every stdio server runs in its own process group, recorded here, so that no process
//! (nor anything it spawned, e.g. `npx` -> `node`) outlives mcpchat: on exit, error, Ctrl-C
//! or SIGTERM, [`kill_all`] signals each group that is still registered.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

fn groups() -> &'static Mutex<Vec<i32>> {
    static GROUPS: OnceLock<Mutex<Vec<i32>>> = OnceLock::new();
    GROUPS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Record a child that leads its own process group (`process_group(0)`).
pub fn register(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        groups().lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    }
}

/// Forget a child whose whole group has been shut down.
pub fn unregister(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        groups()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| *p != pid);
    }
}

/// Send `signal` to the group; false when the group no longer exists.
fn signal_group(pgid: i32, signal: i32) -> bool {
    // SAFETY: killpg has no memory-safety preconditions; a stale pgid only yields ESRCH.
    unsafe { libc::killpg(pgid, signal) == 0 }
}

/// How long a stdio server has to exit by itself once its stdin is closed (the MCP stdio
/// shutdown) before its group gets SIGTERM. Servers that exit on EOF do so in a few ms; many
/// (Node servers with timers, server-everything among them) never do, and every ms here is
/// a ms between the last stdout line and the shell prompt.
pub const STDIN_GRACE: Duration = Duration::from_millis(25);

/// How long the group has after SIGTERM before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_millis(200);

/// End a child whose stdin is closed, and everything in its process group: up to
/// [`STDIN_GRACE`] for it to exit by itself (then it is never signalled), else SIGTERM to
/// the group, up to [`TERM_GRACE`], then SIGKILL. The child is reaped (no zombie), and
/// members of its group that outlive it (grandchildren) get the same treatment.
pub async fn shut_down(process: &mut tokio::process::Child) {
    let Some(pid) = process.id() else { return };
    let Ok(pgid) = i32::try_from(pid) else { return };
    let mut signalled = false;
    if !exits_within(process, STDIN_GRACE).await {
        signalled = signal_group(pgid, libc::SIGTERM);
        if !exits_within(process, TERM_GRACE).await {
            signal_group(pgid, libc::SIGKILL);
            // SIGKILL cannot be ignored; bounded all the same (a process stuck in the kernel).
            exits_within(process, TERM_GRACE).await;
        }
    }
    end_the_rest_of(pgid, signalled).await;
    unregister(pid);
}

/// Whether the child exited (and was reaped) within `bound`.
async fn exits_within(process: &mut tokio::process::Child, bound: Duration) -> bool {
    matches!(tokio::time::timeout(bound, process.wait()).await, Ok(Ok(_)))
}

/// What is left of the group once its leader is gone (grandchildren that ignore their
/// parent's end): SIGTERM unless the group had it already, then SIGKILL after the grace.
async fn end_the_rest_of(pgid: i32, signalled: bool) {
    if !signal_group(pgid, 0) {
        return;
    }
    if !signalled {
        signal_group(pgid, libc::SIGTERM);
    }
    let deadline = tokio::time::Instant::now() + TERM_GRACE;
    while tokio::time::Instant::now() < deadline && signal_group(pgid, 0) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    signal_group(pgid, libc::SIGKILL);
}

/// Terminate one child's group: SIGTERM, up to `grace` for it to go, then SIGKILL. It waits
/// asynchronously, so the runtime (one thread) goes on meanwhile: reaping the child, among
/// other things, which is what lets its group vanish.
pub async fn terminate(pid: u32, grace: Duration) {
    let Ok(pgid) = i32::try_from(pid) else { return };
    if signal_group(pgid, libc::SIGTERM) {
        let deadline = tokio::time::Instant::now() + grace;
        while tokio::time::Instant::now() < deadline && signal_group(pgid, 0) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        signal_group(pgid, libc::SIGKILL);
    }
    unregister(pid);
}

/// Kill every registered group. Called on every way out of `main_entry`, after the runtime
/// is gone, so it may wait blocking.
pub fn kill_all() {
    let pids: Vec<i32> = std::mem::take(&mut *groups().lock().unwrap_or_else(|e| e.into_inner()));
    for pgid in &pids {
        signal_group(*pgid, libc::SIGTERM);
    }
    if pids.is_empty() {
        return;
    }
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    while std::time::Instant::now() < deadline && pids.iter().any(|p| signal_group(*p, 0)) {
        std::thread::sleep(Duration::from_millis(10));
    }
    for pgid in &pids {
        signal_group(*pgid, libc::SIGKILL);
    }
}
