//! The only module that writes to stdout. JSON Lines by default, `--format text` for people.
//!
//! Each event is written and flushed as one line so pipelines see it at once. A closed stdout
//! (`| head -1`) surfaces as [`BrokenPipe`], which `main` turns into a quiet exit 0.
//! Every line passes through `redact` on its way out, so no stdout line carries a registered
//! secret, whatever a server echoed back; only `auth token` prints one, by design. Text for
//! people (`--format text`: every field, streamed answers, resource text) also passes through
//! `terminal::for_text_output`, so control and bidi characters show as escapes; JSON Lines
//! carry the data as sent (serde escapes every control character).

use std::io::Write;
use std::sync::Mutex;

use crate::events::Event;
use crate::exit::BrokenPipe;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line (the stable, documented format).
    #[default]
    Json,
    /// Human-readable text.
    Text,
}

/// Serialised writer for stdout, shared by concurrent tasks.
pub struct Output {
    format: Format,
    lock: Mutex<()>,
    /// `ask --format text`: print only the final answer.
    answer_only: std::sync::atomic::AtomicBool,
    /// Text was streamed raw (`ask --stream --format text`); the answer is already out.
    streamed: std::sync::atomic::AtomicBool,
    /// Binary and long content saved, cut or replaced before printing (`crate::results`).
    shaping: Option<crate::results::Shaping>,
}

impl Output {
    pub fn new(format: Format) -> Self {
        Output {
            format,
            lock: Mutex::new(()),
            answer_only: std::sync::atomic::AtomicBool::new(false),
            streamed: std::sync::atomic::AtomicBool::new(false),
            shaping: None,
        }
    }

    /// Reshape content lines before printing them (`--save-dir`, `--max-output-chars`, a
    /// terminal); None prints every line as it is.
    pub fn with_shaping(mut self, shaping: Option<crate::results::Shaping>) -> Self {
        self.shaping = shaping;
        self
    }

    /// What reshapes content lines, if anything (`ask` saves images to the same files).
    pub fn shaping(&self) -> Option<&crate::results::Shaping> {
        self.shaping.as_ref()
    }

    /// Whether stdout is a terminal (where base64 is never printed).
    pub fn stdout_is_terminal() -> bool {
        use std::io::IsTerminal;
        #[allow(clippy::disallowed_methods)] // only asks, writes nothing
        std::io::stdout().is_terminal()
    }

    /// In text format, print nothing but `result` answers from now on.
    pub fn set_answer_only(&self) {
        self.answer_only
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Print one event. Errors only when stdout is gone.
    pub fn emit(&self, event: &Event) -> Result<(), BrokenPipe> {
        let line = match self.format {
            Format::Json => {
                let line = self.json_line(event).map_err(|_| BrokenPipe)?;
                return self.write_unmasked(&crate::redact::json_line(&line));
            }
            Format::Text if self.answer_only.load(std::sync::atomic::Ordering::Relaxed) => {
                use std::sync::atomic::Ordering;
                return match event {
                    // Streamed text goes out as it comes; each turn's text ends its line.
                    Event::Delta(delta) => {
                        self.streamed.store(true, Ordering::Relaxed);
                        self.write_raw(&delta.content)
                    }
                    Event::Message(_) if self.streamed.load(Ordering::Relaxed) => {
                        self.write_raw("\n")
                    }
                    Event::Result(_) if self.streamed.load(Ordering::Relaxed) => Ok(()),
                    Event::Result(result) => match &result.answer {
                        Some(answer) => self.write_line(answer),
                        None => Ok(()),
                    },
                    _ => Ok(()),
                };
            }
            Format::Text => match text_line(event) {
                Some(line) => match (&self.shaping, event) {
                    (Some(shaping), Event::ToolResult(_) | Event::PromptResult(_)) => {
                        shaping.cut_text(&line)
                    }
                    _ => line,
                },
                None => return Ok(()),
            },
        };
        self.write_line(&line)
    }

    /// The event as one JSON line, its content reshaped when there is something to do.
    fn json_line(&self, event: &Event) -> serde_json::Result<String> {
        let Some(shaping) = &self.shaping else {
            return serde_json::to_string(event);
        };
        let mut value = serde_json::to_value(event)?;
        shaping.apply(&mut value);
        serde_json::to_string(&value)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Print text for people, flushed, without a newline: registered secrets masked, control
    /// characters shown as escapes.
    pub fn write_raw(&self, text: &str) -> Result<(), BrokenPipe> {
        let text = crate::terminal::for_text_output(text);
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        #[allow(clippy::disallowed_methods)] // the one writer to stdout
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|_| BrokenPipe)
    }

    /// Print a line for people (already formatted) followed by a newline: registered secrets
    /// masked, control characters shown as escapes.
    pub fn write_line(&self, line: &str) -> Result<(), BrokenPipe> {
        self.write_unmasked(&crate::terminal::for_text_output(line))
    }

    /// Print one of our own texts (the schema, a completion script, the man page) exactly.
    pub fn write_fixed(&self, text: &str) -> Result<(), BrokenPipe> {
        self.write_unmasked(text)
    }

    /// Print a line exactly as given: JSON lines (escaped already), our own fixed texts, and
    /// `auth token`, whose output is the secret (checked to be visible ASCII first).
    pub fn write_unmasked(&self, line: &str) -> Result<(), BrokenPipe> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        #[allow(clippy::disallowed_methods)] // the one writer to stdout
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.write_all(b"\n"))
            .and_then(|()| stdout.flush())
            .map_err(|_| BrokenPipe)
    }
}

/// Human rendering. Errors go to stderr in text mode (they are also reported there by the
/// command), so they print nothing on stdout.
fn text_line(event: &Event) -> Option<String> {
    match event {
        Event::Tool(tool) => Some(name_and_summary(&tool.name, tool.description.as_deref())),
        Event::ToolResult(result) => Some(tool_result_text(result)),
        Event::Result(result) => result.answer.clone(),
        Event::Auth(status) => Some(format!(
            "{}\t{}\t{}",
            status.server,
            status.auth_type,
            match status.logged_in {
                Some(true) => "logged in",
                Some(false) => "not logged in",
                None => "-",
            }
        )),
        Event::Resource(resource) => Some(format!("{}\t{}", resource.uri, resource.name)),
        Event::ResourceTemplate(template) => {
            Some(format!("{}\t{}", template.uri_template, template.name))
        }
        Event::ResourceContents(contents) => Some(match &contents.file {
            Some(file) => format!("{}\t{file}", contents.uri),
            None => contents.uri.clone(),
        }),
        Event::ResourceUpdated(update) => Some(update.uri.clone()),
        Event::Server(server) => Some(server_text(server)),
        // `SERVER<TAB>RTT ms`; a server that did not answer is on stderr.
        Event::Ping(ping) => ping.rtt_ms.map(|ms| format!("{}\t{ms} ms", ping.server)),
        Event::Prompt(prompt) => Some(name_and_summary(
            &prompt.name,
            prompt.description.as_deref(),
        )),
        Event::PromptResult(result) => Some(result.text.clone()),
        Event::Completion(completion) if completion.values.is_empty() => None,
        Event::Completion(completion) => Some(completion.values.join("\n")),
        Event::Task(task) => Some(format!(
            "{}\t{}\t{}",
            task.task_id,
            task.status,
            task.status_message.as_deref().unwrap_or("")
        )),
        Event::DaemonServer(kept) => Some(format!(
            "{}\tpid {}\t{} calls\tidle {}s",
            kept.server,
            kept.pid.map_or("-".to_string(), |p| p.to_string()),
            kept.calls,
            kept.idle_secs
        )),
        Event::Session(session) => Some(format!(
            "{}\t{} turns\t{}",
            session.name,
            session.turns,
            session.updated.as_deref().unwrap_or("-")
        )),
        // `sessions show --format text` reads like the chat it was.
        Event::UserPrompt(prompt) => Some(format!("You: {}", prompt.content)),
        Event::Message(message) => Some(format!("Assistant: {}", message.content)),
        Event::Error(_)
        | Event::AuthPrompt(_)
        | Event::ToolCall(_)
        | Event::Delta(_)
        | Event::Sampling(_)
        | Event::Elicitation(_) => None,
    }
}

/// `NAME<TAB>first line of the description`, or the name alone without one.
fn name_and_summary(name: &str, description: Option<&str>) -> String {
    match description.and_then(|d| d.lines().next()) {
        Some(line) if !line.is_empty() => format!("{name}\t{line}"),
        _ => name.to_string(),
    }
}

/// A tool's text (its structured content, pretty, when it has no text), `[ID] ` first in a
/// batch.
fn tool_result_text(result: &crate::events::ToolResult) -> String {
    let mut text = result.text.clone();
    if text.is_empty()
        && let Some(structured) = &result.structured_content
    {
        text = serde_json::to_string_pretty(structured).unwrap_or_default();
    }
    if let Some(id) = &result.id {
        let id = match serde_json::from_str(id.as_str()) {
            Ok(serde_json::Value::String(s)) => s,
            _ => id.as_str().to_string(),
        };
        text = format!("[{id}] {text}");
    }
    text
}

/// `SERVER<TAB>TRANSPORT<TAB>PROTOCOL<TAB>NAME VERSION`.
fn server_text(server: &crate::events::ServerReport) -> String {
    let info = server
        .server_info
        .as_ref()
        .map(|i| {
            format!(
                "{} {}",
                i["name"].as_str().unwrap_or("?"),
                i["version"].as_str().unwrap_or("")
            )
        })
        .unwrap_or_default();
    format!(
        "{}\t{}\t{}\t{info}",
        server.server,
        server.transport,
        server.protocol_version.as_deref().unwrap_or("-"),
    )
}
