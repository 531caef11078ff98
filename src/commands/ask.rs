//! `ask`: one prompt, the tool loop, and always exactly one final `result` line, whatever
//! happens after the command line has been parsed.

use std::io::{IsTerminal, Read};
use std::time::Instant;

use futures::StreamExt;

use crate::agent::{self, Options, Toolbox};
use crate::cli::AskArgs;
use crate::events::{Event, RunError, RunResult};
use crate::exit::{Code, Failure};
use crate::llm::{Client, Provider, ProviderFlags, Usage};
use crate::mcp::Session;
use crate::report;

use super::App;
use super::tools::{server_error, servers_failure};

/// Default cap on one tool result's text sent back to the model.
const DEFAULT_MAX_TOOL_OUTPUT: usize = 16 * 1024;

pub async fn ask(app: &App, args: &AskArgs) -> anyhow::Result<Code> {
    let started = Instant::now();
    app.output.set_answer_only();
    let mut model = None;
    let mut sessions = Vec::new();
    let outcome = prepare_and_run(app, args, &mut model, &mut sessions).await;
    futures::future::join_all(sessions.into_iter().map(Session::close)).await;
    app.context.progress.clear();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(Stop::BrokenPipe) => return Err(crate::exit::BrokenPipe.into()),
        Err(Stop::Failed(failure)) => agent::Outcome {
            status: "error",
            answer: None,
            steps: 0,
            tool_calls: 0,
            usage: Usage::default(),
            failure: Some(failure),
        },
    };
    let code = match (&outcome.failure, outcome.status) {
        (_, "success") => Code::Success,
        (Some(failure), _) => failure.code(),
        (None, _) => Code::TaskFailed,
    };
    let result = RunResult {
        status: outcome.status,
        answer: outcome.answer.clone(),
        model,
        steps: outcome.steps,
        tool_calls: outcome.tool_calls,
        usage: outcome.usage,
        duration_ms: started.elapsed().as_millis() as u64,
        error: outcome.failure.as_ref().map(|f| RunError {
            kind: f.kind.as_str().to_string(),
            message: crate::redact::text(&f.message),
            exit_code: f.code().as_i32(),
        }),
    };
    app.output.emit(&Event::Result(result))?;
    if let Some(failure) = &outcome.failure {
        report::error(failure);
    }
    Ok(code)
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
        usage: Usage::default(),
        duration_ms: 0,
        error: Some(RunError {
            kind: failure.kind.as_str().to_string(),
            message: crate::redact::text(&failure.message),
            exit_code: failure.code().as_i32(),
        }),
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

async fn prepare_and_run(
    app: &App,
    args: &AskArgs,
    model: &mut Option<String>,
    sessions: &mut Vec<Session>,
) -> Result<agent::Outcome, Stop> {
    let prompt = read_prompt(args)?;
    // `--prompt`: the conversation starts from an MCP prompt's messages.
    let preamble = match &args.mcp_prompt {
        Some(name) => super::prompts::chat_messages(app, name, &args.prompt_args).await?,
        None => Vec::new(),
    };
    let llm_config = &app.config.llm;
    let max_steps = args
        .max_steps
        .or(crate::llm::env_number("MCPCHAT_MAX_STEPS")?)
        .or(llm_config.max_steps)
        .unwrap_or(10);
    if max_steps == 0 {
        return Err(Failure::usage("--max-steps must be at least 1").into());
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
    let provider = Provider::resolve(
        &ProviderFlags {
            provider: args.provider.clone(),
            base_url: args.base_url.clone(),
            model: args.model.clone(),
            timeout: args.llm_timeout,
            max_retries: args.max_retries,
        },
        llm_config,
    )?;
    *model = Some(provider.model.clone());
    let allow = crate::config::glob_set(&args.allow_tools)
        .map_err(|e| Failure::usage(format!("--allow-tool: {e}")))?;
    let deny = crate::config::glob_set(&args.deny_tools)
        .map_err(|e| Failure::usage(format!("--deny-tool: {e}")))?;

    let listed = connect_all(app, sessions).await?;
    let toolbox = Toolbox::new(&listed, allow.as_ref(), deny.as_ref());
    tracing::info!(tools = toolbox.len(), model = %provider.model, "asking the model");
    if toolbox.is_empty() && !listed.is_empty() {
        report::notice("no tools are offered to the model (every tool was filtered out)");
    }
    let llm = Client::new(app.context.http(), provider);
    let options = Options {
        system,
        preamble,
        prompt,
        max_steps,
        temperature,
        stream: args.stream,
        max_tool_output: args.max_tool_output.unwrap_or(DEFAULT_MAX_TOOL_OUTPUT),
    };
    Ok(agent::run(&llm, sessions, &toolbox, &options, &app.output).await?)
}

/// The prompt: the argument, or stdin when it is `-` or absent and stdin is not a terminal.
fn read_prompt(args: &AskArgs) -> Result<String, Failure> {
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
    let mut prompt = String::new();
    std::io::stdin()
        .read_to_string(&mut prompt)
        .map_err(|e| Failure::usage(format!("cannot read the prompt from stdin: {e}")))?;
    non_empty(prompt)
}

fn non_empty(prompt: String) -> Result<String, Failure> {
    if prompt.trim().is_empty() {
        return Err(Failure::usage("the prompt is empty"));
    }
    Ok(prompt.trim_end_matches(['\n', '\r']).to_string())
}

/// Connect to every selected server at once and list its tools. A failing server gives an
/// `error` line and a warning; it is fatal only if it is `required` or all of them fail.
/// No servers configured at all is fine: the model is asked without tools.
async fn connect_all(
    app: &App,
    sessions: &mut Vec<Session>,
) -> Result<Vec<(usize, String, Vec<rmcp::model::Tool>)>, Stop> {
    if !app.config.has_servers() && app.selected.is_empty() {
        return Ok(Vec::new());
    }
    let selected = app.config.select(&app.selected)?;
    let total = selected.len();
    let mut pending = super::tools::connect_all(app, selected);
    let mut listed = Vec::new();
    let mut failures = Vec::new();
    while let Some((name, required, outcome)) = pending.next().await {
        match outcome {
            Ok((session, tools)) => {
                listed.push((sessions.len(), name, tools));
                sessions.push(session);
            }
            Err(failure) => {
                report::warning(&failure);
                app.output
                    .emit(&Event::Error(server_error(&name, &failure)))?;
                failures.push((required, failure));
            }
        }
    }
    if super::tools::exit_for_servers(total, &failures) != Code::Success {
        let failure = servers_failure(total, &failures);
        return Err(Failure::new(failure.kind, failure.message).into());
    }
    Ok(listed)
}
