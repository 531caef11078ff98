//! `ask --resource URI`: the resource's text is attached to the prompt the model sees; binary
//! contents are named, not inlined.

use pretty_assertions::assert_eq;

use crate::support::*;

#[test]
fn ask_resource_attaches_text_and_names_blobs_in_the_prompt_the_model_gets() {
    let env = TestEnv::new();
    let llm = fakellm();
    let log = env.path("requests.jsonl");
    let proxy = record_proxy(&llm, &log, "");
    let output = env
        .cmd()
        .env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", &proxy.url)
        .args(["--stdio", &format!("py={}", python_stdio_cmd()), "ask"])
        .args(["--resource", "notes://welcome", "--resource", "bytes://all"])
        .arg("what do these say #resources")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.last().unwrap()["answer"], "fallthrough");
    let bodies = logged_bodies(&log);
    assert_eq!(bodies.len(), 1);
    let messages = bodies[0]["body"]["messages"].as_array().unwrap();
    let user = messages.iter().find(|m| m["role"] == "user").unwrap();
    assert_eq!(
        user["content"],
        "what do these say #resources\n\n\
         Resource notes://welcome (from MCP server py, text/plain):\nWelcome to the Python peer.\n\n\n\
         Resource bytes://all (from MCP server py, application/octet-stream): binary contents of 256 bytes, not included."
    );
}

#[test]
fn ask_resource_that_no_server_has_is_exit_2_with_a_result_line() {
    let env = TestEnv::new();
    let llm = fakellm();
    let output = env
        .cmd()
        .env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", &llm.url)
        .args(["--stdio", &format!("py={}", python_stdio_cmd()), "ask"])
        .args(["--resource", "nope://x", "hello #missing-resource"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "result");
    assert_eq!(lines[0]["status"], "error");
    assert_eq!(lines[0]["steps"], 0);
}
