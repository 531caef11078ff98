//! What a batch line may say: `{"id": ..., "tool": "server__tool", "arguments": {...},
//! "answers": ...}`, unknown keys refused; its `id` kept as written, `null` included, and
//! salvaged from a line that is JSON but not a valid request, so its error line carries it.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::events::RawId;
use crate::exit::Failure;

/// One batch request line.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Request {
    /// Kept as written, `null` included (`Option` alone would turn `null` into no id).
    #[serde(default, deserialize_with = "raw_id")]
    pub id: Option<Box<RawValue>>,
    #[serde(alias = "name")]
    pub tool: String,
    #[serde(default)]
    pub arguments: Option<Value>,
    /// Answers to the forms the server asks for while this line runs: one object of field
    /// values, or an array of them in order.
    #[serde(default, deserialize_with = "super::answers::parse")]
    pub answers: Option<Vec<Map<String, Value>>>,
}

fn raw_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    serde::Deserialize::deserialize(d).map(Some)
}

/// Just the id of a line that is JSON but not a valid request, so its error line carries it.
#[derive(serde::Deserialize)]
struct IdOnly {
    #[serde(default, deserialize_with = "raw_id")]
    id: Option<Box<RawValue>>,
}

/// Just the tool a request names, to know its server before it runs.
#[derive(serde::Deserialize)]
struct ToolOnly {
    #[serde(alias = "name")]
    tool: String,
}

/// One request line and its 1-based number in the whole input.
#[derive(Clone, Copy)]
pub(super) struct Line<T> {
    pub text: T,
    pub number: usize,
}

/// The id of a line as written, if the line is JSON with one (valid request or not).
pub(super) fn id_of(line: &str) -> Option<RawId> {
    serde_json::from_str::<IdOnly>(line)
        .ok()
        .and_then(|only| only.id)
        .map(RawId::from)
}

/// The tool a line names, if it is JSON that names one.
pub(super) fn tool_of(line: &str) -> Option<String> {
    serde_json::from_str::<ToolOnly>(line)
        .ok()
        .map(|only| only.tool)
}

/// The line read as a request; else a usage error, with the id salvaged if the line is JSON
/// at all so the caller can match the error.
pub(super) fn parse(line: Line<&str>) -> Result<Request, (Option<RawId>, Failure)> {
    serde_json::from_str(line.text).map_err(|e| {
        let failure = Failure::usage(format!(
            "batch line {}: not a valid request: {e}",
            line.number
        ))
        .hint("each line must be {\"id\": ..., \"tool\": \"server__tool\", \"arguments\": {...}}");
        (id_of(line.text), failure)
    })
}

/// Property tests over batch lines: any JSON id, however spaced, comes back as written.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn space() -> impl Strategy<Value = String> {
        "[ \t]{0,2}"
    }

    /// JSON text with odd spacing, numbers no f64 can hold, and escapes.
    fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            "-?(0|[1-9][0-9]{0,40})(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,4})?",
            "\\PC{0,10}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
            Just(r#""\u00e9\/\ud83d\ude00\"""#.to_string()),
            Just("true".to_string()),
            Just("null".to_string()),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec((space(), inner.clone()), 0..4).prop_map(|items| {
                    let items: Vec<String> = items
                        .into_iter()
                        .map(|(s, v)| format!("{s}{v}{s}"))
                        .collect();
                    format!("[{}]", items.join(","))
                }),
                prop::collection::vec(("[a-z]{1,4}", space(), inner), 0..4).prop_map(|items| {
                    let items: Vec<String> = items
                        .into_iter()
                        .map(|(k, s, v)| format!("{s}\"{k}\"{s}:{s}{v}"))
                        .collect();
                    format!("{{{}}}", items.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_json_id_is_kept_byte_for_byte(id in json_text(), extra in any::<bool>()) {
            let line = if extra {
                format!(r#"{{"tool": "s__t", "id":{id} , "bogus": 1}}"#)
            } else {
                format!(r#"{{"tool": "s__t", "id":{id} , "arguments": {{}}}}"#)
            };
            let raw = if extra {
                prop_assert!(serde_json::from_str::<Request>(&line).is_err());
                serde_json::from_str::<IdOnly>(&line).ok().and_then(|only| only.id)
            } else {
                serde_json::from_str::<Request>(&line)
                    .map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?
                    .id
            };
            let raw = raw.map(RawId::from);
            prop_assert_eq!(raw.as_ref().map(RawId::as_str), Some(id.as_str()));
            // And it is written out as is.
            let written = serde_json::to_string(&raw).unwrap_or_default();
            prop_assert_eq!(written, id);
        }

        #[test]
        fn any_line_parses_or_fails_without_panicking(line in "[{}\\[\\]\":,a-z0-9. \\\\]{0,60}") {
            let _ = serde_json::from_str::<Request>(&line);
            let _ = serde_json::from_str::<IdOnly>(&line);
        }
    }
}
