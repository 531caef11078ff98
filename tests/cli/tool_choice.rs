//! `ask --tool-choice`: sent as the API's `tool_choice` on the first request, `auto` after;
//! a provider that rejects `required` gets one retry with `auto`.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::sessions::{answered, ask};
use crate::support::*;

#[test]
fn tool_choice_required_goes_on_the_first_request_and_auto_after() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    let log = env.path("requests.jsonl");
    let proxy = record_proxy(&llm, &log, "");
    answered(ask(&env, &proxy.url).args([
        "--url",
        &format!("ev={}", everything.url),
        "--tool-choice",
        "required",
        "What can you add?",
    ]));
    let choices: Vec<Value> = logged_bodies(&log)
        .iter()
        .map(|b| b["body"]["tool_choice"].clone())
        .collect();
    assert_eq!(choices, vec![json!("required"), json!("auto")]);
}

#[test]
fn a_provider_that_rejects_required_gets_one_retry_with_auto() {
    let env = TestEnv::new();
    let log = env.path("requests.jsonl");
    let llm = fault_llm("no_required", &[("FAULT_LLM_LOG", log.to_str().unwrap())]);
    let output = ask(&env, &llm.url)
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["--tool-choice", "required", "hello"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout).last().unwrap()["answer"], "auto ok");
    let choices: Vec<Value> = logged_bodies(&log)
        .iter()
        .map(|b| b["body"]["tool_choice"].clone())
        .collect();
    assert_eq!(choices, vec![json!("required"), json!("auto")]);
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("mcpchat: note: the model API rejected tool_choice \"required\" (HTTP 400"),
        "{stderr}"
    );
}
