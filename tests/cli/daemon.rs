//! The per-user daemon (`keep_alive:`, `mcpchat daemon`): servers kept alive between
//! commands, with the same stdout as direct mode. Each test has its own HOME and
//! XDG_RUNTIME_DIR, so daemons never meet; every daemon a test starts is stopped by its pid
//! when the test ends, also when it fails (`support::daemon`).

use std::path::PathBuf;

use pretty_assertions::assert_eq;

use crate::support::daemon::{Daemon, eventually, same};
use crate::support::*;

// The stateful fake's helpers, for this file's tests.
impl Daemon {
    /// A config with the stateful fake as `state`, and `extra` YAML lines under it.
    fn config(&self, extra: &str) {
        let text = format!(
            "servers:\n  - name: state\n    command: python3\n    args: [{}]\n{extra}",
            repo().join("tests/fakes/stateful_stdio.py").display()
        );
        self.env.write("mcp_servers.yaml", &text);
    }

    /// `tools call TOOL ARGS`: the result's text (exit 0 checked) and stderr.
    fn call(&self, global: &[&str], tool: &str, args: &str) -> (String, String) {
        let output = self
            .cmd()
            .args(global)
            .args(["tools", "call", tool, args])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        let lines = lines(&output.stdout);
        (
            lines[0]["text"].as_str().unwrap().to_string(),
            stderr_of(&output),
        )
    }
}

#[test]
fn two_invocations_share_one_stdio_child_and_its_state() {
    let daemon = Daemon::new();
    daemon.config("    keep_alive: true\n");
    let (first, _) = daemon.call(&[], "pid", "{}");
    daemon.call(&[], "remember", r#"{"value": "a"}"#);
    daemon.call(&[], "remember", r#"{"value": "b"}"#);
    let (second, _) = daemon.call(&[], "pid", "{}");
    assert_eq!(first, second);
    assert_eq!(daemon.call(&[], "recall", "{}").0, "a,b");
    let status = daemon.status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0]["type"], "daemon_server");
    assert_eq!(status[0]["server"], "state");
    assert_eq!(status[0]["pid"].to_string(), first);
    assert_eq!(status[0]["calls"], 5);
    assert_eq!(status[0]["connections"], 0);
    assert_eq!(status[0]["protocol_version"], "2025-11-25");
}

#[test]
fn without_the_daemon_every_command_starts_a_new_server() {
    let daemon = Daemon::new();
    daemon.config("    keep_alive: false\n");
    let (first, _) = daemon.call(&[], "pid", "{}");
    daemon.call(&[], "remember", r#"{"value": "a"}"#);
    assert_ne!(daemon.call(&[], "pid", "{}").0, first);
    assert_eq!(daemon.call(&[], "recall", "{}").0, "");
    assert!(!daemon.socket().exists());
}

#[test]
fn no_keep_alive_and_keep_alive_0_force_direct_mode() {
    let daemon = Daemon::new();
    daemon.config("    keep_alive: true\n");
    let (kept, _) = daemon.call(&[], "pid", "{}");
    let (direct, stderr) = daemon.call(&["--no-keep-alive"], "pid", "{}");
    assert_ne!(direct, kept);
    assert_eq!(stderr, "");
    let output = daemon
        .cmd()
        .env("MCPCHAT_KEEP_ALIVE", "0")
        .args(["tools", "call", "pid", "{}"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = lines(&output.stdout)[0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(text, kept);
    assert_ne!(text, direct);
    // Neither reached the daemon's server.
    assert_eq!(daemon.status()[0]["calls"], 1);
}

#[test]
fn keep_alive_1_starts_the_daemon_and_auto_uses_it_only_while_it_runs() {
    let daemon = Daemon::new();
    daemon.config("");
    // auto (the default) without a daemon: direct, and no daemon is started.
    let (first, _) = daemon.call(&[], "pid", "{}");
    assert!(!daemon.socket().exists());
    let output = daemon
        .cmd()
        .env("MCPCHAT_KEEP_ALIVE", "1")
        .args(["tools", "call", "pid", "{}"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let kept = lines(&output.stdout)[0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(kept, first);
    // auto with the daemon running: through it.
    assert_eq!(daemon.call(&[], "pid", "{}").0, kept);
}

#[test]
fn a_changed_env_starts_the_server_again() {
    let daemon = Daemon::new();
    daemon.config("    keep_alive: true\n    env: {COLOUR: red}\n");
    let (red, _) = daemon.call(&[], "pid", "{}");
    daemon.config("    keep_alive: true\n    env: {COLOUR: blue}\n");
    let (blue, _) = daemon.call(&[], "pid", "{}");
    assert_ne!(red, blue);
    let status = daemon.status();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0]["pid"].to_string(), blue);
    eventually("the first server ended", || !alive(red.parse().unwrap()));
}

#[test]
fn the_idle_timeout_ends_the_server_and_then_the_daemon() {
    let daemon = Daemon::new();
    daemon.config("    keep_alive: true\n    idle_timeout_secs: 1\n");
    let (child, _) = daemon.call(&[], "pid", "{}");
    let pid = daemon.pid().unwrap();
    eventually("the daemon exited", || !alive(pid));
    assert!(!alive(child.parse().unwrap()));
    assert!(!daemon.socket().exists());
    let output = daemon.cmd().args(["daemon", "status"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stdout, b"");
    assert_eq!(stderr_of(&output), "mcpchat: note: no daemon is running\n");
}

#[test]
fn a_daemon_killed_with_9_is_replaced_and_its_servers_are_ended() {
    let daemon = Daemon::new();
    // LINGER: the server does not exit when its stdin closes; only its process group ending
    // stops it.
    daemon.config("    keep_alive: true\n    env: {LINGER: \"1\"}\n");
    let (child, _) = daemon.call(&[], "pid", "{}");
    let old = daemon.pid().unwrap();
    unsafe { libc::kill(old as i32, libc::SIGKILL) };
    eventually("the daemon died", || !alive(old));
    assert!(daemon.socket().exists(), "the stale socket is left");
    assert!(alive(child.parse().unwrap()));
    let (new_child, stderr) = daemon.call(&[], "pid", "{}");
    assert_eq!(stderr, "");
    assert_ne!(new_child, child);
    assert_ne!(daemon.pid().unwrap(), old);
    eventually("the orphan ended", || !alive(child.parse().unwrap()));
}

#[test]
fn a_stale_pid_file_naming_a_live_process_costs_nothing_but_a_refused_connection() {
    // Commands trust the pid file of a live daemon of their version instead of asking it its
    // status. Here it names a live process that is no daemon (a pid reused) and no socket
    // answers: `auto` still runs direct without a word, and `true` still starts a daemon.
    let daemon = Daemon::new();
    let mut impostor = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    let dir = daemon.run_dir().join("mcpchat");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let pid_file = daemon.run_dir().join("mcpchat/daemon.pid");
    let stale = serde_json::json!({"pid": impostor.id(), "version": env!("CARGO_PKG_VERSION"), "children": []});
    std::fs::write(&pid_file, stale.to_string()).unwrap();
    daemon.config("");
    let (_, stderr) = daemon.call(&[], "recall", "{}");
    assert_eq!(stderr, "");
    assert!(!daemon.socket().exists());
    daemon.config("    keep_alive: true\n");
    assert_eq!(daemon.call(&[], "remember", r#"{"value": "a"}"#).1, "");
    let (text, stderr) = daemon.call(&[], "recall", "{}");
    assert_eq!((text.as_str(), stderr.as_str()), ("a", ""));
    assert!(daemon.socket().exists());
    assert_ne!(daemon.pid(), Some(impostor.id()));
    impostor.kill().unwrap();
    impostor.wait().unwrap();
}

#[test]
fn a_server_that_exited_is_started_again_on_the_next_command_with_a_note() {
    let daemon = Daemon::new();
    daemon.config("    keep_alive: true\n");
    let (child, _) = daemon.call(&[], "pid", "{}");
    unsafe { libc::kill(child.parse::<i32>().unwrap(), libc::SIGKILL) };
    eventually("the server died", || !alive(child.parse().unwrap()));
    let (again, stderr) = daemon.call(&[], "pid", "{}");
    assert_ne!(again, child);
    assert_eq!(
        stderr,
        "mcpchat: note: MCP server `state` kept alive by the daemon had exited; started it again\n"
    );
}

#[test]
fn the_socket_is_0600_in_a_0700_directory() {
    use std::os::unix::fs::PermissionsExt;
    let daemon = Daemon::new();
    let output = daemon.cmd().args(["daemon", "start"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let pid = daemon.pid().unwrap();
    assert_eq!(
        stderr_of(&output),
        format!("mcpchat: note: daemon started (pid {pid})\n")
    );
    let mode = |path: PathBuf| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(daemon.socket()), 0o600);
    assert_eq!(mode(daemon.run_dir().join("mcpchat")), 0o700);
    let output = daemon.cmd().args(["daemon", "stop"]).output().unwrap();
    assert_eq!(
        stderr_of(&output),
        format!("mcpchat: note: daemon stopped (pid {pid})\n")
    );
    assert!(!alive(pid));
    assert!(!daemon.socket().exists());
}

#[test]
fn daemon_stop_ends_every_server() {
    let daemon = Daemon::new();
    daemon.config("    keep_alive: true\n    env: {LINGER: \"1\"}\n");
    let (child, _) = daemon.call(&[], "pid", "{}");
    let output = daemon.cmd().args(["daemon", "stop"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(!alive(child.parse().unwrap()));
}

#[test]
fn when_the_daemon_cannot_start_the_command_runs_direct_after_one_line() {
    let daemon = Daemon::new();
    daemon.config("    keep_alive: true\n");
    // The daemon's directory is a file: it cannot listen there.
    std::fs::write(daemon.run_dir().join("mcpchat"), "").unwrap();
    let output = daemon
        .cmd()
        .args(["tools", "call", "recall", "{}"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let log = daemon.env.home().join(".cache/mcpchat/daemon.log");
    assert_eq!(
        stderr_of(&output),
        format!(
            "mcpchat: warning: cannot start the daemon: it exited (exit status: 2); see {}; connecting to servers directly\n",
            log.display()
        )
    );
    assert_eq!(lines(&output.stdout)[0]["text"], "");
}

#[test]
fn a_bad_keep_alive_value_is_a_config_error_at_its_line() {
    let daemon = Daemon::new();
    daemon.config("    keep_alive: sometimes\n");
    let output = daemon.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: mcp_servers.yaml:5:17: servers[0].keep_alive: invalid value: string \"sometimes\", expected true, false or auto\n"
    );
}

#[test]
fn status_without_a_daemon_is_a_note_and_exit_0() {
    let daemon = Daemon::new();
    let output = daemon.cmd().args(["daemon", "status"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stdout, b"");
    assert_eq!(stderr_of(&output), "mcpchat: note: no daemon is running\n");
}

#[test]
fn stdout_and_exit_codes_are_the_same_direct_and_kept_alive() {
    let daemon = Daemon::new();
    let everything = everything_stdio_cmd();
    let commands: &[&[&str]] = &[
        &["tools", "list"],
        &["servers"],
        &["prompts", "list"],
        &["resources", "list"],
        &["resources", "templates"],
        &["tools", "call", "get-sum", r#"{"a": 1, "b": 2}"#],
        &["tools", "call", "echo", r#"{"message": 7}"#],
        &["prompts", "get", "simple-prompt"],
        &["tools", "call", "no-such-tool", "{}"],
    ];
    for command in commands {
        eprintln!("command: {command:?}");
        let args: Vec<&str> = ["--no-cache", "--stdio", &everything]
            .into_iter()
            .chain(command.iter().copied())
            .collect();
        let (direct, kept) = daemon.both(&args, |_| {});
        same(&direct, &kept);
    }
    assert_eq!(daemon.status().len(), 1);
}

#[test]
fn a_daemon_of_another_version_is_stopped_and_replaced() {
    use std::io::BufRead;
    let daemon = Daemon::new();
    daemon.config("    keep_alive: true\n");
    let log = daemon.env.path("old.log");
    let mut old = std::process::Command::new("python3")
        .arg(repo().join("tests/fakes/old_daemon.py"))
        .arg(daemon.socket())
        .arg(&log)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(old.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "listening\n");
    let (text, stderr) = daemon.call(&[], "recall", "{}");
    assert_eq!(text, "");
    assert_eq!(stderr, "");
    assert_eq!(old.wait().unwrap().code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "io.mcpchat/status\nio.mcpchat/status\nio.mcpchat/stop\n"
    );
    assert_eq!(daemon.status()[0]["server"], "state");
}

#[test]
fn a_server_that_cannot_start_fails_the_same_way_through_the_daemon() {
    let daemon = Daemon::new();
    let run = |mode: &str| {
        daemon
            .cmd()
            .args([mode, "--stdio", "x=no-such-command-here", "tools", "list"])
            .output()
            .unwrap()
    };
    let direct = run("--no-keep-alive");
    let kept = run("--keep-alive");
    assert_eq!(direct.status.code(), Some(4));
    assert_eq!(kept.status.code(), Some(4));
    assert_eq!(lines(&kept.stdout), lines(&direct.stdout));
    assert_eq!(stderr_of(&kept), stderr_of(&direct));
}

/// server-memory keeps its graph in its file, so this shows the real server working through
/// the daemon (one process for both commands), not state only a live process holds (the
/// stateful fake shows that).
#[test]
fn the_memory_servers_graph_is_there_for_the_next_command_in_the_same_process() {
    let daemon = Daemon::new();
    let (memory, file) = memory_stdio_cmd(&daemon.env);
    let (node, script) = memory.split_once(' ').unwrap();
    daemon.env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: memory\n    command: {node}\n    args: [\"{script}\"]\n    env: {{MEMORY_FILE_PATH: \"{}\"}}\n    keep_alive: true\n",
            file.display()
        ),
    );
    let entities = r#"{"entities": [{"name": "Ada", "entityType": "person", "observations": ["wrote the first program"]}]}"#;
    let output = daemon
        .cmd()
        .args(["tools", "call", "create_entities", entities])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let pid = daemon.status()[0]["pid"].clone();
    let output = daemon
        .cmd()
        .args(["tools", "call", "read_graph", "{}"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let result = &lines(&output.stdout)[0];
    let graph = &result["structured_content"];
    assert_eq!(graph["entities"][0]["name"], "Ada", "{result}");
    assert_eq!(
        graph["entities"][0]["observations"],
        serde_json::json!(["wrote the first program"])
    );
    let status = daemon.status();
    assert_eq!(status[0]["pid"], pid);
    assert_eq!(status[0]["calls"], 2);
}

#[test]
fn a_server_that_exits_during_a_call_fails_the_command_with_exit_4_as_direct() {
    let daemon = Daemon::new();
    let crash = format!("c={}", crash_stdio_cmd());
    let run = |mode: &str, tool: &str| {
        daemon
            .cmd()
            .args([mode, "--stdio", &crash, "tools", "call", tool, "{}"])
            .output()
            .unwrap()
    };
    assert_eq!(run("--no-keep-alive", "boom").status.code(), Some(4));
    let kept = run("--keep-alive", "boom");
    assert_eq!(kept.status.code(), Some(4));
    assert_eq!(kept.stdout, b"");
    assert_eq!(
        stderr_of(&kept),
        "mcpchat: error: stdio MCP server `c` exited or closed its output during tools/call `boom`\n\
         hint: its stderr: crash_stdio: exiting on purpose\n\
         hint: run with -v to see everything the server writes to stderr\n"
    );
    // Never retried: the next command starts the server again, and says so.
    let next = run("--keep-alive", "ok");
    assert_eq!(next.status.code(), Some(0));
    assert_eq!(lines(&next.stdout)[0]["text"], "fine");
    assert_eq!(
        stderr_of(&next),
        "mcpchat: note: MCP server `c` kept alive by the daemon had exited; started it again\n"
    );
}
