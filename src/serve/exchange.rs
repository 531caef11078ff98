//! One host request passed on to its upstream with every input round on the way
//! (2026-07-28 `input_required` results and a 2025-era upstream's requests), above the rounds'
//! table (`input`) and the parked calls (`parked`).
//!
//! Guarantees: a host's `requestState` resumes only its own round; the upstream's own state
//! never reaches the host.

use std::sync::Arc;

use rmcp::model::InputResponses;
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::Value;

use super::hub::Hub;
use super::input::{
    Answer, Kind, Retried, Rounds, host_is_2026, merged, settle, speaks_2026, with_log_level,
};
use crate::mcp::{Refused, Session};

/// One host request to upstream `index` (`key`: its method and the name or URI the host
/// sent), with every input round on the way: a host's `requestState` resumes its round
/// here; the upstream's `input_required` results and its requests go to the host as its era
/// allows.
pub async fn exchange<P: Retried + 'static>(
    (hub, rounds): (&Arc<Hub>, &Rounds),
    (index, session): (usize, &Session),
    (what, key): (&str, &str),
    mut params: P,
    context: &RequestContext<RoleServer>,
) -> Result<Answer, Refused> {
    let (responses, state) = params.input();
    let (responses, state) = (responses.take(), state.take());
    let round = (key, index);
    if let Some(state) = state {
        let kept = rounds.resume(&state, key).map_err(Refused::Upstream)?;
        if kept.upstream != index {
            return Err(Refused::Upstream(ErrorData::invalid_params(
                "requestState belongs to another server's request",
                None,
            )));
        }
        match kept.kind {
            Kind::Parked(parked) => {
                return super::parked::resume(rounds, round, parked, responses, context).await;
            }
            Kind::Upstream { state, answered } => {
                let (to_send, to_state) = params.input();
                *to_send = Some(merged(responses, answered));
                *to_state = state;
            }
        }
    } else {
        // No round of ours: the host's responses are for the upstream to judge.
        *params.input().0 = responses;
    }
    if !speaks_2026(session) && host_is_2026(context) {
        let hub = hub.clone();
        return super::parked::start(hub, rounds, round, params.request(), context).await;
    }
    if speaks_2026(session) && !host_is_2026(context) {
        with_log_level(&mut params, hub.hosts.level_of(&context.peer));
    }
    let _flying = hub.hosts.flying(index, &context.peer);
    let first = params.clone().request();
    let raw = super::forward::forward_with_progress(session, what, first, context).await?;
    let again = |responses: Option<InputResponses>, state: Option<String>| {
        let mut retry = params.clone();
        let (to_send, to_state) = retry.input();
        *to_send = responses;
        *to_state = state;
        let request = retry.request();
        let send: futures::future::BoxFuture<'_, Result<Value, Refused>> = Box::pin(
            super::forward::forward_with_progress(session, what, request, context),
        );
        send
    };
    settle(rounds, round, raw, context, &again).await
}
