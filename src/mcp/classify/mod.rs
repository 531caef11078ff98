//! Every SDK error leaves the MCP module here, classified into a [`Failure`] with the exit
//! code it deserves (PRODUCT.md §3) and a message that names the server and says what to do.
//!
//! Parts: this file (errors of requests after the handshake, timeouts, a server's exit),
//! `auth` (401/403 and their `WWW-Authenticate` challenges), `connect` (errors of the
//! handshake and the transport: HTTP statuses, TLS, DNS, refused connections).

mod auth;
mod connect;
mod relayed;

use std::time::Duration;

use rmcp::service::ServiceError;

use super::transport::stdio::Child;
use crate::auth::store::TokenStore;
use crate::config::ServerConfig;
use crate::exit::{Failure, Kind};
use crate::redact;

use auth::challenge_failure;
pub(super) use connect::classify_init;
pub use connect::{CA_HINT, untrusted_certificate};
use connect::{chain_text, classify_transport};
pub use relayed::{FAILURE_KEY, failure_data, with_hints};

/// A request's error (after the handshake): `what` names the request, e.g. "tools/list".
pub(super) async fn request_failure(
    server: &ServerConfig,
    store: &TokenStore,
    child: Option<&Child>,
    relayed: bool,
    what: &str,
    error: &ServiceError,
) -> Failure {
    if let Some(challenge) = error.auth_challenge() {
        return challenge_failure(server, store, challenge);
    }
    if let ServiceError::McpError(data) = error
        && relayed
        && let Some(failure) = relayed::failure_in(data)
    {
        return failure;
    }
    match error {
        ServiceError::McpError(data) if is_fault(data) => fault_failure(server, what, data),
        ServiceError::Timeout { .. } => request_timeout(server, what),
        // URL elicitation required: what the user must open, not a broken server.
        ServiceError::McpError(data) if data.code.0 == -32042 => {
            crate::elicit::url::required_failure(&server.name, what, data.data.as_ref())
        }
        ServiceError::McpError(data) => Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{}` rejected {what}: {} (code {})",
                server.name,
                redact::text(&data.message),
                data.code.0
            ),
        ),
        ServiceError::TransportClosed => closed_failure(server, child, what).await,
        ServiceError::TransportSend(inner) => {
            if let Some(failure) = classify_transport(server, inner.error.as_ref()) {
                return failure;
            }
            // A pipe or the daemon's socket that cannot be written to was closed: the same
            // failure as when the closing is read first (which of the two comes first is luck).
            if child.is_some() || relayed {
                return closed_failure(server, child, what).await;
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
pub(super) fn is_fault(data: &rmcp::ErrorData) -> bool {
    data.data
        .as_ref()
        .and_then(|d| d.get(super::transport::framing::FAULT_MARKER))
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

async fn closed_failure(server: &ServerConfig, child: Option<&Child>, what: &str) -> Failure {
    match child {
        Some(child) => exited_failure(server, child, &format!("during {what}")).await,
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

/// How long a dead child's stderr may stay open (held by a grandchild) before its tail is
/// taken as it is.
const LAST_WORDS: Duration = Duration::from_millis(50);

pub(super) async fn exited_failure(server: &ServerConfig, child: &Child, when: &str) -> Failure {
    let words = child.last_words(LAST_WORDS).await;
    let tail = &words[words.len().saturating_sub(3)..];
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
