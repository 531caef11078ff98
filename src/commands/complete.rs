//! `complete NAME ARG [VALUE]`: one `completion` line with the server's suggestions for a
//! prompt's argument (`server__prompt`) or a resource template's variable (`--template`).

use std::collections::HashMap;

use crate::cli::CompleteArgs;
use crate::events::{Completion, Event};
use crate::exit::{Code, Failure};
use crate::mcp::CompletionTarget;

use super::App;
use super::prompts::split_prefixed;
use super::tools::SEPARATOR;

pub async fn complete(app: &App, args: &CompleteArgs) -> anyhow::Result<Code> {
    let context = context_arguments(&args.args)?;
    // With --template, NAME is the server; else it is `server__prompt`.
    let (server_name, prompt) = match &args.template {
        Some(_) => (server_of(app, &args.name)?, None),
        None => {
            let (server, prompt) = split_prefixed(app, &args.name, "prompt")?;
            (server, Some(prompt))
        }
    };
    let server = app.config.server(&server_name)?;
    let session = crate::daemon::connect(app, server, None).await?;
    let target = match (&prompt, &args.template) {
        (Some(prompt), _) => CompletionTarget::Prompt(prompt),
        (None, Some(template)) => CompletionTarget::Template(template),
        (None, None) => CompletionTarget::Prompt(&args.name),
    };
    let outcome = session
        .complete(target, &args.argument, &args.value, context)
        .await;
    // Printed before the session is closed: the reader need not wait for the DELETE.
    let printed = outcome.map_err(anyhow::Error::from).and_then(|info| {
        app.context.progress.clear();
        app.output.emit(&Event::Completion(Completion {
            name: prompt.map(|p| format!("{server_name}{SEPARATOR}{p}")),
            server: server_name,
            template: args.template.clone(),
            argument: args.argument.clone(),
            value: args.value.clone(),
            has_more: info.has_more.unwrap_or(false),
            total: info.total.map(u64::from),
            values: info.values,
        }))?;
        Ok(())
    });
    session.close().await;
    printed?;
    Ok(Code::Success)
}

/// `--template` needs a server: NAME, else the only selected one.
fn server_of(app: &App, name: &str) -> Result<String, Failure> {
    let name = name
        .split_once(SEPARATOR)
        .map_or(name, |(server, _)| server);
    if app.config.selected_names(&[name.to_string()]).is_ok() {
        return Ok(name.to_string());
    }
    Err(Failure::usage(format!(
        "with --template, NAME is the server whose template it is; there is no server `{name}`"
    ))
    .hint("mcpchat complete SERVER VARIABLE [VALUE] --template 'demo://resource/{id}'"))
}

/// `-a key=value` pairs: the other arguments already chosen.
fn context_arguments(pairs: &[String]) -> Result<HashMap<String, String>, Failure> {
    pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| Failure::usage(format!("-a `{pair}` must look like key=value")))
        })
        .collect()
}
