//! `tools list` against real peers.

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::support::*;

#[test]
fn lists_tools_of_four_servers_at_once_over_http_and_stdio() {
    let env = TestEnv::new();
    let everything = everything_http();
    let python = python_http(true);
    let (memory, memory_file) = memory_stdio_cmd(&env);
    env.write(
        "mcp_servers.yaml",
        &format!(
            r#"
servers:
  - name: everything
    url: {}
  - name: py
    url: {}
  - name: memory
    command: sh
    args: ["-c", "exec {memory}"]
    env: {{MEMORY_FILE_PATH: "{}"}}
  - name: evstdio
    command: sh
    args: ["-c", "exec {}"]
"#,
            everything.url,
            python.url,
            memory_file.display(),
            everything_stdio_cmd()
        ),
    );
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        stderr_of(&output)
    );
    let lines = lines(&output.stdout);
    assert!(of_type(&lines, "error").is_empty(), "{lines:?}");
    let names: Vec<&str> = lines.iter().map(|l| l["name"].as_str().unwrap()).collect();
    for expected in [
        "everything__echo",
        "everything__get-sum",
        "py__add",
        "py__shout",
        "py__fail",
        "memory__create_entities",
        "memory__read_graph",
        "evstdio__get-sum",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // Lines come grouped in config order.
    let servers: Vec<&str> = lines
        .iter()
        .map(|l| l["server"].as_str().unwrap())
        .collect();
    let mut order = servers.clone();
    order.dedup();
    assert_eq!(order, vec!["everything", "py", "memory", "evstdio"]);

    let add = lines.iter().find(|l| l["name"] == "py__add").unwrap();
    assert_eq!(add["server"], "py");
    assert_eq!(add["tool"], "add");
    assert_eq!(add["input_schema"]["required"], json!(["a", "b"]));
}

#[test]
fn a_failing_server_gives_an_error_line_and_the_others_go_on() {
    let env = TestEnv::new();
    let port = closed_port();
    let output = env
        .cmd()
        .args(["--url", &format!("down=http://127.0.0.1:{port}/mcp")])
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        stderr_of(&output)
    );
    let lines = lines(&output.stdout);
    let errors = of_type(&lines, "error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["server"], "down");
    assert_eq!(errors[0]["kind"], "unreachable");
    assert_eq!(errors[0]["exit_code"], 4);
    assert_eq!(of_type(&lines, "tool").len(), 4);
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("mcpchat: warning: cannot connect to MCP server `down`"),
        "{stderr}"
    );
}

#[test]
fn a_required_server_failing_fails_the_command_with_exit_4() {
    let env = TestEnv::new();
    let port = closed_port();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: down\n    url: http://127.0.0.1:{port}/mcp\n    required: true\n  - name: demo\n    command: python3\n    args: [{}]\n",
            repo().join("examples/demo_server.py").display()
        ),
    );
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    let lines = lines(&output.stdout);
    assert_eq!(
        of_type(&lines, "tool").len(),
        4,
        "the other server's tools are still listed"
    );
    assert_eq!(of_type(&lines, "error").len(), 1);
}

#[test]
fn all_servers_failing_exits_4() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args([
            "--url",
            &format!("a=http://127.0.0.1:{}/mcp", closed_port()),
        ])
        .args([
            "--url",
            &format!("b=http://127.0.0.1:{}/mcp", closed_port()),
        ])
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let lines = lines(&output.stdout);
    let servers: Vec<&str> = of_type(&lines, "error")
        .iter()
        .map(|l| l["server"].as_str().unwrap())
        .collect();
    assert_eq!(servers, vec!["a", "b"]);
}

#[test]
fn server_flag_contacts_only_the_named_server() {
    let env = TestEnv::new();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: down\n    url: http://127.0.0.1:{}/mcp\n  - name: demo\n    command: python3\n    args: [{}]\n",
            closed_port(),
            repo().join("examples/demo_server.py").display()
        ),
    );
    let output = env
        .cmd()
        .args(["tools", "list", "--server", "demo"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let lines = lines(&output.stdout);
    assert!(
        lines
            .iter()
            .all(|l| l["type"] == "tool" && l["server"] == "demo")
    );
    assert_eq!(stderr_of(&output), "");
}

#[test]
fn unknown_server_exits_2_with_a_suggestion() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "list", "--server", "dmeo"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("mcpchat: error: unknown MCP server `dmeo`"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: did you mean `demo`?"), "{stderr}");
}

#[test]
fn allow_and_deny_globs_filter_tools() {
    let env = TestEnv::new();
    let everything = everything_http();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: ev\n    url: {}\n    tools:\n      allow: [\"get-*\", echo]\n      deny: [\"get-env\", \"*image*\"]\n",
            everything.url
        ),
    );
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let mut names: Vec<String> = lines(&output.stdout)
        .iter()
        .map(|l| l["tool"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert!(
        names.contains(&"echo".to_string()) && names.contains(&"get-sum".to_string()),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| n == "echo"
                || (n.starts_with("get-") && n != "get-env" && !n.contains("image"))),
        "{names:?}"
    );

    // A denied tool cannot be called either.
    let output = env
        .cmd()
        .args(["tools", "call", "ev__get-env"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("not allowed by the config"),
        "{}",
        stderr_of(&output)
    );
}
