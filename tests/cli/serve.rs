//! `mcpchat serve` as hosts use it: a host speaking MCP on serve's stdin/stdout (raw JSON-RPC
//! here, the Python SDK's client, and mcpchat itself), in front of the in-repo fake upstream
//! (`tests/fakes/serve_upstream.py`, which writes down every message it gets), the example
//! server and server-everything; and the Unix socket.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::host::{Host, serve_on_socket};
use crate::support::*;

/// The fake upstream named `label`, logging to `log`.
pub(crate) fn upstream(label: &str, log: &Path) -> String {
    format!(
        "{label}=python3 {} {label} {}",
        repo().join("tests/fakes/serve_upstream.py").display(),
        log.display()
    )
}

/// The names in a `tools/list` (or `prompts/list`) response.
fn names(response: &Value, list: &str) -> Vec<String> {
    response["result"][list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list}: {response}"))
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_string())
        .collect()
}

/// The messages an upstream logged, of one method.
fn received(log: &Path, label: &str, method: &str) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|entry| entry["label"] == label && entry["message"]["method"] == method)
        .map(|entry| entry["message"].clone())
        .collect()
}

/// Wait until `log` holds a message of `method` from `label` (a guard, not a timing check).
fn wait_for(log: &Path, label: &str, method: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = received(log, label, method);
        if !found.is_empty() {
            return found;
        }
        assert!(Instant::now() < deadline, "{label} never got {method}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_relayed_call_reaches_the_right_upstream_under_its_own_name() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let (a, b) = (upstream("a", &log), upstream("b", &log));
    let mut host = Host::start(&env, &["--stdio", &a, "--stdio", &b], &[]);

    let tools = host.request("tools/list", json!({}));
    assert_eq!(
        names(&tools, "tools"),
        [
            "a__whoami",
            "a__slow",
            "a__fail",
            "a__change",
            "b__whoami",
            "b__slow",
            "b__fail",
            "b__change"
        ]
    );
    // Output schemas, annotations and _meta pass through.
    let whoami = &tools["result"]["tools"][0];
    assert_eq!(whoami["annotations"], json!({"readOnlyHint": true}));
    assert_eq!(whoami["_meta"], json!({"origin": "a"}));
    assert_eq!(
        whoami["outputSchema"]["properties"]["label"]["type"],
        "string"
    );

    let call = host.request(
        "tools/call",
        json!({"name": "b__whoami", "arguments": {"x": 1}}),
    );
    assert_eq!(
        call["result"],
        json!({"content": [{"type": "text", "text": "b got whoami"}],
               "structuredContent": {"label": "b", "arguments": {"x": 1}}})
    );
    let calls_b = received(&log, "b", "tools/call");
    assert_eq!(calls_b.len(), 1);
    assert_eq!(calls_b[0]["params"]["name"], "whoami");
    assert_eq!(calls_b[0]["params"]["arguments"], json!({"x": 1}));
    assert_eq!(received(&log, "a", "tools/call"), Vec::<Value>::new());

    // A tool's own error is passed on as it is, not turned into a protocol error.
    let failed = host.request("tools/call", json!({"name": "a__fail", "arguments": {}}));
    assert_eq!(
        failed["result"],
        json!({"content": [{"type": "text", "text": "a failed"}], "isError": true})
    );
    // A name no server owns is the JSON-RPC error for unknown tools.
    let unknown = host.request("tools/call", json!({"name": "c__whoami", "arguments": {}}));
    assert_eq!(unknown["error"]["code"], -32602);
    assert_eq!(unknown["error"]["message"], "unknown tool `c__whoami`");

    let output = host.close();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

#[test]
fn one_server_keeps_its_own_names_unless_prefixes_are_asked_for() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let mut host = Host::start(&env, &["--stdio", &a], &[]);
    let tools = host.request("tools/list", json!({}));
    assert_eq!(names(&tools, "tools"), ["whoami", "slow", "fail", "change"]);
    let prompts = host.request("prompts/list", json!({}));
    assert_eq!(names(&prompts, "prompts"), ["greet"]);
    assert_eq!(host.close().status.code(), Some(0));

    let mut host = Host::start(&env, &["--stdio", &a], &["--prefix", "always"]);
    let tools = host.request("tools/list", json!({}));
    assert_eq!(
        names(&tools, "tools"),
        ["a__whoami", "a__slow", "a__fail", "a__change"]
    );
    let call = host.request("tools/call", json!({"name": "a__whoami", "arguments": {}}));
    assert_eq!(call["result"]["content"][0]["text"], "a got whoami");
    assert_eq!(host.close().status.code(), Some(0));
}

#[test]
fn prompts_and_resources_are_relayed_to_the_server_that_lists_them() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let (a, b) = (upstream("a", &log), upstream("b", &log));
    let mut host = Host::start(&env, &["--stdio", &a, "--stdio", &b], &[]);

    let prompts = host.request("prompts/list", json!({}));
    assert_eq!(names(&prompts, "prompts"), ["a__greet", "b__greet"]);
    let prompt = host.request(
        "prompts/get",
        json!({"name": "b__greet", "arguments": {"name": "Ann"}}),
    );
    assert_eq!(
        prompt["result"]["messages"],
        json!([{"role": "user", "content": {"type": "text", "text": "b greets Ann"}}])
    );
    assert_eq!(
        received(&log, "b", "prompts/get")[0]["params"]["name"],
        "greet"
    );

    let resources = host.request("resources/list", json!({}));
    let uris: Vec<&str> = resources["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, ["a://note", "b://note"]);
    let read = host.request("resources/read", json!({"uri": "b://note"}));
    assert_eq!(
        read["result"]["contents"],
        json!([{"uri": "b://note", "text": "b note"}])
    );
    assert_eq!(received(&log, "a", "resources/read"), Vec::<Value>::new());
    assert_eq!(received(&log, "b", "resources/read").len(), 1);
    assert_eq!(host.close().status.code(), Some(0));
}

#[test]
fn a_dead_upstream_leaves_the_others_usable_and_its_calls_say_why() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let mut host = Host::start(
        &env,
        &["--stdio", &a, "--stdio", "gone=/nonexistent/mcp-server"],
        &[],
    );
    let notice = host.notice("notifications/message");
    assert_eq!(notice["params"]["level"], "warning");
    assert_eq!(notice["params"]["data"]["server"], "gone");

    let tools = host.request("tools/list", json!({}));
    assert_eq!(
        names(&tools, "tools"),
        ["a__whoami", "a__slow", "a__fail", "a__change"]
    );
    let call = host.request(
        "tools/call",
        json!({"name": "gone__whoami", "arguments": {}}),
    );
    assert_eq!(
        call["result"],
        json!({"content": [{"type": "text", "text":
            "MCP server `gone` is not available: cannot start stdio MCP server `gone` (`/nonexistent/mcp-server`): No such file or directory (os error 2)\nhint: is `/nonexistent/mcp-server` installed and on PATH?"}],
            "isError": true})
    );
    let call = host.request("tools/call", json!({"name": "a__whoami", "arguments": {}}));
    assert_eq!(call["result"]["content"][0]["text"], "a got whoami");

    let output = host.close();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: warning: cannot start stdio MCP server `gone` (`/nonexistent/mcp-server`): No such file or directory (os error 2)\n\
         hint: is `/nonexistent/mcp-server` installed and on PATH?\n"
    );
}

#[test]
fn a_cancellation_from_the_host_reaches_the_upstream() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let mut host = Host::start(&env, &["--stdio", &a], &[]);
    let id = host.start_request("tools/call", json!({"name": "slow", "arguments": {}}));
    let upstream_id = wait_for(&log, "a", "tools/call")[0]["id"].clone();
    host.notify(
        "notifications/cancelled",
        json!({"requestId": id, "reason": "the user gave up"}),
    );
    let cancelled = wait_for(&log, "a", "notifications/cancelled");
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["params"]["requestId"], upstream_id);
    // The cancelled request gets no answer; the session goes on.
    let ping = host.request("ping", json!({}));
    assert_eq!(ping["result"], json!({}));
    assert_eq!(host.notices, Vec::<Value>::new());
    assert_eq!(host.close().status.code(), Some(0));
}

#[test]
fn an_upstreams_progress_reaches_the_host_under_the_hosts_token() {
    let env = TestEnv::new();
    let demo = format!("demo={}", demo_stdio_cmd());
    let mut host = Host::start(&env, &["--stdio", &demo], &[]);
    let call = host.request(
        "tools/call",
        json!({"name": "countdown", "arguments": {"seconds": 1},
               "_meta": {"progressToken": "host-7"}}),
    );
    assert_eq!(call["result"]["content"][0]["text"], "done");
    let progress = host.notice("notifications/progress");
    assert_eq!(progress["params"]["progressToken"], "host-7");
    assert_eq!(progress["params"]["progress"], 1.0);
    assert_eq!(progress["params"]["total"], 1.0);
    assert_eq!(host.close().status.code(), Some(0));
}

#[test]
fn a_list_change_upstream_is_announced_to_the_host() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    // With the list cache on, as users run it: a list the upstream said changed is listed
    // again, not shown from the cache.
    let mut host = Host::spawn(&env, &["--stdio", &a], &[]);
    host.request("tools/list", json!({}));
    let call = host.request("tools/call", json!({"name": "change", "arguments": {}}));
    assert_eq!(call["result"]["content"][0]["text"], "changed");
    let notice = host.notice("notifications/tools/list_changed");
    assert_eq!(
        notice,
        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    );
    // The host lists again, and so does serve: the cached list is not shown once it changed.
    let listed = received(&log, "a", "tools/list").len();
    host.request("tools/list", json!({}));
    assert_eq!(received(&log, "a", "tools/list").len(), listed + 1);
    assert_eq!(host.close().status.code(), Some(0));
}

#[test]
fn a_denied_tool_is_neither_listed_nor_callable_through_serve() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: a\n    command: python3\n    args: [{}, a, {}]\n    tools: {{deny: [\"slow\", \"change\"]}}\n",
            repo().join("tests/fakes/serve_upstream.py").display(),
            log.display()
        ),
    );
    let mut host = Host::start(&env, &[], &[]);
    let tools = host.request("tools/list", json!({}));
    assert_eq!(names(&tools, "tools"), ["whoami", "fail"]);
    let call = host.request("tools/call", json!({"name": "slow", "arguments": {}}));
    assert_eq!(
        call["error"]["message"],
        "tool `slow` is not allowed by the config"
    );
    assert_eq!(received(&log, "a", "tools/call"), Vec::<Value>::new());
    assert_eq!(host.close().status.code(), Some(0));
}

#[test]
fn a_line_that_is_not_json_rpc_gets_an_error_and_the_session_goes_on() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let mut host = Host::start(&env, &["--stdio", &a], &[]);
    let stdin = host.stdin.as_mut().unwrap();
    writeln!(stdin, "this is not json").unwrap();
    stdin.flush().unwrap();
    let error = host.next_line();
    assert_eq!(error["id"], Value::Null);
    assert_eq!(error["error"]["code"], -32700);
    assert_eq!(host.request("ping", json!({}))["result"], json!({}));
    assert_eq!(host.close().status.code(), Some(0));
}

#[test]
fn no_upstream_secret_reaches_the_host_in_any_message() {
    const QUERY: &str = "q5ecretQueryValue81";
    const BEARER: &str = "b5ecretBearerValue27";
    let env = TestEnv::new();
    let server = Peer::echo_secrets("");
    let url = format!("echo=http://127.0.0.1:{}/mcp?token={QUERY}", server.port);
    let header = format!("Authorization: Bearer {BEARER}");
    let mut host = Host::start(&env, &["--url", &url, "-H", &header], &[]);
    let mut seen = vec![host.init.clone()];
    seen.push(host.request("tools/list", json!({})));
    seen.push(host.request("tools/call", json!({"name": "echo", "arguments": {}})));
    seen.push(host.request("tools/call", json!({"name": "fail", "arguments": {}})));
    let output = host.close();
    assert_eq!(output.status.code(), Some(0));
    let text = seen
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    // The echoes arrived (masked), so the check below is not vacuous.
    assert!(text.contains("query token=***"), "{text}");
    assert!(text.contains("credential ***"), "{text}");
    assert!(
        seen[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("token=***"),
        "{}",
        seen[3]
    );
    for secret in [QUERY, BEARER] {
        assert!(!text.contains(secret), "{secret} reached the host: {text}");
        assert!(!stderr_of(&output).contains(secret), "{secret} on stderr");
    }
}

/// The Python SDK's client over stdio: `mode` is how it connects (`legacy`: initialize;
/// `auto`: server/discover first, the 2026-07-28 way), calling `tool` with `arguments` on
/// `mcpchat --no-cache ARGV...` (ARGV holds `serve` and its flags): what it saw.
pub(crate) fn sdk_host(
    env: &TestEnv,
    mode: &str,
    tool: &str,
    arguments: &str,
    argv: &[&str],
) -> Value {
    let binary = assert_cmd::cargo::cargo_bin("mcpchat");
    let output = std::process::Command::new(venv_bin("python"))
        .arg(repo().join("tests/fakes/sdk_host.py"))
        .args([mode, tool, arguments, "--"])
        .arg(&binary)
        .arg("--no-cache")
        .args(argv)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("XDG_CACHE_HOME", env.home().join(".cache"))
        .current_dir(env.cwd())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "sdk_host failed: {}",
        stderr_of(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_python_sdk_lists_and_calls_through_serve_in_front_of_server_everything() {
    let env = TestEnv::new();
    let everything = format!("everything={}", everything_stdio_cmd());
    for mode in ["legacy", "auto"] {
        let seen = sdk_host(
            &env,
            mode,
            "get-sum",
            r#"{"a": 2, "b": 3}"#,
            &["--stdio", &everything, "serve"],
        );
        let tools: Vec<&str> = seen["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(
            tools.contains(&"echo") && tools.contains(&"get-sum"),
            "{mode}: {tools:?}"
        );
        assert_eq!(seen["result"]["isError"], false, "{mode}");
        assert_eq!(
            seen["result"]["content"][0]["text"], "The sum of 2 and 3 is 5.",
            "{mode}"
        );
    }
}

#[test]
fn the_python_sdk_calls_the_example_server_through_serve_with_a_second_server_beside_it() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let demo = format!("demo={}", demo_stdio_cmd());
    let a = upstream("a", &log);
    for mode in ["legacy", "auto"] {
        let seen = sdk_host(
            &env,
            mode,
            "demo__add",
            r#"{"a": 2, "b": 3}"#,
            &["--stdio", &demo, "--stdio", &a, "serve"],
        );
        assert_saw_demo_and_a_and_added(&seen, mode);
    }
}

/// What an SDK host saw through serve in front of the demo server and upstream `a`: both
/// servers' tools, prefixed, and `demo__add` of 2 and 3.
pub(crate) fn assert_saw_demo_and_a_and_added(seen: &Value, mode: &str) {
    assert_eq!(
        seen["tools"],
        json!([
            "demo__echo",
            "demo__add",
            "demo__now",
            "demo__countdown",
            "a__whoami",
            "a__slow",
            "a__fail",
            "a__change"
        ]),
        "{mode}"
    );
    assert_eq!(
        seen["result"]["structuredContent"],
        json!({"sum": 5}),
        "{mode}"
    );
    assert_eq!(seen["result"]["content"][0]["text"], "5", "{mode}");
}

/// stdout lines without what differs between runs (durations, connect times).
pub(crate) fn comparable(stdout: &[u8]) -> Vec<Value> {
    lines(stdout)
        .into_iter()
        .map(|mut line| {
            if let Some(object) = line.as_object_mut() {
                object.remove("duration_ms");
            }
            line
        })
        .collect()
}

#[test]
fn mcpchat_as_the_client_of_serve_prints_the_same_lines_as_direct() {
    let env = TestEnv::new();
    let direct = format!("demo={}", demo_stdio_cmd());
    let through = format!(
        "demo={} --no-cache --stdio 'demo={}' serve",
        assert_cmd::cargo::cargo_bin("mcpchat").display(),
        demo_stdio_cmd()
    );
    let run = |server: &str, args: &[&str]| {
        let output = env
            .cmd()
            .args(["--no-cache", "--stdio", server])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        comparable(&output.stdout)
    };
    for args in [
        &["tools", "list"][..],
        &["tools", "call", "add", r#"{"a": 2, "b": 3}"#][..],
        &["tools", "call", "echo", "--arg", "message=hi"][..],
    ] {
        assert_eq!(run(&through, args), run(&direct, args), "{args:?}");
    }
}

#[test]
fn the_socket_is_0600_in_a_0700_directory_and_serves_a_host_until_sigterm() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let socket = env.path("run/mcpchat/serve.sock");
    let mut serve = serve_on_socket(&env, &["--no-cache", "--stdio", &a, "serve"], &socket);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600);
    assert_eq!(mode(socket.parent().unwrap()), 0o700);

    let stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut send = |message: Value, answered: bool| -> Value {
        writeln!(writer, "{message}").unwrap();
        if !answered {
            return Value::Null;
        }
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    };
    let init = send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "socket-host", "version": "1"}}}),
        true,
    );
    assert_eq!(init["result"]["serverInfo"]["name"], "mcpchat");
    send(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        false,
    );
    let call = send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}}}),
        true,
    );
    assert_eq!(call["result"]["content"][0]["text"], "a got whoami");

    unsafe {
        libc::kill(serve.id() as i32, libc::SIGTERM);
    }
    let status = serve.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(!socket.exists(), "the socket file outlived serve");
}

#[test]
fn a_socket_directory_open_to_others_is_refused_with_exit_2() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let dir = env.path("shared");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = env
        .cmd()
        .args(["--no-cache", "--stdio", &a, "serve", "--socket"])
        .arg(dir.join("serve.sock"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        format!(
            "mcpchat: error: the socket's directory {dir} is open to other users (mode 755); serve needs one only you can enter\n\
             hint: chmod 700 {dir}, or put the socket in a private directory such as $XDG_RUNTIME_DIR\n",
            dir = dir.display()
        )
    );
    assert!(!dir.join("serve.sock").exists());
}
