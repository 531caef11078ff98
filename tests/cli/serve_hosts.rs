//! `mcpchat serve` as real hosts use it: the MCP Inspector's CLI listing and calling through
//! serve over stdio and over HTTP, in front of server-everything over stdio and over HTTP; and
//! a Python SDK host in one long session through serve in front of an OAuth-protected server
//! (mock-llm): the token is refreshed upstream while the host sees nothing, and without a
//! usable token the host's call says `mcpchat auth login NAME` and no browser starts.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::serve_http::Served;
use crate::support::*;

/// The Inspector CLI, installed by `tests/peers/install.sh` (pinned as `bench/run` pins it).
fn inspector() -> std::path::PathBuf {
    peers()
        .join("inspector/node_modules/@modelcontextprotocol/inspector/clients/cli/build/index.js")
}

/// `node <inspector> <target...> <args...>` with the test's home; its stdout parsed as JSON.
fn inspect(env: &TestEnv, target: &[&str], args: &[&str]) -> Value {
    let output = Command::new("node")
        .arg(inspector())
        .args(target)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("XDG_CONFIG_HOME", env.home().join(".config"))
        .env("XDG_DATA_HOME", env.home().join(".local/share"))
        .env("XDG_CACHE_HOME", env.home().join(".cache"))
        .current_dir(env.cwd())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the Inspector failed: {}",
        stderr_of(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the Inspector printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The tool names of a `tools/list` result as the Inspector prints it.
fn tool_names(listed: &Value) -> Vec<String> {
    listed["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {listed}"))
        .iter()
        .map(|tool| tool["name"].as_str().unwrap().to_string())
        .collect()
}

/// The Inspector's list and `get-sum` call, through `target`.
fn list_and_sum(env: &TestEnv, target: &[&str]) -> (Vec<String>, Value) {
    let listed = inspect(env, target, &["--method", "tools/list"]);
    let called = inspect(
        env,
        target,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "get-sum",
            "--tool-arg",
            "a=2",
            "b=3",
        ],
    );
    (tool_names(&listed), called)
}

/// What server-everything answers `get-sum` of 2 and 3.
fn sum_of_2_and_3() -> Value {
    json!({"content": [{"type": "text", "text": "The sum of 2 and 3 is 5."}]})
}

/// The upstream flags for server-everything over stdio and over HTTP (the peer kept alive).
fn everything_upstreams() -> (Peer, Vec<(&'static str, Vec<String>)>) {
    let http = everything_http();
    let upstreams = vec![
        (
            "stdio",
            strings(&["--stdio", &format!("ev={}", everything_stdio_cmd())]),
        ),
        ("http", strings(&["--url", &format!("ev={}", http.url)])),
    ];
    (http, upstreams)
}

#[test]
fn the_inspector_lists_and_calls_through_serve_over_stdio() {
    let env = TestEnv::new();
    let (_http, upstreams) = everything_upstreams();
    let binary = assert_cmd::cargo::cargo_bin("mcpchat");
    let binary = binary.to_str().unwrap();
    for (kind, upstream) in &upstreams {
        let upstream: Vec<&str> = upstream.iter().map(String::as_str).collect();
        let target = [&[binary, "--no-cache"], &upstream[..], &["serve"]].concat();
        let (names, called) = list_and_sum(&env, &target);
        assert_eq!(names, everything_tools(), "upstream over {kind}");
        assert_eq!(called, sum_of_2_and_3(), "upstream over {kind}");
    }
}

#[test]
fn the_inspector_lists_and_calls_through_serve_listen() {
    let env = TestEnv::new();
    let (_http, upstreams) = everything_upstreams();
    for (kind, upstream) in &upstreams {
        let upstream: Vec<&str> = upstream.iter().map(String::as_str).collect();
        let served = Served::start(&env, &upstream, "127.0.0.1:0", &[]);
        let (names, called) = list_and_sum(&env, &[&served.url, "--transport", "http"]);
        assert_eq!(names, everything_tools(), "upstream over {kind}");
        assert_eq!(called, sum_of_2_and_3(), "upstream over {kind}");
        // SIGTERM is serve's clean stop (exit 130, as for every interrupted command).
        let (code, stderr) = served.stop();
        assert_eq!(code, Some(130), "upstream over {kind}: {stderr:?}");
        assert_eq!(
            stderr,
            ["mcpchat: error: terminated"],
            "upstream over {kind}"
        );
    }
}

/// server-everything's tools through serve: serve offers sampling upstream (it forwards it to
/// whichever host asks), so `trigger-sampling-request` is listed.
fn everything_tools() -> Vec<String> {
    strings(&[
        "echo",
        "get-annotated-message",
        "get-env",
        "get-resource-links",
        "get-resource-reference",
        "get-structured-content",
        "get-sum",
        "get-tiny-image",
        "gzip-file-as-resource",
        "toggle-simulated-logging",
        "toggle-subscriber-updates",
        "trigger-long-running-operation",
        // serve declares elicitation (form and URL), roots and sampling to its upstreams, to
        // pass their requests on to hosts, so server-everything offers these too.
        "get-roots-list",
        "trigger-elicitation-request",
        "trigger-url-elicitation",
        "trigger-sampling-request",
        "simulate-research-query",
    ])
}

/// A Python SDK host in one session through `mcpchat --no-cache serve --server s`: it prints
/// the tool list, then one line per call, and waits for a line from the test between calls.
struct SdkSession {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl SdkSession {
    fn start(env: &TestEnv, tool: &str, arguments: &str, calls: u32, browser: &str) -> SdkSession {
        let binary = assert_cmd::cargo::cargo_bin("mcpchat");
        let mut child = Command::new(venv_bin("python"))
            .arg(repo().join("tests/fakes/sdk_host_session.py"))
            .args([tool, arguments, &calls.to_string(), "--"])
            .arg(&binary)
            .args(["--no-cache", "serve", "--server", "s"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", env.home())
            .env("XDG_CONFIG_HOME", env.home().join(".config"))
            .env("XDG_DATA_HOME", env.home().join(".local/share"))
            .env("XDG_CACHE_HOME", env.home().join(".cache"))
            .env("BROWSER", browser)
            .current_dir(env.cwd())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        SdkSession {
            child,
            stdin,
            stdout,
        }
    }

    /// The host's next line (it prints one per step).
    fn next(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a host line ({e}): {line:?}"))
    }

    /// Let the host make its next call.
    fn go_on(&mut self) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin).unwrap();
        stdin.flush().unwrap();
    }

    fn finish(mut self) -> std::process::Output {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        let mut stderr = Vec::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            std::io::Read::read_to_end(&mut pipe, &mut stderr).unwrap();
        }
        std::process::Output {
            status,
            stdout: Vec::new(),
            stderr,
        }
    }
}

/// The stored credentials of the only server (the test's store is a file).
fn credentials(env: &TestEnv) -> Value {
    let store = env.stored();
    let servers = store["servers"].as_object().unwrap();
    assert_eq!(servers.len(), 1, "{store}");
    servers.values().next().unwrap()["credentials"]["token_response"].clone()
}

fn echo_of(text: &str) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": false,
           "resultType": "complete"})
}

#[test]
fn an_oauth_upstream_is_refreshed_under_serve_while_the_host_sees_nothing() {
    let env = TestEnv::new();
    let ml = mock_llm_oauth();
    logged_in_with_curl(&env, &ml.url);
    let before = credentials(&env);
    let marker = env.path("browser-started");
    let browser = format!("touch {}", marker.display());

    let mut host = SdkSession::start(&env, "echo", r#"{"text": "hello"}"#, 2, &browser);
    assert_eq!(host.next(), json!({"tools": ["echo", "echo_headers"]}));
    assert_eq!(host.next(), json!({"result": echo_of("hello")}));

    // The server expires the access token serve holds; the host's next call in the same
    // session still gets its result.
    assert_eq!(
        post_json(
            &format!("{}/oauth/expire", ml.base()),
            &json!({"token": before["access_token"]})
        ),
        204
    );
    host.go_on();
    assert_eq!(host.next(), json!({"result": echo_of("hello")}));
    let output = host.finish();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));

    // Refreshed upstream: a new access token, and the refresh token rotated (mock-llm rotates
    // it on every refresh, so it changes exactly when a refresh happened).
    let after = credentials(&env);
    assert_ne!(after["access_token"], before["access_token"]);
    assert_ne!(after["refresh_token"], before["refresh_token"]);
    assert!(!marker.exists(), "a browser was started");
}

#[test]
fn an_oauth_upstream_without_a_usable_token_tells_the_host_to_log_in_and_opens_no_browser() {
    let env = TestEnv::new();
    let ml = mock_llm_oauth();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: s\n    url: {}\n    auth_type: oauth\n",
            ml.url
        ),
    );
    let marker = env.path("browser-started");
    let browser = format!("touch {}", marker.display());

    let mut host = SdkSession::start(&env, "echo", r#"{"text": "hello"}"#, 1, &browser);
    let listed = host.next();
    let called = host.next();
    let output = host.finish();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(listed, json!({"tools": []}));
    // A tool error the host shows its user (not a protocol error), naming the command.
    assert_eq!(
        called,
        json!({"result": {
            "content": [{"type": "text", "text": "MCP server `s` is not available: MCP server `s` \
                requires authentication, or rejected the credentials sent\n\
                hint: run: mcpchat auth login s"}],
            "isError": true,
            "resultType": "complete"}})
    );
    assert!(!marker.exists(), "a browser was started");
    assert!(!Path::new(&env.token_store()).exists());
}
