//! Configuration: lookup order, formats, expansion, and errors that point at the problem.

use pretty_assertions::assert_eq;

use crate::support::*;

fn demo_yaml(name: &str) -> String {
    format!(
        "servers:\n  - name: {name}\n    command: python3\n    args: [\"{}\"]\n",
        repo().join("examples/demo_server.py").display()
    )
}

fn listed_servers(output: &std::process::Output) -> Vec<String> {
    let mut servers: Vec<String> = lines(&output.stdout)
        .iter()
        .map(|l| l["server"].as_str().unwrap().to_string())
        .collect();
    servers.dedup();
    servers
}

/// `mcpchat ARGS... tools list` in `env`.
fn tools_list(env: &TestEnv, args: &[&str]) -> std::process::Output {
    env.cmd()
        .args(args)
        .args(["tools", "list"])
        .output()
        .unwrap()
}

/// The servers `tools list` listed, from a run that must exit 0.
fn listed(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let output = tools_list(env, args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    listed_servers(&output)
}

/// A config `tools list` must refuse: exit 2; its stderr.
fn refused(env: &TestEnv) -> String {
    let output = tools_list(env, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    stderr_of(&output)
}

#[test]
fn config_errors_say_where_and_suggest_a_fix() {
    let demo = demo_yaml("demo");
    let twice = format!("{demo}{}", demo.replace("servers:\n", ""));
    // (file, its text, how stderr starts, a later line it must have)
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "mcp_servers.yaml",
            "servers:\n  - name: demo\n    comand: python3\n".into(),
            "mcpchat: error: mcp_servers.yaml:3:5: servers[0]: unknown field `comand`",
            "hint: did you mean `command`?",
        ),
        (
            "mcp_servers.yaml",
            "servers:\n  - name: s\n    url: http://127.0.0.1:9/mcp\n    auth_type: oauht\n".into(),
            "mcpchat: error: mcp_servers.yaml:4:16: ",
            "hint: did you mean `oauth`?",
        ),
        (
            "mcp_servers.json",
            "{\"servers\": [\n  {\"name\": \"x\",}\n]}\n".into(),
            "mcpchat: error: mcp_servers.json:2:16:",
            "",
        ),
        (
            "mcp_servers.yaml",
            "servers:\n  # uses ${NOT_HERE} below\n  - name: dexcom\n    url: https://example.invalid/mcp?token=${DEXCOM_TOKEN}\n".into(),
            "mcpchat: error: mcp_servers.yaml:4:44: environment variable `DEXCOM_TOKEN` is not set",
            "",
        ),
        (
            "mcp_servers.yaml",
            twice,
            "mcpchat: error: mcp_servers.yaml:5:5: server name `demo` is used twice",
            "",
        ),
        (
            "mcp_servers.yaml",
            demo_yaml("bad name"),
            "mcpchat: error: ",
            "server name `bad name` must be",
        ),
    ];
    for (file, text, starts, has) in cases {
        let env = TestEnv::new();
        env.write(file, &text);
        let stderr = refused(&env);
        assert!(stderr.starts_with(starts), "{text}\n{stderr}");
        assert!(stderr.contains(has), "{text}\n{stderr}");
    }
}

#[test]
fn variables_expand_with_defaults_and_from_dot_env_without_overriding_the_environment() {
    let env = TestEnv::new();
    env.write(".env", "DEMO_MESSAGE=from-dotenv\nDEMO_SCRIPT=wrong\n");
    env.write(
        "mcp_servers.yaml",
        "servers:\n  - name: demo\n    command: ${PYTHON:-python3}\n    args: [\"${DEMO_SCRIPT}\"]\n    env: {GREETING: \"${DEMO_MESSAGE}\"}\n",
    );
    let output = env
        .cmd()
        .env("DEMO_SCRIPT", repo().join("examples/demo_server.py"))
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(listed_servers(&output), vec!["demo"]);
}

#[test]
fn flags_read_their_variables_from_dot_env_and_the_environment_wins() {
    let env = TestEnv::new();
    env.write(".env", "MCPCHAT_ELICITATION=sometimes\n");
    env.write("mcp_servers.yaml", &demo_yaml("demo"));
    let stderr = refused(&env);
    assert!(
        stderr.contains("invalid value 'sometimes' for '--elicitation <ELICITATION>'"),
        "{stderr}"
    );
    let output = env
        .cmd()
        .env("MCPCHAT_ELICITATION", "decline")
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(listed_servers(&output), vec!["demo"]);
}

#[test]
fn only_servers_in_use_need_their_variables() {
    let env = TestEnv::new();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "{}  - name: dexcom\n    url: https://example.invalid/mcp?token=${{DEXCOM_TOKEN}}\n",
            demo_yaml("demo")
        ),
    );
    assert_eq!(listed(&env, &["--server", "demo"]), vec!["demo"]);
}

#[test]
fn disabled_servers_are_skipped() {
    let env = TestEnv::new();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "{}  - name: off\n    url: http://127.0.0.1:{}/mcp\n    enabled: false\n",
            demo_yaml("demo"),
            closed_port()
        ),
    );
    assert_eq!(listed(&env, &[]), vec!["demo"]);
}

#[test]
fn lookup_order_is_flag_then_env_then_yaml_then_json_then_user_config() {
    let env = TestEnv::new();
    let config_dir = env.home().join(".config/mcpchat");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(config_dir.join("mcp_servers.yaml"), demo_yaml("user")).unwrap();
    let run = |extra: &[&str], var: Option<&str>| {
        let mut cmd = env.cmd();
        if let Some(path) = var {
            cmd.env("MCPCHAT_CONFIG", path);
        }
        listed_servers(&cmd.args(extra).args(["tools", "list"]).output().unwrap())
    };
    assert_eq!(run(&[], None), vec!["user"]);
    env.write(
        "mcp_servers.json",
        &format!(
            "{{\"servers\": [{{\"name\": \"json\", \"command\": \"python3\", \"args\": [\"{}\"]}}]}}",
            repo().join("examples/demo_server.py").display()
        ),
    );
    assert_eq!(run(&[], None), vec!["json"]);
    env.write("mcp_servers.yaml", &demo_yaml("yaml"));
    assert_eq!(run(&[], None), vec!["yaml"]);
    let other = env.write("other.yaml", &demo_yaml("fromenv"));
    assert_eq!(run(&[], Some(other.to_str().unwrap())), vec!["fromenv"]);
    let flag = env.write("flag.yaml", &demo_yaml("fromflag"));
    assert_eq!(
        run(
            &["--config", flag.to_str().unwrap()],
            Some(other.to_str().unwrap())
        ),
        vec!["fromflag"]
    );
}

#[test]
fn claude_desktop_mcp_servers_format_is_read() {
    let env = TestEnv::new();
    let config = env.write(
        "claude.json",
        &format!(
            r#"{{"mcpServers": {{"demo": {{"command": "python3", "args": ["{}"], "env": {{"X": "1"}}, "alwaysAllow": []}},
               "off": {{"url": "http://127.0.0.1:9/mcp", "disabled": true}}}}}}"#,
            repo().join("examples/demo_server.py").display()
        ),
    );
    assert_eq!(
        listed(&env, &["--config", config.to_str().unwrap()]),
        vec!["demo"]
    );
}

#[test]
fn no_config_at_all_is_exit_2_with_hints() {
    let env = TestEnv::new();
    // The hint shows a config inline: a new user has no checkout with an example file.
    assert_eq!(
        refused(&env),
        "mcpchat: error: no MCP servers configured (no ./mcp_servers.yaml, ./mcp_servers.json or <config dir>/mcpchat/mcp_servers.yaml)\n\
         hint: list servers in ./mcp_servers.yaml, for example:\n\
         \x20   servers:\n\
         \x20     - name: docs\n\
         \x20       url: https://example.com/mcp\n\
         \x20     - name: demo\n\
         \x20       command: python3\n\
         \x20       args: [demo_server.py]\n\
         hint: or name servers on the command line: --url [NAME=]URL, --stdio \"[NAME=]COMMAND ARGS\"\n"
    );
}

#[test]
fn the_inline_example_of_the_no_servers_hint_is_a_valid_config() {
    let env = TestEnv::new();
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    let stderr = stderr_of(&output);
    let example: String = stderr
        .lines()
        .skip_while(|l| !l.ends_with("for example:"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .map(|l| format!("{}\n", &l[4..]))
        .collect();
    env.write("mcp_servers.yaml", &example);
    // `auth status` reads the config without contacting any server.
    let output = env
        .cmd()
        .args(["auth", "status", "--format", "text"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "docs\ttoken\t-\ndemo\ttoken\t-\n"
    );
}

#[test]
fn a_missing_file_named_by_mcpchat_config_says_where_the_name_came_from() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .env("MCPCHAT_CONFIG", "/nonexistent/servers.yaml")
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: config file /nonexistent/servers.yaml (named by $MCPCHAT_CONFIG) does not exist\n\
         hint: point $MCPCHAT_CONFIG at an existing file, or unset it to use ./mcp_servers.yaml\n"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_missing_file_named_by_the_config_flag_says_so() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .env("MCPCHAT_CONFIG", "/also/missing.yaml")
        .args(["--config", "missing.yaml", "tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: config file missing.yaml (named by --config) does not exist\n\
         hint: check the path given to --config (-c)\n"
    );
}

#[test]
fn the_shipped_example_config_parses() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .current_dir(repo())
        .args([
            "--config",
            "mcp_servers.example.yaml",
            "--server",
            "demo",
            "tools",
            "list",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(listed_servers(&output), vec!["demo"]);
}

#[test]
fn a_server_with_an_unset_variable_fails_alone_when_listing_all() {
    let env = TestEnv::new();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "{}  - name: dexcom\n    url: https://example.invalid/mcp?token=${{DEXCOM_TOKEN}}\n",
            demo_yaml("demo")
        ),
    );
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(of_type(&lines, "tool").len(), 4);
    let errors = of_type(&lines, "error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["server"], "dexcom");
    assert_eq!(errors[0]["kind"], "config");
    assert_eq!(errors[0]["exit_code"], 2);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("`DEXCOM_TOKEN` is not set")
    );
}

#[test]
fn vs_code_servers_map_and_claude_extra_keys_are_accepted() {
    let env = TestEnv::new();
    let demo = repo().join("examples/demo_server.py");
    let vscode = env.write(
        "mcp.json",
        &format!(r#"{{"inputs": [], "servers": {{"demo": {{"type": "stdio", "command": "python3", "args": ["{}"]}}}}}}"#, demo.display()),
    );
    assert_eq!(
        listed(&env, &["--config", vscode.to_str().unwrap()]),
        vec!["demo"]
    );

    let claude = env.write(
        "claude_desktop_config.json",
        &format!(r#"{{"globalShortcut": "", "mcpServers": {{"demo": {{"command": "python3", "args": ["{}"]}}}}}}"#, demo.display()),
    );
    assert_eq!(
        listed(&env, &["--config", claude.to_str().unwrap()]),
        vec!["demo"]
    );
}

#[test]
fn config_files_with_a_utf8_byte_order_mark_are_read_in_every_format() {
    let env = TestEnv::new();
    let script = repo().join("examples/demo_server.py");
    let files = [
        ("bom.yaml", demo_yaml("demo")),
        (
            "bom.json",
            format!(
                r#"{{"servers": [{{"name": "demo", "command": "python3", "args": ["{}"]}}]}}"#,
                script.display()
            ),
        ),
        (
            "claude-bom.json",
            format!(
                r#"{{"mcpServers": {{"demo": {{"command": "python3", "args": ["{}"]}}}}}}"#,
                script.display()
            ),
        ),
    ];
    for (name, text) in files {
        let config = env.write(name, &format!("\u{feff}{text}"));
        let listed = listed(&env, &["--config", config.to_str().unwrap()]);
        assert_eq!(listed, vec!["demo"], "{name}");
    }
}

#[test]
fn nested_defaults_expand_and_only_the_default_in_use_needs_its_variables() {
    let env = TestEnv::new();
    env.write(
        "mcp_servers.yaml",
        "servers:\n  - name: demo\n    command: ${NO_PYTHON:-${ALSO_UNSET:-python3}}\n    \
         args: [\"${NO_SCRIPT:-${DEMO_SCRIPT}}\"]\n    env: {X: \"${DEMO_SCRIPT:-${NEVER_SET}}\"}\n",
    );
    let output = env
        .cmd()
        .env("DEMO_SCRIPT", repo().join("examples/demo_server.py"))
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(listed_servers(&output), vec!["demo"]);
}

#[test]
fn a_yaml_alias_bomb_is_reported_as_an_alias_expansion_limit() {
    let env = TestEnv::new();
    let mut text = String::from("x-anchors:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("mcpServers:\n  demo:\n    command: python3\n");
    env.write("mcp_servers.yaml", &text);
    assert_eq!(tools_list(&env, &[]).stdout, b"");
    assert_eq!(
        refused(&env),
        "mcpchat: error: mcp_servers.yaml: YAML alias expansion limit exceeded (repetition limit \
         exceeded): the anchors and aliases (`&name`, `*name`) expand to too many nodes\n\
         hint: write the repeated values out, or alias them fewer times\n"
    );
}
