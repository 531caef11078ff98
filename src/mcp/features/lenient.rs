//! Lenient reading of `tools/list` and `tools/call` results from their raw JSON: one malformed
//! or newer-than-us element is reported and skipped (a tool) or passed through verbatim (a
//! content block), never fails the whole result.
//!
//! Guarantees: every skipped tool and every malformed field gets a warning on stderr naming the
//! server, the tool and the field; content blocks reach stdout exactly as the server sent them.

use rmcp::model::Tool;
use serde_json::{Map, Value};

use crate::exit::{Failure, Kind};
use crate::human::json_kind as kind_of;
use crate::report;

/// A `tools/call` result as mcpchat uses it; `content` is the server's array, untouched.
#[derive(Debug, Clone, PartialEq)]
pub struct CallResult {
    pub content: Value,
    pub structured_content: Option<Value>,
    pub is_error: bool,
    /// The text blocks' text, joined with newlines.
    pub text: String,
}

fn warn(message: String) {
    report::warning(&Failure::new(Kind::Protocol, message));
}

/// One page of `tools/list`: the tools that parse, and the next cursor.
pub fn tools_page(server: &str, result: &Value) -> Result<(Vec<Tool>, Option<String>), Failure> {
    let Some(listed) = result.get("tools").and_then(Value::as_array) else {
        return Err(Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{server}` answered tools/list without a `tools` array (got {})",
                result.get("tools").map_or("nothing", kind_of)
            ),
        ));
    };
    let mut tools = Vec::with_capacity(listed.len());
    for (index, raw) in listed.iter().enumerate() {
        match tool(raw) {
            Ok(tool) => tools.push(tool),
            Err(problem) => {
                let label = match raw.get("name").and_then(Value::as_str) {
                    Some(name) => format!("tool `{name}`"),
                    None => format!("tool #{} of the list", index + 1),
                };
                warn(format!("MCP server `{server}`: skipped {label}: {problem}"));
            }
        }
    }
    let cursor = next_cursor(server, "tools/list", result);
    Ok((tools, cursor))
}

/// One page of another list (`prompts/list`, `resources/list`, `resources/templates/list`):
/// the items of `field` that parse (the others reported and skipped), and the next cursor.
pub fn items_page<T: serde::de::DeserializeOwned>(
    server: &str,
    method: &str,
    field: &str,
    result: &Value,
) -> Result<(Vec<T>, Option<String>), Failure> {
    let Some(listed) = result.get(field).and_then(Value::as_array) else {
        return Err(Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{server}` answered {method} without a `{field}` array (got {})",
                result.get(field).map_or("nothing", kind_of)
            ),
        ));
    };
    let mut items = Vec::with_capacity(listed.len());
    for (index, raw) in listed.iter().enumerate() {
        match serde_json::from_value(raw.clone()) {
            Ok(item) => items.push(item),
            Err(problem) => warn(format!(
                "MCP server `{server}`: skipped item #{} of its {method} answer: {problem}",
                index + 1
            )),
        }
    }
    Ok((items, next_cursor(server, method, result)))
}

/// A page's `nextCursor`: none when absent, null or empty; a non-string one is reported and
/// ends the listing.
fn next_cursor(server: &str, method: &str, result: &Value) -> Option<String> {
    match result.get("nextCursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(cursor)) if cursor.is_empty() => None,
        Some(Value::String(cursor)) => Some(cursor.clone()),
        Some(other) => {
            warn(format!(
                "MCP server `{server}`: {method} `nextCursor` is {}, not a string; stopped paginating",
                kind_of(other)
            ));
            None
        }
    }
}

/// Each field a tool may carry and the JSON kinds it may have; checked before rmcp's typed
/// model sees it so the warning names the field.
fn tool(raw: &Value) -> Result<Tool, String> {
    let Some(object) = raw.as_object() else {
        return Err(format!("it is {}, not an object", kind_of(raw)));
    };
    let expect = |field: &str, ok: fn(&Value) -> bool, wanted: &str| match object.get(field) {
        Some(value) if !ok(value) => Err(format!(
            "field `{field}` is {}, not {wanted}",
            kind_of(value)
        )),
        _ => Ok(()),
    };
    match object.get("name") {
        Some(Value::String(_)) => {}
        Some(other) => return Err(format!("field `name` is {}, not a string", kind_of(other))),
        None => return Err("field `name` is missing".to_string()),
    }
    match object.get("inputSchema") {
        Some(Value::Object(_)) => {}
        Some(other) => {
            return Err(format!(
                "field `inputSchema` is {}, not an object",
                kind_of(other)
            ));
        }
        None => return Err("field `inputSchema` is missing".to_string()),
    }
    let optional_string = |v: &Value| v.is_string() || v.is_null();
    let optional_object = |v: &Value| v.is_object() || v.is_null();
    expect("title", optional_string, "a string")?;
    expect("description", optional_string, "a string")?;
    expect("outputSchema", optional_object, "an object")?;
    expect("annotations", optional_object, "an object")?;
    if let Some(Value::Object(annotations)) = object.get("annotations") {
        for (hint, value) in annotations {
            let ok = match hint.as_str() {
                "title" => optional_string(value),
                "readOnlyHint" | "destructiveHint" | "idempotentHint" | "openWorldHint" => {
                    value.is_boolean() || value.is_null()
                }
                _ => true,
            };
            if !ok {
                return Err(format!(
                    "field `annotations.{hint}` is {}, not {}",
                    kind_of(value),
                    if hint == "title" {
                        "a string"
                    } else {
                        "a boolean"
                    }
                ));
            }
        }
    }
    serde_json::from_value::<Tool>(raw.clone()).map_err(|e| format!("it does not parse: {e}"))
}

/// A `tools/call` result: content passed through, malformed fields reported and read as
/// leniently as their meaning allows. Takes the result by value and moves its parts out: a
/// result may be as big as the reply cap, and is never held twice.
pub fn call_result(server: &str, tool: &str, result: Value) -> Result<CallResult, Failure> {
    let mut object = complete_result(server, tool, result)?;
    let about = format!("MCP server `{server}`: the result of tool `{tool}`");
    let content = content_of(&about, object.remove("content"));
    let is_error = is_error_of(&about, object.get("isError"));
    warn_odd_annotations(&about, &content);
    let text = text_of(&content);
    Ok(CallResult {
        content,
        structured_content: object.remove("structuredContent"),
        is_error,
        text,
    })
}

/// The result as an object, refused when it is not one or is not a complete result: a task
/// or an input request (2026-07-28) is not a result to print.
fn complete_result(server: &str, tool: &str, result: Value) -> Result<Map<String, Value>, Failure> {
    let object = match result {
        Value::Object(object) => object,
        other => {
            return Err(Failure::new(
                Kind::Protocol,
                format!(
                    "MCP server `{server}` answered tools/call `{tool}` with {}, not an object",
                    kind_of(&other)
                ),
            ));
        }
    };
    if let Some(kind) = object.get("resultType").and_then(Value::as_str)
        && kind != "complete"
    {
        return Err(Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{server}` answered tools/call `{tool}` with a `{kind}` result, which mcpchat does not handle here"
            ),
        ));
    }
    Ok(object)
}

/// `content` as an array: missing or null is empty, anything else one block (with a warning).
fn content_of(about: &str, content: Option<Value>) -> Value {
    match content {
        Some(Value::Array(blocks)) => Value::Array(blocks),
        None | Some(Value::Null) => Value::Array(Vec::new()),
        Some(other) => {
            warn(format!(
                "{about} has `content` that is {}, not an array; passed on as one block",
                kind_of(&other)
            ));
            Value::Array(vec![other])
        }
    }
}

/// `isError` as a boolean: missing or null is false, the string "true" true, anything else
/// false (with a warning).
fn is_error_of(about: &str, is_error: Option<&Value>) -> bool {
    match is_error {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(other) => {
            // "true" as a string is the one reading that is not a guess.
            let flag = other.as_str() == Some("true");
            warn(format!(
                "{about} has `isError` that is {}, not a boolean; read as {flag}",
                kind_of(other)
            ));
            flag
        }
    }
}

/// A warning for each block whose `annotations` is neither an object nor null (passed on
/// as sent).
fn warn_odd_annotations(about: &str, content: &Value) {
    for (index, block) in content.as_array().into_iter().flatten().enumerate() {
        if let Some(annotations) = block.get("annotations")
            && !annotations.is_object()
            && !annotations.is_null()
        {
            warn(format!(
                "{about}: content block {index} has `annotations` that is {}, not an object; passed on as sent",
                kind_of(annotations)
            ));
        }
    }
}

/// The text blocks' text, joined with newlines.
fn text_of(content: &Value) -> String {
    content
        .as_array()
        .into_iter()
        .flatten()
        .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_malformed_tool_is_skipped_and_the_rest_are_kept() {
        let page = json!({"tools": [
            {"name": "good", "inputSchema": {"type": "object"}},
            {"name": "bad", "inputSchema": "nope"},
            {"name": 7, "inputSchema": {}},
            {"name": "hints", "inputSchema": {}, "annotations": {"readOnlyHint": "yes"}},
        ], "nextCursor": "p2"});
        let (tools, cursor) = tools_page("s", &page).unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, ["good"]);
        assert_eq!(cursor.as_deref(), Some("p2"));
        assert_eq!(
            tool(&page["tools"][3]).unwrap_err(),
            "field `annotations.readOnlyHint` is a string, not a boolean"
        );
    }

    #[test]
    fn content_passes_through_verbatim() {
        let result = json!({"content": [
            {"type": "text", "text": "a", "extra": 1},
            {"type": "hologram", "depth": 3},
            {"type": "text", "text": "b", "annotations": "loud"}
        ], "isError": "true"});
        let read = call_result("s", "t", result.clone()).unwrap();
        assert_eq!(read.content, result["content"]);
        assert_eq!(read.text, "a\nb");
        assert!(read.is_error);
    }
}
