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
