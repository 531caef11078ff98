//! The end of a command: a stdio server is asked to exit by closing its stdin, is left alone
//! when it goes by itself, and is ended with its whole process group (and reaped) when it
//! lingers. Exact outcomes only (who is alive, who got a signal), never durations.

use pretty_assertions::assert_eq;

use crate::processes::wait_dead;
use crate::support::*;

/// `tools call ex__echo` against tests/fakes/exit_stdio.py in `mode`; its files go to the
/// test's home.
fn call_exit_fake(env: &TestEnv, mode: &str) -> std::process::Output {
    let server = format!(
        "ex=python3 {} {} {mode}",
        repo().join("tests/fakes/exit_stdio.py").display(),
        env.path("").display()
    );
    env.cmd()
        .args([
            "--stdio",
            &server,
            "tools",
            "call",
            "ex__echo",
            "-a",
            "message=hi",
        ])
        .output()
        .unwrap()
}

fn pid_in(env: &TestEnv, name: &str) -> u32 {
    std::fs::read_to_string(env.path(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_stdio_server_that_lingers_after_stdin_closes_is_ended_with_its_grandchild() {
    let env = TestEnv::new();
    let output = call_exit_fake(&env, "linger");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(stderr_of(&output), "");
    let result = lines(&output.stdout);
    assert_eq!(of_type(&result, "tool_result")[0]["text"], "hi");
    // The server was signalled (its handler wrote it down) and is gone, reaped: not even a
    // zombie is left (`alive` counts one as alive).
    assert_eq!(
        std::fs::read_to_string(env.path("signals")).unwrap(),
        "TERM\n"
    );
    assert!(
        !alive(pid_in(&env, "server.pid")),
        "the server is still there"
    );
    assert!(
        wait_dead(pid_in(&env, "grandchild.pid")),
        "the grandchild outlived the command"
    );
}

#[test]
fn a_stdio_server_that_exits_when_stdin_closes_is_not_signalled() {
    let env = TestEnv::new();
    let output = call_exit_fake(&env, "leave");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        of_type(&lines(&output.stdout), "tool_result")[0]["text"],
        "hi"
    );
    assert!(
        !alive(pid_in(&env, "server.pid")),
        "the server is still there"
    );
    assert!(
        !env.path("signals").exists(),
        "the server got a signal although it exited by itself"
    );
}
