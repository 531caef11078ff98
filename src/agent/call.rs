//! One tool call the model asked for: validate the arguments, call the server, print the
//! `tool_call` and `tool_result` lines, and make the text the model sees of the result.

use std::time::Instant;

use serde_json::{Value, json};

use super::toolbox::{Function, Toolbox};
use super::{Options, TOOL_ERROR_MARK};
use crate::events::{Event, ToolCallInfo, ToolResult};
use crate::exit::BrokenPipe;
use crate::exit::Failure;
use crate::llm::ToolCall;
use crate::mcp::lazy::Slot;
use crate::output::Output;

/// Call `tool` once its server is connected (with a warm cache the model may ask before the
/// connection is up). A rejection that says the cached tools list is stale drops that list,
/// so that the next run lists the tools again.
async fn call_on(
    slot: &Slot,
    tool: &str,
    arguments: serde_json::Map<String, Value>,
) -> Result<crate::mcp::features::lenient::CallResult, Failure> {
    let session = slot.session().await?;
    let outcome = session.call_tool(tool, arguments).await;
    let stale = match &outcome {
        Err(failure) => crate::mcp::rejected_as_stale(failure),
        Ok(result) => crate::mcp::result_rejected_as_stale(result),
    };
    if stale {
        session.forget_tools();
    }
    outcome
}

/// What the model sees of one tool result: text, and image parts when it takes images.
pub struct ForModel {
    pub text: String,
    /// OpenAI-style `image_url` parts with data URLs.
    pub images: Vec<Value>,
}

impl ForModel {
    pub fn text(text: &str) -> ForModel {
        ForModel {
            text: text.to_string(),
            images: Vec::new(),
        }
    }
}

/// Run one call: validate, call the server, print events; returns what the model sees.
pub(super) async fn run_call(
    call: &ToolCall,
    step: u32,
    sessions: &[Slot],
    toolbox: &Toolbox,
    options: &Options,
    output: &Output,
) -> Result<ForModel, BrokenPipe> {
    let resolved = Resolved::new(call, toolbox);
    let parsed = call.parsed_arguments();
    resolved.announce(&parsed, step, output)?;
    let started = Instant::now();
    let result = match (resolved.function, parsed) {
        (None, _) => resolved.local_error(started, unknown_tool(call, toolbox)),
        (Some(_), Err(message)) => {
            resolved.local_error(started, format!("invalid arguments: {message}"))
        }
        (Some(function), Ok(arguments)) => {
            call_checked(&resolved, function, arguments, sessions, started).await
        }
    };
    let seen = Seen {
        images: options.images,
        saving: output.shaping(),
    };
    let for_model = for_model(&result, options.max_tool_output, &seen);
    // stdout carries the whole result, whatever the model was given.
    output.emit(&Event::ToolResult(result))?;
    Ok(for_model)
}

/// The call the model asked for, with the toolbox function it names (None for a tool that
/// does not exist) and the name the output lines show.
struct Resolved<'a> {
    call: &'a ToolCall,
    function: Option<&'a Function>,
    /// `server__tool`, or what the model asked for when no such tool exists.
    display_name: String,
}

impl<'a> Resolved<'a> {
    /// Look the call's name up in the toolbox.
    fn new(call: &'a ToolCall, toolbox: &'a Toolbox) -> Resolved<'a> {
        let function = toolbox
            .by_name
            .get(&call.name)
            .map(|i| &toolbox.functions[*i]);
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
        Resolved {
            call,
            function,
            display_name,
        }
    }

    /// Print the `tool_call` line before anything runs, with the parsed arguments when they
    /// parse (else as the model sent them), so a reader sees what was asked even if it fails.
    fn announce(
        &self,
        parsed: &Result<Value, String>,
        step: u32,
        output: &Output,
    ) -> Result<(), BrokenPipe> {
        output.emit(&Event::ToolCall(ToolCallInfo {
            id: self.call.id.clone(),
            name: self.display_name.clone(),
            server: self.function.map(|f| f.server.clone()),
            tool: self.function.map(|f| f.tool.clone()),
            arguments: parsed
                .clone()
                .unwrap_or_else(|_| self.call.arguments.clone()),
            step,
        }))
    }

    /// An error result made here without (or after) calling the server: the model reads
    /// `message` and can correct its call.
    fn local_error(&self, started: Instant, message: String) -> ToolResult {
        ToolResult {
            id: Some(json!(self.call.id).into()),
            server: self.function.map(|f| f.server.clone()),
            tool: self
                .function
                .map_or_else(|| self.call.name.clone(), |f| f.tool.clone()),
            name: self.display_name.clone(),
            is_error: true,
            content: json!([{"type": "text", "text": message}]),
            structured_content: None,
            text: message,
            duration_ms: started.elapsed().as_millis() as u64,
        }
    }
}

/// The message for a tool that does not exist, naming (up to 50 of) the tools that do so the
/// model can pick one.
fn unknown_tool(call: &ToolCall, toolbox: &Toolbox) -> String {
    let mut names: Vec<&str> = toolbox.functions.iter().map(|f| f.name.as_str()).collect();
    names.truncate(50);
    format!(
        "unknown tool `{}`; available tools: {}",
        call.name,
        names.join(", ")
    )
}

/// Check the arguments against the tool's schema and call the server only when they pass:
/// a refused or failed call becomes an error result the model can act on.
async fn call_checked(
    resolved: &Resolved<'_>,
    function: &Function,
    mut arguments: Value,
    sessions: &[Slot],
    started: Instant,
) -> ToolResult {
    function.fill_defaults(&mut arguments);
    let violations = function.violations(&arguments);
    if !violations.is_empty() {
        return resolved.local_error(
            started,
            format!(
                "invalid arguments, no call was made; fix these and call again:\n{}",
                violations.join("\n")
            ),
        );
    }
    let Value::Object(map) = arguments else {
        return resolved.local_error(
            started,
            "invalid arguments: they must be a JSON object".to_string(),
        );
    };
    match call_on(&sessions[function.session], &function.tool, map).await {
        Ok(result) => crate::commands::tools::result_event(
            Some(json!(resolved.call.id).into()),
            &function.server,
            &function.tool,
            result,
            started,
        ),
        Err(failure) => resolved.local_error(
            started,
            format!("the tool call failed: {}", failure.message),
        ),
    }
}

/// How images are shown to the model: as image parts (`llm.images`), or described, with
/// the file they were saved to when there is a `--save-dir`.
struct Seen<'a> {
    images: bool,
    saving: Option<&'a crate::results::Shaping>,
}

/// What the model sees of a tool result: [`model_text`], and with `llm.images` each PNG,
/// JPEG, GIF or WebP image as an image part instead of a placeholder.
fn for_model(result: &ToolResult, cap: usize, seen: &Seen) -> ForModel {
    let blocks = result.content.as_array().into_iter().flatten();
    let mut images = Vec::new();
    let parts: Vec<String> = blocks
        .map(|block| match image_part(block, seen.images) {
            Some(part) => {
                images.push(part);
                format!("[image {}: sent to you as an image]", images.len())
            }
            None => match seen
                .saving
                .and_then(|saving| saved_description(block, saving))
            {
                Some(description) => description,
                None => block_text(block),
            },
        })
        .collect();
    ForModel {
        text: joined_and_capped(parts, result, cap),
        images,
    }
}

/// An image block as an `image_url` part with a data URL, when the model takes images and
/// the type is one chat APIs accept.
fn image_part(block: &Value, images: bool) -> Option<Value> {
    if !images || block.get("type").and_then(Value::as_str) != Some("image") {
        return None;
    }
    let mime = block.get("mimeType").and_then(Value::as_str)?;
    let accepted = ["image/png", "image/jpeg", "image/gif", "image/webp"];
    if !accepted.contains(&mime.to_ascii_lowercase().as_str()) {
        return None;
    }
    let data = block.get("data").and_then(Value::as_str)?;
    Some(json!({"type": "image_url", "image_url": {"url": format!("data:{mime};base64,{data}")}}))
}

/// `[image saved to PATH: image/png, 4033 bytes]` for binary content written to the save dir
/// (the same file the stdout line names).
fn saved_description(block: &Value, saving: &crate::results::Shaping) -> Option<String> {
    let kind = block.get("type").and_then(Value::as_str)?;
    let mut copy = match kind {
        "image" | "audio" => block.clone(),
        "resource" => block.get("resource")?.clone(),
        _ => return None,
    };
    let object = copy.as_object_mut()?;
    saving.save_binary(object)?;
    let path = object.get("path").and_then(Value::as_str)?;
    let mime = object
        .get("mime_type")
        .and_then(Value::as_str)
        .unwrap_or("unknown type");
    let bytes = object.get("bytes").and_then(Value::as_u64).unwrap_or(0);
    Some(format!("[{kind} saved to {path}: {mime}, {bytes} bytes]"))
}

/// What the model sees of a tool result: text parts joined, structured content as JSON,
/// placeholders for binary content, an error marker, and a size cap with a visible note.
#[cfg(test)]
fn model_text(result: &ToolResult, cap: usize) -> String {
    let blocks = result.content.as_array().into_iter().flatten();
    joined_and_capped(blocks.map(block_text).collect(), result, cap)
}

/// The parts joined, the structured content after them, marked when the tool failed, capped.
fn joined_and_capped(parts: Vec<String>, result: &ToolResult, cap: usize) -> String {
    let mut text = with_structured(parts.join("\n"), result.structured_content.as_ref());
    if result.is_error {
        text = format!("{TOOL_ERROR_MARK}{text}");
    }
    capped(text, cap)
}

/// One content block as text: binary content and links become a short placeholder.
fn block_text(block: &Value) -> String {
    let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
    let field = |value: &Value, name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mime = |value: &Value| {
        value
            .get("mimeType")
            .and_then(Value::as_str)
            .unwrap_or("unknown type")
            .to_string()
    };
    match kind {
        "text" => field(block, "text"),
        "image" | "audio" => {
            let bytes = block
                .get("data")
                .and_then(Value::as_str)
                .map_or(0, |d| d.len() * 3 / 4);
            format!("[{kind} omitted: {}, about {bytes} bytes]", mime(block))
        }
        "resource_link" => format!("[resource link: {}]", field(block, "uri")),
        "resource" => {
            let resource = block.get("resource").cloned().unwrap_or_default();
            let uri = field(&resource, "uri");
            match resource.get("text").and_then(Value::as_str) {
                Some(text) => format!("[resource {uri}]\n{text}"),
                None => format!("[resource omitted: {uri}, {}]", mime(&resource)),
            }
        }
        other => format!("[{other} content omitted]"),
    }
}

/// The structured content after the text, unless the text already is that same JSON.
fn with_structured(text: String, structured: Option<&Value>) -> String {
    let Some(structured) = structured else {
        return text;
    };
    if serde_json::from_str::<Value>(text.trim()).is_ok_and(|v| &v == structured) {
        return text;
    }
    let json = structured.to_string();
    if text.is_empty() {
        json
    } else {
        format!("{text}\nstructuredContent: {json}")
    }
}

/// At most `cap` bytes (cut on a character boundary), with a note saying what was cut.
fn capped(mut text: String, cap: usize) -> String {
    if text.len() <= cap {
        return text;
    }
    let total = text.len();
    let mut end = cap;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!(
        "\n[truncated by mcpchat: showing {end} of {total} bytes]"
    ));
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

    #[test]
    fn model_text_shows_resources_and_links_by_uri_and_type() {
        let blocks = [
            json!({"type": "resource", "resource": {"uri": "file:///a.txt", "text": "hello"}}),
            json!({"type": "resource", "resource": {"uri": "file:///b.png", "mimeType": "image/png", "blob": "AAAA"}}),
            json!({"type": "resource_link", "uri": "file:///c", "name": "c"}),
            json!({"type": "hologram"}),
        ];
        let texts: Vec<String> = blocks.iter().map(block_text).collect();
        assert_eq!(
            texts,
            [
                "[resource file:///a.txt]\nhello",
                "[resource omitted: file:///b.png, image/png]",
                "[resource link: file:///c]",
                "[hologram content omitted]",
            ]
        );
        assert_eq!(
            with_structured("{\"k\": 1}".into(), Some(&json!({"k": 1}))),
            "{\"k\": 1}"
        );
    }
}
