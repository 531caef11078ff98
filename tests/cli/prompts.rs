//! `prompts list|get`, `complete`, `ask --prompt` and `--log-level` against server-everything
//! and the Python SDK server.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

fn ok(output: &std::process::Output) -> Vec<Value> {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        stderr_of(output)
    );
    lines(&output.stdout)
}

/// The JSON-RPC methods a recording proxy saw, in order.
fn methods(log: &std::path::Path) -> Vec<String> {
    logged_bodies(log)
        .iter()
        .filter_map(|e| e["body"]["method"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn lists_the_prompts_of_two_servers_with_their_arguments() {
    let env = TestEnv::new();
    let everything = everything_http();
    let python = python_http(true);
    let output = env
        .cmd()
        .args(["--url", &format!("ev={}", everything.url)])
        .args(["--url", &format!("py={}", python.url)])
        .args(["prompts", "list"])
        .output()
        .unwrap();
    let lines = ok(&output);
    let names: Vec<&str> = lines.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        vec![
            "ev__simple-prompt",
            "ev__args-prompt",
            "ev__completable-prompt",
            "ev__resource-prompt",
            "py__review"
        ]
    );
    assert_eq!(
        lines[1],
        json!({
            "type": "prompt", "server": "ev", "name": "ev__args-prompt", "prompt": "args-prompt",
            "title": "Arguments Prompt",
            "description": "A prompt with two arguments, one required and one optional",
            "arguments": [
                {"name": "city", "description": "Name of the city", "required": true},
                {"name": "state", "description": null, "required": false}
            ]
        })
    );
    assert_eq!(lines[4]["server"], "py");
    assert_eq!(lines[4]["prompt"], "review");
    assert_eq!(
        lines[4]["description"],
        "Ask for a review of a piece of code."
    );
    let arguments: Vec<(&str, bool)> = lines[4]["arguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["required"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(arguments, vec![("code", true), ("language", false)]);
}

#[test]
fn gets_a_prompt_with_its_messages_as_sent_and_the_text_joined() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("ev={}", everything_stdio_cmd())])
        .args([
            "prompts",
            "get",
            "args-prompt",
            "-a",
            "city=Paris",
            "-a",
            "state=Texas",
        ])
        .output()
        .unwrap();
    let lines = ok(&output);
    assert_eq!(
        lines,
        vec![json!({
            "type": "prompt_result", "server": "ev", "name": "ev__args-prompt",
            "prompt": "args-prompt", "description": null,
            "messages": [{"role": "user", "content": {"type": "text", "text": "What's weather in Paris, Texas?"}}],
            "text": "What's weather in Paris, Texas?"
        })]
    );
}

#[test]
fn gets_the_python_servers_prompt_with_arguments_from_json_on_stdin() {
    let env = TestEnv::new();
    let python = python_http(true);
    let output = env
        .cmd()
        .args(["--url", &format!("py={}", python.url)])
        .args(["prompts", "get", "py__review", "-", "-a", "language=rust"])
        .write_stdin(r#"{"code": "fn main() {}", "language": "c"}"#)
        .output()
        .unwrap();
    let lines = ok(&output);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0]["text"],
        "Please review this rust code:\nfn main() {}"
    );
    assert_eq!(lines[0]["messages"][0]["role"], "user");
}

#[test]
fn a_missing_required_argument_is_exit_2_before_any_prompts_get() {
    let env = TestEnv::new();
    let everything = everything_http();
    let log = env.path("requests.jsonl");
    let proxy = record_proxy(&everything, &log, "");
    let output = env
        .cmd()
        .args(["--url", &format!("ev={}", proxy.base())])
        .args(["prompts", "get", "ev__args-prompt", "-a", "state=Texas"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(output.stdout.is_empty());
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("mcpchat: error: prompt `ev__args-prompt` needs the argument `city`"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: mcpchat prompts get ev__args-prompt -a city=..."));
    let methods = methods(&log);
    assert!(methods.contains(&"prompts/list".to_string()), "{methods:?}");
    assert!(!methods.contains(&"prompts/get".to_string()), "{methods:?}");
}

#[test]
fn an_unknown_prompt_is_exit_2_with_a_suggestion() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("ev={}", everything_stdio_cmd())])
        .args(["prompts", "get", "ev__args-promt"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("MCP server `ev` has no prompt `args-promt`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `ev__args-prompt`?"),
        "{stderr}"
    );
}

#[test]
fn completes_a_department_then_names_given_the_department_as_context() {
    let env = TestEnv::new();
    let everything = everything_http();
    let url = format!("ev={}", everything.url);
    let complete = |args: &[&str]| {
        let output = env
            .cmd()
            .args(["--url", &url, "complete"])
            .args(args)
            .output()
            .unwrap();
        ok(&output)
    };
    assert_eq!(
        complete(&["ev__completable-prompt", "department", "S"]),
        vec![json!({
            "type": "completion", "server": "ev", "name": "ev__completable-prompt",
            "template": null, "argument": "department", "value": "S",
            "values": ["Sales", "Support"], "total": 2, "has_more": false
        })]
    );
    let names = complete(&[
        "ev__completable-prompt",
        "name",
        "",
        "-a",
        "department=Engineering",
    ]);
    assert_eq!(names[0]["values"], json!(["Alice", "Bob", "Charlie"]));
    let none = complete(&["ev__completable-prompt", "name", ""]);
    assert_eq!(none[0]["values"], json!([]));
}

#[test]
fn completes_a_resource_template_variable() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("ev={}", everything_stdio_cmd())])
        .args(["complete", "ev", "resourceId", "3"])
        .args(["--template", "demo://resource/dynamic/text/{resourceId}"])
        .output()
        .unwrap();
    let lines = ok(&output);
    assert_eq!(lines[0]["name"], Value::Null);
    assert_eq!(
        lines[0]["template"],
        "demo://resource/dynamic/text/{resourceId}"
    );
    assert_eq!(lines[0]["argument"], "resourceId");
    assert_eq!(lines[0]["values"], json!(["3"]));
}

#[test]
fn log_level_is_sent_once_to_a_server_that_supports_logging() {
    let env = TestEnv::new();
    let everything = everything_http();
    let log = env.path("requests.jsonl");
    let proxy = record_proxy(&everything, &log, "");
    let output = env
        .cmd()
        .args(["--url", &format!("ev={}", proxy.base())])
        .args(["--log-level", "error", "prompts", "list"])
        .output()
        .unwrap();
    ok(&output);
    let set_level: Vec<Value> = logged_bodies(&log)
        .into_iter()
        .filter(|e| e["body"]["method"] == "logging/setLevel")
        .map(|e| e["body"]["params"]["level"].clone())
        .collect();
    assert_eq!(set_level, vec![json!("error")]);
}

#[test]
fn server_log_messages_at_the_chosen_level_reach_stderr_with_v() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("ev={}", everything_stdio_cmd())])
        .args(["-v", "--log-level", "debug"])
        .args(["tools", "call", "ev__toggle-simulated-logging"])
        .output()
        .unwrap();
    ok(&output);
    let stderr = stderr_of(&output);
    // The tool sends one message of a random level at once; at `debug` every level passes.
    assert!(
        stderr.contains("-level message") || stderr.contains("level-message"),
        "{stderr}"
    );
}

#[test]
fn ask_starts_the_conversation_from_an_mcp_prompts_messages() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    let log = env.path("model.jsonl");
    let proxy = record_proxy(&llm, &log, "");
    let output = env
        .cmd()
        .env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", &proxy.url)
        .args(["--url", &format!("ev={}", everything.url)])
        .args(["ask", "--prompt", "ev__args-prompt", "-a", "city=Lyon"])
        .output()
        .unwrap();
    let lines = ok(&output);
    let result = lines.last().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["answer"], "Sunny in Lyon.");
    let bodies = logged_bodies(&log);
    assert_eq!(
        bodies[0]["body"]["messages"],
        json!([{"role": "user", "content": "What's weather in Lyon?"}])
    );
}

// The close runs alongside the model request, but no request log orders MCP and model
// requests against each other (no timed assertions): this checks that both sessions are
// still ended, in the prompt session's exact request order.
#[test]
fn ask_with_a_prompt_still_deletes_the_prompts_session_and_the_tools_session() {
    let env = TestEnv::new();
    let everything = everything_http();
    let mcp_log = env.path("requests.jsonl");
    let mcp = mcp_record_proxy(&everything, &mcp_log);
    let llm = fakellm();
    let output = env
        .cmd()
        .env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", &llm.url)
        .args(["--url", &format!("ev={}", mcp.url)])
        .args(["ask", "--prompt", "ev__args-prompt", "-a", "city=Lyon"])
        .output()
        .unwrap();
    let lines = ok(&output);
    assert_eq!(lines.last().unwrap()["answer"], "Sunny in Lyon.");
    // The prompt's own session comes first; its DELETE then goes out while the tools'
    // session is opened, so only the multiset of what follows is fixed, not its order.
    let mut seen = requests(&mcp_log);
    let mut after_get = seen.split_off(5);
    after_get.sort();
    assert_eq!(
        seen,
        [
            "POST server/discover",
            "POST initialize",
            "POST notifications/initialized",
            "POST prompts/list",
            "POST prompts/get",
        ]
    );
    assert_eq!(
        after_get,
        [
            "DELETE",
            "DELETE",
            "POST initialize",
            "POST notifications/initialized",
            "POST tools/list",
        ]
    );
}
