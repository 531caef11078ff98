//! What a server sends us on its own: progress and log notifications, elicitation and sampling
//! requests, and the client capabilities we declare in return. (`list_changed` notifications
//! are acted on earlier, as the transport reads them: see `lists::ListChanges`.)

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::ClientHandler;
#[allow(deprecated)]
// logging notifications: deprecated in 2026-07-28, still sent by 2025-era servers
use rmcp::model::LoggingMessageNotificationParam;
use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    Implementation, NumberOrString, ProgressNotificationParam, ProtocolVersion,
    ResourceUpdatedNotificationParam,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient};
use serde_json::Value;

use super::sampling::Sampler;
use crate::mcp::Elicitation;
use crate::redact;
use crate::ui::Progress;

/// Receives what a server sends on its own: progress and log messages, elicitation.
#[derive(Clone)]
pub(in crate::mcp) struct Handler {
    pub server: Arc<str>,
    pub progress: Arc<Progress>,
    pub elicitation: Elicitation,
    /// Answers elicitation requests (`crate::elicit`).
    pub elicitor: Arc<crate::elicit::Elicitor>,
    /// `roots/list`'s answer: `file://` URIs of the configured roots (empty: none declared).
    pub roots: Arc<[crate::roots::Root]>,
    /// Signalled when `roots/list` was answered (see `connect`: the first request waits for it).
    pub roots_listed: Arc<tokio::sync::Notify>,
    /// A pinned protocol version (None: automatic).
    pub protocol_version: Option<String>,
    /// Where `notifications/resources/updated` URIs go (`resources watch` listens here).
    pub resource_updates: tokio::sync::broadcast::Sender<String>,
    /// Answers sampling requests (None: `--sampling deny`).
    pub sampler: Option<Arc<Sampler>>,
    /// Where the progress of relayed requests goes (`serve`), by the token we sent.
    pub progress_routes: ProgressRoutes,
    /// `serve`: where the server's elicitation, sampling and roots requests go instead.
    pub asks: Option<Arc<dyn Asks>>,
}

/// Answers a server's requests for the user or the model somewhere else than here: `serve`
/// sets one on the sessions it opens, so these requests reach the host that asked (see
/// `serve::asks`). With it, the local answers (`--elicitation`, `--sampling`) are not used.
pub trait Asks: Send + Sync {
    fn elicit(
        &self,
        request: ElicitRequestParams,
    ) -> BoxFuture<'static, Result<ElicitResult, rmcp::ErrorData>>;
    #[allow(deprecated)] // sampling: still what 2025-era servers send
    fn sample(
        &self,
        request: rmcp::model::CreateMessageRequestParams,
    ) -> BoxFuture<'static, Result<rmcp::model::CreateMessageResult, rmcp::ErrorData>>;
    #[allow(deprecated)] // roots: still what 2025-era servers ask for
    fn roots(&self) -> BoxFuture<'static, Result<rmcp::model::ListRootsResult, rmcp::ErrorData>>;
    /// A log message of the server (`notifications/message`), also logged here as always.
    #[allow(deprecated)] // logging: still what 2025-era servers send
    fn log(&self, message: &LoggingMessageNotificationParam);
    /// The client capabilities to declare to the server; None: all that can be passed on
    /// (`serve`). The daemon declares what the command using the server declared.
    fn declares(&self) -> Option<Value> {
        None
    }
    /// A notification of the server's own that belongs to whoever answered its requests
    /// (`notifications/elicitation/complete`), also handled here as always.
    fn notify(&self, _notification: &rmcp::model::CustomNotification) {}
    /// A notification rmcp does not type, or a task status (`serve` passes task statuses on).
    fn notice(&self, _method: &str, _params: Option<&Value>) {}
}

/// Receivers of progress notifications, by the progress token of the request they are for.
pub type ProgressRoutes = Arc<
    std::sync::Mutex<
        std::collections::HashMap<
            rmcp::model::ProgressToken,
            Arc<dyn Fn(ProgressNotificationParam) + Send + Sync>,
        >,
    >,
>;

impl Handler {
    /// The same handler proposing another protocol version.
    pub fn with_version(&self, version: &str) -> Handler {
        Handler {
            protocol_version: Some(version.to_string()),
            ..self.clone()
        }
    }
}

impl ClientHandler for Handler {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let route = self
            .progress_routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&params.progress_token)
            .cloned();
        if let Some(route) = route {
            return route(params);
        }
        let token = match &params.progress_token.0 {
            NumberOrString::Number(n) => n.to_string(),
            NumberOrString::String(s) => s.to_string(),
        };
        self.progress.update(
            &self.server,
            &token,
            params.progress,
            params.total,
            params.message.as_deref(),
        );
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        // Nobody listening (no watch running) is not an error.
        let _ = self.resource_updates.send(params.uri);
    }

    #[allow(deprecated)]
    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let text = match &params.data {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let logger = params.logger.as_deref().unwrap_or("");
        tracing::info!(target: "mcpchat::server", server = %self.server, level = ?params.level, logger, "{}", redact::text(&text));
        if let Some(asks) = &self.asks {
            asks.log(&params);
        }
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        if let Some(asks) = &self.asks {
            return asks.elicit(request).await;
        }
        let request = serde_json::to_value(&request).unwrap_or_default();
        let reply = self.elicitor.answer(&self.server, &request).await;
        let action = match reply.action {
            "accept" => ElicitationAction::Accept,
            "cancel" => ElicitationAction::Cancel,
            _ => ElicitationAction::Decline,
        };
        let result = ElicitResult::new(action);
        Ok(match reply.content {
            Some(content) => result.with_content(Value::Object(content)),
            None => result,
        })
    }

    async fn on_custom_notification(
        &self,
        notification: rmcp::model::CustomNotification,
        _context: NotificationContext<RoleClient>,
    ) {
        if let Some(asks) = &self.asks {
            asks.notify(&notification);
            asks.notice(&notification.method, notification.params.as_ref());
        }
        if notification.method == "notifications/elicitation/complete" {
            let id = notification
                .params
                .as_ref()
                .and_then(|p| p.get("elicitationId"))
                .and_then(Value::as_str)
                .unwrap_or("");
            self.elicitor.completed(&self.server, id);
        }
    }

    /// A 2026-07-28 task status (`notifications/tasks`): only `serve` has a use for it.
    async fn on_task_status(
        &self,
        params: rmcp::model::TaskStatusNotificationParams,
        _context: NotificationContext<RoleClient>,
    ) {
        if let Some(asks) = &self.asks {
            let params = serde_json::to_value(&params).ok();
            asks.notice("notifications/tasks", params.as_ref());
        }
    }

    /// `sampling/createMessage`: the configured model answers when allowed; otherwise the
    /// spec's refusal (-1, "User rejected sampling request").
    #[allow(deprecated)]
    async fn create_message(
        &self,
        params: rmcp::model::CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<rmcp::model::CreateMessageResult, rmcp::ErrorData> {
        if let Some(asks) = &self.asks {
            return asks.sample(params).await;
        }
        let Some(sampler) = &self.sampler else {
            crate::report::notice(&format!(
                "MCP server `{}` asked for a completion from the model (sampling); refused (allow it with --sampling allow)",
                self.server
            ));
            return Err(rmcp::ErrorData::new(
                rmcp::model::ErrorCode(-1),
                "User rejected sampling request",
                None,
            ));
        };
        // Through the decimal text: 0.7 as an f32 would reach the model as 0.699999988...
        let temperature = params
            .temperature
            .map(|t| t.to_string().parse::<f64>().unwrap_or(f64::from(t)));
        let request = serde_json::to_value(&params).unwrap_or_default();
        let answer = sampler
            .answer(&self.server, &request, temperature)
            .await
            .map_err(|message| {
                rmcp::ErrorData::internal_error(
                    format!("the client's model could not answer: {message}"),
                    None,
                )
            })?;
        serde_json::from_value(answer).map_err(|e| {
            rmcp::ErrorData::internal_error(format!("cannot build the sampling result: {e}"), None)
        })
    }

    /// `roots/list`: the configured roots, or the host's through `serve`.
    // Roots are deprecated in 2026-07-28 (SEP-2577) but used by 2025-era servers (filesystem).
    #[allow(deprecated)]
    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ListRootsResult, rmcp::ErrorData> {
        // Through `serve`: the host's roots.
        if let Some(asks) = &self.asks {
            let roots = asks.roots().await;
            self.roots_listed.notify_one();
            return roots;
        }
        if self.roots.is_empty() {
            // Not declared: the server should not have asked.
            return Err(rmcp::ErrorData::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                "roots/list: the client declares no roots",
                None,
            ));
        }
        let roots = crate::roots::listed(&self.roots);
        self.roots_listed.notify_one();
        serde_json::from_value(roots).map_err(|e| {
            rmcp::ErrorData::internal_error(format!("cannot build the roots list: {e}"), None)
        })
    }

    fn get_info(&self) -> ClientConfig {
        // Sampling is declared in both modes so that a server learns of a refusal from the
        // answer (and its tool can say so) instead of hiding the feature.
        let mut declared = serde_json::json!({"sampling": {}});
        if self.elicitation.declares() {
            declared["elicitation"] = serde_json::json!({"form": {}});
        }
        if self.elicitation.declares_url() {
            declared["elicitation"]["url"] = serde_json::json!({});
        }
        // No roots unless configured: a scriptable tool must not hand out directories itself.
        if !self.roots.is_empty() {
            declared["roots"] = serde_json::json!({"listChanged": true});
        }
        if let Some(asks) = &self.asks {
            // Declared before any host connects: one that cannot answer gets a refusal.
            declared = asks.declares().unwrap_or_else(|| {
                serde_json::json!({"sampling": {}, "elicitation": {"form": {}, "url": {}},
                    "roots": {"listChanged": true}})
            });
        }
        let capabilities: ClientCapabilities = serde_json::from_value(declared).unwrap_or_default();
        let config = ClientConfig::new(
            capabilities,
            Implementation::new("mcpchat", env!("CARGO_PKG_VERSION")),
        );
        match self.protocol_version.as_deref().and_then(|v| {
            serde_json::from_value::<ProtocolVersion>(Value::String(v.to_string())).ok()
        }) {
            Some(version) => config.with_protocol_version(version),
            None => config,
        }
    }
}
