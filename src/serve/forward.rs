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
    let meta = hosts_capabilities(session, context);
    let Some(token) = context.meta.get_progress_token() else {
        return session
            .forward_with_meta(what, request, context.ct.cancelled(), None, meta)
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
        .forward_with_meta(what, request, context.ct.cancelled(), Some(route), meta)
        .await;
    // `forward` has dropped the route, so the queue ends once the progress in it is sent.
    if let Err(error) = passing_on.await {
        tracing::debug!("passing progress on to the host failed: {error}");
    }
    outcome
}

/// A 2026-07-28 host's client capabilities, for a 2026-07-28 upstream's request: the upstream
/// judges what it may ask by the host's, not by what serve declares (SEP-2575). Our own
/// `experimental` entries stay home; 2025-era hosts and upstreams get nothing (serve declared
/// its capabilities to a 2025-era upstream at `initialize`).
fn hosts_capabilities(
    session: &Session,
    context: &RequestContext<RoleServer>,
) -> Option<rmcp::model::RequestMetaObject> {
    let speaks_2026 = session
        .protocol_version()
        .is_some_and(|version| version.as_str() >= "2026-07-28");
    let mut capabilities = context.meta.client_capabilities()?;
    if !speaks_2026 {
        return None;
    }
    capabilities.experimental = None;
    let mut meta = rmcp::model::RequestMetaObject::default();
    meta.set_client_capabilities(capabilities);
    Some(meta)
}
