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
//! host sent it; a host that does not answer in time (`PERSON_LIMIT` for elicitation and
//! sampling, `ROOTS_LIMIT` for roots) gets `notifications/cancelled` for the request, and the
//! upstream -32001 "Request timed out", as a client that gave up answers.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{
    ClientResult, ElicitRequestParams, ElicitResult, ElicitationAction, ErrorCode, ServerRequest,
};
use rmcp::service::{PeerRequestOptions, ServiceError};
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
    /// The task ids named to hosts: a task status goes to the host that created the task.
    pub task_ids: Arc<super::task_ids::TaskIds>,
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

/// How long a host may take to answer an elicitation or sampling request: these wait on a
/// person (reading a form, approving a completion). MCP does not tell a client how long the
/// server will wait, so this is ours; past it the host's request is cancelled.
const PERSON_LIMIT: Duration = Duration::from_secs(300);

/// How long a host may take to answer `roots/list`, which no person answers.
const ROOTS_LIMIT: Duration = Duration::from_secs(30);

/// The JSON-RPC code a client answers a server's request with when it gave up waiting (the
/// SDKs' "Request timed out").
const TIMED_OUT: ErrorCode = ErrorCode(-32001);

/// The limit for one kind of request; tests shorten both (`MCPCHAT_SERVE_ASK_LIMIT_MS`,
/// not documented: a host that never answers would otherwise hold a test for minutes).
fn limit(normal: Duration) -> Duration {
    std::env::var("MCPCHAT_SERVE_ASK_LIMIT_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .map_or(normal, Duration::from_millis)
}

/// Send `request` to `host` and wait for its answer at most `limit`; past it rmcp sends the
/// host `notifications/cancelled` for it, and the upstream gets the timeout error.
async fn ask_host(
    host: &Peer<RoleServer>,
    server: &str,
    request: ServerRequest,
    limit: Duration,
) -> Result<ClientResult, ErrorData> {
    let method = match &request {
        ServerRequest::ElicitRequest(_) => "elicitation/create",
        ServerRequest::CreateMessageRequest(_) => "sampling/createMessage",
        _ => "roots/list",
    };
    let options = PeerRequestOptions::with_timeout(limit);
    let handle = host
        .send_request_with_option(request, options)
        .await
        .map_err(|e| host_error(server, e))?;
    match handle.await_response().await {
        Ok(result) => Ok(result),
        Err(ServiceError::Timeout { .. }) => {
            tracing::info!(
                server,
                "the host did not answer {method} in {limit:?}; cancelled"
            );
            Err(ErrorData::new(
                TIMED_OUT,
                format!(
                    "Request timed out: the client of mcpchat serve did not answer {method} within {} ms",
                    limit.as_millis()
                ),
                None,
            ))
        }
        Err(error) => Err(host_error(server, error)),
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

    /// `notifications/elicitation/complete`: to the host that is answering the upstream.
    fn notify(&self, notification: &rmcp::model::CustomNotification) {
        if notification.method != "notifications/elicitation/complete" {
            return;
        }
        let Some(host) = self.hosts.asker(self.upstream) else {
            return;
        };
        let notification =
            rmcp::model::ServerNotification::CustomNotification(notification.clone());
        let server = self.server.clone();
        tokio::spawn(async move {
            if let Err(error) = host.send_notification(notification).await {
                tracing::debug!(
                    server,
                    "could not pass a notification on to a host: {error}"
                );
            }
        });
    }

    fn notice(&self, method: &str, params: Option<&Value>) {
        super::task_ids::pass_on_status(&self.task_ids, self.upstream, method, params);
    }

    fn elicit(
        &self,
        request: ElicitRequestParams,
    ) -> BoxFuture<'static, Result<ElicitResult, ErrorData>> {
        if let Some(inbox) = self.hosts.inbox(self.upstream) {
            return super::inbox::ask(inbox, super::inbox::elicitation(request));
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
            match ask_host(&host, &server, request, limit(PERSON_LIMIT)).await? {
                ClientResult::ElicitResult(result) => Ok(result),
                _ => Err(host_error(&server, ServiceError::UnexpectedResponse)),
            }
        })
    }

    #[allow(deprecated)]
    fn sample(
        &self,
        request: rmcp::model::CreateMessageRequestParams,
    ) -> BoxFuture<'static, Result<rmcp::model::CreateMessageResult, ErrorData>> {
        if let Some(inbox) = self.hosts.inbox(self.upstream) {
            return super::inbox::ask(inbox, super::inbox::sampling(request));
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
            let request = ServerRequest::CreateMessageRequest(
                rmcp::model::CreateMessageRequest::new(request),
            );
            match ask_host(&host, &server, request, limit(PERSON_LIMIT)).await? {
                ClientResult::CreateMessageResult(result) => Ok(*result),
                _ => Err(host_error(&server, ServiceError::UnexpectedResponse)),
            }
        })
    }

    #[allow(deprecated)]
    fn roots(&self) -> BoxFuture<'static, Result<rmcp::model::ListRootsResult, ErrorData>> {
        if let Some(inbox) = self.hosts.inbox(self.upstream) {
            return super::inbox::ask(inbox, super::inbox::roots());
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
            let request = ServerRequest::ListRootsRequest(rmcp::model::ListRootsRequest::default());
            match ask_host(&host, &server, request, limit(ROOTS_LIMIT)).await? {
                ClientResult::ListRootsResult(result) => Ok(result),
                _ => Err(host_error(&server, ServiceError::UnexpectedResponse)),
            }
        })
    }
}
