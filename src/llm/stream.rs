//! Streamed completions: server-sent `data:` lines into text deltas and a finished turn,
//! whatever the chunk boundaries; each chunk is awaited under the idle timeout, and the whole
//! stream under the total timeout (a stream that trickles forever still ends).

use futures::StreamExt;
use serde_json::Value;

use super::Client;
use super::capped::Budget;
use super::reply::{ToolCall, Turn, Usage, call_id};
use super::request::preview;
use crate::exit::{Failure, Kind};
use crate::redact;

impl Client {
    pub(super) async fn read_stream(
        &self,
        response: reqwest::Response,
        on_delta: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Turn, Failure> {
        let mut stream = response.bytes_stream();
        let mut lines = DataLines::default();
        let mut builder = StreamBuilder::default();
        let deadline = tokio::time::Instant::now() + self.provider.total_timeout;
        let mut budget = Budget::new(self.provider.max_reply_bytes);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let wait = self.provider.timeout.min(left);
            let chunk = match tokio::time::timeout(wait, stream.next()).await {
                Err(_) if wait == left => return Err(self.total_timeout_failure()),
                Err(_) => return Err(self.timeout_failure()),
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(self.protocol(&format!("the response stream broke off: {e}")));
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            if !budget.take(chunk.len()) {
                return Err(self.too_large());
            }
            for data in lines.push(&chunk) {
                let data = data.as_str();
                if data == "[DONE]" {
                    return Ok(builder.finish());
                }
                if let Err(costly) =
                    crate::json_cost::check(data.as_bytes(), self.provider.max_reply_bytes)
                {
                    return Err(self.too_costly(&costly));
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
}

impl Client {
    /// A stream that kept sending (each gap under the idle timeout) past the overall bound.
    fn total_timeout_failure(&self) -> Failure {
        Failure::new(
            Kind::Timeout,
            format!(
                "the model API at {} was still streaming its answer after {}",
                redact::url(&self.provider.base_url),
                crate::human::duration(self.provider.total_timeout)
            ),
        )
        .hint("raise the bound with --llm-total-timeout SECS (or llm.total_timeout_secs)")
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
    use serde_json::json;

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
