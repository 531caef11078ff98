//! Property tests: a random secret embedded in random text is never printed.

use super::*;
use proptest::prelude::*;

/// Secrets with the characters that escape differently in JSON, Debug and URLs. `*` is left
/// out: a secret made of the mask's own character is indistinguishable from the mask. Edge
/// whitespace is not part of a secret (`register` trims, as header values are trimmed).
fn secret() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9\"\\\\/\n\t\u{1}é€😀 %+&=:@-]{4,24}"
        .prop_filter("no edge whitespace", |s| s.trim() == s)
}

fn text() -> impl Strategy<Value = String> {
    "[a-z \"\\\\\n{}:,é]{0,40}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_registered_secret_never_survives_in_messages(
        secret in secret(), before in text(), after in text()
    ) {
        register(&secret);
        let forms = [
            secret.clone(),
            json_escaped(&secret),
            {
                let debug = format!("{secret:?}");
                debug[1..debug.len() - 1].to_string()
            },
        ];
        for form in &forms {
            let message = super::text(&format!("{before}{form}{after}"));
            prop_assert!(!message.contains(&secret), "{message:?}");
            prop_assert!(!message.contains(form.as_str()), "{message:?}");
        }
    }

    #[test]
    fn a_registered_secret_never_survives_in_a_stdout_line_which_stays_json(
        secret in secret(), before in text(), after in text(), number in any::<i64>()
    ) {
        register(&secret);
        let embedded = format!("{before}{secret}{after}");
        let line = serde_json::json!({
            "text": embedded,
            "nested": [{"k": format!("{secret}{secret}")}, number],
            embedded.clone(): true,
        })
        .to_string();
        let masked = json_line(&line);
        let parsed: serde_json::Value = serde_json::from_str(&masked)
            .map_err(|e| TestCaseError::fail(format!("{e}: {masked}")))?;
        prop_assert!(!masked.contains(&json_escaped(&secret)), "{masked}");
        let mut strings = Vec::new();
        collect_strings(&parsed, &mut strings);
        for s in strings {
            prop_assert!(!s.contains(&secret), "{s:?} in {masked}");
        }
        prop_assert_eq!(&parsed["nested"][1], &serde_json::json!(number));
    }

    #[test]
    fn lines_without_secrets_pass_through_unchanged(value in text()) {
        let line = serde_json::json!({"v": value, "n": 1.5}).to_string();
        // Registered secrets from other cases may match; only check lines that hold none.
        let holds_none = registry()
            .read()
            .map(|r| r.json.iter().all(|s| !line.contains(s.as_str())))
            .unwrap_or(false);
        if holds_none {
            let masked = json_line(&line);
            prop_assert_eq!(masked.as_ref(), line.as_str());
        }
    }
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}
