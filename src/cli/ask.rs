//! `ask` (a model calling the servers' tools) and `sessions` (its saved conversations).

use clap::{Args, Subcommand};

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

    /// Model API timeout in seconds (whole response, or between streamed chunks), at most
    /// 86400 (a day) [default: 300]
    #[arg(long, value_name = "SECS")]
    pub llm_timeout: Option<f64>,

    /// Bound in seconds on one streamed model answer as a whole [default: 600]
    #[arg(long, value_name = "SECS")]
    pub llm_total_timeout: Option<f64>,

    /// Retries of a model request after 429/5xx or a connection error [default: 3]
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,

    /// Cap in bytes on one model API reply (a JSON body or a whole stream); over it, `ask`
    /// fails at once (env MCPCHAT_LLM_MAX_REPLY_BYTES, llm.max_reply_bytes) [default: 16777216,
    /// 16 MiB]
    #[arg(long, value_name = "BYTES")]
    pub llm_max_reply_bytes: Option<u64>,

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
