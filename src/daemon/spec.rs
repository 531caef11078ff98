//! What a command tells the daemon about a server it wants kept alive, in the `initialize`
//! it sends (capability `io.mcpchat/upstream`): how to start it and how long to keep it.
//!
//! Guarantees: the key is a hash of everything that makes the server what it is (command,
//! arguments, environment, directory, protocol pin), so a changed config is another server;
//! the name, timeouts and caps are not in the key (the same server under two names is one).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{AuthType, ServerConfig, ToolFilter, Transport};
use crate::exit::{Failure, Kind};

/// The capability (client side, experimental) that carries the [`Spec`].
pub const CAPABILITY: &str = "io.mcpchat/upstream";

/// A stdio server as the daemon starts it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The server's `cwd`, else the command's own directory (where a direct run starts it).
    pub cwd: PathBuf,
    pub protocol_version: Option<String>,
    pub timeout_ms: u64,
    pub max_message_bytes: usize,
    pub idle_timeout_secs: u64,
    /// The canonical directories announced as roots (part of what the server is told).
    #[serde(default)]
    pub roots: Vec<PathBuf>,
    /// The command's environment: the server gets it (then `env:`), as directly.
    #[serde(default)]
    pub environment: Vec<(String, String)>,
    /// The client capabilities the command declared (filled in by the daemon from the
    /// command's `initialize`): the server is told the same.
    #[serde(default)]
    pub declared: serde_json::Value,
}

impl Spec {
    /// The spec of a stdio server; None for a server the daemon does not keep (HTTP).
    pub fn of(server: &ServerConfig, pinned: Option<&str>, idle: Duration) -> Option<Spec> {
        let Transport::Stdio {
            command,
            args,
            env,
            cwd,
        } = &server.transport
        else {
            return None;
        };
        let cwd = match cwd {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().ok()?,
        };
        Some(Spec {
            name: server.name.clone(),
            command: command.clone(),
            args: args.clone(),
            env: env.clone(),
            cwd,
            protocol_version: server
                .protocol_version
                .clone()
                .or_else(|| pinned.map(str::to_string)),
            timeout_ms: u64::try_from(server.timeout.as_millis()).unwrap_or(u64::MAX),
            max_message_bytes: server.max_message_bytes,
            idle_timeout_secs: idle.as_secs().max(1),
            roots: server.roots.iter().map(|r| r.path.clone()).collect(),
            environment: super::environment::of_this_command(),
            declared: serde_json::Value::Null,
        })
    }

    /// What makes this server itself: a hash of how it is started.
    pub fn key(&self) -> String {
        let identity = serde_json::json!([
            self.command,
            self.args,
            self.env,
            self.cwd,
            self.protocol_version,
            self.roots,
            super::environment::keyed(&self.environment),
            self.declared
        ]);
        let digest = Sha256::digest(identity.to_string().as_bytes());
        digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
    }

    /// The server as the daemon connects to it. Its tools are filtered by the command that
    /// asked (allow/deny lists are the command's), so the daemon lets every tool through.
    pub fn server(&self) -> Result<Arc<ServerConfig>, Failure> {
        if self.command.is_empty() {
            return Err(Failure::new(
                Kind::Usage,
                "the daemon was sent a server without a command",
            ));
        }
        // Secrets in the environment are masked in what the daemon logs and sends on.
        for (name, value) in self.environment.iter().chain(&self.env) {
            if crate::redact::is_secret_name(name) {
                crate::redact::register(value);
            }
        }
        Ok(Arc::new(ServerConfig {
            name: self.name.clone(),
            transport: Transport::Stdio {
                command: self.command.clone(),
                args: self.args.clone(),
                // The command's environment, then `env:` over it (as a direct start).
                env: self.environment.iter().chain(&self.env).cloned().collect(),
                cwd: Some(self.cwd.clone()),
            },
            auth_type: AuthType::None,
            timeout: Duration::from_millis(self.timeout_ms),
            required: false,
            tools: ToolFilter::default(),
            oauth: None,
            protocol_version: self.protocol_version.clone(),
            ca_file: None,
            max_message_bytes: self.max_message_bytes,
            roots: self
                .roots
                .iter()
                .map(|dir| {
                    crate::roots::resolve(&dir.to_string_lossy(), None)
                        .map_err(|why| Failure::new(Kind::Usage, format!("root: {why}")))
                })
                .collect::<Result<_, _>>()?,
        }))
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }
}
