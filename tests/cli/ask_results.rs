//! What `ask` gives the model of binary and large tool results (docs/results.md): image parts
//! with `llm.images: true`, a line naming the saved file otherwise, the `--max-tool-output`
//! cap; the `tool_result` line on stdout always carries the whole result. The model is
//! tests/fakes/fault_llm.py `quirks` (calls FAULT_LLM_TOOL, then answers), which logs every
//! request; the tools are tests/fakes/hostile_results.py.

use base64::Engine;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// `ask` with a config of the fake server and `llm:` settings; the stdout lines and the
/// second model request (the one with the tool result).
fn ask_with(env: &TestEnv, tool: &str, llm_settings: &str, extra: &[&str]) -> (Vec<Value>, Value) {
    let config = env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: r\n    command: python3\n    args: [{}]\nllm:\n{llm_settings}",
            repo().join("tests/fakes/hostile_results.py").display()
        ),
    );
    let log = env.path("llm.jsonl");
    let llm = fault_llm(
        "quirks",
        &[
            ("FAULT_LLM_LOG", log.to_str().unwrap()),
            ("FAULT_LLM_TOOL", &format!("r__{tool}")),
            ("FAULT_LLM_ARGS", "{}"),
        ],
    );
    let output = ask(env, &llm)
        .args(["--config", config.to_str().unwrap()])
        .args(extra)
        .arg("show me")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let bodies = logged_bodies(&log);
    assert_eq!(bodies.len(), 2);
    (lines(&output.stdout), bodies[1]["body"].clone())
}

/// The messages after the assistant's tool call: what the model was given of the result.
fn after_the_call(request: &Value) -> Vec<Value> {
    let messages = request["messages"].as_array().unwrap();
    let call = messages
        .iter()
        .position(|m| m.get("tool_calls").is_some())
        .unwrap();
    messages[call + 1..]
        .iter()
        .map(|m| {
            let mut m = m.clone();
            if let Some(id) = m.get_mut("tool_call_id") {
                *id = json!("ID");
            }
            m
        })
        .collect()
}

fn the_png(lines: &[Value]) -> String {
    of_type(lines, "tool_result")[0]["content"][1]["data"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn with_llm_images_the_model_gets_an_image_part_and_stdout_the_whole_result() {
    let env = TestEnv::new();
    let (lines, request) = ask_with(&env, "shot", "  images: true\n", &[]);
    let png = the_png(&lines);
    assert!(
        base64::engine::general_purpose::STANDARD
            .decode(&png)
            .unwrap()
            .starts_with(b"\x89PNG")
    );
    let id = of_type(&lines, "tool_call")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        after_the_call(&request),
        vec![
            json!({"role": "tool", "tool_call_id": "ID",
                   "content": "before\n[image 1: sent to you as an image]\nafter"}),
            json!({"role": "user", "content": [
                {"type": "text", "text": format!("The images tool call {id} returned:")},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}")}},
            ]}),
        ]
    );
}

#[test]
fn without_llm_images_the_model_reads_where_the_image_was_saved() {
    let env = TestEnv::new();
    let (lines, request) = ask_with(&env, "shot", "  images: false\n", &["--save-dir", "saved"]);
    let result = of_type(&lines, "tool_result")[0];
    let path = result["content"][1]["path"].as_str().unwrap();
    assert!(path.ends_with(".png"), "{path}");
    assert_eq!(
        after_the_call(&request),
        vec![json!({"role": "tool", "tool_call_id": "ID",
            "content": format!("before\n[image saved to {path}: image/png, 70 bytes]\nafter")})]
    );
}

#[test]
fn the_model_gets_the_capped_text_and_stdout_the_whole() {
    let env = TestEnv::new();
    let (lines, request) = ask_with(
        &env,
        "big",
        "  images: true\n",
        &["--max-tool-output", "100"],
    );
    let whole = format!("é{}", "x".repeat(4999));
    let result = of_type(&lines, "tool_result")[0];
    assert_eq!(result["text"], json!(whole));
    assert_eq!(result["content"], json!([{"type": "text", "text": whole}]));
    let sent = format!("{whole}\nstructuredContent: {}", json!({"text": whole}));
    assert_eq!(
        after_the_call(&request),
        vec![
            json!({"role": "tool", "tool_call_id": "ID", "content": format!(
                "é{}\n[truncated by mcpchat: showing 100 of {} bytes]",
                "x".repeat(98),
                sent.len()
            )})
        ]
    );
}

#[test]
fn llm_images_must_be_a_boolean() {
    let env = TestEnv::new();
    let config = env.write("mcp_servers.yaml", "servers: []\nllm:\n  images: maybe\n");
    let output = env
        .cmd()
        .args(["--config", config.to_str().unwrap(), "tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        format!(
            "mcpchat: error: {}:3:11: llm.images: invalid type: string \"maybe\", expected a boolean\n",
            config.display()
        )
    );
}

#[test]
fn a_stored_conversation_keeps_the_text_and_leaves_the_images_out() {
    let env = TestEnv::new();
    let (_, request) = ask_with(&env, "shot", "  images: true\n", &["--session", "pics"]);
    assert_eq!(after_the_call(&request).len(), 2, "the model got the image");
    let output = env.cmd().args(["sessions", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let sessions = lines(&output.stdout);
    assert_eq!(sessions[0]["turns"], 1);
    let stored = std::fs::read_to_string(sessions[0]["path"].as_str().unwrap()).unwrap();
    assert!(!stored.contains("image_url"), "{stored}");
    assert!(
        stored.contains("[image 1: sent to you as an image]"),
        "{stored}"
    );
}
