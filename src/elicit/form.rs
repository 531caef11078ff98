//! `--elicitation ask`: a form elicitation asked on the terminal, field by field. Questions go
//! to stderr through `terminal` (the server's words neutralised), answers are read from the
//! terminal (`/dev/tty`, else stdin), never from or to stdout. Each answer is checked against
//! its field's schema and asked again when it does not fit; Enter keeps the default; `:d`
//! declines the request, `:c`, Ctrl-C or end of input cancel it.

use serde_json::{Map, Value};

use super::answers::violations_of;
use super::fields::{Choice, Field, Kind};
use super::mask::is_sensitive;
use super::tty::{Conversation, Tty};

/// What the user made of the form.
#[derive(Debug, Clone, PartialEq)]
pub enum Filled {
    Accept(Map<String, Value>),
    Decline,
    Cancel,
}

/// Ask every field of the form in turn.
pub fn fill(io: &mut dyn Conversation, server: &str, message: &str, fields: &[Field]) -> Filled {
    io.say(&format!(
        "mcpchat: MCP server `{server}` asks: {message}\n  \
         (Enter keeps the [default]; :d declines the request; :c or Ctrl-C cancels it)\n"
    ));
    let mut content = Map::new();
    for field in fields {
        match ask(io, field) {
            Step::Value(Some(value)) => {
                content.insert(field.name.clone(), value);
            }
            Step::Value(None) => {}
            Step::Decline => return Filled::Decline,
            Step::Cancel => return Filled::Cancel,
        }
    }
    Filled::Accept(content)
}

/// Whether the user goes on with the URL just shown: Enter accepts, `:d` declines, `:c`,
/// Ctrl-C or end of input cancel.
pub fn consent() -> Filled {
    let mut io = Tty::open();
    let prompt = "  Enter accepts (you open the URL above); :d declines; :c or Ctrl-C cancels: ";
    match io.read_line(prompt, false).as_deref().map(str::trim) {
        None | Some(":c") => Filled::Cancel,
        Some(":d") => Filled::Decline,
        Some(_) => Filled::Accept(Map::new()),
    }
}

enum Step {
    /// The field's value (None: left out, the field being optional).
    Value(Option<Value>),
    Decline,
    Cancel,
}

/// One field, asked until the answer fits.
fn ask(io: &mut dyn Conversation, field: &Field) -> Step {
    io.say(&question(field));
    let secret = is_sensitive(field);
    loop {
        let Some(line) = io.read_line(&format!("{}: ", input_hint(field)), secret) else {
            io.say("\n");
            return Step::Cancel;
        };
        match line.trim() {
            ":d" => return Step::Decline,
            ":c" => return Step::Cancel,
            typed => match value_of(field, typed) {
                Ok(value) => return Step::Value(value),
                Err(why) => io.say(&format!("  {why}; try again (:d declines, :c cancels)\n")),
            },
        }
    }
}

/// The field's title, description and options.
fn question(field: &Field) -> String {
    let mut text = field.label.clone();
    if let Some(description) = &field.description {
        text.push_str(&format!(" — {description}"));
    }
    if field.required {
        text.push_str(" (required)");
    }
    text.push('\n');
    if let Kind::Choice(options) | Kind::Choices { options, .. } = &field.kind {
        for (i, option) in options.iter().enumerate() {
            text.push_str(&format!("  {}) {}\n", i + 1, option.title));
        }
    }
    text
}

/// What to type, and the default in brackets.
fn input_hint(field: &Field) -> String {
    let what = match &field.kind {
        Kind::Text {
            format: Some(format),
        } => format!("  {format}"),
        Kind::Text { format: None } => "  text".to_string(),
        Kind::Number {
            integer,
            minimum,
            maximum,
        } => {
            let noun = if *integer { "integer" } else { "number" };
            match (minimum, maximum) {
                (Some(lo), Some(hi)) => format!("  {noun} from {lo} to {hi}"),
                (Some(lo), None) => format!("  {noun}, at least {lo}"),
                (None, Some(hi)) => format!("  {noun}, at most {hi}"),
                (None, None) => format!("  {noun}"),
            }
        }
        Kind::Boolean => "  y/n".to_string(),
        Kind::Choice(options) => format!("  choose 1-{}", options.len()),
        Kind::Choices { options, min, max } => {
            let count = match (min, max) {
                (Some(lo), Some(hi)) => format!(", {lo} to {hi} of them"),
                (Some(lo), None) => format!(", at least {lo}"),
                (None, Some(hi)) => format!(", at most {hi}"),
                (None, None) => String::new(),
            };
            format!(
                "  choose from 1-{}, separated by commas{count}",
                options.len()
            )
        }
    };
    match &field.default {
        Some(default) if !is_sensitive(field) => format!("{what} [{}]", shown(field, default)),
        _ => what,
    }
}

/// A default as the user would type it: titles for options, y/n for booleans.
fn shown(field: &Field, default: &Value) -> String {
    let title = |options: &[Choice], value: &Value| {
        let value = plain(value);
        options
            .iter()
            .find(|o| o.value == value)
            .map_or(value, |o| o.title.clone())
    };
    match (&field.kind, default) {
        (Kind::Boolean, Value::Bool(true)) => "y".into(),
        (Kind::Boolean, Value::Bool(false)) => "n".into(),
        (Kind::Choice(options), value) => title(options, value),
        (Kind::Choices { options, .. }, Value::Array(values)) => values
            .iter()
            .map(|v| title(options, v))
            .collect::<Vec<_>>()
            .join(", "),
        (_, value) => plain(value),
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The typed text as the field's value, checked against its schema.
fn value_of(field: &Field, typed: &str) -> Result<Option<Value>, String> {
    if typed.is_empty() {
        return match (&field.default, field.required) {
            (Some(default), _) => Ok(Some(default.clone())),
            (None, true) => Err("a value is required".into()),
            (None, false) => Ok(None),
        };
    }
    let value = parse(field, typed)?;
    match violations_of(&value, &field.schema).first() {
        None => Ok(Some(value)),
        // The reason quotes the value: not for a secret, which was typed without echo.
        Some(_) if is_sensitive(field) => Err("that does not fit the field".into()),
        Some(violation) => Err(violation
            .strip_prefix("(root): ")
            .unwrap_or(violation)
            .to_string()),
    }
}

fn parse(field: &Field, typed: &str) -> Result<Value, String> {
    match &field.kind {
        Kind::Text { .. } => Ok(Value::String(typed.to_string())),
        Kind::Number { integer: true, .. } => typed
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("`{typed}` is not an integer")),
        Kind::Number { .. } => typed
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("`{typed}` is not a number")),
        Kind::Boolean => match typed.to_lowercase().as_str() {
            "y" | "yes" | "true" | "1" => Ok(Value::Bool(true)),
            "n" | "no" | "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("`{typed}` is neither y nor n")),
        },
        Kind::Choice(options) => choice(options, typed).map(Value::String),
        Kind::Choices { options, .. } => {
            let mut chosen: Vec<Value> = Vec::new();
            for part in typed.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let value = Value::String(choice(options, part)?);
                if !chosen.contains(&value) {
                    chosen.push(value);
                }
            }
            Ok(Value::Array(chosen))
        }
    }
}

/// An option by its number, value or title.
fn choice(options: &[Choice], typed: &str) -> Result<String, String> {
    if let Ok(n) = typed.parse::<usize>()
        && let Some(option) = n.checked_sub(1).and_then(|i| options.get(i))
    {
        return Ok(option.value.clone());
    }
    options
        .iter()
        .find(|o| o.value == typed || o.title.eq_ignore_ascii_case(typed))
        .map(|o| o.value.clone())
        .ok_or_else(|| format!("`{typed}` is not one of the options 1-{}", options.len()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::fields::fields;
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    /// Typed lines, and everything shown.
    struct Script {
        typed: std::collections::VecDeque<Option<&'static str>>,
        shown: String,
    }

    impl Conversation for Script {
        fn say(&mut self, text: &str) {
            self.shown.push_str(text);
        }
        fn read_line(&mut self, prompt: &str, _secret: bool) -> Option<String> {
            self.shown.push_str(prompt);
            self.typed.pop_front().flatten().map(str::to_string)
        }
    }

    fn run(schema: Value, typed: &[Option<&'static str>]) -> (Filled, String) {
        let mut script = Script {
            typed: typed.iter().copied().collect(),
            shown: String::new(),
        };
        let filled = fill(&mut script, "s", "Tell me", &fields(&schema));
        (filled, script.shown)
    }

    fn form() -> Value {
        json!({"type": "object", "properties": {
            "name": {"type": "string", "title": "Name"},
            "n": {"type": "integer", "minimum": 1, "maximum": 100, "default": 42},
            "ok": {"type": "boolean"},
            "hero": {"type": "string", "oneOf": [
                {"const": "h1", "title": "Superman"}, {"const": "h2", "title": "Batman"}]},
            "fish": {"type": "array", "minItems": 1, "items": {"enum": ["tuna", "trout"]}}
        }, "required": ["name"]})
    }

    #[test]
    fn typed_answers_and_defaults_make_the_content() {
        let (filled, shown) = run(
            form(),
            &[Some("Ann"), Some(""), Some("y"), Some("2"), Some("2, tuna")],
        );
        assert_eq!(
            filled,
            Filled::Accept(
                json!({"name": "Ann", "n": 42, "ok": true, "hero": "h2", "fish": ["trout", "tuna"]})
                    .as_object()
                    .unwrap()
                    .clone()
            )
        );
        assert!(shown.contains("  integer from 1 to 100 [42]: "), "{shown}");
        assert!(shown.contains("  1) Superman\n  2) Batman\n"), "{shown}");
    }

    #[test]
    fn a_bad_answer_is_asked_again_with_the_reason() {
        let (filled, shown) = run(
            form(),
            &[
                Some(""),
                Some("Ann"),
                Some("500"),
                Some("7"),
                Some(""),
                Some("h1"),
                Some("1"),
            ],
        );
        assert!(matches!(filled, Filled::Accept(c) if c["n"] == json!(7)));
        assert!(
            shown.contains("  a value is required; try again"),
            "{shown}"
        );
        assert!(
            shown.contains("  500 is greater than the maximum of 100; try again"),
            "{shown}"
        );
    }

    #[test]
    fn decline_and_cancel_end_the_form() {
        assert_eq!(run(form(), &[Some("Ann"), Some(":d")]).0, Filled::Decline);
        assert_eq!(run(form(), &[Some(":c")]).0, Filled::Cancel);
        assert_eq!(run(form(), &[Some("Ann"), None]).0, Filled::Cancel);
    }
}
