//! The rmcp-facing module: connect to one MCP server (Streamable HTTP, legacy HTTP+SSE or
//! stdio), list its tools, call them, and shut it down cleanly. Everything the rest of mcpchat
//! needs from the SDK goes through [`Session`], and every SDK error leaves here as a classified
//! [`Failure`](crate::exit::Failure).
//!
//! Parts: `connect` (which protocol era, tried as small steps), `session` (requests under a
//! timeout), `classify` (errors -> Failure), `lazy` (a server connected in the background for
//! `ask`), and two folders: `transport/` (stdio children, framing, legacy SSE, the Streamable
//! HTTP layers: how bytes travel) and `features/` (lists, resources, prompts, tasks, what
//! servers send us, sampling, the relayed request for `serve`: what the bytes mean). Features
//! use transports' types (a `Line`, a `Child`); transports never use features.
//!
//! Guarantees: every request is bounded by a timeout; a stdio child runs in its own process
//! group registered with `children`, so it cannot outlive us; its stderr reaches ours only with
//! `-v` (the last lines are kept for error messages).

pub mod classify;
mod connect;
pub(crate) mod features;
pub mod lazy;
mod session;
pub(crate) mod transport;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::exit::{Failure, Kind};
use crate::ui::Progress;

pub use features::forward::Refused;
pub use features::handler::Asks;
pub use features::lenient::CallResult;
pub use features::lists::FRESH_KEY;
pub use features::prompts::CompletionTarget;
pub use features::resources::{Updates, template_matches};
pub use features::tasks::TaskState;
pub use session::{Checked, Session};
pub use transport::framing::{DEFAULT_MAX_MESSAGE_BYTES, Line, Lines, human_bytes};
pub use transport::resume::Resume;

/// What every connection shares: the pooled HTTP client and the stderr UI.
#[derive(Clone)]
pub struct Context {
    /// Built on first use: loading the system's CA certificates costs a few milliseconds that
    /// a stdio-only command should not pay.
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
    /// For plain `http://` URLs: a client that never loads the CA store (no TLS to verify),
    /// so local servers and models are not kept waiting for it (~10 ms, and a panic in
    /// reqwest on a system without CA certificates).
    plain: Arc<std::sync::OnceLock<reqwest::Client>>,
    /// Clients that also trust a `ca_file`, one per file.
    trusting: Arc<std::sync::Mutex<std::collections::HashMap<PathBuf, reqwest::Client>>>,
    pub store: crate::auth::store::TokenStore,
    pub progress: Arc<Progress>,
    pub connect_timeout: Duration,
    /// Forward stdio servers' stderr to ours (`-v`).
    pub forward_stderr: bool,
    /// How server elicitation requests are answered.
    pub elicitation: Elicitation,
    /// Answers them (`--elicitation`, `--answers`).
    pub elicitor: Arc<crate::elicit::Elicitor>,
    /// `--protocol-version`: `auto` (None) or a pinned revision.
    pub protocol_version: Option<String>,
    /// Remembered eras and lists (`--no-cache` turns it off).
    pub cache: crate::cache::Cache,
    /// Open the optional standalone GET stream of Streamable HTTP sessions: only commands
    /// that wait for server-initiated messages outside a request need it (a second
    /// connection otherwise).
    pub standalone_stream: bool,
    /// `--log-level`: sent to every server that supports logging, right after connecting.
    pub log_level: Option<LogLevel>,
    /// `--sampling` / `llm.sampling`, resolved.
    pub sampling: features::sampling::Sampling,
    /// Answers servers' sampling requests (None: refuse them). Set by the command that has
    /// the model settings when `sampling` is `allow`.
    pub sampler: Option<Arc<features::sampling::Sampler>>,
    /// `serve`: where servers' elicitation, sampling and roots requests go (None: answered
    /// here, by `elicitation` and `sampler`).
    pub asks: Option<Arc<dyn Asks>>,
    /// Start stdio servers with a cleared environment plus their `env:` only, not this
    /// process's: the daemon, whose kept servers' `env:` is the command's environment and
    /// then the config's (a direct command passes its own on).
    pub clear_env: bool,
}

/// Server log levels (RFC 5424 severities, as MCP names them): `--log-level`, sent with
/// `logging/setLevel`.
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

/// Who answers when a server asks the user for input (`elicitation/create`): see `elicit`.
pub use crate::elicit::Mode as Elicitation;

impl Context {
    /// The pooled client for requests to `url`, trusting `ca_file` when given (one client
    /// per file); a plain `http://` URL gets the client without any CA store.
    pub fn http_for_url(
        &self,
        url: &str,
        ca_file: Option<&Path>,
    ) -> Result<reqwest::Client, Failure> {
        if plain_http(url) {
            return Ok(self.plain_http());
        }
        self.http_for(ca_file)
    }

    /// This context's client (see `for_server`) for requests to `url`, or the plain one for
    /// an `http://` URL.
    pub fn http_to(&self, url: &str) -> reqwest::Client {
        if plain_http(url) {
            return self.plain_http();
        }
        self.http()
    }

    /// The pooled client for `server`: the shared one, or with a `ca_file` one per file.
    pub fn http_for(&self, ca_file: Option<&Path>) -> Result<reqwest::Client, Failure> {
        let Some(file) = ca_file else {
            return Ok(self.http());
        };
        let mut clients = self.trusting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(file) {
            return Ok(client.clone());
        }
        let client = http_client_trusting(Some(file))?;
        clients.insert(file.to_path_buf(), client.clone());
        Ok(client)
    }

    /// This context for one server: its `http()` is the client that trusts the server's
    /// `ca_file` (the same context when it has none).
    pub fn for_server(&self, server: &crate::config::ServerConfig) -> Result<Context, Failure> {
        if server.ca_file.is_none() {
            return Ok(self.clone());
        }
        let http = self.http_for(server.ca_file.as_deref())?;
        Ok(Context {
            http: Arc::new(std::sync::OnceLock::from(http)),
            ..self.clone()
        })
    }

    /// The pooled HTTP client (one for everything). Without a usable CA store (e.g. a
    /// container without ca-certificates) it is the plain client: `https://` then fails at
    /// the handshake with a certificate error, which says what is wrong.
    pub fn http(&self) -> reqwest::Client {
        self.http
            .get_or_init(|| {
                http_client().unwrap_or_else(|failure| {
                    tracing::warn!("{}", failure.message);
                    self.plain_http()
                })
            })
            .clone()
    }

    /// The client for plain `http://` URLs: pooled like the other, but it has no CA store.
    pub fn plain_http(&self) -> reqwest::Client {
        self.plain
            .get_or_init(|| {
                plain_http_client().unwrap_or_else(|failure| {
                    tracing::warn!("{}", failure.message);
                    reqwest::Client::default()
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
            elicitor: Arc::new(crate::elicit::Elicitor::declining(progress.clone())),
            protocol_version: None,
            cache: crate::cache::Cache::off(),
            standalone_stream: false,
            log_level: None,
            sampling: features::sampling::Sampling::Deny,
            sampler: None,
            asks: None,
            clear_env: false,
            store,
            http: Arc::default(),
            plain: Arc::default(),
            trusting: Arc::default(),
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

/// Whether plain-HTTP requests go through a proxy (reqwest honours these variables).
pub fn http_proxy_configured() -> bool {
    ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// The certificates of a `ca_file`; a missing, unreadable or certificate-less file is a
/// config error naming it.
fn ca_certificates(file: &Path) -> Result<Vec<reqwest::Certificate>, Failure> {
    let pem = std::fs::read(file)
        .map_err(|e| Failure::config(format!("cannot read the CA file {}: {e}", file.display())))?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certificates) if !certificates.is_empty() => Ok(certificates),
        Ok(_) => Err(Failure::config(format!(
            "the CA file {} holds no PEM certificate",
            file.display()
        ))),
        Err(e) => Err(Failure::config(format!(
            "the CA file {} is not valid PEM: {e}",
            file.display()
        ))),
    }
}

/// Whether the server refused a call as an unknown tool (-32601/-32602 with "tool") or with
/// invalid parameters (-32602): the sign that a cached tools list is stale.
pub fn rejected_as_stale(failure: &Failure) -> bool {
    failure.kind == Kind::Protocol
        && (failure.message.ends_with("(code -32602)")
            || failure.message.ends_with("(code -32601)")
                && failure.message.to_lowercase().contains("tool"))
}

/// The same sign in an `isError` result: SDKs that report input validation errors as tool
/// results put the JSON-RPC code or a fixed phrase in the text (TypeScript: "Input validation
/// error", Python: "validation error for ...", "Unknown tool: ..."). A false alarm costs one
/// `tools/list`: re-validation then passes and the result is reported as it came.
pub fn result_rejected_as_stale(result: &features::lenient::CallResult) -> bool {
    if !result.is_error {
        return false;
    }
    let text = result.text.to_lowercase();
    text.contains("-32602")
        || text.contains("validation error")
        || text.contains("unknown tool")
        || text.contains("tool") && text.contains("not found")
}

/// One pooled HTTP client for everything. Same-origin 307/308 redirects only: a 301/302/303
/// would turn the POST into a bodyless GET, and another origin must not see our headers.
pub fn http_client() -> Result<reqwest::Client, Failure> {
    http_client_trusting(None)
}

/// A URL whose requests need no TLS: `http://` and no proxy for it (a proxy may be
/// `https://`). Redirects are followed within the origin only, so they stay plain too.
fn plain_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
        && !http_proxy_configured()
}

/// The client for plain `http://` URLs: the same settings, an empty CA store instead of the
/// system's (loading it reads every file in /etc/ssl/certs; nothing here needs it).
fn plain_http_client() -> Result<reqwest::Client, Failure> {
    client_builder()
        .tls_certs_only(Vec::<reqwest::Certificate>::new())
        .build()
        .map_err(|e| Failure::new(Kind::Internal, format!("cannot build the HTTP client: {e}")))
}

/// The same, also trusting the CA certificates in `ca_file` (PEM), besides the system's.
pub fn http_client_trusting(ca_file: Option<&Path>) -> Result<reqwest::Client, Failure> {
    client_builder_trusting(ca_file)?
        .build()
        .map_err(|e| Failure::new(Kind::Internal, format!("cannot build the HTTP client: {e}")))
}

/// The shared settings, trusting `ca_file` too: what `auth::guard` builds its client from
/// (with its own redirect policy and resolver).
pub(crate) fn client_builder_trusting(
    ca_file: Option<&Path>,
) -> Result<reqwest::ClientBuilder, Failure> {
    let mut builder = client_builder();
    if let Some(file) = ca_file {
        builder = builder.tls_certs_merge(ca_certificates(file)?);
    }
    Ok(builder)
}

/// The settings every client shares: redirects, no Nagle, pooling.
fn client_builder() -> reqwest::ClientBuilder {
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
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("mcpchat/", env!("CARGO_PKG_VERSION")))
        .redirect(policy)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(30));
    if http_proxy_configured() {
        // Forward proxies such as tinyproxy close the connection after each plain-HTTP request
        // without saying so (HTTP/1.1, no `Connection: close`); reusing it then fails the next
        // request at random. One connection per request to a (local) proxy costs little.
        builder = builder.pool_max_idle_per_host(0);
    }
    builder
}
