//! Elicitation answered without a terminal: `--answers` (checked against the requested
//! schema), `accept-defaults`, `decline`, URL mode and the `-32042` error, against
//! server-everything and `tests/fakes/elicit_server.py`. Each request leaves one `elicitation`
//! line, sensitive values masked.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// `mcpchat --stdio e=elicit_server.py ARGS...`.
fn fake(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let command = format!(
        "python3 {}",
        repo().join("tests/fakes/elicit_server.py").display()
    );
    env.cmd()
        .args(["--stdio", &format!("e={command}")])
        .args(args)
        .output()
        .unwrap()
}

/// The JSON object a fake tool answered with.
fn answered(line: &Value) -> Value {
    serde_json::from_str(line["text"].as_str().unwrap()).unwrap()
}

#[test]
fn server_everythings_form_is_answered_from_an_answers_file_with_the_defaults_filled() {
    let env = TestEnv::new();
    env.write(
        "answers.json",
        r#"{"name": "Ann Smith", "check": true, "email": "ann@example.com", "integer": 7}"#,
    );
    let output = env
        .cmd()
        .args(["--stdio", &format!("everything={}", everything_stdio_cmd())])
        .args(["--answers", "answers.json"])
        .args(["tools", "call", "everything__trigger-elicitation-request"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(of_type(&lines, "elicitation").len(), 1);
    let elicitation = &lines[0];
    assert_eq!(elicitation["server"], "everything");
    assert_eq!(elicitation["mode"], "form");
    assert_eq!(elicitation["action"], "accept");
    // server-everything's own default for `number` is 3.14 (not meant as pi).
    #[allow(clippy::approx_constant)]
    let number = 3.14;
    assert_eq!(
        elicitation["content"],
        json!({
            "name": "Ann Smith", "check": true, "email": "ann@example.com", "integer": 7,
            "firstLine": "It was a dark and stormy night.", "number": number,
            "untitledSingleSelectEnum": "Monica", "untitledMultipleSelectEnum": ["Guitar"],
            "titledSingleSelectEnum": "hero-1", "titledMultipleSelectEnum": ["fish-1"],
            "legacyTitledEnum": "pet-1"
        })
    );
    let text = lines[1]["text"].as_str().unwrap();
    assert!(text.contains("- Name: Ann Smith\n"), "{text}");
    assert!(text.contains("- Favorite Integer: 7\n"), "{text}");
    assert!(text.contains("- Agreed to terms: true\n"), "{text}");
}

#[test]
fn an_answer_of_the_wrong_type_exits_2_with_the_fields_json_path() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("everything={}", everything_stdio_cmd())])
        .args(["--answers", "-"])
        .args(["tools", "call", "everything__trigger-elicitation-request"])
        .write_stdin(r#"{"name": "Ann", "integer": "seven", "birthdate": "yesterday"}"#)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "{:?}", lines(&output.stdout));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: answer 1 of --answers does not fit the form MCP server `everything` asked for:\n  \
         /integer: \"seven\" is not of type \"integer\"\n  \
         /birthdate: \"yesterday\" is not a \"date\"\n\
         hint: each answer is a JSON object of the form's field values; see docs/elicitation.md\n"
    );
}

#[test]
fn sensitive_values_are_masked_on_stdout_while_the_server_gets_them() {
    let env = TestEnv::new();
    env.write("a.json", r#"{"user": "ann", "password": "hunter22"}"#);
    let output = fake(&env, &["--answers", "a.json", "tools", "call", "e__form"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(
        lines[0],
        json!({
            "type": "elicitation", "server": "e", "mode": "form",
            "message": "\u{1b}[2JPlease sign in", "action": "accept",
            "content": {"user": "ann", "password": "***", "age": 30, "subscribe": false}
        })
    );
    let server_saw = answered(&lines[1]);
    assert_eq!(server_saw["password_reversed"], "22retnuh");
    // Echoed back by the server, the secret is masked there too.
    assert_eq!(server_saw["result"]["content"]["password"], "***");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("hunter22"));
}

#[test]
fn json_lines_answer_forms_in_order_and_then_they_are_declined() {
    let env = TestEnv::new();
    env.write("a.jsonl", "{\"user\": \"ann\", \"password\": \"pw-one\"}\n");
    let output = fake(&env, &["--answers", "a.jsonl", "tools", "call", "e__twice"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    let actions: Vec<&Value> = of_type(&lines, "elicitation")
        .iter()
        .map(|l| &l["action"])
        .collect();
    assert_eq!(actions, [&json!("accept"), &json!("decline")]);
    assert_eq!(lines[1]["content"], Value::Null);
    assert_eq!(
        answered(&lines[2])["results"][1],
        json!({"action": "decline"})
    );
    assert_eq!(
        stderr_of(&output),
        "mcpchat: note: no answers left for the elicitation from MCP server `e`: declined\n"
    );
}

#[test]
fn the_capability_is_declared_only_when_someone_answers() {
    let env = TestEnv::new();
    let capabilities = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["tools", "call", "e__caps"]);
        let output = fake(&env, &all);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        answered(&lines(&output.stdout)[0])["capabilities"].clone()
    };
    // Not a terminal: `decline` by default.
    assert_eq!(capabilities(&[]), json!({"sampling": {}}));
    assert_eq!(
        capabilities(&["--elicitation", "accept-defaults"]),
        json!({"sampling": {}, "elicitation": {"form": {}}})
    );
    assert_eq!(
        capabilities(&["--elicitation", "answers"]),
        json!({"sampling": {}, "elicitation": {"form": {}, "url": {}}})
    );
}

#[test]
fn declined_by_default_without_a_terminal() {
    let env = TestEnv::new();
    let output = fake(&env, &["tools", "call", "e__form"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines[0]["action"], "decline");
    assert_eq!(answered(&lines[1])["result"], json!({"action": "decline"}));
}

#[test]
fn a_url_elicitation_is_shown_opened_with_open_and_completed() {
    let env = TestEnv::new();
    let opened = env.path("opened.txt");
    let browser = env.write(
        "browser.sh",
        &format!("#!/bin/sh\necho \"$1\" > {}\n", opened.display()),
    );
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let command = format!(
        "python3 {}",
        repo().join("tests/fakes/elicit_server.py").display()
    );
    let output = env
        .cmd()
        .env("BROWSER", &browser)
        .args(["--stdio", &format!("e={command}")])
        .args([
            "--elicitation",
            "answers",
            "--open",
            "tools",
            "call",
            "e__url",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(
        lines[0],
        json!({
            "type": "elicitation", "server": "e", "mode": "url", "message": "Pay the bill",
            "action": "accept", "content": null, "url": "https://example.com/pay",
            "elicitation_id": "pay-1"
        })
    );
    assert_eq!(answered(&lines[1])["result"], json!({"action": "accept"}));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: MCP server `e` asks you to open a URL: Pay the bill\nOpened in the browser:\n\n  \
         https://example.com/pay\n\n\
         mcpchat: note: MCP server `e` says the URL elicitation `pay-1` is complete\n"
    );
    // The opener is reaped in the background: wait for its file, not for a time.
    let mut written = String::new();
    for _ in 0..600 {
        written = std::fs::read_to_string(&opened).unwrap_or_default();
        if !written.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(written, "https://example.com/pay\n");
}

#[test]
fn a_url_that_is_not_https_is_declined_and_never_shown() {
    let env = TestEnv::new();
    let output = fake(
        &env,
        &[
            "--elicitation",
            "answers",
            "--open",
            "tools",
            "call",
            "e__url",
            r#"{"url": "file:///etc/passwd"}"#,
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines[0]["action"], "decline");
    assert_eq!(
        stderr_of(&output),
        "mcpchat: note: declined MCP server `e`'s request to open a URL: the URL has the scheme \
         `file:`; only https: URLs (or http: to a loopback address) are opened or shown to open\n"
    );
}

#[test]
fn a_url_required_error_is_shown_waited_for_and_the_call_sent_again() {
    let env = TestEnv::new();
    let output = fake(
        &env,
        &[
            "--elicitation",
            "answers",
            "tools",
            "call",
            "e__url_required",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(
        lines[0],
        json!({
            "type": "elicitation", "server": "e", "mode": "url",
            "message": "Connect your account", "action": "accept", "content": null,
            "url": "https://example.com/connect", "elicitation_id": "connect-1"
        })
    );
    assert_eq!(answered(&lines[1]), json!({"ok": true}));
    assert_eq!(lines.len(), 2);
    // The fake says "complete" at once, so the note may come before or after the URL.
    let note = "mcpchat: note: MCP server `e` says the URL elicitation `connect-1` is complete\n";
    let stderr = stderr_of(&output);
    assert_eq!(stderr.matches(note).count(), 1, "{stderr}");
    assert_eq!(
        stderr.replace(note, ""),
        "mcpchat: MCP server `e` asks you to open a URL: Connect your account\nOpen in a browser:\n\n  \
         https://example.com/connect\n\n"
    );
}

#[test]
fn without_anyone_to_open_it_a_url_required_error_says_what_to_open_and_exits_1() {
    let env = TestEnv::new();
    let output = fake(&env, &["tools", "call", "e__url_required"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = stderr_of(&output);
    assert!(
        stderr.ends_with(
            "mcpchat: error: MCP server `e` needs you to open a URL before tools/call `url_required` can run\n\
             hint: open https://example.com/connect (Connect your account)\n\
             hint: then run the command again\n"
        ),
        "{stderr}"
    );
}

#[test]
fn answers_need_the_answers_mode_and_a_readable_file() {
    let env = TestEnv::new();
    let output = fake(
        &env,
        &[
            "--elicitation",
            "decline",
            "--answers",
            "a.json",
            "tools",
            "call",
            "e__form",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: --answers needs --elicitation answers, not decline\n"
    );
    let output = fake(
        &env,
        &["--answers", "missing.json", "tools", "call", "e__form"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output)
            .starts_with("mcpchat: error: cannot read the answers file missing.json: "),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn server_everythings_url_elicitation_is_accepted_and_its_error_path_times_out_with_exit_1() {
    let env = TestEnv::new();
    let server = format!("ev={}", everything_stdio_cmd());
    let output = env
        .cmd()
        .args(["--stdio", &server, "--elicitation", "answers"])
        .args(["tools", "call", "ev__trigger-url-elicitation"])
        .arg(r#"{"url": "https://example.com/x"}"#)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let first = lines(&output.stdout);
    assert_eq!(first[0]["mode"], "url");
    assert_eq!(first[0]["action"], "accept");
    assert_eq!(first[0]["url"], "https://example.com/x");
    let text = first[1]["text"].as_str().unwrap();
    assert!(
        text.starts_with("✅ User completed the URL elicitation flow.\n"),
        "{text}"
    );

    // The error path (-32042): server-everything never says "complete", so the wait ends.
    let output = env
        .cmd()
        .args(["--stdio", &server, "--elicitation", "answers"])
        .args(["--elicitation-timeout", "0.5"])
        .args(["tools", "call", "ev__trigger-url-elicitation"])
        .arg(r#"{"url": "https://example.com/x", "errorPath": true}"#)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["url"], "https://modelcontextprotocol.io");
    let stderr = stderr_of(&output);
    assert!(
        stderr.ends_with(
            "mcpchat: note: MCP server `ev`: the URL elicitation did not complete within 500ms\n\
             mcpchat: error: MCP server `ev` needs you to open a URL before tools/call `trigger-url-elicitation` can run\n\
             hint: open https://modelcontextprotocol.io/ (Open this link to satisfy the prerequisite, then retry the request.)\n\
             hint: then run the command again\n"
        ),
        "{stderr}"
    );
}

/// `mcpchat --stdio e=elicit_server.py --elicitation answers ARGS... tools call --batch`.
fn batch_of(env: &TestEnv, server: &str, flags: &[&str], input: &str) -> std::process::Output {
    env.cmd()
        .args(["--stdio", server, "--elicitation", "answers"])
        .args(["tools", "call", "--batch"])
        .args(flags)
        .write_stdin(input)
        .output()
        .unwrap()
}

fn elicit_server() -> String {
    format!(
        "e=python3 {}",
        repo().join("tests/fakes/elicit_server.py").display()
    )
}

/// The line with `id` among `lines`.
fn with_id(lines: &[Value], id: impl Into<Value>) -> &Value {
    let id = id.into();
    lines
        .iter()
        .find(|line| line["id"] == id)
        .unwrap_or_else(|| panic!("no line with id {id}: {lines:?}"))
}

#[test]
fn batch_lines_answer_server_everythings_forms_each_with_its_own_answers() {
    let env = TestEnv::new();
    let everything = format!("everything={}", everything_stdio_cmd());
    let line = |id: i64, name: &str, integer: i64| {
        json!({"id": id, "tool": "everything__trigger-elicitation-request",
               "answers": {"name": name, "check": true, "email": "a@example.com", "integer": integer}})
        .to_string()
    };
    let input = [line(1, "Ann Smith", 7), line(2, "Bob Jones", 8)].join("\n");
    let output = batch_of(&env, &everything, &[], &input);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    let names: Vec<&Value> = of_type(&lines, "elicitation")
        .iter()
        .map(|l| &l["content"]["name"])
        .collect();
    assert_eq!(names, [&json!("Ann Smith"), &json!("Bob Jones")]);
    for (id, name, integer) in [(1, "Ann Smith", 7), (2, "Bob Jones", 8)] {
        let text = with_id(&lines, id)["text"].as_str().unwrap();
        assert!(text.contains(&format!("- Name: {name}\n")), "{text}");
        assert!(
            text.contains(&format!("- Favorite Integer: {integer}\n")),
            "{text}"
        );
    }
}

#[test]
fn a_lines_array_of_answers_goes_in_order_before_the_answers_file() {
    let env = TestEnv::new();
    env.write(
        "a.json",
        r#"{"user": "from-file", "password": "hunter-file"}"#,
    );
    let input = [
        r#"{"id": 1, "tool": "e__twice", "answers": [{"user": "one", "password": "hunter-one"}, {"user": "two", "password": "hunter-two", "age": 40}]}"#,
        r#"{"id": 2, "tool": "e__form"}"#,
        r#"{"id": 3, "tool": "e__twice", "answers": [{"user": "three", "password": "hunter-three"}]}"#,
    ]
    .join("\n");
    let output = env
        .cmd()
        .args(["--stdio", &elicit_server(), "--answers", "a.json"])
        .args(["tools", "call", "--batch"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    let results = |id| answered(with_id(&lines, id));
    assert_eq!(
        results(1)["results"],
        json!([
            {"action": "accept", "content": {"user": "one", "password": "***", "age": 30, "subscribe": false}},
            {"action": "accept", "content": {"user": "two", "password": "***", "age": 40, "subscribe": false}}
        ])
    );
    // A line without answers takes the next answer of --answers.
    assert_eq!(results(2)["result"]["content"]["user"], "from-file");
    // A line's answers ran out: declined, not taken from --answers.
    assert_eq!(results(3)["results"][1], json!({"action": "decline"}));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: note: batch line 3: no answers left for the elicitation from MCP server `e`: declined\n"
    );
}

#[test]
fn a_lines_answer_that_does_not_fit_fails_that_line_alone_with_exit_2() {
    let env = TestEnv::new();
    let input = [
        r#"{"id": "bad", "tool": "e__form", "answers": {"user": "ann", "password": "hunter-ann", "age": "old"}}"#,
        r#"{"id": "good", "tool": "e__form", "answers": {"user": "bob", "password": "hunter-bob"}}"#,
    ]
    .join("\n");
    let output = batch_of(&env, &elicit_server(), &[], &input);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    let actions: Vec<&Value> = of_type(&lines, "elicitation")
        .iter()
        .map(|l| &l["action"])
        .collect();
    assert_eq!(actions, [&json!("cancel"), &json!("accept")]);
    let bad = with_id(&lines, "bad");
    assert_eq!(bad["type"], "error");
    assert_eq!(bad["exit_code"], 2);
    assert_eq!(
        bad["message"],
        "batch line 1: answer 1 of the line's `answers` does not fit the form MCP server `e` asked for:\n  \
         /age: \"old\" is not of type \"integer\""
    );
    assert_eq!(
        answered(with_id(&lines, "good"))["result"]["action"],
        "accept"
    );
}

#[test]
fn answers_of_the_wrong_type_or_with_unordered_or_declined_elicitation_fail_their_line() {
    let env = TestEnv::new();
    let server = elicit_server();
    let wrong = r#"{"id": 1, "tool": "e__form", "answers": 5}"#;
    let output = batch_of(&env, &server, &[], wrong);
    assert_eq!(output.status.code(), Some(2));
    let errors = lines(&output.stdout);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0]["message"],
        "batch line 1: not a valid request: `answers` must be a JSON object of field values, or an array of such objects at line 1 column 42"
    );
    let line = r#"{"id": 1, "tool": "e__form", "answers": {"user": "a", "password": "b"}}"#;
    let output = batch_of(&env, &server, &["--unordered"], line);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        lines(&output.stdout)[0]["message"],
        "batch line 1: a line's `answers` needs the lines of each server in input order, and --unordered runs them at once"
    );
    let output = env
        .cmd()
        .args(["--stdio", &server, "tools", "call", "--batch"])
        .write_stdin(line)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        lines(&output.stdout)[0]["message"],
        "batch line 1: a line's `answers` are used only when servers may ask, and elicitation is declined"
    );
}
