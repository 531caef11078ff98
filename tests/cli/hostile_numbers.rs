//! Numbers from outside (issue 21, class 6): a duration the user gives out of range is exit 2
//! naming the flag, variable or key; one a peer sends (`Retry-After`, `expires_in`) is clamped.
//! Nothing here may panic (exit 101).

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

const DAY: &str = "must be a number of seconds above 0 and at most 86400 (one day)";

#[test]
fn an_llm_timeout_of_1e30_is_exit_2_naming_the_flag_or_the_variable_and_the_model_is_not_asked() {
    let env = TestEnv::new();
    let log = env.path("requests.jsonl");
    let llm = fault_llm("no_required", &[("FAULT_LLM_LOG", log.to_str().unwrap())]);
    let by_flag = ask(&env, &llm)
        .args(["--llm-timeout", "1e30", "hello"])
        .output()
        .unwrap();
    let by_env = ask(&env, &llm)
        .env("MCPCHAT_LLM_TIMEOUT", "1e30")
        .arg("hello")
        .output()
        .unwrap();
    let negative = ask(&env, &llm)
        .args(["--llm-timeout=-1", "hello"])
        .output()
        .unwrap();
    for (output, what, value) in [
        (&by_flag, "--llm-timeout", "1e30"),
        (&by_env, "$MCPCHAT_LLM_TIMEOUT", "1e30"),
        (&negative, "--llm-timeout", "-1.0"),
    ] {
        assert_eq!(output.status.code(), Some(2), "{}", stderr_of(output));
        let message = format!("{what} {DAY}, not {value}");
        assert_eq!(stderr_of(output), format!("mcpchat: error: {message}\n"));
        // Still one `result` line, as for every failed ask (the panic printed none).
        let lines = lines(&output.stdout);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["type"], "result");
        assert_eq!(lines[0]["status"], "error");
        assert_eq!(
            lines[0]["error"],
            serde_json::json!({"kind": "usage", "message": message, "exit_code": 2})
        );
    }
    assert_eq!(logged_bodies(&log).len(), 0);
}

#[test]
fn timeout_secs_of_1e30_in_the_config_is_exit_2_at_its_line_and_column() {
    let env = TestEnv::new();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: demo\n    command: {}\n    timeout_secs: 1e30\n",
            demo_stdio_cmd()
        ),
    );
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output),
        format!(
            "mcpchat: error: mcp_servers.yaml:4:5: server `demo`: timeout_secs {DAY}, not 1e30\n"
        )
    );

    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: demo\n    command: {}\n    timeout_secs: 5\nllm:\n  model: m\n  timeout_secs: .inf\n",
            demo_stdio_cmd()
        ),
    );
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output),
        format!("mcpchat: error: mcp_servers.yaml:7:3: llm.timeout_secs {DAY}, not inf\n")
    );
}

#[test]
fn timeout_flags_out_of_range_are_exit_2_naming_the_flag() {
    let env = TestEnv::new();
    let stdio = format!("demo={}", demo_stdio_cmd());
    for (flag, value, shown) in [
        ("--timeout", "1e30", "1e30"),
        ("--connect-timeout", "inf", "inf"),
        ("--timeout", "86401", "86401.0"),
        ("--timeout", "0", "0.0"),
    ] {
        let output = env
            .cmd()
            .args([
                "--stdio",
                &stdio,
                &format!("{flag}={value}"),
                "tools",
                "list",
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
        assert_eq!(
            stderr_of(&output),
            format!("mcpchat: error: {flag} {DAY}, not {shown}\n")
        );
    }
}

#[test]
fn a_retry_after_of_1e400_or_inf_is_clamped_and_the_retry_answers() {
    for header in ["1e400", "inf", "1e20", "NaN", "-5"] {
        let env = TestEnv::new();
        let log = env.path("requests.jsonl");
        let llm = fault_llm(
            "retry_after",
            &[
                ("FAULT_LLM_LOG", log.to_str().unwrap()),
                ("FAULT_LLM_RETRY_AFTER", header),
            ],
        );
        // The wait is the smaller of a minute and the model timeout: one second here.
        let output = ask(&env, &llm)
            .args(["--llm-timeout", "1", "hello"])
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{header}: {}",
            stderr_of(&output)
        );
        let lines = lines(&output.stdout);
        let result: &Value = lines.last().unwrap();
        assert_eq!(result["type"], "result", "{header}");
        assert_eq!(result["status"], "success", "{header}");
        assert_eq!(result["answer"], "retried ok", "{header}");
        assert_eq!(logged_bodies(&log).len(), 2, "{header}");
    }
}

/// A client-credentials server `ci` whose authorization server says `expires_in`.
fn client_credentials(env: &TestEnv, expires_in: &str, log: &Path) -> (Peer, Peer) {
    let issuer = hostile_token_server(expires_in, log);
    let resource = protected_echo_with(&issuer.url, &["--no-verify"]);
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: ci\n    url: {}\n    auth_type: client_credentials\n    oauth:\n      client_id: ci-bot\n      client_secret: ci-secret\n      scopes: [mcp:tools]\n",
            resource.url
        ),
    );
    (issuer, resource)
}

fn token_requests(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn an_expires_in_of_u64_max_is_one_token_request_not_an_expired_token() {
    let env = TestEnv::new();
    let log = env.path("tokens.jsonl");
    let _peers = client_credentials(&env, "18446744073709551615", &log);
    for _ in 0..2 {
        let output = env
            .cmd()
            .args(["tools", "call", "ci__whoami"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        let who: Value =
            serde_json::from_str(lines(&output.stdout)[0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(who["client_id"], "ci-bot");
    }
    assert_eq!(token_requests(&log), 1);
    let status = env.cmd().args(["auth", "status", "ci"]).output().unwrap();
    assert_eq!(status.status.code(), Some(0), "{}", stderr_of(&status));
    let line = &lines(&status.stdout)[0];
    assert_eq!(line["logged_in"], true);
    assert_eq!(line["expired"], false);
}

#[test]
fn a_watch_for_longer_than_a_year_is_exit_2_not_a_deadline_overflow() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["resources", "watch", "demo://anything", "--for", "1e19"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: --for takes a number of seconds from 0 to 31536000 (a year), like 30 \
         or 0.5\n"
    );
}
