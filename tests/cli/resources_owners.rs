//! Which server reads a URI when several are configured: the one that lists it, else one with
//! a matching template; a URI read from the wrong server is exit 2 naming the right one.

use pretty_assertions::assert_eq;

use super::resources::{everything_docs, run};
use crate::support::*;

#[test]
fn with_two_servers_each_uri_is_read_from_the_server_that_lists_or_templates_it() {
    let env = TestEnv::new();
    let everything = everything_http();
    let ev = format!("ev={}", everything.url);
    let py = format!("py={}", python_stdio_cmd());
    let (code, lines, stderr) = run(&env, &["--url", &ev, "--stdio", &py, "resources", "list"]);
    assert_eq!(code, Some(0), "{stderr}");
    let servers: Vec<&str> = lines
        .iter()
        .map(|l| l["server"].as_str().unwrap())
        .collect();
    let mut expected = vec!["ev"; everything_docs().len()];
    expected.extend(["py", "py"]);
    assert_eq!(servers, expected, "config order, every resource of both");

    let (code, lines, stderr) = run(
        &env,
        &[
            "--url",
            &ev,
            "--stdio",
            &py,
            "resources",
            "read",
            "notes://welcome",
            "demo://resource/static/document/features.md",
            "notes://from-a-template",
            "demo://resource/dynamic/text/3",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let read: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["server"].as_str().unwrap(), l["uri"].as_str().unwrap()))
        .collect();
    assert_eq!(
        read,
        vec![
            ("py", "notes://welcome"),
            ("ev", "demo://resource/static/document/features.md"),
            ("py", "notes://from-a-template"),
            ("ev", "demo://resource/dynamic/text/3"),
        ]
    );
    assert_eq!(lines[2]["contents"][0]["text"], "Note from-a-template.");
}

#[test]
fn a_uri_read_from_the_wrong_server_is_exit_2_naming_the_server_that_lists_it() {
    let env = TestEnv::new();
    let everything = everything_http();
    let config = format!(
        "servers:\n  - name: ev\n    url: {}\n  - name: py\n    command: {}\n    args: [{}, stdio]\n",
        everything.url,
        venv_bin("python").display(),
        repo().join("tests/peers/python_server.py").display()
    );
    env.write("mcp_servers.yaml", &config);
    let (code, lines, stderr) = run(
        &env,
        &["--server", "ev", "resources", "read", "notes://welcome"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(lines.is_empty());
    assert!(
        stderr.contains(
            "mcpchat: error: resource `notes://welcome` is listed by MCP server `py`, not by `ev`"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "hint: read it from there: mcpchat resources read --server py notes://welcome"
        ),
        "{stderr}"
    );

    // Without --server, neither server is wrong: py lists it.
    let (code, lines, stderr) = run(&env, &["resources", "read", "notes://welcome"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(lines[0]["server"], "py");
}

#[test]
fn o_with_several_uris_is_a_usage_error_before_any_connection() {
    let env = TestEnv::new();
    let port = closed_port();
    let (code, _, stderr) = run(
        &env,
        &[
            "--url",
            &format!("x=http://127.0.0.1:{port}/mcp"),
            "resources",
            "read",
            "a://1",
            "a://2",
            "-o",
            "f",
        ],
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("mcpchat: error: -o FILE takes one URI"),
        "{stderr}"
    );
}

#[test]
fn with_one_server_a_read_sends_no_listing_request_only_the_read() {
    let env = TestEnv::new();
    let everything = everything_http();
    let log = env.path("mcp.jsonl");
    let proxy = mcp_record_proxy(&everything, &log);
    let uri = "demo://resource/static/document/features.md";
    let (code, lines, stderr) = run(
        &env,
        &[
            "--url",
            &format!("ev={}", proxy.url),
            "resources",
            "read",
            uri,
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(lines.len(), 1);
    let resource_requests: Vec<(String, Option<String>)> = logged_methods(&log)
        .into_iter()
        .filter(|(method, _)| method.starts_with("resources/"))
        .collect();
    assert_eq!(
        resource_requests,
        vec![("resources/read".to_string(), Some(uri.to_string()))]
    );
}
