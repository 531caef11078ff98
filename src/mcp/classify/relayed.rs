//! A failure that the daemon met on our behalf (the kept server exited or timed out during a
//! request, or its authorization failed), carried in a JSON-RPC error's `data` so that the
//! command fails exactly as it would have directly: same kind (exit code), message and hints.
//!
//! Guarantees: the failure is believed only on a session that reaches its server (stdio or
//! HTTP) through the daemon's socket, never on a transport of ours to a server; `serve`
//! never passes on an upstream's own error with this key (`serve::relay` strips it), so a
//! server cannot choose our words or exit code.

use serde_json::{Value, json};

use crate::exit::{Failure, Kind};

/// The key in an error's `data` that carries the failure.
pub const FAILURE_KEY: &str = "io.mcpchat/failure";

/// A failure as error data: `{FAILURE_KEY: {kind, message, hints}}`, secrets masked.
pub fn failure_data(failure: &Failure) -> Value {
    let hints: Vec<String> = failure
        .hints
        .iter()
        .map(|h| crate::redact::text(h))
        .collect();
    json!({FAILURE_KEY: {
        "kind": failure.kind.as_str(),
        "message": crate::redact::text(&failure.message),
        "hints": hints,
    }})
}

/// The failure in an error's data, if it carries one (the caller checks that the session
/// is one through the daemon).
pub(super) fn failure_in(data: &rmcp::ErrorData) -> Option<Failure> {
    let said = data.data.as_ref()?.get(FAILURE_KEY)?;
    let kind = Kind::named(said.get("kind")?.as_str()?)?;
    let failure = Failure::new(kind, said.get("message")?.as_str()?);
    Some(with_hints(failure, said))
}

/// `failure` with the hints of a failure as data (`{..., hints: [...]}`), in their order.
pub fn with_hints(mut failure: Failure, said: &Value) -> Failure {
    for hint in said
        .get("hints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(hint) = hint.as_str() {
            failure = failure.hint(hint);
        }
    }
    failure
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_failure_passed_on_comes_out_as_it_went_in() {
        let failure = Failure::new(Kind::ServerExited, "it exited").hint("its stderr: bye");
        let data = rmcp::ErrorData::internal_error("it exited", Some(failure_data(&failure)));
        let passed = failure_in(&data).unwrap();
        assert_eq!(passed.kind, Kind::ServerExited);
        assert_eq!(passed.message, "it exited");
        assert_eq!(passed.hints, ["its stderr: bye"]);
        let unknown = json!({FAILURE_KEY: {"kind": "nonsense", "message": "m", "hints": []}});
        assert!(failure_in(&rmcp::ErrorData::internal_error("m", Some(unknown))).is_none());
    }
}
