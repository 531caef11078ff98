//! Every SDK error leaves the MCP module here, classified into a [`Failure`] with the exit
//! code it deserves (PRODUCT.md §3) and a message that names the server and says what to do.

use std::time::Duration;

use rmcp::service::{ClientInitializeError, ServiceError};
use rmcp::transport::streamable_http_client::{HttpStatusError, StreamableHttpError};

use super::stdio::Child;
use crate::auth::store::TokenStore;
use crate::config::{AuthType, ServerConfig, Transport};
use crate::exit::{Failure, Kind};
use crate::redact;

/// A request's error (after the handshake): `what` names the request, e.g. "tools/list".
pub(super) fn request_failure(
    server: &ServerConfig,
    store: &TokenStore,
    child: Option<&Child>,
    what: &str,
    error: &ServiceError,
) -> Failure {
    if let Some(challenge) = error.auth_challenge() {
        return challenge_failure(server, store, challenge);
    }
    match error {
        ServiceError::McpError(data) if is_fault(data) => fault_failure(server, what, data),
        ServiceError::Timeout { .. } => request_timeout(server, what),
        ServiceError::McpError(data) => Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{}` rejected {what}: {} (code {})",
                server.name,
                redact::text(&data.message),
                data.code.0
            ),
        ),
        ServiceError::TransportClosed => closed_failure(server, child, what),
        ServiceError::TransportSend(inner) => {
            if let Some(failure) = classify_transport(server, inner.error.as_ref()) {
                return failure;
            }
            if child.is_some() {
                return closed_failure(server, child, what);
            }
            Failure::new(
                Kind::Protocol,
                format!(
                    "{what} failed on MCP server `{}`: {}",
                    server.name,
                    chain_text(inner.error.as_ref())
                ),
            )
        }
        other => Failure::new(
            Kind::Protocol,
            format!(
                "{what} failed on MCP server `{}`: {}",
                server.name,
                redact::text(&other.to_string())
            ),
        ),
    }
}

/// Whether an error is our verdict on an unusable reply (see `framing`), not the server's.
fn is_fault(data: &rmcp::ErrorData) -> bool {
    data.data
        .as_ref()
        .and_then(|d| d.get(super::framing::FAULT_MARKER))
        .is_some()
}

/// An unusable reply: the request fails at once, naming the server and the cause.
fn fault_failure(server: &ServerConfig, what: &str, data: &rmcp::ErrorData) -> Failure {
    let failure = Failure::new(
        Kind::Protocol,
        format!(
            "MCP server `{}` sent an unusable reply to {what}: {}",
            server.name,
            redact::text(&data.message)
        ),
    );
    if data.message.contains(" cap") {
        failure.hint(
            "raise the cap with --max-message-bytes BYTES or `max_message_bytes` in the config",
        )
    } else {
        failure
    }
}

fn closed_failure(server: &ServerConfig, child: Option<&Child>, what: &str) -> Failure {
    match child {
        Some(child) => exited_failure(server, child, &format!("during {what}")),
        // rmcp may end a Streamable HTTP connection (a broken event stream, say) and log
        // why only inside itself.
        None => Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{}` closed the connection during {what}",
                server.name
            ),
        )
        .hint("run with -vv to see the transport's reason"),
    }
}

/// The connect timeout ran out before the handshake finished.
pub(super) fn connect_timeout(server: &ServerConfig, limit: Duration) -> Failure {
    Failure::new(
        Kind::Timeout,
        format!(
            "timed out after {} connecting to MCP server `{}` ({})",
            crate::human::duration(limit),
            server.name,
            server.describe()
        ),
    )
    .hint("raise the limit with --connect-timeout SECS if the server is just slow to start")
}

/// A request's own timeout ran out.
pub(super) fn request_timeout(server: &ServerConfig, what: &str) -> Failure {
    Failure::new(
        Kind::Timeout,
        format!(
            "timed out after {} waiting for {what} on MCP server `{}`",
            crate::human::duration(server.timeout),
            server.name
        ),
    )
    .hint("raise the limit with --timeout SECS or `timeout_secs` in the config")
}

pub(super) fn exited_failure(server: &ServerConfig, child: &Child, when: &str) -> Failure {
    // Give the stderr reader a moment to collect the child's last words.
    std::thread::sleep(Duration::from_millis(50));
    let tail: Vec<String> = child
        .stderr_tail
        .lock()
        .map(|t| t.iter().rev().take(3).rev().cloned().collect())
        .unwrap_or_default();
    let mut failure = Failure::new(
        Kind::ServerExited,
        format!(
            "stdio MCP server `{}` exited or closed its output {when}",
            server.name
        ),
    );
    for line in tail {
        failure = failure.hint(format!("its stderr: {line}"));
    }
    failure.hint("run with -v to see everything the server writes to stderr")
}

fn auth_failure(server: &ServerConfig) -> Failure {
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
fn challenge_failure(server: &ServerConfig, store: &TokenStore, challenge: &str) -> Failure {
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

pub(super) fn classify_init(
    server: &ServerConfig,
    store: &TokenStore,
    error: &ClientInitializeError,
    child: Option<&Child>,
) -> Failure {
    if let Some(challenge) = error.auth_challenge() {
        return challenge_failure(server, store, challenge);
    }
    if error.is_authorization_required() {
        return auth_failure(server);
    }
    match error {
        ClientInitializeError::TransportError { error: inner, .. } => {
            if let Some(failure) = classify_transport(server, inner.error.as_ref()) {
                return failure;
            }
            if let Some(child) = child {
                return exited_failure(server, child, "during the MCP handshake");
            }
            Failure::new(
                Kind::Protocol,
                format!(
                    "MCP handshake with server `{}` ({}) failed: {}",
                    server.name,
                    server.describe(),
                    chain_text(inner.error.as_ref())
                ),
            )
        }
        ClientInitializeError::ConnectionClosed(_) => match child {
            Some(child) => exited_failure(server, child, "during the MCP handshake"),
            None => Failure::new(
                Kind::Protocol,
                format!(
                    "MCP server `{}` ({}) closed the connection during the handshake",
                    server.name,
                    server.describe()
                ),
            ),
        },
        ClientInitializeError::JsonRpcError(data) if is_fault(data) => {
            fault_failure(server, "initialize", data)
        }
        ClientInitializeError::JsonRpcError(data) => Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{}` rejected initialize: {} (code {})",
                server.name,
                redact::text(&data.message),
                data.code.0
            ),
        ),
        other => Failure::new(
            Kind::Protocol,
            format!(
                "MCP handshake with server `{}` failed: {}",
                server.name,
                redact::text(&other.to_string())
            ),
        ),
    }
}

/// Classify a transport error by what is in its source chain.
fn classify_transport(
    server: &ServerConfig,
    error: &(dyn std::error::Error + 'static),
) -> Option<Failure> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(failure) = classify_layer(server, current) {
            return Some(failure);
        }
        source = current.source();
    }
    classify_text(server, &chain_text(error))
}

/// One error of the source chain: an HTTP status, a reqwest error, or a JSON error.
fn classify_layer(
    server: &ServerConfig,
    current: &(dyn std::error::Error + 'static),
) -> Option<Failure> {
    let transport = current.downcast_ref::<StreamableHttpError<reqwest::Error>>();
    let status = current
        .downcast_ref::<HttpStatusError>()
        .or(match transport {
            Some(StreamableHttpError::HttpStatus(status)) => Some(status),
            _ => None,
        });
    if let Some(status) = status {
        return Some(http_status(server, status.status));
    }
    let http = current
        .downcast_ref::<reqwest::Error>()
        .or(match transport {
            Some(StreamableHttpError::Client(e)) => Some(e),
            _ => None,
        });
    if let Some(http) = http {
        return classify_reqwest(server, http);
    }
    if current.downcast_ref::<serde_json::Error>().is_some() {
        return Some(Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{}` ({}) sent a body that is not valid JSON-RPC: {}",
                server.name,
                server.describe(),
                redact::text(&current.to_string())
            ),
        ));
    }
    None
}

fn http_status(server: &ServerConfig, status: impl std::fmt::Display) -> Failure {
    Failure::new(
        Kind::Http,
        format!(
            "MCP server `{}` ({}) answered HTTP {status}",
            server.name,
            server.describe(),
        ),
    )
}

fn classify_reqwest(server: &ServerConfig, http: &reqwest::Error) -> Option<Failure> {
    if let Some(why) = untrusted_certificate(http) {
        return Some(
            Failure::new(
                Kind::Unreachable,
                format!(
                    "the TLS certificate of MCP server `{}` at {} is not trusted: {why}",
                    server.name,
                    server.describe()
                ),
            )
            .hint(CA_HINT),
        );
    }
    if http.is_connect() {
        let mut failure = Failure::new(
            Kind::Unreachable,
            format!(
                "cannot connect to MCP server `{}` at {}: {}",
                server.name,
                server.describe(),
                root_cause(http)
            ),
        );
        if let Transport::Http { url, .. } = &server.transport
            && (url.contains("://127.0.0.1") || url.contains("://localhost"))
        {
            failure = failure.hint("is the server running?");
        }
        return Some(failure);
    }
    if http.is_timeout() {
        return Some(Failure::new(
            Kind::Timeout,
            format!("HTTP request to MCP server `{}` timed out", server.name),
        ));
    }
    http.status()
        .map(|status| http_status(server, status.as_u16()))
}

/// Last resort: what the error's text says (some SDK errors carry only text).
fn classify_text(server: &ServerConfig, text: &str) -> Option<Failure> {
    // rmcp: "HTTP response body exceeded the maximum size of N bytes" (also for SSE events).
    if let Some((_, rest)) = text.split_once("exceeded the maximum size of ") {
        let cap: u64 = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        return Some(
            Failure::new(
                Kind::Protocol,
                format!(
                    "MCP server `{}` sent an unusable reply: reply exceeds the {} cap",
                    server.name,
                    super::framing::human_bytes(cap)
                ),
            )
            .hint(
                "raise the cap with --max-message-bytes BYTES or `max_message_bytes` in the config",
            ),
        );
    }
    if text.contains("invalid unicode code point") || text.contains("Utf8") {
        return Some(Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{}` sent an unusable reply: reply is not valid UTF-8",
                server.name
            ),
        ));
    }
    if ["HTTP 401", "HTTP 403", "401 Unauthorized", "403 Forbidden"]
        .iter()
        .any(|s| text.contains(s))
    {
        return Some(auth_failure(server));
    }
    if text.contains("HTTP 4") || text.contains("HTTP 5") || text.contains("status") {
        return Some(Failure::new(
            Kind::Http,
            format!(
                "MCP server `{}` ({}) failed: {text}",
                server.name,
                server.describe()
            ),
        ));
    }
    if text.contains("Unexpected content type")
        || text.contains("unexpected server response")
        || text.contains("Deserialize")
    {
        return Some(Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{}` ({}) sent an invalid response: {text}",
                server.name,
                server.describe()
            ),
        ));
    }
    None
}

/// What to do about a certificate we do not trust.
pub const CA_HINT: &str = "if the server uses a private CA, trust it with `ca_file: /path/to/ca.pem` (per server, or llm.ca_file for the model API) or SSL_CERT_FILE";

/// Why the TLS handshake rejected the server's certificate, when that is what failed (rustls
/// says "invalid peer certificate: UnknownIssuer", "...: NotValidForName", ...).
pub fn untrusted_certificate(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if text.contains("invalid peer certificate") || text.contains("certificate verify failed") {
            return Some(redact::text(&text));
        }
        current = e.source();
    }
    None
}

fn root_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> String {
    let mut current: &'a (dyn std::error::Error + 'static) = error;
    while let Some(next) = current.source() {
        current = next;
    }
    redact::text(&current.to_string())
}

/// "outer: inner: root", deduplicated and redacted.
fn chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        let text = current.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = current.source();
    }
    redact::text(&parts.join(": "))
}
