//! `subscriptions/listen` for 2026-07-28 hosts (SEP-2575): the list changes and resource
//! updates of every upstream, on the host's stream, as far as the host's filter asked.
//!
//! A 2025-era upstream announces list changes on its session (our handler passes them on)
//! and its updates after `resources/subscribe`; a 2026-07-28 upstream only on a listen stream
//! of its own, so serve opens one per listening host with the part of the filter that
//! upstream serves.
//!
//! Guarantees: a host only gets what its accepted filter names (rmcp's sink refuses the rest);
//! every upstream subscription opened for a listen is removed when it ends (the host
//! cancelled or went).

use std::collections::HashMap;

use futures::future::{BoxFuture, join_all};
use rmcp::ErrorData;
use rmcp::model::ServerNotification;
use rmcp::service::{Subscription, SubscriptionContext, SubscriptionSink};
use tokio::sync::broadcast::error::RecvError;

use super::hub::Hub;
use crate::cache::ListKind;
use crate::mcp::{Session, Updates};

/// What serve opened upstream for one listen.
enum Source<'a> {
    /// A 2026-07-28 upstream's own listen stream.
    Stream(&'a Session, Box<Subscription>),
    /// A 2025-era upstream's `resources/subscribe` of the URIs it owns.
    Watch(&'a Session, Updates),
}

/// Run one host's listen until it is cancelled.
/// `owned`: the upstream of each resource URI the host subscribed to.
pub async fn listen(
    hub: &Hub,
    mut owned: HashMap<usize, Vec<String>>,
    context: SubscriptionContext,
) -> Result<(), ErrorData> {
    let accepted = context.accepted().clone();
    let sink = context.sink().clone();
    let mut sources = Vec::new();
    let mut pumps: Vec<BoxFuture<'_, ()>> = Vec::new();
    for (index, session) in hub.live() {
        let uris = owned.remove(&index).unwrap_or_default();
        if super::input::speaks_2026(session) {
            let mut filter = accepted.clone();
            filter.resource_subscriptions = (!uris.is_empty()).then_some(uris);
            match session.listen(filter).await {
                Ok(stream) => sources.push(Source::Stream(session, Box::new(stream))),
                Err(failure) => tracing::warn!("{}", failure.message),
            }
            continue;
        }
        pumps.push(Box::pin(changes(session.list_changes(), sink.clone())));
        if !uris.is_empty() {
            match session.watch(&uris).await {
                Ok(updates) => sources.push(Source::Watch(session, updates)),
                Err(failure) => tracing::warn!("{}", failure.message),
            }
        }
    }
    for source in &mut sources {
        pumps.push(Box::pin(pump(source, sink.clone())));
    }
    tokio::select! {
        _ = join_all(pumps) => {},
        () = context.cancelled() => {},
    }
    for source in sources {
        close(source).await;
    }
    Ok(())
}

/// A 2025-era upstream's list changes, as this host's.
async fn changes(mut changes: tokio::sync::broadcast::Receiver<ListKind>, sink: SubscriptionSink) {
    loop {
        let kind = match changes.recv().await {
            Ok(kind) => kind,
            Err(RecvError::Lagged(_)) => ListKind::Tools,
            Err(RecvError::Closed) => return,
        };
        // The sink refuses what the host did not ask for; that is not a failure here.
        let _ = match kind {
            ListKind::Tools => sink.notify_tool_list_changed().await,
            ListKind::Prompts => sink.notify_prompt_list_changed().await,
            ListKind::Resources => sink.notify_resource_list_changed().await,
            ListKind::Templates => continue,
        };
    }
}

/// One upstream subscription's notifications, as this host's, until it ends.
async fn pump(source: &mut Source<'_>, sink: SubscriptionSink) {
    match source {
        Source::Stream(session, stream) => {
            while let Ok(Some(notification)) = stream.next().await {
                let _ = match notification {
                    ServerNotification::ToolListChangedNotification(_) => {
                        session.forget_tools();
                        sink.notify_tool_list_changed().await
                    }
                    ServerNotification::PromptListChangedNotification(_) => {
                        sink.notify_prompt_list_changed().await
                    }
                    ServerNotification::ResourceListChangedNotification(_) => {
                        sink.notify_resource_list_changed().await
                    }
                    ServerNotification::ResourceUpdatedNotification(updated) => {
                        sink.notify_resource_updated(updated.params.uri).await
                    }
                    _ => Ok(()),
                };
            }
        }
        Source::Watch(session, updates) => {
            while let Ok(Some(uri)) = session.next_update(updates).await {
                let _ = sink.notify_resource_updated(uri).await;
            }
        }
    }
}

/// Remove what was opened upstream for the listen.
async fn close(source: Source<'_>) {
    match source {
        Source::Stream(session, mut stream) => {
            let cancel = stream.cancel();
            if tokio::time::timeout(session.server.timeout, cancel)
                .await
                .is_err()
            {
                tracing::debug!(server = %session.name(), "cancelling a listen stream timed out");
            }
        }
        Source::Watch(session, updates) => session.unwatch(updates).await,
    }
}
