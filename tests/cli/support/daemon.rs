//! A test's own daemon: its commands share a private runtime dir (`XDG_RUNTIME_DIR`, 0700),
//! so they share one daemon and never meet another test's; the daemon is stopped when the
//! test ends, also when it fails (by `daemon stop`, then by its pid if it did not stop).

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::Value;

use super::{TestEnv, alive, lines, stderr_of};

pub struct Daemon {
    pub env: TestEnv,
}

impl Daemon {
    pub fn new() -> Daemon {
        let env = TestEnv::new();
        let run = env.dir.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        Daemon { env }
    }

    pub fn run_dir(&self) -> PathBuf {
        self.env.dir.path().join("run")
    }

    pub fn socket(&self) -> PathBuf {
        self.run_dir().join("mcpchat/daemon.sock")
    }

    /// `mcpchat` in this test's environment, with its runtime dir.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = self.env.cmd();
        cmd.env("XDG_RUNTIME_DIR", self.run_dir());
        cmd
    }

    /// The daemon's pid from its pid file, if it wrote one.
    pub fn pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.run_dir().join("mcpchat/daemon.pid")).ok()?;
        let file: Value = serde_json::from_str(&text).ok()?;
        Some(file["pid"].as_u64()? as u32)
    }

    /// `daemon status`: its lines (exit 0 checked).
    pub fn status(&self) -> Vec<Value> {
        let output = self.cmd().args(["daemon", "status"]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        lines(&output.stdout)
    }

    /// The daemon's log (its stderr), empty before it started.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.env.home().join(".cache/mcpchat/daemon.log"))
            .unwrap_or_default()
    }

    /// The same command direct (`--no-keep-alive`) and through the daemon (`--keep-alive`),
    /// `with` adding to both.
    pub fn both(&self, args: &[&str], with: impl Fn(&mut assert_cmd::Command)) -> (Output, Output) {
        let run = |mode: &str| {
            let mut cmd = self.cmd();
            with(&mut cmd);
            cmd.arg(mode).args(args).output().unwrap()
        };
        (run("--no-keep-alive"), run("--keep-alive"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.pid();
        let _ = self.cmd().args(["daemon", "stop"]).output();
        // A daemon that did not stop (the test broke it) is ended by its pid.
        if let Some(pid) = pid.filter(|pid| alive(*pid)) {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// stdout without its timing fields, each line parsed.
pub fn untimed(stdout: &[u8]) -> Vec<Value> {
    lines(stdout)
        .into_iter()
        .map(|mut line| {
            let object = line.as_object_mut().unwrap();
            object.remove("duration_ms");
            object.remove("connect_ms");
            line
        })
        .collect()
}

/// Both runs ended alike: exit code, stdout (untimed) and stderr.
pub fn same(direct: &Output, kept: &Output) {
    assert_eq!(
        kept.status.code(),
        direct.status.code(),
        "{}",
        stderr_of(kept)
    );
    assert_eq!(untimed(&kept.stdout), untimed(&direct.stdout));
    assert_eq!(stderr_of(kept), stderr_of(direct));
}

/// Poll `done` until it holds; fail after a generous bound (not a timing assertion: the
/// condition is what is checked).
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
