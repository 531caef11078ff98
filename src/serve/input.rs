//! Input an upstream needs before it can answer a host's `tools/call`, `prompts/get` or
//! `resources/read` (SEP-2322, 2026-07-28 "input_required" results), whichever era each side
//! speaks:
//!
//! - a 2026-07-28 upstream answers `input_required`: a 2026-07-28 host gets the result with
//!   serve's own `requestState` (the upstream's is kept here), and its retry reaches the same
//!   upstream with the upstream's state; a 2025-era host (which cannot read that result) is
//!   asked with real requests, as `asks` does, and serve retries upstream itself;
//! - a 2025-era upstream sends real requests while it serves a 2026-07-28 host (which cannot
//!   receive them): the call is parked here (see `parked`), and the host gets them as an
//!   `input_required` result.
//!
//! Guarantees: the `requestState` a host sees is a random id into serve's own table, used
//! once, bound to the method and name it was issued for; anything else (tampered, replayed,
//! another tool's) is refused with -32602 and reaches no upstream. An upstream's state never
//! leaves serve. A host is only asked what it declared it can answer (elicitation it did not
//! declare is declined, as `asks` does; sampling or roots it did not declare fail the request
//! with -32021 naming the capability). Rounds, requests per round and pending states are
//! bounded.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rmcp::model::{ClientCapabilities, InputRequest, InputRequiredResult, InputResponses};
use rmcp::model::{ClientResult, ServerRequest};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::{Value, json};

use rmcp::model::ClientRequest;

use crate::mcp::{Refused, Session};

/// How many rounds serve drives for a 2025-era host before giving up on an upstream.
const MAX_ROUNDS: usize = 10;
/// How many input requests one round may carry.
const MAX_REQUESTS: usize = 16;
/// How many states may wait for their host's retry; the oldest is forgotten first.
const MAX_PENDING: usize = 256;

/// A parked call between two rounds.
pub struct Parked {
    pub(super) events: tokio::sync::mpsc::UnboundedReceiver<super::inbox::Event>,
    /// The upstream's requests not answered yet, by the key the host sees.
    pub(super) waiting: BTreeMap<
        String,
        (
            InputRequest,
            tokio::sync::oneshot::Sender<Result<Value, ErrorData>>,
        ),
    >,
    pub(super) next_key: u64,
    /// Dropped with the round: the call upstream is cancelled.
    pub(super) _stop: tokio::sync::oneshot::Sender<()>,
}

/// The states handed to hosts and not used yet.
#[derive(Default)]
pub struct Rounds {
    pending: Mutex<VecDeque<(String, Round)>>,
}

/// What a `requestState` resumes.
pub struct Round {
    /// The method and the name or URI as the host sent them.
    pub what: String,
    pub upstream: usize,
    pub kind: Kind,
}

pub enum Kind {
    /// A 2026-07-28 upstream's own `input_required`: its state, and the answers serve gave
    /// itself (elicitation the host did not declare, declined).
    Upstream {
        state: Option<String>,
        answered: InputResponses,
    },
    /// A 2025-era upstream's call waiting for its requests' answers.
    Parked(Parked),
}

/// A state nobody can guess: 128 random bits.
fn fresh_state() -> Result<String, ErrorData> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| ErrorData::internal_error("no randomness for a requestState", None))?;
    Ok(B64.encode(bytes))
}

impl Rounds {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, Round)>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep `round` until its host retries; the state to give the host.
    pub fn keep(&self, round: Round) -> Result<String, ErrorData> {
        let state = fresh_state()?;
        let mut pending = self.lock();
        if pending.len() >= MAX_PENDING {
            pending.pop_front();
        }
        pending.push_back((state.clone(), round));
        Ok(state)
    }

    /// The round a host's `requestState` resumes (taken: a state is used once), if serve
    /// issued it for this same method and name.
    pub fn resume(&self, state: &str, what: &str) -> Result<Round, ErrorData> {
        let mut pending = self.lock();
        let found = pending
            .iter()
            .position(|(issued, round)| issued == state && round.what == what);
        match found.and_then(|at| pending.remove(at)) {
            Some((_, round)) => Ok(round),
            None => Err(ErrorData::invalid_params(
                "requestState is not one mcpchat serve issued for this request (or it was used already)",
                None,
            )),
        }
    }
}

/// Whether the host of `context` speaks 2026-07-28 or later (it reads `input_required`
/// results and cannot be sent requests).
pub fn host_is_2026(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|version| version.as_str() >= "2026-07-28")
}

/// The upstream's `input_required` result, if `raw` is one.
pub fn required(raw: &Value) -> Option<InputRequiredResult> {
    if raw.get("resultType").and_then(Value::as_str) != Some("input_required") {
        return None;
    }
    serde_json::from_value(raw.clone()).ok()
}

/// The client capability an input request needs, and (elicitation) its mode.
fn needs(request: &InputRequest) -> (&'static str, Option<&'static str>) {
    match request {
        InputRequest::Elicitation(elicit) => {
            let url = matches!(
                elicit.params,
                rmcp::model::ElicitRequestParams::UrlElicitationParams { .. }
            );
            ("elicitation", Some(if url { "url" } else { "form" }))
        }
        InputRequest::CreateMessage(_) => ("sampling", None),
        _ => ("roots", None),
    }
}

/// Whether a host with `capabilities` can answer `request`.
pub fn can_answer(capabilities: Option<&ClientCapabilities>, request: &InputRequest) -> bool {
    let declared = serde_json::to_value(capabilities).unwrap_or(Value::Null);
    let (name, mode) = needs(request);
    let Some(capability) = declared.get(name).filter(|c| !c.is_null()) else {
        return false;
    };
    match mode {
        // `elicitation: {}` is form mode only.
        Some("form") => capability.get("url").is_none() || capability.get("form").is_some(),
        Some(mode) => capability.get(mode).is_some(),
        None => true,
    }
}

/// What serve answers itself for a request the host cannot answer: elicitation is declined
/// (as `asks` does for a host without it); sampling and roots fail the host's request.
fn refuse(request: &InputRequest) -> Result<Value, ErrorData> {
    match needs(request) {
        ("elicitation", _) => Ok(json!({"action": "decline"})),
        (name, _) => Err(missing_capability(name)),
    }
}

/// What an upstream gets for a request no host can answer, as `asks` answers it:
/// elicitation declined, sampling rejected (-1), roots unknown (-32601).
pub fn refusal(request: &InputRequest) -> Result<Value, ErrorData> {
    match needs(request) {
        ("elicitation", _) => Ok(json!({"action": "decline"})),
        ("sampling", _) => Err(ErrorData::new(
            rmcp::model::ErrorCode(-1),
            "User rejected sampling request",
            None,
        )),
        _ => Err(ErrorData::new(
            rmcp::model::ErrorCode::METHOD_NOT_FOUND,
            "roots/list: the host of mcpchat serve did not declare roots",
            None,
        )),
    }
}

/// The error for a host that lacks `capability`.
pub fn missing_capability(capability: &str) -> ErrorData {
    let mut wanted = serde_json::Map::new();
    wanted.insert(capability.to_string(), json!({}));
    ErrorData::new(
        rmcp::model::ErrorCode(-32021),
        format!(
            "an MCP server behind mcpchat serve needs the `{capability}` client capability, which this host did not declare"
        ),
        Some(json!({"requiredCapabilities": wanted})),
    )
}

/// The requests of one upstream round, bounded.
fn requests_of(result: InputRequiredResult) -> Result<BTreeMap<String, InputRequest>, ErrorData> {
    let requests = result.input_requests.unwrap_or_default();
    if requests.len() > MAX_REQUESTS {
        return Err(ErrorData::internal_error(
            format!(
                "an MCP server asked for {} inputs at once (at most {MAX_REQUESTS} are passed on)",
                requests.len()
            ),
            None,
        ));
    }
    Ok(requests)
}

/// Sends a request to the upstream again with these responses and the upstream's state.
pub type Again<'a> = &'a (
        dyn Fn(
    Option<InputResponses>,
    Option<String>,
) -> futures::future::BoxFuture<'a, Result<Value, Refused>>
            + Send
            + Sync
    );

/// What the host gets for a relayed request: the upstream's final result, or (2026-07-28
/// hosts) an `input_required` result with serve's state.
pub enum Answer {
    Complete(Value),
    InputRequired(InputRequiredResult),
}

/// Settle an upstream's answer to a host's request: pass a final result on; for an
/// `input_required` one, ask a 2026-07-28 host (keeping the round here) or drive the rounds
/// with a 2025-era host.
pub async fn settle(
    rounds: &Rounds,
    round: (&str, usize),
    mut raw: Value,
    context: &RequestContext<RoleServer>,
    again: Again<'_>,
) -> Result<Answer, Refused> {
    let capabilities = context.client_capabilities();
    for _ in 0..MAX_ROUNDS {
        let Some(result) = required(&raw) else {
            return Ok(Answer::Complete(raw));
        };
        let state = result.request_state.clone();
        let requests = requests_of(result).map_err(Refused::Upstream)?;
        let mut answered = InputResponses::new();
        let mut passed = BTreeMap::new();
        for (key, request) in requests {
            if can_answer(capabilities.as_ref(), &request) {
                passed.insert(key, request);
            } else {
                answered.insert(key, refuse(&request).map_err(Refused::Upstream)?);
            }
        }
        if !passed.is_empty() && host_is_2026(context) {
            let (what, upstream) = round;
            let kind = Kind::Upstream { state, answered };
            let kept = Round {
                what: what.to_string(),
                upstream,
                kind,
            };
            let issued = rounds.keep(kept).map_err(Refused::Upstream)?;
            return Ok(Answer::InputRequired(InputRequiredResult::new(
                Some(passed),
                Some(issued),
            )));
        }
        for (key, request) in passed {
            answered.insert(key, ask(context, request).await?);
        }
        raw = again(Some(answered), state).await?;
    }
    Err(Refused::Upstream(ErrorData::internal_error(
        format!("an MCP server still wanted input after {MAX_ROUNDS} rounds"),
        None,
    )))
}

/// Ask a 2025-era host (it declared the capability) one of an upstream's input requests.
async fn ask(
    context: &RequestContext<RoleServer>,
    request: InputRequest,
) -> Result<Value, Refused> {
    let request = match request {
        InputRequest::Elicitation(elicit) => ServerRequest::ElicitRequest(elicit),
        InputRequest::CreateMessage(sample) => ServerRequest::CreateMessageRequest(sample),
        InputRequest::ListRoots(roots) => ServerRequest::ListRootsRequest(roots),
        _ => return Err(Refused::Upstream(missing_capability("unknown"))),
    };
    match context.peer.send_request(request).await {
        Ok(ClientResult::CustomResult(raw)) => Ok(raw.0),
        Ok(result) => Ok(serde_json::to_value(result).unwrap_or(Value::Null)),
        Err(rmcp::service::ServiceError::McpError(error)) => Err(Refused::Upstream(error)),
        Err(other) => Err(Refused::Upstream(ErrorData::internal_error(
            format!("the host did not answer: {other}"),
            None,
        ))),
    }
}

/// The responses to send upstream on a host's retry of a kept round: the host's, plus the
/// ones serve gave itself.
pub fn merged(host: Option<InputResponses>, answered: InputResponses) -> InputResponses {
    let mut responses = host.unwrap_or_default();
    responses.extend(answered);
    responses
}

/// A request that can carry input responses and a state: `tools/call`, `prompts/get`,
/// `resources/read`.
pub trait Retried: Clone + Send + Sync {
    fn input(&mut self) -> (&mut Option<InputResponses>, &mut Option<String>);
    fn meta(&mut self) -> &mut Option<rmcp::model::RequestMetaObject>;
    fn request(self) -> ClientRequest;
}

macro_rules! retried {
    ($params:ty, $variant:ident, $request:ty) => {
        impl Retried for $params {
            fn input(&mut self) -> (&mut Option<InputResponses>, &mut Option<String>) {
                (&mut self.input_responses, &mut self.request_state)
            }
            fn meta(&mut self) -> &mut Option<rmcp::model::RequestMetaObject> {
                &mut self.meta
            }
            fn request(self) -> ClientRequest {
                ClientRequest::$variant(<$request>::new(self))
            }
        }
    };
}
retried!(
    rmcp::model::CallToolRequestParams,
    CallToolRequest,
    rmcp::model::CallToolRequest
);
retried!(
    rmcp::model::GetPromptRequestParams,
    GetPromptRequest,
    rmcp::model::GetPromptRequest
);
retried!(
    rmcp::model::ReadResourceRequestParams,
    ReadResourceRequest,
    rmcp::model::ReadResourceRequest
);

/// Whether upstream `session` speaks 2026-07-28 (it reads input responses and states).
pub fn speaks_2026(session: &Session) -> bool {
    session
        .protocol_version()
        .is_some_and(|version| version.as_str() >= "2026-07-28")
}

/// A 2026-07-28 upstream sends log messages only for requests that name a level
/// (`logging/setLevel` is gone): a 2025-era host's level, set with `logging/setLevel`, goes
/// with each of its requests (as severity rank, debug 0).
pub fn with_log_level<P: Retried>(params: &mut P, rank: Option<u8>) {
    const NAMES: [&str; 8] = [
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
    ];
    let Some(name) = rank.and_then(|rank| NAMES.get(usize::from(rank))) else {
        return;
    };
    #[allow(deprecated)] // logging: what 2025-era hosts set
    let Ok(level) = serde_json::from_value::<rmcp::model::LoggingLevel>(json!(name)) else {
        return;
    };
    params
        .meta()
        .get_or_insert_with(Default::default)
        .set_log_level(level);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn round(what: &str) -> Round {
        Round {
            what: what.to_string(),
            upstream: 0,
            kind: Kind::Upstream {
                state: Some("theirs".to_string()),
                answered: InputResponses::new(),
            },
        }
    }

    #[test]
    fn a_state_resumes_once_and_only_its_own_request() {
        let rounds = Rounds::default();
        let state = rounds.keep(round("tools/call a")).unwrap();
        assert!(rounds.resume(&state, "tools/call b").is_err());
        assert!(
            rounds
                .resume(&format!("{state}-TAMPERED"), "tools/call a")
                .is_err()
        );
        assert_eq!(rounds.resume(&state, "tools/call a").unwrap().upstream, 0);
        assert!(rounds.resume(&state, "tools/call a").is_err());
    }

    #[test]
    fn pending_states_are_bounded() {
        let rounds = Rounds::default();
        let first = rounds.keep(round("x")).unwrap();
        for _ in 0..MAX_PENDING {
            rounds.keep(round("x")).unwrap();
        }
        assert_eq!(rounds.lock().len(), MAX_PENDING);
        assert!(rounds.resume(&first, "x").is_err());
    }

    #[test]
    fn a_host_answers_only_what_it_declared() {
        let sampling: ClientCapabilities = serde_json::from_value(json!({"sampling": {}})).unwrap();
        let elicit: InputRequest = serde_json::from_value(json!({
            "method": "elicitation/create",
            "params": {"message": "name?", "requestedSchema": {"type": "object", "properties": {}}}
        }))
        .unwrap();
        let sample: InputRequest = serde_json::from_value(json!({
            "method": "sampling/createMessage",
            "params": {"messages": [], "maxTokens": 5}
        }))
        .unwrap();
        assert!(can_answer(Some(&sampling), &sample));
        assert!(!can_answer(Some(&sampling), &elicit));
        assert!(!can_answer(None, &sample));
        assert_eq!(refuse(&elicit).unwrap(), json!({"action": "decline"}));
        assert_eq!(refuse(&sample).unwrap_err().code.0, -32021);
    }
}
