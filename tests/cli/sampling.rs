//! Sampling: server-everything's `trigger-sampling-request` asks the client's model for a
//! completion; with `--sampling allow` fakellm answers it, by default the server is refused.

use std::process::Command;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

fn with_model(cmd: &mut assert_cmd::Command, base_url: &str) {
    cmd.env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", base_url);
}

/// The JSON the tool reports after "LLM sampling result: ".
fn sampling_result(text: &str) -> Value {
    let json = text
        .strip_prefix("LLM sampling result: \n")
        .unwrap_or_else(|| panic!("not a sampling result: {text}"));
    serde_json::from_str(json).unwrap()
}

/// What fakellm reports as usage for `body`, asked again in a conversation of its own (the
/// sampling rules do not depend on fakellm's turn counter, so the answer is the same).
fn usage_of(llm: &Peer, body: &Value, conversation: &str) -> Value {
    let output = Command::new("curl")
        .args(["-s", "-H", "content-type: application/json"])
        .args(["-H", &format!("x-fakellm-conversation-id: {conversation}")])
        .args(["-d", &body.to_string()])
        .arg(format!("{}/chat/completions", llm.url))
        .output()
        .unwrap();
    let reply: Value = serde_json::from_slice(&output.stdout).unwrap();
    reply["usage"].clone()
}

#[test]
fn with_sampling_allowed_the_tool_result_carries_the_models_answer_to_the_servers_prompt() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    let log = env.path("requests.jsonl");
    let proxy = record_proxy(&llm, &log, "");
    let mut cmd = env.cmd();
    with_model(&mut cmd, &proxy.url);
    let output = cmd
        .args([
            "--url",
            &format!("ev={}", everything.url),
            "--sampling",
            "allow",
            "-v",
        ])
        .args(["tools", "call", "ev__trigger-sampling-request"])
        .arg(r#"{"prompt": "what colour is the sky?", "maxTokens": 50}"#)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["is_error"], false);
    assert_eq!(
        sampling_result(lines[0]["text"].as_str().unwrap()),
        json!({"role": "assistant", "content": {"type": "text", "text": "Sampled: the sky is blue."},
            "model": "gpt-4o-mini", "stopReason": "endTurn"})
    );
    let bodies = logged_bodies(&log);
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        bodies[0]["body"],
        json!({"model": "gpt-4o-mini", "messages": [
            {"role": "system", "content": "You are a helpful test server."},
            {"role": "user", "content": "Resource trigger-sampling-request context: what colour is the sky?"},
        ], "temperature": 0.7, "max_tokens": 50})
    );
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(r#""type":"sampling","server":"ev","model":"gpt-4o-mini""#),
        "{stderr}"
    );
}

#[test]
fn sampling_is_refused_by_default_and_the_tool_reports_the_refusal() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    let log = env.path("requests.jsonl");
    let proxy = record_proxy(&llm, &log, "");
    let mut cmd = env.cmd();
    with_model(&mut cmd, &proxy.url);
    let output = cmd
        .args(["--url", &format!("ev={}", everything.url)])
        .args(["tools", "call", "ev__trigger-sampling-request"])
        .arg(r#"{"prompt": "what colour is the sky?"}"#)
        .output()
        .unwrap();
    let lines = lines(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    assert_eq!(lines[0]["is_error"], true);
    let text = lines[0]["text"].as_str().unwrap();
    assert!(text.contains("User rejected sampling request"), "{text}");
    assert!(logged_bodies(&log).is_empty(), "the model was not asked");
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("mcpchat: note: MCP server `ev` asked for a completion from the model (sampling); refused (allow it with --sampling allow)"),
        "{stderr}"
    );
}

#[test]
fn ask_prints_a_sampling_line_and_adds_its_usage_to_the_result() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    let log = env.path("requests.jsonl");
    let proxy = record_proxy(&llm, &log, "");
    // Allowed in the config file this time.
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: ev\n    url: {}\nllm:\n  sampling: allow\n",
            everything.url
        ),
    );
    let mut cmd = env.cmd();
    with_model(&mut cmd, &proxy.url);
    let output = cmd
        .args(["ask", "please ask the server to sample"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["tool_call", "sampling", "tool_result", "message", "result"]
    );
    let result = lines.last().unwrap();
    assert_eq!(result["answer"], "The server's model says the sky is blue.");

    // Requests: ask's first, the server's sampling request, ask's second.
    let bodies: Vec<Value> = logged_bodies(&log)
        .into_iter()
        .map(|b| b["body"].clone())
        .collect();
    assert_eq!(bodies.len(), 3);
    assert_eq!(
        bodies[1]["messages"][1]["content"],
        "Resource trigger-sampling-request context: what colour is the sky?"
    );
    let usages: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(n, body)| usage_of(&llm, body, &format!("replay-{n}")))
        .collect();
    let mut sampling = lines[1].clone();
    assert_eq!(sampling["usage"], usages[1]);
    sampling["duration_ms"] = json!(0);
    sampling["usage"] = json!(null);
    assert_eq!(
        sampling,
        json!({"type": "sampling", "server": "ev", "model": "gpt-4o-mini", "model_hints": [],
            "usage": null, "duration_ms": 0, "error": null})
    );
    let sum = |key: &str| usages.iter().map(|u| u[key].as_u64().unwrap()).sum::<u64>();
    assert_eq!(
        result["usage"],
        json!({"prompt_tokens": sum("prompt_tokens"), "completion_tokens": sum("completion_tokens"),
            "total_tokens": sum("total_tokens")})
    );
}
