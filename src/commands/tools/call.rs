//! `tools call NAME [ARGS_JSON|-] [-a k=v]`: one call (or, with `--task`, one task started),
//! one `tool_result` line.

use std::io::IsTerminal;

use serde_json::{Map, Value};

use super::batch::batch;
use super::ready::Ready;
use super::resolve_name;
use crate::cli::CallArgs;
use crate::events::Event;
use crate::exit::{Code, Failure, Kind};
use crate::human::json_kind;
use crate::report;

use crate::commands::App;

pub async fn call(app: &App, args: &CallArgs) -> anyhow::Result<Code> {
    if args.batch {
        let jobs = args.jobs.unwrap_or(16) as usize;
        let options = super::batch::Options {
            jobs,
            shard: args.shard,
            validate: !args.no_validate,
            ordered: !args.unordered,
        };
        return batch(app, options).await;
    }
    // clap's `requires = "batch"` does not hold against a flag's default (false).
    if args.unordered {
        return Err(Failure::usage("--unordered works only with --batch").into());
    }
    if args.shard.is_some() || args.jobs.is_some() {
        return Err(Failure::usage("--shard and --jobs work only with --batch")
            .hint("mcpchat tools call --batch --shard K/N < requests.jsonl")
            .into());
    }
    let Some(name) = args.name.as_deref() else {
        return Err(Failure::usage("tools call needs a tool name (or --batch)").into());
    };
    let arguments = call_arguments(args).await?;
    let (server, tool) = resolve_name(app, name)?;
    // A stdio server's tasks outlive the command only in a server the daemon keeps alive.
    let kept = app.config.keeping(&server.name).keep_alive == crate::config::KeepAlive::On;
    if args.task && matches!(server.transport, crate::config::Transport::Stdio { .. }) && !kept {
        return Err(Failure::usage(format!(
            "--task needs an HTTP server: the tasks of stdio server `{}` end with its process, when this command exits",
            server.name
        ))
        .hint("without --task, `tools call` runs a task-mode tool as a task and waits for its result")
        .hint("or keep the server alive between commands: --keep-alive")
        .into());
    }
    let ready = Ready::open(server, app, !args.no_validate).await?;
    if args.task {
        if let Err(failure) = ready.check(&tool, &arguments) {
            ready.session.close().await;
            return Err(failure.into());
        }
        let Value::Object(map) = arguments else {
            return Err(
                Failure::new(Kind::InvalidArguments, "arguments must be a JSON object").into(),
            );
        };
        return crate::commands::tasks::start(app, ready.session, &tool, map).await;
    }
    let outcome = ready.call(None, &tool, arguments).await;
    // Print first, then end the session: the reader of stdout need not wait for the server
    // to shut down.
    app.context.progress.clear();
    let printed = match &outcome {
        Ok(result) => app.output.emit(&Event::ToolResult(result.clone())),
        Err(_) => Ok(()),
    };
    ready.session.close().await;
    let is_error = outcome?.is_error;
    printed?;
    if is_error {
        report::warning(&Failure::new(
            Kind::ToolError,
            format!("tool `{name}` returned an error (isError)"),
        ));
        return Ok(Code::TaskFailed);
    }
    Ok(Code::Success)
}

/// The JSON object from ARGS_JSON (or stdin with `-`), with `--arg key=value` merged over it.
async fn call_arguments(args: &CallArgs) -> Result<Value, Failure> {
    let mut object = match args.arguments.as_deref() {
        None => Map::new(),
        Some(text) => {
            let text = if text == "-" {
                if std::io::stdin().is_terminal() {
                    return Err(Failure::usage(
                        "`-` reads the arguments from stdin, but stdin is a terminal",
                    )
                    .hint("pipe the JSON in: echo '{\"a\": 1}' | mcpchat tools call NAME -"));
                }
                crate::commands::read_stdin()
                    .await
                    .map_err(|e| Failure::usage(format!("cannot read arguments from stdin: {e}")))?
            } else {
                text.to_string()
            };
            let text = text.trim();
            if text.is_empty() {
                Map::new()
            } else {
                match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(map)) => map,
                    Ok(other) => {
                        return Err(Failure::new(
                            Kind::InvalidArguments,
                            format!(
                                "tool arguments must be a JSON object, not {}",
                                json_kind(&other)
                            ),
                        ));
                    }
                    Err(e) => {
                        return Err(Failure::new(
                            Kind::InvalidArguments,
                            format!("tool arguments are not valid JSON: {e}"),
                        )
                        .hint("quote the JSON for the shell: '{\"a\": 2, \"b\": 3}', or use --arg a=2 --arg b=3"));
                    }
                }
            }
        }
    };
    for pair in &args.args {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Failure::usage(format!(
                "--arg `{pair}` must look like key=value"
            )));
        };
        let value = serde_json::from_str::<Value>(value)
            .unwrap_or_else(|_| Value::String(value.to_string()));
        object.insert(key.to_string(), value);
    }
    Ok(Value::Object(object))
}
