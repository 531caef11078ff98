//! The output contract: the published schema, text format, and secrets never printed.

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

#[test]
fn schema_command_prints_the_checked_in_schema() {
    let env = TestEnv::new();
    let output = env.cmd().arg("schema").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schema/events.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed, file);
    assert_eq!(printed["schema_version"], mcpchat::events::SCHEMA_VERSION);
}

#[test]
fn the_schema_still_accepts_the_prompt_lines_of_versions_before_1_7_0() {
    // `lines` validates every line against the checked-in schema: the old shapes must pass,
    // since consumers may hold output of an older mcpchat.
    let old = [
        r#"{"type":"prompt","content":"What can you add?","turn":1}"#,
        r#"{"type":"mcp_prompt","server":"ev","name":"ev__p","prompt":"p","description":null,"arguments":[]}"#,
        r#"{"type":"prompt","server":"ev","name":"ev__p","prompt":"p","description":null,"arguments":[]}"#,
        r#"{"type":"user_prompt","content":"What can you add?","turn":1}"#,
    ];
    let parsed = lines(old.join("\n").as_bytes());
    assert_eq!(parsed.len(), 4);
}

#[test]
fn text_format_lists_names_and_descriptions() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args([
            "--stdio",
            &format!("demo={}", demo_stdio_cmd()),
            "--format",
            "text",
            "tools",
            "list",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        text.lines().next(),
        Some("demo__echo\tEcho a message back unchanged.")
    );
    assert_eq!(text.lines().count(), 4);
}

#[test]
fn secrets_in_urls_and_headers_never_appear_in_any_output() {
    let env = TestEnv::new();
    let secret = "s3cr3t-T0KEN-value";
    let header_secret = "hdr-very-secret-42";
    let everything = everything_http();
    let port = closed_port();
    let output = env
        .cmd()
        .args(["-vv"])
        .args([
            "--url",
            &format!("down=http://127.0.0.1:{port}/mcp?token={secret}"),
        ])
        .args(["--url", &format!("ev={}?token={secret}", everything.url)])
        .args([
            "--header",
            &format!("Authorization: Bearer {header_secret}"),
        ])
        .args(["--header", &format!("X-Api-Key: {header_secret}")])
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = stderr_of(&output);
    for text in [&stdout[..], &stderr[..]] {
        assert!(!text.contains(secret), "secret leaked:\n{text}");
        assert!(
            !text.contains(header_secret),
            "header secret leaked:\n{text}"
        );
    }
    assert!(stdout.contains("token=***"), "{stdout}");
    assert!(!stderr.is_empty(), "-vv logs something");
}
