//! Servers' `sampling/createMessage` requests, answered by the configured model when the user
//! allows it (`--sampling allow`, `llm.sampling`, `MCPCHAT_SAMPLING`).
//!
//! The request's messages, system prompt, `maxTokens`, temperature and stop sequences map onto
//! one chat completion; the server's model hints are logged, not obeyed (the user chose the
//! model); tools offered in the request are not (the model answers in text). Every answer is
//! reported as a `sampling` line: on stdout in `ask`, on stderr at `-v` elsewhere, and its
//! usage is summed for `ask`'s `result` line.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};

use crate::events::{Event, SamplingInfo};
use crate::llm::{ChatRequest, Client, Usage};
use crate::output::Output;
use crate::redact;

/// Whether servers may have the configured model answer their sampling requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// Answer with the spec's "User rejected sampling request" error (the default).
    #[default]
    Deny,
    /// Answer with the configured model.
    Allow,
}

/// Answers sampling requests with one model; shared by every connection of a command.
pub struct Sampler {
    llm: Client,
    /// Where `sampling` lines go: stdout (`ask`), else the log at `-v`.
    output: Option<Arc<Output>>,
    usage: Mutex<Usage>,
}

impl Sampler {
    pub fn new(llm: Client, output: Option<Arc<Output>>) -> Sampler {
        Sampler {
            llm,
            output,
            usage: Mutex::new(Usage::default()),
        }
    }

    /// Tokens spent on sampling so far.
    pub fn usage(&self) -> Usage {
        *self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answer one request (`params` as the server sent them); `Err` is the reason to give it.
    pub async fn answer(
        &self,
        server: &str,
        params: &Value,
        temperature: Option<f64>,
    ) -> Result<Value, String> {
        let started = Instant::now();
        let hints: Vec<String> = params["modelPreferences"]["hints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|hint| hint["name"].as_str().map(str::to_string))
            .collect();
        if !hints.is_empty() {
            tracing::info!(server, hints = ?hints, model = %self.llm.provider.model, "a sampling request hinted at other models; answering with the configured one");
        }
        let messages = chat_messages(params);
        let stop: Vec<String> = params["stopSequences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        let request = ChatRequest {
            messages: &messages,
            temperature,
            max_tokens: params["maxTokens"].as_u64().map(|n| n as u32),
            stop: &stop,
            ..ChatRequest::default()
        };
        let outcome = self.llm.chat(&request, &|_| {}).await;
        let usage = outcome.as_ref().map(|turn| turn.usage).unwrap_or_default();
        self.usage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(usage);
        let error = outcome.as_ref().err().map(|f| redact::text(&f.message));
        self.report(SamplingInfo {
            server: server.to_string(),
            model: self.llm.provider.model.clone(),
            model_hints: hints,
            usage: usage.into(),
            duration_ms: started.elapsed().as_millis() as u64,
            error: error.clone(),
        });
        let turn = outcome.map_err(|f| redact::text(&f.message))?;
        let stop_reason = match turn.finish_reason.as_deref() {
            Some("length") => "maxTokens",
            Some("stop") if !stop.is_empty() => "stopSequence",
            _ => "endTurn",
        };
        Ok(json!({
            "role": "assistant",
            "content": {"type": "text", "text": turn.content.unwrap_or_default()},
            "model": self.llm.provider.model,
            "stopReason": stop_reason,
        }))
    }

    fn report(&self, info: SamplingInfo) {
        match &self.output {
            Some(output) => {
                let _ = output.emit(&Event::Sampling(info));
            }
            None => {
                let line = serde_json::to_string(&Event::Sampling(info)).unwrap_or_default();
                tracing::info!(target: "mcpchat::sampling", "{line}");
            }
        }
    }
}

/// The chat messages for a sampling request: the system prompt first, then each message with
/// its text (images as data URLs, other blocks named in brackets).
fn chat_messages(params: &Value) -> Vec<Value> {
    let mut messages = Vec::new();
    if let Some(system) = params["systemPrompt"].as_str().filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    for message in params["messages"].as_array().into_iter().flatten() {
        let role = match message["role"].as_str() {
            Some("assistant") => "assistant",
            _ => "user",
        };
        let blocks: Vec<&Value> = match &message["content"] {
            Value::Array(blocks) => blocks.iter().collect(),
            block => vec![block],
        };
        let parts: Vec<Value> = blocks.into_iter().map(part).collect();
        let content = if parts.iter().all(|p| p["type"] == "text") {
            json!(
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        } else {
            Value::Array(parts)
        };
        messages.push(json!({"role": role, "content": content}));
    }
    messages
}

/// One MCP content block as a chat content part.
fn part(block: &Value) -> Value {
    match block["type"].as_str() {
        Some("text") => json!({"type": "text", "text": block["text"].as_str().unwrap_or("")}),
        Some("image") => {
            let mime = block["mimeType"].as_str().unwrap_or("image/png");
            let data = block["data"].as_str().unwrap_or("");
            json!({"type": "image_url", "image_url": {"url": format!("data:{mime};base64,{data}")}})
        }
        Some(other) => json!({"type": "text", "text": format!("[{other} content omitted]")}),
        None => json!({"type": "text", "text": ""}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_messages_map_onto_chat_messages() {
        let params = json!({
            "systemPrompt": "Be kind.",
            "messages": [
                {"role": "user", "content": {"type": "text", "text": "hi"}},
                {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {"role": "user", "content": [{"type": "image", "data": "AAAA", "mimeType": "image/jpeg"}, {"type": "audio", "data": ""}]},
            ],
        });
        assert_eq!(
            chat_messages(&params),
            vec![
                json!({"role": "system", "content": "Be kind."}),
                json!({"role": "user", "content": "hi"}),
                json!({"role": "assistant", "content": "a\nb"}),
                json!({"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
                    {"type": "text", "text": "[audio content omitted]"},
                ]}),
            ]
        );
    }
}
