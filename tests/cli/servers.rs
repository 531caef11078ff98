//! `servers`: one `server` line per selected server, an `error` line for one that fails,
//! exit codes as `tools list`.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

fn count_of(env: &TestEnv, server: &[&str], args: &[&str]) -> usize {
    let output = env.cmd().args(server).args(args).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    lines(&output.stdout).len()
}

#[test]
fn servers_describes_server_everything_over_http_and_the_python_peer_over_stdio() {
    let env = TestEnv::new();
    let everything = everything_http();
    let ev = format!("ev={}", everything.url);
    let py = format!("py={}", python_stdio_cmd());
    let output = env
        .cmd()
        .args(["--url", &ev, "--stdio", &py, "servers"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 2);
    let (ev_line, py_line) = (&lines[0], &lines[1]);

    assert_eq!(ev_line["type"], "server");
    assert_eq!(ev_line["server"], "ev");
    assert_eq!(ev_line["transport"], "http");
    assert_eq!(ev_line["url"], everything.url.as_str());
    assert_eq!(ev_line["command"], Value::Null);
    assert_eq!(ev_line["protocol_version"], "2025-11-25");
    assert_eq!(
        ev_line["server_info"],
        json!({"name": "mcp-servers/everything", "title": "Everything Reference Server", "version": "2.0.0"})
    );
    assert_eq!(
        ev_line["capabilities"]["resources"],
        json!({"subscribe": true, "listChanged": true})
    );
    assert!(
        ev_line["instructions"]
            .as_str()
            .unwrap()
            .starts_with("# Everything Server")
    );
    let ev_args = ["--url", ev.as_str()];
    assert_eq!(
        ev_line["tools"],
        count_of(&env, &ev_args, &["tools", "list"])
    );
    assert_eq!(
        ev_line["resources"],
        count_of(&env, &ev_args, &["resources", "list"])
    );
    assert_eq!(ev_line["resource_templates"], 2);
    assert!(ev_line["prompts"].as_u64().unwrap() > 0);
    assert!(ev_line["connect_ms"].is_u64());
    assert_eq!(ev_line["auth"]["auth_type"], "token");

    assert_eq!(py_line["server"], "py");
    assert_eq!(py_line["transport"], "stdio");
    assert_eq!(py_line["url"], Value::Null);
    assert_eq!(py_line["command"], python_stdio_cmd());
    assert_eq!(py_line["server_info"]["name"], "mcpchat-python-peer");
    assert_eq!(
        (
            py_line["tools"].as_u64(),
            py_line["resources"].as_u64(),
            py_line["resource_templates"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
}

#[test]
fn a_dead_optional_server_gets_an_error_line_and_exit_0_while_the_other_is_described() {
    let env = TestEnv::new();
    let port = closed_port();
    let output = env
        .cmd()
        .args(["--stdio", &format!("py={}", python_stdio_cmd())])
        .args([
            "--url",
            &format!("dead=http://127.0.0.1:{port}/mcp"),
            "servers",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    let types: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["type"].as_str().unwrap(), l["server"].as_str().unwrap()))
        .collect();
    // Ad-hoc --url servers come before --stdio ones.
    assert_eq!(types, vec![("error", "dead"), ("server", "py")]);
    assert_eq!(lines[0]["kind"], "unreachable");
    assert_eq!(lines[0]["exit_code"], 4);
}

#[test]
fn a_dead_required_server_makes_servers_exit_4() {
    let env = TestEnv::new();
    let port = closed_port();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: py\n    command: {}\n    args: [{}, stdio]\n  - name: dead\n    url: http://127.0.0.1:{port}/mcp\n    required: true\n",
            venv_bin("python").display(),
            repo().join("tests/peers/python_server.py").display()
        ),
    );
    let output = env.cmd().arg("servers").output().unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(of_type(&lines, "server").len(), 1);
    assert_eq!(of_type(&lines, "error").len(), 1);
}

#[test]
fn servers_reports_the_negotiated_2026_era_of_the_stateless_python_peer() {
    let env = TestEnv::new();
    let python = python_http(true);
    let output = env
        .cmd()
        .args(["--url", &format!("py={}", python.url), "servers"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["protocol_version"], "2026-07-28");
    assert_eq!(lines[0]["transport"], "http");
    assert_eq!(
        (
            lines[0]["tools"].as_u64(),
            lines[0]["resources"].as_u64(),
            lines[0]["resource_templates"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
}

#[test]
fn servers_on_an_oauth_server_is_exit_3_before_login_and_reports_the_login_after() {
    let env = TestEnv::new();
    let ml = mock_llm_oauth();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: ml\n    url: {}\n    auth_type: oauth\n",
            ml.url
        ),
    );
    let output = env
        .cmd()
        .env("BROWSER", "false")
        .arg("servers")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    let before = lines(&output.stdout);
    assert_eq!(
        (before[0]["type"].as_str(), before[0]["kind"].as_str()),
        (Some("error"), Some("auth"))
    );

    let login = env
        .cmd()
        .env("BROWSER", "curl -s -L -o /dev/null")
        .args(["auth", "login", "ml", "--timeout", "30"])
        .output()
        .unwrap();
    assert_eq!(login.status.code(), Some(0), "{}", stderr_of(&login));

    let output = env.cmd().arg("servers").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    let auth = &lines[0]["auth"];
    assert_eq!(auth["auth_type"], "oauth");
    assert_eq!(auth["logged_in"], true);
    assert_eq!(auth["refreshable"], true);
    assert_eq!(auth["expired"], false);
    assert!(auth.get("server").is_none());
    let store: Value =
        serde_json::from_str(&std::fs::read_to_string(env.token_store()).unwrap()).unwrap();
    let token = store["servers"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["credentials"]["token_response"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!text.contains(&token), "the token never reaches stdout");
}

#[test]
fn a_legacy_http_sse_server_shows_protocol_2024_11_05_and_its_resources_read_alike() {
    let env = TestEnv::new();
    let everything = everything_sse();
    let server = format!("ev={}", everything.url);
    let output = env
        .cmd()
        .args(["--url", &server, "servers"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let described = lines(&output.stdout);
    assert_eq!(described[0]["protocol_version"], "2024-11-05");
    assert_eq!(described[0]["transport"], "http");
    assert_eq!(described[0]["resource_templates"], 2);

    let uri = "demo://resource/dynamic/text/5";
    let output = env
        .cmd()
        .args(["--url", &server, "resources", "read", uri])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert!(
        lines[0]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Resource 5: This is a plaintext resource created at ")
    );
}
