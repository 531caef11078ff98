//! A tool as one line an agent can read: `demo__add(a: number, b: number) -> {sum}`.
//!
//! Parameters come in the schema's order, optional ones marked `?`; types are JSON Schema's
//! (`string`, `integer`, `string[]`), enums their values (`"red"|"green"`), unions joined
//! with `|`; the result is the output schema's top-level properties, when there is one.
//! Nested objects show as `object`: the line stays one line, `tools show` has the rest.

use serde_json::{Map, Value};

use crate::events::ToolInfo;

/// The whole signature.
pub fn render(tool: &ToolInfo) -> String {
    let params = parameters(&tool.input_schema);
    match tool.output_schema.as_ref().map(result_fields) {
        Some(fields) => format!("{}({params}) -> {{{fields}}}", tool.name),
        None => format!("{}({params})", tool.name),
    }
}

/// `a: number, b?: string`: each property of the input schema with its type.
fn parameters(schema: &Value) -> String {
    let required = required(schema);
    properties(schema)
        .map(|properties| {
            properties
                .iter()
                .map(|(name, property)| {
                    let mark = if required.contains(&name.as_str()) {
                        ""
                    } else {
                        "?"
                    };
                    format!("{name}{mark}: {}", type_of(property, 0))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// `sum, note?`: the output schema's property names, optional ones marked.
fn result_fields(schema: &Value) -> String {
    let required = required(schema);
    properties(schema)
        .map(|properties| {
            properties
                .keys()
                .map(|name| match required.contains(&name.as_str()) {
                    true => name.clone(),
                    false => format!("{name}?"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// One property's type, compactly. `depth` stops runaway nesting of array item types.
fn type_of(schema: &Value, depth: usize) -> String {
    if depth > 3 {
        return "any".to_string();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("|");
    }
    if let Some(value) = schema.get("const") {
        return value.to_string();
    }
    for union in ["anyOf", "oneOf"] {
        if let Some(options) = schema.get(union).and_then(Value::as_array) {
            return options
                .iter()
                .map(|option| type_of(option, depth + 1))
                .collect::<Vec<_>>()
                .join("|");
        }
    }
    match schema.get("type") {
        Some(Value::String(kind)) => named_type(kind, schema, depth),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .map(|kind| named_type(kind, schema, depth))
            .collect::<Vec<_>>()
            .join("|"),
        _ => "any".to_string(),
    }
}

/// `string`, or `T[]` for an array of T.
fn named_type(kind: &str, schema: &Value, depth: usize) -> String {
    if kind != "array" {
        return kind.to_string();
    }
    match schema.get("items") {
        Some(items) => {
            let item = type_of(items, depth + 1);
            if item.contains('|') {
                format!("({item})[]")
            } else {
                format!("{item}[]")
            }
        }
        None => "array".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(input: Value, output: Option<Value>) -> ToolInfo {
        ToolInfo {
            server: "demo".into(),
            name: "demo__t".into(),
            tool: "t".into(),
            title: None,
            description: None,
            input_schema: input,
            output_schema: output,
            annotations: None,
            score: None,
        }
    }

    #[test]
    fn a_signature_shows_required_optional_enum_array_and_union_parameters() {
        let input = json!({"type": "object", "properties": {
            "colour": {"type": "string", "enum": ["red", "green"]},
            "count": {"type": "integer", "default": 1},
            "tags": {"type": "array", "items": {"type": "string"}},
            "when": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "mode": {"const": "fast"},
            "deep": {"type": "array", "items": {"type": ["string", "number"]}},
            "blob": {},
        }, "required": ["colour"]});
        assert_eq!(
            render(&tool(input, None)),
            "demo__t(colour: \"red\"|\"green\", count?: integer, tags?: string[], \
             when?: string|null, mode?: \"fast\", deep?: (string|number)[], blob?: any)"
        );
        let output =
            json!({"type": "object", "properties": {"sum": {}, "note": {}}, "required": ["sum"]});
        assert_eq!(
            render(&tool(json!({"type": "object"}), Some(output))),
            "demo__t() -> {sum, note?}"
        );
    }
}
