//! The config as written, before expansion and validation: the shapes serde reads from our own
//! YAML/JSON and from the `mcpServers` files, and one entry per server. A leaf of `config`: the
//! parser (`file`), the checks (`validate`) and the builders (`server`, `ad_hoc`) all read it.

use indexmap::IndexMap;
use serde::Deserialize;

use super::{AuthType, LlmConfig, OAuthConfig};

/// A scalar that YAML may write as a number or boolean but we use as a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Scalar {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    pub(super) fn into_string(self) -> String {
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
pub(super) struct RawToolFilter {
    #[serde(default)]
    pub(super) allow: Vec<String>,
    #[serde(default)]
    pub(super) deny: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) name: String,
    pub(super) url: Option<String>,
    pub(super) command: Option<String>,
    #[serde(default)]
    pub(super) args: Vec<Scalar>,
    #[serde(default)]
    pub(super) env: IndexMap<String, Scalar>,
    pub(super) cwd: Option<String>,
    pub(super) enabled: Option<bool>,
    pub(super) auth_type: Option<AuthType>,
    #[serde(default)]
    pub(super) headers: IndexMap<String, Scalar>,
    pub(super) timeout_secs: Option<f64>,
    pub(super) required: Option<bool>,
    pub(super) tools: Option<RawToolFilter>,
    pub(super) oauth: Option<OAuthConfig>,
    pub(super) protocol_version: Option<String>,
    pub(super) ca_file: Option<String>,
    pub(super) max_message_bytes: Option<u64>,
    /// Route the server through the per-user daemon (see `daemon`).
    pub(super) keep_alive: Option<super::KeepAlive>,
    /// How long the daemon keeps the server alive without a call.
    pub(super) idle_timeout_secs: Option<u64>,
    /// Directories announced as roots (`~` and `${VAR}` expanded, relative to the file).
    #[serde(default)]
    pub(super) roots: Vec<String>,
    /// Free text for humans; ignored.
    #[allow(dead_code)]
    pub(super) description: Option<String>,
}

/// An entry of the Claude Desktop / VS Code `mcpServers` map. Lenient: those files often
/// carry client-specific keys that mean nothing to us.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct RawMcpServer {
    pub(super) command: Option<String>,
    #[serde(default)]
    pub(super) args: Vec<Scalar>,
    #[serde(default)]
    pub(super) env: IndexMap<String, Scalar>,
    pub(super) cwd: Option<String>,
    pub(super) url: Option<String>,
    #[serde(default)]
    pub(super) headers: IndexMap<String, Scalar>,
    #[serde(default)]
    pub(super) disabled: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(default)]
    pub(super) servers: Vec<RawServer>,
    #[serde(default, rename = "mcpServers")]
    pub(super) mcp_servers: IndexMap<String, RawMcpServer>,
    pub(super) llm: Option<LlmConfig>,
    /// How long a tools list without the server's own `ttlMs` stays cached.
    pub(super) cache_ttl_secs: Option<u64>,
    /// `file` (default) or `keychain`: see `auth::store::TokenStore::locate`.
    pub(super) token_store: Option<String>,
}

/// A configured server before `${VAR}` expansion.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) raw: RawServer,
    pub(super) enabled: bool,
}
