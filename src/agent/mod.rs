//! The `ask` tool loop: offer every selected server's tools to the model as functions, run the
//! calls of each model turn concurrently, feed the results back, and repeat until the model
//! answers or `max_steps` model requests have been made.
//!
//! Parts: `toolbox` (which tools are offered, under which function names), `call` (one tool
//! call: validate, call, the text the model sees). Guarantees: arguments are validated before
//! any server call (a violation goes back to the model as an error result); tool calls are
//! never retried; tool output sent back to the model is capped with a visible note; function
//! names match `^[A-Za-z0-9_-]{1,64}$` and map back to exactly one tool; the run's state lives
//! in [`Run`], outside the loop, so a signal that stops the loop loses nothing that completed.

mod call;
mod toolbox;

use serde_json::{Value, json};

use crate::events::{Event, Message};
use crate::exit::{BrokenPipe, Failure, Kind};
use crate::llm::{ChatRequest, Client, Turn, Usage};
use crate::mcp::lazy::Slot;
use crate::output::Output;

pub use toolbox::{Listed, Offered, Toolbox};

pub struct Options {
    pub max_steps: u32,
    pub temperature: Option<f64>,
    pub stream: bool,
    /// Cap on the text of one tool result sent to the model, in bytes.
    pub max_tool_output: usize,
    /// `tool_choice` for the first model request (`required` would loop forever if repeated,
    /// so later requests of the run get `auto` instead).
    pub tool_choice: Option<String>,
    /// Where the step and the tools being called are shown (stderr, on a terminal).
    pub progress: std::sync::Arc<crate::ui::Progress>,
    /// `llm.images`: the model takes images, so tools' images go to it as image parts.
    pub images: bool,
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
    /// The calls of the current model turn: id and, once it came, what the model sees of
    /// the result.
    pending: Vec<(String, Option<call::ForModel>)>,
}

impl Run {
    /// `preamble`: messages that open this run before the user's prompt (`ask --prompt`: an
    /// MCP prompt's messages); with a preamble, an empty prompt is left out.
    pub fn new(
        system: Option<&str>,
        history: Vec<Value>,
        preamble: Vec<Value>,
        prompt: &str,
    ) -> Run {
        let mut messages = Vec::new();
        if let Some(system) = system.filter(|s| !s.is_empty()) {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.extend(history);
        let first_new = messages.len();
        let only_preamble = prompt.is_empty() && !preamble.is_empty();
        messages.extend(preamble);
        if !only_preamble {
            messages.push(json!({"role": "user", "content": prompt}));
        }
        Run {
            messages,
            first_new,
            steps: 0,
            tool_calls: 0,
            usage: Usage::default(),
            pending: Vec::new(),
        }
    }

    /// The messages this run added (the prompt first), with unanswered tool calls closed,
    /// to store: without the user messages that carried tools' images (a stored conversation
    /// keeps text, and its user messages stay the user's prompts, one per turn).
    pub fn new_messages(&mut self) -> Vec<Value> {
        self.close_pending();
        self.messages[self.first_new..]
            .iter()
            .filter(|message| !carries_images(message))
            .cloned()
            .collect()
    }

    /// Append the current turn's tool results in call order; a call without an answer gets
    /// [`INTERRUPTED_RESULT`]. Images come after them, in one user message: chat APIs take
    /// image parts only from the user, and tool messages must directly follow their calls.
    fn close_pending(&mut self) {
        let mut images = Vec::new();
        for (id, answer) in std::mem::take(&mut self.pending) {
            let answer = answer.unwrap_or_else(|| call::ForModel::text(INTERRUPTED_RESULT));
            self.messages
                .push(json!({"role": "tool", "tool_call_id": id, "content": answer.text}));
            if !answer.images.is_empty() {
                let note = format!("The images tool call {id} returned:");
                images.push(json!({"type": "text", "text": note}));
                images.extend(answer.images);
            }
        }
        if !images.is_empty() {
            self.messages
                .push(json!({"role": "user", "content": images}));
        }
    }
}

/// A user message made of tools' images (see [`Run::close_pending`]).
fn carries_images(message: &Value) -> bool {
    message["role"] == "user"
        && message["content"]
            .as_array()
            .is_some_and(|parts| parts.iter().any(|p| p["type"] == "image_url"))
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

/// Everything a run needs besides its state.
pub struct Tools<'a> {
    pub llm: &'a Client,
    pub sessions: &'a [Slot],
    pub offered: Offered<'a>,
    pub options: &'a Options,
    pub output: &'a Output,
}

pub async fn run(state: &mut Run, with: &mut Tools<'_>) -> Result<Outcome, BrokenPipe> {
    loop {
        let step = state.steps + 1;
        with.options
            .progress
            .status(format!("step {step}: waiting for the model"));
        let turn = ask_model(state, with, step).await;
        state.steps = step;
        let turn = match turn {
            Ok(turn) => turn,
            Err(failure) => return Ok(Outcome::failed(failure)),
        };
        state.usage.add(turn.usage);
        let content = turn.content.clone().filter(|c| !c.is_empty());
        if let Some(content) = &content {
            with.output.emit(&Event::Message(Message {
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
        if step >= with.options.max_steps {
            return Ok(out_of_steps(state, content, with.options.max_steps));
        }
        run_calls(state, &turn, step, with).await?;
        let sessions = with.sessions;
        with.offered.refresh(sessions).await;
    }
}

/// One model request with the conversation so far; `delta` lines as text streams in.
async fn ask_model(state: &Run, with: &Tools<'_>, step: u32) -> Result<Turn, Failure> {
    let on_delta = |text: &str| {
        let _ = with.output.emit(&Event::Delta(Message {
            content: text.to_string(),
            step,
        }));
    };
    let tool_choice = match with.options.tool_choice.as_deref() {
        Some("required") if step > 1 => Some("auto"),
        other => other,
    };
    let request = ChatRequest {
        messages: &state.messages,
        tools: &with.offered.toolbox.specs,
        temperature: with.options.temperature,
        stream: with.options.stream,
        tool_choice,
        ..ChatRequest::default()
    };
    with.llm.chat(&request, &on_delta).await
}

/// The model still wants tools after the last allowed step: its calls are not run, and only
/// its text is kept, so the history has no call without a result.
fn out_of_steps(state: &mut Run, content: Option<String>, max_steps: u32) -> Outcome {
    let failure = Failure::new(
        Kind::MaxSteps,
        format!("the model still wanted to call tools after {max_steps} steps"),
    )
    .hint("raise the limit with --max-steps N");
    if let Some(content) = &content {
        state
            .messages
            .push(json!({"role": "assistant", "content": content}));
    }
    Outcome {
        status: "max_steps",
        answer: content,
        failure: Some(failure),
    }
}

/// Record the model's tool calls, run them concurrently, and add each result as it comes
/// (so an interruption keeps the ones that finished), then close the turn.
async fn run_calls(
    state: &mut Run,
    turn: &Turn,
    step: u32,
    with: &Tools<'_>,
) -> Result<(), BrokenPipe> {
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
    let calling: Vec<String> = turn
        .tool_calls
        .iter()
        .map(|call| with.offered.toolbox.shown_name(call))
        .collect();
    with.options
        .progress
        .status(format!("step {step}: calling {}", calling.join(", ")));
    let mut runs: futures::stream::FuturesUnordered<_> = turn
        .tool_calls
        .iter()
        .enumerate()
        .map(|(index, call)| async move {
            let text = call::run_call(
                call,
                step,
                with.sessions,
                &with.offered.toolbox,
                with.options,
                with.output,
            )
            .await;
            (index, text)
        })
        .collect();
    while let Some((index, text)) = futures::StreamExt::next(&mut runs).await {
        state.pending[index].1 = Some(text?);
        state.tool_calls += 1;
    }
    state.close_pending();
    Ok(())
}

/// The arguments as the JSON string the chat API expects in history.
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(s) => s.clone(),
        Value::Null => "{}".to_string(),
        other => other.to_string(),
    }
}
