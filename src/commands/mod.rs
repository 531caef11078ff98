//! One module per command group; each takes the resolved [`App`] and returns an exit code.

pub mod ask;
pub mod auth;
mod cached;
pub mod complete;
pub mod daemon;
mod each;
mod owners;
pub mod ping;
pub mod prompts;
pub mod resources;
pub mod servers;
pub mod sessions;
pub mod tasks;
pub mod tools;
pub mod watch;

use std::sync::Arc;

use crate::config::Config;
use crate::events::ErrorInfo;
use crate::exit::Failure;
use crate::mcp::Context;
use crate::output::Output;

/// The `error` line for a server that failed: the failure, with the server's name.
pub fn server_error(server: &str, failure: &Failure) -> ErrorInfo {
    ErrorInfo {
        server: Some(server.to_string()),
        ..ErrorInfo::from_failure(failure)
    }
}

/// All of stdin, read off the runtime's one thread: a slow producer does not hold up other
/// tasks, and a signal that arrives meanwhile is still seen.
async fn read_stdin() -> std::io::Result<String> {
    use tokio::io::AsyncReadExt;
    let mut text = String::new();
    tokio::io::stdin().read_to_string(&mut text).await?;
    Ok(text)
}

/// Everything a command needs, resolved once from flags, environment and the config file.
#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub output: Arc<Output>,
    pub context: Context,
    /// `--server` names, in the order given.
    pub selected: Vec<String>,
}
