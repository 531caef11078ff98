//! `resources watch` against server-everything, whose `toggle-subscriber-updates` tool starts
//! update notifications for the session's subscriptions (once at once, then every 5 s).

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

const URI: &str = "demo://resource/static/document/features.md";

#[test]
fn watch_count_2_over_http_prints_two_updates_then_exits_0_and_unsubscribes() {
    let env = TestEnv::new();
    let everything = everything_http();
    let log = env.path("mcp.jsonl");
    let proxy = mcp_record_proxy(&everything, &log);
    let output = env
        .cmd()
        .args([
            "--url",
            &format!("ev={}", proxy.url),
            "resources",
            "watch",
            URI,
        ])
        .args([
            "--call",
            "toggle-subscriber-updates",
            "--count",
            "2",
            "--read",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in &lines {
        assert_eq!(line["type"], "resource_updated");
        assert_eq!(line["server"], "ev");
        assert_eq!(line["uri"], URI);
        assert_eq!(line["contents"][0]["uri"], URI);
        assert!(
            line["contents"][0]["text"]
                .as_str()
                .unwrap()
                .starts_with("# ")
        );
    }
    let methods = logged_methods(&log);
    let of = |name: &str| -> Vec<Option<String>> {
        methods
            .iter()
            .filter(|(m, _)| m == name)
            .map(|(_, uri)| uri.clone())
            .collect()
    };
    assert_eq!(of("resources/subscribe"), vec![Some(URI.to_string())]);
    assert_eq!(of("resources/unsubscribe"), vec![Some(URI.to_string())]);
    let position = |name: &str| methods.iter().position(|(m, _)| m == name).unwrap();
    assert!(position("resources/subscribe") < position("tools/call"));
    assert!(
        position("resources/unsubscribe")
            > methods
                .iter()
                .rposition(|(m, _)| m == "resources/read")
                .unwrap(),
        "unsubscribed after the last read: {methods:?}"
    );
}

#[test]
fn watch_count_2_over_stdio_prints_two_updates_and_the_server_sees_the_unsubscribe() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["-v", "--stdio", &format!("ev={}", everything_stdio_cmd())])
        .args([
            "resources",
            "watch",
            URI,
            "--call",
            "ev__toggle-subscriber-updates",
            "--count",
            "2",
        ])
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines = lines(&output.stdout);
    assert_eq!(
        lines,
        vec![serde_json::json!({"type": "resource_updated", "server": "ev", "uri": URI}); 2]
    );
    // server-everything logs each request back to us (shown with -v).
    assert_eq!(
        stderr
            .matches(&format!(
                "Received Subscribe Resource request for URI: {URI}"
            ))
            .count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        stderr
            .matches(&format!("Received Unsubscribe Resource request: {URI}"))
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn ctrl_c_ends_a_watch_with_130_after_removing_the_subscription() {
    let env = TestEnv::new();
    let mut child = env
        .std_cmd()
        .args(["-v", "--stdio", &format!("ev={}", everything_stdio_cmd())])
        .args([
            "resources",
            "watch",
            URI,
            "--call",
            "toggle-subscriber-updates",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first update comes as soon as updates are toggled on: the watch is running.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let line: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(line["type"], "resource_updated");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let output = child.wait_with_output().unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert_eq!(
        stderr
            .matches(&format!("Received Unsubscribe Resource request: {URI}"))
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn watch_for_ends_with_exit_0_and_no_lines_when_nothing_changes() {
    let env = TestEnv::new();
    let everything = everything_http();
    let log = env.path("mcp.jsonl");
    let proxy = mcp_record_proxy(&everything, &log);
    let output = env
        .cmd()
        .args([
            "--url",
            &format!("ev={}", proxy.url),
            "resources",
            "watch",
            URI,
            "--for",
            "0.5",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(output.stdout.is_empty());
    let methods: Vec<String> = logged_methods(&log).into_iter().map(|(m, _)| m).collect();
    assert_eq!(
        methods
            .iter()
            .filter(|m| m.starts_with("resources/"))
            .collect::<Vec<_>>(),
        vec!["resources/subscribe", "resources/unsubscribe"]
    );
}

#[test]
fn watching_a_server_without_subscriptions_is_exit_2_before_any_subscribe() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("py={}", python_stdio_cmd())])
        .args(["resources", "watch", "notes://welcome", "--count", "1"])
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("mcpchat: error: MCP server `py` does not offer resource subscriptions"),
        "{stderr}"
    );
}

#[test]
fn on_a_2026_era_server_watch_opens_one_subscriptions_listen_stream_for_its_uris() {
    let env = TestEnv::new();
    let python = python_http(true);
    let log = env.path("mcp.jsonl");
    let proxy = mcp_record_proxy(&python, &log);
    let output = env
        .cmd()
        .args(["--url", &format!("py={}", proxy.url), "resources", "watch"])
        .args(["notes://welcome", "notes://groceries", "--for", "0.5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(output.stdout.is_empty());
    let bodies = logged_bodies(&log);
    let listens: Vec<&Value> = bodies
        .iter()
        .map(|e| &e["body"])
        .filter(|b| b["method"] == "subscriptions/listen")
        .collect();
    assert_eq!(listens.len(), 1, "{bodies:?}");
    assert_eq!(
        listens[0]["params"]["notifications"]["resourceSubscriptions"],
        serde_json::json!(["notes://welcome", "notes://groceries"])
    );
    assert!(
        !bodies
            .iter()
            .any(|e| e["body"]["method"] == "resources/subscribe"),
        "no 2025-era subscribe on a 2026-07-28 server"
    );
}
