//! What a command tells the daemon about a server it wants kept alive, in the `initialize`
//! it sends (capability `io.mcpchat/upstream`): how to start or reach it and how long to
//! keep it.
//!
//! Guarantees: the key is a hash of everything that makes the server what it is: for a
//! stdio server its command, arguments, environment, directory; for an HTTP server its URL,
//! headers, auth type and identity (token store, OAuth settings), `ca_file` and the proxy
//! and TLS variables that apply; and for both the protocol pin and roots. A changed config
//! is another server; the name, timeouts and caps are not in the key (the same server under
//! two names is one). The spec holds secrets (a `?token=`, header values, a client secret):
//! it only travels over the daemon's private socket, and the daemon registers them for
//! redaction before it logs or answers anything about the server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{AuthType, OAuthConfig, ServerConfig, ToolFilter, Transport};
use crate::exit::{Failure, Kind};

/// The capability (client side, experimental) that carries the [`Spec`].
pub const CAPABILITY: &str = "io.mcpchat/upstream";

/// The environment variables that change how an HTTP server is reached (reqwest and the
/// OAuth guard read them): a daemon started with other values cannot reach it the same way.
const REACH_VARIABLES: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// A server as the daemon starts (stdio) or reaches (HTTP) it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    pub name: String,
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// The server's `cwd`, else the command's own directory (where a direct run starts it).
    #[serde(default)]
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
    /// An HTTP server (Streamable HTTP, or the legacy HTTP+SSE fallback); None for stdio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<Remote>,
}

/// What makes an HTTP server itself, as the command resolved it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Remote {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub auth_type: AuthType,
    pub oauth: Option<OAuthConfig>,
    /// The command's token store (the daemon reads and refreshes the same file).
    pub token_store: PathBuf,
    pub keychain: bool,
    pub ca_file: Option<PathBuf>,
    /// The proxy and TLS variables of the command's environment ([`REACH_VARIABLES`]).
    pub reach: Vec<(String, String)>,
}

impl Spec {
    /// The spec of `server`; None for a server the daemon does not keep (see [`remote`]).
    pub fn of(
        server: &ServerConfig,
        pinned: Option<&str>,
        idle: Duration,
        store: &crate::auth::store::TokenStore,
    ) -> Option<Spec> {
        let (command, args, env, cwd, remote) = match &server.transport {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let cwd = match cwd {
                    Some(dir) => dir.clone(),
                    None => std::env::current_dir().ok()?,
                };
                (command.clone(), args.clone(), env.clone(), cwd, None)
            }
            Transport::Http { url, headers } => {
                let remote = remote(server, url, headers, store)?;
                (
                    String::new(),
                    Vec::new(),
                    Vec::new(),
                    PathBuf::new(),
                    Some(remote),
                )
            }
        };
        Some(Spec {
            name: server.name.clone(),
            command,
            args,
            env,
            cwd,
            protocol_version: server
                .protocol_version
                .clone()
                .or_else(|| pinned.map(str::to_string)),
            timeout_ms: u64::try_from(server.timeout.as_millis()).unwrap_or(u64::MAX),
            max_message_bytes: server.max_message_bytes,
            idle_timeout_secs: idle.as_secs().max(1),
            roots: server.roots.iter().map(|r| r.path.clone()).collect(),
            // An HTTP server is reached, not started: only its proxy and TLS variables (in
            // `remote`) matter.
            environment: if remote.is_some() {
                Vec::new()
            } else {
                super::environment::of_this_command()
            },
            declared: serde_json::Value::Null,
            remote,
        })
    }

    /// What makes this server itself: a hash of how it is started or reached.
    pub fn key(&self) -> String {
        // The declared capabilities are keyed for both: a server may offer other tools to a
        // client that can answer elicitation.
        let identity = match &self.remote {
            None => serde_json::json!([
                self.command,
                self.args,
                self.env,
                self.cwd,
                self.protocol_version,
                self.roots,
                super::environment::keyed(&self.environment),
                self.declared
            ]),
            Some(remote) => serde_json::json!([
                "http",
                remote,
                self.protocol_version,
                self.roots,
                self.declared
            ]),
        };
        let digest = Sha256::digest(identity.to_string().as_bytes());
        digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
    }

    /// The server as the daemon connects to it. Its tools are filtered by the command that
    /// asked (allow/deny lists are the command's), so the daemon lets every tool through.
    pub fn server(&self) -> Result<Arc<ServerConfig>, Failure> {
        let (transport, auth_type, oauth, ca_file) = match &self.remote {
            Some(remote) => {
                remote.register_secrets();
                let transport = Transport::Http {
                    url: remote.url.clone(),
                    headers: remote.headers.clone(),
                };
                let oauth = remote.oauth.clone();
                (transport, remote.auth_type, oauth, remote.ca_file.clone())
            }
            None => (self.stdio()?, AuthType::None, None, None),
        };
        Ok(Arc::new(ServerConfig {
            name: self.name.clone(),
            transport,
            auth_type,
            timeout: Duration::from_millis(self.timeout_ms),
            required: false,
            tools: ToolFilter::default(),
            oauth,
            protocol_version: self.protocol_version.clone(),
            ca_file,
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

    /// The stdio transport, its secret-named variables registered for redaction.
    fn stdio(&self) -> Result<Transport, Failure> {
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
        Ok(Transport::Stdio {
            command: self.command.clone(),
            args: self.args.clone(),
            // The command's environment, then `env:` over it (as a direct start).
            env: self.environment.iter().chain(&self.env).cloned().collect(),
            cwd: Some(self.cwd.clone()),
        })
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }
}

impl Remote {
    /// The token store the command uses, as the daemon opens it.
    pub fn store(&self) -> crate::auth::store::TokenStore {
        crate::auth::store::TokenStore::reopen(self.token_store.clone(), self.keychain)
    }

    /// The variables that differ between the command's environment and this process's
    /// (the daemon's), by name; empty when the daemon reaches the server as the command would.
    pub fn foreign_reach(&self) -> Vec<&str> {
        let ours = reach();
        REACH_VARIABLES
            .iter()
            .copied()
            .filter(|name| {
                let of = |set: &[(String, String)]| {
                    set.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
                };
                of(&self.reach) != of(&ours)
            })
            .collect()
    }

    /// What `daemon status` shows of the server's auth: the type, and for OAuth the client
    /// and issuer the store names; never a secret.
    pub fn identity(&self, store: &crate::auth::store::TokenStore) -> serde_json::Value {
        let kind = serde_json::to_value(self.auth_type).unwrap_or_default();
        let mut identity = serde_json::json!({"type": kind});
        if crate::auth::uses_oauth(self.auth_type)
            && let Ok(Some(entry)) = store.get(&self.url)
        {
            identity["client_id"] = entry.client.map(|c| c.client_id).into();
            identity["issuer"] = entry.issuer.into();
        }
        identity
    }

    /// The URL's query values, header values, the client secret and proxy credentials are
    /// secrets in this process too.
    fn register_secrets(&self) {
        crate::redact::register_url(&self.url);
        for (name, value) in &self.headers {
            crate::redact::register_header(name, value);
        }
        if let Some(secret) = self.oauth.as_ref().and_then(|o| o.client_secret.as_deref()) {
            crate::redact::register(secret);
        }
        for (_, value) in &self.reach {
            crate::redact::register_url(value);
        }
    }
}

/// The HTTP server's identity; None for an auth type whose token is made from files or
/// variables the command reads (`client_credentials`, `jwt_bearer`, `enterprise_managed`):
/// those stay direct.
fn remote(
    server: &ServerConfig,
    url: &str,
    headers: &[(String, String)],
    store: &crate::auth::store::TokenStore,
) -> Option<Remote> {
    if !matches!(
        server.auth_type,
        AuthType::Token | AuthType::None | AuthType::Oauth
    ) {
        return None;
    }
    Some(Remote {
        url: url.to_string(),
        headers: headers.to_vec(),
        auth_type: server.auth_type,
        oauth: server.oauth.clone(),
        token_store: store.path().to_path_buf(),
        keychain: store.in_keychain(),
        ca_file: server.ca_file.clone(),
        reach: reach(),
    })
}

/// This process's values of [`REACH_VARIABLES`] (set ones only).
fn reach() -> Vec<(String, String)> {
    REACH_VARIABLES
        .iter()
        .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn http(name: &str, url: &str, headers: &[(&str, &str)]) -> ServerConfig {
        ServerConfig {
            name: name.to_string(),
            transport: Transport::Http {
                url: url.to_string(),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            auth_type: AuthType::Token,
            timeout: Duration::from_secs(30),
            required: false,
            tools: ToolFilter::default(),
            oauth: None,
            protocol_version: None,
            ca_file: None,
            max_message_bytes: 1024,
            roots: Vec::new(),
        }
    }

    fn key(server: &ServerConfig, store: &str) -> String {
        let store = crate::auth::store::TokenStore::reopen(PathBuf::from(store), false);
        Spec::of(server, None, Duration::from_secs(600), &store)
            .expect("an HTTP server with a token is kept")
            .key()
    }

    #[test]
    fn an_http_servers_key_is_its_url_headers_and_token_store_not_its_name() {
        let base = key(&http("a", "https://x.test/mcp", &[("K", "1")]), "/s");
        assert_eq!(
            key(&http("b", "https://x.test/mcp", &[("K", "1")]), "/s"),
            base
        );
        assert_ne!(
            key(&http("a", "https://x.test/mcp", &[("K", "2")]), "/s"),
            base
        );
        assert_ne!(
            key(
                &http("a", "https://x.test/mcp?token=t", &[("K", "1")]),
                "/s"
            ),
            base
        );
        assert_ne!(
            key(&http("a", "https://x.test/mcp", &[("K", "1")]), "/t"),
            base
        );
        let mut oauth = http("a", "https://x.test/mcp", &[("K", "1")]);
        oauth.auth_type = AuthType::Oauth;
        assert_ne!(key(&oauth, "/s"), base);
        let mut pinned = http("a", "https://x.test/mcp", &[("K", "1")]);
        pinned.protocol_version = Some("2025-11-25".into());
        assert_ne!(key(&pinned, "/s"), base);
    }

    #[test]
    fn headless_grants_are_not_kept() {
        let store = crate::auth::store::TokenStore::reopen(PathBuf::from("/s"), false);
        let mut server = http("a", "https://x.test/mcp", &[]);
        for auth_type in [
            AuthType::ClientCredentials,
            AuthType::JwtBearer,
            AuthType::EnterpriseManaged,
        ] {
            server.auth_type = auth_type;
            assert!(Spec::of(&server, None, Duration::from_secs(1), &store).is_none());
        }
    }

    #[test]
    fn the_spec_travels_as_json_and_comes_back_as_the_same_http_server() {
        let store = crate::auth::store::TokenStore::reopen(PathBuf::from("/s"), true);
        let server = http("a", "https://x.test/mcp?token=t", &[("X-Api-Key", "k")]);
        let spec = Spec::of(&server, None, Duration::from_secs(1), &store).unwrap();
        let back: Spec = serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
        assert_eq!(back.key(), spec.key());
        let remote = back.remote.as_ref().unwrap();
        assert!(remote.keychain);
        assert_eq!(remote.store().path(), std::path::Path::new("/s"));
        let rebuilt = back.server().unwrap();
        assert!(matches!(
            &rebuilt.transport,
            Transport::Http { url, headers }
                if url == "https://x.test/mcp?token=t" && headers == &[("X-Api-Key".to_string(), "k".to_string())]
        ));
        assert_eq!(rebuilt.auth_type, AuthType::Token);
    }
}
