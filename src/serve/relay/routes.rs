//! Which upstream a request goes to: a name through the router (fresh lists asked once for
//! an unknown one), a URI to the upstream that lists it, and the request relayed there.

use std::collections::HashMap;

use rmcp::model::{ClientRequest, ErrorCode};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::json;

use super::answers::{as_error, malformed, refusal};
use super::{Relay, completed};
use crate::cache::ListKind;
use crate::exit::Failure;
use crate::mcp::Session;
use crate::serve::router::Named;

impl Relay {
    /// The live session of upstream `index`, or the failure that keeps it out.
    pub(in crate::serve) fn session(&self, index: usize) -> Result<&Session, Failure> {
        match self.hub.upstreams.get(index).map(|u| &u.session) {
            Some(Ok(session)) => Ok(session),
            Some(Err(failure)) => {
                let mut unavailable = Failure::new(
                    failure.kind,
                    format!(
                        "MCP server `{}` is not available: {}",
                        self.hub.router.server(index),
                        failure.message
                    ),
                );
                unavailable.hints = failure.hints.clone();
                Err(unavailable)
            }
            None => Err(Failure::new(
                crate::exit::Kind::Internal,
                "no such upstream",
            )),
        }
    }

    /// Where a tool or prompt name goes; without prefixes an unknown name is looked for in
    /// fresh lists once.
    pub(in crate::serve) async fn route(
        &self,
        what: Named,
        exposed: &str,
    ) -> Result<(usize, String), ErrorData> {
        let router = &self.hub.router;
        if let Some(found) = router.route(what, exposed) {
            return Ok(found);
        }
        if !router.prefixed() {
            match what {
                Named::Tool => self.relist(ListKind::Tools).await,
                Named::Prompt => self.relist(ListKind::Prompts).await,
            }
            if let Some(found) = router.route(what, exposed) {
                return Ok(found);
            }
        }
        let noun = match what {
            Named::Tool => "tool",
            Named::Prompt => "prompt",
        };
        Err(ErrorData::invalid_params(
            format!("unknown {noun} `{exposed}`"),
            None,
        ))
    }

    /// The upstream of each resource URI the host subscribed to (URIs nobody lists are left
    /// out).
    pub(super) async fn owners(
        &self,
        accepted: &rmcp::model::SubscriptionFilter,
    ) -> HashMap<usize, Vec<String>> {
        let mut owned: HashMap<usize, Vec<String>> = HashMap::new();
        for uri in accepted.resource_subscriptions.iter().flatten() {
            if let Ok(index) = self.owner_of(uri).await {
                owned.entry(index).or_default().push(uri.clone());
            }
        }
        owned
    }

    /// The upstream of a resource URI; unknown URIs are looked for in fresh lists once.
    pub(in crate::serve) async fn owner_of(&self, uri: &str) -> Result<usize, ErrorData> {
        if let Some(index) = self.hub.router.route_uri(uri) {
            return Ok(index);
        }
        self.relist(ListKind::Resources).await;
        self.relist(ListKind::Templates).await;
        self.hub.router.route_uri(uri).ok_or_else(|| {
            ErrorData::new(
                ErrorCode::RESOURCE_NOT_FOUND,
                format!("no server lists the resource `{uri}`"),
                Some(json!({"uri": uri})),
            )
        })
    }

    /// Relay `request` to upstream `index` and read its result as `T`.
    pub(super) async fn relay<T: serde::de::DeserializeOwned>(
        &self,
        index: usize,
        what: &str,
        request: ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<T, ErrorData> {
        let session = self.session(index).map_err(|f| as_error(&f))?;
        let _flying = self.hub.hosts.flying(index, &context.peer);
        let raw = crate::serve::forward::forward_with_progress(session, what, request, context)
            .await
            .map_err(refusal)?;
        serde_json::from_value(completed(raw)).map_err(|e| malformed(session.name(), what, &e))
    }
}
