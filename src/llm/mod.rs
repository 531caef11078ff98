//! OpenAI-compatible chat completions client (OpenAI, LM Studio, Ollama, llama.cpp, vLLM...).
//!
//! Guarantees: every request is bounded (a whole-response timeout, or an idle timeout between
//! stream chunks); 429/500/502/503/504 and connection errors are retried with exponential
//! backoff and jitter, honouring `Retry-After`, a bounded number of times; a server that
//! rejects streaming with tools gets one non-streaming retry. Provider quirks are absorbed
//! here: arguments as string or object, missing call ids, tool calls with any finish_reason.
//!
//! Parts: `provider` (settings from flags > env > file > preset), `request` (sending with
//! retries and the errors the API gives), `stream` (server-sent chunks into a turn), `reply`
//! (what the model answered: text, tool calls, usage), `capped` (replies read under a byte cap).

mod capped;
mod provider;
mod reply;
mod request;
mod stream;

use serde_json::{Value, json};

use crate::exit::Failure;
use crate::redact;
use request::Rejected;

pub use provider::{Provider, ProviderFlags, env_number, env_text};
pub use reply::{ToolCall, Turn, Usage};

pub struct Client {
    http: reqwest::Client,
    pub provider: Provider,
    /// Set once the server has refused streaming together with tools.
    no_stream_with_tools: std::sync::atomic::AtomicBool,
    /// Set once the server has refused `tool_choice: "required"`.
    no_required: std::sync::atomic::AtomicBool,
}

/// What one chat completion asks for.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest<'a> {
    pub messages: &'a [Value],
    pub tools: &'a [Value],
    pub temperature: Option<f64>,
    pub stream: bool,
    /// `auto`, `required` or `none`; sent only when tools are offered.
    pub tool_choice: Option<&'a str>,
    pub max_tokens: Option<u32>,
    pub stop: &'a [String],
}

impl Client {
    pub fn new(http: reqwest::Client, provider: Provider) -> Client {
        Client {
            http,
            provider,
            no_stream_with_tools: std::sync::atomic::AtomicBool::new(false),
            no_required: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// One chat completion. `on_delta` receives streamed text as it arrives.
    pub async fn chat(
        &self,
        request: &ChatRequest<'_>,
        on_delta: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Turn, Failure> {
        use std::sync::atomic::Ordering;
        let mut request = request.clone();
        request.stream = request.stream
            && (request.tools.is_empty() || !self.no_stream_with_tools.load(Ordering::Relaxed));
        if request.tool_choice == Some("required") && self.no_required.load(Ordering::Relaxed) {
            request.tool_choice = Some("auto");
        }
        let mut outcome = self.request(&request, on_delta).await;
        if let Err(Rejected { status, message }) = &outcome
            && request.stream
            && !request.tools.is_empty()
            && matches!(status, 400 | 422 | 501)
        {
            self.no_stream_with_tools.store(true, Ordering::Relaxed);
            crate::report::notice(&format!(
                "the model API refused streaming with tools (HTTP {status}: {}); retrying without streaming",
                redact::text(message)
            ));
            request.stream = false;
            outcome = self.request(&request, on_delta).await;
        }
        // Some local servers (older llama.cpp, LM Studio builds) reject `required`.
        if let Err(Rejected { status, message }) = &outcome
            && request.tool_choice == Some("required")
            && matches!(status, 400 | 422)
        {
            self.no_required.store(true, Ordering::Relaxed);
            crate::report::notice(&format!(
                "the model API rejected tool_choice \"required\" (HTTP {status}: {}); retrying with \"auto\"",
                redact::text(message)
            ));
            request.tool_choice = Some("auto");
            outcome = self.request(&request, on_delta).await;
        }
        match outcome {
            Ok(turn) => turn,
            Err(rejected) => Err(rejected.into_failure(&self.provider)),
        }
    }

    pub(super) fn body(&self, request: &ChatRequest<'_>) -> Value {
        let mut body = json!({
            "model": self.provider.model,
            "messages": request.messages,
        });
        if !request.tools.is_empty() {
            body["tools"] = Value::Array(request.tools.to_vec());
            if let Some(choice) = request.tool_choice {
                body["tool_choice"] = json!(choice);
            }
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(max_tokens) = request.max_tokens {
            body["max_tokens"] = json!(max_tokens);
        }
        if !request.stop.is_empty() {
            body["stop"] = json!(request.stop);
        }
        if request.stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }
}
