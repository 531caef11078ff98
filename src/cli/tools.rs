//! `tools`: list and call tools, one call or a batch (optionally one shard of it).

use clap::{Args, Subcommand};
use clap_complete::engine::ArgValueCandidates;

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

    /// Rank the tools of every selected server by how well their name, title and description
    /// match QUERY (fuzzy); `tool` lines with a `score`, best first. Cached lists are used
    /// when fresh, so a warm search contacts no server
    #[command(
        after_help = "Examples:\n  mcpchat tools search 'read file' | jq -r .name\n  \
        mcpchat tools search screenshot --limit 3 --format text"
    )]
    Search(SearchArgs),

    /// One tool's `tool` line with its schemas; --format text prints a one-line signature,
    /// e.g. `demo__add(a: number, b: number) -> {sum}`
    #[command(
        after_help = "Examples:\n  mcpchat tools show demo__add | jq .input_schema\n  \
        mcpchat tools show demo__add --format text"
    )]
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to look for; every word must match (fuzzy, case-insensitive)
    #[arg(required = true, num_args = 1.., value_name = "QUERY")]
    pub query: Vec<String>,

    /// At most this many tools
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Tool name: `server__tool`, or the bare tool name when one server is selected
    #[arg(add = ArgValueCandidates::new(crate::candidates::tool_candidates))]
    pub name: String,
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
    #[arg(required_unless_present = "batch", add = ArgValueCandidates::new(crate::candidates::tool_candidates))]
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

    /// Read JSONL requests {"id", "tool", "arguments", "answers"} from stdin; one result line each
    #[arg(long, conflicts_with_all = ["name", "arguments", "args"])]
    pub batch: bool,

    /// Start the call as a task and print its `task` line at once; follow it with
    /// `mcpchat tasks get|result|cancel ID`
    #[arg(long, conflicts_with = "batch")]
    pub task: bool,

    #[arg(short, long, requires = "batch", value_parser = clap::value_parser!(u32).range(1..=1024), help = "How many batch calls run at once, across servers [default: 16]")]
    pub jobs: Option<u32>,

    /// Let the lines for one server run concurrently and answer in any order. By default
    /// they run one after another, in input order (a stateful flow such as navigate, click,
    /// snapshot needs that); lines for different servers always run concurrently
    #[arg(long, requires = "batch")]
    pub unordered: bool,

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
