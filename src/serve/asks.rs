//! An upstream's requests for the user or the model (elicitation, sampling, roots), passed on
//! to the host that asked for what the upstream is doing, and the host's answer passed back.
//!
//! MCP does not say which client request a server's request belongs to (over stdio there is
//! no way to tell), so the hosts' requests in flight are kept per upstream: the upstream's
//! request goes to the host of its latest request in flight to that upstream, else (roots
//! asked on their own, a request after the call ended) to the host most recently active.
//!
//! Guarantees: a request goes only to a host that declared the capability; a host that did
//! not (or no host at all) gets nothing, and the upstream gets a refusal (elicitation:
//! `decline`; sampling: the spec's -1 "User rejected sampling request"; roots: -32601, as a
//! client without roots answers); the host's own JSON-RPC error reaches the upstream as the
//! host sent it.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use rmcp::model::{
    ClientResult, ElicitRequestParams, ElicitResult, ElicitationAction, ErrorCode, ServerRequest,
};
use rmcp::service::ServiceError;
use rmcp::{ErrorData, Peer, RoleServer};
use serde_json::Value;

/// The connected hosts as far as the upstreams' requests need them.
#[derive(Default)]
pub struct Hosts {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next: u64,
    /// The hosts' requests relayed and not answered yet, oldest first.
    flights: Vec<Flight>,
    /// The host that sent the latest request (or initialized last).
    recent: Option<Peer<RoleServer>>,
}

struct Flight {
    serial: u64,
    upstream: usize,
    host: Peer<RoleServer>,
}

/// A host's request in flight to an upstream; it lands when this is dropped.
pub struct InFlight<'a> {
    hosts: &'a Hosts,
    serial: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut state = self.hosts.lock();
        state.flights.retain(|flight| flight.serial != self.serial);
    }
}

impl Hosts {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `host` is the most recently active host.
    pub fn active(&self, host: &Peer<RoleServer>) {
        self.lock().recent = Some(host.clone());
    }

    /// `host` sent a request that is now relayed to `upstream`, until the guard drops.
    pub fn flying(&self, upstream: usize, host: &Peer<RoleServer>) -> InFlight<'_> {
        let mut state = self.lock();
        state.next += 1;
        let serial = state.next;
        state.flights.push(Flight {
            serial,
            upstream,
            host: host.clone(),
        });
        state.recent = Some(host.clone());
        InFlight {
            hosts: self,
            serial,
        }
    }

    /// The host an upstream's request goes to (see the module's comment).
    fn asker(&self, upstream: usize) -> Option<Peer<RoleServer>> {
        let state = self.lock();
        let flying = state
            .flights
            .iter()
            .rev()
            .find(|flight| flight.upstream == upstream && !flight.host.is_transport_closed());
        match flying {
            Some(flight) => Some(flight.host.clone()),
            None => state
                .recent
                .clone()
                .filter(|host| !host.is_transport_closed()),
        }
    }
}

/// The `asks` of one upstream's session.
pub struct Asks {
    pub hosts: Arc<Hosts>,
    pub upstream: usize,
    pub server: String,
}

/// Whether `host` declared the client capability `name` (and, given, its sub-capability).
fn declares(host: &Peer<RoleServer>, name: &str, sub: Option<&str>) -> bool {
    let Some(info) = host.peer_info() else {
        return false;
    };
    let capabilities = serde_json::to_value(&info.capabilities).unwrap_or(Value::Null);
    let Some(declared) = capabilities.get(name) else {
        return false;
    };
    match sub {
        None => true,
        // `elicitation: {}` is form mode only (as 2025-06-18 hosts declare it).
        Some("form") => declared.get("url").is_none() || declared.get("form").is_some(),
        Some(sub) => declared.get(sub).is_some(),
    }
}

/// A failed request to the host, as the upstream should see it.
fn host_error(server: &str, error: ServiceError) -> ErrorData {
    match error {
        ServiceError::McpError(error) => error,
        other => {
            tracing::debug!(
                server,
                "the host did not answer a request passed on: {other}"
            );
            ErrorData::internal_error(format!("the host did not answer: {other}"), None)
        }
    }
}

impl crate::mcp::Asks for Asks {
    fn elicit(
        &self,
        request: ElicitRequestParams,
    ) -> BoxFuture<'static, Result<ElicitResult, ErrorData>> {
        let mode = match &request {
            ElicitRequestParams::UrlElicitationParams { .. } => "url",
            _ => "form",
        };
        let host = self
            .hosts
            .asker(self.upstream)
            .filter(|host| declares(host, "elicitation", Some(mode)));
        let server = self.server.clone();
        Box::pin(async move {
            let Some(host) = host else {
                tracing::info!(
                    server,
                    "declined an elicitation request: no host can answer it"
                );
                return Ok(ElicitResult::new(ElicitationAction::Decline));
            };
            // rmcp's `create_elicitation` is behind a feature we do not build; this is it.
            let request = ServerRequest::ElicitRequest(rmcp::model::ElicitRequest::new(request));
            match host.send_request(request).await {
                Ok(ClientResult::ElicitResult(result)) => Ok(result),
                Ok(_) => Err(host_error(&server, ServiceError::UnexpectedResponse)),
                Err(error) => Err(host_error(&server, error)),
            }
        })
    }

    #[allow(deprecated)]
    fn sample(
        &self,
        request: rmcp::model::CreateMessageRequestParams,
    ) -> BoxFuture<'static, Result<rmcp::model::CreateMessageResult, ErrorData>> {
        let host = self
            .hosts
            .asker(self.upstream)
            .filter(|host| declares(host, "sampling", None));
        let server = self.server.clone();
        Box::pin(async move {
            let Some(host) = host else {
                tracing::info!(server, "refused a sampling request: no host can answer it");
                return Err(ErrorData::new(
                    ErrorCode(-1),
                    "User rejected sampling request",
                    None,
                ));
            };
            host.create_message(request)
                .await
                .map_err(|e| host_error(&server, e))
        })
    }

    #[allow(deprecated)]
    fn roots(&self) -> BoxFuture<'static, Result<rmcp::model::ListRootsResult, ErrorData>> {
        let host = self
            .hosts
            .asker(self.upstream)
            .filter(|host| declares(host, "roots", None));
        let server = self.server.clone();
        Box::pin(async move {
            let Some(host) = host else {
                return Err(ErrorData::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    "roots/list: no host of mcpchat serve declared roots",
                    None,
                ));
            };
            host.list_roots().await.map_err(|e| host_error(&server, e))
        })
    }
}
