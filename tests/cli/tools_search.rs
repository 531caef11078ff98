//! `tools search` and `tools show` over the fixed tool set of tests/fakes/hostile_results.py.

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::support::*;

/// The fake behind `sh`, which notes each start in `starts.log`.
fn counted_fake(env: &TestEnv) -> String {
    format!(
        "r=sh -c 'echo started >> {}; exec python3 {}'",
        env.path("starts.log").display(),
        repo().join("tests/fakes/hostile_results.py").display()
    )
}

fn starts(env: &TestEnv) -> usize {
    std::fs::read_to_string(env.path("starts.log"))
        .unwrap_or_default()
        .lines()
        .count()
}

fn run(env: &TestEnv, args: &[&str]) -> std::process::Output {
    env.cmd()
        .args(["--stdio", &counted_fake(env)])
        .args(args)
        .output()
        .unwrap()
}

fn ranked(env: &TestEnv, args: &[&str]) -> Vec<(String, u64)> {
    let output = run(env, args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    lines(&output.stdout)
        .iter()
        .map(|l| {
            assert_eq!(l["type"], "tool");
            (
                l["name"].as_str().unwrap().to_string(),
                l["score"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
    expected.iter().map(|(n, s)| (n.to_string(), *s)).collect()
}

#[test]
fn search_ranks_tools_best_first_with_their_scores() {
    let env = TestEnv::new();
    assert_eq!(
        ranked(&env, &["tools", "search", "file"]),
        pairs(&[
            ("r__read_file", 114),
            ("r__search_files", 114),
            ("r__write_file", 114),
            ("r__list_directory", 114),
        ])
    );
    assert_eq!(
        ranked(&env, &["tools", "search", "read", "file"]),
        pairs(&[
            ("r__read_file", 228),
            ("r__search_files", 194),
            ("r__list_directory", 173),
        ])
    );
    assert_eq!(
        ranked(&env, &["tools", "search", "dir", "--limit", "2"]),
        pairs(&[("r__list_directory", 88), ("r__search_files", 88)])
    );
    assert_eq!(ranked(&env, &["tools", "search", "qqq"]), pairs(&[]));
}

#[test]
fn a_warm_search_or_show_starts_no_server() {
    let env = TestEnv::new();
    let output = run(&env, &["tools", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(starts(&env), 1);
    assert_eq!(
        ranked(&env, &["tools", "search", "weather"]),
        pairs(&[("r__get_weather", 192)])
    );
    let output = run(&env, &["tools", "show", "add", "--format", "text"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(starts(&env), 1, "the cached list answered");
    // --refresh lists live again.
    ranked(&env, &["--refresh", "tools", "search", "weather"]);
    assert_eq!(starts(&env), 2);
}

#[test]
fn show_prints_one_tool_line_and_as_text_a_one_line_signature() {
    let env = TestEnv::new();
    let output = run(&env, &["tools", "show", "r__add"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(
        lines,
        vec![
            json!({"type": "tool", "server": "r", "name": "r__add", "tool": "add", "title": "Add",
            "description": "Adds two numbers.",
            "input_schema": {"type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]},
            "output_schema": {"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]}})
        ]
    );
    let text = |name: &str| -> String {
        let output = run(&env, &["tools", "show", name, "--format", "text"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(text("add"), "r__add(a: number, b: number) -> {sum}\n");
    assert_eq!(
        text("r__pick"),
        "r__pick(colour: \"red\"|\"green\", count?: integer, tags?: string[], when?: string|null)\n"
    );
}

#[test]
fn show_of_an_unknown_tool_is_exit_2_with_a_hint_to_search() {
    let env = TestEnv::new();
    let output = run(&env, &["tools", "show", "r__nope"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(output.stdout, b"");
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: MCP server `r` has no tool `nope`\n\
         hint: `mcpchat tools search nope` finds tools by name and description\n"
    );
}
