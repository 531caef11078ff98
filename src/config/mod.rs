//! Configuration: find the file, parse it (our YAML, the seed's JSON, or `mcpServers` JSON),
//! and resolve the servers a command needs into plain [`ServerConfig`] values.
//!
//! Guarantees: every error is a `Failure` of kind `config` (exit 2) naming `file:line:column`
//! where one is known, with a suggestion for misspelt keys. `${VAR}` expansion happens only
//! for the servers actually used, so an unrelated server's missing secret does not break a
//! command.
//!
//! Parts: `file` (the formats we read), `validate` (what a file must satisfy), `expand`
//! (`${VAR}`), `server` (a resolved server), `llm` (the `llm:` section), `ad_hoc` (servers
//! from `--url` / `--stdio`), `errors` (messages located at `file:line:column`).

mod ad_hoc;
mod errors;
mod expand;
mod file;
mod keep_alive;
mod llm;
mod raw;
mod server;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::exit::Failure;

pub use errors::{suggest, valid_name};
pub use expand::expand_vars;
pub use keep_alive::{KeepAlive, Keeping};
pub use llm::LlmConfig;
pub use server::{AuthType, OAuthConfig, ServerConfig, ToolFilter, Transport, glob_set};

use ad_hoc::ad_hoc_entries;
use errors::{missing_config_file, no_servers_failure};
use file::parse_file;
use raw::Entry;

/// Accepted values of `protocol_version` / `--protocol-version`.
pub const PROTOCOL_VERSIONS: &[&str] = &[
    "auto",
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// Separator between server and tool (or prompt) in prefixed names (`server__tool`): a valid
/// server name never contains it.
pub const SEPARATOR: &str = "__";

/// Default per-request timeout when neither the config nor `--timeout` sets one.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default bound on connecting and the MCP handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// One server picked for a command: resolved, or the reason it could not be.
#[derive(Debug)]
pub struct Selected {
    pub name: String,
    pub required: bool,
    pub server: Result<Arc<ServerConfig>, Failure>,
}

/// What was loaded: the file (if any), its servers, and ad-hoc servers from flags.
#[derive(Debug, Default)]
pub struct Config {
    pub source: Option<PathBuf>,
    text: String,
    entries: Vec<Entry>,
    pub llm: LlmConfig,
    /// True when the servers came from `--url` / `--stdio` rather than a file.
    pub ad_hoc: bool,
    pub request_timeout: Option<Duration>,
    pub connect_timeout: Duration,
    /// `--max-message-bytes` / `MCPCHAT_MAX_MESSAGE_BYTES`, over every server's setting.
    pub max_message_bytes: Option<usize>,
    /// `cache_ttl_secs` (default 300).
    pub cache_ttl: Duration,
    /// `token_store`: `file` or `keychain` (flags and environment come first).
    pub token_store: Option<String>,
    /// `--keep-alive` / `--no-keep-alive` / `MCPCHAT_KEEP_ALIVE`, over every server's setting.
    pub keep_alive: Option<bool>,
    /// `--root DIR`, resolved: added to every selected server's `roots:`.
    pub extra_roots: Vec<crate::roots::Root>,
}

/// How long a tools list stays cached when its server gives no `ttlMs`.
pub const DEFAULT_CACHE_TTL_SECS: u64 = 300;

/// Flags that shape the configuration.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub urls: Vec<String>,
    pub stdio: Vec<String>,
    pub headers: Vec<String>,
    pub timeout: Option<f64>,
    pub connect_timeout: Option<f64>,
    pub max_message_bytes: Option<u64>,
    /// `--keep-alive` (true) / `--no-keep-alive` (false) for this invocation.
    pub keep_alive: Option<bool>,
    /// `--root DIR` (repeatable): roots for every selected server, after their own.
    pub roots: Vec<String>,
}

impl Config {
    /// Find and parse the configuration (PRODUCT.md section 1 lookup order).
    pub fn load(overrides: &Overrides) -> Result<Config, Failure> {
        // Where an explicit path came from, so that a missing file names the setting to fix.
        let explicit = match &overrides.config {
            Some(path) => Some((path.clone(), "--config")),
            None => std::env::var_os("MCPCHAT_CONFIG")
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), "$MCPCHAT_CONFIG")),
        };
        let path = match explicit {
            Some((path, from)) => {
                if !path.is_file() {
                    return Err(missing_config_file(&path, from));
                }
                Some(path)
            }
            None => default_locations().into_iter().find(|p| p.is_file()),
        };

        let mut config = match &path {
            Some(path) => parse_file(path)?,
            None => Config {
                cache_ttl: Duration::from_secs(DEFAULT_CACHE_TTL_SECS),
                ..Config::default()
            },
        };
        config.source = path;

        if !overrides.urls.is_empty() || !overrides.stdio.is_empty() {
            config.entries = ad_hoc_entries(overrides)?;
            config.ad_hoc = true;
        }

        config.keep_alive = overrides.keep_alive;
        config.extra_roots = overrides
            .roots
            .iter()
            .map(|dir| {
                crate::roots::resolve(dir, None)
                    .map_err(|why| Failure::usage(format!("--root {dir}: {why}")))
            })
            .collect::<Result<_, _>>()?;
        config.request_timeout = seconds("--timeout", overrides.timeout)?;
        config.max_message_bytes = match overrides.max_message_bytes {
            Some(0) => {
                return Err(Failure::usage("--max-message-bytes must be at least 1"));
            }
            Some(bytes) => Some(usize::try_from(bytes).unwrap_or(usize::MAX)),
            None => None,
        };
        config.connect_timeout = seconds("--connect-timeout", overrides.connect_timeout)?
            .or(config
                .request_timeout
                .filter(|t| *t < DEFAULT_CONNECT_TIMEOUT))
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        Ok(config)
    }

    /// Names of all configured servers, in file order.
    pub fn server_names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.raw.name.as_str()).collect()
    }

    pub fn has_servers(&self) -> bool {
        !self.entries.is_empty()
    }

    /// The servers a command works with: those named (in that order), else every enabled
    /// one. Unknown names are a usage error with a suggestion. A server whose settings cannot
    /// be resolved (say, an unset `${VAR}`) comes back as a failed [`Selected`], so that the
    /// other servers can go on without it.
    pub fn select(&self, names: &[String]) -> Result<Vec<Selected>, Failure> {
        if self.entries.is_empty() {
            return Err(no_servers_failure(self.source.as_deref()));
        }
        let mut chosen: Vec<&Entry> = Vec::new();
        if names.is_empty() {
            chosen.extend(self.entries.iter().filter(|e| e.enabled));
            if chosen.is_empty() {
                return Err(
                    Failure::config("every configured MCP server has `enabled: false`")
                        .hint("enable one in the config, or name it with --server NAME"),
                );
            }
        } else {
            for name in names {
                let entry = self.entry(name)?;
                if !chosen.iter().any(|e| e.raw.name == entry.raw.name) {
                    chosen.push(entry);
                }
            }
        }
        Ok(chosen
            .into_iter()
            .map(|entry| Selected {
                name: entry.raw.name.clone(),
                required: entry.raw.required.unwrap_or(false),
                server: self.resolve(entry).map(Arc::new),
            })
            .collect())
    }

    /// Names of the servers [`select`](Self::select) would pick, without resolving them.
    pub fn selected_names(&self, names: &[String]) -> Result<Vec<String>, Failure> {
        if self.entries.is_empty() {
            return Err(no_servers_failure(self.source.as_deref()));
        }
        if names.is_empty() {
            return Ok(self
                .entries
                .iter()
                .filter(|e| e.enabled)
                .map(|e| e.raw.name.clone())
                .collect());
        }
        names
            .iter()
            .map(|n| self.entry(n).map(|e| e.raw.name.clone()))
            .collect()
    }

    /// One server by name (it need not be enabled: naming it is explicit).
    pub fn server(&self, name: &str) -> Result<Arc<ServerConfig>, Failure> {
        let entry = self.entry(name)?;
        Ok(Arc::new(self.resolve(entry)?))
    }

    fn entry(&self, name: &str) -> Result<&Entry, Failure> {
        if self.entries.is_empty() {
            return Err(no_servers_failure(self.source.as_deref()));
        }
        self.entries
            .iter()
            .find(|e| e.raw.name == name)
            .ok_or_else(|| {
                let names = self.server_names();
                let mut failure = Failure::new(
                    crate::exit::Kind::UnknownServer,
                    format!("unknown MCP server `{name}`"),
                );
                if let Some(best) = suggest(name, &names) {
                    failure = failure.hint(format!("did you mean `{best}`?"));
                }
                failure.hint(format!("configured servers: {}", names.join(", ")))
            })
    }

    /// A path from the config file, relative to the file's directory.
    pub fn relative_to_file(&self, path: &str) -> PathBuf {
        let path = PathBuf::from(path);
        match self.source.as_deref().and_then(Path::parent) {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path,
        }
    }
}

fn seconds(flag: &str, value: Option<f64>) -> Result<Option<Duration>, Failure> {
    match value {
        None => Ok(None),
        Some(v) => crate::durations::timeout(v)
            .map(Some)
            .ok_or_else(|| Failure::usage(crate::durations::timeout_message(flag, v))),
    }
}

fn default_locations() -> Vec<PathBuf> {
    let mut paths = vec![
        PathBuf::from("mcp_servers.yaml"),
        PathBuf::from("mcp_servers.json"),
    ];
    if let Some(dir) = dirs::config_dir() {
        paths.push(dir.join("mcpchat").join("mcp_servers.yaml"));
    }
    paths
}
