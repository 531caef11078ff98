//! The fields of a requested schema (`elicitation/create` in form mode), read once into plain
//! values the prompts and the masking work from. The schema is a peer's: anything we do not
//! understand becomes a free-text field, and the number of fields and options is bounded.

use serde_json::Value;

/// At most this many fields are asked for; the rest are left out of the answer.
pub const MAX_FIELDS: usize = 64;
/// At most this many options of one enum are offered.
pub const MAX_OPTIONS: usize = 256;

/// One property of the requested schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    /// `title`, else the name.
    pub label: String,
    pub description: Option<String>,
    pub kind: Kind,
    pub default: Option<Value>,
    pub required: bool,
    /// The property's own schema, for checking one answer.
    pub schema: Value,
}

/// What kind of answer a field takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Free text; `format` (email, uri, date, date-time) shown and checked.
    Text {
        format: Option<String>,
    },
    Number {
        integer: bool,
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Boolean,
    /// One of the options.
    Choice(Vec<Choice>),
    /// Several of the options (`type: array`).
    Choices {
        options: Vec<Choice>,
        min: Option<u64>,
        max: Option<u64>,
    },
}

/// An enum value and what to show for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub value: String,
    pub title: String,
}

/// The fields of `schema`, in the order the server wrote them.
pub fn fields(schema: &Value) -> Vec<Field> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .take(MAX_FIELDS)
        .map(|(name, property)| Field {
            name: name.clone(),
            label: text(property, "title").unwrap_or_else(|| name.clone()),
            description: text(property, "description"),
            kind: kind(property),
            default: property.get("default").cloned(),
            required: required.contains(&name.as_str()),
            schema: property.clone(),
        })
        .collect()
}

fn text(property: &Value, key: &str) -> Option<String> {
    property
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn kind(property: &Value) -> Kind {
    match property.get("type").and_then(Value::as_str) {
        Some("boolean") => Kind::Boolean,
        Some(kind @ ("integer" | "number")) => Kind::Number {
            integer: kind == "integer",
            minimum: property.get("minimum").and_then(Value::as_f64),
            maximum: property.get("maximum").and_then(Value::as_f64),
        },
        Some("array") => {
            let items = property.get("items").unwrap_or(&Value::Null);
            Kind::Choices {
                options: choices(items),
                min: property.get("minItems").and_then(Value::as_u64),
                max: property.get("maxItems").and_then(Value::as_u64),
            }
        }
        _ => {
            let options = choices(property);
            if options.is_empty() {
                Kind::Text {
                    format: text(property, "format"),
                }
            } else {
                Kind::Choice(options)
            }
        }
    }
}

/// The options of an enum: `oneOf`/`anyOf` of `const` + `title`, or `enum` with the legacy
/// `enumNames` as titles.
fn choices(schema: &Value) -> Vec<Choice> {
    let titled = ["oneOf", "anyOf"]
        .iter()
        .find_map(|key| schema.get(*key).and_then(Value::as_array));
    if let Some(options) = titled {
        return options
            .iter()
            .filter_map(|option| {
                let value = scalar(option.get("const")?)?;
                let title = text(option, "title").unwrap_or_else(|| value.clone());
                Some(Choice { value, title })
            })
            .take(MAX_OPTIONS)
            .collect();
    }
    let names = schema.get("enumNames").and_then(Value::as_array);
    schema
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, value)| {
            let value = scalar(value)?;
            let title = names
                .and_then(|names| names.get(i))
                .and_then(Value::as_str)
                .map_or_else(|| value.clone(), str::to_string);
            Some(Choice { value, title })
        })
        .take(MAX_OPTIONS)
        .collect()
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn reads_every_kind_of_field_with_titles_defaults_and_bounds() {
        let schema = json!({
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email", "title": "Email"},
                "n": {"type": "integer", "minimum": 1, "maximum": 100, "default": 42},
                "ok": {"type": "boolean"},
                "hero": {"type": "string", "oneOf": [{"const": "h1", "title": "Superman"}]},
                "pet": {"type": "string", "enum": ["p1", "p2"], "enumNames": ["Cats", "Dogs"]},
                "fish": {"type": "array", "minItems": 1, "maxItems": 2,
                         "items": {"anyOf": [{"const": "f1", "title": "Tuna"}]}}
            },
            "required": ["email"]
        });
        let fields = fields(&schema);
        let kinds: Vec<_> = fields.iter().map(|f| f.kind.clone()).collect();
        let choice = |value: &str, title: &str| Choice {
            value: value.into(),
            title: title.into(),
        };
        assert_eq!(
            kinds,
            vec![
                Kind::Text {
                    format: Some("email".into())
                },
                Kind::Number {
                    integer: true,
                    minimum: Some(1.0),
                    maximum: Some(100.0)
                },
                Kind::Boolean,
                Kind::Choice(vec![choice("h1", "Superman")]),
                Kind::Choice(vec![choice("p1", "Cats"), choice("p2", "Dogs")]),
                Kind::Choices {
                    options: vec![choice("f1", "Tuna")],
                    min: Some(1),
                    max: Some(2)
                },
            ]
        );
        assert_eq!(fields[0].label, "Email");
        assert!(fields[0].required && !fields[1].required);
        assert_eq!(fields[1].default, Some(json!(42)));
    }
}
