//! `resources`: list, templates, read and watch the resources of MCP servers.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum ResourcesCommand {
    /// List the resources of every selected server, one `resource` line each
    #[command(after_help = "Examples:\n  mcpchat resources list | jq -r .uri\n  \
        mcpchat resources list --server docs --format text\n  \
        mcpchat resources list --cached | jq -r .uri")]
    List(super::ListArgs),

    /// List the resource templates of every selected server, one `resource_template` line each
    #[command(
        after_help = "Examples:\n  mcpchat resources templates | jq -r .uri_template\n  \
        mcpchat resources templates --cached"
    )]
    Templates(super::ListArgs),

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

    /// Stop (exit 0) after SECS seconds (at most 31536000, a year)
    #[arg(long = "for", value_name = "SECS")]
    pub duration: Option<f64>,

    /// After subscribing, call this tool (no arguments) in the same session, e.g. one that makes
    /// the server start sending updates; `server__tool` or a bare name (repeatable)
    #[arg(long = "call", value_name = "TOOL")]
    pub calls: Vec<String>,
}
