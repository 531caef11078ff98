//! `mcpchat ping`: one `ping` line per selected server from the MCP `ping` request, over stdio
//! and Streamable HTTP; a server that does not answer gets `ok: false`, its `error` line, and
//! exit 4.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// The line with its round trip checked and taken out (its value is a duration).
fn without_rtt(line: &Value) -> Value {
    let rtt = line["rtt_ms"].as_f64().expect("rtt_ms is a number");
    assert!(rtt >= 0.0, "{line}");
    let mut line = line.clone();
    line["rtt_ms"] = json!("checked");
    line
}

#[test]
fn ping_over_stdio_prints_one_ok_line_with_the_round_trip() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("ev={}", everything_stdio_cmd()), "ping"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(stderr_of(&output), "");
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        without_rtt(&lines[0]),
        json!({"type": "ping", "server": "ev", "ok": true, "rtt_ms": "checked"})
    );
}

#[test]
fn ping_over_streamable_http_sends_the_ping_request() {
    let env = TestEnv::new();
    let everything = everything_http();
    let log = env.path("requests.jsonl");
    let proxy = mcp_record_proxy(&everything, &log);
    let output = env
        .cmd()
        .args(["--url", &format!("ev={}", proxy.url), "ping"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        without_rtt(&lines[0]),
        json!({"type": "ping", "server": "ev", "ok": true, "rtt_ms": "checked"})
    );
    let sent = requests(&log);
    assert_eq!(
        sent.iter().filter(|r| *r == "POST ping").count(),
        1,
        "{sent:?}"
    );
}

#[test]
fn a_dead_server_fails_ping_with_exit_4_and_the_others_still_answer() {
    let env = TestEnv::new();
    let port = closed_port();
    let output = env
        .cmd()
        .args(["--stdio", &format!("ev={}", everything_stdio_cmd())])
        .args([
            "--url",
            &format!("dead=http://127.0.0.1:{port}/mcp"),
            "ping",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 3, "{lines:?}");
    // In config order: the --url servers come first.
    assert_eq!(
        lines[0],
        json!({"type": "ping", "server": "dead", "ok": false, "rtt_ms": null})
    );
    let refused = format!(
        "cannot connect to MCP server `dead` at http://127.0.0.1:{port}/mcp: Connection refused (os error 111)"
    );
    assert_eq!(
        lines[1],
        json!({"type": "error", "server": "dead", "kind": "unreachable", "message": refused, "exit_code": 4})
    );
    assert_eq!(
        without_rtt(&lines[2]),
        json!({"type": "ping", "server": "ev", "ok": true, "rtt_ms": "checked"})
    );
    assert_eq!(
        stderr_of(&output),
        format!(
            "mcpchat: warning: {refused}\nhint: is the server running?\n\
             mcpchat: error: {refused}\nhint: is the server running?\n"
        )
    );
}
