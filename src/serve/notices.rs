//! What `serve` tells a host on its own once it is initialized: one log notification per
//! upstream that is not available (and why), every `list_changed` an upstream sends,
//! re-announced as the host's own list changing, and the `resources/updated` of the URIs the
//! host subscribed to. (Upstream log messages go out from `asks`, as the handler gets them.)
//!
//! Guarantee: a forwarder ends when its upstream's session ends or the host is gone; nothing
//! here holds the upstreams alive.

use rmcp::Peer;
use rmcp::RoleServer;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::hub::Hub;
use crate::cache::ListKind;

/// Announce the dead upstreams and start re-announcing the live ones' list changes.
pub async fn started(hub: &Hub, peer: &Peer<RoleServer>) {
    for (server, failure) in hub.dead() {
        announce_dead(peer, server, &failure.message).await;
    }
    for (_, session) in hub.live() {
        tokio::spawn(forward_changes(session.list_changes(), peer.clone()));
        let updates = session.resource_updates();
        tokio::spawn(forward_updates(updates, peer.clone(), hub.hosts.clone()));
    }
}

/// Pass each `notifications/resources/updated` of one upstream on to this host when it
/// subscribed to the URI, until the upstream or the host is gone.
async fn forward_updates(
    mut updates: tokio::sync::broadcast::Receiver<String>,
    peer: Peer<RoleServer>,
    hosts: std::sync::Arc<super::hosts::Hosts>,
) {
    loop {
        let uri = match updates.recv().await {
            Ok(uri) => uri,
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!("{missed} resource updates were not passed on (too many at once)");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if !hosts.subscribed(&peer, &uri) {
            continue;
        }
        let params = rmcp::model::ResourceUpdatedNotificationParam::new(uri);
        if peer.notify_resource_updated(params).await.is_err() && peer.is_transport_closed() {
            return;
        }
    }
}

#[allow(deprecated)] // notifications/message: what 2025-era hosts read
async fn announce_dead(peer: &Peer<RoleServer>, server: &str, why: &str) {
    let data = json!({
        "server": server,
        "message": format!("MCP server `{server}` is not available; its tools are left out: {}", crate::redact::text(why)),
    });
    let params =
        rmcp::model::LoggingMessageNotificationParam::new(rmcp::model::LoggingLevel::Warning, data)
            .with_logger("mcpchat");
    if let Err(error) = peer.notify_logging_message(params).await {
        tracing::debug!("could not tell the host that `{server}` is not available: {error}");
    }
}

/// Re-announce each list change of one upstream until it or the host is gone.
async fn forward_changes(
    mut changes: tokio::sync::broadcast::Receiver<ListKind>,
    peer: Peer<RoleServer>,
) {
    loop {
        let kind = match changes.recv().await {
            Ok(kind) => kind,
            // Missed some: the host lists again whatever it re-reads, so one of each will do.
            Err(RecvError::Lagged(_)) => ListKind::Tools,
            Err(RecvError::Closed) => return,
        };
        let sent = match kind {
            ListKind::Tools => peer.notify_tool_list_changed().await,
            ListKind::Prompts => peer.notify_prompt_list_changed().await,
            // Templates change with resources; one notification covers both.
            ListKind::Resources => peer.notify_resource_list_changed().await,
            ListKind::Templates => continue,
        };
        if sent.is_err() && peer.is_transport_closed() {
            return;
        }
    }
}
