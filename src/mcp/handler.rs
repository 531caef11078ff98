//! What a server sends us on its own: progress and log notifications, elicitation requests,
//! and the client capabilities we declare in return.

use std::sync::Arc;

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

use super::Elicitation;
use crate::redact;
use crate::ui::Progress;

/// Receives what a server sends on its own: progress and log messages, elicitation.
#[derive(Clone)]
pub(super) struct Handler {
    pub server: Arc<str>,
    pub progress: Arc<Progress>,
    pub elicitation: Elicitation,
    /// A pinned protocol version (None: automatic).
    pub protocol_version: Option<String>,
    /// Where `notifications/resources/updated` URIs go (`resources watch` listens here).
    pub resource_updates: tokio::sync::broadcast::Sender<String>,
}

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
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let request = serde_json::to_value(&request).unwrap_or_default();
        let message = request
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let schema = request.get("requestedSchema").cloned();
        match (self.elicitation, schema) {
            (Elicitation::AcceptDefaults, Some(schema)) => {
                tracing::info!(server = %self.server, message = %redact::text(&message), "accepted an elicitation request with the schema's defaults");
                Ok(ElicitResult::new(ElicitationAction::Accept)
                    .with_content(Value::Object(schema_defaults(&schema))))
            }
            _ => {
                tracing::info!(server = %self.server, message = %redact::text(&message), "declined an elicitation request");
                Ok(ElicitResult::new(ElicitationAction::Decline))
            }
        }
    }

    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities = match self.elicitation {
            Elicitation::AcceptDefaults => {
                serde_json::from_value(serde_json::json!({"elicitation": {"form": {}}}))
                    .unwrap_or_default()
            }
            Elicitation::Decline => ClientCapabilities::default(),
        };
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

/// Each property's `default` from a requested schema.
fn schema_defaults(schema: &Value) -> serde_json::Map<String, Value> {
    let mut content = serde_json::Map::new();
    for (name, property) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(default) = property.get("default") {
            content.insert(name.clone(), default.clone());
        }
    }
    content
}
