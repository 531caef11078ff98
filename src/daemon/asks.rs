//! What a kept server asks of the client, answered as the command using it would answer
//! directly: its elicitation and sampling requests, log messages and URL completions go to
//! that command (through `serve`'s hook to hosts), its roots are answered here.
//!
//! Guarantees: the server is told exactly the capabilities the command declared (they are
//! part of the server's key, so a command never shares a server that was told otherwise);
//! `roots/list` is answered with the command's roots, which are part of the key too, also
//! when no command is connected (a server asks for them as soon as it is initialized).

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::ErrorData;
#[allow(deprecated)] // sampling, roots and logging: still what 2025-era servers speak
use rmcp::model::{
    CreateMessageRequestParams, CreateMessageResult, CustomNotification, ElicitRequestParams,
    ElicitResult, ErrorCode, ListRootsResult, LoggingMessageNotificationParam,
};
use serde_json::Value;

use crate::mcp::Asks;

pub struct KeptAsks {
    /// `serve`'s hook: to the command whose request is in flight.
    pub relayed: Arc<dyn Asks>,
    /// What the command declared in its `initialize` (`experimental` left out).
    pub declared: Value,
    pub roots: Arc<[crate::roots::Root]>,
}

#[allow(deprecated)] // sampling, roots and logging: still what 2025-era servers speak
impl Asks for KeptAsks {
    fn elicit(
        &self,
        request: ElicitRequestParams,
    ) -> BoxFuture<'static, Result<ElicitResult, ErrorData>> {
        self.relayed.elicit(request)
    }

    fn sample(
        &self,
        request: CreateMessageRequestParams,
    ) -> BoxFuture<'static, Result<CreateMessageResult, ErrorData>> {
        self.relayed.sample(request)
    }

    fn roots(&self) -> BoxFuture<'static, Result<ListRootsResult, ErrorData>> {
        let roots = self.roots.clone();
        Box::pin(async move {
            if roots.is_empty() {
                // As the command answers directly: it declared none.
                return Err(ErrorData::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    "roots/list: the client declares no roots",
                    None,
                ));
            }
            serde_json::from_value(crate::roots::listed(&roots)).map_err(|e| {
                ErrorData::internal_error(format!("cannot build the roots list: {e}"), None)
            })
        })
    }

    fn log(&self, message: &LoggingMessageNotificationParam) {
        self.relayed.log(message);
    }

    fn declares(&self) -> Option<Value> {
        Some(self.declared.clone())
    }

    fn notify(&self, notification: &CustomNotification) {
        self.relayed.notify(notification);
    }

    fn notice(&self, method: &str, params: Option<&Value>) {
        self.relayed.notice(method, params);
    }
}
