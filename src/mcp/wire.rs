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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::{
    ClientJsonRpcMessage, ClientRequest, DiscoverResult, ListToolsResult, ServerJsonRpcMessage,
    ServerResult, Tool,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
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
    fn watched(&self, stream: Stream) -> Stream {
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

type Stream = BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>;

impl<C: StreamableHttpClient + Sync> StreamableHttpClient for Wire<C> {
    type Error = C::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<C::Error>> {
        if let Some(answer) = self.local_answer(&message) {
            return Ok(answer);
        }
        let task = super::task_fields::asks_for_a_task(&message);
        self.inner
            .post_message(uri, message, session_id, auth_header, custom_headers)
            .await
            .map(|response| self.watched_response(timings(task, response)))
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<C::Error>> {
        if let Some(answer) = self.local_answer(&message) {
            return Ok(answer);
        }
        let task = super::task_fields::asks_for_a_task(&message);
        self.inner
            .post_message_with_max_sse_event_size(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
            .map(|response| self.watched_response(timings(task, response)))
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<C::Error>> {
        if let Some(answer) = self.local_answer(&message) {
            return Ok(answer);
        }
        let task = super::task_fields::asks_for_a_task(&message);
        self.inner
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                limits,
            )
            .await
            .map(|response| self.watched_response(timings(task, response)))
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<C::Error>> {
        self.inner
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<Stream, StreamableHttpError<C::Error>> {
        if self.skips(&last_event_id) {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        self.inner
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
            .map(|stream| self.watched(stream))
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<Stream, StreamableHttpError<C::Error>> {
        if self.skips(&last_event_id) {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        self.inner
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
            .map(|stream| self.watched(stream))
    }
}

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
