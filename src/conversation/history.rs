//! What of a stored conversation goes into the next request (trimming by whole exchanges),
//! and how a stored conversation reads back as `ask`'s own lines (`sessions show`).

use serde_json::{Value, json};

use crate::events::{Event, Message, PromptText, ToolCallInfo, ToolResult};

/// A rough token count: about four bytes of JSON per token. Good enough to keep a request
/// under a budget; the model API reports the real numbers in `usage`.
pub fn estimate(message: &Value) -> u64 {
    message.to_string().len() as u64 / 4 + 1
}

/// Messages split into exchanges, each starting at a user message. A tool call and its
/// result always fall in the same exchange.
fn exchanges(history: &[Value]) -> Vec<&[Value]> {
    let mut starts: Vec<usize> = history
        .iter()
        .enumerate()
        .filter(|(_, m)| m["role"] == "user")
        .map(|(i, _)| i)
        .collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    starts
        .iter()
        .enumerate()
        .map(|(n, start)| &history[*start..starts.get(n + 1).copied().unwrap_or(history.len())])
        .filter(|exchange| !exchange.is_empty())
        .collect()
}

/// The history that fits.
#[derive(Debug, PartialEq)]
pub struct Fitted {
    pub messages: Vec<Value>,
    /// Exchanges left out, of how many.
    pub left_out: usize,
    pub exchanges: usize,
    /// The estimate for the whole history, before trimming.
    pub estimate: u64,
}

/// Leave out the oldest whole exchanges until `history` plus `fixed` (the system prompt and
/// the new prompt, estimated) fits in `max` tokens. Without a maximum everything is kept.
pub fn fit(history: &[Value], fixed: u64, max: Option<u64>) -> Fitted {
    let exchanges = exchanges(history);
    let sizes: Vec<u64> = exchanges
        .iter()
        .map(|exchange| exchange.iter().map(estimate).sum())
        .collect();
    let total: u64 = sizes.iter().sum();
    let mut left_out = 0;
    if let Some(max) = max {
        let mut kept = total;
        while left_out < exchanges.len() && kept + fixed > max {
            kept -= sizes[left_out];
            left_out += 1;
        }
    }
    Fitted {
        messages: exchanges[left_out..].concat(),
        left_out,
        exchanges: exchanges.len(),
        estimate: total,
    }
}

/// The lines `sessions show` prints: each user prompt as a `prompt` line, then the assistant's
/// text and tool calls and the tool results, as `ask` printed them (tool results carry the
/// text the model saw; timings are not stored, so `duration_ms` is 0).
pub fn replay(messages: &[Value]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut turn = 0;
    let mut step = 0;
    let mut names: std::collections::HashMap<String, String> = Default::default();
    for message in messages {
        match message["role"].as_str() {
            Some("user") => {
                turn += 1;
                step = 0;
                events.push(Event::UserPrompt(PromptText {
                    content: text_of(&message["content"]),
                    turn,
                }));
            }
            Some("assistant") => {
                step += 1;
                let content = text_of(&message["content"]);
                if !content.is_empty() {
                    events.push(Event::Message(Message { content, step }));
                }
                for call in message["tool_calls"].as_array().into_iter().flatten() {
                    let id = call["id"].as_str().unwrap_or_default().to_string();
                    let name = call["function"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let (server, tool) = split(&name);
                    let arguments = match &call["function"]["arguments"] {
                        Value::String(text) => {
                            serde_json::from_str(text).unwrap_or_else(|_| json!(text))
                        }
                        other => other.clone(),
                    };
                    names.insert(id.clone(), name.clone());
                    events.push(Event::ToolCall(ToolCallInfo {
                        id,
                        name,
                        server,
                        tool,
                        arguments,
                        step: step.max(1),
                    }));
                }
            }
            Some("tool") => {
                let id = message["tool_call_id"].as_str().unwrap_or_default();
                let name = names.get(id).cloned().unwrap_or_default();
                let (server, tool) = split(&name);
                let text = text_of(&message["content"]);
                events.push(Event::ToolResult(ToolResult {
                    id: Some(json!(id).into()),
                    server,
                    tool: tool.unwrap_or_else(|| name.clone()),
                    name,
                    is_error: text.starts_with(crate::agent::TOOL_ERROR_MARK),
                    content: json!([{"type": "text", "text": text}]),
                    structured_content: None,
                    text,
                    duration_ms: 0,
                }));
            }
            _ => {}
        }
    }
    events
}

/// `server__tool` into its parts, when the server part is a valid server name.
fn split(name: &str) -> (Option<String>, Option<String>) {
    match name.split_once(crate::commands::tools::SEPARATOR) {
        Some((server, tool))
            if !server.is_empty()
                && !tool.is_empty()
                && server
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            (Some(server.to_string()), Some(tool.to_string()))
        }
        _ => (None, None),
    }
}

/// A message's text: a string, or the text parts of an array.
pub fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(n: usize, with_tool: bool) -> Vec<Value> {
        let mut messages = vec![json!({"role": "user", "content": format!("question {n}")})];
        if with_tool {
            messages.push(json!({"role": "assistant", "content": "", "tool_calls": [
                {"id": format!("c{n}"), "type": "function", "function": {"name": "s__t", "arguments": "{}"}}
            ]}));
            messages.push(json!({"role": "tool", "tool_call_id": format!("c{n}"), "content": "x".repeat(400)}));
        }
        messages.push(json!({"role": "assistant", "content": format!("answer {n}")}));
        messages
    }

    #[test]
    fn oldest_whole_exchanges_are_left_out_first() {
        let history: Vec<Value> = (1..=3).flat_map(|n| exchange(n, n != 3)).collect();
        let all = fit(&history, 10, None);
        assert_eq!((all.left_out, all.exchanges), (0, 3));
        assert_eq!(all.messages, history);
        let sizes: Vec<u64> = (1..=3)
            .map(|n| exchange(n, n != 3).iter().map(estimate).sum())
            .collect();
        // Room for the last two exchanges only.
        let fitted = fit(&history, 10, Some(sizes[1] + sizes[2] + 10));
        assert_eq!(fitted.left_out, 1);
        assert_eq!(
            fitted.messages,
            [exchange(2, true), exchange(3, false)].concat()
        );
        // No room at all: no history, never half an exchange.
        assert!(fit(&history, 10, Some(5)).messages.is_empty());
    }

    #[test]
    fn replay_gives_ask_lines_with_turns_and_steps() {
        let events = replay(&[exchange(1, true), exchange(2, false)].concat());
        let lines: Vec<Value> = events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or_default())
            .collect();
        let types: Vec<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
        assert_eq!(
            types,
            [
                "user_prompt",
                "tool_call",
                "tool_result",
                "message",
                "user_prompt",
                "message"
            ]
        );
        assert_eq!(lines[1]["server"], "s");
        assert_eq!(lines[2]["id"], "c1");
        assert_eq!(lines[3]["step"], 2);
        assert_eq!(lines[4]["turn"], 2);
        assert_eq!(lines[5]["step"], 1);
    }
}
