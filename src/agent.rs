//! The `ask` tool loop: offer every selected server's tools to the model as functions, run the
//! calls of each model turn concurrently, feed the results back, and repeat until the model
//! answers or `max_steps` model requests have been made.
//!
//! Guarantees: arguments are validated before any server call (a violation goes back to the
//! model as an error result); tool calls are never retried; tool output sent back to the model
//! is capped with a visible note; function names match `^[A-Za-z0-9_-]{1,64}$` and map back to
//! exactly one tool.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use globset::GlobSet;
use rmcp::model::Tool;
use serde_json::{Value, json};

use crate::events::{Event, Message, ToolCallInfo, ToolResult};
use crate::exit::{BrokenPipe, Failure, Kind};
use crate::llm::{ChatRequest, Client, ToolCall, Usage};
use crate::mcp::Session;
use crate::output::Output;
use crate::validate::ArgsValidator;

/// One MCP tool offered to the model.
struct Function {
    name: String,
    session: usize,
    server: String,
    tool: String,
    validator: ArgsValidator,
}

/// The functions offered to the model and how they map back to servers.
pub struct Toolbox {
    functions: Vec<Function>,
    by_name: HashMap<String, usize>,
    specs: Vec<Value>,
}

impl Toolbox {
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
                    validator: ArgsValidator::new(
                        &prefixed,
                        &Value::Object((*tool.input_schema).clone()),
                    ),
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

pub struct Options {
    pub max_steps: u32,
    pub temperature: Option<f64>,
    pub stream: bool,
    /// Cap on the text of one tool result sent to the model, in bytes.
    pub max_tool_output: usize,
    /// `tool_choice` for the first model request (`required` would loop forever if repeated,
    /// so later requests of the run get `auto` instead).
    pub tool_choice: Option<String>,
}

/// What the model sees in place of a tool result that never came (Ctrl-C mid-call), so the
/// stored history stays valid for every provider: each tool call has its answer.
pub const INTERRUPTED_RESULT: &str =
    "[tool error] interrupted: mcpchat was stopped before the tool answered";

/// How a tool result that failed is marked for the model.
pub const TOOL_ERROR_MARK: &str = "[tool error] ";

/// The state of one `ask` run. It lives outside [`run`] so that whoever stops the run (a
/// signal) still has everything that completed: the messages, the counts and the usage.
pub struct Run {
    /// Everything sent to the model: system prompt, the history that fits, this run's messages.
    pub messages: Vec<Value>,
    /// Where this run's own messages start in `messages`.
    first_new: usize,
    /// Model requests made (one that failed counts).
    pub steps: u32,
    /// Tool calls that ran to an answer.
    pub tool_calls: u32,
    pub usage: Usage,
    /// The calls of the current model turn: id and, once it came, the text for the model.
    pending: Vec<(String, Option<String>)>,
}

impl Run {
    pub fn new(system: Option<&str>, history: Vec<Value>, prompt: &str) -> Run {
        let mut messages = Vec::new();
        if let Some(system) = system.filter(|s| !s.is_empty()) {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.extend(history);
        let first_new = messages.len();
        messages.push(json!({"role": "user", "content": prompt}));
        Run {
            messages,
            first_new,
            steps: 0,
            tool_calls: 0,
            usage: Usage::default(),
            pending: Vec::new(),
        }
    }

    /// The messages this run added (the prompt first), with unanswered tool calls closed.
    pub fn new_messages(&mut self) -> &[Value] {
        self.close_pending();
        &self.messages[self.first_new..]
    }

    /// Append the current turn's tool results in call order; a call without an answer gets
    /// [`INTERRUPTED_RESULT`].
    fn close_pending(&mut self) {
        for (id, text) in std::mem::take(&mut self.pending) {
            let content = text.unwrap_or_else(|| INTERRUPTED_RESULT.to_string());
            self.messages
                .push(json!({"role": "tool", "tool_call_id": id, "content": content}));
        }
    }
}

/// How a run ended (the counts are in [`Run`]).
pub struct Outcome {
    pub status: &'static str,
    pub answer: Option<String>,
    pub failure: Option<Failure>,
}

impl Outcome {
    pub fn failed(failure: Failure) -> Outcome {
        Outcome {
            status: "error",
            answer: None,
            failure: Some(failure),
        }
    }
}

pub async fn run(
    state: &mut Run,
    llm: &Client,
    sessions: &[Session],
    toolbox: &Toolbox,
    options: &Options,
    output: &Output,
) -> Result<Outcome, BrokenPipe> {
    loop {
        let step = state.steps + 1;
        let on_delta = |text: &str| {
            let _ = output.emit(&Event::Delta(Message {
                content: text.to_string(),
                step,
            }));
        };
        let tool_choice = match options.tool_choice.as_deref() {
            Some("required") if step > 1 => Some("auto"),
            other => other,
        };
        let request = ChatRequest {
            messages: &state.messages,
            tools: &toolbox.specs,
            temperature: options.temperature,
            stream: options.stream,
            tool_choice,
            ..ChatRequest::default()
        };
        let turn = llm.chat(&request, &on_delta).await;
        state.steps = step;
        let turn = match turn {
            Ok(turn) => turn,
            Err(failure) => return Ok(Outcome::failed(failure)),
        };
        state.usage.add(turn.usage);
        let content = turn.content.clone().filter(|c| !c.is_empty());
        if let Some(content) = &content {
            output.emit(&Event::Message(Message {
                content: content.clone(),
                step,
            }))?;
        }
        // Honour tool calls whatever the finish_reason says (some servers say "stop").
        if turn.tool_calls.is_empty() {
            state.messages.push(json!({
                "role": "assistant",
                "content": turn.content.clone().unwrap_or_default(),
            }));
            return Ok(Outcome {
                status: "success",
                answer: Some(content.unwrap_or_default()),
                failure: None,
            });
        }
        if step >= options.max_steps {
            let failure = Failure::new(
                Kind::MaxSteps,
                format!(
                    "the model still wanted to call tools after {} steps",
                    options.max_steps
                ),
            )
            .hint("raise the limit with --max-steps N");
            // The calls are not run: keep only the text, so the history has no dangling call.
            if let Some(content) = &content {
                state
                    .messages
                    .push(json!({"role": "assistant", "content": content}));
            }
            return Ok(Outcome {
                status: "max_steps",
                answer: content,
                failure: Some(failure),
            });
        }
        // Providers differ on null content next to tool calls; "" is accepted everywhere.
        state.messages.push(json!({
            "role": "assistant",
            "content": turn.content.clone().unwrap_or_default(),
            "tool_calls": turn.tool_calls.iter().map(|call| json!({
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments_text(&call.arguments)},
            })).collect::<Vec<_>>(),
        }));
        state.pending = turn
            .tool_calls
            .iter()
            .map(|call| (call.id.clone(), None))
            .collect();
        let mut runs: futures::stream::FuturesUnordered<_> = turn
            .tool_calls
            .iter()
            .enumerate()
            .map(|(index, call)| async move {
                let text = run_call(call, step, sessions, toolbox, options, output).await;
                (index, text)
            })
            .collect();
        while let Some((index, text)) = futures::StreamExt::next(&mut runs).await {
            state.pending[index].1 = Some(text?);
            state.tool_calls += 1;
        }
        state.close_pending();
    }
}

/// The arguments as the JSON string the chat API expects in history.
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(s) => s.clone(),
        Value::Null => "{}".to_string(),
        other => other.to_string(),
    }
}

/// Run one call: validate, call the server, print events; returns the text for the model.
async fn run_call(
    call: &ToolCall,
    step: u32,
    sessions: &[Session],
    toolbox: &Toolbox,
    options: &Options,
    output: &Output,
) -> Result<String, BrokenPipe> {
    let function = toolbox
        .by_name
        .get(&call.name)
        .map(|i| &toolbox.functions[*i]);
    let parsed = call.parsed_arguments();
    // `server__tool`, or what the model asked for when no such tool exists.
    let display_name = function.map_or_else(
        || call.name.clone(),
        |f| {
            format!(
                "{}{}{}",
                f.server,
                crate::commands::tools::SEPARATOR,
                f.tool
            )
        },
    );
    output.emit(&Event::ToolCall(ToolCallInfo {
        id: call.id.clone(),
        name: display_name.clone(),
        server: function.map(|f| f.server.clone()),
        tool: function.map(|f| f.tool.clone()),
        arguments: parsed.clone().unwrap_or_else(|_| call.arguments.clone()),
        step,
    }))?;
    let started = Instant::now();
    let local_error = |message: String| ToolResult {
        id: Some(json!(call.id)),
        server: function.map(|f| f.server.clone()),
        tool: function.map_or_else(|| call.name.clone(), |f| f.tool.clone()),
        name: display_name.clone(),
        is_error: true,
        content: json!([{"type": "text", "text": message}]),
        structured_content: None,
        text: message,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    let result = match (function, parsed) {
        (None, _) => {
            let mut names: Vec<&str> = toolbox.functions.iter().map(|f| f.name.as_str()).collect();
            names.truncate(50);
            local_error(format!(
                "unknown tool `{}`; available tools: {}",
                call.name,
                names.join(", ")
            ))
        }
        (Some(_), Err(message)) => local_error(format!("invalid arguments: {message}")),
        (Some(function), Ok(arguments)) => {
            let violations = function.validator.violations(&arguments);
            if !violations.is_empty() {
                local_error(format!(
                    "invalid arguments, no call was made; fix these and call again:\n{}",
                    violations.join("\n")
                ))
            } else if let Value::Object(map) = arguments {
                match sessions[function.session]
                    .call_tool(&function.tool, map)
                    .await
                {
                    Ok(result) => crate::commands::tools::result_event(
                        Some(json!(call.id)),
                        &function.server,
                        &function.tool,
                        &result,
                        started,
                    ),
                    Err(failure) => {
                        local_error(format!("the tool call failed: {}", failure.message))
                    }
                }
            } else {
                local_error("invalid arguments: they must be a JSON object".to_string())
            }
        }
    };
    let text = model_text(&result, options.max_tool_output);
    output.emit(&Event::ToolResult(result))?;
    Ok(text)
}

/// What the model sees of a tool result: text parts joined, structured content as JSON,
/// placeholders for binary content, an error marker, and a size cap with a visible note.
fn model_text(result: &ToolResult, cap: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    for block in result.content.as_array().into_iter().flatten() {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        let mime = block
            .get("mimeType")
            .and_then(Value::as_str)
            .unwrap_or("unknown type");
        match kind {
            "text" => parts.push(
                block
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            "image" | "audio" => {
                let bytes = block
                    .get("data")
                    .and_then(Value::as_str)
                    .map_or(0, |d| d.len() * 3 / 4);
                parts.push(format!("[{kind} omitted: {mime}, about {bytes} bytes]"));
            }
            "resource_link" => {
                let uri = block.get("uri").and_then(Value::as_str).unwrap_or("");
                parts.push(format!("[resource link: {uri}]"));
            }
            "resource" => {
                let resource = block.get("resource").cloned().unwrap_or_default();
                let uri = resource.get("uri").and_then(Value::as_str).unwrap_or("");
                match resource.get("text").and_then(Value::as_str) {
                    Some(text) => parts.push(format!("[resource {uri}]\n{text}")),
                    None => parts.push(format!("[resource omitted: {uri}, {mime}]")),
                }
            }
            other => parts.push(format!("[{other} content omitted]")),
        }
    }
    let mut text = parts.join("\n");
    if let Some(structured) = &result.structured_content {
        let same = serde_json::from_str::<Value>(text.trim()).is_ok_and(|v| &v == structured);
        if !same {
            let json = structured.to_string();
            text = if text.is_empty() {
                json
            } else {
                format!("{text}\nstructuredContent: {json}")
            };
        }
    }
    if result.is_error {
        text = format!("{TOOL_ERROR_MARK}{text}");
    }
    if text.len() > cap {
        let total = text.len();
        let mut end = cap;
        while end > 0 && !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(&format!(
            "\n[truncated by mcpchat: showing {end} of {total} bytes]"
        ));
    }
    text
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

    #[test]
    fn model_text_marks_errors_and_caps_size() {
        let result = ToolResult {
            id: None,
            server: Some("s".into()),
            tool: "t".into(),
            name: "s__t".into(),
            is_error: true,
            content: json!([{"type": "text", "text": "x".repeat(100)}, {"type": "image", "data": "AAAA", "mimeType": "image/png"}]),
            structured_content: Some(json!({"k": 1})),
            text: String::new(),
            duration_ms: 0,
        };
        let text = model_text(&result, 50);
        assert!(text.starts_with("[tool error] xxx"), "{text}");
        assert!(
            text.ends_with("[truncated by mcpchat: showing 50 of 182 bytes]"),
            "{text}"
        );
        let full = model_text(&result, 10_000);
        assert!(
            full.contains("[image omitted: image/png, about 3 bytes]"),
            "{full}"
        );
        assert!(full.ends_with("structuredContent: {\"k\":1}"), "{full}");
    }
}
