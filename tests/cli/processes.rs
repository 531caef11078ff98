//! Process hygiene: broken pipes, interrupted runs, and no stdio server left behind.

use std::process::Stdio;
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;

use crate::support::*;

/// A stdio server command that records its PID and starts a grandchild in its group.
fn recorded_demo(env: &TestEnv) -> String {
    format!(
        "sh -c 'echo $$ > {pid}; sleep 300 & echo $! > {grandchild}; exec {demo}'",
        pid = env.path("server.pid").display(),
        grandchild = env.path("grandchild.pid").display(),
        demo = demo_stdio_cmd()
    )
}

fn read_pid(env: &TestEnv, name: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(pid) = std::fs::read_to_string(env.path(name))
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "{name} never written");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn wait_dead(pid: u32) -> bool {
    // The kill happens before mcpchat exits; allow the kernel a moment to reap.
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn head_1_closing_the_pipe_exits_0_silently() {
    let env = TestEnv::new();
    let everything = everything_http();
    let script = format!(
        "set -o pipefail; '{}' --url ev={} --stdio 'demo={}' tools list | head -1",
        assert_cmd::cargo::cargo_bin("mcpchat").display(),
        everything.url,
        demo_stdio_cmd()
    );
    let output = env.cmd_shell(&script);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(stderr_of(&output), "");
    assert_eq!(lines(&output.stdout).len(), 1);
}

#[test]
fn a_closed_stdout_before_any_output_exits_0_silently() {
    let env = TestEnv::new();
    let mut child = env
        .std_cmd()
        .args([
            "--stdio",
            &format!("demo={}", recorded_demo(&env)),
            "tools",
            "list",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let (code, stderr) = wait_with_stderr(&mut child);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
    assert!(wait_dead(read_pid(&env, "server.pid")));
    assert!(wait_dead(read_pid(&env, "grandchild.pid")));
}

#[test]
fn no_stdio_server_or_grandchild_outlives_a_finished_command() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args([
            "--stdio",
            &format!("demo={}", recorded_demo(&env)),
            "tools",
            "call",
            "demo__echo",
            "--arg",
            "message=x",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(
        wait_dead(read_pid(&env, "server.pid")),
        "server still running"
    );
    assert!(
        wait_dead(read_pid(&env, "grandchild.pid")),
        "grandchild still running"
    );
}

#[test]
fn no_stdio_server_outlives_a_failed_command() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args([
            "--stdio",
            &format!("demo={}", recorded_demo(&env)),
            "tools",
            "call",
            "demo__nope",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(wait_dead(read_pid(&env, "server.pid")));
    assert!(wait_dead(read_pid(&env, "grandchild.pid")));
}

#[test]
fn ctrl_c_exits_130_and_ends_the_stdio_server() {
    let env = TestEnv::new();
    let mut child = env
        .std_cmd()
        .args(["--stdio", &format!("demo={}", recorded_demo(&env))])
        .args(["tools", "call", "demo__countdown", "--arg", "seconds=10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let server = read_pid(&env, "server.pid");
    let grandchild = read_pid(&env, "grandchild.pid");
    // Wait until the call is under way: the server has answered initialize by then.
    std::thread::sleep(Duration::from_millis(500));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let (code, stderr) = wait_with_stderr(&mut child);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("mcpchat: error: interrupted"), "{stderr}");
    assert!(wait_dead(server), "server still running after Ctrl-C");
    assert!(
        wait_dead(grandchild),
        "grandchild still running after Ctrl-C"
    );
}
