//! One request relayed as it is, for `serve`: sent to the server under its timeout, its answer
//! handed back as raw JSON, the server's own JSON-RPC error kept as the server sent it (so a
//! host sees the code it would have seen directly), and a cancellation from whoever asked
//! passed on to the server as `notifications/cancelled`.

use std::sync::Arc;

use rmcp::model::{
    CancelledNotificationParam, ClientRequest, ProgressNotificationParam, ServerResult,
};
use rmcp::service::{PeerRequestOptions, ServiceError};
use serde_json::Value;

use crate::exit::Failure;
use crate::mcp::Session;
use crate::mcp::classify::request_timeout;

/// Why a relayed request has no result.
#[derive(Debug)]
pub enum Refused {
    /// The server answered with a JSON-RPC error (message and data already redacted).
    Upstream(rmcp::ErrorData),
    /// We could not get an answer: timeout, closed connection, unusable reply, auth.
    Failed(Failure),
    /// The asker cancelled; the server was told.
    Cancelled,
}

impl Session {
    /// Send `request` and wait for its answer, or for `cancelled` (then the server gets
    /// `notifications/cancelled` for it). The server's progress notifications for it go to
    /// `progress`, if given.
    pub async fn forward(
        &self,
        what: &str,
        request: ClientRequest,
        cancelled: impl Future<Output = ()>,
        progress: Option<Arc<dyn Fn(ProgressNotificationParam) + Send + Sync>>,
    ) -> Result<Value, Refused> {
        self.forward_with_meta(what, request, cancelled, progress, None)
            .await
    }

    /// [`Session::forward`] with `_meta` of the caller's over what rmcp sets (a 2026-07-28
    /// request's client capabilities: `serve` passes on its host's).
    pub async fn forward_with_meta(
        &self,
        what: &str,
        request: ClientRequest,
        cancelled: impl Future<Output = ()>,
        progress: Option<Arc<dyn Fn(ProgressNotificationParam) + Send + Sync>>,
        meta: Option<rmcp::model::RequestMetaObject>,
    ) -> Result<Value, Refused> {
        let peer = self.client.peer();
        let mut options = PeerRequestOptions::with_timeout(self.server.timeout);
        options.meta = meta;
        let handle = match peer.send_request_with_option(request, options).await {
            Ok(handle) => handle,
            Err(error) => return Err(self.refused(what, &error).await),
        };
        let id = handle.id.clone();
        let routes = &self.client.service().progress_routes;
        let token = handle.progress_token.clone();
        if let Some(progress) = progress {
            let mut routes = routes.lock().unwrap_or_else(|e| e.into_inner());
            routes.insert(token.clone(), progress);
        }
        let outcome = self.outcome(what, handle, id, cancelled).await;
        routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&token);
        outcome
    }

    /// The answer to a sent request, or the cancellation passed on.
    async fn outcome(
        &self,
        what: &str,
        handle: rmcp::service::RequestHandle<rmcp::RoleClient>,
        id: rmcp::model::RequestId,
        cancelled: impl Future<Output = ()>,
    ) -> Result<Value, Refused> {
        let peer = self.client.peer();
        tokio::select! {
            answer = handle.await_response() => match answer {
                Ok(ServerResult::CustomResult(raw)) => Ok(raw.0),
                Ok(typed) => Ok(serde_json::to_value(&typed).unwrap_or(Value::Null)),
                Err(ServiceError::Timeout { .. }) => {
                    Err(Refused::Failed(request_timeout(&self.server, what)))
                }
                Err(error) => Err(self.refused(what, &error).await),
            },
            () = cancelled => {
                let params = CancelledNotificationParam::new(
                    Some(id),
                    Some("cancelled by the client of mcpchat serve".to_string()),
                );
                if let Err(error) = peer.notify_cancelled(params).await {
                    tracing::debug!(server = %self.name(), "could not pass on a cancellation: {error}");
                }
                Err(Refused::Cancelled)
            }
        }
    }

    /// The server's own JSON-RPC error as it sent it (redacted); anything else classified.
    async fn refused(&self, what: &str, error: &ServiceError) -> Refused {
        if let ServiceError::McpError(data) = error
            && error.auth_challenge().is_none()
            && !crate::mcp::classify::is_fault(data)
        {
            let mut data = data.clone();
            data.message = crate::redact::text(&data.message).into();
            data.data = data
                .data
                .take()
                .and_then(|d| serde_json::from_str(&crate::redact::json_line(&d.to_string())).ok());
            return Refused::Upstream(data);
        }
        Refused::Failed(self.classified(what, error).await)
    }

    /// A receiver of the kinds of list this server says changed (`notifications/*/list_changed`),
    /// as our transports read them.
    pub fn list_changes(&self) -> tokio::sync::broadcast::Receiver<crate::cache::ListKind> {
        self.changes.announced.subscribe()
    }

    /// Tell the server the client's roots changed (`serve` passes a host's on).
    #[allow(deprecated)] // roots: still what 2025-era servers ask for
    pub async fn roots_changed(&self) {
        if let Err(error) = self.client.peer().notify_roots_list_changed().await {
            tracing::debug!(server = %self.name(), "could not pass on a roots change: {error}");
        }
    }

    /// A receiver of the URIs of this server's `notifications/resources/updated`.
    pub fn resource_updates(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.resource_updates.subscribe()
    }
}
