//! Resources on a live session: list (every page), templates, read, and watching for updates
//! (`resources/subscribe` on 2025-era servers, a `subscriptions/listen` stream on 2026-07-28
//! ones).
//!
//! Guarantee: a watch is removed with [`Session::unwatch`], which every caller runs on every
//! way out; a server without the capability gets no request it cannot answer.

use rmcp::model::ErrorCode;
use rmcp::model::{
    ReadResourceRequestParams, ReadResourceResult, ServerNotification, SubscriptionFilter,
};
use rmcp::service::{ServiceError, Subscription};
use tokio::sync::broadcast;

use crate::exit::{Failure, Kind};
use crate::mcp::Session;
use crate::mcp::classify::request_timeout;

/// An active watch on some URIs of one server.
pub struct Updates {
    uris: Vec<String>,
    how: How,
}

enum How {
    /// 2025 era: the server sends `notifications/resources/updated` on the session; the
    /// handler forwards every URI here.
    Subscribed(broadcast::Receiver<String>),
    /// 2026-07-28: one `subscriptions/listen` request whose stream carries the updates.
    Listening(Box<Subscription>),
}

impl Session {
    /// Whether the server declared the `resources` capability.
    pub fn has_resources(&self) -> bool {
        self.peer_info()
            .is_some_and(|info| info.capabilities.resources.is_some())
    }

    /// Read one resource (input-required rounds answered by the handler). A server that says
    /// it has no such resource (or rejects the URI) is an input error, exit 2.
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, Failure> {
        let what = format!("resources/read `{uri}`");
        let request = self
            .client
            .read_resource(ReadResourceRequestParams::new(uri.to_string()));
        match tokio::time::timeout(self.server.timeout, request).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(ServiceError::McpError(data)))
                if data.code == ErrorCode::RESOURCE_NOT_FOUND
                    || data.code == ErrorCode::INVALID_PARAMS =>
            {
                Err(Failure::usage(format!(
                    "MCP server `{}` cannot read resource `{uri}`: {} (code {})",
                    self.name(),
                    crate::redact::text(&data.message),
                    data.code.0
                ))
                .hint(format!(
                    "`mcpchat resources list --server {}` shows what it lists",
                    self.name()
                )))
            }
            Ok(Err(error)) => Err(self.classified(&what, &error).await),
            Err(_) => Err(request_timeout(&self.server, &what)),
        }
    }

    /// Start watching `uris`: fails (exit 2) when the server cannot notify about single
    /// resources, before sending anything.
    pub async fn watch(&self, uris: &[String]) -> Result<Updates, Failure> {
        let info = self.peer_info();
        let era_2026 = info
            .as_ref()
            .is_some_and(|i| i.protocol_version.to_string().as_str() >= "2026-07-28");
        let subscribe = info
            .as_ref()
            .and_then(|i| i.capabilities.resources.as_ref())
            .and_then(|r| r.subscribe)
            .unwrap_or(false);
        if !subscribe {
            return Err(Failure::usage(format!(
                "MCP server `{}` does not offer resource subscriptions (no resources.subscribe capability)",
                self.name()
            )));
        }
        let uris = uris.to_vec();
        if era_2026 {
            let filter = SubscriptionFilter::builder()
                .resource_subscriptions(uris.clone())
                .build();
            let subscription = self
                .bounded("subscriptions/listen", self.client.peer().listen(filter))
                .await?;
            return Ok(Updates {
                uris,
                how: How::Listening(Box::new(subscription)),
            });
        }
        // Listen before subscribing, so the first update cannot slip past.
        let receiver = self.resource_updates.subscribe();
        let mut done = Vec::new();
        for uri in &uris {
            #[allow(deprecated)] // the 2025-era mechanism, still what those servers speak
            let request = self
                .client
                .peer()
                .subscribe(rmcp::model::SubscribeRequestParams::new(uri.clone()));
            if let Err(failure) = self
                .bounded(&format!("resources/subscribe `{uri}`"), request)
                .await
            {
                self.unsubscribe_all(&done).await;
                return Err(failure);
            }
            done.push(uri.clone());
        }
        Ok(Updates {
            uris,
            how: How::Subscribed(receiver),
        })
    }

    /// A 2026-07-28 `subscriptions/listen` stream with `filter` (for `serve`, which passes
    /// a host's list changes and updates on); cancel it with `Subscription::cancel`.
    pub async fn listen(&self, filter: SubscriptionFilter) -> Result<Subscription, Failure> {
        self.bounded("subscriptions/listen", self.client.peer().listen(filter))
            .await
    }

    /// The next updated URI; `Ok(None)` once the connection is gone.
    pub async fn next_update(&self, updates: &mut Updates) -> Result<Option<String>, Failure> {
        match &mut updates.how {
            How::Subscribed(receiver) => loop {
                let tick = tokio::time::sleep(std::time::Duration::from_millis(500));
                tokio::select! {
                    received = receiver.recv() => match received {
                        Ok(uri) if updates.uris.contains(&uri) => return Ok(Some(uri)),
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return Ok(None),
                    },
                    // The handler never drops its sender: notice a dead connection here.
                    () = tick => if self.client.peer().is_transport_closed() {
                        return Ok(None);
                    },
                }
            },
            How::Listening(subscription) => loop {
                match subscription.next().await {
                    Ok(Some(ServerNotification::ResourceUpdatedNotification(n))) => {
                        return Ok(Some(n.params.uri));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return Ok(None),
                    Err(error) => {
                        return Err(Failure::new(
                            Kind::Protocol,
                            format!(
                                "the subscription on MCP server `{}` failed: {error}",
                                self.name()
                            ),
                        ));
                    }
                }
            },
        }
    }

    /// Remove the watch: `resources/unsubscribe` per URI, or cancel the listen stream. Best
    /// effort, each step bounded by the server's timeout; failures are logged.
    pub async fn unwatch(&self, updates: Updates) {
        match updates.how {
            How::Subscribed(_) => self.unsubscribe_all(&updates.uris).await,
            How::Listening(mut subscription) => {
                let cancel = subscription.cancel();
                match tokio::time::timeout(self.server.timeout, cancel).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(server = %self.name(), "cancelling the subscription failed: {e}")
                    }
                    Err(_) => {
                        tracing::warn!(server = %self.name(), "cancelling the subscription timed out")
                    }
                }
            }
        }
    }

    async fn unsubscribe_all(&self, uris: &[String]) {
        for uri in uris {
            #[allow(deprecated)]
            let request = self
                .client
                .peer()
                .unsubscribe(rmcp::model::UnsubscribeRequestParams::new(uri.clone()));
            if let Err(failure) = self
                .bounded(&format!("resources/unsubscribe `{uri}`"), request)
                .await
            {
                tracing::warn!("{}", failure.message);
            }
        }
    }
}

/// Whether `uri` is one of the URIs an RFC 6570 template describes. Simple expressions
/// (`{id}`) match one path segment; reserved ones (`{+path}`, `{/a}`...) match the rest.
pub fn template_matches(template: &str, uri: &str) -> bool {
    // Split into literal text and expressions; then match greedily left to right.
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        parts.push((rest[..start].to_string(), false));
        let expression = &rest[start + 1..start + end];
        parts.push((
            String::new(),
            !expression.starts_with(char::is_alphanumeric),
        ));
        rest = &rest[start + end + 1..];
    }
    parts.push((rest.to_string(), false));
    matches_from(&parts, uri)
}

/// `parts` alternate literal, expression, literal...: the first is a literal.
fn matches_from(parts: &[(String, bool)], uri: &str) -> bool {
    let Some(((literal, _), rest)) = parts.split_first() else {
        return uri.is_empty();
    };
    let Some(after) = uri.strip_prefix(literal.as_str()) else {
        return false;
    };
    let Some(((_, reserved), rest)) = rest.split_first() else {
        return after.is_empty();
    };
    // Try every length for the expression's value (URIs are short).
    (1..=after.len())
        .filter(|&n| after.is_char_boundary(n))
        .take_while(|&n| *reserved || !after[..n].contains('/'))
        .any(|n| matches_from(rest, &after[n..]))
}

#[cfg(test)]
mod tests {
    use super::template_matches;

    #[test]
    fn simple_expressions_match_one_segment_and_reserved_ones_the_rest() {
        let t = "demo://resource/dynamic/text/{resourceId}";
        assert!(template_matches(t, "demo://resource/dynamic/text/7"));
        assert!(!template_matches(t, "demo://resource/dynamic/text/"));
        assert!(!template_matches(t, "demo://resource/dynamic/text/7/8"));
        assert!(!template_matches(t, "demo://resource/dynamic/blob/7"));
        assert!(template_matches("file:///{+path}", "file:///a/b/c.txt"));
        assert!(template_matches(
            "notes://{user}/{id}.md",
            "notes://ann/3.md"
        ));
        assert!(!template_matches(
            "notes://{user}/{id}.md",
            "notes://ann/3.txt"
        ));
        assert!(template_matches("plain://x", "plain://x"));
    }
}
