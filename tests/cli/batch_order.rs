//! `tools call --batch` keeps the order of the lines for one server (a stateful flow needs it)
//! and runs lines for different servers concurrently; `--unordered` lets one server's lines
//! overlap. The fake answers calls concurrently and writes down when each starts and ends.

use pretty_assertions::assert_eq;

use crate::support::*;

/// A `--stdio` flag value: tests/fakes/order_stdio.py as server `name`, logging to `log`.
fn order_server(env: &TestEnv, name: &str, log: &str) -> String {
    format!(
        "{name}=python3 {} {}",
        repo().join("tests/fakes/order_stdio.py").display(),
        env.path(log).display()
    )
}

fn batch(env: &TestEnv, servers: &[String], flags: &[&str], input: &str) -> std::process::Output {
    let mut cmd = env.cmd();
    for server in servers {
        cmd.args(["--stdio", server]);
    }
    cmd.args(["tools", "call", "--batch"])
        .args(flags)
        .write_stdin(input)
        .output()
        .unwrap()
}

fn ids_and_texts(output: &std::process::Output) -> Vec<(i64, String)> {
    lines(&output.stdout)
        .iter()
        .map(|line| {
            assert_eq!(line["type"], "tool_result", "{line}");
            assert_eq!(line["is_error"], false, "{line}");
            (
                line["id"].as_i64().unwrap(),
                line["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn lines_for_one_server_run_one_after_another_in_input_order() {
    let env = TestEnv::new();
    let server = order_server(&env, "o", "order.log");
    // The first step takes longest: run concurrently, it would end last.
    let input = [(1, "navigate", 300), (2, "click", 100), (3, "snapshot", 0)]
        .map(|(id, name, sleep_ms)| {
            format!(
                r#"{{"id": {id}, "tool": "o__step", "arguments": {{"name": "{name}", "sleep_ms": {sleep_ms}}}}}"#
            )
        })
        .join("\n");
    let output = batch(&env, &[server], &[], &input);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let log = std::fs::read_to_string(env.path("order.log")).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "start navigate",
            "end navigate",
            "start click",
            "end click",
            "start snapshot",
            "end snapshot"
        ]
    );
    // Answered in the same order.
    assert_eq!(
        ids_and_texts(&output),
        [
            (1, "navigate".to_string()),
            (2, "click".to_string()),
            (3, "snapshot".to_string())
        ]
    );
}

#[test]
fn lines_for_different_servers_still_run_concurrently() {
    let env = TestEnv::new();
    let servers = [
        order_server(&env, "a", "a.log"),
        order_server(&env, "b", "b.log"),
    ];
    // `a__wait` answers only once `b__release` ran: one server at a time would never get
    // there (the fake gives up after 20 s with isError).
    let file = env.path("released");
    let input = format!(
        "{{\"id\": 1, \"tool\": \"a__wait\", \"arguments\": {{\"file\": \"{f}\"}}}}\n\
         {{\"id\": 2, \"tool\": \"b__release\", \"arguments\": {{\"file\": \"{f}\"}}}}\n",
        f = file.display()
    );
    let output = batch(&env, &servers, &[], &input);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let mut answers = ids_and_texts(&output);
    answers.sort();
    assert_eq!(
        answers,
        [(1, "released".to_string()), (2, "done".to_string())]
    );
}

#[test]
fn unordered_lets_the_lines_for_one_server_overlap() {
    let env = TestEnv::new();
    let server = order_server(&env, "o", "order.log");
    // In input order the wait would come first and never see its release.
    let file = env.path("released");
    let input = format!(
        "{{\"id\": 1, \"tool\": \"o__wait\", \"arguments\": {{\"file\": \"{f}\"}}}}\n\
         {{\"id\": 2, \"tool\": \"o__release\", \"arguments\": {{\"file\": \"{f}\"}}}}\n",
        f = file.display()
    );
    let output = batch(&env, &[server], &["--unordered"], &input);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        ids_and_texts(&output),
        [(2, "done".to_string()), (1, "released".to_string())]
    );
}

#[test]
fn unordered_without_batch_is_a_usage_error() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &order_server(&env, "o", "order.log")])
        .args(["tools", "call", "o__step", "--unordered"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: --unordered works only with --batch\n"
    );
}
