//! `mcpchat serve --listen`: Streamable HTTP for hosts. The Python SDK's client (both eras)
//! and mcpchat itself as hosts, in front of the example server and the in-repo fake upstream
//! (`tests/fakes/serve_upstream.py`, which writes down every message it gets); the refusals
//! (no token off loopback, a missing bearer, a foreign Origin or Host) and the clean stop.

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::serve::{assert_saw_demo_and_a_and_added, comparable, upstream};
// Other serve test modules import these from here.
pub(crate) use crate::support::host::{Served, curl};
use crate::support::*;

const TOKEN: &str = "serve-token-0123456789abcdef";

/// The fake upstream named `label`, logging to `log`.
/// The methods an upstream logged, in order (but serve's own `tasks/list` at start, which
/// asks whether it offers tasks).
fn methods(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter_map(|entry| entry["message"]["method"].as_str().map(str::to_string))
        .filter(|method| method != "tasks/list")
        .collect()
}

/// The Python SDK's client over Streamable HTTP (`legacy`: initialize and a session;
/// `auto`: server/discover first, stateless 2026-07-28).
fn sdk_http_host(mode: &str, tool: &str, arguments: &str, url: &str) -> Value {
    let output = std::process::Command::new(venv_bin("python"))
        .arg(repo().join("tests/fakes/sdk_http_host.py"))
        .args([mode, tool, arguments, url])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "sdk_http_host failed: {}",
        stderr_of(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A 2025-era `tools/call` as a bare POST (refused before a session would be asked for).
fn whoami_call() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": "whoami", "arguments": {}}})
}

/// A 2025-era `initialize`.
fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
           "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                      "clientInfo": {"name": "curl", "version": "1"}}})
}

/// The PIDs of a process's direct children.
fn children_of(pid: u32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .flatten()
        .map(|task| std::fs::read_to_string(task.path().join("children")).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .map(|pid| pid.parse().unwrap())
        .collect()
}

#[test]
fn the_python_sdk_lists_and_calls_through_serve_listen_in_both_eras() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let demo = format!("demo={}", demo_stdio_cmd());
    let a = upstream("a", &log);
    let served = Served::start(&env, &["--stdio", &demo, "--stdio", &a], "127.0.0.1:0", &[]);
    assert!(
        served.url.starts_with("http://127.0.0.1:"),
        "{}",
        served.url
    );
    assert!(served.url.ends_with("/mcp"), "{}", served.url);
    for mode in ["legacy", "auto"] {
        let seen = sdk_http_host(mode, "demo__add", r#"{"a": 2, "b": 3}"#, &served.url);
        assert_saw_demo_and_a_and_added(&seen, mode);
    }

    // A clean stop: exit 130, every upstream process gone.
    let upstreams = children_of(served.child.id());
    assert_eq!(upstreams.len(), 2, "{upstreams:?}");
    let (code, stderr) = served.stop();
    assert_eq!(code, Some(130), "{stderr:?}");
    assert_eq!(stderr, ["mcpchat: error: terminated"]);
    for pid in upstreams {
        assert!(!alive(pid), "upstream {pid} outlived serve");
    }
}

#[test]
fn mcpchat_as_the_client_of_serve_listen_prints_the_same_lines_as_direct() {
    let env = TestEnv::new();
    let demo = format!("demo={}", demo_stdio_cmd());
    let served = Served::start(&env, &["--stdio", &demo], "127.0.0.1:0", &[]);
    let run = |server: &[&str], args: &[&str]| {
        let output = env
            .cmd()
            .arg("--no-cache")
            .args(server)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        comparable(&output.stdout)
    };
    let through = format!("demo={}", served.url);
    for args in [
        &["tools", "list"][..],
        &["tools", "call", "add", r#"{"a": 2, "b": 3}"#][..],
        &["tools", "call", "echo", "--arg", "message=hi"][..],
    ] {
        assert_eq!(
            run(&["--url", &through], args),
            run(&["--stdio", &demo], args),
            "{args:?}"
        );
    }
    let (code, _) = served.stop();
    assert_eq!(code, Some(130));
}

#[test]
fn a_non_loopback_listen_without_a_token_exits_2_before_any_server_starts() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let output = env
        .cmd()
        .args([
            "--no-cache",
            "--stdio",
            &a,
            "serve",
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(output.stdout, b"");
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: --listen 0.0.0.0:0 is not a loopback address; serving it needs a token\n\
         hint: pass --token TOKEN or set MCPCHAT_SERVE_TOKEN; hosts then send it as a bearer token\n\
         hint: or listen on loopback: --listen 127.0.0.1:PORT\n"
    );
    assert_eq!(methods(&log), Vec::<String>::new());

    let short = env
        .cmd()
        .args([
            "--no-cache",
            "--stdio",
            &a,
            "serve",
            "--listen",
            "0.0.0.0:0",
        ])
        .env("MCPCHAT_SERVE_TOKEN", "short")
        .output()
        .unwrap();
    assert_eq!(short.status.code(), Some(2));
    assert_eq!(
        stderr_of(&short),
        "mcpchat: error: the serve token is 5 characters long; it needs at least 16\n\
         hint: make one with: openssl rand -hex 32\n"
    );
}

#[test]
fn with_a_token_a_request_without_the_bearer_gets_401_and_one_with_it_is_served() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let served = Served::start(&env, &["--stdio", &a], "0.0.0.0:0", &["--token", TOKEN]);
    assert!(served.url.starts_with("http://0.0.0.0:"), "{}", served.url);
    let url = served.loopback_url();

    let (status, body) = curl(&url, &[], &whoami_call());
    assert_eq!(
        (status, body.as_str()),
        (401, "Unauthorized: a bearer token is required")
    );
    let wrong = format!("Authorization: Bearer {TOKEN}x");
    assert_eq!(curl(&url, &[&wrong], &whoami_call()).0, 401);
    assert_eq!(
        methods(&log),
        ["initialize", "notifications/initialized"],
        "a refused request reached the upstream"
    );

    // mcpchat as the host, with and without the header.
    let bare = env
        .cmd()
        .args([
            "--no-cache",
            "--url",
            &format!("gw={url}"),
            "tools",
            "call",
            "whoami",
        ])
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(3), "{}", stderr_of(&bare));
    let bearer = format!("Authorization: Bearer {TOKEN}");
    let output = env
        .cmd()
        .args([
            "--no-cache",
            "--url",
            &format!("gw={url}"),
            "--header",
            &bearer,
        ])
        .args(["tools", "call", "whoami", r#"{"x": 1}"#])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let results = lines(&output.stdout);
    assert_eq!(results[0]["text"], "a got whoami");
    assert_eq!(
        methods(&log).iter().filter(|m| *m == "tools/call").count(),
        1
    );

    let (code, stderr) = served.stop();
    assert_eq!(code, Some(130));
    assert!(
        stderr.iter().all(|line| !line.contains(TOKEN)),
        "{stderr:?}"
    );
}

#[test]
fn a_foreign_origin_or_host_gets_403_and_the_upstream_sees_nothing() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let served = Served::start(&env, &["--stdio", &a], "127.0.0.1:0", &[]);
    let url = served.url.clone();
    let port = url.split(':').nth(2).unwrap().trim_end_matches("/mcp");

    let (status, body) = curl(&url, &["Origin: http://evil.example"], &whoami_call());
    assert_eq!(
        (status, body.as_str()),
        (403, "Forbidden: Origin header is not allowed")
    );
    // DNS rebinding: a name of the attacker's that now resolves to 127.0.0.1.
    let rebound = format!("Host: evil.example:{port}");
    let (status, body) = curl(&url, &[&rebound], &whoami_call());
    assert_eq!(
        (status, body.as_str()),
        (403, "Forbidden: Host header is not allowed")
    );
    assert_eq!(
        methods(&log),
        ["initialize", "notifications/initialized"],
        "a refused request reached the upstream"
    );

    // A page served from loopback itself is not foreign.
    let local = format!("Origin: http://localhost:{port}");
    let (status, body) = curl(&url, &[&local], &initialize());
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""serverInfo":{"name":"mcpchat""#), "{body}");

    let (code, _) = served.stop();
    assert_eq!(code, Some(130));
}

#[test]
fn no_upstream_secret_reaches_an_http_host_in_either_era() {
    const QUERY: &str = "q5ecretQueryValue81";
    const BEARER: &str = "b5ecretBearerValue27";
    let env = TestEnv::new();
    let server = Peer::echo_secrets("");
    let upstream = format!("echo=http://127.0.0.1:{}/mcp?token={QUERY}", server.port);
    let header = format!("Authorization: Bearer {BEARER}");
    let served = Served::start(
        &env,
        &["--url", &upstream, "-H", &header],
        "127.0.0.1:0",
        &[],
    );
    for mode in ["legacy", "auto"] {
        let seen = sdk_http_host(mode, "echo", "{}", &served.url).to_string();
        // The echoes arrived (masked), so the check below is not vacuous.
        assert!(seen.contains("query token=***"), "{mode}: {seen}");
        assert!(seen.contains("credential ***"), "{mode}: {seen}");
        for secret in [QUERY, BEARER] {
            assert!(
                !seen.contains(secret),
                "{mode}: {secret} reached the host: {seen}"
            );
        }
    }
    let (code, stderr) = served.stop();
    assert_eq!(code, Some(130));
    let stderr = stderr.join("\n");
    for secret in [QUERY, BEARER] {
        assert!(!stderr.contains(secret), "{secret} on stderr: {stderr}");
    }
}
