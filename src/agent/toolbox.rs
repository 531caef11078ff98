//! The functions offered to the model: each selected server's tools that pass the allow/deny
//! globs, named `server__tool` made safe for function-calling APIs, with a validator each
//! (compiled when the model first calls the tool, not before the first model request).

use std::collections::{HashMap, HashSet};

use globset::GlobSet;
use rmcp::model::Tool;
use serde_json::{Value, json};

use crate::cache::ListKind;
use crate::mcp::lazy::Slot;
use crate::report;
use crate::validate::LazyValidator;

/// Each session's index, server name and (permitted) tools.
pub type Listed = Vec<(usize, String, Vec<Tool>)>;

/// The tools offered to the model, and what they were built from: a server that says its
/// tools changed (`notifications/tools/list_changed`) during a call is listed again, and the
/// model's next request offers the new list.
pub struct Offered<'a> {
    listed: Listed,
    allow: Option<&'a GlobSet>,
    deny: Option<&'a GlobSet>,
    pub toolbox: Toolbox,
}

impl<'a> Offered<'a> {
    pub fn new(listed: Listed, allow: Option<&'a GlobSet>, deny: Option<&'a GlobSet>) -> Self {
        let toolbox = Toolbox::new(&listed, allow, deny);
        Offered {
            listed,
            allow,
            deny,
            toolbox,
        }
    }

    /// List again the tools of every connected server that said they changed; true when the
    /// offer was rebuilt. A server that fails to list keeps its old tools (with a warning).
    pub async fn refresh(&mut self, sessions: &[Slot]) -> bool {
        let mut changed = false;
        for (index, slot) in sessions.iter().enumerate() {
            let Some(session) = slot.connected() else {
                continue;
            };
            if !session.take_list_changed(ListKind::Tools) {
                continue;
            }
            tracing::info!(server = %session.name(), "the server's tools changed; listing them again");
            match session.list_tools().await {
                Ok(tools) => {
                    match self.listed.iter_mut().find(|(i, _, _)| *i == index) {
                        Some(entry) => entry.2 = tools,
                        None => self.listed.push((index, slot.name.clone(), tools)),
                    }
                    changed = true;
                }
                Err(failure) => report::warning(&failure),
            }
        }
        if changed {
            self.listed.sort_by_key(|(index, _, _)| *index);
            self.toolbox = Toolbox::new(&self.listed, self.allow, self.deny);
        }
        changed
    }
}

/// One MCP tool offered to the model.
pub(super) struct Function {
    pub name: String,
    pub session: usize,
    pub server: String,
    pub tool: String,
    validator: LazyValidator,
}

impl Function {
    /// The defaults of required properties the model left out (see
    /// [`LazyValidator::fill_defaults`]).
    pub fn fill_defaults(&self, arguments: &mut Value) {
        self.validator.fill_defaults(arguments);
    }

    /// Every way `arguments` break the tool's input schema (empty when they are valid).
    pub fn violations(&self, arguments: &Value) -> Vec<String> {
        let prefixed = format!(
            "{}{}{}",
            self.server,
            crate::commands::tools::SEPARATOR,
            self.tool
        );
        self.validator.violations(&prefixed, arguments)
    }
}

/// The functions offered to the model and how they map back to servers.
pub struct Toolbox {
    pub(super) functions: Vec<Function>,
    pub(super) by_name: HashMap<String, usize>,
    pub(super) specs: Vec<Value>,
}

impl Toolbox {
    /// `server__tool` of a call, or the name the model used when no such tool exists.
    pub fn shown_name(&self, call: &crate::llm::ToolCall) -> String {
        match self.by_name.get(&call.name) {
            Some(&i) => {
                let function = &self.functions[i];
                format!(
                    "{}{}{}",
                    function.server,
                    crate::commands::tools::SEPARATOR,
                    function.tool
                )
            }
            None => call.name.clone(),
        }
    }

    /// Build from each session's tools (already filtered by the server's config), keeping
    /// only the prefixed names that pass `allow`/`deny`.
    pub fn new(
        listed: &[(usize, String, Vec<Tool>)],
        allow: Option<&GlobSet>,
        deny: Option<&GlobSet>,
    ) -> Toolbox {
        let mut functions = Vec::new();
        let mut specs = Vec::new();
        let mut taken: HashSet<String> = HashSet::new();
        for (session, server, tools) in listed {
            for tool in tools {
                let prefixed =
                    format!("{server}{}{}", crate::commands::tools::SEPARATOR, tool.name);
                if allow.is_some_and(|set| !set.is_match(&prefixed))
                    || deny.is_some_and(|set| set.is_match(&prefixed))
                {
                    continue;
                }
                let name = function_name(&prefixed, &mut taken);
                let mut parameters = Value::Object((*tool.input_schema).clone());
                if let Some(object) = parameters.as_object_mut() {
                    // Some local servers reject the meta-schema keyword; it tells the model nothing.
                    object.remove("$schema");
                    object.entry("type").or_insert(json!("object"));
                    object.entry("properties").or_insert(json!({}));
                }
                let mut function = json!({"name": name, "parameters": parameters});
                if let Some(description) = tool.description.as_deref().filter(|d| !d.is_empty()) {
                    function["description"] = json!(description);
                }
                specs.push(json!({"type": "function", "function": function}));
                functions.push(Function {
                    validator: LazyValidator::new(tool.input_schema.clone()),
                    name,
                    session: *session,
                    server: server.clone(),
                    tool: tool.name.to_string(),
                });
            }
        }
        let by_name = functions
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        Toolbox {
            functions,
            by_name,
            specs,
        }
    }

    pub fn len(&self) -> usize {
        self.functions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

/// `server__tool` made safe for function-calling APIs: `^[A-Za-z0-9_-]{1,64}$`, unique.
/// Collisions (after replacing characters or truncating) get `_2`, `_3`... in tool order.
fn function_name(prefixed: &str, taken: &mut HashSet<String>) -> String {
    let clean: String = prefixed
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = if clean.is_empty() {
        "tool".to_string()
    } else {
        clean
    };
    let fit = |base: &str, suffix: &str| -> String {
        let room = 64 - suffix.len();
        format!("{}{suffix}", &base[..base.len().min(room)])
    };
    let mut candidate = fit(&clean, "");
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = fit(&clean, &format!("_{n}"));
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_sanitised_truncated_and_unique() {
        let mut taken = HashSet::new();
        assert_eq!(function_name("ev__get-sum", &mut taken), "ev__get-sum");
        assert_eq!(function_name("a__b.c", &mut taken), "a__b_c");
        assert_eq!(function_name("a__b/c", &mut taken), "a__b_c_2");
        let long = format!("s__{}", "x".repeat(100));
        let first = function_name(&long, &mut taken);
        let second = function_name(&long, &mut taken);
        assert_eq!(first.len(), 64);
        assert_eq!(second.len(), 64);
        assert!(second.ends_with("_2"));
        assert_ne!(first, second);
    }
}
