//! Memory a peer controls: a stdio server's stderr without newlines, a model API's reply over
//! its cap, a reply under the cap made of millions of tiny elements, and `--batch --jobs` over
//! the batch's budget (tests/fakes/hostile_memory.py).

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

const MIB: usize = 1 << 20;

fn hostile(env: &TestEnv) -> assert_cmd::Command {
    let mut cmd = env.cmd();
    cmd.args(["--stdio", &format!("h={}", hostile_memory_stdio_cmd())]);
    cmd
}

#[test]
fn a_64_mib_stderr_line_without_a_newline_does_not_stop_the_call() {
    let env = TestEnv::new();
    let output = hostile(&env)
        .args(["tools", "call", "h__flood"])
        .arg(json!({"bytes": 64 * MIB}).to_string())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["text"], "flooded");
    assert_eq!(stderr_of(&output), "");
}

#[test]
fn a_64_mib_stderr_line_is_kept_and_forwarded_cut_at_8_kib_with_a_marker() {
    let env = TestEnv::new();
    let output = hostile(&env)
        .args(["-v", "tools", "call", "h__flood_and_die"])
        .arg(json!({"bytes": 64 * MIB}).to_string())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(output.stdout.is_empty());
    let cut = format!("{}… [cut: {} bytes]", "x".repeat(8192), 64 * MIB - 8192);
    let stderr = stderr_of(&output);
    let stderr: Vec<&str> = stderr.lines().collect();
    assert!(
        stderr.contains(&format!("[h] {cut}").as_str()),
        "forwarded: {stderr:?}"
    );
    let error = stderr
        .iter()
        .position(|line| line.starts_with("mcpchat: error: "))
        .expect("an error line");
    assert_eq!(
        stderr[error..],
        [
            "mcpchat: error: stdio MCP server `h` exited or closed its output during tools/call `flood_and_die`",
            &format!("hint: its stderr: {cut}"),
            "hint: run with -v to see everything the server writes to stderr",
        ]
    );
}

#[test]
fn a_reply_of_millions_of_tiny_elements_fails_its_call_at_once_naming_the_bound() {
    let env = TestEnv::new();
    let output = hostile(&env)
        .args(["--max-message-bytes", "1048576", "tools", "call", "h__many"])
        .arg(r#"{"n": 200000, "kind": "structured"}"#)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(output.stdout.is_empty());
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: MCP server `h` sent an unusable reply to tools/call `many`: reply of 390 KiB would take about 13 MiB once parsed (200018 JSON values), over the 2 MiB allowed by the 1 MiB cap\n\
         hint: raise the cap with --max-message-bytes BYTES or `max_message_bytes` in the config\n"
    );
}

#[test]
fn tiny_elements_within_the_bound_pass_through_whole() {
    let env = TestEnv::new();
    let output = hostile(&env)
        .args(["--max-message-bytes", "1048576", "tools", "call", "h__many"])
        .arg(r#"{"n": 20000, "kind": "structured"}"#)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(
        lines[0]["structured_content"],
        json!({"values": vec![0; 20000]})
    );
}

#[test]
fn too_many_jobs_for_the_batch_budget_are_lowered_with_a_note() {
    let env = TestEnv::new();
    let output = hostile(&env)
        .args(["--max-message-bytes", "4194304"])
        .args(["tools", "call", "--batch", "--jobs", "100"])
        .write_stdin(
            "{\"id\": 1, \"tool\": \"h__many\", \"arguments\": {\"n\": 2}}\n\
             {\"id\": 2, \"tool\": \"h__many\", \"arguments\": {\"n\": 3}}\n",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let mut texts: Vec<(Value, Value)> = lines(&output.stdout)
        .iter()
        .map(|line| (line["id"].clone(), line["text"].clone()))
        .collect();
    texts.sort_by_key(|(id, _)| id.as_i64());
    assert_eq!(
        texts,
        [(json!(1), json!("a\na")), (json!(2), json!("a\na\na"))]
    );
    assert_eq!(
        stderr_of(&output),
        "mcpchat: note: --jobs 100 lowered to 64: a batch holds at most 256 MiB of replies at once, and each may be 4 MiB (--max-message-bytes); a lower cap allows more jobs\n"
    );
}

/// The one `result` line, last on stdout.
fn the_result(stdout: &[u8]) -> Value {
    let lines = lines(stdout);
    let results = of_type(&lines, "result");
    assert_eq!(results.len(), 1, "{lines:?}");
    assert_eq!(lines.last(), Some(results[0]));
    results[0].clone()
}

#[test]
fn a_model_reply_over_the_cap_fails_ask_with_exit_4_whether_streamed_or_not() {
    let env = TestEnv::new();
    let llm = hostile_memory_llm(2 * MIB);
    for stream in [false, true] {
        let output = ask(&env, &llm)
            .args(["--llm-max-reply-bytes", "1048576"])
            .args(stream.then_some("--stream"))
            .arg("hello")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(4), "stream {stream}");
        let result = the_result(&output.stdout);
        assert_eq!(result["status"], "error");
        assert_eq!(result["error"]["kind"], "protocol");
        assert_eq!(
            stderr_of(&output),
            format!(
                "mcpchat: error: invalid response from the model API at {}: the reply exceeds the 1 MiB cap\n\
                 hint: raise the cap with --llm-max-reply-bytes BYTES (or llm.max_reply_bytes)\n",
                llm.url
            ),
            "stream {stream}"
        );
    }
}

#[test]
fn the_reply_cap_comes_from_the_flag_then_the_environment_then_the_config() {
    let env = TestEnv::new();
    let llm = hostile_memory_llm(100_000);
    env.write(
        "mcp_servers.yaml",
        "servers: []\nllm:\n  max_reply_bytes: 50000\n",
    );
    let run = |flag: Option<&str>, var: Option<&str>| {
        let mut cmd = ask(&env, &llm);
        if let Some(var) = var {
            cmd.env("MCPCHAT_LLM_MAX_REPLY_BYTES", var);
        }
        if let Some(flag) = flag {
            cmd.args(["--llm-max-reply-bytes", flag]);
        }
        let output = cmd.arg("hello").output().unwrap();
        (
            output.status.code(),
            the_result(&output.stdout)["status"].clone(),
        )
    };
    // The file's 50000 is under the reply; the environment and the flag override it.
    assert_eq!(run(None, None), (Some(4), json!("error")));
    assert_eq!(run(None, Some("200000")), (Some(0), json!("success")));
    assert_eq!(
        run(Some("200000"), Some("1000")),
        (Some(0), json!("success"))
    );
    assert_eq!(run(Some("1000"), Some("200000")), (Some(4), json!("error")));
}

#[test]
fn a_zero_reply_cap_is_a_usage_error() {
    let env = TestEnv::new();
    let llm = hostile_memory_llm(10);
    let output = ask(&env, &llm)
        .args(["--llm-max-reply-bytes", "0", "hello"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output).lines().next(),
        Some("mcpchat: error: --llm-max-reply-bytes must be at least 1")
    );
}
