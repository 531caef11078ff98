//! A server as commands see it: resolved from its file entry (or flags) with `${VAR}`
//! expanded, secrets registered for redaction, and timeouts and limits settled.

use std::path::PathBuf;
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use super::raw::{Entry, RawServer};
use super::{Config, DEFAULT_REQUEST_TIMEOUT};
use crate::exit::Failure;
use crate::redact;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// The secret is in the URL or headers (or there is none).
    #[default]
    Token,
    Oauth,
    ClientCredentials,
    /// RFC 7523 JWT bearer grant with a workload identity token (see `auth::jwt_bearer`).
    JwtBearer,
    /// Enterprise-managed authorization: ID token -> ID-JAG -> token (see `auth::enterprise`).
    EnterpriseManaged,
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

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
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
    /// jwt_bearer: the workload identity token, read from this file on every token request.
    pub assertion_file: Option<String>,
    /// jwt_bearer: ... or from this environment variable.
    pub assertion_env: Option<String>,
    /// enterprise_managed: the enterprise identity provider and where its ID token is.
    pub identity_provider: Option<crate::auth::IdentityProvider>,
    /// DPoP-bound tokens (RFC 9449): auto (default), always or never.
    pub dpop: Option<crate::auth::dpop::Mode>,
    /// Let the OAuth endpoints the server names resolve to private addresses (RFC 1918, CGNAT,
    /// `fc00::/7`), e.g. a corporate authorization server; never loopback or link-local.
    #[serde(default)]
    pub allow_private_addresses: bool,
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
    /// `roots:` and then `--root`, resolved (empty: no roots capability is declared).
    pub roots: Vec<crate::roots::Root>,
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

/// Unit tests' servers, so that a field added to [`ServerConfig`] is filled in one place.
#[cfg(test)]
impl ServerConfig {
    /// An HTTP server at `url` without headers, OAuth settings or roots: 5 s per request,
    /// messages up to 1 MiB.
    pub fn http_for_tests(name: &str, url: &str, auth_type: AuthType) -> ServerConfig {
        ServerConfig {
            name: name.to_string(),
            transport: Transport::Http {
                url: url.to_string(),
                headers: vec![],
            },
            auth_type,
            timeout: Duration::from_secs(5),
            required: false,
            tools: ToolFilter::default(),
            oauth: None,
            protocol_version: None,
            ca_file: None,
            max_message_bytes: 1 << 20,
            roots: Vec::new(),
        }
    }
}

impl Config {
    /// Expand and check one entry's settings; secrets it holds are registered for redaction.
    pub(super) fn resolve(&self, entry: &Entry) -> Result<ServerConfig, Failure> {
        let raw = &entry.raw;
        let transport = self.resolve_transport(raw)?;
        let filter = raw.tools.clone().unwrap_or_default();
        let tools = ToolFilter::new(&filter.allow, &filter.deny).map_err(|e| {
            self.error_at(
                &format!("name: {}", raw.name),
                &format!("server `{}`: tools: {e}", raw.name),
            )
        })?;
        let oauth = match &raw.oauth {
            Some(o) => Some(self.resolve_oauth(o)?),
            None => None,
        };
        if let Some(secret) = oauth.as_ref().and_then(|o| o.client_secret.as_deref()) {
            redact::register(secret);
        }
        let timeout = self
            .request_timeout
            .or(raw.timeout_secs.and_then(crate::durations::timeout))
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
            roots: self.resolve_roots(raw)?,
        })
    }

    /// The server's `roots:`, then `--root`'s, each directory once. A root that does not exist
    /// is a config error at the server's `roots:`.
    fn resolve_roots(&self, raw: &RawServer) -> Result<Vec<crate::roots::Root>, Failure> {
        let base = self.source.as_deref().and_then(std::path::Path::parent);
        let mut roots: Vec<crate::roots::Root> = Vec::new();
        for dir in &raw.roots {
            let expanded = self.expand(dir)?;
            let root = crate::roots::resolve(&expanded, base).map_err(|why| {
                self.error_at_after(
                    &format!("name: {}", raw.name),
                    "roots",
                    &format!("server `{}`: {why}", raw.name),
                )
            })?;
            if !roots.contains(&root) {
                roots.push(root);
            }
        }
        for root in &self.extra_roots {
            if !roots.contains(root) {
                roots.push(root.clone());
            }
        }
        Ok(roots)
    }

    /// The URL and headers, or the command line, environment and directory.
    fn resolve_transport(&self, raw: &RawServer) -> Result<Transport, Failure> {
        let expand = |value: &str| self.expand(value);
        if let Some(url) = &raw.url {
            let url = expand(url)?;
            redact::register_url(&url);
            let mut headers = Vec::new();
            for (key, value) in &raw.headers {
                let value = expand(&value.clone().into_string())?;
                redact::register_header(key, &value);
                headers.push((key.clone(), value));
            }
            return Ok(Transport::Http { url, headers });
        }
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
        Ok(Transport::Stdio {
            command,
            args,
            env,
            cwd,
        })
    }

    fn resolve_oauth(&self, o: &OAuthConfig) -> Result<OAuthConfig, Failure> {
        let expand = |value: &str| self.expand(value);
        // Files named in `oauth` are relative to the config file, like `ca_file`.
        let file = |value: &str| {
            self.expand(value)
                .map(|f| self.relative_to_file(&f).display().to_string())
        };
        Ok(OAuthConfig {
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
            assertion_file: o.assertion_file.as_deref().map(file).transpose()?,
            assertion_env: o.assertion_env.clone(),
            identity_provider: o
                .identity_provider
                .as_ref()
                .map(|p| p.expanded(&expand, &file))
                .transpose()?,
            dpop: o.dpop,
            allow_private_addresses: o.allow_private_addresses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_filter_applies_allow_then_deny() {
        let filter =
            ToolFilter::new(&["Get_*".into()], &["Get_Secret*".into()]).unwrap_or_default();
        assert!(filter.permits("Get_Data"));
        assert!(!filter.permits("Get_Secret_Key"));
        assert!(!filter.permits("Delete_All"));
    }
}
