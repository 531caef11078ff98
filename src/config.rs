//! Configuration: find the file, parse it (our YAML, the seed's JSON, or `mcpServers` JSON),
//! and resolve the servers a command needs into plain [`ServerConfig`] values.
//!
//! Guarantees: every error is a `Failure` of kind `config` (exit 2) naming `file:line:column`
//! where one is known, with a suggestion for misspelt keys. `${VAR}` expansion happens only
//! for the servers actually used, so an unrelated server's missing secret does not break a
//! command.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use indexmap::IndexMap;
use serde::Deserialize;

use crate::exit::Failure;
use crate::redact;

/// Accepted values of `protocol_version` / `--protocol-version`.
pub const PROTOCOL_VERSIONS: &[&str] = &[
    "auto",
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// Default per-request timeout when neither the config nor `--timeout` sets one.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default bound on connecting and the MCP handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// The secret is in the URL or headers (or there is none).
    #[default]
    Token,
    Oauth,
    ClientCredentials,
    None,
}

#[derive(Debug, Clone)]
pub enum Transport {
    Http {
        url: String,
        headers: Vec<(String, String)>,
    },
    Stdio {
        command: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
        cwd: Option<PathBuf>,
    },
}

/// Allow/deny globs on the server's own (unprefixed) tool names.
#[derive(Debug, Clone, Default)]
pub struct ToolFilter {
    allow: Option<GlobSet>,
    deny: Option<GlobSet>,
}

impl ToolFilter {
    pub fn new(allow: &[String], deny: &[String]) -> Result<Self, String> {
        Ok(ToolFilter {
            allow: glob_set(allow)?,
            deny: glob_set(deny)?,
        })
    }

    pub fn permits(&self, tool: &str) -> bool {
        self.allow.as_ref().is_none_or(|set| set.is_match(tool))
            && !self.deny.as_ref().is_some_and(|set| set.is_match(tool))
    }
}

pub fn glob_set(patterns: &[String]) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|e| format!("invalid glob `{pattern}`: {e}"))?;
        builder.add(glob);
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| format!("invalid globs: {e}"))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_metadata_url: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub redirect_port: Option<u16>,
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    /// client_credentials with private_key_jwt: a PEM private key (RSA or EC).
    pub private_key_file: Option<String>,
    /// RS256 (default for RSA keys), RS384, RS512, ES256 (default for EC keys), ES384.
    pub signing_algorithm: Option<String>,
    /// How token requests authenticate a pre-registered client: client_secret_post,
    /// client_secret_basic or none (default: from the server's metadata).
    pub token_endpoint_auth_method: Option<String>,
    /// DPoP-bound tokens (RFC 9449): auto (default), always or never.
    pub dpop: Option<crate::auth::dpop::Mode>,
}

/// One server picked for a command: resolved, or the reason it could not be.
#[derive(Debug)]
pub struct Selected {
    pub name: String,
    pub required: bool,
    pub server: Result<Arc<ServerConfig>, Failure>,
}

/// A server, resolved and ready to connect to.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub name: String,
    pub transport: Transport,
    pub auth_type: AuthType,
    pub timeout: Duration,
    pub required: bool,
    pub tools: ToolFilter,
    pub oauth: Option<OAuthConfig>,
    /// `auto` (None) or a pinned MCP revision.
    pub protocol_version: Option<String>,
    /// PEM file of extra CA certificates trusted for this server and its OAuth endpoints.
    pub ca_file: Option<PathBuf>,
    /// Cap on one message from the server (stdio line, SSE event, HTTP body), in bytes.
    pub max_message_bytes: usize,
}

impl ServerConfig {
    /// Where the server is, fit for messages (secrets masked).
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Http { url, .. } => redact::url(url),
            Transport::Stdio { command, args, .. } => redact::text(
                &std::iter::once(command.as_str())
                    .chain(args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        }
    }
}

/// The `llm:` section, used by `ask`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key_env: Option<String>,
    pub system_prompt: Option<String>,
    pub max_steps: Option<u32>,
    pub temperature: Option<f64>,
    pub timeout_secs: Option<f64>,
    pub max_retries: Option<u32>,
    /// `ask --session`: leave the oldest exchanges out beyond this many tokens (estimated).
    pub max_history_tokens: Option<u64>,
    /// Whether servers' sampling requests are answered by this model (`allow`) or refused.
    pub sampling: Option<crate::mcp::sampling::Sampling>,
    /// PEM file of extra CA certificates trusted for the model API (besides the system's).
    pub ca_file: Option<String>,
}

/// A scalar that YAML may write as a number or boolean but we use as a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Scalar {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::String(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToolFilter {
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: String,
    url: Option<String>,
    command: Option<String>,
    #[serde(default)]
    args: Vec<Scalar>,
    #[serde(default)]
    env: IndexMap<String, Scalar>,
    cwd: Option<String>,
    enabled: Option<bool>,
    auth_type: Option<AuthType>,
    #[serde(default)]
    headers: IndexMap<String, Scalar>,
    timeout_secs: Option<f64>,
    required: Option<bool>,
    tools: Option<RawToolFilter>,
    oauth: Option<OAuthConfig>,
    protocol_version: Option<String>,
    ca_file: Option<String>,
    max_message_bytes: Option<u64>,
    /// Free text for humans; ignored.
    #[allow(dead_code)]
    description: Option<String>,
}

/// An entry of the Claude Desktop / VS Code `mcpServers` map. Lenient: those files often
/// carry client-specific keys that mean nothing to us.
#[derive(Debug, Clone, Deserialize)]
struct RawMcpServer {
    command: Option<String>,
    #[serde(default)]
    args: Vec<Scalar>,
    #[serde(default)]
    env: IndexMap<String, Scalar>,
    cwd: Option<String>,
    url: Option<String>,
    #[serde(default)]
    headers: IndexMap<String, Scalar>,
    #[serde(default)]
    disabled: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    servers: Vec<RawServer>,
    #[serde(default, rename = "mcpServers")]
    mcp_servers: IndexMap<String, RawMcpServer>,
    llm: Option<LlmConfig>,
    /// How long a tools list without the server's own `ttlMs` stays cached.
    cache_ttl_secs: Option<u64>,
}

/// A configured server before `${VAR}` expansion.
#[derive(Debug, Clone)]
struct Entry {
    raw: RawServer,
    enabled: bool,
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

    fn resolve(&self, entry: &Entry) -> Result<ServerConfig, Failure> {
        let raw = &entry.raw;
        let expand = |value: &str| self.expand(value);
        let transport = if let Some(url) = &raw.url {
            let url = expand(url)?;
            redact::register_url(&url);
            let mut headers = Vec::new();
            for (key, value) in &raw.headers {
                let value = expand(&value.clone().into_string())?;
                redact::register_header(key, &value);
                headers.push((key.clone(), value));
            }
            Transport::Http { url, headers }
        } else {
            let command = expand(raw.command.as_deref().unwrap_or_default())?;
            let args = raw
                .args
                .iter()
                .map(|a| expand(&a.clone().into_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let env = raw
                .env
                .iter()
                .map(|(k, v)| {
                    let value = expand(&v.clone().into_string())?;
                    if redact::is_secret_name(k) {
                        redact::register(&value);
                    }
                    Ok((k.clone(), value))
                })
                .collect::<Result<Vec<_>, Failure>>()?;
            let cwd = raw
                .cwd
                .as_deref()
                .map(expand)
                .transpose()?
                .map(PathBuf::from);
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            }
        };
        let filter = raw.tools.clone().unwrap_or_default();
        let tools = ToolFilter::new(&filter.allow, &filter.deny).map_err(|e| {
            self.error_at(
                &format!("name: {}", raw.name),
                &format!("server `{}`: tools: {e}", raw.name),
            )
        })?;
        let oauth = match &raw.oauth {
            Some(o) => Some(OAuthConfig {
                client_id: o.client_id.as_deref().map(expand).transpose()?,
                client_secret: o.client_secret.as_deref().map(expand).transpose()?,
                client_metadata_url: o.client_metadata_url.as_deref().map(expand).transpose()?,
                scopes: o
                    .scopes
                    .iter()
                    .map(|s| expand(s))
                    .collect::<Result<_, _>>()?,
                redirect_port: o.redirect_port,
                auth_url: o.auth_url.as_deref().map(expand).transpose()?,
                token_url: o.token_url.as_deref().map(expand).transpose()?,
                private_key_file: o.private_key_file.as_deref().map(expand).transpose()?,
                signing_algorithm: o.signing_algorithm.clone(),
                token_endpoint_auth_method: o.token_endpoint_auth_method.clone(),
                dpop: o.dpop,
            }),
            None => None,
        };
        if let Some(secret) = oauth.as_ref().and_then(|o| o.client_secret.as_deref()) {
            redact::register(secret);
        }
        let timeout = self
            .request_timeout
            .or(raw.timeout_secs.map(Duration::from_secs_f64))
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        Ok(ServerConfig {
            name: raw.name.clone(),
            transport,
            auth_type: raw.auth_type.unwrap_or_default(),
            timeout,
            required: raw.required.unwrap_or(false),
            tools,
            oauth,
            protocol_version: raw.protocol_version.clone(),
            ca_file: raw
                .ca_file
                .as_deref()
                .map(|f| self.expand(f).map(|f| self.relative_to_file(&f)))
                .transpose()?,
            max_message_bytes: self
                .max_message_bytes
                .or(raw
                    .max_message_bytes
                    .map(|b| usize::try_from(b).unwrap_or(usize::MAX)))
                .unwrap_or(crate::mcp::DEFAULT_MAX_MESSAGE_BYTES),
        })
    }

    /// `llm.ca_file`, `${VAR}`-expanded and relative to the config file.
    pub fn llm_ca_file(&self) -> Result<Option<PathBuf>, Failure> {
        match &self.llm.ca_file {
            Some(file) => Ok(Some(self.relative_to_file(&self.expand(file)?))),
            None => Ok(None),
        }
    }

    /// A path from the config file, relative to the file's directory.
    pub fn relative_to_file(&self, path: &str) -> PathBuf {
        let path = PathBuf::from(path);
        match self.source.as_deref().and_then(Path::parent) {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path,
        }
    }

    /// Expand `${VAR}` and `${VAR:-default}`; an unset variable without default is an error
    /// pointing at where the file uses it.
    pub fn expand(&self, value: &str) -> Result<String, Failure> {
        let lookup = |name: &str| {
            let value = std::env::var(name).ok();
            // `${GITHUB_TOKEN}` is a secret wherever the file uses it.
            if let Some(value) = &value
                && redact::is_secret_name(name)
            {
                redact::register(value);
            }
            value
        };
        expand_vars(value, &lookup).map_err(|var| {
            self.error_at(
                &format!("${{{var}"),
                &format!("environment variable `{var}` is not set"),
            )
            .hint(format!(
                "export {var}=... or put it in ./.env; `${{{var}:-default}}` gives a default"
            ))
        })
    }

    /// A config error located at the first non-comment line containing `needle`.
    fn error_at(&self, needle: &str, message: &str) -> Failure {
        let place = match (&self.source, locate(&self.text, needle)) {
            (Some(path), Some((line, column))) => format!("{}:{line}:{column}: ", path.display()),
            (Some(path), None) => format!("{}: ", path.display()),
            (None, _) => String::new(),
        };
        Failure::config(format!("{place}{message}"))
    }
}

fn missing_config_file(path: &Path, from: &str) -> Failure {
    let failure = Failure::config(format!(
        "config file {} (named by {from}) does not exist",
        path.display()
    ));
    if from == "--config" {
        failure.hint("check the path given to --config (-c)")
    } else {
        failure.hint(
            "point $MCPCHAT_CONFIG at an existing file, or unset it to use ./mcp_servers.yaml",
        )
    }
}

/// The smallest useful config, shown inline: the user may have no checkout with an example.
const MINIMAL_CONFIG: [&str; 6] = [
    "servers:",
    "  - name: docs",
    "    url: https://example.com/mcp",
    "  - name: demo",
    "    command: python3",
    "    args: [demo_server.py]",
];

fn no_servers_failure(source: Option<&Path>) -> Failure {
    let message = match source {
        Some(path) => format!("no MCP servers configured: {} has none", path.display()),
        None => "no MCP servers configured (no ./mcp_servers.yaml, ./mcp_servers.json or \
                 <config dir>/mcpchat/mcp_servers.yaml)"
            .to_string(),
    };
    let file = source.map_or("./mcp_servers.yaml".to_string(), |p| {
        p.display().to_string()
    });
    Failure::config(message)
        .hint(format!(
            "list servers in {file}, for example:\n    {}",
            MINIMAL_CONFIG.join("\n    ")
        ))
        .hint("or name servers on the command line: --url [NAME=]URL, --stdio \"[NAME=]COMMAND ARGS\"")
}

fn seconds(flag: &str, value: Option<f64>) -> Result<Option<Duration>, Failure> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v > 0.0 => Ok(Some(Duration::from_secs_f64(v))),
        Some(v) => Err(Failure::usage(format!(
            "{flag} must be a positive number of seconds, not {v}"
        ))),
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

fn parse_file(path: &Path) -> Result<Config, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::config(format!("cannot read config file {}: {e}", path.display())))?;
    // Editors on Windows save a UTF-8 byte order mark; neither parser accepts one.
    let text = match text.strip_prefix('\u{feff}') {
        Some(stripped) => stripped.to_string(),
        None => text,
    };
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if let Some(raw) = parse_client_format(path, &text, is_json)? {
        return build(path, text, raw);
    }
    let raw: RawFile = if is_json {
        serde_json::from_str(&text)
            .map_err(|e| syntax_failure(path, Some((e.line(), e.column())), &e.to_string()))?
    } else if text.trim().is_empty() {
        RawFile::default()
    } else {
        serde_yaml::from_str(&text).map_err(|e| {
            let location = e.location().map(|l| (l.line(), l.column()));
            syntax_failure(path, location, &e.to_string())
        })?
    };
    build(path, text, raw)
}

/// Claude Desktop (`{"mcpServers": {...}}`) and VS Code (`{"servers": {name: {...}}}`) files.
/// They carry keys of their own (e.g. `globalShortcut`, `inputs`), so unknown keys are ignored.
fn parse_client_format(path: &Path, text: &str, is_json: bool) -> Result<Option<RawFile>, Failure> {
    #[derive(Deserialize)]
    struct ClientFile {
        #[serde(default, rename = "mcpServers")]
        mcp_servers: IndexMap<String, RawMcpServer>,
        #[serde(default)]
        servers: IndexMap<String, RawMcpServer>,
    }
    // A file that does not parse at all is reported as such here: swallowing the error would
    // surface later as a misleading one (an alias-expansion limit as "unknown field").
    let value: serde_json::Value = if is_json {
        serde_json::from_str(text)
            .map_err(|e| syntax_failure(path, Some((e.line(), e.column())), &e.to_string()))?
    } else if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_yaml::from_str(text).map_err(|e| {
            let location = e.location().map(|l| (l.line(), l.column()));
            syntax_failure(path, location, &e.to_string())
        })?
    };
    let is_client_format = value.get("mcpServers").is_some_and(|v| v.is_object())
        || value.get("servers").is_some_and(|v| v.is_object());
    if !is_client_format {
        return Ok(None);
    }
    let parsed: ClientFile = if is_json {
        serde_json::from_str(text)
            .map_err(|e| syntax_failure(path, Some((e.line(), e.column())), &e.to_string()))?
    } else {
        serde_yaml::from_str(text).map_err(|e| {
            syntax_failure(
                path,
                e.location().map(|l| (l.line(), l.column())),
                &e.to_string(),
            )
        })?
    };
    let mut mcp_servers = parsed.mcp_servers;
    mcp_servers.extend(parsed.servers);
    let llm = match value.get("llm") {
        Some(llm) => Some(
            serde_json::from_value(llm.clone())
                .map_err(|e| Failure::config(format!("{}: llm: {e}", path.display())))?,
        ),
        None => None,
    };
    Ok(Some(RawFile {
        servers: Vec::new(),
        mcp_servers,
        llm,
        cache_ttl_secs: None,
    }))
}

fn build(path: &Path, text: String, raw: RawFile) -> Result<Config, Failure> {
    let mut config = Config {
        source: Some(path.to_path_buf()),
        text,
        llm: raw.llm.clone().unwrap_or_default(),
        cache_ttl: Duration::from_secs(raw.cache_ttl_secs.unwrap_or(DEFAULT_CACHE_TTL_SECS)),
        ..Config::default()
    };
    let mut entries: Vec<Entry> = Vec::new();
    for server in raw.servers {
        let enabled = server.enabled.unwrap_or(true);
        entries.push(Entry {
            raw: server,
            enabled,
        });
    }
    for (name, server) in raw.mcp_servers {
        entries.push(Entry {
            enabled: !server.disabled,
            raw: RawServer {
                name,
                url: server.url,
                command: server.command,
                args: server.args,
                env: server.env,
                cwd: server.cwd,
                enabled: None,
                auth_type: None,
                headers: server.headers,
                timeout_secs: None,
                required: None,
                tools: None,
                oauth: None,
                protocol_version: None,
                ca_file: None,
                max_message_bytes: None,
                description: None,
            },
        });
    }
    for (i, entry) in entries.iter().enumerate() {
        let raw = &entry.raw;
        let at = format!("name: {}", raw.name);
        let located = |message: String| {
            let needle = if config.text.contains(&at) {
                at.clone()
            } else {
                format!("\"{}\"", raw.name)
            };
            config.error_at(&needle, &message)
        };
        if !valid_name(&raw.name) {
            return Err(located(format!(
                "server name `{}` must be letters, digits, `_` or `-` (and not contain `__`)",
                raw.name
            )));
        }
        if entries[..i].iter().any(|e| e.raw.name == raw.name) {
            let place = locate_nth(&config.text, &at, 2)
                .map(|(line, column)| format!("{}:{line}:{column}: ", path.display()))
                .unwrap_or_default();
            return Err(Failure::config(format!(
                "{place}server name `{}` is used twice",
                raw.name
            )));
        }
        match (&raw.url, &raw.command) {
            (Some(_), Some(_)) => {
                return Err(located(format!(
                    "server `{}` has both `url` and `command`; use one",
                    raw.name
                )));
            }
            (None, None) => {
                return Err(located(format!(
                    "server `{}` needs `url` (HTTP) or `command` (stdio)",
                    raw.name
                )));
            }
            (None, Some(command)) if command.trim().is_empty() => {
                return Err(located(format!(
                    "server `{}` has an empty `command`",
                    raw.name
                )));
            }
            _ => {}
        }
        if let Some(version) = &raw.protocol_version
            && !PROTOCOL_VERSIONS.contains(&version.as_str())
        {
            return Err(located(format!(
                "server `{}`: protocol_version `{version}` is not one of {}",
                raw.name,
                PROTOCOL_VERSIONS.join(", ")
            )));
        }
        if raw.max_message_bytes == Some(0) {
            return Err(located(format!(
                "server `{}`: max_message_bytes must be at least 1",
                raw.name
            )));
        }
        if let Some(t) = raw.timeout_secs
            && !(t.is_finite() && t > 0.0)
        {
            return Err(located(format!(
                "server `{}`: timeout_secs must be positive",
                raw.name
            )));
        }
    }
    config.entries = entries;
    Ok(config)
}

/// `file:line:column: message` plus a "did you mean" for unknown keys and values.
fn syntax_failure(path: &Path, location: Option<(usize, usize)>, message: &str) -> Failure {
    // Both serde_json and yaml_serde append " at line L column C"; we print it up front.
    let message = match message.rfind(" at line ") {
        Some(pos) if location.is_some() => &message[..pos],
        _ => message,
    };
    let place = match location {
        Some((line, column)) => format!("{}:{line}:{column}", path.display()),
        None => path.display().to_string(),
    };
    // yaml_serde's guard against alias bombs ("billion laughs") names no alias: say what it is.
    let message = match message {
        "repetition limit exceeded" | "recursion limit exceeded" => format!(
            "YAML alias expansion limit exceeded ({message}): the anchors and aliases (`&name`, \
             `*name`) expand to too many nodes"
        ),
        other => other.to_string(),
    };
    let mut failure = Failure::config(format!("{place}: {message}"));
    if let Some(hint) = unknown_key_hint(&message) {
        failure = failure.hint(hint);
    }
    if message.starts_with("YAML alias expansion limit") {
        failure = failure.hint("write the repeated values out, or alias them fewer times");
    }
    failure
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" build "did you mean `a`?".
fn unknown_key_hint(message: &str) -> Option<String> {
    let what = if message.contains("unknown field") {
        "unknown field"
    } else if message.contains("unknown variant") {
        "unknown variant"
    } else {
        return None;
    };
    let after = &message[message.find(what)? + what.len()..];
    let mut quoted = after.split('`').skip(1).step_by(2);
    let unknown = quoted.next()?;
    let expected: Vec<&str> = quoted.collect();
    match suggest(unknown, &expected) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if !expected.is_empty() => Some(format!(
            "expected one of: {}",
            expected
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => None,
    }
}

/// The closest candidate by edit distance, if it is close enough to be a typo.
pub fn suggest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = input.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                *c,
            )
        })
        .filter(|(distance, c)| *distance <= (c.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains("__")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// 1-based line and column of the first occurrence of `needle` outside a `#` comment line.
fn locate(text: &str, needle: &str) -> Option<(usize, usize)> {
    locate_nth(text, needle, 1)
}

fn locate_nth(text: &str, needle: &str, nth: usize) -> Option<(usize, usize)> {
    let mut seen = 0;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(column) = line.find(needle) {
            seen += 1;
            if seen == nth {
                return Some((index + 1, line[..column].chars().count() + 1));
            }
        }
    }
    None
}

/// Expand `${VAR}` / `${VAR:-default}`; a default may itself hold references
/// (`${A:-${B:-x}}`), expanded only when it is used. Returns the name of the first unset
/// variable.
pub fn expand_vars(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = closing_brace(after) else {
            // Not a reference: keep the text as written.
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        match lookup(name).filter(|v| !(v.is_empty() && default.is_some())) {
            Some(v) => out.push_str(&v),
            None => match default {
                Some(d) => out.push_str(&expand_vars(d, lookup)?),
                None => return Err(name.to_string()),
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The `}` that closes a reference whose `${` came just before `text`, skipping nested ones.
fn closing_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 1;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            depth += 1;
            i += 2;
            continue;
        }
        if bytes[i] == b'}' {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// Servers from `--url` and `--stdio`.
fn ad_hoc_entries(overrides: &Overrides) -> Result<Vec<Entry>, Failure> {
    let mut headers = IndexMap::new();
    for header in &overrides.headers {
        let Some((key, value)) = header.split_once(':') else {
            return Err(Failure::usage(format!(
                "--header `{}` must look like `Name: value`",
                redact::text(header)
            )));
        };
        let value = value.trim().to_string();
        redact::register_header(key, &value);
        headers.insert(key.trim().to_string(), Scalar::String(value));
    }
    let mut entries: Vec<Entry> = Vec::new();
    let blank = |name: String| RawServer {
        name,
        url: None,
        command: None,
        args: Vec::new(),
        env: IndexMap::new(),
        cwd: None,
        enabled: Some(true),
        auth_type: None,
        headers: IndexMap::new(),
        timeout_secs: None,
        required: None,
        tools: None,
        oauth: None,
        protocol_version: None,
        ca_file: None,
        max_message_bytes: None,
        description: None,
    };
    for spec in &overrides.urls {
        let (name, url) = match spec.split_once('=') {
            Some((name, url)) if valid_name(name) && url.contains("://") => {
                (Some(name.to_string()), url.to_string())
            }
            _ => (None, spec.clone()),
        };
        let parsed = url::Url::parse(&url).map_err(|e| {
            Failure::usage(format!(
                "--url `{}` is not a valid URL: {e}",
                redact::url(&url)
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Failure::usage(format!(
                "--url `{}` must be http:// or https://",
                redact::url(&url)
            )));
        }
        let name = name.unwrap_or_else(|| {
            let host = parsed.host_str().unwrap_or("server");
            match parsed.port() {
                Some(port) => sanitize_name(&format!("{host}-{port}")),
                None => sanitize_name(host),
            }
        });
        let mut raw = blank(unique_name(name, &entries));
        raw.url = Some(url);
        raw.headers = headers.clone();
        entries.push(Entry { raw, enabled: true });
    }
    for spec in &overrides.stdio {
        let (name, line) = match spec.split_once('=') {
            Some((name, rest)) if valid_name(name) && !rest.trim().is_empty() => {
                (Some(name.to_string()), rest)
            }
            _ => (None, spec.as_str()),
        };
        let words = shlex::split(line)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| Failure::usage(format!("--stdio `{spec}`: cannot split into a command and arguments (unbalanced quotes?)")))?;
        let name = name.unwrap_or_else(|| default_stdio_name(&words));
        let mut raw = blank(unique_name(name, &entries));
        raw.command = Some(words[0].clone());
        raw.args = words[1..].iter().cloned().map(Scalar::String).collect();
        entries.push(Entry { raw, enabled: true });
    }
    Ok(entries)
}

/// A readable default name for `--stdio`: the script or package, not the interpreter.
fn default_stdio_name(words: &[String]) -> String {
    const LAUNCHERS: &[&str] = &[
        "python", "python3", "node", "npx", "uvx", "uv", "bun", "bunx", "deno", "sh", "bash",
        "env", "pipx", "docker",
    ];
    let base = |w: &str| -> String {
        let last = w.rsplit('/').next().unwrap_or(w);
        last.split('.').next().unwrap_or(last).to_string()
    };
    let command = base(&words[0]);
    let name = if LAUNCHERS.contains(&command.as_str()) {
        words[1..]
            .iter()
            .filter(|w| !w.starts_with('-') && !w.contains('='))
            .find(|w| !["run", "exec", "x"].contains(&w.as_str()))
            .map(|w| base(w))
            .unwrap_or(command)
    } else {
        command
    };
    sanitize_name(&name)
}

fn sanitize_name(raw: &str) -> String {
    let mut name = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '-'
        };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    while name.contains("__") {
        name = name.replace("__", "_");
    }
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "server".to_string()
    } else {
        name
    }
}

fn unique_name(name: String, entries: &[Entry]) -> String {
    if !entries.iter().any(|e| e.raw.name == name) {
        return name;
    }
    (2..)
        .map(|i| format!("{name}-{i}"))
        .find(|candidate| !entries.iter().any(|e| &e.raw.name == candidate))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_and_defaults() {
        assert_eq!(expand_vars("a${SET}b", &env).as_deref(), Ok("avalueb"));
        assert_eq!(expand_vars("${NOPE:-x y}", &env).as_deref(), Ok("x y"));
        assert_eq!(expand_vars("${EMPTY:-d}", &env).as_deref(), Ok("d"));
        assert_eq!(expand_vars("${NOPE}", &env), Err("NOPE".to_string()));
        assert_eq!(expand_vars("cost $5 ${", &env).as_deref(), Ok("cost $5 ${"));
    }

    #[test]
    fn expands_nested_defaults_only_when_used() {
        assert_eq!(expand_vars("${NOPE:-${SET}}", &env).as_deref(), Ok("value"));
        assert_eq!(
            expand_vars("<${NOPE:-${NADA:-x}}>", &env).as_deref(),
            Ok("<x>")
        );
        assert_eq!(expand_vars("${SET:-${NADA}}", &env).as_deref(), Ok("value"));
        assert_eq!(
            expand_vars("${NOPE:-${NADA}}", &env),
            Err("NADA".to_string())
        );
        assert_eq!(
            expand_vars("${NOPE:-a${SET}b}c", &env).as_deref(),
            Ok("avaluebc")
        );
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(suggest("urll", &["name", "url", "command"]), Some("url"));
        assert_eq!(suggest("zzzzzz", &["name", "url"]), None);
        assert_eq!(
            unknown_key_hint(
                "servers[0]: unknown field `comand`, expected one of `name`, `url`, `command`"
            )
            .as_deref(),
            Some("did you mean `command`?")
        );
    }

    #[test]
    fn names_stdio_servers_after_their_script() {
        let words = |s: &str| shlex::split(s).unwrap_or_default();
        assert_eq!(
            default_stdio_name(&words("python3 examples/demo_server.py")),
            "demo_server"
        );
        assert_eq!(
            default_stdio_name(&words("npx -y @modelcontextprotocol/server-memory")),
            "server-memory"
        );
        assert_eq!(
            default_stdio_name(&words("mcp-server-time --local-timezone UTC")),
            "mcp-server-time"
        );
    }

    #[test]
    fn tool_filter_applies_allow_then_deny() {
        let filter =
            ToolFilter::new(&["Get_*".into()], &["Get_Secret*".into()]).unwrap_or_default();
        assert!(filter.permits("Get_Data"));
        assert!(!filter.permits("Get_Secret_Key"));
        assert!(!filter.permits("Delete_All"));
    }
}

/// Property tests over what a config file's author (or a hostile environment) feeds us.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Literal text that holds no reference.
    fn literal() -> impl Strategy<Value = String> {
        "[^$]{0,12}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn references_expand_to_their_values_which_are_never_expanded_again(
            pieces in prop::collection::vec((literal(), "\\PC{0,12}"), 0..5),
            tail in literal(),
        ) {
            let mut template = String::new();
            let mut expected = String::new();
            let mut values = HashMap::new();
            for (i, (text, value)) in pieces.iter().enumerate() {
                template.push_str(&format!("{text}${{V{i}}}"));
                expected.push_str(text);
                expected.push_str(value);
                values.insert(format!("V{i}"), value.clone());
            }
            template.push_str(&tail);
            expected.push_str(&tail);
            let lookup = |name: &str| values.get(name).cloned();
            prop_assert_eq!(expand_vars(&template, &lookup), Ok(expected));
        }

        #[test]
        fn nested_defaults_fall_through_to_the_first_set_variable(
            depth in 1usize..6,
            set_at in 0usize..7,
            value in "[^$}]{1,10}",
            fallback in "[^$}]{0,10}",
        ) {
            // ${U0:-${U1:-...${U<depth-1>:-fallback}...}}, where only U<set_at> may be set.
            let mut template = fallback.clone();
            for level in (0..depth).rev() {
                template = format!("${{U{level}:-{template}}}");
            }
            let lookup = |name: &str| (name == format!("U{set_at}")).then(|| value.clone());
            let expected = if set_at < depth { value.clone() } else { fallback.clone() };
            prop_assert_eq!(expand_vars(&template, &lookup), Ok(expected));
        }

        #[test]
        fn any_text_expands_without_panicking(text in "[${}:a-zA-Z_-]{0,40}") {
            let lookup = |name: &str| name.len().is_multiple_of(2).then(|| name.to_lowercase());
            let _ = expand_vars(&text, &lookup);
        }

        #[test]
        fn a_byte_order_mark_never_changes_how_a_file_parses(
            text in "[a-z:\\[\\]{}\",&*\\- \n]{0,80}",
            json in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let name = if json { "c.json" } else { "c.yaml" };
            let plain = dir.path().join(name);
            let marked = dir.path().join(format!("bom-{name}"));
            std::fs::write(&plain, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            std::fs::write(&marked, format!("\u{feff}{text}"))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let outcome = |path: &Path| match parse_file(path) {
                Ok(config) => Ok(config.server_names().join(",")),
                Err(failure) => Err(failure.code()),
            };
            prop_assert_eq!(outcome(&plain), outcome(&marked));
        }
    }
}
