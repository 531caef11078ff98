//! The recipes in examples/: the cron script runs against the demo server (with fakellm as the
//! model), and every mcpchat invocation in the recipes uses only flags that `--help` documents.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// Run examples/cron.sh in the test's work dir, with the demo server configured and fakellm as
/// the model.
fn cron(env: &TestEnv, model_url: &str, question: &str) -> std::process::Output {
    std::process::Command::new("bash")
        .arg(repo().join("examples/cron.sh"))
        .arg(question)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("XDG_CONFIG_HOME", env.home().join(".config"))
        .env("XDG_DATA_HOME", env.home().join(".local/share"))
        .env("MCPCHAT", assert_cmd::cargo::cargo_bin("mcpchat"))
        .env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", model_url)
        .current_dir(env.cwd())
        .output()
        .unwrap()
}

fn demo_config(env: &TestEnv) {
    let script = repo().join("examples/demo_server.py");
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: demo\n    command: python3\n    args: ['{}']\n",
            script.display()
        ),
    );
}

fn answers(env: &TestEnv) -> Vec<Value> {
    std::fs::read_to_string(env.path("answers.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_cron_script_appends_one_answer_line_per_run() {
    let env = TestEnv::new();
    demo_config(&env);
    let llm = fakellm();
    for run in 1..=2 {
        let output = cron(&env, &llm.url, &format!("cron question #{run}"));
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert_eq!(stderr_of(&output), "");
    }
    let answers = answers(&env);
    assert_eq!(answers.len(), 2);
    for (run, answer) in answers.iter().enumerate() {
        let at = answer["at"].as_str().unwrap();
        assert!(at.len() == 20 && at.ends_with('Z'), "{at}");
        let mut answer = answer.clone();
        answer.as_object_mut().unwrap().remove("at");
        assert_eq!(
            answer,
            json!({"question": format!("cron question #{}", run + 1), "status": "success",
                   "answer": "2 + 5 = 7.", "steps": 2, "error": null})
        );
    }
}

#[test]
fn the_cron_script_records_a_failed_run_and_exits_with_its_code() {
    let env = TestEnv::new();
    demo_config(&env);
    // A model API that is not there: the run fails with exit 4, and the line says so.
    let down = format!("http://127.0.0.1:{}/v1", closed_port());
    let output = cron(&env, &down, "cron question #down");
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let answers = answers(&env);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0]["status"], "error");
    assert_eq!(answers[0]["error"]["kind"], "unreachable");
    assert_eq!(answers[0]["error"]["exit_code"], 4);
}

#[test]
fn the_cron_script_skips_a_run_while_the_previous_one_holds_the_lock() {
    let env = TestEnv::new();
    demo_config(&env);
    let llm = fakellm();
    // Hold the lock as a running job would, until this test ends. --no-fork: the shell (then
    // `sleep`) is the process we kill, so nothing outlives the test.
    let mut holder = std::process::Command::new("flock")
        .arg("--no-fork")
        .arg(env.path("answers.jsonl.lock"))
        .args(["-c", "echo locked; exec sleep 600"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "locked\n");
    let output = cron(&env, &llm.url, "cron question #locked");
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stderr_of(&output),
        "cron.sh: the previous run still holds answers.jsonl.lock; skipping this one\n"
    );
    assert!(!env.path("answers.jsonl").exists());
}

/// Subcommands, as a tree, to find which `--help` documents an invocation's flags.
const COMMANDS: &[(&str, &[&str])] = &[
    ("tools", &["list", "call"]),
    ("auth", &["login", "status", "logout", "token"]),
    ("ask", &[]),
    ("schema", &[]),
    ("completions", &[]),
    ("man", &[]),
];

/// Every mcpchat invocation in a shell text: its words after `mcpchat` (continuation lines
/// joined; split at pipes, `;`, `&&` and `||`).
fn invocations(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap_or_default();
        for part in line.split(['|', ';']).flat_map(|p| p.split("&&")) {
            let part = part.trim_start();
            let rest = ["mcpchat ", "\"$mcpchat\" "]
                .iter()
                .find_map(|start| part.strip_prefix(start));
            if let Some(rest) = rest {
                let words = shlex::split(rest).unwrap_or_else(|| panic!("cannot split: {rest}"));
                found.push(words);
            }
        }
    }
    found
}

/// The subcommand path (`["tools", "call"]`) and the flags of one invocation.
fn path_and_flags(words: &[String]) -> (Vec<String>, Vec<String>) {
    let mut path: Vec<String> = Vec::new();
    let mut flags = Vec::new();
    for word in words {
        if word.starts_with('-') && word.len() > 1 {
            flags.push(word.split('=').next().unwrap().to_string());
            continue;
        }
        let children: Vec<&str> = match path.as_slice() {
            [] => COMMANDS.iter().map(|(name, _)| *name).collect(),
            [top] => COMMANDS
                .iter()
                .find(|(name, _)| name == top)
                .map(|(_, subs)| subs.to_vec())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        if children.contains(&word.as_str()) {
            path.push(word.clone());
        }
    }
    (path, flags)
}

/// All strings in a YAML value (run: scripts, args: lists...).
fn strings(value: &serde_yaml::Value, into: &mut Vec<String>) {
    match value {
        serde_yaml::Value::String(s) => into.push(s.clone()),
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|v| strings(v, into)),
        serde_yaml::Value::Mapping(map) => map.values().for_each(|v| strings(v, into)),
        serde_yaml::Value::Tagged(tagged) => strings(&tagged.value, into),
        _ => {}
    }
}

fn yaml_scripts(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join(file)).unwrap();
    let mut found = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value = <serde_yaml::Value as serde::Deserialize>::deserialize(document)
            .unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
        strings(&value, &mut found);
    }
    found
}

#[test]
fn the_recipes_parse_and_name_only_documented_flags() {
    let env = TestEnv::new();
    let recipes = [
        (
            "examples/github-actions.yml",
            yaml_scripts("examples/github-actions.yml"),
            5,
        ),
        (
            "examples/k8s/cronjob.yaml",
            yaml_scripts("examples/k8s/cronjob.yaml"),
            1,
        ),
        (
            "examples/k8s/indexed-job.yaml",
            yaml_scripts("examples/k8s/indexed-job.yaml"),
            1,
        ),
        (
            "examples/cron.sh",
            vec![std::fs::read_to_string(repo().join("examples/cron.sh")).unwrap()],
            1,
        ),
    ];
    for (file, scripts, expected) in recipes {
        let calls: Vec<Vec<String>> = scripts.iter().flat_map(|s| invocations(s)).collect();
        assert_eq!(calls.len(), expected, "{file}: {calls:?}");
        for words in calls {
            let (path, flags) = path_and_flags(&words);
            assert!(!path.is_empty(), "{file}: no subcommand in {words:?}");
            let output = env.cmd().args(&path).arg("--help").output().unwrap();
            assert_eq!(output.status.code(), Some(0), "{file}: {path:?}");
            let help = String::from_utf8(output.stdout).unwrap();
            for flag in flags {
                let documented = [" ", ",", "\n"]
                    .iter()
                    .any(|end| help.contains(&format!("{flag}{end}")));
                assert!(
                    documented,
                    "{file}: `mcpchat {}` has no {flag}",
                    path.join(" ")
                );
            }
        }
    }
}

#[test]
fn the_benchmark_chart_is_drawn_from_the_results_table() {
    let env = TestEnv::new();
    let drawn = env.path("results.svg");
    let output = std::process::Command::new("python3")
        .arg(repo().join("bench/chart.py"))
        .arg(repo().join("bench/RESULTS.md"))
        .arg(&drawn)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let drawn = std::fs::read_to_string(drawn).unwrap();
    // The checked-in chart is exactly what the script draws from the checked-in table.
    assert_eq!(
        drawn,
        std::fs::read_to_string(repo().join("bench/results.svg")).unwrap()
    );
    // Five comparisons (HTTP and stdio, list and call; HTTP resources read), each with
    // mcpchat and the floor.
    assert_eq!(drawn.matches(">mcpchat</text>").count(), 5, "{drawn}");
    assert_eq!(drawn.matches(">floor (").count(), 5, "{drawn}");
}
