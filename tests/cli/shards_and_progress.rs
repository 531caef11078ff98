//! `tools call --batch --shard K/N` (N machines split one JSONL file with no coordinator), and
//! progress on stderr (the batch's bar, `ask`'s status line), which only a terminal ever sees.

use std::collections::BTreeSet;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// 30 lines: calls with ids, a blank line, a malformed line and one without an id.
fn input() -> String {
    let mut input = String::new();
    for i in 0..30 {
        let line = match i {
            7 => String::new(),
            11 => "{not json".to_string(),
            20 => json!({"tool": "demo__add", "arguments": {"a": 20, "b": 0}}).to_string(),
            _ => json!({"id": i, "tool": "demo__add", "arguments": {"a": i, "b": 100}}).to_string(),
        };
        input.push_str(&line);
        input.push('\n');
    }
    input
}

/// What a run printed, order-free: `id text` per result, `error message` per error.
fn run(env: &TestEnv, shard: Option<&str>) -> (Option<i32>, BTreeSet<String>) {
    let mut cmd = env.cmd();
    cmd.args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "--batch", "--jobs", "4"]);
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    let output = cmd.write_stdin(input()).output().unwrap();
    let printed = lines(&output.stdout)
        .iter()
        .map(|line| match line["type"].as_str() {
            Some("tool_result") => format!("{} {}", line["id"], line["text"]),
            _ => format!("error {}", line["message"]),
        })
        .collect();
    (output.status.code(), printed)
}

#[test]
fn the_union_of_three_shards_is_the_unsharded_run() {
    let env = TestEnv::new();
    let (code, whole) = run(&env, None);
    assert_eq!(code, Some(2), "the malformed line is a usage error");
    assert_eq!(whole.len(), 29, "every line but the blank one");
    assert!(whole.contains("null \"20\""), "{whole:?}");

    let mut union = BTreeSet::new();
    for k in 0..3 {
        let (code, part) = run(&env, Some(&format!("{k}/3")));
        // Only the shard with line 11 (11 mod 3 = 2) has the malformed line.
        assert_eq!(code, Some(if k == 2 { 2 } else { 0 }), "shard {k}");
        let expected: BTreeSet<String> = whole
            .iter()
            .filter(|l| owner_of(l) % 3 == k)
            .cloned()
            .collect();
        assert_eq!(part, expected, "shard {k}/3 has exactly its lines");
        assert!(
            union.is_disjoint(&part),
            "shard {k} repeats another's lines"
        );
        union.extend(part);
    }
    assert_eq!(union, whole);
}

/// The 0-based input line a printed line came from: the id, the `batch line N` (1-based) of
/// an error, or line 20 for the request without an id.
fn owner_of(printed: &str) -> usize {
    if let Some(rest) = printed.strip_prefix("error \"batch line ") {
        return rest.split(':').next().unwrap().parse::<usize>().unwrap() - 1;
    }
    match printed.split(' ').next().unwrap() {
        "null" => 20,
        id => id.parse().unwrap(),
    }
}

#[test]
fn a_shard_keeps_the_whole_files_line_numbers_in_errors() {
    let env = TestEnv::new();
    let (_, part) = run(&env, Some("2/3"));
    let errors: Vec<&String> = part.iter().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("error \"batch line 12: not a valid request"),
        "{errors:?}"
    );
}

#[test]
fn a_bad_shard_is_a_usage_error() {
    let env = TestEnv::new();
    for bad in ["3/3", "1/0", "x/2", "1", "-1/2"] {
        let output = env
            .cmd()
            .args([
                "--stdio",
                "demo=true",
                "tools",
                "call",
                "--batch",
                "--shard",
                bad,
            ])
            .write_stdin("")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let stderr = stderr_of(&output);
        assert!(
            stderr.contains(&format!("`{bad}` is not K/N with 0 <= K < N (e.g. 0/4)"))
                || bad == "-1/2",
            "{bad}: {stderr}"
        );
        assert!(output.stdout.is_empty());
    }
    let output = env
        .cmd()
        .args([
            "--stdio",
            "demo=true",
            "tools",
            "call",
            "demo__add",
            "--shard",
            "0/2",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "--shard needs --batch");
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: --shard and --jobs work only with --batch\n\
         hint: mcpchat tools call --batch --shard K/N < requests.jsonl\n"
    );
}

#[test]
fn no_progress_reaches_stderr_when_it_is_not_a_terminal() {
    let env = TestEnv::new();
    // Calls that send progress notifications, from a file (where the total is known).
    let requests: String = (0..3)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": i, "tool": "demo__countdown", "arguments": {"seconds": 1}})
            )
        })
        .collect();
    let file = env.write("requests.jsonl", &requests);
    let output = env
        .cmd()
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "--batch"])
        .pipe_stdin(&file)
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout).len(), 3);
    assert_eq!(stderr_of(&output), "");

    let output = env
        .cmd()
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "demo__countdown", "-a", "seconds=2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stderr_of(&output), "");
}

/// Run `mcpchat ARGS < stdin_file > out` under `script`, which gives it a terminal on stderr;
/// returns what the terminal saw and the stdout lines.
fn on_a_terminal(env: &TestEnv, args: &str, stdin_file: &str) -> (String, Vec<Value>) {
    on_a_terminal_with(env, args, stdin_file, &[])
}

fn on_a_terminal_with(
    env: &TestEnv,
    args: &str,
    stdin_file: &str,
    vars: &[(&str, &str)],
) -> (String, Vec<Value>) {
    let bin = assert_cmd::cargo::cargo_bin("mcpchat");
    let command = format!("{} {args} < {stdin_file} > out.jsonl", bin.display());
    let output = std::process::Command::new("script")
        .args(["-qec", &command, "terminal.log"])
        .env_clear()
        .envs(vars.iter().copied())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("TERM", "xterm")
        .current_dir(env.cwd())
        .output()
        .expect("script (util-linux) runs a command on a pseudo-terminal");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let terminal = std::fs::read_to_string(env.path("terminal.log")).unwrap();
    let stdout = std::fs::read(env.path("out.jsonl")).unwrap();
    (terminal, lines(&stdout))
}

#[test]
fn on_a_terminal_the_batch_shows_done_of_total_unless_quiet() {
    let env = TestEnv::new();
    // Two seconds each: the server's "1/2 seconds" is on screen for a second.
    let requests: String = (0..4)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": i, "tool": "demo__countdown", "arguments": {"seconds": 2}})
            )
        })
        .collect();
    env.write("requests.jsonl", &requests);
    let server = format!("--stdio 'demo={}'", demo_stdio_cmd());

    let (terminal, results) = on_a_terminal(
        &env,
        &format!("{server} tools call --batch --jobs 2 --shard 0/2"),
        "requests.jsonl",
    );
    assert_eq!(results.len(), 2, "ids 0 and 2");
    assert!(terminal.contains("/2 calls, "), "{terminal}");
    assert!(terminal.contains(" calls/s"), "{terminal}");
    // The server's own "1/2 seconds" is shown, not repeated as "1/2 1/2 seconds".
    assert!(terminal.contains("] 1/2 seconds"), "{terminal}");
    assert!(!terminal.contains("1/2 1/2"), "{terminal}");

    let (terminal, results) = on_a_terminal(
        &env,
        &format!("{server} --quiet tools call --batch"),
        "requests.jsonl",
    );
    assert_eq!(results.len(), 4);
    assert!(!terminal.contains("calls"), "{terminal}");
    assert!(!terminal.contains("seconds"), "{terminal}");
}

#[test]
fn on_a_terminal_ask_shows_the_step_and_the_tools_it_calls() {
    let env = TestEnv::new();
    let everything = everything_http();
    let llm = fakellm();
    env.write("empty", "");
    let (terminal, lines) = on_a_terminal_with(
        &env,
        &format!(
            "--url ev={} ask 'run two tools at once #terminal'",
            everything.url
        ),
        "empty",
        &[
            ("OPENAI_API_KEY", "sk-test-key-123456"),
            ("OPENAI_BASE_URL", &llm.url),
        ],
    );
    assert_eq!(lines.last().unwrap()["answer"], "Both finished.");
    assert!(
        terminal.contains(
            "step 1: calling ev__trigger-long-running-operation, ev__trigger-long-running-operation"
        ),
        "{terminal}"
    );
}
