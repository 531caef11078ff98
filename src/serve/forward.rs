//! A request passed on to its upstream with the upstream's progress relayed to the host
//! (shared by the relay and the input rounds).
//!
//! Guarantees: progress reaches the host under its own token, in the order the upstream sent
//! it, and all of it before the result.

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{ClientRequest, ProgressNotificationParam};
use rmcp::service::RequestContext;
use serde_json::Value;

use crate::mcp::{Refused, Session};

/// `session.forward` with the upstream's progress for the request passed on to the host under
/// the host's own progress token (when it gave one), in the order the upstream sent it and all
/// of it before the result: a host drops progress for a request it has the answer to.
pub async fn forward_with_progress(
    session: &Session,
    what: &str,
    request: ClientRequest,
    context: &RequestContext<RoleServer>,
) -> Result<Value, Refused> {
    let Some(token) = context.meta.get_progress_token() else {
        return session
            .forward(what, request, context.ct.cancelled(), None)
            .await;
    };
    let peer = context.peer.clone();
    let (queue, mut queued) = tokio::sync::mpsc::unbounded_channel::<ProgressNotificationParam>();
    let passing_on = tokio::spawn(async move {
        while let Some(mut params) = queued.recv().await {
            params.progress_token = token.clone();
            if let Err(error) = peer.notify_progress(params).await {
                tracing::debug!("could not pass progress on to the host: {error}");
            }
        }
    });
    let route: Arc<dyn Fn(ProgressNotificationParam) + Send + Sync> =
        Arc::new(move |params: ProgressNotificationParam| {
            // Only fails once the request is answered; late progress has no one to go to.
            let _ = queue.send(params);
        });
    let outcome = session
        .forward(what, request, context.ct.cancelled(), Some(route))
        .await;
    // `forward` has dropped the route, so the queue ends once the progress in it is sent.
    if let Err(error) = passing_on.await {
        tracing::debug!("passing progress on to the host failed: {error}");
    }
    outcome
}
