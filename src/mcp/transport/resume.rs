//! Keeping a 2025-era HTTP session alive across commands, for tasks.
//!
//! On a stateful server a task belongs to the session that started it (server-everything
//! keeps its task store per session and drops it on DELETE), so `tools call --task` leaves its
//! session open and records its id with the server's `initialize` result, and a later `tasks`
//! command resumes it: the HTTP client below answers rmcp's `initialize` with the recorded
//! result and swallows `notifications/initialized`, so every request after the handshake goes
//! out in the recorded session. A resumed or kept session is never DELETEd by us; the server's
//! own session expiry ends it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{StreamableHttpClient, StreamableHttpPostResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::http_layer::{Delete, HttpHooks, HttpResult, Post, streamable_http_via_hooks};

/// What it takes to go on in an existing session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resume {
    pub session_id: String,
    /// The server's `initialize` result, replayed to rmcp.
    pub initialize: Value,
}

/// Shared between the transport's client and the [`Session`](crate::mcp::Session).
#[derive(Default)]
pub(in crate::mcp) struct Keep {
    /// The session id the server gave (or the resumed one).
    pub session_id: Mutex<Option<String>>,
    /// Do not DELETE the session at close.
    pub keep: AtomicBool,
    /// The recorded session did not answer: a new one was made instead.
    pub gone: AtomicBool,
}

impl Keep {
    pub fn resuming(resume: Option<&Resume>) -> Keep {
        Keep {
            session_id: Mutex::new(resume.map(|r| r.session_id.clone())),
            keep: AtomicBool::new(resume.is_some()),
            gone: AtomicBool::new(false),
        }
    }
}

/// An HTTP client that can resume a recorded session and keep a session open.
#[derive(Clone)]
pub(in crate::mcp) struct Resumable<C> {
    pub inner: C,
    pub resume: Option<Arc<Resume>>,
    pub keep: Arc<Keep>,
}

impl<C> Resumable<C> {
    /// The recorded answer to a handshake message, when resuming.
    fn replay(&self, message: &ClientJsonRpcMessage) -> Option<StreamableHttpPostResponse> {
        let resume = self.resume.as_ref()?;
        if self.keep.gone.load(Ordering::Relaxed) {
            return None;
        }
        let value = serde_json::to_value(message).ok()?;
        match value.get("method").and_then(Value::as_str)? {
            "initialize" => {
                let response = json!({
                    "jsonrpc": "2.0",
                    "id": value.get("id")?,
                    "result": resume.initialize,
                });
                let message: ServerJsonRpcMessage = serde_json::from_value(response).ok()?;
                Some(StreamableHttpPostResponse::Json(
                    message,
                    Some(resume.session_id.clone()),
                ))
            }
            "notifications/initialized" => Some(StreamableHttpPostResponse::Accepted),
            _ => None,
        }
    }

    /// Whether the recorded session still exists: a `ping` in it gets an answer. (A request
    /// in a session the server has dropped would otherwise wait for the request timeout.)
    async fn session_answers(&self, post: &Post) -> bool
    where
        C: StreamableHttpClient,
    {
        let Some(resume) = &self.resume else {
            return false;
        };
        let ping = json!({"jsonrpc": "2.0", "id": "mcpchat-session-check", "method": "ping"});
        let Ok(ping) = serde_json::from_value::<ClientJsonRpcMessage>(ping) else {
            return false;
        };
        let ping = Post {
            uri: post.uri.clone(),
            message: ping,
            session_id: Some(Arc::from(resume.session_id.as_str())),
            auth_header: post.auth_header.clone(),
            custom_headers: post.custom_headers.clone(),
            limits: post.limits,
        };
        let response = ping.send(&self.inner).await;
        match response {
            // A 400/404 for an unknown session may come back as a JSON-RPC error body.
            Ok(StreamableHttpPostResponse::Json(message, _)) => {
                serde_json::to_value(&message).is_ok_and(|v| v.get("error").is_none())
            }
            Ok(_) => true,
            Err(_) => false,
        }
    }

    fn note_session(&self, response: &StreamableHttpPostResponse) {
        let id = match response {
            StreamableHttpPostResponse::Json(_, Some(id))
            | StreamableHttpPostResponse::Sse(_, Some(id)) => id,
            _ => return,
        };
        let mut seen = self
            .keep
            .session_id
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if seen.is_none() {
            *seen = Some(id.clone());
        }
    }
}

fn is_initialize(message: &ClientJsonRpcMessage) -> bool {
    serde_json::to_value(message)
        .is_ok_and(|v| v.get("method").and_then(Value::as_str) == Some("initialize"))
}

impl<C: StreamableHttpClient + Sync> HttpHooks for Resumable<C> {
    type Inner = C;

    fn inner(&self) -> &C {
        &self.inner
    }

    async fn post(&self, post: Post) -> HttpResult<StreamableHttpPostResponse, C> {
        if self.resume.is_some()
            && is_initialize(&post.message)
            && !self.session_answers(&post).await
        {
            tracing::info!("the recorded HTTP session is gone; starting a new one");
            self.keep.gone.store(true, Ordering::Relaxed);
            self.keep.keep.store(false, Ordering::Relaxed);
            *self
                .keep
                .session_id
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = None;
        }
        if let Some(replayed) = self.replay(&post.message) {
            return Ok(replayed);
        }
        let response = post.send(&self.inner).await?;
        self.note_session(&response);
        Ok(response)
    }

    async fn delete(&self, delete: Delete) -> HttpResult<(), C> {
        if self.keep.keep.load(Ordering::Relaxed) {
            tracing::debug!("keeping the HTTP session open for its tasks");
            return Ok(());
        }
        delete.send(&self.inner).await
    }
}

streamable_http_via_hooks!(impl<C> for Resumable<C>);
