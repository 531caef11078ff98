//! Servers of the 2024-11-05 era: the legacy HTTP+SSE transport, found automatically.

use pretty_assertions::assert_eq;

use crate::support::*;

#[test]
fn server_everything_in_sse_mode_works_through_the_legacy_transport() {
    let env = TestEnv::new();
    let everything = everything_sse();
    let output = env
        .cmd()
        .args(["--url", &format!("old={}", everything.url)])
        .args([
            "tools",
            "call",
            "old__get-sum",
            "--arg",
            "a=2",
            "--arg",
            "b=3",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["text"], "The sum of 2 and 3 is 5.");
}

#[test]
fn one_server_with_both_transports_is_reached_on_either_url() {
    let env = TestEnv::new();
    let server = sdk_compat_server();
    let output = env
        .cmd()
        .args(["--url", &format!("sse={}/sse", server.url)])
        .args(["--url", &format!("mcp={}/mcp", server.url)])
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert!(of_type(&lines, "error").is_empty(), "{lines:?}");
    let names: Vec<&str> = lines.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"sse__start-notification-stream"),
        "{names:?}"
    );
    assert!(
        names.contains(&"mcp__start-notification-stream"),
        "{names:?}"
    );
}

#[test]
fn pinning_2024_11_05_uses_the_legacy_transport() {
    let env = TestEnv::new();
    let everything = everything_sse();
    let output = env
        .cmd()
        .args([
            "-v",
            "--protocol-version",
            "2024-11-05",
            "--url",
            &format!("old={}", everything.url),
            "tools",
            "list",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("using the legacy HTTP+SSE transport"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn a_legacy_endpoint_on_another_origin_is_refused_with_the_reason_at_default_verbosity() {
    let env = TestEnv::new();
    let server = Peer::legacy_cross_origin();
    let port = server.port;
    let output = env
        .cmd()
        .args(["--url", &format!("old=http://127.0.0.1:{port}/sse")])
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["type"], "error");
    assert_eq!(lines[0]["kind"], "protocol");
    let message = format!(
        "MCP server `old` speaks the legacy HTTP+SSE transport, but its `endpoint` event names \
         http://localhost:{port}/messages?session=***, another origin than the event stream \
         (http://127.0.0.1:{port}); refused, because every message (and its headers) would go to \
         that other host"
    );
    assert_eq!(lines[0]["message"], message.as_str());
    assert!(
        stderr_of(&output).contains(&format!("mcpchat: error: {message}\n")),
        "{}",
        stderr_of(&output)
    );
    // Nothing was posted to the other origin.
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /posts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.ends_with("\r\n\r\n0"), "{reply}");
}
