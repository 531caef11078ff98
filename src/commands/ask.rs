//! `ask`: one prompt, the tool loop, and always exactly one final `result` line, whatever
//! happens after the command line has been parsed (Ctrl-C included). With `--session` or
//! `--continue` the run continues a stored conversation and appends what it completed.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::agent::{self, Options};
use crate::cli::AskArgs;
use crate::conversation::{self, Header, Locked, history};
use crate::events::{Event, RunError, RunResult};
use crate::exit::{Code, Failure, Kind};
use crate::llm::{Client, Provider, ProviderFlags, Usage};
use crate::mcp::features::sampling::{Sampler, Sampling};
use crate::mcp::lazy::Slot;
use crate::report;

use super::App;
use super::tools::{server_error, servers_failure};

/// Default cap on one tool result's text sent back to the model.
const DEFAULT_MAX_TOOL_OUTPUT: usize = 16 * 1024;

/// What a run has gathered so far; kept outside the future that a signal may drop.
#[derive(Default)]
struct State {
    model: Option<String>,
    sessions: Vec<Slot>,
    conversation: Option<Locked>,
    header: Header,
    /// This run's exchange number in the conversation.
    turn: Option<u32>,
    run: Option<agent::Run>,
    /// Answers servers' sampling requests (`--sampling allow`); its usage joins the run's.
    sampler: Option<Arc<Sampler>>,
    /// The `--prompt` server's session, closing while the run goes on.
    prompt_closing: Option<tokio::task::JoinHandle<()>>,
}

pub async fn ask(app: &App, args: &AskArgs) -> anyhow::Result<Code> {
    let started = Instant::now();
    app.output.set_answer_only();
    let mut state = State::default();
    let outcome = tokio::select! {
        outcome = prepare_and_run(app, args, &mut state) => outcome,
        what = crate::interrupt::wait() => Err(Failure::new(Kind::Interrupted, what).into()),
    };
    // A closed stdout shows again when the result line is written.
    let prompt_closed = async {
        if let Some(closing) = state.prompt_closing.take() {
            let _ = closing.await;
        }
    };
    let sessions = std::mem::take(&mut state.sessions);
    let _ = futures::join!(close_all(app, sessions), prompt_closed);
    app.context.progress.clear();
    let mut outcome = match outcome {
        Ok(outcome) => outcome,
        Err(Stop::BrokenPipe) => {
            let _ = save(&mut state);
            if let Some(conversation) = &state.conversation {
                conversation.discard_if_empty();
            }
            return Err(crate::exit::BrokenPipe.into());
        }
        Err(Stop::Failed(failure)) => agent::Outcome::failed(failure),
    };
    if let Err(failure) = save(&mut state) {
        outcome.failure.get_or_insert(failure);
        outcome.status = "error";
    }
    if let Some(conversation) = &state.conversation {
        conversation.discard_if_empty();
    }
    let code = match (&outcome.failure, outcome.status) {
        (_, "success") => Code::Success,
        (Some(failure), _) => failure.code(),
        (None, _) => Code::TaskFailed,
    };
    let (steps, tool_calls, mut usage) =
        state.run.as_ref().map_or((0, 0, Usage::default()), |run| {
            (run.steps, run.tool_calls, run.usage)
        });
    if let Some(sampler) = &state.sampler {
        usage.add(sampler.usage());
    }
    let result = RunResult {
        status: outcome.status,
        answer: outcome.answer.clone(),
        model: state.model.clone(),
        steps,
        tool_calls,
        usage: usage.into(),
        duration_ms: started.elapsed().as_millis() as u64,
        error: outcome.failure.as_ref().map(run_error),
        session: state
            .conversation
            .as_ref()
            .map(|c| conversation::display_name(&c.path)),
        turn: state.turn,
    };
    app.output.emit(&Event::Result(result))?;
    if let Some(failure) = &outcome.failure {
        report::error(failure);
    }
    Ok(code)
}

/// Append what this run completed to its conversation: nothing when the model never
/// answered (a prompt without a reply would leave two user messages in a row).
fn save(state: &mut State) -> Result<(), Failure> {
    let (Some(conversation), Some(run)) = (state.conversation.as_mut(), state.run.as_mut()) else {
        return Ok(());
    };
    let messages = run.new_messages();
    if !messages.iter().any(|m| m["role"] == "assistant") {
        return Ok(());
    }
    conversation.append(&state.header, &messages)?;
    conversation::remember(&conversation.path)
}

fn run_error(failure: &Failure) -> RunError {
    RunError {
        kind: failure.kind.as_str().to_string(),
        message: crate::redact::text(&failure.message),
        exit_code: failure.code().as_i32(),
    }
}

/// The `result` line for a run that could not even start (e.g. a broken config file).
pub fn failed_before_start(
    output: &crate::output::Output,
    failure: &Failure,
) -> Result<(), crate::exit::BrokenPipe> {
    output.emit(&Event::Result(RunResult {
        status: "error",
        answer: None,
        model: None,
        steps: 0,
        tool_calls: 0,
        usage: Default::default(),
        duration_ms: 0,
        error: Some(run_error(failure)),
        session: None,
        turn: None,
    }))
}

enum Stop {
    Failed(Failure),
    BrokenPipe,
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Self {
        Stop::Failed(failure)
    }
}

impl From<crate::exit::BrokenPipe> for Stop {
    fn from(_: crate::exit::BrokenPipe) -> Self {
        Stop::BrokenPipe
    }
}

/// Settings of one run, resolved from flags > env > config file.
struct Settings {
    system: Option<String>,
    options: Options,
    max_history_tokens: Option<u64>,
}

fn settings(app: &App, args: &AskArgs) -> Result<Settings, Failure> {
    let llm_config = &app.config.llm;
    let max_steps = args
        .max_steps
        .or(crate::llm::env_number("MCPCHAT_MAX_STEPS")?)
        .or(llm_config.max_steps)
        .unwrap_or(10);
    if max_steps == 0 {
        return Err(Failure::usage("--max-steps must be at least 1"));
    }
    let temperature = args
        .temperature
        .or(crate::llm::env_number("MCPCHAT_TEMPERATURE")?)
        .or(llm_config.temperature);
    let system = args
        .system
        .clone()
        .or_else(|| crate::llm::env_text("MCPCHAT_SYSTEM_PROMPT"))
        .or_else(|| llm_config.system_prompt.clone());
    let max_history_tokens = args
        .max_history_tokens
        .or(crate::llm::env_number("MCPCHAT_MAX_HISTORY_TOKENS")?)
        .or(llm_config.max_history_tokens)
        .filter(|max| *max > 0);
    Ok(Settings {
        system,
        options: Options {
            max_steps,
            temperature,
            stream: args.stream,
            max_tool_output: args.max_tool_output.unwrap_or(DEFAULT_MAX_TOOL_OUTPUT),
            tool_choice: args.tool_choice.map(|c| c.as_str().to_string()),
            progress: app.context.progress.clone(),
            images: llm_config.images.unwrap_or(false),
        },
        max_history_tokens,
    })
}

async fn prepare_and_run(
    app: &App,
    args: &AskArgs,
    state: &mut State,
) -> Result<agent::Outcome, Stop> {
    let prompt = read_prompt(args).await?;
    let settings = settings(app, args)?;
    // `--prompt`: the run starts from an MCP prompt's messages.
    let preamble = match &args.mcp_prompt {
        Some(name) => {
            let (messages, closing) =
                super::prompts::chat_messages(app, name, &args.prompt_args).await?;
            state.prompt_closing = Some(closing);
            messages
        }
        None => Vec::new(),
    };
    let provider = Provider::resolve(
        &ProviderFlags {
            provider: args.provider.clone(),
            base_url: args.base_url.clone(),
            model: args.model.clone(),
            timeout: args.llm_timeout,
            total_timeout: args.llm_total_timeout,
            max_retries: args.max_retries,
            max_reply_bytes: args.llm_max_reply_bytes,
        },
        &app.config.llm,
    )?;
    state.model = Some(provider.model.clone());
    state.header = Header {
        created: Some(conversation::rfc3339(std::time::SystemTime::now())),
        model: Some(provider.model.clone()),
        provider: Some(provider.name.clone()),
    };
    let allow = crate::config::glob_set(&args.allow_tools)
        .map_err(|e| Failure::usage(format!("--allow-tool: {e}")))?;
    let deny = crate::config::glob_set(&args.deny_tools)
        .map_err(|e| Failure::usage(format!("--deny-tool: {e}")))?;

    let history = open_conversation(args, state).await?;
    let app = &with_sampler(app, &provider, state)?;
    let listed = connect_all(app, &mut state.sessions).await?;
    // Attached before the history is fitted, so the estimate counts the resources' text.
    let prompt = super::resources::attach(prompt, &state.sessions, &args.resources).await?;
    let history = fitting_history(&history, &settings, &prompt);
    let any_listed = !listed.is_empty();
    let offered = agent::Offered::new(listed, allow.as_ref(), deny.as_ref());
    let toolbox = &offered.toolbox;
    tracing::info!(tools = toolbox.len(), model = %provider.model, "asking the model");
    if toolbox.is_empty() && any_listed {
        report::notice("no tools are offered to the model (every tool was filtered out)");
    }
    let http = app
        .context
        .http_for_url(&provider.base_url, app.config.llm_ca_file()?.as_deref())?;
    let llm = Client::new(http, provider);
    let run = state.run.insert(agent::Run::new(
        settings.system.as_deref(),
        history,
        preamble,
        &prompt,
    ));
    let mut with = agent::Tools {
        llm: &llm,
        sessions: &state.sessions,
        offered,
        options: &settings.options,
        output: &app.output,
    };
    Ok(agent::run(run, &mut with).await?)
}

/// The stored history that fits `--max-history-tokens` with the system prompt and the new
/// prompt; says once on stderr when exchanges were left out.
fn fitting_history(history: &[Value], settings: &Settings, prompt: &str) -> Vec<Value> {
    let fixed = history::estimate(&serde_json::json!(settings.system))
        + history::estimate(&serde_json::json!(prompt));
    let fitted = history::fit(history, fixed, settings.max_history_tokens);
    if fitted.left_out > 0 {
        report::notice(&format!(
            "the conversation (about {} tokens) is longer than max_history_tokens ({}): the oldest {} of {} exchanges were left out of the request",
            fitted.estimate,
            settings.max_history_tokens.unwrap_or_default(),
            fitted.left_out,
            fitted.exchanges
        ));
    }
    fitted.messages
}

/// With `--sampling allow`, the app whose connections let the run's model answer servers'
/// sampling requests (reported on stdout, usage kept in `state` for the result line).
fn with_sampler(app: &App, provider: &Provider, state: &mut State) -> Result<App, Failure> {
    let mut app = app.clone();
    if app.context.sampling == Sampling::Allow {
        let http = app
            .context
            .http_for_url(&provider.base_url, app.config.llm_ca_file()?.as_deref())?;
        let sampler = Arc::new(Sampler::new(
            Client::new(http, provider.clone()),
            Some(app.output.clone()),
        ));
        state.sampler = Some(sampler.clone());
        app.context.sampler = Some(sampler);
    }
    Ok(app)
}

/// Lock the conversation named by `--session`/`--continue` (waiting for another process
/// using it) and return its history; no history without either flag.
async fn open_conversation(args: &AskArgs, state: &mut State) -> Result<Vec<Value>, Failure> {
    let path = match (&args.session, args.continue_latest) {
        (Some(name), _) => conversation::locate(name)?,
        (None, true) => match conversation::latest()? {
            Some(path) => path,
            None => {
                let name = format!(
                    "chat-{}",
                    conversation::rfc3339(std::time::SystemTime::now())
                        .replace([':', '-'], "")
                        .trim_end_matches('Z')
                        .replace('T', "-")
                );
                report::notice(&format!("no conversation to continue: starting `{name}`"));
                conversation::locate(&name)?
            }
        },
        (None, false) => return Ok(Vec::new()),
    };
    let shown = conversation::display_name(&path);
    let locked = Locked::open(path, || {
        report::notice(&format!(
            "waiting for another mcpchat that is using session `{shown}`"
        ));
    })
    .await?;
    state.turn = Some(locked.transcript.turns() + 1);
    let history = locked.transcript.messages.clone();
    state.conversation = Some(locked);
    Ok(history)
}

/// The prompt: the argument, or stdin when it is `-` or absent and stdin is not a terminal.
async fn read_prompt(args: &AskArgs) -> Result<String, Failure> {
    match args.prompt.as_deref() {
        Some("-") => {}
        Some(prompt) => return non_empty(prompt.to_string()),
        // With --prompt the MCP prompt's messages are the start; the user's text is optional.
        None if args.mcp_prompt.is_some() => return Ok(String::new()),
        None if std::io::stdin().is_terminal() => {
            return Err(
                Failure::usage("no prompt: pass it as an argument, or pipe it to stdin")
                    .hint("mcpchat ask \"What tools do you have available?\""),
            );
        }
        None => {}
    }
    let prompt = super::read_stdin()
        .await
        .map_err(|e| Failure::usage(format!("cannot read the prompt from stdin: {e}")))?;
    non_empty(prompt)
}

fn non_empty(prompt: String) -> Result<String, Failure> {
    if prompt.trim().is_empty() {
        return Err(Failure::usage("the prompt is empty"));
    }
    Ok(prompt.trim_end_matches(['\n', '\r']).to_string())
}

/// Start connecting to every selected server at once. Servers whose tools are cached are not
/// waited for (the model is asked at once; a tool call waits only for its own server); the
/// others are listed concurrently. A failing server gives an `error` line and a warning; it is
/// fatal only if it is `required` or all of them fail (as far as known before the model is
/// asked). No servers configured at all is fine: the model is asked without tools.
async fn connect_all(app: &App, slots: &mut Vec<Slot>) -> Result<agent::Listed, Stop> {
    if !app.config.has_servers() && app.selected.is_empty() {
        return Ok(Vec::new());
    }
    let selected = app.config.select(&app.selected)?;
    let total = selected.len();
    let mut cached = Vec::new();
    for selected in selected {
        match selected.server {
            Ok(server) => {
                let key = crate::cache::Key::of(&server, &app.context.store);
                // The list the model is offered: not one the server said changed since.
                let listed = app
                    .context
                    .cache
                    .list::<rmcp::model::Tool>(&key, crate::cache::ListKind::Tools);
                cached.push(listed.map(|tools| {
                    tools
                        .into_iter()
                        .filter(|t| server.tools.permits(&t.name))
                        .collect::<Vec<_>>()
                }));
                slots.push(Slot::start(
                    selected.name,
                    selected.required,
                    server,
                    &app.context,
                ));
            }
            Err(failure) => {
                cached.push(None);
                slots.push(Slot::failed(selected.name, selected.required, failure));
            }
        }
    }
    let waits = slots.iter().zip(cached).map(|(slot, cached)| async move {
        match cached {
            Some(tools) => Ok(tools),
            None => slot.wait_for_tools().await,
        }
    });
    let outcomes = futures::future::join_all(waits).await;
    let mut listed = Vec::new();
    let mut failures = Vec::new();
    for (index, (slot, outcome)) in slots.iter().zip(outcomes).enumerate() {
        match outcome {
            Ok(tools) => listed.push((index, slot.name.clone(), tools)),
            Err(failure) => {
                report_failure(app, slot, &failure)?;
                failures.push((slot.required, failure));
            }
        }
    }
    if super::tools::exit_for_servers(total, &failures) != Code::Success {
        let failure = servers_failure(total, &failures);
        return Err(Failure::new(failure.kind, failure.message).into());
    }
    Ok(listed)
}

/// The `error` line and warning for a server that failed (once per server).
fn report_failure(
    app: &App,
    slot: &Slot,
    failure: &Failure,
) -> Result<(), crate::exit::BrokenPipe> {
    if slot
        .reported
        .swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        return Ok(());
    }
    report::warning(failure);
    app.output
        .emit(&Event::Error(server_error(&slot.name, failure)))
}

/// End every session; a server whose background connection failed unnoticed is reported now.
async fn close_all(app: &App, slots: Vec<Slot>) -> Result<(), crate::exit::BrokenPipe> {
    let grace = std::time::Duration::from_secs(1);
    let closing = slots.into_iter().map(|slot| async move {
        let reported = slot.reported.load(std::sync::atomic::Ordering::Relaxed);
        let name = slot.name.clone();
        (name, reported, slot.close(grace).await)
    });
    for (name, reported, failure) in futures::future::join_all(closing).await {
        if let Some(failure) = failure
            && !reported
        {
            report::warning(&failure);
            app.output
                .emit(&Event::Error(server_error(&name, &failure)))?;
        }
    }
    Ok(())
}
