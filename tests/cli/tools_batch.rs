//! `tools call --batch`.

use std::collections::HashMap;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

#[test]
fn a_hundred_requests_with_one_malformed_line_over_two_servers() {
    let env = TestEnv::new();
    let everything = everything_http();
    let mut input = String::new();
    for i in 0..100 {
        let line = match i {
            37 => "{this is not json".to_string(),
            50 => {
                json!({"id": i, "tool": "demo__add", "arguments": {"a": "x", "b": 1}}).to_string()
            }
            _ if i % 2 == 0 => {
                json!({"id": i, "tool": "ev__get-sum", "arguments": {"a": i, "b": 1}}).to_string()
            }
            _ => {
                json!({"id": format!("r{i}"), "tool": "demo__add", "arguments": {"a": i, "b": 0.5}})
                    .to_string()
            }
        };
        input.push_str(&line);
        input.push('\n');
    }
    let output = env
        .cmd()
        .args(["--url", &format!("ev={}", everything.url)])
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "--batch", "--jobs", "8"])
        .write_stdin(input)
        .output()
        .unwrap();
    // The worst failure is a usage error (bad line, schema violation): exit 2.
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 100, "one line per request");

    let errors = of_type(&lines, "error");
    assert_eq!(errors.len(), 2, "{errors:?}");
    let malformed = errors
        .iter()
        .find(|e| e.get("id").is_none())
        .expect("the malformed line has no id");
    assert!(
        malformed["message"]
            .as_str()
            .unwrap()
            .starts_with("batch line 38:"),
        "{malformed:?}"
    );
    assert_eq!(malformed["exit_code"], 2);
    let invalid = errors
        .iter()
        .find(|e| e["id"] == 50)
        .expect("the schema violation keeps its id");
    assert_eq!(invalid["kind"], "invalid_arguments");

    let results: HashMap<String, &Value> = of_type(&lines, "tool_result")
        .into_iter()
        .map(|r| (r["id"].to_string(), r))
        .collect();
    assert_eq!(results.len(), 98);
    for i in 0..100 {
        if i == 37 || i == 50 {
            continue;
        }
        if i % 2 == 0 {
            let r = results[&i.to_string()];
            assert_eq!(r["text"], format!("The sum of {i} and 1 is {}.", i + 1));
        } else {
            let r = results[&format!("\"r{i}\"")];
            assert_eq!(r["structured_content"], json!({"sum": i as f64 + 0.5}));
        }
    }
}

#[test]
fn batch_of_valid_calls_exits_0_and_a_tool_error_exits_1() {
    let env = TestEnv::new();
    let python = python_http(true);
    let ok = "{\"id\": 1, \"tool\": \"py__add\", \"arguments\": {\"a\": 1, \"b\": 1}}\n";
    let output = env
        .cmd()
        .args(["--url", &format!("py={}", python.url)])
        .args(["tools", "call", "--batch"])
        .write_stdin(ok)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["text"], "2");

    let output = env
        .cmd()
        .args(["--url", &format!("py={}", python.url)])
        .args(["tools", "call", "--batch"])
        .write_stdin(format!("{ok}{{\"id\": 2, \"tool\": \"py__fail\"}}\n"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output.stdout);
    let failed = lines.iter().find(|l| l["id"] == 2).unwrap();
    assert_eq!(failed["is_error"], true);
}

#[test]
fn an_unreachable_server_fails_only_its_requests() {
    let env = TestEnv::new();
    let input = format!(
        "{}\n{}\n{}\n",
        json!({"id": "a", "tool": "down__x"}),
        json!({"id": "b", "tool": "demo__echo", "arguments": {"message": "still here"}}),
        json!({"id": "c", "tool": "down__y"}),
    );
    let output = env
        .cmd()
        .args([
            "--url",
            &format!("down=http://127.0.0.1:{}/mcp", closed_port()),
        ])
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "--batch"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let lines = lines(&output.stdout);
    assert_eq!(lines.len(), 3);
    let by_id: HashMap<String, &Value> = lines
        .iter()
        .map(|l| (l["id"].as_str().unwrap().to_string(), l))
        .collect();
    assert_eq!(by_id["b"]["text"], "still here");
    assert_eq!(by_id["a"]["kind"], "unreachable");
    assert_eq!(by_id["c"]["kind"], "unreachable");
}

/// The raw JSON text of a stdout line's `id`, and the line with the id replaced by 0 (so lines
/// whose id no f64 can hold, like `1e400`, can still be checked against the schema).
fn raw_id_of(line: &str) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct WithId<'a> {
        #[serde(borrow)]
        id: &'a serde_json::value::RawValue,
    }
    let raw = serde_json::from_str::<WithId>(line)
        .unwrap_or_else(|e| panic!("no id in {line}: {e}"))
        .id
        .get()
        .to_string();
    let without = line.replacen(&format!("\"id\":{raw}"), "\"id\":0", 1);
    (raw, without)
}

#[test]
fn ids_come_back_byte_for_byte_as_sent_including_unparsable_numbers_and_odd_spacing() {
    let env = TestEnv::new();
    let ids = [
        "123456789012345678901234567890",
        "-18446744073709551617",
        "1.0",
        "1e400",
        "1E+2",
        "-0",
        r#""tab\tq\"\u00e9\/ \ud83d\ude00""#,
        r#"{"b" : [1 , 2.50], "a":{}}"#,
        "[ ]",
        "null",
    ];
    let mut input = String::new();
    for (i, id) in ids.iter().enumerate() {
        input.push_str(&format!(
            "{{\"id\": {id}, \"tool\": \"demo__add\", \"arguments\": {{\"a\": {i}, \"b\": 1}}}}\n"
        ));
    }
    // Not a valid request (unknown field), but its id still comes back as written.
    input.push_str("{\"id\": 99999999999999999999.000, \"tool\": \"demo__add\", \"extra\": 1}\n");
    let output = env
        .cmd()
        .args(["--stdio", &format!("demo={}", demo_stdio_cmd())])
        .args(["tools", "call", "--batch"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut seen: HashMap<String, Value> = HashMap::new();
    for line in stdout.lines() {
        let (raw, without) = raw_id_of(line);
        let parsed = lines(without.as_bytes()).remove(0);
        seen.insert(raw, parsed);
    }
    assert_eq!(seen.len(), ids.len() + 1, "{stdout}");
    for (i, id) in ids.iter().enumerate() {
        let line = seen
            .get(*id)
            .unwrap_or_else(|| panic!("id {id} not echoed: {stdout}"));
        assert_eq!(line["type"], "tool_result");
        assert_eq!(line["text"], json!((i + 1).to_string()), "{id}");
    }
    let invalid = &seen["99999999999999999999.000"];
    assert_eq!(invalid["type"], "error");
    assert_eq!(invalid["exit_code"], 2);
}
