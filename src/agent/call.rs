//! One tool call the model asked for: validate the arguments, call the server, print the
//! `tool_call` and `tool_result` lines, and make the text the model sees of the result.

use std::time::Instant;

use serde_json::{Value, json};

use super::toolbox::Toolbox;
use super::{Options, TOOL_ERROR_MARK};
use crate::events::{Event, ToolCallInfo, ToolResult};
use crate::exit::BrokenPipe;
use crate::llm::ToolCall;
use crate::mcp::Session;
use crate::output::Output;

/// Run one call: validate, call the server, print events; returns the text for the model.
pub(super) async fn run_call(
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
