//! Command-line declarations (clap derive). No I/O here: `lib.rs` resolves these into a
//! `Config` and dispatches to `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCandidates;

use crate::output::Format;

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
          add = ArgValueCandidates::new(crate::shell::server_candidates))]
    pub servers: Vec<String>,

    /// Per-request timeout in seconds for MCP requests (overrides timeout_secs)
    #[arg(long, global = true, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Timeout in seconds for connecting to a server, including the MCP handshake
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

    /// More logs on stderr (-v: info, incl. server logs and stdio servers' stderr; -vv: debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No progress bars or warnings on stderr (errors are still printed)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// How to answer servers that ask for user input (elicitation): decline, or accept-defaults
    /// (accept with the requested schema's default values)
    #[arg(long, global = true, value_enum, env = "MCPCHAT_ELICITATION", default_value_t = crate::mcp::Elicitation::Decline)]
    pub elicitation: crate::mcp::Elicitation,

    /// Servers' requests for a completion (sampling): allow (answered by the configured model)
    /// or deny [default: llm.sampling, else deny]
    #[arg(
        long,
        global = true,
        value_enum,
        env = "MCPCHAT_SAMPLING",
        value_name = "allow|deny"
    )]
    pub sampling: Option<crate::mcp::sampling::Sampling>,

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
    #[arg(long, global = true, value_name = "PATH|keychain")]
    pub token_store: Option<PathBuf>,

    /// Neither read nor write the cache of servers' protocol eras and tools lists
    /// (<cache dir>/mcpchat/); env MCPCHAT_NO_CACHE=1
    #[arg(long, global = true, env = "MCPCHAT_NO_CACHE", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_cache: bool,

    /// Fetch tools lists again instead of using cached ones (and cache what was fetched)
    #[arg(long, global = true, conflicts_with = "no_cache")]
    pub refresh: bool,
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

#[derive(Debug, Subcommand)]
pub enum ResourcesCommand {
    /// List the resources of every selected server, one `resource` line each
    #[command(after_help = "Examples:\n  mcpchat resources list | jq -r .uri\n  \
        mcpchat resources list --server docs --format text")]
    List,

    /// List the resource templates of every selected server, one `resource_template` line each
    #[command(after_help = "Examples:\n  mcpchat resources templates | jq -r .uri_template")]
    Templates,

    /// Read resources: one `resource_contents` line per URI. The server is the one that lists
    /// the URI (or has a matching template), else the one --server selects
    #[command(after_help = "Examples:\n  \
        mcpchat resources read demo://resource/static/document/architecture.md --format text\n  \
        mcpchat resources read demo://resource/dynamic/blob/1 -o blob.bin")]
    Read(ReadArgs),

    /// Subscribe to resources and print a `resource_updated` line per update, until --count,
    /// --for or Ctrl-C; the subscription is removed on the way out
    #[command(after_help = "Examples:\n  \
        mcpchat resources watch demo://resource/dynamic/text/1 --count 2\n  \
        mcpchat resources watch file:///var/log/app.log --read | while read -r line; do ...; done")]
    Watch(WatchArgs),
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Resource URIs
    #[arg(required = true, value_name = "URI")]
    pub uris: Vec<String>,

    /// Write the contents (text as UTF-8, blobs base64-decoded) to FILE, byte-exact. The
    /// `resource_contents` line then carries `file` and byte counts, not the data
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Resource URIs to watch
    #[arg(required = true, value_name = "URI")]
    pub uris: Vec<String>,

    /// Read the resource again on each update and add its `contents` to the line
    #[arg(long)]
    pub read: bool,

    /// Stop (exit 0) after N updates
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Stop (exit 0) after SECS seconds
    #[arg(long = "for", value_name = "SECS")]
    pub duration: Option<f64>,

    /// After subscribing, call this tool (no arguments) in the same session, e.g. one that makes
    /// the server start sending updates; `server__tool` or a bare name (repeatable)
    #[arg(long = "call", value_name = "TOOL")]
    pub calls: Vec<String>,
}

/// Server log levels (RFC 5424 severities, as MCP names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

#[derive(Debug, Subcommand)]
pub enum PromptsCommand {
    /// One `mcp_prompt` line per prompt of every selected server
    #[command(
        after_help = "Examples:\n  mcpchat prompts list | jq -r .name\n  mcpchat prompts list --server everything --format text"
    )]
    List,

    /// Get one prompt's messages: one `prompt_result` line
    #[command(
        after_help = "Examples:\n  mcpchat prompts get everything__args-prompt -a city=Paris | jq -r .text\n  echo '{\"city\": \"Paris\"}' | mcpchat prompts get everything__args-prompt -"
    )]
    Get(PromptGetArgs),
}

#[derive(Debug, Args)]
pub struct PromptGetArgs {
    /// Prompt name: `server__prompt`, or the bare name when one server is selected
    pub name: String,

    /// Arguments as a JSON object of strings, or `-` to read them from stdin
    #[arg(value_name = "ARGS_JSON|-")]
    pub arguments: Option<String>,

    /// One argument (repeatable)
    #[arg(short = 'a', long = "arg", value_name = "KEY=VALUE")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// `server__prompt` whose argument to complete (or, with --template, the server name)
    pub name: String,

    /// The argument (or template variable) to complete
    pub argument: String,

    /// What has been typed so far
    #[arg(default_value = "")]
    pub value: String,

    /// Complete a variable of this resource template (URI template) instead of a prompt argument
    #[arg(long, value_name = "URI_TEMPLATE")]
    pub template: Option<String>,

    /// Another argument already chosen, sent as context (repeatable)
    #[arg(short = 'a', long = "arg", value_name = "KEY=VALUE")]
    pub args: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// One `task` line per task the selected servers list
    #[command(after_help = "Examples:\n  mcpchat tasks list | jq -r '.task_id + \" \" + .status'")]
    List,

    /// The current state of a task: one `task` line
    #[command(after_help = "Examples:\n  mcpchat tasks get \"$TASK_ID\" | jq -r .status")]
    Get(TaskIdArgs),

    /// Wait for a task to finish and print its `tool_result` line
    #[command(
        after_help = "Examples:\n  mcpchat tools call --task everything__simulate-research-query -a topic=otters\n  mcpchat tasks result \"$TASK_ID\" | jq -r .text"
    )]
    Result(TaskIdArgs),

    /// Ask the server to cancel a task; prints its `task` line
    #[command(after_help = "Examples:\n  mcpchat tasks cancel \"$TASK_ID\"")]
    Cancel(TaskIdArgs),
}

#[derive(Debug, Args)]
pub struct TaskIdArgs {
    /// The task id from the `task` line (`task_id`)
    pub id: String,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The prompt; `-` (or no argument with piped stdin) reads it from stdin
    #[arg(value_name = "PROMPT|-")]
    pub prompt: Option<String>,

    /// System prompt (default: llm.system_prompt)
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,

    /// Model provider preset: openai, lmstudio, ollama or custom (env MCPCHAT_PROVIDER)
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,

    /// Model name (env MCPCHAT_MODEL; MODEL, LMSTUDIO_MODEL, OLLAMA_MODEL per provider)
    #[arg(short, long, value_name = "NAME")]
    pub model: Option<String>,

    /// Base URL of the OpenAI-compatible API, e.g. http://localhost:1234/v1
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// Sampling temperature
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,

    /// Most model requests in one run [default: 10]
    #[arg(long, value_name = "N")]
    pub max_steps: Option<u32>,

    /// Offer only tools whose `server__tool` name matches (glob, repeatable)
    #[arg(long = "allow-tool", value_name = "GLOB")]
    pub allow_tools: Vec<String>,

    /// Never offer tools whose `server__tool` name matches (glob, repeatable)
    #[arg(long = "deny-tool", value_name = "GLOB")]
    pub deny_tools: Vec<String>,

    /// Stream the model's text as `delta` lines
    #[arg(long)]
    pub stream: bool,

    /// Model API timeout in seconds (whole response, or between streamed chunks) [default: 300]
    #[arg(long, value_name = "SECS")]
    pub llm_timeout: Option<f64>,

    /// Retries of a model request after 429/5xx or a connection error [default: 3]
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,

    /// Cap, in bytes, on one tool result's text sent back to the model [default: 16384]
    #[arg(long, value_name = "BYTES")]
    pub max_tool_output: Option<usize>,

    /// Attach a resource's text to the prompt (binary contents are named, not inlined);
    /// repeatable
    #[arg(long = "resource", value_name = "URI")]
    pub resources: Vec<String>,

    /// Start the conversation from an MCP prompt's messages (`server__prompt`); PROMPT, if
    /// given, follows them as the user's message
    #[arg(long = "prompt", value_name = "SERVER__PROMPT")]
    pub mcp_prompt: Option<String>,

    /// An argument of the --prompt prompt (repeatable)
    #[arg(
        short = 'a',
        long = "arg",
        value_name = "KEY=VALUE",
        requires = "mcp_prompt"
    )]
    pub prompt_args: Vec<String>,

    /// Continue (or start) a stored conversation: a NAME in the data dir, or a file PATH (with a /)
    #[arg(long, value_name = "NAME|PATH")]
    pub session: Option<String>,

    /// Continue the most recently used conversation
    #[arg(long = "continue", conflicts_with = "session")]
    pub continue_latest: bool,

    /// Leave the oldest whole exchanges of a conversation out of the request beyond this many
    /// tokens (estimated; env MCPCHAT_MAX_HISTORY_TOKENS, llm.max_history_tokens)
    #[arg(long, value_name = "TOKENS")]
    pub max_history_tokens: Option<u64>,

    /// Whether the model must, may or must not call tools (the first request of the run)
    #[arg(long, value_enum, env = "MCPCHAT_TOOL_CHOICE", value_name = "CHOICE")]
    pub tool_choice: Option<ToolChoice>,
}

/// The chat API's `tool_choice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ToolChoice {
    Auto,
    Required,
    None,
}

impl ToolChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            ToolChoice::Auto => "auto",
            ToolChoice::Required => "required",
            ToolChoice::None => "none",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// One `session` line per stored conversation
    #[command(after_help = "Examples:\n  mcpchat sessions list | jq -r .name\n  \
        mcpchat sessions list --format text")]
    List,

    /// Replay a conversation as `prompt`, `tool_call`, `tool_result` and `message` lines
    #[command(
        after_help = "Examples:\n  mcpchat sessions show glucose --format text\n  \
        mcpchat sessions show glucose | jq -r 'select(.type==\"message\").content'"
    )]
    Show {
        /// Session NAME or PATH (default: the most recently used)
        #[arg(value_name = "NAME|PATH")]
        name: Option<String>,
    },

    /// Delete stored conversations
    #[command(after_help = "Examples:\n  mcpchat sessions rm glucose\n  \
        mcpchat sessions list | jq -r .name | xargs mcpchat sessions rm")]
    Rm {
        #[arg(value_name = "NAME|PATH", required = true)]
        names: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// List the tools of every selected server, one `tool` line each
    #[command(after_help = "Examples:\n  mcpchat tools list | jq -r .name\n  \
        mcpchat tools list --server demo --format text\n  \
        mcpchat tools list --cached | jq -r .name")]
    List(ListArgs),

    /// Call one tool, or many with --batch
    #[command(after_help = "Examples:\n  \
        mcpchat tools call demo__add -a a=2 -a b=3 | jq .structured_content\n  \
        mcpchat tools call --batch --jobs 8 --shard 0/4 < requests.jsonl > results.jsonl")]
    Call(CallArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Answer from the cache without connecting (exit 4 naming the servers without a fresh
    /// cache entry)
    #[arg(long)]
    pub cached: bool,
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// Tool name: `server__tool`, or the bare tool name when one server is selected
    #[arg(required_unless_present = "batch", add = ArgValueCandidates::new(crate::shell::tool_candidates))]
    pub name: Option<String>,

    /// Arguments as a JSON object, or `-` to read them from stdin
    #[arg(value_name = "ARGS_JSON|-")]
    pub arguments: Option<String>,

    /// One argument: value parsed as JSON when it can be, else taken as a string (repeatable)
    #[arg(short, long = "arg", value_name = "KEY=VALUE")]
    pub args: Vec<String>,

    /// Send the arguments without checking them against the tool's input schema first (the
    /// server still validates them)
    #[arg(long)]
    pub no_validate: bool,

    /// Read JSONL requests {"id", "tool", "arguments"} from stdin; one result line each
    #[arg(long, conflicts_with_all = ["name", "arguments", "args"])]
    pub batch: bool,

    /// Start the call as a task and print its `task` line at once; follow it with
    /// `mcpchat tasks get|result|cancel ID`
    #[arg(long, conflicts_with = "batch")]
    pub task: bool,

    #[arg(short, long, requires = "batch", value_parser = clap::value_parser!(u32).range(1..=1024), help = "How many batch calls run at once [default: 16]")]
    pub jobs: Option<u32>,

    /// Process only the input lines whose 0-based line number mod N is K (e.g. the Kubernetes
    /// Indexed Job's $JOB_COMPLETION_INDEX/N); ids and `batch line N` stay the whole file's
    #[arg(long, requires = "batch", value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
}

/// One of N slices of a batch input: the lines whose 0-based number mod `count` is `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Whether the line with this 0-based number belongs to the shard.
    pub fn owns(&self, line: usize) -> bool {
        line % self.count == self.index
    }
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    let usage = || format!("`{text}` is not K/N with 0 <= K < N (e.g. 0/4)");
    let (index, count) = text.split_once('/').ok_or_else(usage)?;
    let index: usize = index.trim().parse().map_err(|_| usage())?;
    let count: usize = count.trim().parse().map_err(|_| usage())?;
    if count == 0 || index >= count {
        return Err(usage());
    }
    Ok(Shard { index, count })
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Authorize mcpchat with OAuth servers (all OAuth servers when none is named)
    #[command(after_help = "Examples:\n  mcpchat auth login sheets\n  \
        mcpchat auth login --no-browser sheets     # over SSH: open the printed URL yourself")]
    Login(LoginArgs),

    /// One line per server: logged in, expiry, scopes, refreshable, issuer (never a token)
    #[command(after_help = "Examples:\n  mcpchat auth status --format text\n  \
        mcpchat auth status sheets | jq .expires_at")]
    Status {
        /// Servers to report (default: all)
        #[arg(value_name = "SERVER", add = ArgValueCandidates::new(crate::shell::server_candidates))]
        names: Vec<String>,
    },

    /// Forget stored tokens (all OAuth servers when none is named)
    #[command(after_help = "Examples:\n  mcpchat auth logout sheets\n  \
        mcpchat auth logout --forget-client sheets   # register a new client at the next login")]
    Logout {
        /// Servers to log out of (default: every OAuth server)
        #[arg(value_name = "SERVER", add = ArgValueCandidates::new(crate::shell::server_candidates))]
        names: Vec<String>,
        /// Also forget the client registration
        #[arg(long)]
        forget_client: bool,
    },

    /// Print a valid access token for SERVER (refreshed if needed), for scripts
    #[command(after_help = "Examples:\n  \
        curl -H \"Authorization: Bearer $(mcpchat auth token sheets)\" https://example.com/api")]
    Token {
        /// The OAuth server
        #[arg(add = ArgValueCandidates::new(crate::shell::server_candidates))]
        server: String,
    },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Servers to log in to (default: every server with auth_type oauth or client_credentials)
    #[arg(value_name = "SERVER", add = ArgValueCandidates::new(crate::shell::server_candidates))]
    pub names: Vec<String>,

    /// Print the authorization URL on stderr instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,

    /// Log in with a code entered on another device (RFC 8628 device authorization); also
    /// used when no browser can be opened and the server offers it
    #[arg(long, conflicts_with = "no_browser")]
    pub device: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_declarations_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
