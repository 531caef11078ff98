//! An upstream's requests for the user or the model (elicitation, sampling, roots), passed on
//! to the host that asked for what the upstream is doing, and the host's answer passed back.
//!
//! MCP does not say which client request a server's request belongs to (over stdio there is
//! no way to tell), so the hosts' requests in flight are kept per upstream: the upstream's
//! request goes to the host of its latest request in flight to that upstream, else (roots
//! asked on their own, a request after the call ended) to the host most recently active.
//!
//! A 2026-07-28 host cannot be sent requests: during its parked calls (see `parked`) the
//! upstream's requests go into the call's inbox instead.
//!
//! Guarantees: a request goes only to a host that declared the capability; a host that did
//! not (or no host at all) gets nothing, and the upstream gets a refusal (elicitation:
//! `decline`; sampling: the spec's -1 "User rejected sampling request"; roots: -32601, as a
//! client without roots answers); the host's own JSON-RPC error reaches the upstream as the
//! host sent it.

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::model::{
    ClientResult, ElicitRequestParams, ElicitResult, ElicitationAction, ErrorCode, ServerRequest,
};
use rmcp::service::ServiceError;
use rmcp::{ErrorData, Peer, RoleServer};
use serde_json::Value;

use super::hosts::Hosts;

/// The `asks` of one upstream's session.
pub struct Asks {
    pub hosts: Arc<Hosts>,
    pub upstream: usize,
    pub server: String,
    /// Several upstreams: log messages say which one in their `logger`.
    pub several: bool,
}

/// Whether `host` declared the client capability `name` (and, given, its sub-capability).
fn declares(host: &Peer<RoleServer>, name: &str, sub: Option<&str>) -> bool {
    let Some(info) = host.peer_info() else {
        return false;
    };
    let capabilities = serde_json::to_value(&info.capabilities).unwrap_or(Value::Null);
    let Some(declared) = capabilities.get(name) else {
        return false;
    };
    match sub {
        None => true,
        // `elicitation: {}` is form mode only (as 2025-06-18 hosts declare it).
        Some("form") => declared.get("url").is_none() || declared.get("form").is_some(),
        Some(sub) => declared.get(sub).is_some(),
    }
}

/// A failed request to the host, as the upstream should see it.
fn host_error(server: &str, error: ServiceError) -> ErrorData {
    match error {
        ServiceError::McpError(error) => error,
        other => {
            tracing::debug!(
                server,
                "the host did not answer a request passed on: {other}"
            );
            ErrorData::internal_error(format!("the host did not answer: {other}"), None)
        }
    }
}

impl crate::mcp::Asks for Asks {
    /// To every host that wants its level; with several upstreams the logger names the
    /// server (`server/logger`, or `server`).
    #[allow(deprecated)]
    fn log(&self, message: &rmcp::model::LoggingMessageNotificationParam) {
        let mut message = message.clone();
        if self.several {
            message.logger = Some(match &message.logger {
                Some(logger) => format!("{}/{logger}", self.server),
                None => self.server.clone(),
            });
        }
        for host in self.hosts.listening(message.level as u8) {
            let message = message.clone();
            let server = self.server.clone();
            tokio::spawn(async move {
                if let Err(error) = host.notify_logging_message(message).await {
                    tracing::debug!(server, "could not pass a log message on to a host: {error}");
                }
            });
        }
    }

    fn elicit(
        &self,
        request: ElicitRequestParams,
    ) -> BoxFuture<'static, Result<ElicitResult, ErrorData>> {
        if let Some(inbox) = self.hosts.inbox(self.upstream) {
            return super::parked::ask(inbox, super::parked::elicitation(request));
        }
        let mode = match &request {
            ElicitRequestParams::UrlElicitationParams { .. } => "url",
            _ => "form",
        };
        let host = self
            .hosts
            .asker(self.upstream)
            .filter(|host| declares(host, "elicitation", Some(mode)));
        let server = self.server.clone();
        Box::pin(async move {
            let Some(host) = host else {
                tracing::info!(
                    server,
                    "declined an elicitation request: no host can answer it"
                );
                return Ok(ElicitResult::new(ElicitationAction::Decline));
            };
            // rmcp's `create_elicitation` is behind a feature we do not build; this is it.
            let request = ServerRequest::ElicitRequest(rmcp::model::ElicitRequest::new(request));
            match host.send_request(request).await {
                Ok(ClientResult::ElicitResult(result)) => Ok(result),
                Ok(_) => Err(host_error(&server, ServiceError::UnexpectedResponse)),
                Err(error) => Err(host_error(&server, error)),
            }
        })
    }

    #[allow(deprecated)]
    fn sample(
        &self,
        request: rmcp::model::CreateMessageRequestParams,
    ) -> BoxFuture<'static, Result<rmcp::model::CreateMessageResult, ErrorData>> {
        if let Some(inbox) = self.hosts.inbox(self.upstream) {
            return super::parked::ask(inbox, super::parked::sampling(request));
        }
        let host = self
            .hosts
            .asker(self.upstream)
            .filter(|host| declares(host, "sampling", None));
        let server = self.server.clone();
        Box::pin(async move {
            let Some(host) = host else {
                tracing::info!(server, "refused a sampling request: no host can answer it");
                return Err(ErrorData::new(
                    ErrorCode(-1),
                    "User rejected sampling request",
                    None,
                ));
            };
            host.create_message(request)
                .await
                .map_err(|e| host_error(&server, e))
        })
    }

    #[allow(deprecated)]
    fn roots(&self) -> BoxFuture<'static, Result<rmcp::model::ListRootsResult, ErrorData>> {
        if let Some(inbox) = self.hosts.inbox(self.upstream) {
            return super::parked::ask(inbox, super::parked::roots());
        }
        let host = self
            .hosts
            .asker(self.upstream)
            .filter(|host| declares(host, "roots", None));
        let server = self.server.clone();
        Box::pin(async move {
            let Some(host) = host else {
                return Err(ErrorData::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    "roots/list: no host of mcpchat serve declared roots",
                    None,
                ));
            };
            host.list_roots().await.map_err(|e| host_error(&server, e))
        })
    }
}
