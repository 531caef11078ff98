//! `serve`: the selected servers behind one MCP server, over stdio, a Unix socket or
//! Streamable HTTP.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve on a Unix socket at PATH instead of stdio (created 0600 in a 0700 directory;
    /// connections from another user are refused)
    #[arg(long, value_name = "PATH", conflicts_with = "listen")]
    pub socket: Option<PathBuf>,

    /// Serve Streamable HTTP on HOST:PORT at /mcp instead of stdio (port 0: any free port,
    /// printed on stderr). Loopback only, unless a --token is set
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,

    /// With --listen: hosts must send `Authorization: Bearer TOKEN` (at least 16
    /// characters); required for an address other than loopback
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MCPCHAT_SERVE_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Tool and prompt names: `auto` keeps a lone server's own names and gives several
    /// `server__name`; `always` prefixes even one; `never` keeps every name as it is (the
    /// first server that lists a name owns it)
    #[arg(long, value_enum, default_value_t = Prefix::Auto)]
    pub prefix: Prefix,

    /// Write every MCP message between serve and its hosts to FILE as JSON Lines (direction,
    /// time, connection, server, message; secrets masked; created 0600)
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub record: Option<PathBuf>,

    /// Serve a recording made with --record as an MCP server, without any upstream or config:
    /// each request gets the recorded answer to the same method and params
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
}

/// How `serve` names the tools and prompts of its servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Prefix {
    Auto,
    Always,
    Never,
}
