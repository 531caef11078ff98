//! `tools call` against real peers.

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::support::*;

#[test]
fn get_sum_returns_5_over_streamable_http() {
    let env = TestEnv::new();
    let everything = everything_http();
    let output = env
        .cmd()
        .args(["--url", &format!("everything={}", everything.url)])
        .args([
            "tools",
            "call",
            "everything__get-sum",
            r#"{"a": 2, "b": 3}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    let result = &lines[0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["server"], "everything");
    assert_eq!(result["tool"], "get-sum");
    assert_eq!(result["is_error"], false);
    assert_eq!(result["text"], "The sum of 2 and 3 is 5.");
    assert_eq!(
        result["content"],
        json!([{"type": "text", "text": "The sum of 2 and 3 is 5."}])
    );
}

#[test]
fn add_returns_5_from_the_python_sdk_in_stateless_json_mode() {
    let env = TestEnv::new();
    let python = python_http(true);
    let output = env
        .cmd()
        .args(["--url", &format!("py={}", python.url)])
        .args(["tools", "call", "add", "--arg", "a=2", "--arg", "b=3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines[0]["text"], "5");
    assert_eq!(lines[0]["structured_content"], json!({"result": 5}));
}

#[test]
fn stateful_python_sdk_server_works_too() {
    let env = TestEnv::new();
    let python = python_http(false);
    let output = env
        .cmd()
        .args(["--url", &format!("py={}", python.url)])
        .args(["tools", "call", "py__shout", r#"{"text": "hi"}"#])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["text"], "HI");
}

#[test]
fn echo_round_trips_unicode_over_stdio() {
    let env = TestEnv::new();
    let message = "héllo wörld ✓ 日本語 🚀 \"quoted\" \\ back";
    let output = env
        .cmd()
        .args(["--stdio", &format!("ev={}", everything_stdio_cmd())])
        .args([
            "tools",
            "call",
            "ev__echo",
            "--arg",
            &format!("message={message}"),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["text"], format!("Echo: {message}"));
}

#[test]
fn arguments_can_come_from_stdin() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "demo__add", "-"])
        .write_stdin(r#"{"a": 40, "b": 2}"#)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines[0]["structured_content"], json!({"sum": 42}));
}

#[test]
fn arg_values_parse_as_json_else_string() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "demo__echo", "--arg", "message=12abc"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["text"], "12abc");
}

#[test]
fn schema_violation_exits_2_before_any_call() {
    let env = TestEnv::new();
    let (memory, memory_file) = memory_stdio_cmd(&env);
    // create_entities would write the graph file if it were called.
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: memory\n    command: sh\n    args: [\"-c\", \"exec {memory}\"]\n    env: {{MEMORY_FILE_PATH: \"{}\"}}\n",
            memory_file.display()
        ),
    );
    let output = env
        .cmd()
        .args([
            "tools",
            "call",
            "memory__create_entities",
            r#"{"entities": [{"name": 5}]}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = stderr_of(&output);
    assert!(stderr.contains("do not match its input schema"), "{stderr}");
    assert!(
        stderr.contains("/entities/0/name: 5 is not of type \"string\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("/entities/0: \"entityType\" is a required property"),
        "{stderr}"
    );
    assert!(!memory_file.exists(), "the tool must not have been called");
}

#[test]
fn non_object_arguments_exit_2() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "demo__add", "[1, 2]"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("must be a JSON object, not an array"));
}

#[test]
fn unknown_tool_exits_2_with_a_suggestion() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "demo__ad", "{}"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("MCP server `demo` has no tool `ad`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `demo__add`?"), "{stderr}");
}

#[test]
fn unknown_server_prefix_exits_2_without_contacting_anything() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "nope__add", "{}"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("unknown MCP server `nope`"));
}

#[test]
fn only_the_server_that_owns_the_tool_is_contacted() {
    let env = TestEnv::new();
    // A server that would fail (or hang) if contacted.
    let hang = fault_http("hang");
    let output = env
        .cmd()
        .args(["--url", &format!("hang={}", hang.url)])
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "demo__echo", "--arg", "message=x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(stderr_of(&output), "");
}

#[test]
fn is_error_result_exits_1_and_still_prints_the_result() {
    let env = TestEnv::new();
    let python = python_http(true);
    let output = env
        .cmd()
        .args(["--url", &format!("py={}", python.url)])
        .args(["tools", "call", "py__fail"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output.stdout);
    assert_eq!(lines[0]["is_error"], true);
    assert_eq!(lines[0]["text"], "this tool always fails");
}

#[test]
fn a_bad_timezone_is_an_is_error_result_from_mcp_server_time() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args([
            "--stdio",
            &format!(
                "time={} --local-timezone UTC",
                venv_bin("mcp-server-time").display()
            ),
        ])
        .args([
            "tools",
            "call",
            "time__get_current_time",
            "--arg",
            "timezone=Mars/Olympus",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines[0]["is_error"], true);
    assert!(
        lines[0]["text"]
            .as_str()
            .unwrap()
            .contains("Invalid timezone"),
        "{:?}",
        lines[0]
    );
}

#[test]
fn text_format_prints_only_the_result_text() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args([
            "--stdio",
            &format!("demo={}", demo_stdio_cmd()),
            "--format",
            "text",
        ])
        .args([
            "tools",
            "call",
            "demo__echo",
            "--arg",
            "message=plain words",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "plain words\n");
}

#[test]
fn progress_notifications_do_not_disturb_stdout() {
    let env = TestEnv::new();
    let everything = everything_http();
    let output = env
        .cmd()
        .args(["--url", &format!("ev={}", everything.url)])
        .args([
            "tools",
            "call",
            "ev__trigger-long-running-operation",
            r#"{"duration": 1, "steps": 3}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0]["text"]
            .as_str()
            .unwrap()
            .contains("Long running operation completed"),
        "{:?}",
        lines[0]
    );
    // stderr is not a TTY here: no bars, no noise.
    assert_eq!(stderr_of(&output), "");
}

#[test]
fn no_validate_sends_the_arguments_as_given_and_the_server_judges() {
    let env = TestEnv::new();
    let python = python_http(true);
    let output = env
        .cmd()
        .args(["--url", &format!("py={}", python.url)])
        .args([
            "tools",
            "call",
            "--no-validate",
            "py__add",
            r#"{"a": "two", "b": 3}"#,
        ])
        .output()
        .unwrap();
    // The Python SDK rejects it itself, as a tool error.
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["is_error"], true);
}

#[test]
fn elicitation_is_answered_with_the_schema_defaults_only_when_asked() {
    let env = TestEnv::new();
    let server = format!("ev={}", everything_stdio_cmd());
    let output = env
        .cmd()
        .args(["--elicitation", "accept-defaults", "--stdio", &server])
        .args(["tools", "call", "ev__trigger-elicitation-request"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    // The request and its answer first (schema 1.8.0), then the result.
    assert_eq!(lines[0]["type"], "elicitation");
    assert_eq!(lines[0]["action"], "accept");
    assert_eq!(lines[0]["content"]["integer"], 42);
    let result = &lines[1];
    assert_eq!(
        result["content"][0]["text"],
        "✅ User provided the requested information!"
    );
    assert!(
        result["text"]
            .as_str()
            .unwrap()
            .contains("Favorite Integer: 42"),
        "{result}"
    );
    assert!(
        result["text"]
            .as_str()
            .unwrap()
            .contains("\"action\": \"accept\""),
        "{result}"
    );

    // By default the capability is not declared, so the server does not offer the tool.
    let output = env
        .cmd()
        .args([
            "--stdio",
            &server,
            "tools",
            "call",
            "ev__trigger-elicitation-request",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_of(&output).contains("has no tool `trigger-elicitation-request`"));
}
