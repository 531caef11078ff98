//! Errors of the handshake and the transport under it: HTTP statuses, TLS certificates, DNS,
//! refused connections, a stdio child that closed its pipes.

use rmcp::service::ClientInitializeError;
use rmcp::transport::streamable_http_client::{HttpStatusError, StreamableHttpError};

use super::auth::{auth_failure, challenge_failure};
use super::{exited_failure, fault_failure, is_fault};
use crate::auth::store::TokenStore;
use crate::config::{ServerConfig, Transport};
use crate::exit::{Failure, Kind};
use crate::mcp::transport::stdio::Child;
use crate::redact;

pub(in crate::mcp) async fn classify_init(
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
                return exited_failure(server, child, "during the MCP handshake").await;
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
            Some(child) => exited_failure(server, child, "during the MCP handshake").await,
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
pub(super) fn classify_transport(
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
                    crate::mcp::transport::framing::human_bytes(cap)
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
    if let Some(failure) = forbidden(server, text) {
        return Some(failure);
    }
    if ["HTTP 401", "401 Unauthorized"]
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

/// A 403 without a challenge (those with one were read before: `insufficient_scope` is step-up)
/// is the server refusing this request for its own reason, not asking for credentials: exit 4
/// with the reason it gave ("Access is only allowed at localhost:3001"), at default verbosity.
fn forbidden(server: &ServerConfig, text: &str) -> Option<Failure> {
    let at = text
        .find("HTTP 403")
        .or_else(|| text.find("403 Forbidden"))?;
    let after = &text[at..];
    let reason = after
        .split_once(": ")
        .map(|(_, reason)| reason.trim())
        .filter(|reason| !reason.is_empty());
    let mut message = format!(
        "MCP server `{}` ({}) answered HTTP 403 Forbidden",
        server.name,
        server.describe()
    );
    if let Some(reason) = reason {
        // A page of HTML is no reason: its first line, and at most 300 characters.
        let line = reason.lines().next().unwrap_or_default();
        let cut: String = line.chars().take(300).collect();
        let more = if cut.len() < reason.len() { "…" } else { "" };
        message.push_str(&format!(": {cut}{more}"));
    }
    Some(Failure::new(Kind::Http, message).hint(
        "the server refused this request; if it needs other credentials, check the server's `url` or `headers`",
    ))
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
pub(super) fn chain_text(error: &(dyn std::error::Error + 'static)) -> String {
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
