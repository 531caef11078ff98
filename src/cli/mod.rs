//! Command-line declarations (clap derive). No I/O here: `lib.rs` resolves these into a
//! `Config` and dispatches to `commands`.
//!
//! Parts, by command group: `tools` (list, call, batch shards), `ask` (the model loop and
//! `sessions`), `resources`, `prompts` (and `complete`), `tasks`, `auth`. This file holds the
//! top level: the global flags and the list of commands.

mod ask;
mod auth;
mod daemon;
mod prompts;
mod resources;
mod serve;
mod tasks;
mod tools;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCandidates;

use crate::output::Format;

// Declared where it is sent (`mcp`): the client side does not import the command line.
pub use crate::mcp::LogLevel;
pub use ask::{AskArgs, SessionsCommand, ToolChoice};
pub use auth::{AuthCommand, LoginArgs};
pub use daemon::DaemonCommand;
pub use prompts::{CompleteArgs, PromptGetArgs, PromptsCommand};
pub use resources::{ReadArgs, ResourcesCommand, WatchArgs};
pub use serve::{Prefix, ServeArgs};
pub use tasks::{TaskIdArgs, TasksCommand};
pub use tools::{CallArgs, ListArgs, SearchArgs, Shard, ShowArgs, ToolsCommand};

#[derive(Debug, Parser)]
#[command(
    name = "mcpchat",
    version,
    about = "A scriptable MCP client: list and call tools on MCP servers, and run an LLM tool loop",
    long_about = None,
    propagate_version = true,
    after_help = "Output is JSON Lines on stdout; logs, warnings and progress go to stderr.\n\
                  Exit codes: 0 ok, 1 task failed, 2 usage/config, 3 auth, 4 unreachable/timeout, 130 interrupted.\n\n\
                  Examples:\n  \
                  mcpchat --stdio \"demo=python3 examples/demo_server.py\" tools list\n  \
                  echo \"What is 2 + 3?\" | mcpchat ask | jq -r 'select(.type==\"result\").answer'"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes. Under their own heading, so that a command's `--help` shows its
/// own flags first.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Config file (YAML or JSON). Default: $MCPCHAT_CONFIG, ./mcp_servers.yaml,
    /// ./mcp_servers.json, then <config dir>/mcpchat/mcp_servers.yaml
    #[arg(short, long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Ad-hoc HTTP server instead of the config file's servers (repeatable): Streamable HTTP,
    /// or a legacy HTTP+SSE server (its /sse URL), found automatically
    #[arg(long = "url", global = true, value_name = "[NAME=]URL")]
    pub urls: Vec<String>,

    /// Ad-hoc stdio server: a command line to start (repeatable)
    #[arg(long = "stdio", global = true, value_name = "[NAME=]COMMAND ARGS")]
    pub stdio: Vec<String>,

    /// Extra HTTP header for the --url servers (repeatable)
    #[arg(
        short = 'H',
        long = "header",
        global = true,
        value_name = "NAME: VALUE"
    )]
    pub headers: Vec<String>,

    /// Only use these servers (repeatable)
    #[arg(short, long = "server", global = true, value_name = "NAME",
          add = ArgValueCandidates::new(crate::candidates::server_candidates))]
    pub servers: Vec<String>,

    /// Per-request timeout in seconds for MCP requests (overrides timeout_secs), at most 86400
    /// (a day)
    #[arg(long, global = true, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Timeout in seconds for connecting to a server, including the MCP handshake, at most
    /// 86400 (a day)
    #[arg(long, global = true, value_name = "SECS")]
    pub connect_timeout: Option<f64>,

    /// Cap in bytes on one message from a server (stdio line, SSE event, HTTP body); over it,
    /// the request fails at once (overrides max_message_bytes) [default: 16777216, 16 MiB]
    #[arg(
        long,
        global = true,
        env = "MCPCHAT_MAX_MESSAGE_BYTES",
        value_name = "BYTES"
    )]
    pub max_message_bytes: Option<u64>,

    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Json)]
    pub format: Format,

    /// Write image, audio and blob content to files in DIR, named by their SHA-256, and print
    /// `path`, `mime_type` and `bytes` instead of the base64 (see docs/results.md)
    #[arg(long, global = true, value_name = "DIR")]
    pub save_dir: Option<PathBuf>,

    /// Cut `text` fields longer than N characters, with a marker (the whole text goes to a
    /// file with --save-dir)
    #[arg(long, global = true, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_output_chars: Option<u64>,

    /// More logs on stderr (-v: info, incl. server logs and stdio servers' stderr; -vv: debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No progress bars or warnings on stderr (errors are still printed)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Who answers servers that ask for user input (elicitation): ask (on the terminal, field
    /// by field), answers (from --answers), accept-defaults (the schema's defaults) or decline
    /// [default: ask when stdin and stderr are terminals, else decline]
    #[arg(long, global = true, value_enum, env = "MCPCHAT_ELICITATION")]
    pub elicitation: Option<crate::elicit::Mode>,

    /// Answers to servers' forms (elicitation): a JSON object of field values, or JSON Lines
    /// for several forms in order; `-` reads stdin. Implies --elicitation answers
    #[arg(long, global = true, value_name = "FILE|-")]
    pub answers: Option<String>,

    /// Open the URLs servers ask the user to open (URL elicitation) in the browser
    /// ($BROWSER, else the platform opener); without it they are only shown on stderr
    #[arg(long, global = true)]
    pub open: bool,

    /// How long to wait for a URL elicitation to complete, in seconds, at most 86400 (a day)
    /// [default: 600]
    #[arg(long, global = true, value_name = "SECS")]
    pub elicitation_timeout: Option<f64>,

    /// A directory the servers may work in, announced to them as a root (repeatable; added to
    /// each selected server's `roots:`). Without any, no roots are announced
    #[arg(long = "root", global = true, value_name = "DIR")]
    pub roots: Vec<String>,

    /// Servers' requests for a completion (sampling): allow (answered by the configured model)
    /// or deny [default: llm.sampling, else deny]
    #[arg(
        long,
        global = true,
        value_enum,
        env = "MCPCHAT_SAMPLING",
        value_name = "allow|deny"
    )]
    pub sampling: Option<crate::mcp::features::sampling::Sampling>,

    /// MCP protocol revision: auto (detect per server: 2026-07-28 stateless, else initialize),
    /// or pin one: 2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05
    #[arg(long, global = true, env = "MCPCHAT_PROTOCOL_VERSION", value_name = "VERSION",
          value_parser = clap::builder::PossibleValuesParser::new(crate::config::PROTOCOL_VERSIONS))]
    pub protocol_version: Option<String>,

    /// Ask servers that support logging to send log messages of this level and above
    /// (logging/setLevel); they are shown on stderr with -v
    #[arg(long, global = true, value_enum, value_name = "LEVEL")]
    pub log_level: Option<LogLevel>,

    /// OAuth token store: a file, or `keychain` for the OS keychain (default:
    /// $MCPCHAT_TOKEN_STORE, else the config's token_store, else <data dir>/mcpchat/tokens.json)
    #[arg(long, global = true, value_name = "PATH")]
    pub token_store: Option<PathBuf>,

    /// Neither read nor write the cache of servers' protocol eras and tools lists
    /// (<cache dir>/mcpchat/); env MCPCHAT_NO_CACHE=1
    #[arg(long, global = true, env = "MCPCHAT_NO_CACHE", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_cache: bool,

    /// Fetch tools lists again instead of using cached ones (and cache what was fetched)
    #[arg(long, global = true, conflicts_with = "no_cache")]
    pub refresh: bool,

    /// Reach stdio servers through the per-user daemon, which keeps them alive between
    /// commands (started on first use); env MCPCHAT_KEEP_ALIVE=1|0 [default: each server's
    /// keep_alive, else only while the daemon runs]
    #[arg(long, global = true, env = "MCPCHAT_KEEP_ALIVE", value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub keep_alive: Option<bool>,

    /// Reach every server directly, never through the daemon
    #[arg(long, global = true)]
    pub no_keep_alive: bool,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List and call the tools of MCP servers
    #[command(subcommand)]
    Tools(ToolsCommand),

    /// Ask a model; it may call the servers' tools until it has an answer
    #[command(after_help = "Examples:\n  \
        mcpchat ask \"What tools do you have available?\" | jq -r 'select(.type==\"result\").answer'\n  \
        echo \"What is 2 + 3?\" | mcpchat ask --provider ollama --format text")]
    Ask(AskArgs),

    /// Log in to OAuth servers, and inspect or remove stored tokens
    #[command(subcommand)]
    Auth(AuthCommand),

    /// List, read and watch the resources of MCP servers
    #[command(subcommand)]
    Resources(ResourcesCommand),

    /// One line per selected server: transport, protocol version, server info, capabilities,
    /// counts, connect time, auth state (a CI smoke test)
    #[command(
        after_help = "Examples:\n  mcpchat servers | jq '{server, protocol_version, tools}'\n  \
        mcpchat servers --server dexcom || echo 'dexcom is down'"
    )]
    Servers,

    /// One `ping` line per selected server: the MCP `ping` request's round trip (exit 4 when
    /// a server does not answer): the cheapest liveness check
    #[command(after_help = "Examples:\n  mcpchat ping | jq '{server, rtt_ms}'\n  \
        mcpchat ping --server dexcom || echo 'dexcom is down'")]
    Ping,

    /// List the MCP prompts of every selected server, and get a prompt's messages
    #[command(subcommand)]
    Prompts(PromptsCommand),

    /// Suggest values for a prompt's argument or a resource template's variable
    #[command(
        after_help = "Examples:\n  mcpchat complete everything__completable-prompt department E | jq -r '.values[]'\n  mcpchat complete everything__completable-prompt name -a department=Engineering"
    )]
    Complete(CompleteArgs),

    /// Follow tool calls started with `tools call --task`: list, get, result, cancel
    #[command(subcommand)]
    Tasks(TasksCommand),

    /// List, replay and delete the conversations of `ask --session`
    #[command(subcommand)]
    Sessions(SessionsCommand),

    /// Serve the selected servers as one MCP server (stdio, or --socket PATH) for hosts
    /// that speak MCP: tools, prompts and resources relayed, auth and allow/deny lists upstream
    #[command(after_help = "Examples:\n  \
        mcpchat serve --server salesforce\n  \
        mcpchat serve --socket ~/.local/run/mcpchat/serve.sock")]
    Serve(ServeArgs),

    /// Keep servers alive between commands in a per-user daemon: start, stop, status, restart
    #[command(
        subcommand,
        after_help = "Examples:\n  mcpchat daemon start\n  \
        mcpchat daemon status | jq '{server, pid, calls}'\n  mcpchat daemon stop"
    )]
    Daemon(DaemonCommand),

    /// Print the JSON Schema of the stdout lines
    #[command(after_help = "Examples:\n  mcpchat schema | jq -r .schema_version\n  \
                            mcpchat schema > events.schema.json")]
    Schema,

    /// Manage the cache of servers' protocol eras and tools lists
    #[command(subcommand, after_help = "Examples:\n  mcpchat cache clear")]
    Cache(CacheCommand),

    /// Print a shell completion script (completes commands, flags and configured server names)
    #[command(after_help = "Examples:\n  \
        mcpchat completions bash > ~/.local/share/bash-completion/completions/mcpchat\n  \
        echo 'source <(mcpchat completions zsh)' >> ~/.zshrc\n  \
        mcpchat completions fish > ~/.config/fish/completions/mcpchat.fish")]
    Completions {
        /// The shell to complete in
        #[arg(value_enum)]
        shell: CompletionShell,
    },

    /// Print the man page (roff) of mcpchat and every subcommand
    #[command(after_help = "Examples:\n  mcpchat man | man -l -\n  \
        mcpchat man > ~/.local/share/man/man1/mcpchat.1")]
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove every cached entry
    #[command(after_help = "Examples:\n  mcpchat cache clear")]
    Clear,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_declarations_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
