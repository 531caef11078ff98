//! The HTTP client under rmcp's Streamable HTTP transport, with two savings in round trips:
//! answers we already know (a remembered `server/discover` result, a cached tools list) are
//! given to rmcp locally instead of being fetched, and the optional standalone GET stream is
//! not opened unless the command needs server-initiated messages outside a request. Every event
//! stream is also shown to the `list_changed` watcher (`lists::ListChanges`) as it is read.
//!
//! Answering locally, rather than skipping the request, keeps rmcp's own bookkeeping intact:
//! it still records the server's info from the discover result, and it still learns the tool
//! definitions it needs to mirror arguments into `Mcp-Param-*` headers (2026-07-28) from the
//! tools list it sees. Each primed answer is used once, for the first matching request.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use rmcp::model::{
    ClientJsonRpcMessage, ClientRequest, DiscoverResult, ListToolsResult, ServerJsonRpcMessage,
    ServerResult, Tool,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
};

use crate::mcp::transport::Watcher;
use crate::mcp::transport::http_layer::{
    Get, HttpHooks, HttpResult, Post, SseStream, streamable_http_via_hooks,
};

/// Answers handed to rmcp without asking the server.
#[derive(Default)]
pub struct Primed {
    pub discover: Option<DiscoverResult>,
    pub tools: Option<Vec<Tool>>,
    /// The discover answer came from memory: the server has not confirmed its era yet.
    pub remembered: bool,
}

/// Wraps the real HTTP client (`reqwest::Client` or the OAuth one).
#[derive(Clone)]
pub struct Wire<C> {
    pub inner: C,
    pub primed: Arc<Mutex<Primed>>,
    /// Open the standalone GET stream for server-initiated messages.
    pub standalone_stream: bool,
    /// Sees `list_changed` notifications on every event stream.
    changes: Option<Arc<super::lists::ListChanges>>,
}

impl<C> Wire<C> {
    pub fn new(inner: C, primed: Arc<Mutex<Primed>>, standalone_stream: bool) -> Self {
        Wire {
            inner,
            primed,
            standalone_stream,
            changes: None,
        }
    }

    /// The same wire, with `list_changed` notifications seen as they arrive.
    pub fn watching(mut self, changes: Arc<super::lists::ListChanges>) -> Self {
        self.changes = Some(changes);
        self
    }

    /// `stream` with each event's data shown to the `list_changed` watcher first.
    fn watched(&self, stream: SseStream) -> SseStream {
        let Some(changes) = self.changes.clone() else {
            return stream;
        };
        stream
            .inspect(move |event| {
                if let Ok(sse_stream::Sse {
                    data: Some(data), ..
                }) = event
                {
                    changes.seen(data);
                }
            })
            .boxed()
    }

    /// A POST's response with its event stream watched.
    fn watched_response(&self, response: StreamableHttpPostResponse) -> StreamableHttpPostResponse {
        match response {
            StreamableHttpPostResponse::Sse(stream, session) => {
                StreamableHttpPostResponse::Sse(self.watched(stream), session)
            }
            other => other,
        }
    }

    /// The locally known answer to `message`, if any (taken: used once).
    fn local_answer(&self, message: &ClientJsonRpcMessage) -> Option<StreamableHttpPostResponse> {
        let ClientJsonRpcMessage::Request(request) = message else {
            return None;
        };
        let mut primed = self.primed.lock().unwrap_or_else(|e| e.into_inner());
        let result = match &request.request {
            ClientRequest::DiscoverRequest(_) => {
                ServerResult::DiscoverResult(primed.discover.take()?)
            }
            // Only the first page: a cursor means the list came from the server.
            ClientRequest::ListToolsRequest(list)
                if list.params.as_ref().is_none_or(|p| p.cursor.is_none()) =>
            {
                ServerResult::ListToolsResult(ListToolsResult::with_all_items(primed.tools.take()?))
            }
            _ => return None,
        };
        tracing::debug!(method = request.request.method(), "answered from the cache");
        Some(StreamableHttpPostResponse::Json(
            ServerJsonRpcMessage::response(result, request.id.clone()),
            None,
        ))
    }
}

impl<C: StreamableHttpClient + Sync> HttpHooks for Wire<C> {
    type Inner = C;

    fn inner(&self) -> &C {
        &self.inner
    }

    async fn post(&self, post: Post) -> HttpResult<StreamableHttpPostResponse, C> {
        if let Some(answer) = self.local_answer(&post.message) {
            return Ok(answer);
        }
        let task = super::task_fields::asks_for_a_task(&post.message);
        post.send(&self.inner)
            .await
            .map(|response| self.watched_response(timings(task, response)))
    }

    async fn get(&self, get: Get) -> HttpResult<SseStream, C> {
        if self.skips(&get.last_event_id) {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        get.send(&self.inner)
            .await
            .map(|stream| self.watched(stream))
    }
}

streamable_http_via_hooks!(impl<C> for Wire<C>);

/// A task's answer with its 2025 timings kept (see `task_fields`); other answers as they are.
fn timings(task: bool, response: StreamableHttpPostResponse) -> StreamableHttpPostResponse {
    if task {
        super::task_fields::keep_timings(response)
    } else {
        response
    }
}

impl<C> Wire<C> {
    /// A GET without `Last-Event-ID` is the standalone stream (resuming a response stream
    /// always names the last event): rmcp treats "no SSE" as a server without that stream.
    fn skips(&self, last_event_id: &Option<String>) -> bool {
        !self.standalone_stream && last_event_id.is_none()
    }
}
