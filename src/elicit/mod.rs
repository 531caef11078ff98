//! What mcpchat answers when a server asks the user for input (`elicitation/create`), and the
//! `elicitation` line each request leaves on stdout. `--elicitation` picks who answers: `ask`
//! (the user, on the terminal: `form`, `tty`), `answers` (`--answers FILE|-`: `answers`),
//! `accept-defaults` (the schema's defaults) or `decline`. The default is `ask` when stdin and
//! stderr are terminals, else `decline`, so a cron job never waits for a person.
//!
//! Guarantees: a form is asked on the terminal, never on stdout, one at a time; the server's
//! text reaches the terminal neutralised (`terminal`); values of sensitive fields (`mask`)
//! never reach stdout, logs or the terminal; a URL is shown or opened only when
//! `links::openable` accepts it (`url`); an answer from `--answers` that does not fit the
//! requested schema stops the command (exit 2, the field's JSON path), see [`failed`]; one
//! from a `--batch` line's `answers` fails that line only (`lines`).

pub mod answers;
mod fields;
mod form;
pub mod lines;
mod mask;
mod tty;
pub mod url;

use std::collections::HashSet;
use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::events::{ElicitationInfo, Event};
use crate::exit::Failure;
use crate::output::Output;
use crate::ui::Progress;
pub use answers::Answers;
use fields::Field;

/// Who answers servers' elicitation requests (`--elicitation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Ask on the terminal, field by field (the default when stdin and stderr are terminals).
    Ask,
    /// Answer from --answers FILE|- (implied by --answers); declined once they run out.
    Answers,
    /// Accept form requests with each field's `default` from the requested schema.
    AcceptDefaults,
    /// Decline every request, and declare no elicitation support (the default otherwise).
    Decline,
}

impl Mode {
    /// `ask` when a person is at the terminal (stdin and stderr), else `decline`.
    pub fn for_this_terminal() -> Mode {
        #[allow(clippy::disallowed_methods)] // asks whether stderr is a terminal; writes nothing
        let stderr = std::io::stderr().is_terminal();
        if stderr && std::io::stdin().is_terminal() {
            Mode::Ask
        } else {
            Mode::Decline
        }
    }

    /// Whether the elicitation capability is declared at all.
    pub fn declares(self) -> bool {
        self != Mode::Decline
    }

    /// Whether URL mode is declared and accepted: with a person to open the URL (`ask`) or a
    /// script that chose to answer (`answers`); `accept-defaults` fills forms only.
    pub fn declares_url(self) -> bool {
        matches!(self, Mode::Ask | Mode::Answers)
    }
}

/// How long a URL elicitation may take to complete, unless `--elicitation-timeout` says.
pub const DEFAULT_URL_TIMEOUT: Duration = Duration::from_secs(600);

/// The answer sent back: `accept` (with `content` for a form), `decline` or `cancel`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub action: &'static str,
    pub content: Option<Map<String, Value>>,
}

impl Reply {
    fn of(action: &'static str) -> Reply {
        Reply {
            action,
            content: None,
        }
    }
}

/// Answers elicitation requests for every server of a command.
pub struct Elicitor {
    pub mode: Mode,
    answers: Option<Answers>,
    /// Where `elicitation` lines go (None: `serve`, whose stdout is the protocol: logged).
    output: Option<Arc<Output>>,
    progress: Arc<Progress>,
    /// `--open`: open URL elicitations in the browser.
    open: bool,
    pub url_timeout: Duration,
    /// One form on the terminal at a time (servers of a command ask concurrently).
    terminal: tokio::sync::Mutex<()>,
    /// URL elicitations the servers said are complete, by server and id.
    completed: std::sync::Mutex<HashSet<(String, String)>>,
    completion: tokio::sync::Notify,
    /// The answers of each server's `--batch` line in flight, which come first.
    lines: lines::LineAnswers,
}

/// At most this many URLs of one `-32042` error are shown.
const MAX_REQUIRED_URLS: usize = 8;

impl Elicitor {
    pub fn new(mode: Mode, answers: Option<Answers>, progress: Arc<Progress>) -> Elicitor {
        Elicitor {
            mode,
            answers,
            output: None,
            progress,
            open: false,
            url_timeout: DEFAULT_URL_TIMEOUT,
            terminal: tokio::sync::Mutex::new(()),
            completed: std::sync::Mutex::default(),
            completion: tokio::sync::Notify::new(),
            lines: lines::LineAnswers::default(),
        }
    }

    /// `notifications/elicitation/complete`: the user finished what a URL elicitation asked
    /// for (the id is the server's, shown neutralised).
    pub fn completed(&self, server: &str, id: &str) {
        crate::report::notice(&format!(
            "MCP server `{server}` says the URL elicitation `{id}` is complete"
        ));
        let mut completed = self.completed.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: a server that sends completions without end cannot grow it for ever.
        if completed.len() < 1024 {
            completed.insert((server.to_string(), id.to_string()));
        }
        self.completion.notify_waiters();
    }

    /// A `-32042` error (URL elicitation required): each URL it names is handled as a URL
    /// elicitation (shown, opened with `--open`, an `elicitation` line), then we wait for the
    /// server to say each is complete, at most `--elicitation-timeout`. True when all were
    /// accepted and completed: the request may be sent again.
    pub async fn url_required(&self, server: &str, data: Option<&Value>) -> bool {
        if !self.mode.declares_url() {
            return false;
        }
        let mut waiting = Vec::new();
        let elicitations = data
            .and_then(|d| d.get("elicitations"))
            .and_then(Value::as_array);
        for elicitation in elicitations.into_iter().flatten().take(MAX_REQUIRED_URLS) {
            let reply = self.answer(server, elicitation).await;
            let id = elicitation.get("elicitationId").and_then(Value::as_str);
            match (reply.action, id) {
                ("accept", Some(id)) => waiting.push((server.to_string(), id.to_string())),
                _ => return false,
            }
        }
        if waiting.is_empty() {
            return false;
        }
        let all_done = async {
            loop {
                let notified = self.completion.notified();
                let done = {
                    let completed = self.completed.lock().unwrap_or_else(|e| e.into_inner());
                    waiting.iter().all(|key| completed.contains(key))
                };
                if done {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(self.url_timeout, all_done)
            .await
            .is_ok()
        {
            return true;
        }
        crate::report::notice(&format!(
            "MCP server `{server}`: the URL elicitation did not complete within {}",
            crate::human::duration(self.url_timeout)
        ));
        false
    }

    /// `server`'s batch line `line` is about to run: its `answers` answer the forms the server
    /// asks for until [`Elicitor::end_line`], before `--answers` (then they are declined).
    pub fn begin_line(&self, server: &str, line: usize, answers: Vec<Map<String, Value>>) {
        self.lines.begin(server, line, answers);
    }

    /// `server`'s batch line is answered: why it fails when one of its answers did not fit.
    pub fn end_line(&self, server: &str) -> Option<Failure> {
        self.lines.end(server)
    }

    /// Print `elicitation` lines on this output.
    pub fn with_output(mut self, output: Arc<Output>) -> Elicitor {
        self.output = Some(output);
        self
    }

    /// Open URL elicitations in the browser (`--open`), waiting at most `timeout`.
    pub fn with_urls(mut self, open: bool, timeout: Duration) -> Elicitor {
        self.open = open;
        self.url_timeout = timeout;
        self
    }

    /// Declining, as a command without a person or answers does.
    pub fn declining(progress: Arc<Progress>) -> Elicitor {
        Elicitor::new(Mode::Decline, None, progress)
    }

    /// The answer to one `elicitation/create` from `server` (its params as JSON).
    pub async fn answer(&self, server: &str, request: &Value) -> Reply {
        let message = request
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let url = request.get("url").and_then(Value::as_str);
        if request.get("mode").and_then(Value::as_str) == Some("url") || url.is_some() {
            let id = request.get("elicitationId").and_then(Value::as_str);
            let reply = self.answer_url(server, &message, url.unwrap_or("")).await;
            self.report(server, "url", &message, &reply, &[], url, id);
            return reply;
        }
        let schema = request.get("requestedSchema").cloned().unwrap_or_default();
        let fields = fields::fields(&schema);
        let reply = match self.answer_form(server, &message, &fields, &schema).await {
            Ok(reply) => reply,
            Err(failure) => {
                stop_with(failure);
                return Reply::of("cancel");
            }
        };
        self.report(server, "form", &message, &reply, &fields, None, None);
        reply
    }

    async fn answer_form(
        &self,
        server: &str,
        message: &str,
        fields: &[Field],
        schema: &Value,
    ) -> Result<Reply, Failure> {
        if let Some(next) = self.lines.next(server) {
            return Ok(self.answer_from_line(server, next, fields, schema));
        }
        match self.mode {
            Mode::Decline => Ok(Reply::of("decline")),
            Mode::AcceptDefaults => Ok(accept(defaults(fields))),
            Mode::Answers => self.answer_from_file(server, fields, schema),
            Mode::Ask => Ok(self.ask(server, message, fields).await),
        }
    }

    fn answer_from_file(
        &self,
        server: &str,
        fields: &[Field],
        schema: &Value,
    ) -> Result<Reply, Failure> {
        let Some((number, answer)) = self.answers.as_ref().and_then(Answers::next) else {
            crate::report::notice(&format!(
                "no answers left for the elicitation from MCP server `{server}`: declined"
            ));
            return Ok(Reply::of("decline"));
        };
        match answers::checked(&answer, fields, schema) {
            Ok(content) => Ok(accept(content)),
            Err(violations) => Err(misfit(
                &format!("answer {number} of --answers"),
                server,
                &violations,
            )),
        }
    }

    /// The next answer of a batch line, checked as one from `--answers` is; one that does not
    /// fit cancels the form and fails the line (not the batch).
    fn answer_from_line(
        &self,
        server: &str,
        next: lines::Next,
        fields: &[Field],
        schema: &Value,
    ) -> Reply {
        let (number, answer) = match next {
            lines::Next::Answer(number, answer) => (number, answer),
            lines::Next::Exhausted(line) => {
                crate::report::notice(&format!(
                    "batch line {line}: no answers left for the elicitation from MCP server `{server}`: declined"
                ));
                return Reply::of("decline");
            }
        };
        match answers::checked(&answer, fields, schema) {
            Ok(content) => accept(content),
            Err(violations) => {
                let what = format!("answer {number} of the line's `answers`");
                self.lines
                    .misfit(server, misfit(&what, server, &violations));
                Reply::of("cancel")
            }
        }
    }

    /// The form asked on the terminal, with any progress bar out of the way meanwhile.
    async fn ask(&self, server: &str, message: &str, fields: &[Field]) -> Reply {
        let _one_at_a_time = self.terminal.lock().await;
        let progress = self.progress.clone();
        let (server, message, fields) = (server.to_string(), message.to_string(), fields.to_vec());
        let filled = tokio::task::spawn_blocking(move || {
            progress.suspend(|| form::fill(&mut tty::Tty::open(), &server, &message, &fields))
        })
        .await
        .unwrap_or(form::Filled::Cancel);
        match filled {
            form::Filled::Accept(content) => accept(content),
            form::Filled::Decline => Reply::of("decline"),
            form::Filled::Cancel => Reply::of("cancel"),
        }
    }

    async fn answer_url(&self, server: &str, message: &str, url: &str) -> Reply {
        if !self.mode.declares_url() {
            return Reply::of("decline");
        }
        if let Err(why) = url::present(server, message, url, self.open) {
            crate::report::notice(&format!(
                "declined MCP server `{server}`'s request to open a URL: {why}"
            ));
            return Reply::of("decline");
        }
        if self.mode != Mode::Ask {
            return Reply::of("accept");
        }
        let _one_at_a_time = self.terminal.lock().await;
        let progress = self.progress.clone();
        let consent = tokio::task::spawn_blocking(move || progress.suspend(form::consent))
            .await
            .unwrap_or(form::Filled::Cancel);
        match consent {
            form::Filled::Accept(_) => Reply::of("accept"),
            form::Filled::Decline => Reply::of("decline"),
            form::Filled::Cancel => Reply::of("cancel"),
        }
    }

    /// One `elicitation` line: sensitive values masked (and registered, so that a server
    /// echoing them back is masked too).
    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        server: &str,
        mode: &str,
        message: &str,
        reply: &Reply,
        fields: &[Field],
        url: Option<&str>,
        id: Option<&str>,
    ) {
        let content = reply.content.as_ref().map(|content| {
            register_secrets(content, fields);
            Value::Object(mask::masked(content, fields))
        });
        let info = ElicitationInfo {
            server: server.to_string(),
            mode: mode.to_string(),
            message: message.to_string(),
            action: reply.action.to_string(),
            content,
            url: url.map(str::to_string),
            elicitation_id: id.map(str::to_string),
        };
        match &self.output {
            Some(output) => {
                let _ = output.emit(&Event::Elicitation(info));
            }
            None => {
                let line = serde_json::to_string(&Event::Elicitation(info)).unwrap_or_default();
                tracing::info!(target: "mcpchat::elicitation", "{line}");
            }
        }
    }
}

/// `what` (an answer) does not fit the form `server` asked for: each violation on its own line.
fn misfit(what: &str, server: &str, violations: &[String]) -> Failure {
    let mut text = format!("{what} does not fit the form MCP server `{server}` asked for:");
    for violation in violations {
        text.push_str(&format!("\n  {violation}"));
    }
    Failure::usage(text)
        .hint("each answer is a JSON object of the form's field values; see docs/elicitation.md")
}

fn accept(content: Map<String, Value>) -> Reply {
    Reply {
        action: "accept",
        content: Some(content),
    }
}

/// Each field's `default`.
fn defaults(fields: &[Field]) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| Some((f.name.clone(), f.default.clone()?)))
        .collect()
}

fn register_secrets(content: &Map<String, Value>, fields: &[Field]) {
    for (name, value) in content {
        let secret = fields
            .iter()
            .find(|f| &f.name == name)
            .map_or_else(|| mask::sensitive_name(name), mask::is_sensitive);
        if let (true, Value::String(value)) = (secret, value) {
            crate::redact::register(value);
        }
    }
}

/// The failure that stops the command (an answer that does not fit), once.
static STOP: OnceLock<tokio::sync::watch::Sender<Option<Failure>>> = OnceLock::new();

fn stop_channel() -> &'static tokio::sync::watch::Sender<Option<Failure>> {
    STOP.get_or_init(|| tokio::sync::watch::Sender::new(None))
}

/// Stop the command with `failure` (the first one wins).
fn stop_with(failure: Failure) {
    stop_channel().send_if_modified(|slot| {
        if slot.is_some() {
            return false;
        }
        *slot = Some(failure);
        true
    });
}

/// Resolves with the failure that stops the command; `main` races commands against it like
/// against a signal.
pub async fn failed() -> Failure {
    let mut receiver = stop_channel().subscribe();
    loop {
        if let Some(failure) = receiver.borrow_and_update().clone() {
            return failure;
        }
        if receiver.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// The failure that stopped the command, if any (for commands that finish what they do first).
pub fn stopped() -> Option<Failure> {
    stop_channel().borrow().clone()
}
