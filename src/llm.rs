//! OpenAI-compatible chat completions client (OpenAI, LM Studio, Ollama, llama.cpp, vLLM...).
//!
//! Guarantees: every request is bounded (a whole-response timeout, or an idle timeout between
//! stream chunks); 429/500/502/503/504 and connection errors are retried with exponential
//! backoff and jitter, honouring `Retry-After`, a bounded number of times; a server that
//! rejects streaming with tools gets one non-streaming retry. Provider quirks are absorbed
//! here: arguments as string or object, missing call ids, tool calls with any finish_reason.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::config::LlmConfig;
use crate::exit::{Failure, Kind};
use crate::redact;

/// Settings for one provider, resolved from flags > env > config file > preset.
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    pub max_retries: u32,
}

/// Provider-related flags of `ask`.
#[derive(Debug, Default, Clone)]
pub struct ProviderFlags {
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub timeout: Option<f64>,
    pub max_retries: Option<u32>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A numeric environment variable; set but unparsable is a usage error, not silence.
pub fn env_number<T: std::str::FromStr>(name: &str) -> Result<Option<T>, Failure> {
    match env(name) {
        None => Ok(None),
        Some(value) => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Failure::usage(format!("${name} must be a number, not `{value}`"))),
    }
}

/// A string environment variable (unset or blank is `None`).
pub fn env_text(name: &str) -> Option<String> {
    env(name)
}

impl Provider {
    pub fn resolve(flags: &ProviderFlags, config: &LlmConfig) -> Result<Provider, Failure> {
        let name = flags
            .provider
            .clone()
            .or_else(|| env("MCPCHAT_PROVIDER"))
            .or_else(|| config.provider.clone())
            .unwrap_or_else(|| "openai".to_string())
            .to_ascii_lowercase();
        // The file's base_url, model and key describe the file's provider: when a flag or the
        // environment picks another one, they must not leak into it (an OpenAI key sent to a
        // local server, say).
        let file_provider = config
            .provider
            .as_deref()
            .unwrap_or("openai")
            .to_ascii_lowercase();
        let same_provider = file_provider == name;
        let file = |value: &Option<String>| value.clone().filter(|_| same_provider);
        // (base URL env, default base URL, model env, default model, key env, key required)
        let preset: (&str, Option<&str>, &str, Option<&str>, Option<&str>, bool) =
            match name.as_str() {
                "openai" => (
                    "OPENAI_BASE_URL",
                    Some("https://api.openai.com/v1"),
                    "MODEL",
                    Some("gpt-4o-mini"),
                    Some("OPENAI_API_KEY"),
                    true,
                ),
                "lmstudio" => (
                    "LMSTUDIO_BASE_URL",
                    Some("http://localhost:1234/v1"),
                    "LMSTUDIO_MODEL",
                    Some("local-model"),
                    Some("LMSTUDIO_API_KEY"),
                    false,
                ),
                "ollama" => (
                    "OLLAMA_BASE_URL",
                    Some("http://localhost:11434/v1"),
                    "OLLAMA_MODEL",
                    Some("llama3.2"),
                    Some("OLLAMA_API_KEY"),
                    false,
                ),
                "custom" => ("MCPCHAT_BASE_URL", None, "MODEL", None, None, false),
                other => {
                    let mut failure = Failure::usage(format!("unknown model provider `{other}`"));
                    if let Some(best) =
                        crate::config::suggest(other, &["openai", "lmstudio", "ollama", "custom"])
                    {
                        failure = failure.hint(format!("did you mean `{best}`?"));
                    }
                    return Err(failure.hint("providers: openai, lmstudio, ollama, custom"));
                }
            };
        let (base_env, base_default, model_env, model_default, key_env, key_required) = preset;
        let base_url = flags
            .base_url
            .clone()
            .or_else(|| env("MCPCHAT_BASE_URL"))
            .or_else(|| env(base_env))
            .or_else(|| file(&config.base_url))
            .or_else(|| base_default.map(str::to_string))
            .ok_or_else(|| {
                Failure::usage(format!("provider `{name}` needs a base URL")).hint(
                    "pass --base-url URL, set MCPCHAT_BASE_URL, or `llm.base_url` in the config",
                )
            })?;
        let model = flags
            .model
            .clone()
            .or_else(|| env("MCPCHAT_MODEL"))
            .or_else(|| env(model_env))
            .or_else(|| file(&config.model))
            .or_else(|| model_default.map(str::to_string))
            .ok_or_else(|| {
                Failure::usage(format!("provider `{name}` needs a model name"))
                    .hint("pass --model NAME, set MCPCHAT_MODEL, or `llm.model` in the config")
            })?;
        let key_var = env("MCPCHAT_API_KEY_ENV")
            .or_else(|| file(&config.api_key_env))
            .or_else(|| key_env.map(str::to_string));
        let api_key = env("MCPCHAT_API_KEY").or_else(|| key_var.as_deref().and_then(env));
        if api_key.is_none() && key_required {
            let var = key_var.unwrap_or_else(|| "OPENAI_API_KEY".to_string());
            return Err(Failure::new(
                Kind::Auth,
                format!("no API key for the `{name}` model provider: {var} is not set"),
            )
            .hint(format!("export {var}=... (or put it in ./.env)"))
            .hint("for a local server use --provider lmstudio, ollama or custom"));
        }
        if let Some(key) = &api_key {
            redact::register(key);
        }
        // Gateways take keys in the URL too (`?api-key=...`, `https://user:key@host/v1`).
        redact::register_url(&base_url);
        let timeout = flags
            .timeout
            .or(env_number("MCPCHAT_LLM_TIMEOUT")?)
            .or(config.timeout_secs)
            .unwrap_or(300.0);
        if !(timeout.is_finite() && timeout > 0.0) {
            return Err(Failure::usage(
                "the model API timeout must be a positive number of seconds",
            ));
        }
        let max_retries = flags
            .max_retries
            .or(env_number("MCPCHAT_LLM_MAX_RETRIES")?)
            .or(config.max_retries)
            .unwrap_or(3);
        Ok(Provider {
            name,
            base_url: base_url.trim_end_matches('/').to_string(),
            model,
            api_key,
            timeout: Duration::from_secs_f64(timeout),
            max_retries,
        })
    }
}

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

    fn from_json(value: &Value) -> Option<Usage> {
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

    fn body(&self, request: &ChatRequest<'_>) -> Value {
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

    /// Send with retries. `Err(Rejected)` carries a final HTTP status for the fallback logic;
    /// other failures are already classified.
    async fn request(
        &self,
        request: &ChatRequest<'_>,
        on_delta: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Result<Turn, Failure>, Rejected> {
        let stream = request.stream;
        let url = format!("{}/chat/completions", self.provider.base_url);
        let body = self.body(request);
        let mut attempt = 0u32;
        loop {
            let mut request = self.http.post(&url).json(&body);
            if let Some(key) = &self.provider.api_key {
                request = request.bearer_auth(key);
            }
            if !stream {
                request = request.timeout(self.provider.timeout);
            }
            let sent = tokio::time::timeout(self.provider.timeout, request.send()).await;
            let retry_after = match sent {
                Err(_) => return Ok(Err(self.timeout_failure())),
                Ok(Err(error)) if error.is_timeout() => return Ok(Err(self.timeout_failure())),
                Ok(Err(error)) => {
                    if attempt >= self.provider.max_retries {
                        return Ok(Err(self.unreachable(&error)));
                    }
                    tracing::info!(
                        "model API request failed ({}); retrying",
                        redact::text(&error.to_string())
                    );
                    None
                }
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    if response.status().is_success() {
                        return Ok(if stream {
                            self.read_stream(response, on_delta).await
                        } else {
                            self.read_json(response).await
                        });
                    }
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    let text = tokio::time::timeout(Duration::from_secs(10), response.text())
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or_default();
                    let message = error_message(&text);
                    if !matches!(status, 429 | 500 | 502 | 503 | 504)
                        || attempt >= self.provider.max_retries
                    {
                        return Err(Rejected { status, message });
                    }
                    tracing::info!(status, "model API answered HTTP {status}; retrying");
                    retry_after
                }
            };
            let delay = retry_after.unwrap_or_else(|| backoff(attempt));
            attempt += 1;
            tokio::time::sleep(delay).await;
        }
    }

    async fn read_json(&self, response: reqwest::Response) -> Result<Turn, Failure> {
        let text = response.text().await.map_err(|e| {
            if e.is_timeout() {
                self.timeout_failure()
            } else {
                self.protocol(&format!("the response was cut off: {e}"))
            }
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            self.protocol(&format!(
                "the response is not valid JSON ({e}): {}",
                preview(&text)
            ))
        })?;
        parse_completion(&value).ok_or_else(|| {
            self.protocol(&format!("the response has no choices: {}", preview(&text)))
        })
    }

    async fn read_stream(
        &self,
        response: reqwest::Response,
        on_delta: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Turn, Failure> {
        let mut stream = response.bytes_stream();
        let mut lines = DataLines::default();
        let mut builder = StreamBuilder::default();
        loop {
            let chunk = match tokio::time::timeout(self.provider.timeout, stream.next()).await {
                Err(_) => return Err(self.timeout_failure()),
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(self.protocol(&format!("the response stream broke off: {e}")));
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            for data in lines.push(&chunk) {
                let data = data.as_str();
                if data == "[DONE]" {
                    return Ok(builder.finish());
                }
                let value: Value = serde_json::from_str(data).map_err(|e| {
                    self.protocol(&format!(
                        "a stream chunk is not valid JSON ({e}): {}",
                        preview(data)
                    ))
                })?;
                if let Some(error) = value.get("error") {
                    return Err(Failure::new(
                        Kind::ModelError,
                        format!(
                            "the model API reported an error mid-stream: {}",
                            redact::text(&error.to_string())
                        ),
                    ));
                }
                if let Some(text) = builder.push(&value) {
                    on_delta(&text);
                }
            }
        }
        if builder.saw_finish {
            // Some servers end the stream without `[DONE]` after a finish_reason.
            return Ok(builder.finish());
        }
        Err(self.protocol("the response stream ended before it was complete"))
    }

    fn timeout_failure(&self) -> Failure {
        Failure::new(
            Kind::Timeout,
            format!(
                "timed out after {} waiting for the model API at {}",
                crate::human::duration(self.provider.timeout),
                redact::url(&self.provider.base_url)
            ),
        )
        .hint("raise it with --llm-timeout SECS (or llm.timeout_secs)")
    }

    fn unreachable(&self, error: &reqwest::Error) -> Failure {
        let mut source: &dyn std::error::Error = error;
        while let Some(next) = source.source() {
            source = next;
        }
        let mut failure = Failure::new(
            Kind::Unreachable,
            format!(
                "cannot reach the model API at {}: {}",
                redact::url(&self.provider.base_url),
                redact::text(&source.to_string())
            ),
        );
        failure = match self.provider.name.as_str() {
            "lmstudio" => {
                failure.hint("is LM Studio's server running? (Developer tab -> Start Server)")
            }
            "ollama" => failure.hint("is Ollama running? (`ollama serve`)"),
            _ => failure.hint("check --base-url / OPENAI_BASE_URL"),
        };
        failure
    }

    fn protocol(&self, what: &str) -> Failure {
        Failure::new(
            Kind::Protocol,
            format!(
                "invalid response from the model API at {}: {what}",
                redact::url(&self.provider.base_url)
            ),
        )
    }
}

/// A final non-success HTTP status from the model API.
struct Rejected {
    status: u16,
    message: String,
}

impl Rejected {
    fn into_failure(self, provider: &Provider) -> Failure {
        let Rejected { status, message } = self;
        let base = redact::url(&provider.base_url);
        let message = redact::text(&message);
        match status {
            401 | 403 => Failure::new(
                Kind::Auth,
                format!("the model API at {base} rejected the API key (HTTP {status}): {message}"),
            )
            .hint(match provider.name.as_str() {
                "openai" => "check OPENAI_API_KEY (or the variable named by llm.api_key_env)",
                _ => "check the API key variable named by llm.api_key_env",
            }),
            404 => Failure::new(
                Kind::ModelError,
                format!("the model API at {base} answered HTTP 404: {message}"),
            )
            .hint(format!(
                "check the base URL (it usually ends in /v1) and the model name `{}`",
                provider.model
            )),
            _ => Failure::new(
                Kind::ModelError,
                format!("the model API at {base} answered HTTP {status}: {message}"),
            ),
        }
    }
}

/// `error.message` from an OpenAI-style error body, else the body's start.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error").and_then(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| e.as_str().map(str::to_string))
            })
        })
        .unwrap_or_else(|| preview(body))
}

fn preview(text: &str) -> String {
    let text = text.trim();
    let cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

/// `Retry-After` as seconds or an HTTP date; capped at a minute.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(seconds) = value.parse::<f64>() {
        Duration::from_secs_f64(seconds.max(0.0))
    } else {
        let when = httpdate::parse_http_date(value).ok()?;
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
    };
    Some(delay.min(Duration::from_secs(60)))
}

/// 0.5 s, 1 s, 2 s, ... up to 10 s, each with +-50% jitter.
fn backoff(attempt: u32) -> Duration {
    let base = 0.5 * 2f64.powi(attempt.min(5) as i32);
    let base = base.min(10.0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = 0.5 + f64::from(nanos % 1000) / 1000.0;
    Duration::from_secs_f64(base * jitter)
}

/// A non-streaming completion.
fn parse_completion(value: &Value) -> Option<Turn> {
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
fn call_id(id: Option<&Value>, index: usize) -> String {
    match id.and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(id) => id.to_string(),
        None => {
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("call_mcpchat_{n}_{index}")
        }
    }
}

/// Splits a model's event stream into the payloads of its `data:` lines, whatever the chunk
/// boundaries (a chunk may end mid-line or mid-character).
#[derive(Default)]
struct DataLines {
    buffer: Vec<u8>,
}

impl DataLines {
    fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.buffer.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(data) = line.strip_prefix("data:") {
                out.push(data.trim_start().to_string());
            }
        }
        out
    }
}

/// Accumulates a streamed completion.
#[derive(Default)]
struct StreamBuilder {
    content: String,
    saw_content: bool,
    /// (the stream's `index`, id, name, arguments), in order of first appearance.
    calls: Vec<(u64, Option<String>, String, String)>,
    finish_reason: Option<String>,
    usage: Usage,
    saw_finish: bool,
}

impl StreamBuilder {
    /// Take one chunk; returns new text to show.
    fn push(&mut self, chunk: &Value) -> Option<String> {
        if let Some(usage) = chunk.get("usage").and_then(Usage::from_json) {
            self.usage = usage;
        }
        let choice = chunk.get("choices").and_then(|c| c.get(0))?;
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
            self.saw_finish = true;
        }
        let delta = choice.get("delta")?;
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for (position, call) in calls.iter().enumerate() {
                // Looked up, not used as a position: a hostile `"index": 4294967295` must
                // not allocate four billion slots.
                let index = call
                    .get("index")
                    .and_then(Value::as_u64)
                    .unwrap_or(position as u64);
                let slot = match self.calls.iter().position(|c| c.0 == index) {
                    Some(found) => found,
                    None => {
                        self.calls.push((index, None, String::new(), String::new()));
                        self.calls.len() - 1
                    }
                };
                let slot = &mut self.calls[slot];
                if let Some(id) = call
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                {
                    slot.1 = Some(id.to_string());
                }
                if let Some(function) = call.get("function") {
                    if let Some(name) = function.get("name").and_then(Value::as_str) {
                        slot.2.push_str(name);
                    }
                    match function.get("arguments") {
                        Some(Value::String(part)) => slot.3.push_str(part),
                        Some(Value::Object(object)) => {
                            slot.3.push_str(&Value::Object(object.clone()).to_string())
                        }
                        _ => {}
                    }
                }
            }
        }
        let text = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())?;
        self.saw_content = true;
        self.content.push_str(text);
        Some(text.to_string())
    }

    fn finish(mut self) -> Turn {
        self.calls.sort_by_key(|call| call.0);
        Turn {
            content: self.saw_content.then_some(self.content),
            tool_calls: self
                .calls
                .into_iter()
                .enumerate()
                .filter(|(_, (_, _, name, _))| !name.is_empty())
                .map(|(index, (_, id, name, arguments))| ToolCall {
                    id: call_id(
                        id.as_ref().map(|s| Value::String(s.clone())).as_ref(),
                        index,
                    ),
                    name,
                    arguments: Value::String(arguments),
                })
                .collect(),
            finish_reason: self.finish_reason,
            usage: self.usage,
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

    #[test]
    fn assembles_streamed_tool_calls() {
        let mut builder = StreamBuilder::default();
        builder.push(&json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "s__t", "arguments": ""}}]}}]}));
        builder.push(&json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]}}]}));
        builder.push(&json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "2}"}}]}, "finish_reason": "tool_calls"}]}));
        let turn = builder.finish();
        assert_eq!(turn.tool_calls[0].id, "c1");
        assert_eq!(turn.tool_calls[0].parsed_arguments(), Ok(json!({"a": 2})));
    }

    #[test]
    fn retry_after_accepts_seconds() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("9999"), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("soon"), None);
    }
}

/// Property tests over the model stream parser: chunk boundaries never change the result, and
/// no byte sequence makes it panic or allocate without bound.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Cut `bytes` at the given fractions into chunks (some empty, some mid-character).
    fn split(bytes: &[u8], cuts: &[f64]) -> Vec<Vec<u8>> {
        let mut points: Vec<usize> = cuts
            .iter()
            .map(|c| (c * bytes.len() as f64) as usize)
            .collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut from = 0;
        for point in points {
            chunks.push(bytes[from..point].to_vec());
            from = point;
        }
        chunks.push(bytes[from..].to_vec());
        chunks
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn text_and_tool_arguments_survive_any_chunking(
            texts in prop::collection::vec("\\PC{0,12}", 0..6),
            parts in prop::collection::vec("[ -~é\n]{0,8}", 0..6),
            crlf in any::<bool>(),
            space in any::<bool>(),
            cuts in prop::collection::vec(0.0..1.0f64, 0..8),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let prefix = if space { "data: " } else { "data:" };
            let mut body = format!(": keep-alive{eol}{eol}");
            let mut chunks = vec![json!({"choices": [{"delta": {"role": "assistant"}}]})];
            chunks.extend(texts.iter().map(|t| json!({"choices": [{"delta": {"content": t}}]})));
            chunks.push(json!({"choices": [{"delta": {"tool_calls": [
                {"index": 0, "id": "c1", "type": "function", "function": {"name": "s__t", "arguments": ""}}]}}]}));
            chunks.extend(parts.iter().map(|p| json!({"choices": [{"delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": p}}]}}]})));
            chunks.push(json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}));
            for chunk in &chunks {
                body.push_str(&format!("{prefix}{chunk}{eol}{eol}"));
            }
            body.push_str(&format!("{prefix}[DONE]{eol}{eol}"));

            let mut lines = DataLines::default();
            let mut builder = StreamBuilder::default();
            let mut shown = String::new();
            let mut done = false;
            for piece in split(body.as_bytes(), &cuts) {
                for data in lines.push(&piece) {
                    if data == "[DONE]" {
                        done = true;
                        continue;
                    }
                    let value: Value = serde_json::from_str(&data)
                        .map_err(|e| TestCaseError::fail(format!("{e}: {data:?}")))?;
                    if let Some(text) = builder.push(&value) {
                        shown.push_str(&text);
                    }
                }
            }
            prop_assert!(done);
            let turn = builder.finish();
            let text: String = texts.concat();
            prop_assert_eq!(&shown, &text);
            prop_assert_eq!(turn.content, (!text.is_empty()).then_some(text));
            prop_assert_eq!(turn.tool_calls.len(), 1);
            prop_assert_eq!(&turn.tool_calls[0].arguments, &Value::String(parts.concat()));
            prop_assert_eq!(turn.finish_reason.as_deref(), Some("tool_calls"));
        }

        #[test]
        fn hostile_chunks_never_panic_or_allocate_per_index(
            bytes in prop::collection::vec(any::<u8>(), 0..256),
            indexes in prop::collection::vec(any::<u64>(), 0..16),
            cuts in prop::collection::vec(0.0..1.0f64, 0..8),
        ) {
            let mut lines = DataLines::default();
            for piece in split(&bytes, &cuts) {
                for data in lines.push(&piece) {
                    let _ = serde_json::from_str::<Value>(&data);
                }
            }
            let mut builder = StreamBuilder::default();
            for index in &indexes {
                builder.push(&json!({"choices": [{"delta": {"tool_calls": [
                    {"index": index, "function": {"name": "x", "arguments": "{}"}}]}}]}));
            }
            prop_assert!(builder.calls.len() <= indexes.len());
            let turn = builder.finish();
            prop_assert!(turn.tool_calls.len() <= indexes.len());
        }
    }
}
