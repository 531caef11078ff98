//! `serve`: the selected servers behind one MCP server, over stdio or a Unix socket.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve on a Unix socket at PATH instead of stdio (created 0600 in a 0700 directory;
    /// connections from another user are refused)
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Tool and prompt names: `auto` keeps a lone server's own names and gives several
    /// `server__name`; `always` prefixes even one; `never` keeps every name as it is (the
    /// first server that lists a name owns it)
    #[arg(long, value_enum, default_value_t = Prefix::Auto)]
    pub prefix: Prefix,
}

/// How `serve` names the tools and prompts of its servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Prefix {
    Auto,
    Always,
    Never,
}
