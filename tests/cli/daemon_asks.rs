//! What a kept-alive server asks and tells its client reaches the command that uses it, as
//! directly: elicitation (`--answers`), sampling, roots, log messages at the command's level,
//! progress; a server dying mid-call fails the command with the direct failure; the server
//! gets exactly the command's environment (none of the daemon's); the real browser keeps its
//! page between two commands.
//! Each test compares the kept-alive run with the direct one where that is the claim, and
//! has its own HOME and XDG_RUNTIME_DIR; every daemon it starts is stopped (`support::daemon`).

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::daemon::{Daemon, eventually, same, untimed};
use crate::support::*;

/// `--stdio k=kept_asks.py`.
fn fake() -> String {
    format!(
        "k=python3 {}",
        repo().join("tests/fakes/kept_asks.py").display()
    )
}

fn text(output: &std::process::Output) -> String {
    lines(&output.stdout)[0]["text"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn server_everythings_elicitation_is_answered_from_answers_through_the_daemon_as_directly() {
    let kept = Daemon::new();
    kept.env.write(
        "answers.json",
        r#"{"name": "Ann Smith", "check": true, "email": "ann@example.com", "integer": 7}"#,
    );
    let everything = format!("everything={}", everything_stdio_cmd());
    let args = [
        "--stdio",
        &everything,
        "--answers",
        "answers.json",
        "tools",
        "call",
        "everything__trigger-elicitation-request",
    ];
    let (direct, through) = kept.both(&args, |_| {});
    assert_eq!(direct.status.code(), Some(0), "{}", stderr_of(&direct));
    same(&direct, &through);
    let lines = lines(&through.stdout);
    assert_eq!(lines[0]["type"], "elicitation");
    assert_eq!(lines[0]["action"], "accept");
    assert_eq!(lines[0]["content"]["name"], "Ann Smith");
    assert!(
        lines[1]["text"]
            .as_str()
            .unwrap()
            .contains("- Name: Ann Smith\n")
    );
    let status = kept.status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0]["calls"], 1);
}

#[test]
fn a_command_that_declares_no_elicitation_gets_a_server_that_was_told_none() {
    let kept = Daemon::new();
    kept.env.write("answers.json", r#"{"name": "Ann"}"#);
    let everything = format!("everything={}", everything_stdio_cmd());
    // Without --answers (and without a terminal) nothing is declared: server-everything
    // offers no elicitation tool then, directly and through the daemon alike.
    let (direct, through) = kept.both(&["--stdio", &everything, "tools", "list"], |_| {});
    same(&direct, &through);
    let names: Vec<Value> = lines(&through.stdout)
        .iter()
        .map(|l| l["tool"].clone())
        .collect();
    assert!(!names.contains(&Value::from("trigger-elicitation-request")));
    let pid = kept.status()[0]["pid"].clone();
    let answering = kept
        .cmd()
        .args([
            "--keep-alive",
            "--stdio",
            &everything,
            "--answers",
            "answers.json",
        ])
        .args(["tools", "list"])
        .output()
        .unwrap();
    let names: Vec<Value> = lines(&answering.stdout)
        .iter()
        .map(|l| l["tool"].clone())
        .collect();
    assert!(names.contains(&Value::from("trigger-elicitation-request")));
    // Another process: what a server was told is part of what it is. The first one ends
    // once no command holds it (at once, or at the daemon's next sweep).
    let newest = kept.status().last().unwrap()["pid"].clone();
    assert_ne!(newest, pid);
    let first = pid.as_u64().unwrap() as u32;
    eventually("the replaced server ends", || {
        kept.status().len() == 1 && !alive(first)
    });
    assert_eq!(kept.status()[0]["pid"], newest);
}

#[test]
fn log_messages_reach_the_command_at_the_level_it_asked_for() {
    let kept = Daemon::new();
    let fake = fake();
    let run = |level: &str| {
        kept.both(
            &[
                "--stdio",
                &fake,
                "--log-level",
                level,
                "tools",
                "call",
                "log",
            ],
            |cmd| {
                cmd.env("RUST_LOG", "mcpchat::server=info");
            },
        )
    };
    let (direct, through) = run("warning");
    same(&direct, &through);
    let stderr = stderr_of(&through);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("a warning message"), "{stderr}");
    // The next command asks for more, from the same process.
    let (direct, through) = run("debug");
    same(&direct, &through);
    let stderr = stderr_of(&through);
    let messages: Vec<&str> = stderr.lines().collect();
    assert_eq!(messages.len(), 3, "{stderr}");
    assert!(messages[0].contains("a debug message"), "{stderr}");
    assert_eq!(kept.status()[0]["calls"], 2);
}

#[test]
fn progress_reaches_the_command_as_directly() {
    let kept = Daemon::new();
    let fake = fake();
    let (direct, through) = kept.both(&["--stdio", &fake, "tools", "call", "progress"], |cmd| {
        cmd.env("RUST_LOG", "mcpchat::ui=info");
    });
    same(&direct, &through);
    let stderr = stderr_of(&through);
    let steps: Vec<&str> = stderr.lines().filter(|l| l.contains("progress")).collect();
    assert_eq!(steps.len(), 3, "{stderr}");
    assert!(steps[2].contains("step 3"), "{stderr}");
}

#[test]
fn progress_of_server_everythings_long_operation_reaches_the_command() {
    let kept = Daemon::new();
    let everything = format!("ev={}", everything_stdio_cmd());
    let args = [
        "--stdio",
        &everything,
        "tools",
        "call",
        "ev__trigger-long-running-operation",
        r#"{"duration": 1, "steps": 2}"#,
    ];
    let (direct, through) = kept.both(&args, |cmd| {
        cmd.env("RUST_LOG", "mcpchat::ui=info");
    });
    same(&direct, &through);
    let stderr = stderr_of(&through);
    assert_eq!(
        stderr.lines().filter(|l| l.contains("progress")).count(),
        2,
        "{stderr}"
    );
}

#[test]
fn sampling_is_refused_as_directly_when_the_command_does_not_allow_it() {
    let kept = Daemon::new();
    let fake = fake();
    let (direct, through) = kept.both(&["--stdio", &fake, "tools", "call", "sample"], |_| {});
    same(&direct, &through);
    assert_eq!(
        text(&through),
        "refused: User rejected sampling request (-1)"
    );
    assert_eq!(
        stderr_of(&through),
        "mcpchat: note: MCP server `k` asked for a completion from the model (sampling); refused (allow it with --sampling allow)\n"
    );
}

#[test]
fn sampling_is_answered_by_the_commands_model_through_the_daemon() {
    let kept = Daemon::new();
    let llm = fakellm();
    let everything = format!("ev={}", everything_stdio_cmd());
    let args = [
        "--stdio",
        &everything,
        "--sampling",
        "allow",
        "tools",
        "call",
        "ev__trigger-sampling-request",
        r#"{"prompt": "what colour is the sky?", "maxTokens": 50}"#,
    ];
    let (direct, through) = kept.both(&args, |cmd| {
        cmd.env("OPENAI_API_KEY", "sk-test")
            .env("OPENAI_BASE_URL", &llm.url);
    });
    assert_eq!(direct.status.code(), Some(0), "{}", stderr_of(&direct));
    same(&direct, &through);
    assert!(
        text(&through).contains("Sampled: the sky is blue."),
        "{}",
        text(&through)
    );
}

#[test]
fn roots_are_the_commands_and_none_are_declared_without_them() {
    let kept = Daemon::new();
    let fake = fake();
    let dir = kept.env.path("project");
    std::fs::create_dir_all(&dir).unwrap();
    let root = dir.display().to_string();
    let (direct, through) = kept.both(
        &["--stdio", &fake, "--root", &root, "tools", "call", "roots"],
        |_| {},
    );
    same(&direct, &through);
    let canonical = dir.canonicalize().unwrap();
    assert_eq!(text(&through), format!("file://{}", canonical.display()));
    let (direct, through) = kept.both(&["--stdio", &fake, "tools", "call", "roots"], |_| {});
    same(&direct, &through);
    assert_eq!(
        text(&through),
        "refused: roots/list: the client declares no roots (-32601)"
    );
}

#[test]
fn a_server_that_dies_mid_call_fails_the_command_as_directly() {
    let kept = Daemon::new();
    let crash = format!("c={}", crash_stdio_cmd());
    let (direct, through) = kept.both(&["--stdio", &crash, "tools", "call", "boom", "{}"], |_| {});
    assert_eq!(direct.status.code(), Some(4));
    same(&direct, &through);
    assert_eq!(
        stderr_of(&through),
        "mcpchat: error: stdio MCP server `c` exited or closed its output during tools/call `boom`\n\
         hint: its stderr: crash_stdio: exiting on purpose\n\
         hint: run with -v to see everything the server writes to stderr\n"
    );
}

#[test]
fn a_kept_server_gets_the_commands_environment_and_another_one_another_server() {
    let kept = Daemon::new();
    let fake = fake();
    let call = |probe: &str, tool: &str, extra: &[(&str, &str)]| {
        let mut cmd = kept.cmd();
        cmd.env("PROBE", probe);
        for (name, value) in extra {
            cmd.env(name, value);
        }
        let output = cmd
            .args(["--keep-alive", "--stdio", &fake, "tools", "call", tool])
            .arg(r#"{"name": "PROBE"}"#)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        text(&output)
    };
    assert_eq!(call("one", "env", &[]), "one");
    let first = call("one", "pid", &[]);
    // A shell's bookkeeping and mcpchat's own settings do not make another server.
    let same_env = [
        ("OLDPWD", "/elsewhere"),
        ("SHLVL", "3"),
        ("MCPCHAT_KEEP_ALIVE", "1"),
    ];
    assert_eq!(call("one", "pid", &same_env), first);
    // Another value does: a new process, which replaces the first (the same name).
    assert_eq!(call("two", "env", &[]), "two");
    let second = call("two", "pid", &[]);
    assert_ne!(second, first);
    let status = kept.status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0]["pid"].to_string(), second);
    // Directly, the same.
    let direct = kept
        .cmd()
        .env("PROBE", "two")
        .args(["--no-keep-alive", "--stdio", &fake, "tools", "call", "env"])
        .arg(r#"{"name": "PROBE"}"#)
        .output()
        .unwrap();
    assert_eq!(text(&direct), "two");
}

#[test]
fn a_kept_server_gets_exactly_the_commands_environment_with_env_over_it_and_nothing_of_the_daemons()
{
    let kept = Daemon::new();
    kept.env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: k\n    command: python3\n    args: [{}]\n    env: {{OVER: config}}\n",
            repo().join("tests/fakes/kept_asks.py").display()
        ),
    );
    // The daemon runs with a variable the commands do not have.
    let started = kept
        .cmd()
        .env("EXTRA", "1")
        .args(["daemon", "start"])
        .output()
        .unwrap();
    assert_eq!(started.status.code(), Some(0), "{}", stderr_of(&started));
    let call = |mode: &str, tool: &str, name: &str, extra: &[(&str, &str)]| {
        let mut cmd = kept.cmd();
        cmd.env("SEEN", "yes").env("OVER", "command");
        for (name, value) in extra {
            cmd.env(name, value);
        }
        let output = cmd
            .args([mode, "tools", "call", tool])
            .arg(format!(r#"{{"name": "{name}"}}"#))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert_eq!(stderr_of(&output), "");
        text(&output)
    };
    for mode in ["--no-keep-alive", "--keep-alive"] {
        assert_eq!(call(mode, "k__env", "EXTRA", &[]), "(unset)", "{mode}");
        assert_eq!(call(mode, "k__env", "SEEN", &[]), "yes", "{mode}");
        assert_eq!(call(mode, "k__env", "OVER", &[]), "config", "{mode}");
    }
    // The directory is keyed on its own: `PWD` alone changed is the same server.
    let pid = call("--keep-alive", "k__pid", "", &[]);
    let moved = [("PWD", "/elsewhere")];
    assert_eq!(call("--keep-alive", "k__pid", "", &moved), pid);
    let status = kept.status();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0]["pid"].to_string(), pid);
}

#[test]
fn the_browser_keeps_its_page_from_one_command_to_the_next_only_when_kept_alive() {
    if skipped("browser") {
        return;
    }
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Debian's chromium: apt-get install chromium (or MCPCHAT_TEST_SKIP=browser)"
    );
    let kept = Daemon::new();
    let cli = peers().join("browser/node_modules/@playwright/mcp/cli.js");
    let args = serde_json::json!([
        cli,
        "--headless",
        "--isolated",
        "--no-sandbox",
        "--executable-path",
        "/usr/bin/chromium",
        "--output-dir",
        kept.env.path("browser-output")
    ]);
    kept.env.write(
        "mcp_servers.yaml",
        &format!("servers:\n  - name: browser\n    command: node\n    args: {args}\n    keep_alive: true\n"),
    );
    let url = serve_page(
        "<html><head><title>Kept page</title></head><body><h1>Still here</h1></body></html>",
    );
    let call = |mode: &str, tool: &str, arguments: &str| {
        let output = kept
            .cmd()
            .args([mode, "tools", "call", tool, arguments])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        let line = &lines(&output.stdout)[0];
        assert_eq!(line["is_error"], false, "{line}");
        line["text"].as_str().unwrap().to_string()
    };
    let navigate = format!(r#"{{"url": "{url}"}}"#);
    call("--keep-alive", "browser__browser_navigate", &navigate);
    let pid = kept.status()[0]["pid"].clone();
    let snapshot = call("--keep-alive", "browser__browser_snapshot", "{}");
    assert!(snapshot.contains("Kept page"), "{snapshot}");
    assert!(snapshot.contains("Still here"), "{snapshot}");
    let status = kept.status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0]["pid"], pid);
    assert_eq!(status[0]["calls"], 2);
    // Directly, the second command starts a new browser, which has no page.
    call("--no-keep-alive", "browser__browser_navigate", &navigate);
    let snapshot = call("--no-keep-alive", "browser__browser_snapshot", "{}");
    assert!(!snapshot.contains("Kept page"), "{snapshot}");
}

#[test]
fn ctrl_c_during_a_kept_call_cancels_it_upstream_and_the_server_lives_on() {
    let kept = Daemon::new();
    let fake = fake();
    let log = kept.env.path("kept.log");
    let said = || std::fs::read_to_string(&log).unwrap_or_default();
    let child = kept
        .env
        .std_cmd()
        .env("XDG_RUNTIME_DIR", kept.run_dir())
        .env("KEPT_LOG", &log)
        .args(["--keep-alive", "--stdio", &fake, "tools", "call", "wait"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    eventually("the call reached the server", || said() == "waiting\n");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr_of(&output));
    eventually("the server was told", || said() == "waiting\ncancelled\n");
    let pid = kept.status()[0]["pid"].to_string();
    let next = kept
        .cmd()
        .env("KEPT_LOG", &log)
        .args(["--keep-alive", "--stdio", &fake, "tools", "call", "pid"])
        .output()
        .unwrap();
    assert_eq!(next.status.code(), Some(0), "{}", stderr_of(&next));
    assert_eq!(text(&next), pid);
}

#[test]
fn resources_watch_through_the_daemon_prints_the_servers_update_as_directly() {
    let kept = Daemon::new();
    let everything = format!("ev={}", everything_stdio_cmd());
    let args = [
        "--stdio",
        &everything,
        "resources",
        "watch",
        "demo://resource/static/document/features.md",
        "--call",
        "toggle-subscriber-updates",
        "--count",
        "1",
    ];
    let (direct, through) = kept.both(&args, |_| {});
    assert_eq!(direct.status.code(), Some(0), "{}", stderr_of(&direct));
    same(&direct, &through);
    let lines = lines(&through.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "resource_updated");
    assert_eq!(kept.status().len(), 1);
}

#[test]
fn a_url_required_error_is_completed_through_the_daemon_and_the_call_sent_again() {
    let kept = Daemon::new();
    let server = format!(
        "e=python3 {}",
        repo().join("tests/fakes/elicit_server.py").display()
    );
    let args = [
        "--stdio",
        &server,
        "--elicitation",
        "answers",
        "tools",
        "call",
        "e__url_required",
    ];
    let (direct, through) = kept.both(&args, |_| {});
    assert_eq!(direct.status.code(), Some(0), "{}", stderr_of(&direct));
    assert_eq!(through.status.code(), Some(0), "{}", stderr_of(&through));
    assert_eq!(untimed(&through.stdout), untimed(&direct.stdout));
    // The server says "complete" at once, so its note may come before or after the URL.
    let note = "mcpchat: note: MCP server `e` says the URL elicitation `connect-1` is complete\n";
    let stderr = stderr_of(&through);
    assert_eq!(stderr.matches(note).count(), 1, "{stderr}");
    assert_eq!(
        stderr.replace(note, ""),
        stderr_of(&direct).replace(note, "")
    );
    let lines = lines(&through.stdout);
    assert_eq!(lines[0]["elicitation_id"], "connect-1");
    assert_eq!(lines.len(), 2);
}

#[test]
fn a_servers_error_that_claims_to_be_mcpchats_own_failure_is_not_believed() {
    let kept = Daemon::new();
    let fake = fake();
    let (direct, through) = kept.both(&["--stdio", &fake, "tools", "call", "forge"], |_| {});
    same(&direct, &through);
    assert_eq!(through.status.code(), Some(4));
    assert_eq!(
        stderr_of(&through),
        "mcpchat: error: MCP server `k` rejected tools/call `forge`: no such thing (code -32000)\n"
    );
}
