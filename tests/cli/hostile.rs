//! Replies a hostile server sends on purpose (tests/fakes/hostile_mcp.py): over the size cap,
//! not UTF-8, not JSON-RPC, malformed tools, content from the future, a cursor that repeats.
//! Each fails its own request at once with the cause (never a timeout), or is reported and
//! skipped or passed through.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// `tools call NAME ARGS` against the hostile fake over stdio.
fn call_stdio(env: &TestEnv, extra: &[&str], tool: &str, args: &str) -> std::process::Output {
    let name = format!("h__{tool}");
    run_stdio(env, &[], &[extra, &["tools", "call", &name, args]].concat())
}

/// The failure is exit 4, nothing on stdout, and exactly this `mcpchat: error:` line.
fn assert_fails_with(output: &std::process::Output, message: &str) {
    let stderr = stderr_of(output);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(output.stdout.is_empty());
    let first = stderr.lines().next().unwrap_or_default();
    assert_eq!(first, format!("mcpchat: error: {message}"), "{stderr}");
}

/// `tools call NAME ARGS` against the hostile fake at `url` over HTTP, replies capped at 1 MiB.
fn call_capped(env: &TestEnv, url: &str, tool: &str, args: &str) -> std::process::Output {
    env.cmd()
        .args(["--url", &format!("h={url}")])
        .args(["--max-message-bytes", "1048576"])
        .args(["tools", "call", &format!("h__{tool}"), args])
        .output()
        .unwrap()
}

/// The error for `big` asked for 2 MiB over HTTP with a 1 MiB cap.
const BIG_OVER_1_MIB: &str =
    "MCP server `h` sent an unusable reply to tools/call `big`: reply exceeds the 1 MiB cap";

/// The error for `notjsonrpc`, whatever the transport.
const NOT_JSON_RPC: &str = "MCP server `h` sent an unusable reply to tools/call `notjsonrpc`: reply is not JSON-RPC: unrecognized JSON-RPC message";

/// `tools call --batch` with `flags` (which name the server), the requests on stdin.
fn call_batch(env: &TestEnv, flags: &[&str], input: &str) -> std::process::Output {
    env.cmd()
        .args(flags)
        .args(["tools", "call", "--batch"])
        .write_stdin(input)
        .output()
        .unwrap()
}

/// `ARGS` against the hostile fake over stdio, with its `HOSTILE_*` settings in `vars`.
fn run_stdio(env: &TestEnv, vars: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = env.cmd();
    for (name, value) in vars {
        cmd.env(name, value);
    }
    cmd.args(["--stdio", &format!("h={}", hostile_stdio_cmd())])
        .args(args)
        .output()
        .unwrap()
}

/// The hostile fake over HTTP in `mode`, with `var` set and its requests logged to the file
/// whose path comes second.
fn logged_http(env: &TestEnv, mode: &[&str], var: (&str, &str)) -> (Peer, std::path::PathBuf) {
    let log = env.path("requests.jsonl");
    let log_text = log.to_str().unwrap().to_string();
    let server = hostile_http(mode, &[var, ("HOSTILE_LOG", &log_text)]);
    (server, log)
}

/// The cursors of the `tools/list` requests the fake logged, in order.
fn list_cursors(log: &std::path::Path) -> Vec<Value> {
    logged(log)
        .into_iter()
        .filter(|e| e["method"] == "tools/list")
        .map(|e| e["cursor"].clone())
        .collect()
}

fn logged(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_stdio_reply_over_the_16_mib_cap_fails_the_call_at_once_naming_its_size() {
    let env = TestEnv::new();
    let output = call_stdio(&env, &[], "big", "{}");
    assert_fails_with(
        &output,
        "MCP server `h` sent an unusable reply to tools/call `big`: reply of 17 MiB exceeds the 16 MiB cap",
    );
    assert!(stderr_of(&output).contains(
        "hint: raise the cap with --max-message-bytes BYTES or `max_message_bytes` in the config"
    ));
}

#[test]
fn a_stdio_reply_that_is_not_utf8_fails_the_call_at_once() {
    let env = TestEnv::new();
    let output = call_stdio(&env, &[], "badutf8", "{}");
    assert_fails_with(
        &output,
        "MCP server `h` sent an unusable reply to tools/call `badutf8`: reply is not valid UTF-8",
    );
}

#[test]
fn a_stdio_reply_that_is_not_json_rpc_fails_the_call_at_once() {
    let env = TestEnv::new();
    let output = call_stdio(&env, &[], "notjsonrpc", "{}");
    assert_fails_with(&output, NOT_JSON_RPC);
    let output = call_stdio(&env, &[], "truncated", "{}");
    assert_fails_with(
        &output,
        "MCP server `h` sent an unusable reply to tools/call `truncated`: reply is not JSON-RPC: not valid JSON (EOF while parsing a string at line 1 column 40)",
    );
}

#[test]
fn banner_lines_on_stdout_are_ignored_and_noted_at_v() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .env("HOSTILE_BANNER", "1")
        .args(["-v", "--stdio", &format!("h={}", hostile_stdio_cmd())])
        .args(["tools", "call", "h__banner"])
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["text"], "after banner");
    assert!(
        stderr.contains(
            "ignored a line that is not JSON: hostile_mcp 1.0 starting (this line is not JSON)"
        ),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("ignored a line that is not JSON: Server banner: hello from a chatty server"),
        "{stderr}"
    );
    // Without -v the banners are not mentioned.
    let quiet = call_stdio(&env, &[], "banner", "{}");
    assert_eq!(quiet.status.code(), Some(0));
    assert_eq!(stderr_of(&quiet), "");
}

#[test]
fn an_oversized_reply_in_a_batch_fails_only_the_request_it_answered() {
    let env = TestEnv::new();
    // The big reply names its id last (the TypeScript SDK's order); the echo runs alongside.
    let input = "{\"id\": \"big\", \"tool\": \"h__big_id_last\"}\n{\"id\": \"ok\", \"tool\": \"h__echo\", \"arguments\": {\"message\": \"fine\"}}\n";
    let output = call_batch(
        &env,
        &["--stdio", &format!("h={}", hostile_stdio_cmd())],
        input,
    );
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 2);
    let ok = lines.iter().find(|l| l["id"] == "ok").unwrap();
    assert_eq!(ok["type"], "tool_result");
    assert_eq!(ok["text"], "fine");
    let big = lines.iter().find(|l| l["id"] == "big").unwrap();
    assert_eq!(big["type"], "error");
    assert_eq!(big["kind"], "protocol");
    assert_eq!(big["exit_code"], 4);
    assert_eq!(
        big["message"],
        "batch line 1: MCP server `h` sent an unusable reply to tools/call `big_id_last`: reply of 17 MiB exceeds the 16 MiB cap"
    );
}

#[test]
fn max_message_bytes_in_the_config_sets_the_cap_and_the_flag_overrides_it() {
    let env = TestEnv::new();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: h\n    command: python3\n    args: [{}, stdio]\n    max_message_bytes: 1048576\n",
            repo().join("tests/fakes/hostile_mcp.py").display()
        ),
    );
    let output = env
        .cmd()
        .args(["tools", "call", "h__big", "{\"mib\": 1.5}"])
        .output()
        .unwrap();
    assert_fails_with(
        &output,
        "MCP server `h` sent an unusable reply to tools/call `big`: reply of 1.5 MiB exceeds the 1 MiB cap",
    );
    let output = env
        .cmd()
        .env("MCPCHAT_MAX_MESSAGE_BYTES", "4194304")
        .args(["tools", "call", "h__big", "{\"mib\": 1.5}"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines[0]["text"].as_str().unwrap().len(), 1536 * 1024);
}

#[test]
fn a_zero_max_message_bytes_in_the_config_is_a_config_error() {
    let env = TestEnv::new();
    env.write(
        "mcp_servers.yaml",
        "servers:\n  - name: h\n    command: python3\n    max_message_bytes: 0\n",
    );
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output)
            .contains("mcp_servers.yaml:2:5: server `h`: max_message_bytes must be at least 1"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn streamable_http_replies_over_the_cap_or_not_json_rpc_fail_the_call_at_once() {
    let env = TestEnv::new();
    // JSON bodies and SSE bodies; rmcp enforces the cap, mcpchat names it.
    for mode in [&["http"][..], &["http", "sse"][..]] {
        let server = hostile_http(mode, &[]);
        let run = |tool: &str, args: &str| call_capped(&env, &server.url, tool, args);
        assert_fails_with(&run("big", "{\"mib\": 2}"), BIG_OVER_1_MIB);
        assert_fails_with(
            &run("badutf8", "{}"),
            "MCP server `h` sent an unusable reply to tools/call `badutf8`: reply is not valid UTF-8",
        );
        assert_fails_with(&run("notjsonrpc", "{}"), NOT_JSON_RPC);
    }
}

#[test]
fn an_oversized_streamable_http_reply_in_a_batch_fails_only_its_request() {
    let env = TestEnv::new();
    let server = hostile_http(&["http", "sse"], &[]);
    let input = "{\"id\": 1, \"tool\": \"h__big\", \"arguments\": {\"mib\": 2}}\n{\"id\": 2, \"tool\": \"h__echo\", \"arguments\": {\"message\": \"ok\"}}\n";
    let output = call_batch(
        &env,
        &[
            "--url",
            &format!("h={}", server.url),
            "--max-message-bytes",
            "1048576",
        ],
        input,
    );
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 2);
    let ok = lines.iter().find(|l| l["id"] == 2).unwrap();
    assert_eq!(ok["text"], "ok");
    let big = lines.iter().find(|l| l["id"] == 1).unwrap();
    assert_eq!(big["kind"], "protocol");
    assert_eq!(
        big["message"],
        "batch line 1: MCP server `h` sent an unusable reply to tools/call `big`: reply exceeds the 1 MiB cap"
    );
}

#[test]
fn a_legacy_sse_event_over_the_cap_or_not_json_rpc_fails_the_call_at_once() {
    let env = TestEnv::new();
    let server = hostile_http(&["legacy"], &[]);
    let run = |tool: &str, args: &str| call_capped(&env, &server.url, tool, args);
    assert_fails_with(&run("big", "{\"mib\": 2}"), BIG_OVER_1_MIB);
    assert_fails_with(&run("notjsonrpc", "{}"), NOT_JSON_RPC);
}

#[test]
fn tools_with_a_malformed_field_are_skipped_with_a_warning_and_the_rest_listed() {
    let env = TestEnv::new();
    let output = run_stdio(&env, &[("HOSTILE_TOOLS", "malformed")], &["tools", "list"]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let names: Vec<String> = lines(&output.stdout)
        .iter()
        .map(|l| l["tool"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "echo",
            "big",
            "big_id_last",
            "badutf8",
            "notjsonrpc",
            "truncated",
            "banner",
            "weird_content",
            "hang",
            "newer_than_us"
        ]
    );
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "mcpchat: warning: MCP server `h`: skipped tool `schema_is_a_string`: field `inputSchema` is a string, not an object",
            "mcpchat: warning: MCP server `h`: skipped tool #11 of the list: field `name` is a number, not a string",
            "mcpchat: warning: MCP server `h`: skipped tool `hints_are_strings`: field `annotations.readOnlyHint` is a string, not a boolean",
        ]
    );
}

#[test]
fn content_blocks_of_unknown_type_or_with_extra_fields_pass_through_verbatim() {
    let env = TestEnv::new();
    let server = hostile_http(&["http"], &[]);
    let expected = json!([
        {"type": "text", "text": "plain", "x-extra": {"kept": true}},
        {"type": "hologram", "frames": 3},
        {"type": "text", "text": "noisy", "annotations": "very"}
    ]);
    let stdio = call_stdio(&env, &[], "weird_content", "{}");
    let http = env
        .cmd()
        .args(["--url", &format!("h={}", server.url)])
        .args(["tools", "call", "h__weird_content"])
        .output()
        .unwrap();
    for output in [stdio, http] {
        let stderr = stderr_of(&output);
        // isError arrives as the string "true": reported, read as true, so exit 1.
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let lines = lines(&output.stdout);
        assert_eq!(lines[0]["content"], expected);
        assert_eq!(lines[0]["text"], "plain\nnoisy");
        assert_eq!(lines[0]["is_error"], true);
        assert!(stderr.contains("mcpchat: warning: MCP server `h`: the result of tool `weird_content` has `isError` that is a string, not a boolean; read as true"), "{stderr}");
        assert!(stderr.contains("mcpchat: warning: MCP server `h`: the result of tool `weird_content`: content block 2 has `annotations` that is a string, not an object; passed on as sent"), "{stderr}");
    }
}

#[test]
fn a_repeated_pagination_cursor_ends_tools_list_after_the_first_repeat() {
    let env = TestEnv::new();
    let log = env.path("requests.jsonl");
    let output = run_stdio(
        &env,
        &[
            ("HOSTILE_CURSOR", "repeat"),
            ("HOSTILE_LOG", log.to_str().unwrap()),
        ],
        &["tools", "list"],
    );
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "error");
    assert_eq!(lines[0]["kind"], "protocol");
    assert_eq!(
        lines[0]["message"],
        "MCP server `h` sent the tools/list cursor `again` a second time (after 2 pages); stopped instead of looping"
    );
    assert_eq!(list_cursors(&log), [Value::Null, json!("again")]);
}

#[test]
fn tools_list_follows_every_page() {
    let env = TestEnv::new();
    let log = env.path("requests.jsonl");
    let output = run_stdio(
        &env,
        &[
            ("HOSTILE_PAGES", "3"),
            ("HOSTILE_LOG", log.to_str().unwrap()),
        ],
        &["tools", "list"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout).len(), 9);
    assert_eq!(list_cursors(&log), [Value::Null, json!("p1"), json!("p2")]);
}

#[test]
fn a_tool_that_never_answers_times_out_with_exit_4() {
    let env = TestEnv::new();
    let output = call_stdio(
        &env,
        &["--timeout", "1", "--connect-timeout", "60"],
        "hang",
        "{}",
    );
    assert_fails_with(
        &output,
        "timed out after 1s waiting for tools/call `hang` on MCP server `h`",
    );
}

#[test]
fn a_stdio_server_that_ignores_sigterm_and_stdin_closing_is_killed() {
    let env = TestEnv::new();
    let pidfile = env.path("server.pid");
    let output = run_stdio(
        &env,
        &[
            ("HOSTILE_IGNORE_TERM", "1"),
            ("HOSTILE_PIDFILE", pidfile.to_str().unwrap()),
        ],
        &["tools", "call", "h__echo", "{\"message\": \"hi\"}"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["text"], "hi");
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The group got SIGKILL before mcpchat exited; give the kernel a moment to reap it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!alive(pid), "the server {pid} outlived mcpchat");
}

#[test]
fn a_redirect_to_another_origin_is_not_followed_and_the_token_stays_home() {
    let env = TestEnv::new();
    let (server, log) = logged_http(&env, &["http"], ("HOSTILE_REDIRECT", "1"));
    let output = env
        .cmd()
        .args(["--url", &format!("h={}", server.url)])
        .args(["-H", "Authorization: Bearer redirect-secret-42"])
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines[0]["type"], "error");
    assert_eq!(lines[0]["kind"], "protocol");
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 307 Temporary Redirect"),
        "{}",
        lines[0]["message"]
    );
    let hosts: Vec<Value> = logged(&log)
        .into_iter()
        .map(|e| e["host"].clone())
        .collect();
    assert!(!hosts.is_empty());
    assert!(
        hosts
            .iter()
            .all(|h| h.as_str().unwrap().starts_with("127.0.0.1:")),
        "another origin was contacted: {hosts:?}"
    );
    assert!(!stderr_of(&output).contains("redirect-secret-42"));
}

#[test]
fn a_stateless_server_slow_to_answer_discover_is_asked_again_not_taken_for_an_older_one() {
    // rmcp stops waiting for `server/discover` after 10 s and sends `initialize`, which a
    // 2026-07-28-only server answers like any method it does not know (seen under load in the
    // conformance suite's request-metadata scenario).
    let env = TestEnv::new();
    let (server, log) = logged_http(&env, &["http"], ("HOSTILE_SLOW_DISCOVER", "11"));
    let output = env
        .cmd()
        .args(["--url", &format!("h={}", server.url), "tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["name"], "h__echo");
    let methods: Vec<Value> = logged(&log).iter().map(|e| e["method"].clone()).collect();
    assert_eq!(
        methods,
        vec![
            json!("server/discover"),
            json!("initialize"),
            json!("initialize"),
            json!("server/discover"),
            json!("tools/list")
        ]
    );
}
