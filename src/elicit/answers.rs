//! `--answers FILE|-`: answers to form elicitations given in advance, one JSON object of field
//! values per elicitation (a single object, or JSON Lines for several, used in order). Each
//! answer is checked against the schema the server sent, as a form typed on a terminal would
//! be: an answer that does not fit stops the command with exit 2 and the field's JSON path.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::{Map, Value};

use super::fields::Field;
use crate::exit::Failure;

/// The answers file is the user's, but a mistaken `--answers /dev/zero` must not eat memory.
const MAX_ANSWERS_BYTES: u64 = 16 * 1024 * 1024;

/// Answers not used yet, in order.
#[derive(Debug, Default)]
pub struct Answers {
    queue: Mutex<VecDeque<Map<String, Value>>>,
    /// How many were taken, for messages ("the 2nd answer").
    taken: Mutex<usize>,
}

impl Answers {
    /// Read `path` (`-`: stdin).
    pub fn load(path: &str) -> Result<Answers, Failure> {
        let (name, text) = read(path)?;
        Ok(Answers::from_objects(parse(&name, &text)?))
    }

    pub fn from_objects(objects: Vec<Map<String, Value>>) -> Answers {
        Answers {
            queue: Mutex::new(objects.into()),
            taken: Mutex::new(0),
        }
    }

    /// The next answer and its number (1-based), None when they ran out.
    pub fn next(&self) -> Option<(usize, Map<String, Value>)> {
        let answer = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()?;
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        *taken += 1;
        Some((*taken, answer))
    }
}

fn read(path: &str) -> Result<(String, String), Failure> {
    use std::io::Read;
    let (name, reader): (String, Box<dyn Read>) = if path == "-" {
        ("stdin".into(), Box::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(path).map_err(|e| {
            Failure::usage(format!("cannot read the answers file {path}: {e}"))
                .hint("--answers takes a JSON file of field values, or - for stdin")
        })?;
        (path.to_string(), Box::new(file))
    };
    let mut text = String::new();
    reader
        .take(MAX_ANSWERS_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("cannot read the answers from {name}: {e}")))?;
    if text.len() as u64 > MAX_ANSWERS_BYTES {
        return Err(Failure::usage(format!(
            "the answers in {name} are larger than {MAX_ANSWERS_BYTES} bytes"
        )));
    }
    Ok((name, text))
}

/// One JSON object (over any number of lines), or JSON Lines of objects.
fn parse(name: &str, text: &str) -> Result<Vec<Map<String, Value>>, Failure> {
    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) {
        return Ok(vec![object]);
    }
    let mut objects = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => objects.push(object),
            Ok(_) => {
                return Err(Failure::usage(format!(
                    "{name}:{}: an answer must be a JSON object of field values",
                    number + 1
                )));
            }
            Err(e) => {
                return Err(
                    Failure::usage(format!("{name}:{}: not JSON: {e}", number + 1)).hint(
                        "--answers takes one JSON object, or one object per line (JSON Lines)",
                    ),
                );
            }
        }
    }
    Ok(objects)
}

/// `answer` completed with the defaults of the fields it leaves out, when it fits `schema`;
/// else every violation as `path: message` (a key the schema does not name is one).
pub fn checked(
    answer: &Map<String, Value>,
    fields: &[Field],
    schema: &Value,
) -> Result<Map<String, Value>, Vec<String>> {
    let mut content = answer.clone();
    for field in fields {
        if let (false, Some(default)) = (content.contains_key(&field.name), &field.default) {
            content.insert(field.name.clone(), default.clone());
        }
    }
    let mut violations: Vec<String> = content
        .keys()
        .filter(|key| !fields.iter().any(|f| &f.name == *key))
        .map(|key| format!("/{key}: not a field of the requested schema"))
        .collect();
    violations.extend(violations_of(&Value::Object(content.clone()), schema));
    if violations.is_empty() {
        Ok(content)
    } else {
        Err(violations)
    }
}

/// Where `value` breaks `schema`, as `path: message` lines (formats such as `email` and `date`
/// checked too). A schema that does not compile checks nothing: the server still checks.
pub fn violations_of(value: &Value, schema: &Value) -> Vec<String> {
    let validator = match jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
    {
        Ok(validator) => validator,
        Err(error) => {
            tracing::debug!(
                "not checking an elicitation answer: its schema does not compile: {error}"
            );
            return Vec::new();
        }
    };
    validator
        .iter_errors(value)
        .map(|error| {
            let path = error.instance_path().to_string();
            let path = if path.is_empty() {
                "(root)".into()
            } else {
                path
            };
            format!("{path}: {error}")
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "name": {"type": "string"},
            "n": {"type": "integer", "minimum": 1, "maximum": 100, "default": 42},
            "email": {"type": "string", "format": "email"}
        }, "required": ["name"]})
    }

    #[test]
    fn a_single_object_or_json_lines_are_read_in_order() {
        let one = parse("f", "{\n \"name\": \"a\"\n}\n").unwrap();
        assert_eq!(one.len(), 1);
        let two = parse("f", "{\"name\": \"a\"}\n\n{\"name\": \"b\"}\n").unwrap();
        assert_eq!(two[1]["name"], "b");
        let bad = parse("f", "{\"name\": \"a\"}\n[1]\n").unwrap_err();
        assert_eq!(
            bad.message,
            "f:2: an answer must be a JSON object of field values"
        );
    }

    #[test]
    fn an_answer_gets_the_defaults_it_leaves_out() {
        let schema = schema();
        let fields = super::super::fields::fields(&schema);
        let answer = json!({"name": "ann"});
        let content = checked(answer.as_object().unwrap(), &fields, &schema).unwrap();
        assert_eq!(Value::Object(content), json!({"name": "ann", "n": 42}));
    }

    #[test]
    fn an_answer_that_does_not_fit_names_each_field_by_its_path() {
        let schema = schema();
        let fields = super::super::fields::fields(&schema);
        let answer = json!({"name": "ann", "n": "many", "email": "not-an-email", "extra": 1});
        let violations = checked(answer.as_object().unwrap(), &fields, &schema).unwrap_err();
        assert_eq!(
            violations,
            vec![
                "/extra: not a field of the requested schema".to_string(),
                "/n: \"many\" is not of type \"integer\"".to_string(),
                "/email: \"not-an-email\" is not a \"email\"".to_string(),
            ]
        );
    }
}
