//! `ask --resource URI`: the resource's text is attached to the prompt the model sees; binary
//! contents are named, not inlined.

use pretty_assertions::assert_eq;

use crate::lists_cache::plant_cached_resource;
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

#[test]
fn ask_resource_that_a_stale_cached_list_places_on_the_wrong_server_is_read_from_the_right_one() {
    let env = TestEnv::new();
    let everything = everything_http();
    let mcp_log = env.path("mcp.jsonl");
    let ev = mcp_record_proxy(&everything, &mcp_log);
    let python = python_http_with(0, &["--stateless-json"]);
    let llm = fakellm();
    let ask = |model_log: &str| {
        let model = record_proxy(&llm, &env.path(model_log), "");
        let output = env
            .cmd()
            .env("OPENAI_API_KEY", "sk-test-key-123456")
            .env("OPENAI_BASE_URL", &model.url)
            .args(["--url", &format!("ev={}", ev.url)])
            .args(["--url", &format!("py={}", python.url), "ask"])
            .args(["--resource", "notes://welcome", "what does it say #moved"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        let bodies = logged_bodies(&env.path(model_log));
        let messages = bodies[0]["body"]["messages"].as_array().unwrap().clone();
        let user = messages.into_iter().find(|m| m["role"] == "user").unwrap();
        user["content"].as_str().unwrap().to_string()
    };
    let attached = "what does it say #moved\n\n\
         Resource notes://welcome (from MCP server py, text/plain):\nWelcome to the Python peer.\n";
    assert_eq!(ask("cold.jsonl"), attached);
    requests(&mcp_log);
    // server-everything's cached list now claims the note (config order puts it first).
    plant_cached_resource(&env, "ev", "notes://welcome");
    assert_eq!(ask("warm.jsonl"), attached);
    let seen = requests(&mcp_log);
    let reads: Vec<&String> = seen.iter().filter(|r| r.contains("resources/")).collect();
    assert_eq!(
        reads,
        [
            "POST resources/read",
            "POST resources/list",
            "POST resources/templates/list"
        ]
    );
}
