//! The model API's replies read under a byte cap (`--llm-max-reply-bytes`,
//! `MCPCHAT_LLM_MAX_REPLY_BYTES`, `llm.max_reply_bytes`): a JSON body or a whole event stream
//! stops at the cap, so a hostile or broken API cannot make us hold more than that of its reply.
//! A JSON body under the cap is parsed only when its parsed form stays within `json_cost`'s
//! bound. Error bodies (non-2xx) only need their message and get a small cap of their own.

use futures::StreamExt;

use super::Client;
use crate::exit::Failure;

/// Default cap on one model reply (a JSON body, or all the chunks of one stream).
pub const DEFAULT_MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;

/// How much of an error body (a non-2xx answer) is read for its message.
const ERROR_BODY_BYTES: usize = 64 * 1024;

/// Why a body could not be read whole.
pub(super) enum BodyError {
    /// Reading stopped at the cap.
    TooLarge,
    Broken(reqwest::Error),
}

/// The body's bytes, read chunk by chunk and abandoned as soon as they pass `cap`.
pub(super) async fn read_body(
    response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut stream = response.bytes_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Broken)?;
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The start of an error body, for its message: what is past [`ERROR_BODY_BYTES`] is not read,
/// and a broken body gives what arrived before it broke.
pub(super) async fn error_text(response: reqwest::Response) -> String {
    let mut stream = response.bytes_stream();
    let mut body = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = ERROR_BODY_BYTES - body.len();
        body.extend_from_slice(&chunk[..room.min(chunk.len())]);
        if body.len() == ERROR_BODY_BYTES {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// Counts the bytes of a streamed reply against the cap.
pub(super) struct Budget {
    left: usize,
}

impl Budget {
    pub(super) fn new(cap: usize) -> Budget {
        Budget { left: cap }
    }

    /// Take `bytes` more; false once the reply has passed the cap.
    pub(super) fn take(&mut self, bytes: usize) -> bool {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }
}

impl Client {
    /// The failure for a reply over the cap (exit 4, like other unusable replies).
    pub(super) fn too_large(&self) -> Failure {
        self.protocol(&format!(
            "the reply exceeds the {} cap",
            crate::mcp::human_bytes(self.provider.max_reply_bytes as u64)
        ))
        .hint(RAISE_HINT)
    }

    /// The failure for a reply under the cap whose parsed form would be too big.
    pub(super) fn too_costly(&self, costly: &crate::json_cost::TooCostly) -> Failure {
        self.protocol(&format!("the {}", costly.describe()))
            .hint(RAISE_HINT)
    }
}

const RAISE_HINT: &str = "raise the cap with --llm-max-reply-bytes BYTES (or llm.max_reply_bytes)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_holds_exactly_its_cap() {
        let mut budget = Budget::new(10);
        assert!(budget.take(4));
        assert!(budget.take(6));
        assert!(!budget.take(1));
    }
}
