//! A kept call's arguments are checked by the daemon, which keeps each schema's validator
//! compiled (the command compiles none): a misfit fails exactly as directly (exit 2, the same
//! lines, nothing called); a cached schema gone stale is listed again as directly; a schema
//! that does not compile is checked (and warned about) by the command as directly; no key
//! of ours reaches the server, and a server cannot make the command call it twice.

use std::path::PathBuf;
use std::process::Output;

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::daemon::{Daemon, same, untimed};
use crate::support::*;

/// `--stdio k=kept_asks.py`.
fn fake() -> String {
    format!(
        "k=python3 {}",
        repo().join("tests/fakes/kept_asks.py").display()
    )
}

/// `tools call TOOL ARGS...` of the fake, direct and through the daemon, both noting their
/// calls in the file `kept.log` of the test's directory (returned).
fn call_both(kept: &Daemon, tool_and_args: &[&str]) -> (Output, Output, PathBuf) {
    let log = kept.env.dir.path().join("kept.log");
    let fake = fake();
    let mut call = vec!["--stdio", &fake, "tools", "call"];
    call.extend_from_slice(tool_and_args);
    let (direct, through) = kept.both(&call, |cmd| {
        cmd.env("KEPT_LOG", &log);
    });
    same(&direct, &through);
    (direct, through, log)
}

#[test]
fn a_misfit_fails_as_directly_and_the_daemon_checked_it() {
    let kept = Daemon::new();
    let (_, through, _) = call_both(&kept, &["env", "--arg", "name=5"]);
    assert_eq!(through.status.code(), Some(2));
    assert!(through.stdout.is_empty());
    assert_eq!(
        stderr_of(&through),
        "mcpchat: error: arguments for `k__env` do not match its input schema:\n  \
         /name: 5 is not of type \"string\"\n\
         hint: `mcpchat tools list --server k` shows the schema\n"
    );
    // Through the daemon the command sent the schema to check against, and compiled none:
    // twice, as a misfit against a cached list has the tools listed again and checked once
    // more (as directly).
    let debug = kept
        .cmd()
        .env("RUST_LOG", "mcpchat=debug")
        .args(["--keep-alive", "--stdio", &fake(), "tools", "call"])
        .args(["env", "--arg", "name=5"])
        .output()
        .unwrap();
    assert_eq!(debug.status.code(), Some(2));
    let stderr = stderr_of(&debug);
    assert_eq!(
        stderr.matches("the daemon checks the arguments").count(),
        2,
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("the cached tools list looks stale").count(),
        1,
        "{stderr}"
    );
    // `--task` starts a task only with arguments that fit: checked before, as directly.
    let task = kept
        .cmd()
        .args([
            "--keep-alive",
            "--stdio",
            &fake(),
            "tools",
            "call",
            "--task",
        ])
        .args(["env", "--arg", "name=5"])
        .output()
        .unwrap();
    assert_eq!(task.status.code(), Some(2));
    assert_eq!(stderr_of(&task), stderr_of(&through));
    let ok = [
        "--stdio",
        &fake(),
        "tools",
        "call",
        "env",
        "--arg",
        "name=HOME",
    ];
    let (direct, through) = kept.both(&ok, |_| {});
    same(&direct, &through);
    assert_eq!(
        lines(&through.stdout)[0]["text"],
        kept.env.home().display().to_string()
    );
}

#[test]
fn a_stale_cached_schema_is_listed_again_through_the_daemon_as_directly() {
    let kept = Daemon::new();
    let run = |mode: &str| {
        kept.cmd()
            .args([mode, "-v", "--stdio", &fake()])
            .args(["tools", "call", "env", "--arg", "name=HOME"])
            .output()
            .unwrap()
    };
    let list = kept
        .cmd()
        .args(["--keep-alive", "--stdio", &fake(), "tools", "list"])
        .output()
        .unwrap();
    assert_eq!(list.status.code(), Some(0), "{}", stderr_of(&list));
    let mut outputs = Vec::new();
    for mode in ["--keep-alive", "--no-keep-alive"] {
        // The cache says `name` is an integer; the server says a string.
        make_env_take_an_integer(&kept);
        let output = run(mode);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        let stderr = stderr_of(&output);
        assert_eq!(
            stderr.matches("the cached tools list looks stale").count(),
            1,
            "{mode}: {stderr}"
        );
        outputs.push(untimed(&output.stdout));
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0][0]["text"], kept.env.home().display().to_string());
}

/// Rewrite every cached tools list so that `env`'s `name` must be an integer.
fn make_env_take_an_integer(kept: &Daemon) {
    let dir = kept.env.home().join(".cache/mcpchat/servers");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let mut file: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for identity in file["identities"].as_object_mut().unwrap().values_mut() {
            for tool in identity["tools"]["items"].as_array_mut().unwrap() {
                if tool["name"] == "env" {
                    tool["inputSchema"]["properties"]["name"]["type"] = "integer".into();
                }
            }
        }
        std::fs::write(&path, file.to_string()).unwrap();
    }
}

#[test]
fn a_schema_the_daemon_cannot_compile_is_checked_and_warned_about_as_directly() {
    let kept = Daemon::new();
    let (_, through, log) = call_both(&kept, &["broken", "--arg", "x=1"]);
    assert_eq!(through.status.code(), Some(0), "{}", stderr_of(&through));
    assert_eq!(lines(&through.stdout)[0]["text"], "called");
    let stderr = stderr_of(&through);
    assert!(
        stderr
            .contains("not validating arguments locally: the tool's inputSchema does not compile"),
        "{stderr}"
    );
    // Called once in each mode.
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "called broken\ncalled broken\n"
    );
}

#[test]
fn a_server_saying_unchecked_is_not_called_again_and_no_key_of_ours_reaches_it() {
    let kept = Daemon::new();
    let (_, through, log) = call_both(&kept, &["unforged"]);
    assert_eq!(through.status.code(), Some(4), "{}", stderr_of(&through));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "called unforged\ncalled unforged\n"
    );
    // The server sees its progress token only: the schema to check stays with the daemon.
    let (_, through, _) = call_both(&kept, &["meta"]);
    assert_eq!(lines(&through.stdout)[0]["text"], "progressToken");
}
