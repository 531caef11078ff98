//! `tools call --batch` interrupted by SIGINT or SIGTERM: every answer already received is
//! printed, and every accepted request without an answer gets an `interrupted` error line with
//! its id, so a caller can re-run exactly those. (Interrupted `ask`: tests/cli/sessions.rs.)

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

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
        .args(["tools", "call", "--batch"])
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
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    while text.matches("\"type\":\"tool_result\"").count() < 2 {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "stdout ended: {text}"
        );
        text += &line;
    }
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    stdout.read_to_string(&mut text).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), lines(text.as_bytes()), stderr)
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
