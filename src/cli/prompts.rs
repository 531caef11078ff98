//! `prompts` (list, get) and `complete` (argument values for prompts and resource templates).

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum PromptsCommand {
    /// One `prompt` line per prompt of every selected server
    #[command(
        after_help = "Examples:\n  mcpchat prompts list | jq -r .name\n  mcpchat prompts list --server everything --format text\n  mcpchat prompts list --cached | jq -r .name"
    )]
    List(super::ListArgs),

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
