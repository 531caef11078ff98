//! The rmcp-facing module: connect to one MCP server (Streamable HTTP, legacy HTTP+SSE or
//! stdio), list its tools, call them, and shut it down cleanly. Everything the rest of mcpchat
//! needs from the SDK goes through [`Session`], and every SDK error leaves here as a classified
//! [`Failure`](crate::exit::Failure).
//!
//! Parts: `connect` (which protocol era, tried as small steps), `session` (requests under a
//! timeout), `handler` (what servers send us), `sampling` (their requests for a completion),
//! `classify` (errors -> Failure), `stdio` and `children` (child processes that cannot outlive
//! us), `legacy_sse` (the 2024-11-05 transport), `framing` (bounded reading: a bad reply fails
//! its request at once), `guarded_http` (the same for Streamable HTTP), `lenient` (results read
//! from raw JSON), `paginate` (cursors followed, a repeat stopped).
//!
//! Guarantees: every request is bounded by a timeout; a stdio child runs in its own process
//! group registered with `children`, so it cannot outlive us; its stderr reaches ours only with
//! `-v` (the last lines are kept for error messages).

pub mod children;
mod classify;
mod connect;
mod framing;
mod guarded_http;
mod handler;
pub mod legacy_sse;
mod lenient;
pub mod paginate;
mod prompts;
mod resume;
pub mod sampling;
mod session;
mod stdio;
mod tasks;

use std::sync::Arc;
use std::time::Duration;

use crate::exit::{Failure, Kind};
use crate::ui::Progress;

pub use framing::DEFAULT_MAX_MESSAGE_BYTES;
pub use lenient::CallResult;
pub use prompts::CompletionTarget;
pub use resume::Resume;
pub use session::Session;
pub use tasks::TaskState;

/// What every connection shares: the pooled HTTP client and the stderr UI.
#[derive(Clone)]
pub struct Context {
    /// Built on first use: loading the system's CA certificates costs a few milliseconds that
    /// a stdio-only command should not pay.
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
    pub store: crate::auth::store::TokenStore,
    pub progress: Arc<Progress>,
    pub connect_timeout: Duration,
    /// Forward stdio servers' stderr to ours (`-v`).
    pub forward_stderr: bool,
    /// How server elicitation requests are answered.
    pub elicitation: Elicitation,
    /// `--protocol-version`: `auto` (None) or a pinned revision.
    pub protocol_version: Option<String>,
    /// `--log-level`: sent to every server that supports logging, right after connecting.
    pub log_level: Option<crate::cli::LogLevel>,
    /// `--sampling` / `llm.sampling`, resolved.
    pub sampling: sampling::Sampling,
    /// Answers servers' sampling requests (None: refuse them). Set by the command that has
    /// the model settings when `sampling` is `allow`.
    pub sampler: Option<Arc<sampling::Sampler>>,
}

/// What mcpchat answers when a server asks the user for input (`elicitation/create`). A
/// command-line run has nobody to ask, so it either declines or accepts the schema's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Elicitation {
    /// Decline every request (the default; the capability is not declared).
    #[default]
    Decline,
    /// Accept form requests with each field's `default` from the requested schema.
    AcceptDefaults,
}

impl Context {
    /// The pooled HTTP client (one for everything).
    pub fn http(&self) -> reqwest::Client {
        self.http
            .get_or_init(|| {
                http_client().unwrap_or_else(|failure| {
                    tracing::warn!("{}", failure.message);
                    reqwest::Client::new()
                })
            })
            .clone()
    }

    pub fn new(
        progress: Arc<Progress>,
        connect_timeout: Duration,
        forward_stderr: bool,
        store: crate::auth::store::TokenStore,
    ) -> Result<Self, Failure> {
        Ok(Context {
            elicitation: Elicitation::Decline,
            protocol_version: None,
            log_level: None,
            sampling: sampling::Sampling::Deny,
            sampler: None,
            store,
            http: Arc::default(),
            progress,
            connect_timeout,
            forward_stderr,
        })
    }

    /// The protocol version pinned for `server` (its own setting first), if any.
    pub fn pinned_version<'a>(
        &'a self,
        server: &'a crate::config::ServerConfig,
    ) -> Option<&'a str> {
        server
            .protocol_version
            .as_deref()
            .or(self.protocol_version.as_deref())
    }
}

/// One pooled HTTP client for everything. Same-origin 307/308 redirects only: a 301/302/303
/// would turn the POST into a bodyless GET, and another origin must not see our headers.
pub fn http_client() -> Result<reqwest::Client, Failure> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(
            attempt.status(),
            reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
        );
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !keeps_body || !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > 10 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .user_agent(concat!("mcpchat/", env!("CARGO_PKG_VERSION")))
        .redirect(policy)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Failure::new(Kind::Internal, format!("cannot build the HTTP client: {e}")))
}
