//! What the model answered: text, tool calls and token usage, parsed from a non-streaming
//! completion. Provider quirks are absorbed here: arguments as string or object, missing
//! call ids, tool calls with any finish_reason.

use serde_json::{Value, json};

/// Token counts the model API reported, summed over a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// The stdout contract owns its types; the client converts into them.
impl From<Usage> for crate::events::Usage {
    fn from(usage: Usage) -> Self {
        crate::events::Usage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
        }
    }
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
    }

    pub(super) fn from_json(value: &Value) -> Option<Usage> {
        let number = |key: &str| value.get(key).and_then(Value::as_u64).unwrap_or(0);
        value.is_object().then(|| {
            let prompt_tokens = number("prompt_tokens");
            let completion_tokens = number("completion_tokens");
            let total = number("total_tokens");
            Usage {
                prompt_tokens,
                completion_tokens,
                total_tokens: if total == 0 {
                    prompt_tokens + completion_tokens
                } else {
                    total
                },
            }
        })
    }
}

/// A tool call requested by the model.
#[derive(Debug, Clone)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as sent (a JSON string, an object, or nothing).
    pub arguments: Value,
}

impl ToolCall {
    /// The arguments as a JSON value: providers send a JSON string, some an object.
    pub fn parsed_arguments(&self) -> Result<Value, String> {
        match &self.arguments {
            Value::String(text) if text.trim().is_empty() => Ok(json!({})),
            Value::String(text) => serde_json::from_str(text)
                .map_err(|e| format!("the arguments are not valid JSON ({e}): {text}")),
            Value::Null => Ok(json!({})),
            other => Ok(other.clone()),
        }
    }
}

/// One model response.
#[derive(Debug, Clone, Default)]
pub struct Turn {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<String>,
    pub usage: Usage,
}

/// A non-streaming completion.
pub(super) fn parse_completion(value: &Value) -> Option<Turn> {
    let choice = value.get("choices")?.get(0)?;
    let message = choice.get("message")?;
    let content = message
        .get("content")
        .and_then(Value::as_str)
        .map(str::to_string);
    let tool_calls = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .enumerate()
                .filter_map(|(index, call)| {
                    let function = call.get("function")?;
                    Some(ToolCall {
                        id: call_id(call.get("id"), index),
                        name: function.get("name")?.as_str()?.to_string(),
                        arguments: function.get("arguments").cloned().unwrap_or(Value::Null),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Turn {
        content,
        tool_calls,
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
        usage: value
            .get("usage")
            .and_then(Usage::from_json)
            .unwrap_or_default(),
    })
}

/// The provider's id, or a generated one when it sent none.
pub(super) fn call_id(id: Option<&Value>, index: usize) -> String {
    match id.and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(id) => id.to_string(),
        None => {
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("call_mcpchat_{n}_{index}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tool_calls_with_object_arguments_and_no_id() {
        let turn = parse_completion(&json!({
            "choices": [{"message": {"content": null, "tool_calls": [
                {"type": "function", "function": {"name": "s__t", "arguments": {"a": 1}}}
            ]}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4}
        }))
        .unwrap_or_default();
        assert_eq!(turn.tool_calls.len(), 1);
        assert!(turn.tool_calls[0].id.starts_with("call_mcpchat_"));
        assert_eq!(turn.tool_calls[0].parsed_arguments(), Ok(json!({"a": 1})));
        assert_eq!(turn.usage.total_tokens, 7);
    }
}
