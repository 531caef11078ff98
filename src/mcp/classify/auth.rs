//! A server that wants credentials: what to say for a 401/403, and what its
//! `WWW-Authenticate` challenge asks for (scopes, the resource metadata).

use crate::auth::store::TokenStore;
use crate::config::{AuthType, ServerConfig, Transport};
use crate::exit::{Failure, Kind};

pub(super) fn auth_failure(server: &ServerConfig) -> Failure {
    let failure = Failure::new(
        Kind::Auth,
        format!(
            "MCP server `{}` requires authentication, or rejected the credentials sent",
            server.name
        ),
    );
    match server.auth_type {
        AuthType::Oauth => failure.hint(format!("run: mcpchat auth login {}", server.name)),
        AuthType::ClientCredentials => failure.hint(format!(
            "check oauth.client_id / oauth.client_secret, then run: mcpchat auth login {}",
            server.name
        )),
        AuthType::JwtBearer | AuthType::EnterpriseManaged => failure.hint(format!(
            "check the server's oauth settings and that its token is fresh, then run: mcpchat auth login {}",
            server.name
        )),
        _ => {
            failure.hint("check the token in the server's `url` or `headers` (config or --header)")
        }
    }
}

/// A 401/403 with its `WWW-Authenticate` challenge. For `insufficient_scope`, the scopes the
/// server wants are remembered so that the next `auth login` asks for them (step-up).
pub(super) fn challenge_failure(
    server: &ServerConfig,
    store: &TokenStore,
    challenge: &str,
) -> Failure {
    let lower = challenge.to_ascii_lowercase();
    if server.auth_type == AuthType::Oauth && lower.contains("insufficient_scope") {
        let wanted = challenge_param(challenge, "scope").unwrap_or_default();
        let scopes: Vec<String> = wanted.split_whitespace().map(str::to_string).collect();
        if let Transport::Http { url, .. } = &server.transport
            && !scopes.is_empty()
        {
            let _ = store.update(url, |entry| {
                for scope in &scopes {
                    if !entry.required_scopes.contains(scope) {
                        entry.required_scopes.push(scope.clone());
                    }
                }
            });
        }
        return Failure::new(
            Kind::Auth,
            format!(
                "MCP server `{}` needs more permissions (scope `{wanted}`) than the login granted",
                server.name
            ),
        )
        .hint(format!(
            "run: mcpchat auth login {} (it will ask for `{wanted}` too)",
            server.name
        ));
    }
    auth_failure(server)
}

/// A parameter of a `WWW-Authenticate` challenge, e.g. `scope="a b"`.
fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let lower = challenge.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&format!("{name}=")) {
        let start = from + pos;
        let boundary = start == 0
            || !lower.as_bytes()[start - 1].is_ascii_alphanumeric()
                && lower.as_bytes()[start - 1] != b'_';
        let value_start = start + name.len() + 1;
        if boundary {
            let rest = &challenge[value_start..];
            return Some(match rest.strip_prefix('"') {
                Some(quoted) => quoted.split('"').next().unwrap_or("").to_string(),
                None => rest.split([',', ' ']).next().unwrap_or("").to_string(),
            });
        }
        from = value_start;
    }
    None
}
