//! `prompts list` and `prompts get`, and the prompt lookup `ask --prompt` shares.
//!
//! A prompt's arguments are checked against its listed definition (the cached prompts list when
//! fresh) before `prompts/get` is sent: a missing required argument is an input error (exit 2)
//! naming it, and nothing is asked. A cached definition is trusted only until it disagrees: a
//! prompt it does not know, a failed check or a `prompts/get` the server rejects as invalid
//! makes it forgotten and the list fetched live once before anything is reported.

use std::io::IsTerminal;

use rmcp::model::{GetPromptResult, Prompt};
use serde_json::{Map, Value};

use crate::cache::ListKind;
use crate::cli::{PromptGetArgs, PromptsCommand};
use crate::events::{Event, PromptArgument, PromptInfo, PromptResult};
use crate::exit::{Code, Failure, Kind};
use crate::mcp::Session;

use super::App;
use super::each::each_server;
use super::tools::SEPARATOR;

pub async fn prompts(app: &App, command: &PromptsCommand) -> anyhow::Result<Code> {
    match command {
        PromptsCommand::List(args) if args.cached => list_cached(app),
        PromptsCommand::List(_) => list(app).await,
        PromptsCommand::Get(args) => get(app, args).await,
    }
}

async fn list(app: &App) -> anyhow::Result<Code> {
    each_server(app, async |session: &Session| {
        let prompts = session.list_prompts().await?;
        Ok(prompts
            .iter()
            .map(|p| Event::Prompt(prompt_info(session.name(), p)))
            .collect())
    })
    .await
}

/// `prompts list --cached`: the cached lists, without connecting.
fn list_cached(app: &App) -> anyhow::Result<Code> {
    super::cached::list(app, ListKind::Prompts, |server, prompts: Vec<Prompt>| {
        prompts
            .iter()
            .map(|p| Event::Prompt(prompt_info(&server.name, p)))
            .collect()
    })
}

pub fn prompt_info(server: &str, prompt: &Prompt) -> PromptInfo {
    PromptInfo {
        server: server.to_string(),
        name: format!("{server}{SEPARATOR}{}", prompt.name),
        prompt: prompt.name.clone(),
        title: prompt.title.clone(),
        description: prompt.description.clone(),
        arguments: prompt
            .arguments
            .iter()
            .flatten()
            .map(|a| PromptArgument {
                name: a.name.clone(),
                title: a.title.clone(),
                description: a.description.clone(),
                required: a.required.unwrap_or(false),
            })
            .collect(),
    }
}

async fn get(app: &App, args: &PromptGetArgs) -> anyhow::Result<Code> {
    let arguments = prompt_arguments(args.arguments.as_deref(), &args.args).await?;
    let fetched = fetch(app, &args.name, &arguments).await?;
    app.context.progress.clear();
    // Printed before the session is closed: the reader need not wait for the DELETE.
    let printed = app.output.emit(&Event::PromptResult(result_event(
        &fetched.server,
        &fetched.prompt,
        &fetched.result,
    )));
    fetched.session.close().await;
    printed?;
    Ok(Code::Success)
}

/// A prompt got from its server, whose session is still open: the caller closes it once it
/// has used the result.
pub struct Fetched {
    pub server: String,
    /// The prompt's own name (without the server prefix).
    pub prompt: String,
    pub result: GetPromptResult,
    pub session: Session,
}

/// Connect to the prompt's server, check the arguments against its definition, and get it.
pub async fn fetch(
    app: &App,
    name: &str,
    arguments: &Map<String, Value>,
) -> Result<Fetched, Failure> {
    let (server_name, prompt) = split_prefixed(app, name, "prompt")?;
    let server = app.config.server(&server_name)?;
    let session = crate::daemon::connect(app, server, None).await?;
    match checked_get(&session, &prompt, arguments).await {
        Ok(result) => Ok(Fetched {
            server: server_name,
            prompt,
            result,
            session,
        }),
        Err(failure) => {
            session.close().await;
            Err(failure)
        }
    }
}

/// Check the arguments against the prompt's definition and get it. With a cached definition,
/// any disagreement (unknown prompt, failed check, `prompts/get` rejected) forgets the cached
/// list and goes again once with the live one; a rejection whose prompt turns out unchanged is
/// reported as it came (asking again would only repeat it).
async fn checked_get(
    session: &Session,
    prompt: &str,
    arguments: &Map<String, Value>,
) -> Result<GetPromptResult, Failure> {
    let (mut prompts, mut cached) = session.prompts().await?;
    loop {
        let outcome = match check(session.name(), &prompts, prompt, arguments) {
            Ok(()) => session.get_prompt(prompt, arguments).await,
            Err(failure) => Err(failure),
        };
        match outcome {
            Err(failure) if cached && stale_sign(&failure) => {
                tracing::info!(server = %session.name(), "the cached prompts list looks stale; listing the prompts again");
                session.forget(ListKind::Prompts);
                // A listing that fails says nothing about the prompt: report what was wrong.
                let Ok(live) = session.list_prompts().await else {
                    return Err(failure);
                };
                let rejected = failure.kind == Kind::Protocol;
                if rejected && definition(&live, prompt) == definition(&prompts, prompt) {
                    return Err(failure);
                }
                (prompts, cached) = (live, false);
            }
            outcome => return outcome,
        }
    }
}

fn definition(prompts: &[Prompt], name: &str) -> Option<Value> {
    let prompt = prompts.iter().find(|p| p.name == name)?;
    serde_json::to_value(prompt).ok()
}

/// What a stale prompts list causes: our own check failing, or the server rejecting
/// `prompts/get` as invalid params (-32602), unknown (-32601) or, as the Python SDK answers
/// both, an internal error (-32603).
fn stale_sign(failure: &Failure) -> bool {
    match failure.kind {
        Kind::Usage | Kind::InvalidArguments => true,
        Kind::Protocol => ["-32602", "-32601", "-32603"]
            .iter()
            .any(|code| failure.message.ends_with(&format!("(code {code})"))),
        _ => false,
    }
}

/// The prompt's definition in `prompts` and its required arguments present.
fn check(
    server_name: &str,
    prompts: &[Prompt],
    prompt: &str,
    arguments: &Map<String, Value>,
) -> Result<(), Failure> {
    let Some(definition) = prompts.iter().find(|p| p.name == prompt) else {
        let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
        let mut failure = Failure::new(
            Kind::Usage,
            format!("MCP server `{server_name}` has no prompt `{prompt}`"),
        );
        if let Some(best) = crate::config::suggest(prompt, &names) {
            failure = failure.hint(format!("did you mean `{server_name}{SEPARATOR}{best}`?"));
        }
        return Err(failure.hint(format!(
            "`mcpchat prompts list --server {server_name}` shows its prompts"
        )));
    };
    check_required(server_name, definition, arguments)
}

/// Exit 2, before any `prompts/get`, when a required argument is missing.
fn check_required(
    server: &str,
    prompt: &Prompt,
    arguments: &Map<String, Value>,
) -> Result<(), Failure> {
    let missing: Vec<&str> = prompt
        .arguments
        .iter()
        .flatten()
        .filter(|a| a.required == Some(true) && !arguments.contains_key(&a.name))
        .map(|a| a.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let example = missing
        .iter()
        .map(|m| format!("-a {m}=..."))
        .collect::<Vec<_>>()
        .join(" ");
    Err(Failure::new(
        Kind::InvalidArguments,
        format!(
            "prompt `{server}{SEPARATOR}{}` needs the argument{} {}",
            prompt.name,
            if missing.len() == 1 { "" } else { "s" },
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .hint(format!(
        "mcpchat prompts get {server}{SEPARATOR}{} {example}",
        prompt.name
    )))
}

pub fn result_event(server: &str, prompt: &str, result: &GetPromptResult) -> PromptResult {
    let messages = serde_json::to_value(&result.messages).unwrap_or(Value::Array(Vec::new()));
    PromptResult {
        server: server.to_string(),
        name: format!("{server}{SEPARATOR}{prompt}"),
        prompt: prompt.to_string(),
        description: result.description.clone(),
        text: message_text(&messages),
        messages,
    }
}

/// The text content of the messages, joined with newlines.
pub fn message_text(messages: &Value) -> String {
    messages
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("content"))
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|c| c.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which server owns a prefixed name (`server__name`), or the only selected server's bare name.
pub fn split_prefixed(app: &App, name: &str, what: &str) -> Result<(String, String), Failure> {
    if let Some((server, item)) = name.split_once(SEPARATOR)
        && !server.is_empty()
        && !item.is_empty()
    {
        if !app.selected.is_empty() && !app.selected.iter().any(|s| s == server) {
            return Err(Failure::usage(format!(
                "{what} `{name}` belongs to server `{server}`, which --server does not select"
            )));
        }
        return Ok((server.to_string(), item.to_string()));
    }
    let servers = app.config.selected_names(&app.selected)?;
    if let [only] = servers.as_slice() {
        return Ok((only.clone(), name.to_string()));
    }
    Err(Failure::usage(format!(
        "{what} name `{name}` needs its server prefix: SERVER{SEPARATOR}NAME"
    ))
    .hint(format!(
        "servers: {} (or pick one with --server NAME)",
        servers.join(", ")
    )))
}

/// Prompt arguments (strings) from ARGS_JSON (or stdin with `-`), with `-a key=value` over it.
pub async fn prompt_arguments(
    json: Option<&str>,
    pairs: &[String],
) -> Result<Map<String, Value>, Failure> {
    let mut object = match json {
        None => Map::new(),
        Some(text) => parse_object(&read_arguments(text).await?)?,
    };
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Failure::usage(format!(
                "-a `{pair}` must look like key=value"
            )));
        };
        object.insert(key.to_string(), Value::String(value.to_string()));
    }
    Ok(object)
}

async fn read_arguments(text: &str) -> Result<String, Failure> {
    if text != "-" {
        return Ok(text.to_string());
    }
    if std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "`-` reads the arguments from stdin, but stdin is a terminal",
        ));
    }
    super::read_stdin()
        .await
        .map_err(|e| Failure::usage(format!("cannot read arguments from stdin: {e}")))
}

/// A JSON object whose values become strings (prompt arguments are strings in MCP); numbers
/// and booleans are written as JSON, nested values are refused.
fn parse_object(text: &str) -> Result<Map<String, Value>, Failure> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Map::new());
    }
    let invalid = |message: String| {
        Failure::new(Kind::InvalidArguments, message)
            .hint("prompt arguments are strings: '{\"city\": \"Paris\"}', or -a city=Paris")
    };
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(invalid("prompt arguments must be a JSON object".into())),
        Err(e) => return Err(invalid(format!("prompt arguments are not valid JSON: {e}"))),
    };
    object
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(_) => Ok((key, value)),
            Value::Number(_) | Value::Bool(_) => {
                let text = value.to_string();
                Ok((key, Value::String(text)))
            }
            _ => Err(invalid(format!(
                "prompt argument `{key}` must be a string, not {value}"
            ))),
        })
        .collect()
}

/// `ask --prompt`: the prompt's messages as chat messages for the model, and the closing of
/// the prompt's session, under way meanwhile (the caller awaits it before exiting; a close is
/// bounded by `Session::close`). Text is passed as is; an embedded resource's text is inlined,
/// binary content is named, not inlined.
pub async fn chat_messages(
    app: &App,
    name: &str,
    pairs: &[String],
) -> Result<(Vec<Value>, tokio::task::JoinHandle<()>), Failure> {
    let arguments = prompt_arguments(None, pairs).await?;
    let Fetched {
        result, session, ..
    } = fetch(app, name, &arguments).await?;
    // Closed alongside the model request rather than before it: nothing waits on the DELETE.
    let closing = tokio::spawn(session.close());
    let messages = serde_json::to_value(&result.messages).unwrap_or(Value::Array(Vec::new()));
    let messages = messages
        .as_array()
        .into_iter()
        .flatten()
        .map(|message| {
            let role = match message.get("role").and_then(Value::as_str) {
                Some("assistant") => "assistant",
                _ => "user",
            };
            let content = message.get("content").map(content_text).unwrap_or_default();
            serde_json::json!({"role": role, "content": content})
        })
        .collect();
    Ok((messages, closing))
}

/// One MCP content block as text for a chat model.
fn content_text(content: &Value) -> String {
    let field = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    match content.get("type").and_then(Value::as_str) {
        Some("text") => field(content, "text"),
        Some("resource") => {
            let resource = content.get("resource").unwrap_or(&Value::Null);
            match resource.get("text").and_then(Value::as_str) {
                Some(text) => format!("{}:\n{text}", field(resource, "uri")),
                None => format!(
                    "[resource {} ({}), binary, not inlined]",
                    field(resource, "uri"),
                    field(resource, "mimeType")
                ),
            }
        }
        Some("resource_link") => format!("[resource link {}]", field(content, "uri")),
        Some(kind) => format!("[{kind} ({}) not inlined]", field(content, "mimeType")),
        None => String::new(),
    }
}
