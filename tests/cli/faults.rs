//! Faults real peers cannot produce, from in-repo fakes: each gives the right exit code, a
//! clear message naming the server, and leaves other servers unaffected.

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::support::*;

fn list_with_demo(env: &TestEnv, url: &str, extra: &[&str]) -> std::process::Output {
    env.cmd()
        .args(["--url", &format!("bad={url}")])
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(extra)
        .args(["tools", "list"])
        .output()
        .unwrap()
}

fn assert_one_bad_server(output: &std::process::Output, kind: &str, message: &str) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "the demo server still works: {}",
        stderr_of(output)
    );
    let lines = lines(&output.stdout);
    assert_eq!(of_type(&lines, "tool").len(), 4);
    let errors = of_type(&lines, "error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["server"], "bad");
    assert_eq!(errors[0]["kind"], kind);
    assert_eq!(errors[0]["exit_code"], 4);
    let text = errors[0]["message"].as_str().unwrap();
    assert!(text.contains(message), "{text}");
    assert!(stderr_of(output).contains(&format!("mcpchat: warning: {text}")));
}

#[test]
fn connection_refused_is_unreachable() {
    let env = TestEnv::new();
    let url = format!("http://127.0.0.1:{}/mcp", closed_port());
    let output = list_with_demo(&env, &url, &[]);
    assert_one_bad_server(&output, "unreachable", "cannot connect to MCP server `bad`");
    // Alone, it is exit 4.
    let output = env
        .cmd()
        .args(["--url", &format!("bad={url}"), "tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
}

#[test]
fn a_server_that_accepts_and_never_answers_times_out_with_exit_4() {
    let env = TestEnv::new();
    let hang = fault_http("hang");
    // The timeout bounds the demo server's start too (connecting is global): 3 s, not 1 s, so
    // that a loaded machine starting python3 slowly is not mistaken for the fault under test.
    let output = list_with_demo(&env, &hang.url, &["--timeout", "3"]);
    assert_one_bad_server(
        &output,
        "timeout",
        "timed out after 3s connecting to MCP server `bad`",
    );

    let output = env
        .cmd()
        .args([
            "--url",
            &format!("bad={}", hang.url),
            "--timeout",
            "1",
            "tools",
            "call",
            "bad__x",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(stderr_of(&output).contains("timed out after 1s connecting to MCP server `bad`"));
}

#[test]
fn http_500_is_reported_with_its_status() {
    let env = TestEnv::new();
    let server = fault_http("http500");
    let output = list_with_demo(&env, &server.url, &[]);
    assert_one_bad_server(&output, "http", "answered HTTP 500");
}

#[test]
fn an_invalid_json_body_is_a_protocol_error() {
    let env = TestEnv::new();
    let server = fault_http("badjson");
    let output = list_with_demo(&env, &server.url, &[]);
    assert_one_bad_server(&output, "protocol", "MCP server `bad`");
}

#[test]
fn a_stdio_server_that_exits_mid_call_is_exit_4_with_its_last_words() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("crash={}", crash_stdio_cmd())])
        .args(["tools", "call", "crash__boom"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(output.stdout.is_empty());
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("mcpchat: error: stdio MCP server `crash` exited"),
        "{stderr}"
    );
    assert!(
        stderr.contains("crash_stdio: exiting on purpose"),
        "{stderr}"
    );
}

#[test]
fn a_stdio_server_that_dies_during_the_handshake_is_exit_4_with_its_last_three_stderr_lines() {
    let env = TestEnv::new();
    let script = env.write(
        "dying.sh",
        "for i in 1 2 3 4; do echo \"dying $i\" >&2; done\nexit 3\n",
    );
    let output = env
        .cmd()
        .args(["--stdio", &format!("dying=sh {}", script.display())])
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = stderr_of(&output);
    let hints: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("hint: "))
        .collect();
    assert_eq!(
        hints,
        [
            "its stderr: dying 2",
            "its stderr: dying 3",
            "its stderr: dying 4",
            "run with -v to see everything the server writes to stderr",
        ],
        "{stderr}"
    );
}

/// The stderr pipe stays open in a grandchild (its stdout does not): the last words are taken
/// after a short bound rather than at EOF, and the grandchild ends with the server's group.
#[test]
fn a_dead_stdio_server_whose_grandchild_holds_its_stderr_is_still_reported_with_its_last_words() {
    let env = TestEnv::new();
    let script = env.write(
        "orphaning.sh",
        "sleep 300 >/dev/null &\necho $! > grandchild.pid\necho \"leaving a child behind\" >&2\nexit 3\n",
    );
    let output = env
        .cmd()
        .args(["--stdio", &format!("orphaning=sh {}", script.display())])
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("hint: its stderr: leaving a child behind\n"),
        "{stderr}"
    );
    let grandchild: u32 = std::fs::read_to_string(env.cwd().join("grandchild.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        crate::processes::wait_dead(grandchild),
        "the grandchild outlived mcpchat"
    );
}

#[test]
fn a_stdio_crash_in_a_batch_fails_only_its_own_requests() {
    let env = TestEnv::new();
    let input = "{\"id\": 1, \"tool\": \"crash__boom\"}\n{\"id\": 2, \"tool\": \"demo__echo\", \"arguments\": {\"message\": \"ok\"}}\n";
    let output = env
        .cmd()
        .args(["--stdio", &format!("crash={}", crash_stdio_cmd())])
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "--batch"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let lines = lines(&output.stdout);
    let ok = lines.iter().find(|l| l["id"] == 2).unwrap();
    assert_eq!(ok["text"], "ok");
    let crashed = lines.iter().find(|l| l["id"] == 1).unwrap();
    assert_eq!(crashed["kind"], "server_exited");
}

#[test]
fn a_missing_stdio_command_is_unreachable_with_a_hint() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args([
            "--stdio",
            "gone=/nonexistent/mcp-server --flag",
            "tools",
            "list",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("cannot start stdio MCP server `gone`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: is `/nonexistent/mcp-server` installed and on PATH?"),
        "{stderr}"
    );
}

#[test]
fn a_403_without_a_challenge_is_exit_4_with_the_servers_reason() {
    let env = TestEnv::new();
    let server = fault_http("http403");
    let output = env
        .cmd()
        .args([
            "--url",
            &format!("gw={}?token=secret-token-value", server.url),
            "tools",
            "list",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(
        (&lines[0]["kind"], &lines[0]["exit_code"]),
        (&json!("http"), &json!(4))
    );
    let url = format!("{}?token=***", server.url);
    assert_eq!(
        stderr_of(&output),
        format!(
            "mcpchat: error: MCP server `gw` ({url}) answered HTTP 403 Forbidden: Access is only allowed at localhost:3001\n\
             hint: the server refused this request; if it needs other credentials, check the server's `url` or `headers`\n"
        )
    );
}

#[test]
fn a_401_without_a_challenge_is_an_auth_failure_with_exit_3() {
    let env = TestEnv::new();
    let server = fault_http("http401");
    let output = env
        .cmd()
        .args([
            "--url",
            &format!("gw={}?token=wrong-token-value", server.url),
            "tools",
            "list",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines[0]["kind"], "auth");
    assert_eq!(lines[0]["exit_code"], 3);
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("MCP server `gw` requires authentication"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: check the token"), "{stderr}");
    assert!(!stderr.contains("wrong-token-value"), "{stderr}");
}
