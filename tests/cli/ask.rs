//! `ask` against fakellm (PyPI) and real MCP peers; in-repo fakes for model API faults.
//! Each test runs its own fakellm, so conversation turns never mix between tests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Output;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// `mcpchat ask` with the openai provider pointed at `base_url`.
fn ask(env: &TestEnv, base_url: &str) -> assert_cmd::Command {
    let mut cmd = env.cmd();
    cmd.env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", base_url)
        .arg("ask");
    cmd
}

/// What most tests here set up: a test home, a model API behind a recording proxy (what it was
/// sent is in [`Asking::bodies`]) and the MCP servers the command gets with `--url`.
struct Asking {
    env: TestEnv,
    log: PathBuf,
    proxy: Peer,
    servers: Vec<String>,
    /// Kept alive for the test's length: dropping a peer ends it.
    _peers: Vec<Peer>,
}

impl Asking {
    /// A fresh fakellm and server-everything as `ev`.
    fn everything() -> Asking {
        Asking::with_model(fakellm(), "").serving("ev", everything_http())
    }

    /// `llm` behind a proxy that answers its first requests with `fail_first`'s statuses
    /// (e.g. "429,503"; "" for none), and no server yet.
    fn with_model(llm: Peer, fail_first: &str) -> Asking {
        let env = TestEnv::new();
        let log = env.path("requests.jsonl");
        let proxy = record_proxy(&llm, &log, fail_first);
        Asking {
            env,
            log,
            proxy,
            servers: Vec::new(),
            _peers: vec![llm],
        }
    }

    /// The MCP server `peer`, offered as `name`.
    fn serving(mut self, name: &str, peer: Peer) -> Asking {
        self.servers.push(format!("{name}={}", peer.url));
        self._peers.push(peer);
        self
    }

    /// `mcpchat ask --url NAME=URL... ARGS...`.
    fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = ask(&self.env, &self.proxy.url);
        for server in &self.servers {
            cmd.args(["--url", server]);
        }
        cmd.args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// The stdout lines of a run that must exit 0.
    fn succeeds(&self, args: &[&str]) -> Vec<Value> {
        let output = self.run(args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        lines(&output.stdout)
    }

    /// What the model API was sent since the last call, in order.
    fn bodies(&self) -> Vec<Value> {
        let bodies = logged_bodies(&self.log);
        std::fs::write(&self.log, "").unwrap();
        bodies
    }

    /// The names of the tools the first request of the last run offered, sorted.
    fn offered(&self) -> Vec<String> {
        let mut names: Vec<String> = self.bodies()[0]["body"]["tools"]
            .as_array()
            .map(|tools| {
                tools
                    .iter()
                    .map(|t| t["function"]["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

fn results(lines: &[Value]) -> Vec<&Value> {
    of_type(lines, "result")
}

fn the_result(lines: &[Value]) -> &Value {
    let results = results(lines);
    assert_eq!(results.len(), 1, "exactly one result line: {lines:?}");
    assert_eq!(
        lines.last().unwrap()["type"],
        "result",
        "the result line comes last"
    );
    results[0]
}

#[test]
fn one_tool_call_then_an_answer_with_the_exact_request_bodies() {
    let asking = Asking::everything();
    let output = asking.run(&["please sum two and three"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["tool_call", "tool_result", "message", "result"]);
    assert_eq!(lines[0]["name"], "ev__get-sum");
    assert_eq!(lines[0]["server"], "ev");
    assert_eq!(lines[0]["tool"], "get-sum");
    assert_eq!(lines[0]["arguments"], json!({"a": 2, "b": 3}));
    assert_eq!(lines[1]["id"], lines[0]["id"]);
    assert_eq!(lines[1]["text"], "The sum of 2 and 3 is 5.");
    let result = the_result(&lines);
    assert_eq!(result["status"], "success");
    assert_eq!(result["answer"], "The sum is 5.");
    assert_eq!(result["steps"], 2);
    assert_eq!(result["tool_calls"], 1);
    assert_eq!(result["model"], "gpt-4o-mini");
    assert_eq!(result["error"], Value::Null);
    assert!(result["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let bodies = asking.bodies();
    assert_eq!(bodies.len(), 2);
    let first = &bodies[0]["body"];
    assert_eq!(first["model"], "gpt-4o-mini");
    assert_eq!(
        first["messages"],
        json!([{"role": "user", "content": "please sum two and three"}])
    );
    let names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"ev__get-sum") && names.contains(&"ev__echo"),
        "{names:?}"
    );
    assert_eq!(
        bodies[0]["headers"]["authorization"],
        "Bearer sk-test-key-123456"
    );
    let second = &bodies[1]["body"]["messages"];
    let call_id = lines[0]["id"].as_str().unwrap();
    assert_eq!(second[1]["role"], "assistant");
    assert_eq!(
        second[1]["content"], "",
        "tool-call turns are sent with content \"\", not null"
    );
    assert_eq!(second[1]["tool_calls"][0]["id"], call_id);
    assert_eq!(
        second[1]["tool_calls"][0]["function"]["name"],
        "ev__get-sum"
    );
    assert_eq!(
        second[2],
        json!({"role": "tool", "tool_call_id": call_id, "content": "The sum of 2 and 3 is 5."})
    );
    // The API key is never printed.
    assert!(!stderr_of(&output).contains("sk-test-key-123456"));
    assert!(!String::from_utf8_lossy(&output.stdout).contains("sk-test-key-123456"));
}

#[test]
fn tool_calls_of_one_turn_run_concurrently() {
    let lines = Asking::everything().succeeds(&["run two tools at once"]);
    let calls = of_type(&lines, "tool_call");
    let results = of_type(&lines, "tool_result");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["arguments"]["duration"], 2);
    assert_eq!(calls[1]["arguments"]["duration"], 1);
    // The 1-second call was requested second but finishes first: only possible if both ran
    // at the same time. (Sequential execution would print the 2-second result first.)
    let order: Vec<&Value> = results.iter().map(|r| &r["id"]).collect();
    assert_eq!(order, vec![&calls[1]["id"], &calls[0]["id"]]);
    // Both calls were under way before either finished.
    let position = |kind: &str, id: &Value| {
        lines
            .iter()
            .position(|l| l["type"] == kind && &l["id"] == id)
            .unwrap()
    };
    assert!(position("tool_call", &calls[1]["id"]) < position("tool_result", &calls[1]["id"]));
    assert!(position("tool_call", &calls[1]["id"]) < position("tool_result", &calls[0]["id"]));
    assert_eq!(the_result(&lines)["answer"], "Both finished.");
}

#[test]
fn multi_step_chains_feed_each_result_back() {
    let lines = Asking::everything().succeeds(&["chain steps please"]);
    let texts: Vec<&str> = of_type(&lines, "tool_result")
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        vec!["The sum of 1 and 2 is 3.", "The sum of 3 and 4 is 7."]
    );
    let result = the_result(&lines);
    assert_eq!(result["answer"], "Chain done: 3 then 7.");
    assert_eq!(result["steps"], 3);
    assert_eq!(result["tool_calls"], 2);
}

#[test]
fn a_schema_violation_goes_back_to_the_model_without_a_server_call() {
    let asking = Asking::everything();
    let lines = asking.succeeds(&["bad arguments test"]);
    let result = of_type(&lines, "tool_result")[0];
    assert_eq!(result["is_error"], true);
    assert_eq!(result["server"], "ev");
    let text = result["text"].as_str().unwrap();
    assert!(
        text.starts_with("invalid arguments, no call was made"),
        "{text}"
    );
    assert!(
        text.contains("/a: \"two\" is not of type \"number\""),
        "{text}"
    );
    let bodies = asking.bodies();
    let tool_message = &bodies[1]["body"]["messages"][2];
    assert_eq!(tool_message["role"], "tool");
    assert!(
        tool_message["content"]
            .as_str()
            .unwrap()
            .starts_with("[tool error] invalid arguments"),
        "{tool_message}"
    );
    assert_eq!(the_result(&lines)["answer"], "I fixed nothing.");
}

#[test]
fn an_is_error_result_goes_back_to_the_model_marked() {
    let asking = Asking::with_model(fakellm(), "").serving("py", python_http(true));
    let lines = asking.succeeds(&["tool error please"]);
    assert_eq!(of_type(&lines, "tool_result")[0]["is_error"], true);
    let bodies = asking.bodies();
    assert_eq!(
        bodies[1]["body"]["messages"][2]["content"],
        "[tool error] this tool always fails"
    );
    assert_eq!(the_result(&lines)["answer"], "The tool failed.");
}

#[test]
fn max_steps_ends_with_exit_1_and_status_max_steps() {
    let output = Asking::everything().run(&["--max-steps", "3", "loop forever please"]);
    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output.stdout);
    let result = the_result(&lines);
    assert_eq!(result["status"], "max_steps");
    assert_eq!(result["steps"], 3);
    assert_eq!(
        result["tool_calls"], 2,
        "the third turn's calls are not run"
    );
    assert_eq!(result["error"]["kind"], "max_steps");
    assert_eq!(of_type(&lines, "tool_result").len(), 2);
    assert!(stderr_of(&output).contains("hint: raise the limit with --max-steps N"));
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    let asking = Asking::with_model(fakellm(), "429,503").serving("ev", everything_http());
    let lines = asking.succeeds(&["please sum two and three"]);
    assert_eq!(the_result(&lines)["answer"], "The sum is 5.");
    let statuses: Vec<Value> = asking
        .bodies()
        .iter()
        .map(|e| e.get("injected_status").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        statuses,
        vec![json!(429), json!(503), Value::Null, Value::Null]
    );
}

#[test]
fn retries_are_bounded() {
    let asking = Asking::with_model(fakellm(), "503,503,503");
    let output = asking.run(&["--max-retries", "1", "what tools do you have"]);
    assert_eq!(output.status.code(), Some(1));
    let result = the_result(&lines(&output.stdout)).clone();
    assert_eq!(result["error"]["kind"], "model_error");
    assert!(
        result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 503"),
        "{result}"
    );
    assert_eq!(asking.bodies().len(), 2, "one try and one retry");
    assert_eq!(result["steps"], 1, "retries are one step");
}

#[test]
fn a_401_from_the_model_api_exits_3() {
    let env = TestEnv::new();
    let llm = fault_llm("unauthorized", &[]);
    let output = ask(&env, &llm.url).arg("hello").output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let result = the_result(&lines(&output.stdout)).clone();
    assert_eq!(result["status"], "error");
    assert_eq!(result["error"]["kind"], "auth");
    assert_eq!(result["error"]["exit_code"], 3);
    assert_eq!(
        result["steps"], 1,
        "a failed model request counts as a step"
    );
    assert!(
        stderr_of(&output).contains("hint: check OPENAI_API_KEY"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn a_missing_api_key_exits_3_with_a_hint_and_a_result_line() {
    let env = TestEnv::new();
    let output = env.cmd().args(["ask", "hello"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let result = the_result(&lines(&output.stdout)).clone();
    assert_eq!(result["error"]["kind"], "auth");
    assert!(stderr_of(&output).contains("hint: export OPENAI_API_KEY=..."));
}

#[test]
fn streaming_prints_deltas_and_assembles_tool_call_deltas() {
    let asking = Asking::everything();
    let lines = asking.succeeds(&["--stream", "stream tools now"]);
    let call = of_type(&lines, "tool_call")[0];
    assert_eq!(call["arguments"], json!({"a": 2, "b": 3}));
    assert_eq!(
        of_type(&lines, "tool_result")[0]["text"],
        "The sum of 2 and 3 is 5."
    );
    let streamed: String = of_type(&lines, "delta")
        .iter()
        .map(|d| d["content"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, "Streamed sum is 5.");
    assert_eq!(
        of_type(&lines, "message")[0]["content"],
        "Streamed sum is 5."
    );
    assert_eq!(the_result(&lines)["answer"], "Streamed sum is 5.");
    let bodies = asking.bodies();
    assert!(bodies.iter().all(|b| b["body"]["stream"] == true));
    assert_eq!(
        bodies[1]["body"]["messages"][1]["tool_calls"][0]["function"]["arguments"],
        "{\"a\": 2, \"b\": 3}"
    );
}

#[test]
fn the_prompt_can_come_from_stdin() {
    let env = TestEnv::new();
    let llm = fakellm();
    for args in [vec!["-"], vec![]] {
        let output = ask(&env, &llm.url)
            .args(&args)
            .write_stdin("What tools do you have available?\n")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert_eq!(
            the_result(&lines(&output.stdout))["answer"],
            "I have tools."
        );
    }
}

#[test]
fn text_format_prints_only_the_answer() {
    let output = Asking::everything().run(&["--format", "text", "please sum two and three"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "The sum is 5.\n");
}

#[test]
fn allow_and_deny_tool_globs_decide_what_the_model_sees() {
    let asking = Asking::everything();
    let offered = |extra: &[&str]| -> Vec<String> {
        asking.succeeds(&[extra, &["what tools do you have"]].concat());
        asking.offered()
    };
    assert_eq!(
        offered(&["--allow-tool", "ev__echo", "--allow-tool", "ev__get-sum"]),
        vec!["ev__echo", "ev__get-sum"]
    );
    let denied = offered(&["--deny-tool", "ev__get-*"]);
    assert!(denied.contains(&"ev__echo".to_string()), "{denied:?}");
    assert!(
        !denied.iter().any(|n| n.starts_with("ev__get-")),
        "{denied:?}"
    );
    // Denying everything sends no `tools` at all.
    assert_eq!(offered(&["--deny-tool", "*"]), Vec::<String>::new());
}

#[test]
fn provider_quirks_are_absorbed() {
    let env = TestEnv::new();
    let log = env.path("quirks.jsonl");
    let llm = fault_llm("quirks", &[("FAULT_LLM_LOG", log.to_str().unwrap())]);
    let output = ask(&env, &llm.url)
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .arg("add please")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    // No id from the provider: one is generated and used consistently.
    let call = of_type(&lines, "tool_call")[0];
    let id = call["id"].as_str().unwrap();
    assert!(!id.is_empty());
    assert_eq!(
        call["arguments"],
        json!({"a": 2, "b": 3}),
        "object arguments accepted"
    );
    // The model saw the text part and the structured content.
    assert_eq!(
        the_result(&lines)["answer"],
        "The answer is 5\nstructuredContent: {\"sum\":5}"
    );
    let bodies = logged_bodies(&log);
    let assistant = &bodies[1]["body"]["messages"][1];
    assert_eq!(assistant["content"], "");
    assert_eq!(assistant["tool_calls"][0]["id"], id);
    assert_eq!(
        assistant["tool_calls"][0]["function"]["arguments"],
        "{\"a\":2,\"b\":3}"
    );
    assert_eq!(bodies[1]["body"]["messages"][2]["tool_call_id"], id);
}

#[test]
fn a_server_that_cannot_stream_with_tools_gets_one_non_streaming_retry() {
    let env = TestEnv::new();
    let log = env.path("nostream.jsonl");
    let llm = fault_llm(
        "no_stream_with_tools",
        &[("FAULT_LLM_LOG", log.to_str().unwrap())],
    );
    let output = ask(&env, &llm.url)
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd()), "--stream"])
        .arg("hello")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(the_result(&lines(&output.stdout))["answer"], "fallback ok");
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("mcpchat: note: the model API refused streaming with tools (HTTP 400"),
        "{stderr}"
    );
    let streams: Vec<Value> = logged_bodies(&log)
        .iter()
        .map(|b| b["body"].get("stream").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(streams, vec![json!(true), Value::Null]);
}

#[test]
fn model_api_faults_end_with_a_result_line_and_the_right_exit_code() {
    let env = TestEnv::new();
    let cases: Vec<(&str, &[&str], i32, &str)> = vec![
        ("malformed", &[], 4, "protocol"),
        ("cut_stream", &["--stream"], 4, "protocol"),
        ("hang", &["--llm-timeout", "1"], 4, "timeout"),
    ];
    let mut seen = HashMap::new();
    for (mode, extra, code, kind) in cases {
        let llm = fault_llm(mode, &[]);
        let output = ask(&env, &llm.url)
            .args(extra)
            .arg("hello")
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "{mode}: {}",
            stderr_of(&output)
        );
        let result = the_result(&lines(&output.stdout)).clone();
        assert_eq!(result["status"], "error", "{mode}");
        assert_eq!(result["error"]["kind"], kind, "{mode}: {result}");
        seen.insert(mode, stderr_of(&output));
    }
    assert!(
        seen["hang"].contains("timed out after 1s waiting for the model API"),
        "{}",
        seen["hang"]
    );
    assert!(
        seen["cut_stream"].contains("stream"),
        "{}",
        seen["cut_stream"]
    );
}

#[test]
fn an_unreachable_model_api_exits_4() {
    let env = TestEnv::new();
    let output = ask(&env, &format!("http://127.0.0.1:{}/v1", closed_port()))
        .args(["--max-retries", "0"])
        .arg("hello")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert_eq!(
        the_result(&lines(&output.stdout))["error"]["kind"],
        "unreachable"
    );
}

#[test]
fn a_config_error_still_gives_a_result_line() {
    let env = TestEnv::new();
    env.write("mcp_servers.yaml", "servers:\n  - nme: x\n");
    let output = ask(&env, "http://127.0.0.1:9/v1")
        .arg("hello")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        the_result(&lines(&output.stdout))["error"]["kind"],
        "config"
    );
}

#[test]
fn switching_provider_does_not_reuse_the_files_key_model_or_url() {
    let env = TestEnv::new();
    let llm = fakellm();
    let log = env.path("requests.jsonl");
    let proxy = record_proxy(&llm, &log, "");
    env.write(
        "mcp_servers.yaml",
        "llm:\n  provider: openai\n  model: gpt-4o-mini\n  base_url: http://127.0.0.1:9/v1\n  api_key_env: OPENAI_API_KEY\n",
    );
    let output = env
        .cmd()
        .env("OPENAI_API_KEY", "sk-should-not-travel")
        .env("LMSTUDIO_BASE_URL", &proxy.url)
        .args(["ask", "--provider", "lmstudio", "what tools do you have"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let bodies = logged_bodies(&log);
    assert_eq!(bodies[0]["body"]["model"], "local-model");
    assert_eq!(bodies[0]["headers"].get("authorization"), None);
}

#[test]
fn ctrl_c_during_ask_still_prints_a_result_line() {
    use std::io::Read;
    let env = TestEnv::new();
    let log = env.path("hang.jsonl");
    let llm = fault_llm("hang", &[("FAULT_LLM_LOG", log.to_str().unwrap())]);
    let mut child = env
        .std_cmd()
        .env("OPENAI_API_KEY", "k")
        .env("OPENAI_BASE_URL", &llm.url)
        .args(["ask", "hello"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the request is at the model API.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(&log).unwrap_or_default().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never arrived"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    assert_eq!(status.code(), Some(130));
    let lines = lines(&stdout);
    let result = the_result(&lines);
    assert_eq!(result["status"], "error");
    assert_eq!(result["error"]["kind"], "interrupted");
    assert_eq!(result["error"]["exit_code"], 130);
}

#[test]
fn text_format_with_stream_prints_the_answer_as_it_comes() {
    let env = TestEnv::new();
    let llm = fakellm();
    let output = ask(&env, &llm.url)
        .args(["--stream", "--format", "text", "stream me now"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Streaming works fine.\n"
    );
}
