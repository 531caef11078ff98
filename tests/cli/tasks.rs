//! Tool calls as tasks against server-everything's `simulate-research-query` (SEP-1686, task
//! mode required): transparent waiting, `tools call --task`, and `tasks list|get|result|cancel`
//! from later commands.

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

const TOOL: &str = "ev__simulate-research-query";

fn run(env: &TestEnv, url: &str, args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let output = env
        .cmd()
        .args(["--url", &format!("ev={url}")])
        .args(args)
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    (output.status.code(), lines(&output.stdout), stderr)
}

fn report_text(topic: &str) -> String {
    format!("# Research Report: {topic}\n")
}

#[test]
fn a_tool_that_requires_task_mode_runs_as_a_task_and_prints_its_result() {
    let env = TestEnv::new();
    for url_or_stdio in ["stdio", "http"] {
        let everything = everything_http();
        let mut cmd = env.cmd();
        if url_or_stdio == "stdio" {
            cmd.args(["--stdio", &format!("ev={}", everything_stdio_cmd())]);
        } else {
            cmd.args(["--url", &format!("ev={}", everything.url)]);
        }
        let output = cmd
            .args(["tools", "call", TOOL, "-a", "topic=otters"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        let lines = lines(&output.stdout);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["type"], "tool_result");
        assert_eq!(lines[0]["name"], TOOL);
        assert_eq!(lines[0]["is_error"], false);
        let text = lines[0]["text"].as_str().unwrap();
        assert!(text.starts_with(&report_text("otters")), "{text}");
    }
}

#[test]
fn tools_call_task_prints_a_task_line_and_later_commands_follow_the_task() {
    let env = TestEnv::new();
    let everything = everything_http();
    let url = everything.url.clone();
    let (code, started, stderr) = run(
        &env,
        &url,
        &["tools", "call", "--task", TOOL, "-a", "topic=beavers"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(started.len(), 1);
    let task = &started[0];
    assert_eq!(task["type"], "task");
    assert_eq!(task["server"], "ev");
    assert_eq!(task["status"], "working");
    assert_eq!(task["ttl_ms"], 300000);
    assert_eq!(task["poll_interval_ms"], 1000);
    let id = task["task_id"].as_str().unwrap().to_string();

    // No --server needed: mcpchat remembers where (and in which HTTP session) it started.
    let (code, got, stderr) = run(&env, &url, &["tasks", "get", &id]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(got[0]["task_id"], id.as_str());
    assert_eq!(got[0]["server"], "ev");
    // A 2025-11-25 server names them `ttl` and `pollInterval`: kept through rmcp's 2026 types.
    assert_eq!(got[0]["ttl_ms"], 300000);
    assert_eq!(got[0]["poll_interval_ms"], 1000);

    let (code, listed, stderr) = run(&env, &url, &["tasks", "list"]);
    assert_eq!(code, Some(0), "{stderr}");
    let ids: Vec<&str> = listed
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![id.as_str()]);

    let (code, result, stderr) = run(&env, &url, &["tasks", "result", &id]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["type"], "tool_result");
    assert_eq!(result[0]["server"], "ev");
    assert_eq!(result[0]["tool"], "simulate-research-query");
    assert_eq!(result[0]["name"], TOOL);
    assert_eq!(result[0]["is_error"], false);
    assert!(
        result[0]["text"]
            .as_str()
            .unwrap()
            .starts_with(&report_text("beavers"))
    );

    let (code, done, _) = run(&env, &url, &["tasks", "get", &id]);
    assert_eq!(code, Some(0));
    assert_eq!(done[0]["status"], "completed");
}

#[test]
fn tasks_cancel_cancels_a_running_task() {
    let env = TestEnv::new();
    let everything = everything_http();
    let url = everything.url.clone();
    let (_, started, stderr) = run(
        &env,
        &url,
        &["tools", "call", "--task", TOOL, "-a", "topic=moles"],
    );
    let id = started
        .first()
        .and_then(|t| t["task_id"].as_str())
        .unwrap_or_else(|| panic!("no task line: {stderr}"))
        .to_string();
    let (code, cancelled, stderr) = run(&env, &url, &["tasks", "cancel", &id]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(cancelled[0]["task_id"], id.as_str());
    assert_eq!(cancelled[0]["status"], "cancelled");
    assert_eq!(cancelled[0]["ttl_ms"], 300000);
    assert_eq!(cancelled[0]["poll_interval_ms"], 1000);
    let (_, got, _) = run(&env, &url, &["tasks", "get", &id]);
    assert_eq!(got[0]["status"], "cancelled");
    let (code, _, stderr) = run(&env, &url, &["tasks", "result", &id]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("task `{id}` on MCP server `ev` was cancelled")),
        "{stderr}"
    );
}

#[test]
fn a_task_id_mcpchat_did_not_start_needs_a_server_when_several_are_selected() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args([
            "--url",
            "a=http://127.0.0.1:9/mcp",
            "--url",
            "b=http://127.0.0.1:9/mcp",
        ])
        .args(["tasks", "get", "nope"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("task `nope` was not started by mcpchat here, so its server is unknown"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--server SERVER (servers: a, b)"),
        "{stderr}"
    );
}

#[test]
fn tools_call_task_on_a_stdio_server_is_exit_2_before_starting_it() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("ev={}", everything_stdio_cmd())])
        .args(["tools", "call", "--task", TOOL, "-a", "topic=x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(
            "--task needs an HTTP server: the tasks of stdio server `ev` end with its process"
        ),
        "{stderr}"
    );
}

#[test]
fn a_task_that_asks_for_input_gets_the_elicitation_answer_through_tasks_result() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("ev={}", everything_stdio_cmd())])
        .args(["--elicitation", "accept-defaults", "tools", "call", TOOL])
        .arg(r#"{"topic": "python", "ambiguous": true}"#)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    // The elicitation line (schema 1.8.0), then the result.
    assert_eq!(lines[0]["type"], "elicitation");
    assert_eq!(lines[0]["content"], serde_json::json!({}));
    let text = lines[1]["text"].as_str().unwrap();
    // The schema has no defaults, so the accepted answer carries no selection.
    assert!(
        text.starts_with("# Research Report: python (User accepted without selection)\n"),
        "{text}"
    );
}

#[test]
fn a_task_whose_session_is_gone_is_reported_by_the_server_not_waited_for() {
    let env = TestEnv::new();
    let first = everything_http();
    let (code, started, stderr) = run(
        &env,
        &first.url,
        &["tools", "call", "--task", TOOL, "-a", "topic=voles"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let id = started[0]["task_id"].as_str().unwrap().to_string();
    drop(first);
    // A restarted server knows neither the session nor the task: mcpchat notices the session is
    // gone (a ping in it fails), starts a new one, and the server's answer ends the command.
    let second = everything_http();
    let (code, lines, stderr) = run(&env, &second.url, &["tasks", "get", &id]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(lines.is_empty());
    assert!(
        stderr.contains(&format!("rejected tasks/get `{id}`")) && stderr.contains("Task not found"),
        "{stderr}"
    );
}
