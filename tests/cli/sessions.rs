//! Conversations: `ask --session/--continue` against fakellm (rules keyed on what the history
//! holds) and server-everything, the stored file, trimming, locking, interruption, and the
//! `sessions` commands.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

pub(crate) fn ask(env: &TestEnv, base_url: &str) -> assert_cmd::Command {
    let mut cmd = env.cmd();
    cmd.env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", base_url)
        .arg("ask");
    cmd
}

pub(crate) fn sessions_dir(env: &TestEnv) -> PathBuf {
    env.home().join(".local/share/mcpchat/sessions")
}

/// The stored lines of a session file: the header, then the messages.
pub(crate) fn stored(env: &TestEnv, name: &str) -> (Value, Vec<Value>) {
    let text = std::fs::read_to_string(sessions_dir(env).join(format!("{name}.jsonl"))).unwrap();
    let mut lines = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap());
    let header = lines.next().unwrap();
    (header, lines.collect())
}

/// Run `ask`, expect exit 0, return the `result` line.
pub(crate) fn answered(cmd: &mut assert_cmd::Command) -> Value {
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    let result = lines.last().unwrap().clone();
    assert_eq!(result["type"], "result");
    result
}

#[test]
fn the_second_question_of_a_session_sees_the_first_exchange_exactly() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    let log = env.path("requests.jsonl");
    let proxy = record_proxy(&llm, &log, "");
    let ev = format!("ev={}", everything.url);

    let first = answered(ask(&env, &proxy.url).args([
        "--url",
        &ev,
        "--session",
        "glucose",
        "What can you add?",
    ]));
    assert_eq!(first["answer"], "I can add: 2 and 3 make 5.");
    assert_eq!(first["session"], "glucose");
    assert_eq!(first["turn"], 1);

    let (header, messages) = stored(&env, "glucose");
    assert_eq!(header["mcpchat_session"], 1);
    assert_eq!(header["model"], "gpt-4o-mini");
    assert_eq!(header["provider"], "openai");
    assert!(header["created"].as_str().unwrap().ends_with('Z'));
    let call_id = messages[1]["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(
        messages,
        vec![
            json!({"role": "user", "content": "What can you add?"}),
            json!({"role": "assistant", "content": "", "tool_calls": [{"id": call_id, "type": "function",
                "function": {"name": "ev__get-sum", "arguments": "{\"a\": 2, \"b\": 3}"}}]}),
            json!({"role": "tool", "tool_call_id": call_id, "content": "The sum of 2 and 3 is 5."}),
            json!({"role": "assistant", "content": "I can add: 2 and 3 make 5."}),
        ]
    );
    let file = sessions_dir(&env).join("glucose.jsonl");
    assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(
        sessions_dir(&env).metadata().unwrap().permissions().mode() & 0o777,
        0o700
    );

    let second = answered(ask(&env, &proxy.url).args([
        "--url",
        &ev,
        "--session",
        "glucose",
        "And what did you add before?",
    ]));
    assert_eq!(second["answer"], "Before, I added 2 and 3 and got 5.");
    assert_eq!(second["turn"], 2);
    let bodies = logged_bodies(&log);
    assert_eq!(bodies.len(), 3);
    let mut expected = messages.clone();
    expected.push(json!({"role": "user", "content": "And what did you add before?"}));
    assert_eq!(bodies[2]["body"]["messages"], json!(expected));
    let (_, after) = stored(&env, "glucose");
    assert_eq!(after.len(), 6);
    assert_eq!(after[..4], messages[..]);
    assert_eq!(
        after[5],
        json!({"role": "assistant", "content": "Before, I added 2 and 3 and got 5."})
    );
}

#[test]
fn continue_picks_the_latest_session_and_a_fresh_session_sees_nothing() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    let ev = format!("ev={}", everything.url);
    let run = |args: &[&str]| answered(ask(&env, &llm.url).args(["--url", &ev]).args(args));

    run(&["--session", "a", "What can you add?"]);
    let fresh = run(&["--session", "b", "what did you add before?"]);
    assert_eq!(fresh["answer"], "I remember no sums.");
    let continued = run(&["--continue", "so, what did you add before?"]);
    assert_eq!(
        (&continued["session"], &continued["turn"]),
        (&json!("b"), &json!(2))
    );
    assert_eq!(continued["answer"], "I remember no sums.");
    run(&["--session", "a", "what did you add before, again?"]);
    let back = run(&["--continue", "what did you add before, once more?"]);
    assert_eq!((&back["session"], &back["turn"]), (&json!("a"), &json!(3)));
    assert_eq!(back["answer"], "Before, I added 2 and 3 and got 5.");
}

#[test]
fn a_session_path_with_a_slash_is_used_as_the_file() {
    let env = TestEnv::new();
    let llm = fakellm();
    let result = answered(ask(&env, &llm.url).args([
        "--session",
        "./chat.jsonl",
        "what did you add before?",
    ]));
    assert_eq!(result["session"], "./chat.jsonl");
    let text = std::fs::read_to_string(env.path("chat.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(!sessions_dir(&env).join("chat.jsonl").exists());
}

/// Two stored exchanges, each with a tool call and its result.
fn two_exchanges() -> Vec<Value> {
    let exchange = |n: u32, padding: usize| {
        vec![
            json!({"role": "user", "content": format!("question {n}")}),
            json!({"role": "assistant", "content": "", "tool_calls": [{"id": format!("call_{n}"), "type": "function",
                "function": {"name": "ev__echo", "arguments": "{}"}}]}),
            json!({"role": "tool", "tool_call_id": format!("call_{n}"), "content": "x".repeat(padding)}),
            json!({"role": "assistant", "content": format!("answer {n}")}),
        ]
    };
    [exchange(1, 2000), exchange(2, 400)].concat()
}

fn estimate(value: &Value) -> u64 {
    value.to_string().len() as u64 / 4 + 1
}

#[test]
fn history_trimming_leaves_out_the_oldest_whole_exchange_and_keeps_call_result_pairs() {
    let env = TestEnv::new();
    let llm = fakellm();
    let log = env.path("requests.jsonl");
    let proxy = record_proxy(&llm, &log, "");
    let history = two_exchanges();
    let mut text = json!({"mcpchat_session": 1, "created": "2026-11-29T10:00:00Z", "model": "gpt-4o-mini", "provider": "openai"}).to_string() + "\n";
    for message in &history {
        text += &(message.to_string() + "\n");
    }
    std::fs::create_dir_all(sessions_dir(&env)).unwrap();
    let file = sessions_dir(&env).join("long.jsonl");
    std::fs::write(&file, &text).unwrap();

    let prompt = "check the trimmed history";
    let system = "Be brief.";
    let fixed = estimate(&json!(system)) + estimate(&json!(prompt));
    let second: u64 = history[4..].iter().map(estimate).sum();
    let max = fixed + second + 10; // room for the second exchange, not the first
    let output = ask(&env, &proxy.url)
        .args(["--session", "long", "--system", system])
        .args(["--max-history-tokens", &max.to_string(), prompt])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let mut expected = vec![json!({"role": "system", "content": system})];
    expected.extend(history[4..].iter().cloned());
    expected.push(json!({"role": "user", "content": prompt}));
    let bodies = logged_bodies(&log);
    assert_eq!(bodies[0]["body"]["messages"], json!(expected));
    let stderr = stderr_of(&output);
    assert_eq!(
        stderr
            .matches("exchanges were left out of the request")
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("the oldest 1 of 2 exchanges"), "{stderr}");
    // The file keeps everything; without a limit the whole history is sent.
    let (_, messages) = stored(&env, "long");
    assert_eq!(messages[..8], history[..]);
    let output = ask(&env, &proxy.url)
        .env("MCPCHAT_MAX_HISTORY_TOKENS", "1000000")
        .args(["--session", "long", prompt])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let sent = logged_bodies(&log)[1]["body"]["messages"].clone();
    assert_eq!(sent.as_array().unwrap().len(), 11);
    assert_eq!(sent[0], history[0]);
}

#[test]
fn two_processes_appending_to_one_session_keep_both_exchanges_in_order() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    let log = env.path("requests.jsonl");
    let proxy = record_proxy(&llm, &log, "");
    let spawn = |prompt: &str| {
        env.std_cmd()
            .env("OPENAI_API_KEY", "k")
            .env("OPENAI_BASE_URL", &proxy.url)
            .args(["--url", &format!("ev={}", everything.url)])
            .args(["ask", "--session", "shared", prompt])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn("first writer, slowly");
    // The second starts while the first holds the session (its model request is out).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while logged_bodies(&log).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no model request");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = spawn("second writer here");
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr_of(&first));
    assert_eq!(second.status.code(), Some(0), "{}", stderr_of(&second));
    let first_result = lines(&first.stdout).last().unwrap().clone();
    let second_result = lines(&second.stdout).last().unwrap().clone();
    assert_eq!(first_result["answer"], "The first writer is done.");
    assert_eq!(
        second_result["answer"],
        "I see the first writer's operation."
    );
    assert_eq!(
        (&first_result["turn"], &second_result["turn"]),
        (&json!(1), &json!(2))
    );
    let (_, messages) = stored(&env, "shared");
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "user",
            "assistant",
            "tool",
            "assistant",
            "user",
            "assistant"
        ]
    );
    assert_eq!(messages[0]["content"], "first writer, slowly");
    assert_eq!(messages[4]["content"], "second writer here");
    // The second run's request carried the first run's whole exchange.
    let last = logged_bodies(&log).last().unwrap()["body"]["messages"].clone();
    assert_eq!(last, json!(messages[..5]));
}

#[test]
fn a_corrupt_session_file_exits_2_naming_it_and_is_left_untouched() {
    let env = TestEnv::new();
    let llm = fakellm();
    std::fs::create_dir_all(sessions_dir(&env)).unwrap();
    let file = sessions_dir(&env).join("broken.jsonl");
    let text = "{\"mcpchat_session\": 1}\n{\"role\": \"user\", \"content\": \"hi\"}\nnot json\n";
    std::fs::write(&file, text).unwrap();
    let output = ask(&env, &llm.url)
        .args(["--session", "broken", "hello"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let lines = lines(&output.stdout);
    assert_eq!(lines.last().unwrap()["error"]["kind"], "config");
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(&format!(
            "session file {}:3 is not a valid conversation",
            file.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}

#[test]
fn sessions_list_show_and_rm() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    answered(ask(&env, &llm.url).args([
        "--url",
        &format!("ev={}", everything.url),
        "--session",
        "talk",
        "What can you add?",
    ]));
    answered(ask(&env, &llm.url).args(["--session", "talk", "what did you add before?"]));

    let output = env.cmd().args(["sessions", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let listed = lines(&output.stdout);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "talk");
    assert_eq!(listed[0]["turns"], 2);
    assert_eq!(listed[0]["messages"], 6);
    assert_eq!(listed[0]["model"], "gpt-4o-mini");
    assert!(listed[0]["updated"].as_str().unwrap().ends_with('Z'));

    let output = env
        .cmd()
        .args(["sessions", "show", "talk"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let shown = lines(&output.stdout);
    let types: Vec<&str> = shown.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "user_prompt",
            "tool_call",
            "tool_result",
            "message",
            "user_prompt",
            "message"
        ]
    );
    assert_eq!(
        shown[0],
        json!({"type": "user_prompt", "content": "What can you add?", "turn": 1})
    );
    assert_eq!(shown[1]["name"], "ev__get-sum");
    assert_eq!(shown[1]["arguments"], json!({"a": 2, "b": 3}));
    assert_eq!(shown[2]["text"], "The sum of 2 and 3 is 5.");
    assert_eq!(shown[2]["is_error"], false);
    assert_eq!(shown[5]["content"], "Before, I added 2 and 3 and got 5.");
    let output = env
        .cmd()
        .args(["sessions", "show", "--format", "text"])
        .output()
        .unwrap();
    let id = shown[2]["id"].as_str().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "You: What can you add?\n[{id}] The sum of 2 and 3 is 5.\nAssistant: I can add: 2 and 3 make 5.\n\
             You: what did you add before?\nAssistant: Before, I added 2 and 3 and got 5.\n"
        )
    );

    let output = env.cmd().args(["sessions", "rm", "talk"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(!sessions_dir(&env).join("talk.jsonl").exists());
    let output = env.cmd().args(["sessions", "rm", "talk"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("no session at"),
        "{}",
        stderr_of(&output)
    );
    let output = env.cmd().args(["sessions", "list"]).output().unwrap();
    assert_eq!(output.stdout, b"");
}

#[test]
fn examples_chat_sh_holds_the_seeds_two_question_conversation() {
    use std::io::Write;
    let env = TestEnv::new();
    let llm = fakellm();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: demo\n    command: python3\n    args: [{}]\n",
            repo().join("examples/demo_server.py").display()
        ),
    );
    let mut child = std::process::Command::new("sh")
        .arg(repo().join("examples/chat.sh"))
        .arg("glucose")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("XDG_DATA_HOME", env.home().join(".local/share"))
        .env("MCPCHAT", assert_cmd::cargo::cargo_bin("mcpchat"))
        .env("OPENAI_API_KEY", "k")
        .env("OPENAI_BASE_URL", &llm.url)
        .current_dir(env.cwd())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"What glucose data do you have available?\nShow me my glucose readings from yesterday\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Assistant: I can show your glucose readings by day.\n\
         Assistant: Yesterday your glucose was 5.4, 6.1 and 7.2 mmol/L.\n"
    );
    let stderr = stderr_of(&output);
    assert!(
        stderr.starts_with("Session glucose. An empty line or Ctrl-D quits.\nYou: You: You: "),
        "{stderr}"
    );
    let (_, messages) = stored(&env, "glucose");
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "user",
            "assistant",
            "tool",
            "assistant",
            "user",
            "assistant"
        ]
    );
}

#[test]
fn a_run_whose_model_never_answered_stores_nothing() {
    let env = TestEnv::new();
    let llm = fault_llm("unauthorized", &[]);
    let output = ask(&env, &llm.url)
        .args(["--session", "nothing", "hello"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let result = lines(&output.stdout).last().unwrap().clone();
    assert_eq!(
        (&result["session"], &result["turn"]),
        (&json!("nothing"), &json!(1))
    );
    assert!(!sessions_dir(&env).join("nothing.jsonl").exists());
    let output = env.cmd().args(["sessions", "list"]).output().unwrap();
    assert_eq!(output.stdout, b"");
}
