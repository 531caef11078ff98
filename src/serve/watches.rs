//! `resources/subscribe` from 2025-era hosts for resources of a 2026-07-28 upstream, which has
//! no such method: serve watches the URI on a `subscriptions/listen` stream of its own
//! (`Session::watch`) and passes each update on to the hosts subscribed to it.
//!
//! Guarantee: one watch per URI, removed upstream when the last host unsubscribes (or
//! `serve` ends).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::ErrorData;
use tokio::sync::oneshot;

use super::hub::Hub;

/// The running watches, by URI; dropping a sender ends its watch.
#[derive(Default)]
pub struct Watches {
    running: Mutex<HashMap<String, oneshot::Sender<()>>>,
}

impl Watches {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<()>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watch `uri` on upstream `index` (once, whoever asks again).
    pub async fn start(&self, hub: Arc<Hub>, index: usize, uri: &str) -> Result<(), ErrorData> {
        if self.lock().contains_key(uri) {
            return Ok(());
        }
        let Some(Ok(session)) = hub.upstreams.get(index).map(|u| &u.session) else {
            return Err(ErrorData::internal_error("no such upstream", None));
        };
        let uris = [uri.to_string()];
        let updates = session.watch(&uris).await.map_err(|failure| {
            ErrorData::internal_error(crate::redact::text(&failure.message), None)
        })?;
        let (stop, stopped) = oneshot::channel::<()>();
        self.lock().insert(uri.to_string(), stop);
        tokio::spawn(pass_on(hub, index, updates, stopped));
        Ok(())
    }

    /// Stop watching `uri`.
    pub fn stop(&self, uri: &str) {
        self.lock().remove(uri);
    }
}

/// Each update of one watch to the hosts subscribed to its URI, until it is stopped.
async fn pass_on(
    hub: Arc<Hub>,
    index: usize,
    mut updates: crate::mcp::Updates,
    mut stopped: oneshot::Receiver<()>,
) {
    let Some(Ok(session)) = hub.upstreams.get(index).map(|u| &u.session) else {
        return;
    };
    loop {
        let uri = tokio::select! {
            next = session.next_update(&mut updates) => match next {
                Ok(Some(uri)) => uri,
                _ => break,
            },
            _ = &mut stopped => break,
        };
        for host in hub.hosts.subscribers(&uri) {
            let params = rmcp::model::ResourceUpdatedNotificationParam::new(uri.clone());
            if let Err(error) = host.notify_resource_updated(params).await {
                tracing::debug!("could not pass a resource update on to a host: {error}");
            }
        }
    }
    session.unwatch(updates).await;
}
