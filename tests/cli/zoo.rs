//! Quirks of widely used real servers that mcpchat must take as they are (tests/fakes/zoo_quirks.py
//! reproduces them): a required property with a default (schemas made from zod's `.default()`),
//! and `resources/templates/list` answered "Method not found" by a server that declares resources.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// `mcpchat --stdio z=zoo_quirks.py ARGS...`.
fn zoo(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let command = format!(
        "python3 {}",
        repo().join("tests/fakes/zoo_quirks.py").display()
    );
    env.cmd()
        .args(["--stdio", &format!("z={command}")])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_required_property_with_a_default_is_filled_and_sent() {
    let env = TestEnv::new();
    let output = zoo(
        &env,
        &["tools", "call", "z__screenshot", r#"{"type":"png"}"#],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    // The server echoes the arguments it received: the default was sent.
    let sent: Value = serde_json::from_str(lines[0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(sent, json!({"type": "png", "scale": "css"}));
}

#[test]
fn a_required_property_without_a_default_is_still_refused_with_exit_2() {
    let env = TestEnv::new();
    let output = zoo(&env, &["tools", "call", "z__screenshot", "{}"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert_eq!(
        stderr_of(&output).lines().take(2).collect::<Vec<_>>(),
        [
            "mcpchat: error: arguments for `z__screenshot` do not match its input schema:",
            "  (root): \"type\" is a required property",
        ]
    );
}

#[test]
fn templates_method_not_found_is_an_empty_list_not_a_failed_server() {
    let env = TestEnv::new();
    let output = zoo(&env, &["resources", "templates"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(output.stdout.is_empty());
    assert_eq!(stderr_of(&output), "");

    let output = zoo(&env, &["servers"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (
            &lines[0]["tools"],
            &lines[0]["resources"],
            &lines[0]["resource_templates"]
        ),
        (&json!(1), &json!(1), &json!(0))
    );
}
