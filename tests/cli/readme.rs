//! README.md cannot drift: every `mcpchat` command line it shows (in code blocks and in the
//! command table) is parsed by the real binary (`--help` appended, so nothing connects), and
//! every example against the example server that shows its output (`$ ` lines in `console`
//! blocks) is run as written and must print exactly that. What the docs say of the wire is
//! checked against the wire.

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

/// The README's code blocks: (language, lines).
fn code_blocks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(language)) => current = Some((language.to_string(), Vec::new())),
            (Some(_), Some(_)) => blocks.extend(current.take()),
            (Some((_, lines)), None) => lines.push(line.to_string()),
            (None, None) => {}
        }
    }
    blocks
}

/// Shell lines with their `\` continuations joined.
fn joined(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending = String::new();
    for line in lines {
        match line.trim_end().strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                out.push(std::mem::take(&mut pending));
            }
        }
    }
    out
}

/// Every `mcpchat ...` invocation in a shell line: from the word `mcpchat` to the first pipe,
/// redirection, `)`, `;`, `&&` or comment outside quotes. `cargo run -q --` counts as mcpchat.
fn invocations(line: &str) -> Vec<String> {
    let line = line.replace("cargo run -q --", "mcpchat");
    let mut found = Vec::new();
    let mut rest = line.as_str();
    while let Some(at) = rest.find("mcpchat ") {
        let before = rest[..at].chars().last();
        let tail = &rest[at..];
        let end = command_end(tail);
        if before.is_none_or(|c| c.is_whitespace() || c == '(' || c == '`' || c == '|') {
            found.push(tail[..end].trim().to_string());
        }
        rest = &tail[end.max(1)..];
    }
    found
}

/// Where the command starting `text` ends (outside single and double quotes).
fn command_end(text: &str) -> usize {
    let (mut single, mut double) = (false, false);
    for (i, c) in text.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '|' | '>' | '<' | ')' | ';' | '&' | '#' | '`' if !single && !double => return i,
            _ => {}
        }
    }
    text.len()
}

/// Every invocation the README shows, in code blocks and in backticks in the text.
fn every_invocation(readme: &str) -> Vec<String> {
    let mut all = Vec::new();
    for (language, lines) in code_blocks(readme) {
        if !matches!(language.as_str(), "sh" | "console" | "bash") {
            continue;
        }
        for line in joined(&lines) {
            let line = line.strip_prefix("$ ").unwrap_or(&line);
            all.extend(invocations(line));
        }
    }
    for span in readme.split('`').skip(1).step_by(2) {
        if span.starts_with("mcpchat ") {
            all.extend(invocations(&span.replace("\\|", "|")));
        }
    }
    all.sort();
    all.dedup();
    all
}

#[test]
fn every_command_line_in_the_readme_parses() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let all = every_invocation(&readme);
    assert!(
        all.len() >= 30,
        "found only {} invocations: {all:#?}",
        all.len()
    );
    let env = TestEnv::new();
    let mut failures = Vec::new();
    for invocation in &all {
        // The variables the examples use, with values like the ones a user's shell would give.
        let expanded = invocation
            .replace("$JOB_COMPLETION_INDEX", "0")
            .replace("$TASK_ID", "task-1");
        let words = shlex::split(&expanded).unwrap_or_else(|| panic!("unquotable: {invocation}"));
        let output = env.cmd().args(&words[1..]).arg("--help").output().unwrap();
        if output.status.code() != Some(0) {
            failures.push(format!("{invocation}\n  {}", stderr_of(&output)));
        }
    }
    assert!(
        failures.is_empty(),
        "README examples that do not parse:\n{}",
        failures.join("\n")
    );
}

/// A `$ ` command of a console block with the output the README shows under it.
struct Shown {
    command: String,
    output: Vec<String>,
}

fn shown_with_output(readme: &str) -> Vec<Shown> {
    let mut shown: Vec<Shown> = Vec::new();
    for (language, lines) in code_blocks(readme) {
        if language != "console" {
            continue;
        }
        for line in joined(&lines) {
            match line.strip_prefix("$ ") {
                Some(command) => shown.push(Shown {
                    command: command.to_string(),
                    output: Vec::new(),
                }),
                None => shown.last_mut().unwrap().output.push(line.to_string()),
            }
        }
    }
    shown
}

/// JSON lines compare without their timing fields; other lines as they are.
fn comparable(line: &str) -> Value {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(mut object)) => {
            object.remove("duration_ms");
            Value::Object(object)
        }
        _ => Value::String(line.to_string()),
    }
}

#[test]
fn the_readmes_examples_against_the_example_server_print_what_it_shows() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("mcpchat");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let runnable: Vec<Shown> = shown_with_output(&readme)
        .into_iter()
        .filter(|s| s.command.contains("examples/demo_server.py") && !s.output.is_empty())
        .collect();
    assert!(runnable.len() >= 3, "expected the demo examples");
    let env = TestEnv::new();
    for shown in runnable {
        // The quickstart's `cargo run` is the binary under test (cargo itself is busy running us).
        let command = shown.command.replace("cargo run -q --", "mcpchat");
        let output = std::process::Command::new("bash")
            .args(["-o", "pipefail", "-c", &command])
            .current_dir(repo())
            .env_clear()
            .env("PATH", &path)
            .env("HOME", env.home())
            .env("XDG_CACHE_HOME", env.home().join(".cache"))
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {}",
            shown.command,
            stderr_of(&output)
        );
        let printed = String::from_utf8(output.stdout).unwrap();
        assert_eq!(
            printed.lines().map(comparable).collect::<Vec<_>>(),
            shown
                .output
                .iter()
                .map(|l| comparable(l))
                .collect::<Vec<_>>(),
            "{}",
            shown.command
        );
    }
}

/// docs/protocol.md once said sampling was not declared while docs/conversations.md and the wire
/// said it was: both pages must say what `initialize` actually carries, with and without
/// `--sampling allow`.
#[test]
fn the_docs_say_what_initialize_declares_about_sampling() {
    let env = TestEnv::new();
    let zoo = format!(
        "python3 {}",
        repo().join("tests/fakes/zoo_quirks.py").display()
    );
    for flags in [&[][..], &["--sampling", "allow"][..]] {
        let record = env.path("received.jsonl");
        let _ = std::fs::remove_file(&record);
        let output = env
            .cmd()
            .env("ZOO_RECORD", &record)
            .env("OPENAI_API_KEY", "sk-test")
            .args(flags)
            .args([
                "--no-cache",
                "--stdio",
                &format!("z={zoo}"),
                "tools",
                "list",
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        let text = std::fs::read_to_string(&record).unwrap();
        let initialize: Value = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|m| m["method"] == "initialize")
            .unwrap();
        assert!(
            initialize["params"]["capabilities"]
                .get("sampling")
                .is_some(),
            "{flags:?}: {initialize}"
        );
    }
    for page in ["docs/protocol.md", "docs/conversations.md"] {
        let text = std::fs::read_to_string(repo().join(page)).unwrap();
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("declares the `sampling` capability either way"),
            "{page} must say that the sampling capability is always declared"
        );
    }
}

/// The README is a landing page people read to the end; the rest lives in docs/.
#[test]
fn the_readme_stays_a_landing_page_of_at_most_300_lines() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines; move details to docs/"
    );
}
