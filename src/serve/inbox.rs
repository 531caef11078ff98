//! Where an upstream's requests go while a 2026-07-28 host's call is parked in serve: the
//! call's inbox, and the upstream's requests as input requests (used by `asks` and `hosts`
//! below the rounds that answer them).
//!
//! Guarantees: an ask whose host request ended fails at once with an error, never hangs.

use futures::future::BoxFuture;
use rmcp::ErrorData;
use rmcp::model::{ElicitRequest, InputRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::mcp::Refused;

/// Where an upstream's request goes while a parked call is in flight.
pub type Inbox = mpsc::UnboundedSender<Event>;

/// What a parked call's task reports.
pub enum Event {
    /// The upstream asks; the answer goes back on the sender.
    Ask(Box<InputRequest>, oneshot::Sender<Result<Value, ErrorData>>),
    /// The upstream's answer to the host's request.
    Done(Result<Value, Refused>),
}

/// Pass an upstream's request into `inbox` and wait for the host's answer.
pub fn ask<T: DeserializeOwned + Send + 'static>(
    inbox: Inbox,
    request: InputRequest,
) -> BoxFuture<'static, Result<T, ErrorData>> {
    Box::pin(async move {
        let (answer, answered) = oneshot::channel();
        let gone =
            || ErrorData::internal_error("the host's request ended before it answered", None);
        inbox
            .send(Event::Ask(Box::new(request), answer))
            .map_err(|_| gone())?;
        let value = answered.await.map_err(|_| gone())??;
        serde_json::from_value(value).map_err(|e| {
            ErrorData::invalid_params(format!("the host's answer does not parse: {e}"), None)
        })
    })
}

/// Wrappers for `asks`: each kind of request as an input request.
pub fn elicitation(params: rmcp::model::ElicitRequestParams) -> InputRequest {
    InputRequest::Elicitation(ElicitRequest::new(params))
}

#[allow(deprecated)] // sampling: what 2025-era servers ask
pub fn sampling(params: rmcp::model::CreateMessageRequestParams) -> InputRequest {
    InputRequest::CreateMessage(rmcp::model::CreateMessageRequest::new(params))
}

#[allow(deprecated)] // roots: what 2025-era servers ask
pub fn roots() -> InputRequest {
    InputRequest::ListRoots(rmcp::model::ListRootsRequest::default())
}
