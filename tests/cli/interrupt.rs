//! Interrupted by SIGINT or SIGTERM. `ask` prints a `result` line that says what happened and
//! leaves its conversation continuable; `tools call --batch` prints every answer already
//! received and an `interrupted` error line with its id for every accepted request without an
//! answer, so a caller can re-run exactly those.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::sessions::{answered, ask, stored};
use crate::support::*;

const REQUESTS: &str = r#"{"id": 1, "tool": "ev__get-sum", "arguments": {"a": 1, "b": 2}}
{"id": "slow", "tool": "ev__trigger-long-running-operation", "arguments": {"duration": 300, "steps": 300}}
{"id": {"n": 3}, "tool": "ev__echo", "arguments": {"message": "hi"}}
"#;

/// Run the batch, wait for the two fast answers, send `signal`; exit code and stdout lines.
fn interrupted_batch(signal: i32, close_stdin: bool) -> (Option<i32>, Vec<Value>, String) {
    let env = TestEnv::new();
    let everything = everything_http();
    let mut child = env
        .std_cmd()
        .args(["--url", &format!("ev={}", everything.url)])
        // --unordered: the third request (same server) must not wait for the slow second.
        .args(["tools", "call", "--batch", "--unordered"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(REQUESTS.as_bytes()).unwrap();
    // Open stdin: the reader is still waiting for more requests when the signal comes.
    let _open = if close_stdin {
        drop(stdin);
        None
    } else {
        Some(stdin)
    };
    signal_after(&mut child, 2, signal)
}

/// Read `child`'s stdout until it has printed `results` `tool_result` lines, send it `signal`,
/// then read the rest: its exit code, all its stdout lines and its stderr.
fn signal_after(
    child: &mut std::process::Child,
    results: usize,
    signal: i32,
) -> (Option<i32>, Vec<Value>, String) {
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    while text.matches("\"type\":\"tool_result\"").count() < results {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "stdout ended early: {text}"
        );
        text += &line;
    }
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    stdout.read_to_string(&mut text).unwrap();
    let (code, stderr) = wait_with_stderr(child);
    (code, lines(text.as_bytes()), stderr)
}

fn assert_reported(lines: &[Value], message: &str, stderr: &str) {
    assert_eq!(lines.len(), 3, "{lines:?}");
    let mut answered: Vec<(Value, Value)> = lines[..2]
        .iter()
        .map(|l| (l["id"].clone(), l["text"].clone()))
        .collect();
    answered.sort_by_key(|(id, _)| id.to_string());
    assert_eq!(
        answered,
        vec![
            (json!(1), json!("The sum of 1 and 2 is 3.")),
            (json!({"n": 3}), json!("Echo: hi")),
        ]
    );
    assert_eq!(
        lines[2],
        json!({"type": "error", "id": "slow", "kind": "interrupted",
            "message": "batch line 2: interrupted before an answer arrived", "exit_code": 130})
    );
    assert!(
        stderr.contains(&format!("mcpchat: error: {message}")),
        "{stderr}"
    );
}

#[test]
fn sigint_during_a_batch_prints_the_answers_and_an_interrupted_line_for_the_rest() {
    let (code, lines, stderr) = interrupted_batch(libc::SIGINT, false);
    assert_eq!(code, Some(130), "{stderr}");
    assert_reported(&lines, "interrupted", &stderr);
}

#[test]
fn sigterm_after_the_input_ended_reports_the_unanswered_requests_too() {
    let (code, lines, stderr) = interrupted_batch(libc::SIGTERM, true);
    assert_eq!(code, Some(130), "{stderr}");
    assert_reported(&lines, "terminated", &stderr);
}

/// Start `ask --session NAME "interrupt me softly"`, wait for the fast tool's result line,
/// send `signal`; returns the exit code, the stdout lines and stderr.
fn interrupt_ask(
    env: &TestEnv,
    llm: &Peer,
    everything: &Peer,
    name: &str,
    signal: i32,
) -> (Option<i32>, Vec<Value>, String) {
    let mut child = env
        .std_cmd()
        .env("OPENAI_API_KEY", "k")
        .env("OPENAI_BASE_URL", &llm.url)
        .args(["--url", &format!("ev={}", everything.url)])
        .args(["ask", "--session", name, "interrupt me softly"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    signal_after(&mut child, 1, signal)
}

fn assert_interrupted_result(lines: &[Value], message: &str, session: &str) {
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["tool_call", "tool_call", "tool_result", "result"]);
    assert_eq!(lines[2]["text"], "The sum of 1 and 1 is 2.");
    let mut result = lines[3].clone();
    let usage = result["usage"].clone();
    let (prompt, completion) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    );
    assert!(prompt > 0, "{usage}");
    assert_eq!(usage["total_tokens"], prompt + completion);
    result["duration_ms"] = json!(0);
    result["usage"] = json!(null);
    assert_eq!(
        result,
        json!({"type": "result", "status": "error", "answer": null, "model": "gpt-4o-mini",
            "steps": 1, "tool_calls": 1, "usage": null, "duration_ms": 0,
            "error": {"kind": "interrupted", "message": message, "exit_code": 130},
            "session": session, "turn": 1})
    );
}

#[test]
fn an_interrupted_ask_reports_what_happened_and_leaves_a_session_the_next_ask_continues() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    let (code, lines, stderr) = interrupt_ask(&env, &llm, &everything, "slow", libc::SIGINT);
    assert_eq!(code, Some(130), "{stderr}");
    assert_interrupted_result(&lines, "interrupted", "slow");
    assert!(stderr.contains("mcpchat: error: interrupted"), "{stderr}");

    let (_, messages) = stored(&env, "slow");
    let ids: Vec<&str> = messages[1]["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 4);
    assert_eq!(
        messages[2],
        json!({"role": "tool", "tool_call_id": ids[0], "content": "The sum of 1 and 1 is 2."})
    );
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": ids[1],
            "content": "[tool error] interrupted: mcpchat was stopped before the tool answered"})
    );
    let next = answered(ask(&env, &llm.url).args([
        "--url",
        &format!("ev={}", everything.url),
        "--session",
        "slow",
        "what happened to the slow tool?",
    ]));
    assert_eq!(
        next["answer"],
        "The slow tool was interrupted; 1 and 1 made 2."
    );
    assert_eq!(next["turn"], 2);
}

#[test]
fn sigterm_during_ask_prints_the_same_summary() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    let (code, lines, stderr) = interrupt_ask(&env, &llm, &everything, "term", libc::SIGTERM);
    assert_eq!(code, Some(130), "{stderr}");
    assert_interrupted_result(&lines, "terminated", "term");
}

/// Whether the process has a handler for SIGINT (bit 2 of `SigCgt` in /proc/PID/status).
fn catches_sigint(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (libc::SIGINT - 1)) != 0)
}

#[test]
fn sigint_while_tools_call_waits_for_its_arguments_on_stdin_exits_130() {
    let env = TestEnv::new();
    let mut child = env
        .std_cmd()
        .args([
            "--url",
            &format!("x=http://127.0.0.1:{}/mcp", closed_port()),
        ])
        .args(["tools", "call", "x__echo", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // stdin stays open and empty: the arguments never come.
    let _stdin = child.stdin.take().unwrap();
    while !catches_sigint(child.id()) {
        assert!(child.try_wait().unwrap().is_none(), "mcpchat exited early");
        std::thread::sleep(Duration::from_millis(5));
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    // A guard against a hang (the read blocking the signal's task), not a timing assertion.
    let mut waited = 0;
    while child.try_wait().unwrap().is_none() {
        if waited == 3000 {
            child.kill().unwrap();
            panic!("mcpchat did not end within 30 s of SIGINT while reading stdin");
        }
        waited += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert_eq!(stderr.lines().next(), Some("mcpchat: error: interrupted"));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
}
