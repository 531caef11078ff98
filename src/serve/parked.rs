//! A 2026-07-28 host's request to a 2025-era upstream that sends requests of its own while
//! serving it (elicitation, sampling, roots): the host cannot receive them, so the call runs
//! on in a task, its requests are collected here and the host gets them as an
//! `input_required` result; its retry (with serve's `requestState`, see `input`) answers
//! them, and the call goes on to its result or its next requests.
//!
//! Guarantees: a parked call never outlives its round: when the round is dropped (used,
//! forgotten as the oldest, or the host cancels) the upstream's waiting requests are refused
//! and the call is cancelled upstream; a retry lacking an answer is asked for it again.

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::model::{
    ClientRequest, InputRequest, InputRequiredResult, InputResponses, ProgressNotificationParam,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::hub::Hub;
use super::inbox::Event;
use super::input::{Answer, Kind, Parked, Round, Rounds};
use crate::mcp::Refused;

/// Start `request` to upstream `index` as a parked call and wait for its first turn.
pub async fn start(
    hub: Arc<Hub>,
    rounds: &Rounds,
    round: (&str, usize),
    request: ClientRequest,
    context: &RequestContext<RoleServer>,
) -> Result<Answer, Refused> {
    let (inbox, events) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let (what, index) = round;
    let host = context.peer.clone();
    let label = what.to_string();
    let done = inbox.clone();
    let (route, passing_on) = progress(context);
    tokio::spawn(async move {
        let _flying = hub.hosts.flying_with(index, &host, Some(inbox));
        let outcome = match hub.upstreams.get(index).map(|u| &u.session) {
            Some(Ok(session)) => {
                let cancelled = async move {
                    let _ = stopped.await;
                };
                session.forward(&label, request, cancelled, route).await
            }
            _ => Err(Refused::Upstream(ErrorData::internal_error(
                "no such upstream",
                None,
            ))),
        };
        // `forward` dropped the route: the progress queued is sent before the result.
        if let Some(passing_on) = passing_on {
            let _ = passing_on.await;
        }
        let _ = done.send(Event::Done(outcome));
    });
    let parked = Parked {
        events,
        waiting: BTreeMap::new(),
        next_key: 0,
        _stop: stop,
    };
    turn(rounds, round, parked, context).await
}

/// The host's progress token, if it gave one: the upstream's progress for the call goes to
/// the host under it, in order (the task passing it on ends when the route is dropped).
type Route = Arc<dyn Fn(ProgressNotificationParam) + Send + Sync>;
fn progress(
    context: &RequestContext<RoleServer>,
) -> (Option<Route>, Option<tokio::task::JoinHandle<()>>) {
    let Some(token) = context.meta.get_progress_token() else {
        return (None, None);
    };
    let peer = context.peer.clone();
    let (queue, mut queued) = mpsc::unbounded_channel::<ProgressNotificationParam>();
    let passing_on = tokio::spawn(async move {
        while let Some(mut params) = queued.recv().await {
            params.progress_token = token.clone();
            if peer.notify_progress(params).await.is_err() {
                tracing::debug!("could not pass progress on to the host");
            }
        }
    });
    let route: Route = Arc::new(move |params: ProgressNotificationParam| {
        let _ = queue.send(params);
    });
    (Some(route), Some(passing_on))
}

/// A host's retry of a parked call: its answers go to the waiting requests.
pub async fn resume(
    rounds: &Rounds,
    round: (&str, usize),
    mut parked: Parked,
    responses: Option<InputResponses>,
    context: &RequestContext<RoleServer>,
) -> Result<Answer, Refused> {
    let mut responses = responses.unwrap_or_default();
    let keys: Vec<String> = parked.waiting.keys().cloned().collect();
    for key in keys {
        if let Some(value) = responses.remove(&key)
            && let Some((_, answer)) = parked.waiting.remove(&key)
        {
            let _ = answer.send(Ok(value));
        }
    }
    turn(rounds, round, parked, context).await
}

/// Wait for the call's next turn: its result, or its requests to the host (every one that
/// came, with any still unanswered) as an `input_required` result.
async fn turn(
    rounds: &Rounds,
    round: (&str, usize),
    mut parked: Parked,
    context: &RequestContext<RoleServer>,
) -> Result<Answer, Refused> {
    loop {
        if parked.waiting.is_empty() {
            let event = tokio::select! {
                event = parked.events.recv() => event,
                () = context.ct.cancelled() => return Err(Refused::Cancelled),
            };
            match event {
                Some(Event::Done(outcome)) => return outcome.map(Answer::Complete),
                Some(Event::Ask(request, answer)) => parked.take(*request, answer, context),
                None => return Err(Refused::Cancelled),
            }
        }
        // Requests the upstream sent at once go out together.
        while let Ok(event) = parked.events.try_recv() {
            match event {
                Event::Ask(request, answer) => parked.take(*request, answer, context),
                Event::Done(outcome) => return outcome.map(Answer::Complete),
            }
        }
        if !parked.waiting.is_empty() {
            break;
        }
    }
    let requests: BTreeMap<String, InputRequest> = parked
        .waiting
        .iter()
        .map(|(key, (request, _))| (key.clone(), request.clone()))
        .collect();
    let (what, upstream) = round;
    let kept = Round {
        what: what.to_string(),
        upstream,
        kind: Kind::Parked(parked),
    };
    let issued = rounds.keep(kept).map_err(Refused::Upstream)?;
    Ok(Answer::InputRequired(InputRequiredResult::new(
        Some(requests),
        Some(issued),
    )))
}

impl Parked {
    /// Keep one of the upstream's requests for the host, or answer it here when the host
    /// did not declare what it needs.
    fn take(
        &mut self,
        request: InputRequest,
        answer: oneshot::Sender<Result<Value, ErrorData>>,
        context: &RequestContext<RoleServer>,
    ) {
        if !super::input::can_answer(context.client_capabilities().as_ref(), &request) {
            let _ = answer.send(super::input::refusal(&request));
            return;
        }
        self.next_key += 1;
        let key = format!("input-{}", self.next_key);
        self.waiting.insert(key, (request, answer));
    }
}
