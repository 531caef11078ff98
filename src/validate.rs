//! Tool arguments checked against the tool's `inputSchema` before any call. jsonschema is
//! built without its HTTP/file resolvers, so a schema's remote `$ref` is never fetched.
//!
//! A command whose server is kept alive leaves the check to the daemon (`CHECK_KEY`): the
//! daemon keeps each schema's validator compiled (`kept`), so the command neither builds
//! jsonschema's meta-schema nor compiles a schema, the larger part of a kept call's own time.
//! The failure is the one a direct check gives (`mismatch`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::config::SEPARATOR;
use crate::exit::{Failure, Kind};

/// A tool's validator, compiled the first time the tool is called: compiling every schema of
/// a large server up front cost more than the call itself, and a command calls one tool or a
/// few.
pub struct LazyValidator {
    schema: Arc<rmcp::model::JsonObject>,
    compiled: OnceLock<ArgsValidator>,
}

impl LazyValidator {
    pub fn new(schema: Arc<rmcp::model::JsonObject>) -> Self {
        LazyValidator {
            schema,
            compiled: OnceLock::new(),
        }
    }

    /// Required properties the arguments leave out but the schema gives a `default` get that
    /// default, at the top level and in nested objects the arguments have. Schemas made from
    /// zod's `.default()` list such properties as required (Playwright's `scale`, kubectl's
    /// `container`...) while the server fills them itself: checking first would refuse calls the
    /// server accepts. The filled arguments are what is sent, which any server accepts.
    pub fn fill_defaults(&self, arguments: &mut Value) {
        fill_defaults(&self.schema, arguments, 0);
    }

    /// The tool's input schema, as listed.
    pub fn schema(&self) -> &Arc<rmcp::model::JsonObject> {
        &self.schema
    }

    /// [`ArgsValidator::violations`], compiling the validator first if needed (`tool` names
    /// it in the warning about a schema that does not compile).
    pub fn violations(&self, tool: &str, arguments: &Value) -> Vec<String> {
        self.compiled
            .get_or_init(|| ArgsValidator::new(tool, &Value::Object((*self.schema).clone())))
            .violations(arguments)
    }
}

/// Nesting deeper than this is left alone (a hostile schema can nest without end).
const MAX_DEFAULTS_DEPTH: usize = 32;

fn fill_defaults(schema: &rmcp::model::JsonObject, arguments: &mut Value, depth: usize) {
    let Value::Object(arguments) = arguments else {
        return;
    };
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required = schema.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        if arguments.contains_key(name) {
            continue;
        }
        if let Some(default) = properties.get(name).and_then(|p| p.get("default")) {
            arguments.insert(name.to_string(), default.clone());
        }
    }
    if depth >= MAX_DEFAULTS_DEPTH {
        return;
    }
    for (name, value) in arguments.iter_mut() {
        if let Some(Value::Object(property)) = properties.get(name) {
            fill_defaults(property, value, depth + 1);
        }
    }
}

pub struct ArgsValidator {
    validator: Option<jsonschema::Validator>,
}

/// Whether the command checks arguments but has not started [`warm_up`] yet: it waits to
/// know whether a server is reached directly (a kept server's daemon checks instead).
static WANTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The command will check arguments where its servers are reached directly: [`warm_up`]
/// once the first one is (`warm_up_if_wanted`).
pub fn want_warm_up() {
    WANTED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// [`warm_up`], if the command asked for it with [`want_warm_up`]: a server is reached
/// directly, or the daemon does not check.
pub fn warm_up_if_wanted() {
    if WANTED.load(std::sync::atomic::Ordering::Relaxed) {
        warm_up();
    }
}

/// Builds jsonschema's validator of the JSON Schema meta-schema on a thread of its own, once.
/// jsonschema checks every schema against it before compiling, and builds it on first use: the
/// first tool's validator would pay for it (a millisecond or more of CPU and page faults, on the
/// critical path of a `tools call`). Started as soon as the command line says arguments will be
/// checked (lib.rs), it overlaps the runtime's start, the config and the cache, and is ready
/// when the first call is checked; a validator that comes first just waits for it.
pub fn warm_up() {
    WANTED.store(false, std::sync::atomic::Ordering::Relaxed);
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("schema-warm-up".into())
            .spawn(|| {
                // Any non-empty schema without `$schema`: the default draft's meta-schema.
                let _ = jsonschema::validator_for(&serde_json::json!({"type": "object"}));
            });
        if let Err(error) = spawned {
            tracing::debug!("not warming up the schema validator: {error}");
        }
    });
}

impl ArgsValidator {
    /// A schema that cannot be compiled (invalid, or a `$ref` we refuse to fetch) does not
    /// block calls: the server still validates on its side.
    pub fn new(tool: &str, schema: &Value) -> Self {
        match Self::compile(schema) {
            Ok(validator) => validator,
            Err(error) => {
                tracing::warn!(
                    tool,
                    "not validating arguments locally: the tool's inputSchema does not compile: {error}"
                );
                ArgsValidator { validator: None }
            }
        }
    }

    /// The validator of `schema`, or why it does not compile.
    pub fn compile(schema: &Value) -> Result<Self, String> {
        match jsonschema::validator_for(schema) {
            Ok(validator) => Ok(ArgsValidator {
                validator: Some(validator),
            }),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Every violation, as `path: message` lines; empty when the arguments are valid.
    pub fn violations(&self, arguments: &Value) -> Vec<String> {
        let Some(validator) = &self.validator else {
            return Vec::new();
        };
        validator
            .iter_errors(arguments)
            .map(|error| {
                let path = error.instance_path().to_string();
                let path = if path.is_empty() {
                    "(root)".to_string()
                } else {
                    path
                };
                format!("{path}: {error}")
            })
            .collect()
    }
}

/// The failure of arguments that do not match the tool's input schema: exit 2, each
/// violation on a line of its own.
pub fn mismatch(server: &str, tool: &str, violations: &[String]) -> Failure {
    Failure::new(
        Kind::InvalidArguments,
        format!(
            "arguments for `{server}{SEPARATOR}{tool}` do not match its input schema:\n  {}",
            violations.join("\n  ")
        ),
    )
    .hint(format!(
        "`mcpchat tools list --server {server}` shows the schema"
    ))
}

/// The key in a `tools/call`'s `_meta` (command to daemon) carrying the input schema the
/// command's list has for the tool: the daemon checks the arguments against it before the
/// call goes on, and refuses a misfit with [`mismatch`]'s failure. Never relayed upstream.
pub const CHECK_KEY: &str = "io.mcpchat/check";

/// The key in an error's `data` (daemon to command) saying that the schema sent under
/// [`CHECK_KEY`] does not compile and nothing was called: the command checks (and warns)
/// as directly, then calls without the key. Stripped from upstreams' errors.
pub const UNCHECKED_KEY: &str = "io.mcpchat/unchecked";

/// How many compiled schemas the daemon keeps, and how many bytes of schema text (all are
/// dropped when one more would go over either).
const KEPT_SCHEMAS: usize = 512;
const KEPT_BYTES: usize = 16 << 20;

/// The daemon's compiled validators, by the text of their schema.
#[derive(Default)]
struct Kept {
    validators: HashMap<String, Arc<ArgsValidator>>,
    bytes: usize,
}

static KEPT: std::sync::LazyLock<Mutex<Kept>> = std::sync::LazyLock::new(Mutex::default);

/// The violations of `arguments` against `schema` with a validator compiled once per
/// schema and kept for the life of the process (the daemon's); `Err` when the schema does
/// not compile. A schema seen for the first time is compiled on a blocking thread: a large
/// one must not hold up the daemon's other connections.
pub async fn kept_check(schema: &Value, arguments: &Value) -> Result<Vec<String>, String> {
    let text = schema.to_string();
    let found = KEPT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .validators
        .get(&text)
        .cloned();
    let validator = match found {
        Some(validator) => validator,
        None => {
            let owned = schema.clone();
            let compiled = tokio::task::spawn_blocking(move || ArgsValidator::compile(&owned))
                .await
                .map_err(|error| error.to_string())??;
            let validator = Arc::new(compiled);
            keep(text, validator.clone());
            validator
        }
    };
    Ok(validator.violations(arguments))
}

fn keep(text: String, validator: Arc<ArgsValidator>) {
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    if kept.validators.len() >= KEPT_SCHEMAS || kept.bytes + text.len() > KEPT_BYTES {
        *kept = Kept::default();
    }
    if text.len() <= KEPT_BYTES {
        kept.bytes += text.len();
        kept.validators.insert(text, validator);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_daemons_kept_validators_stay_within_their_count_and_bytes() {
        let validator = Arc::new(ArgsValidator { validator: None });
        keep("x".repeat(KEPT_BYTES + 1), validator.clone());
        let kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        assert!(kept.validators.keys().all(|text| text.len() <= KEPT_BYTES));
        assert!(kept.bytes <= KEPT_BYTES);
        drop(kept);
        for n in 0..KEPT_SCHEMAS + 3 {
            keep(format!("{{\"n\": {n}}}"), validator.clone());
        }
        let kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            kept.validators.len() <= KEPT_SCHEMAS,
            "{}",
            kept.validators.len()
        );
        assert!(kept.validators.contains_key("{\"n\": 514}"));
    }

    #[test]
    fn lists_every_violation_with_its_path() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]});
        let validator = ArgsValidator::new("t", &schema);
        assert!(validator.violations(&json!({"a": 1, "b": 2})).is_empty());
        let errors = validator.violations(&json!({"a": "x"}));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("/a: ")), "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("(root): ") && e.contains("\"b\"")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_required_property_with_a_default_is_filled_before_the_check() {
        let schema = json!({
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "scale": {"type": "string", "enum": ["css", "device"], "default": "css"},
                "clip": {"type": "object", "properties": {"unit": {"type": "string", "default": "px"}}, "required": ["unit"]},
                "name": {"type": "string"}
            },
            "required": ["type", "scale", "name"]
        });
        let Value::Object(object) = schema else {
            unreachable!()
        };
        let validator = LazyValidator::new(Arc::new(object));
        let mut arguments = json!({"type": "png", "clip": {}});
        validator.fill_defaults(&mut arguments);
        assert_eq!(
            arguments,
            json!({"type": "png", "clip": {"unit": "px"}, "scale": "css"})
        );
        // A required property without a default is still reported missing.
        let errors = validator.violations("t", &arguments);
        assert_eq!(errors, vec!["(root): \"name\" is a required property"]);
    }

    #[test]
    fn never_fetches_remote_refs() {
        // A listener that would see the fetch if the validator tried one.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let schema = json!({"$ref": format!("http://127.0.0.1:{port}/schema.json")});
        let validator = ArgsValidator::new("t", &schema);
        assert!(validator.violations(&json!({})).is_empty());
        assert!(
            listener.accept().is_err(),
            "the validator connected to fetch a remote $ref"
        );
    }
}
