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
use crate::llm::{Client, ToolCall, Usage};
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
    pub system: Option<String>,
    /// Messages before the user's prompt (`ask --prompt`: an MCP prompt's messages).
    pub preamble: Vec<Value>,
    /// The user's message; empty when the preamble says it all.
    pub prompt: String,
    pub max_steps: u32,
    pub temperature: Option<f64>,
    pub stream: bool,
    /// Cap on the text of one tool result sent to the model, in bytes.
    pub max_tool_output: usize,
}

/// How a run ended.
pub struct Outcome {
    pub status: &'static str,
    pub answer: Option<String>,
    pub steps: u32,
    pub tool_calls: u32,
    pub usage: Usage,
    pub failure: Option<Failure>,
}

pub async fn run(
    llm: &Client,
    sessions: &[Session],
    toolbox: &Toolbox,
    options: &Options,
    output: &Output,
) -> Result<Outcome, BrokenPipe> {
    let mut messages: Vec<Value> = Vec::new();
    if let Some(system) = options.system.as_deref().filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.extend(options.preamble.iter().cloned());
    if !options.prompt.is_empty() || options.preamble.is_empty() {
        messages.push(json!({"role": "user", "content": options.prompt}));
    }
    let mut outcome = Outcome {
        status: "error",
        answer: None,
        steps: 0,
        tool_calls: 0,
        usage: Usage::default(),
        failure: None,
    };
    loop {
        let step = outcome.steps + 1;
        let on_delta = |text: &str| {
            let _ = output.emit(&Event::Delta(Message {
                content: text.to_string(),
                step,
            }));
        };
        let turn = match llm
            .chat(
                &messages,
                &toolbox.specs,
                options.temperature,
                options.stream,
                &on_delta,
            )
            .await
        {
            Ok(turn) => turn,
            Err(failure) => {
                outcome.failure = Some(failure);
                return Ok(outcome);
            }
        };
        outcome.steps = step;
        outcome.usage.add(turn.usage);
        let content = turn.content.clone().filter(|c| !c.is_empty());
        if let Some(content) = &content {
            output.emit(&Event::Message(Message {
                content: content.clone(),
                step,
            }))?;
        }
        // Honour tool calls whatever the finish_reason says (some servers say "stop").
        if turn.tool_calls.is_empty() {
            outcome.status = "success";
            outcome.answer = Some(content.unwrap_or_default());
            return Ok(outcome);
        }
        if step >= options.max_steps {
            outcome.status = "max_steps";
            outcome.answer = content;
            outcome.failure = Some(
                Failure::new(
                    Kind::MaxSteps,
                    format!(
                        "the model still wanted to call tools after {} steps",
                        options.max_steps
                    ),
                )
                .hint("raise the limit with --max-steps N"),
            );
            return Ok(outcome);
        }
        outcome.tool_calls += turn.tool_calls.len() as u32;
        // Providers differ on null content next to tool calls; "" is accepted everywhere.
        messages.push(json!({
            "role": "assistant",
            "content": turn.content.clone().unwrap_or_default(),
            "tool_calls": turn.tool_calls.iter().map(|call| json!({
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments_text(&call.arguments)},
            })).collect::<Vec<_>>(),
        }));
        let runs = turn
            .tool_calls
            .iter()
            .map(|call| run_call(call, step, sessions, toolbox, options, output));
        let results = futures::future::join_all(runs).await;
        for (call, result) in turn.tool_calls.iter().zip(results) {
            let text = result?;
            messages.push(json!({"role": "tool", "tool_call_id": call.id, "content": text}));
        }
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
        id: Some(json!(call.id).into()),
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
                        Some(json!(call.id).into()),
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
        text = format!("[tool error] {text}");
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
