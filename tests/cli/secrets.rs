//! Secrets stay masked when a hostile server echoes them back: header values and their
//! credential part, URL userinfo and the Basic header derived from it, query values and the
//! model API key, in stdout lines and on stderr at every verbosity.

use base64::Engine;
use serde_json::Value;

use crate::support::*;

const USERINFO_PASSWORD: &str = "pw-userinfo-7";
const QUERY_VALUE: &str = "q-secret-3141";
const API_KEY: &str = r#"key"with\odd-42"#;
const BEARER: &str = "tok-bearer-2718";
const BASIC_PASSWORD: &str = "pw-basic-1618";
const MODEL_KEY: &str = "sk-model-secret-99";
const MODEL_URL_PASSWORD: &str = "pw-model-url-5";

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Every form a secret must never be printed in: as is, JSON-escaped, and the Basic parts.
fn forbidden() -> Vec<String> {
    let mut forms = vec![
        USERINFO_PASSWORD.to_string(),
        format!("alice:{USERINFO_PASSWORD}"),
        b64(&format!("alice:{USERINFO_PASSWORD}")),
        QUERY_VALUE.to_string(),
        API_KEY.to_string(),
        BEARER.to_string(),
        BASIC_PASSWORD.to_string(),
        format!("bob:{BASIC_PASSWORD}"),
        b64(&format!("bob:{BASIC_PASSWORD}")),
        MODEL_KEY.to_string(),
        MODEL_URL_PASSWORD.to_string(),
        b64(&format!("carol:{MODEL_URL_PASSWORD}")),
    ];
    let escaped: Vec<String> = forms
        .iter()
        .map(|s| {
            serde_json::to_string(s)
                .unwrap()
                .trim_matches('"')
                .to_string()
        })
        .collect();
    forms.extend(escaped);
    forms.push(r"odd-42".to_string());
    forms
}

fn config(env: &TestEnv, port: u16) -> std::path::PathBuf {
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: echo\n    url: http://alice:${{USERINFO_PASS}}@127.0.0.1:{port}/mcp?apikey=${{QUERY_VALUE}}\n    \
             headers:\n      X-Api-Key: ${{API_KEY}}\n      X-Basic: Basic ${{BASIC_B64}}\n"
        ),
    )
}

/// The same invocation at every verbosity: default, -v, -vv and RUST_LOG=trace.
fn at_every_verbosity(env: &TestEnv, args: &[&str], expect_code: i32) -> Vec<std::process::Output> {
    let levels: [(&[&str], Option<&str>); 4] = [
        (&[], None),
        (&["-v"], None),
        (&["-vv"], None),
        (&[], Some("trace")),
    ];
    levels
        .iter()
        .map(|(flags, rust_log)| {
            let mut cmd = env.cmd();
            cmd.env("USERINFO_PASS", USERINFO_PASSWORD)
                .env("QUERY_VALUE", QUERY_VALUE)
                .env("API_KEY", API_KEY)
                .env("BASIC_B64", b64(&format!("bob:{BASIC_PASSWORD}")))
                .env("MCPCHAT_API_KEY", MODEL_KEY)
                .args(*flags)
                .args(args);
            if let Some(level) = rust_log {
                cmd.env("RUST_LOG", level);
            }
            let output = cmd.output().unwrap();
            assert_eq!(
                output.status.code(),
                Some(expect_code),
                "{args:?} {flags:?}: {}",
                stderr_of(&output)
            );
            for secret in forbidden() {
                let stdout = String::from_utf8_lossy(&output.stdout);
                let stderr = stderr_of(&output);
                assert!(
                    !stdout.contains(&secret),
                    "{args:?} {flags:?} {rust_log:?}: stdout carries `{secret}`:\n{stdout}"
                );
                assert!(
                    !stderr.contains(&secret),
                    "{args:?} {flags:?} {rust_log:?}: stderr carries `{secret}`:\n{stderr}"
                );
            }
            // Every line is still valid JSON of the published schema.
            lines(&output.stdout);
            output
        })
        .collect()
}

#[test]
fn secrets_echoed_in_tool_descriptions_results_and_logs_are_masked_at_every_verbosity() {
    let env = TestEnv::new();
    let server = Peer::echo_secrets("");
    config(&env, server.port);
    let list = at_every_verbosity(&env, &["tools", "list"], 0);
    let tools = lines(&list[0].stdout);
    assert_eq!(tools.len(), 2);
    let description = tools[0]["description"].as_str().unwrap();
    assert!(description.contains("query apikey=***"), "{description}");
    assert!(
        description.contains("header x-api-key: ***"),
        "{description}"
    );
    assert!(
        description.contains("credential *** | decoded *** | password ***"),
        "{description}"
    );

    let calls = at_every_verbosity(&env, &["tools", "call", "echo__echo", "{}"], 0);
    let result = lines(&calls[0].stdout);
    let text = result[0]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("header authorization: Basic ***"), "{text}");
    assert_eq!(result[0]["structured_content"]["echo"], Value::from(text));
    // The server's log notifications reach stderr from -v on, masked.
    let logged = stderr_of(&calls[1]);
    assert!(
        logged.contains("header x-basic: *** | credential ***"),
        "{logged}"
    );
}

#[test]
fn secrets_echoed_in_a_json_rpc_error_are_masked_at_every_verbosity() {
    let env = TestEnv::new();
    let server = Peer::echo_secrets("");
    config(&env, server.port);
    let outputs = at_every_verbosity(&env, &["tools", "call", "echo__fail", "{}"], 4);
    assert_eq!(lines(&outputs[0].stdout), Vec::<Value>::new());
    let stderr = stderr_of(&outputs[0]);
    assert!(
        stderr.contains("rejected tools/call `fail`: target /mcp?apikey=*** | query apikey=***"),
        "{stderr}"
    );
    assert!(stderr.contains("header x-api-key: ***"), "{stderr}");
}

#[test]
fn secrets_echoed_in_an_http_error_body_are_masked_at_every_verbosity() {
    let env = TestEnv::new();
    let server = Peer::echo_secrets("http_error");
    config(&env, server.port);
    let outputs = at_every_verbosity(&env, &["tools", "list"], 4);
    let stderr = stderr_of(&outputs[0]);
    assert!(stderr.contains("500"), "{stderr}");
}

#[test]
fn ad_hoc_bearer_and_basic_headers_are_masked_whole_and_in_parts() {
    let env = TestEnv::new();
    let server = Peer::echo_secrets("");
    let url = format!(
        "echo=http://alice:{USERINFO_PASSWORD}@127.0.0.1:{}/mcp?token={QUERY_VALUE}",
        server.port
    );
    let bearer = format!("Authorization: Bearer {BEARER}");
    let basic = format!("X-Basic: Basic {}", b64(&format!("bob:{BASIC_PASSWORD}")));
    let api_key = format!("X-Api-Key: {API_KEY}");
    let outputs = at_every_verbosity(
        &env,
        &[
            "--url",
            &url,
            "--header",
            &bearer,
            "--header",
            &basic,
            "--header",
            &api_key,
            "tools",
            "call",
            "echo__echo",
            "{}",
        ],
        0,
    );
    let result = lines(&outputs[0].stdout);
    let text = result[0]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("header authorization: ***"), "{text}");
    assert!(text.contains("credential ***"), "{text}");
}

#[test]
fn a_model_api_key_and_base_url_password_echoed_in_the_error_body_are_masked_at_every_verbosity() {
    let env = TestEnv::new();
    let server = Peer::echo_secrets("");
    let base = format!(
        "http://carol:{MODEL_URL_PASSWORD}@127.0.0.1:{}/v1",
        server.port
    );
    let outputs = at_every_verbosity(
        &env,
        &[
            "ask",
            "--provider",
            "custom",
            "--base-url",
            &base,
            "--model",
            "m",
            "hello",
        ],
        3,
    );
    let lines = lines(&outputs[0].stdout);
    let result = of_type(&lines, "result");
    let message = result[0]["error"]["message"].as_str().unwrap();
    assert!(message.contains("credential ***"), "{message}");
}
