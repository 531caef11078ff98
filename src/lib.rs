//! mcpchat: a scriptable MCP client. `main_entry` parses the command line, sets up logging
//! and the runtime, runs one command, and maps the outcome to an exit code (PRODUCT.md §3).
#![deny(clippy::print_stdout, clippy::print_stderr)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod agent;
pub mod auth;
pub mod cache;
pub mod candidates;
pub mod cli;
pub mod commands;
pub mod config;
pub mod conversation;
pub mod daemon;
pub mod durations;
pub mod elicit;
pub mod events;
pub mod exit;
pub mod human;
pub mod interrupt;
pub mod json_cost;
pub mod links;
pub mod llm;
pub mod mcp;
pub mod output;
pub mod private_file;
pub mod redact;
pub mod report;
pub mod results;
pub mod roots;
pub mod serve;
pub mod shell;
pub mod terminal;
pub mod ui;
pub mod validate;

use std::sync::Arc;

use clap::Parser;

use crate::cli::{Cli, Command, ResourcesCommand, ToolsCommand};
use crate::commands::App;
use crate::config::{Config, Overrides};
use crate::exit::{Code, Failure, Kind};
use crate::mcp::features::sampling::Sampling;
use crate::output::Output;

/// Run mcpchat with the process's arguments; returns the exit code.
pub fn main_entry() -> i32 {
    // A shell asking for completions (the script of `mcpchat completions`) calls back here.
    if shell::complete_if_asked() {
        return 0;
    }
    install_panic_hook();
    // ./.env never overrides the real environment. Loaded before the flags are parsed, as
    // their MCPCHAT_* variables may come from it, and before any thread starts.
    let _ = dotenvy::from_path(".env");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version print to stdout and exit 0; usage errors exit 2, on
            // stderr in plain text (they quote the arguments, which may come from a server).
            if error.use_stderr() {
                terminal::eprint(&error.render().to_string());
                return Code::Usage.as_i32();
            }
            let _ = error.print();
            return 0;
        }
    };
    init_logging(cli.global.verbose);
    match &cli.command {
        // From here it overlaps the runtime, the config and the cache (docs/speed.md).
        Command::Ask(_) => validate::warm_up(),
        // Once a server is reached directly: through the daemon, the daemon checks.
        Command::Tools(ToolsCommand::Call(args)) if !args.no_validate => validate::want_warm_up(),
        _ => {}
    }
    report::set_quiet(cli.global.quiet);

    // One thread: a command is a few sockets and pipes, and each worker thread costs start-up
    // time (its stack and malloc arena faulted in). Nothing here blocks the thread for long:
    // waits are async, and blocking work (file locks, stdin) goes to `spawn_blocking`.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            report::error_text(&format!("cannot start the async runtime: {error}"));
            return Code::TaskFailed.as_i32();
        }
    };
    let outcome = runtime.block_on(run_until_signal(cli));
    let code = match outcome {
        Ok(code) => code.as_i32(),
        Err(error) if exit::is_broken_pipe(&error) => 0,
        Err(error) => {
            match exit::failure_of(&error) {
                Some(failure) => report::error(failure),
                None => report::error_text(&format!("{error:#}")),
            }
            exit::code_of(&error).as_i32()
        }
    };
    // Don't wait for stray tasks (e.g. a hung server) on the way out.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    mcp::transport::children::kill_all();
    code
}

/// A panic's message can quote what a server sent: it goes out through `terminal` like every
/// other message (the default hook writes it raw). The backtrace follows `RUST_BACKTRACE`.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let backtrace = std::backtrace::Backtrace::capture();
        let mut text = format!(
            "mcpchat: error: internal error: {info}
"
        );
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            text.push_str(&format!(
                "{backtrace}
"
            ));
        }
        text.push_str(
            "hint: this is a bug in mcpchat; please report it
",
        );
        terminal::eprint(&text);
    }));
}

/// Commands that check tool arguments against a schema before calling: jsonschema's
/// meta-schema (about 2 ms of CPU) is built on a thread from the start.
async fn run_until_signal(cli: Cli) -> anyhow::Result<Code> {
    interrupt::install();
    // These print what they have before exiting 130, so they wait on the signal themselves.
    let summarises = matches!(
        &cli.command,
        Command::Ask(_)
            | Command::Tools(ToolsCommand::Call(cli::CallArgs { batch: true, .. }))
            // `resources watch` removes its subscriptions before it exits.
            | Command::Resources(ResourcesCommand::Watch(_))
            // `serve` closes its upstream sessions before it exits.
            | Command::Serve(_)
            | Command::Daemon(cli::DaemonCommand::Run)
    );
    if summarises {
        return run(cli).await;
    }
    tokio::select! {
        result = run(cli) => result,
        what = interrupt::wait() => Err(Failure::new(Kind::Interrupted, what).into()),
        // An answer from --answers that does not fit the form: stop at once (exit 2).
        failure = elicit::failed() => Err(failure.into()),
    }
}

async fn run(cli: Cli) -> anyhow::Result<Code> {
    if let Some(code) = run_without_config(&cli.command)? {
        return Ok(code);
    }
    let global = &cli.global;
    // A replay needs no config: every answer is in the recording.
    if let Command::Serve(args) = &cli.command
        && let Some(recording) = &args.replay
    {
        if !(global.servers.is_empty() && global.urls.is_empty() && global.stdio.is_empty()) {
            return Err(Failure::usage(
                "serve --replay answers from the recording alone; it takes no --server, --url or --stdio",
            )
            .into());
        }
        let cap = match global.max_message_bytes {
            Some(0) => return Err(Failure::usage("--max-message-bytes must be at least 1").into()),
            Some(bytes) => usize::try_from(bytes).unwrap_or(usize::MAX),
            None => mcp::DEFAULT_MAX_MESSAGE_BYTES,
        };
        return serve::replay(args, recording, cap).await;
    }
    let config = load_config(global, &cli.command)?;
    let progress = Arc::new(ui::Progress::new(!global.quiet));
    let mut context = connection_context(global, &cli.command, &config, progress.clone())?;
    let shaping = shaping(global)?;
    let output = Arc::new(Output::new(global.format).with_shaping(shaping));
    context.elicitor = Arc::new(elicitor(global, &cli.command, &output, progress.clone())?);
    let app = App {
        config: Arc::new(config),
        output,
        context,
        selected: global.servers.clone(),
    };
    let result = dispatch(&app, &cli.command).await;
    progress.clear();
    // Commands that finish what they do first (`ask`, `--batch`) still exit 2 after an answer
    // that did not fit.
    match elicit::stopped() {
        Some(failure) => Err(failure.into()),
        None => result,
    }
}

/// `--save-dir` (created 0700 when missing, made absolute so printed paths work from
/// anywhere) and `--max-output-chars`, and whether stdout is a terminal.
fn shaping(global: &cli::GlobalArgs) -> Result<Option<results::Shaping>, Failure> {
    let save_dir = match &global.save_dir {
        None => None,
        Some(dir) => {
            let made = private_file::create_dir(dir).and_then(|()| std::fs::canonicalize(dir));
            Some(made.map_err(|e| {
                Failure::usage(format!("cannot use --save-dir {}: {e}", dir.display()))
                    .hint("give a directory you can write to; it is created if missing")
            })?)
        }
    };
    let max_chars = global
        .max_output_chars
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    Ok(results::Shaping::new(
        save_dir,
        max_chars,
        Output::stdout_is_terminal(),
    ))
}

/// Commands that need no config: fixed texts (schema, completions, man page) and `cache
/// clear` (the cache is the user's, not a server's). `None` for every other command.
fn run_without_config(command: &Command) -> anyhow::Result<Option<Code>> {
    let fixed = match command {
        Command::Schema => events::SCHEMA.to_string(),
        Command::Completions { shell } => shell::registration(*shell)?,
        Command::Man => shell::man_page()?,
        Command::Cache(cli::CacheCommand::Clear) => {
            clear_cache()?;
            return Ok(Some(Code::Success));
        }
        _ => return Ok(None),
    };
    let output = Output::new(output::Format::Json);
    output.write_fixed(fixed.trim_end())?;
    Ok(Some(Code::Success))
}

fn clear_cache() -> Result<(), Failure> {
    let cache = cache::Cache::locate(cache::Mode::Normal, std::time::Duration::ZERO);
    let removed = cache.clear().map_err(|e| {
        Failure::new(
            Kind::Internal,
            format!(
                "cannot clear the cache in {}: {e}",
                cache.dir().map_or("?".into(), |d| d.display().to_string())
            ),
        )
    })?;
    tracing::info!("removed {removed} cache entries");
    Ok(())
}

/// The config file (or the ad-hoc servers) with the flags over it.
fn load_config(global: &cli::GlobalArgs, command: &Command) -> anyhow::Result<Config> {
    let overrides = Overrides {
        config: global.config.clone(),
        urls: global.urls.clone(),
        stdio: global.stdio.clone(),
        headers: global.headers.clone(),
        timeout: global.timeout,
        connect_timeout: global.connect_timeout,
        max_message_bytes: global.max_message_bytes,
        keep_alive: if global.no_keep_alive {
            Some(false)
        } else {
            global.keep_alive
        },
        roots: global.roots.clone(),
    };
    match Config::load(&overrides) {
        Ok(config) => Ok(config),
        Err(failure) if matches!(command, Command::Ask(_)) => {
            // `ask` promises a `result` line whatever goes wrong.
            commands::ask::failed_before_start(&Output::new(global.format), &failure)?;
            Err(failure.into())
        }
        Err(failure) => Err(failure.into()),
    }
}

/// What every connection of this command shares: HTTP clients, token store, cache, and the
/// answers to server requests (elicitation, sampling).
fn connection_context(
    global: &cli::GlobalArgs,
    command: &Command,
    config: &Config,
    progress: Arc<ui::Progress>,
) -> anyhow::Result<mcp::Context> {
    let store =
        auth::store::TokenStore::locate(global.token_store.clone(), config.token_store.as_deref())?;
    let mut context =
        mcp::Context::new(progress, config.connect_timeout, global.verbose > 0, store)?;
    context.elicitation = elicitation_mode(global, command);
    context.protocol_version = global.protocol_version.clone();
    let cache_mode = if global.no_cache {
        cache::Mode::Off
    } else if global.refresh {
        cache::Mode::Refresh
    } else {
        cache::Mode::Normal
    };
    context.cache = cache::Cache::locate(cache_mode, config.cache_ttl);
    context.log_level = global.log_level;
    // Resource updates arrive outside any request: `resources watch` needs the standalone
    // stream that other commands skip (it costs a second connection).
    context.standalone_stream = matches!(
        command,
        Command::Resources(ResourcesCommand::Watch(_)) | Command::Serve(_)
    );
    context.sampling = global.sampling.or(config.llm.sampling).unwrap_or_default();
    // `ask` builds its own sampler from its model flags; `tools` commands use the configured model.
    if context.sampling == Sampling::Allow && matches!(command, Command::Tools(_)) {
        context.sampler = Some(configured_sampler(&context, config)?);
    }
    Ok(context)
}

/// `--elicitation`, else `answers` with `--answers`, else `ask` on a terminal. `serve` never
/// asks by default: its stdin and stdout are the host's.
fn elicitation_mode(global: &cli::GlobalArgs, command: &Command) -> elicit::Mode {
    match (global.elicitation, &global.answers) {
        (Some(mode), _) => mode,
        (None, Some(_)) => elicit::Mode::Answers,
        (None, None) if matches!(command, Command::Serve(_)) => elicit::Mode::Decline,
        (None, None) => elicit::Mode::for_this_terminal(),
    }
}

/// Who answers servers' elicitation requests, with the answers file read and the URL timeout
/// checked before any server starts.
fn elicitor(
    global: &cli::GlobalArgs,
    command: &Command,
    output: &Arc<Output>,
    progress: Arc<ui::Progress>,
) -> Result<elicit::Elicitor, Failure> {
    let mode = elicitation_mode(global, command);
    let answers = match (&global.answers, mode) {
        (Some(path), elicit::Mode::Answers) => Some(elicit::Answers::load(path)?),
        (Some(_), mode) => {
            return Err(Failure::usage(format!(
                "--answers needs --elicitation answers, not {}",
                clap::ValueEnum::to_possible_value(&mode)
                    .map_or_else(String::new, |v| v.get_name().to_string())
            )));
        }
        (None, _) => None,
    };
    let timeout = match global.elicitation_timeout {
        None => elicit::DEFAULT_URL_TIMEOUT,
        Some(secs) => durations::timeout(secs).ok_or_else(|| {
            Failure::usage(durations::timeout_message("--elicitation-timeout", secs))
        })?,
    };
    let elicitor = elicit::Elicitor::new(mode, answers, progress).with_urls(global.open, timeout);
    // `serve`'s stdout is the protocol: its elicitation lines go to the log.
    Ok(match command {
        Command::Serve(_) => elicitor,
        _ => elicitor.with_output(output.clone()),
    })
}

/// Servers' sampling requests answered by the model of `llm:` in the config.
fn configured_sampler(
    context: &mcp::Context,
    config: &Config,
) -> anyhow::Result<Arc<mcp::features::sampling::Sampler>> {
    let provider = llm::Provider::resolve(&llm::ProviderFlags::default(), &config.llm)
        .map_err(|failure| {
            failure.hint("--sampling allow answers servers with the model of `llm:` in the config (and its environment variables)")
        })?;
    let llm = llm::Client::new(
        context.http_for_url(&provider.base_url, config.llm_ca_file()?.as_deref())?,
        provider,
    );
    Ok(Arc::new(mcp::features::sampling::Sampler::new(llm, None)))
}

async fn dispatch(app: &App, command: &Command) -> anyhow::Result<Code> {
    match command {
        Command::Tools(ToolsCommand::List(args)) if args.cached => {
            commands::tools::list_cached(app)
        }
        Command::Tools(ToolsCommand::List(_)) => commands::tools::list(app).await,
        Command::Tools(ToolsCommand::Call(args)) => commands::tools::call(app, args).await,
        Command::Tools(ToolsCommand::Search(args)) => commands::tools::search(app, args).await,
        Command::Tools(ToolsCommand::Show(args)) => commands::tools::show(app, args).await,
        Command::Ask(args) => commands::ask::ask(app, args).await,
        Command::Auth(command) => commands::auth::auth(app, command).await,
        Command::Resources(ResourcesCommand::List(args)) if args.cached => {
            commands::resources::list_cached(app)
        }
        Command::Resources(ResourcesCommand::List(_)) => commands::resources::list(app).await,
        Command::Resources(ResourcesCommand::Templates(args)) if args.cached => {
            commands::resources::templates_cached(app)
        }
        Command::Resources(ResourcesCommand::Templates(_)) => {
            commands::resources::templates(app).await
        }
        Command::Resources(ResourcesCommand::Read(args)) => {
            commands::resources::read(app, args).await
        }
        Command::Resources(ResourcesCommand::Watch(args)) => {
            commands::watch::watch(app, args).await
        }
        Command::Servers => commands::servers::servers(app).await,
        Command::Ping => commands::ping::ping(app).await,
        Command::Prompts(command) => commands::prompts::prompts(app, command).await,
        Command::Complete(args) => commands::complete::complete(app, args).await,
        Command::Tasks(command) => commands::tasks::tasks(app, command).await,
        Command::Sessions(command) => commands::sessions::sessions(app, command).await,
        Command::Serve(args) => serve::serve(app, args).await,
        Command::Daemon(command) => commands::daemon::daemon(app, command).await,
        Command::Schema | Command::Completions { .. } | Command::Man | Command::Cache(_) => {
            Ok(Code::Success)
        }
    }
}

/// Logs go to stderr through `terminal` (secrets masked, controls shown as escapes).
/// Default: warnings only; `-v` info; `-vv` debug; `RUST_LOG` overrides.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn,rmcp=off",
        1 => "info,rmcp=off",
        2 => "debug,rmcp=info,hyper_util=info,reqwest=info",
        _ => "trace",
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    // No colours: the writer cannot tell the formatter's escapes from a server's, and shows
    // every escape as text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(terminal::LogWriter::default)
        .with_target(verbose > 1)
        .with_ansi(false)
        .without_time()
        .try_init();
}
