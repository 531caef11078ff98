//! One delegation layer for the HTTP clients we put under rmcp's Streamable HTTP transport
//! (`Wire`, `Resumable`, `Guarded`, `OAuthHttp`): each wraps another client and changes one or
//! two of its calls. rmcp's trait has six methods with long argument lists; here they become
//! three requests ([`Post`], [`Get`], [`Delete`]); a wrapper implements [`HttpHooks`],
//! overriding only the hooks it changes, then [`streamable_http_via_hooks!`] writes the
//! `StreamableHttpClient` impl that routes every method through them.
//!
//! Each request remembers which of rmcp's method variants was called (plain, with a maximum
//! SSE event size, with response limits), so passing it on calls the same variant below.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::BoxStream;
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};

pub type Headers = HashMap<HeaderName, HeaderValue>;
pub type SseStream = BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>;
pub type HttpResult<T, C> = Result<T, StreamableHttpError<<C as StreamableHttpClient>::Error>>;

/// Which POST method rmcp called, with its limit.
#[derive(Debug, Clone, Copy)]
pub enum PostLimits {
    /// `post_message`: the client's own defaults.
    Default,
    /// `post_message_with_max_sse_event_size`.
    MaxSseEvent(usize),
    /// `post_message_with_response_limits` (what rmcp's transport calls).
    Response(StreamableHttpResponseLimits),
}

/// One JSON-RPC message to POST.
#[derive(Clone)]
pub struct Post {
    pub uri: Arc<str>,
    pub message: ClientJsonRpcMessage,
    pub session_id: Option<Arc<str>>,
    pub auth_header: Option<String>,
    pub custom_headers: Headers,
    pub limits: PostLimits,
}

impl Post {
    /// Sends it with `client`, through the method rmcp called.
    pub async fn send<C: StreamableHttpClient>(
        self,
        client: &C,
    ) -> HttpResult<StreamableHttpPostResponse, C> {
        let Post {
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            limits,
        } = self;
        match limits {
            PostLimits::Default => {
                client
                    .post_message(uri, message, session_id, auth_header, custom_headers)
                    .await
            }
            PostLimits::MaxSseEvent(max) => {
                client
                    .post_message_with_max_sse_event_size(
                        uri,
                        message,
                        session_id,
                        auth_header,
                        custom_headers,
                        max,
                    )
                    .await
            }
            PostLimits::Response(limits) => {
                client
                    .post_message_with_response_limits(
                        uri,
                        message,
                        session_id,
                        auth_header,
                        custom_headers,
                        limits,
                    )
                    .await
            }
        }
    }

    /// The response limits it is held to: rmcp's defaults unless it was given its own.
    pub fn response_limits(&self) -> StreamableHttpResponseLimits {
        match self.limits {
            PostLimits::Response(limits) => limits,
            _ => StreamableHttpResponseLimits::default(),
        }
    }

    /// The same POST with other credentials (the same message, cloned for a retry).
    pub fn authorized(&self, auth_header: Option<String>, custom_headers: Headers) -> Post {
        Post {
            auth_header,
            custom_headers,
            ..self.clone()
        }
    }
}

/// One GET of an event stream (the standalone one, or resuming a response's).
#[derive(Clone)]
pub struct Get {
    pub uri: Arc<str>,
    pub session_id: Option<Arc<str>>,
    pub last_event_id: Option<String>,
    pub auth_header: Option<String>,
    pub custom_headers: Headers,
    /// Set when rmcp called `get_stream_with_max_sse_event_size`.
    pub max_sse_event_size: Option<usize>,
}

impl Get {
    /// Sends it with `client`, through the method rmcp called.
    pub async fn send<C: StreamableHttpClient>(self, client: &C) -> HttpResult<SseStream, C> {
        let Get {
            uri,
            session_id,
            last_event_id,
            auth_header,
            custom_headers,
            max_sse_event_size,
        } = self;
        match max_sse_event_size {
            None => {
                client
                    .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
                    .await
            }
            Some(max) => {
                client
                    .get_stream_with_max_sse_event_size(
                        uri,
                        session_id,
                        last_event_id,
                        auth_header,
                        custom_headers,
                        max,
                    )
                    .await
            }
        }
    }

    /// The same GET with other credentials.
    pub fn authorized(&self, auth_header: Option<String>, custom_headers: Headers) -> Get {
        Get {
            auth_header,
            custom_headers,
            ..self.clone()
        }
    }
}

/// The DELETE that ends a session.
#[derive(Clone)]
pub struct Delete {
    pub uri: Arc<str>,
    pub session_id: Arc<str>,
    pub auth_header: Option<String>,
    pub custom_headers: Headers,
}

impl Delete {
    /// Sends it with `client`. Over our own HTTP client (the one every layer ends in) it is
    /// sent without waiting for the answer (see `farewell`).
    pub async fn send<C: StreamableHttpClient>(self, client: &C) -> HttpResult<(), C> {
        if let Some(http) = (client as &dyn std::any::Any).downcast_ref::<reqwest::Client>() {
            let farewell = super::farewell::Farewell {
                uri: &self.uri,
                session_id: &self.session_id,
                auth_header: self.auth_header,
                custom_headers: self.custom_headers,
            };
            super::farewell::unawaited(farewell, http).await;
            return Ok(());
        }
        client
            .delete_session(
                self.uri,
                self.session_id,
                self.auth_header,
                self.custom_headers,
            )
            .await
    }

    /// The same DELETE with other credentials.
    pub fn authorized(&self, auth_header: Option<String>, custom_headers: Headers) -> Delete {
        Delete {
            auth_header,
            custom_headers,
            ..self.clone()
        }
    }
}

/// What a wrapping client changes; every hook passes the request on to [`Self::inner`]
/// unless overridden.
pub trait HttpHooks: Clone + Send + Sync + 'static {
    /// The client requests are passed on to.
    type Inner: StreamableHttpClient + Sync;

    fn inner(&self) -> &Self::Inner;

    fn post(
        &self,
        post: Post,
    ) -> impl Future<Output = HttpResult<StreamableHttpPostResponse, Self::Inner>> + Send + '_ {
        post.send(self.inner())
    }

    fn get(
        &self,
        get: Get,
    ) -> impl Future<Output = HttpResult<SseStream, Self::Inner>> + Send + '_ {
        get.send(self.inner())
    }

    fn delete(
        &self,
        delete: Delete,
    ) -> impl Future<Output = HttpResult<(), Self::Inner>> + Send + '_ {
        delete.send(self.inner())
    }
}

/// `impl StreamableHttpClient` for a type that implements [`HttpHooks`]: each of rmcp's
/// methods becomes its request and goes to the hook. `streamable_http_via_hooks!(impl<C> for
/// Wire<C>)` for a wrapper generic over the client below, `(for OAuthHttp)` for one that is not.
macro_rules! streamable_http_via_hooks {
    ($(impl<$c:ident>)? for $ty:ty) => {
        // In a block of its own so that the impl can name things briefly.
        const _: () = {
            use std::sync::Arc;

            use rmcp::model::ClientJsonRpcMessage;
            use rmcp::transport::streamable_http_client::{
                StreamableHttpClient, StreamableHttpPostResponse, StreamableHttpResponseLimits,
            };
            use $crate::mcp::transport::http_layer::{
                Delete, Get, Headers, HttpHooks, HttpResult, Post, PostLimits, SseStream,
            };

            impl$(<$c: StreamableHttpClient + Sync>)? StreamableHttpClient for $ty {
                type Error = <<Self as HttpHooks>::Inner as StreamableHttpClient>::Error;

                async fn post_message(
                    &self,
                    uri: Arc<str>,
                    message: ClientJsonRpcMessage,
                    session_id: Option<Arc<str>>,
                    auth_header: Option<String>,
                    custom_headers: Headers,
                ) -> HttpResult<StreamableHttpPostResponse, Self> {
                    let limits = PostLimits::Default;
                    let post = Post { uri, message, session_id, auth_header, custom_headers, limits };
                    self.post(post).await
                }

                async fn post_message_with_max_sse_event_size(
                    &self,
                    uri: Arc<str>,
                    message: ClientJsonRpcMessage,
                    session_id: Option<Arc<str>>,
                    auth_header: Option<String>,
                    custom_headers: Headers,
                    max: usize,
                ) -> HttpResult<StreamableHttpPostResponse, Self> {
                    let limits = PostLimits::MaxSseEvent(max);
                    let post = Post { uri, message, session_id, auth_header, custom_headers, limits };
                    self.post(post).await
                }

                async fn post_message_with_response_limits(
                    &self,
                    uri: Arc<str>,
                    message: ClientJsonRpcMessage,
                    session_id: Option<Arc<str>>,
                    auth_header: Option<String>,
                    custom_headers: Headers,
                    limits: StreamableHttpResponseLimits,
                ) -> HttpResult<StreamableHttpPostResponse, Self> {
                    let limits = PostLimits::Response(limits);
                    let post = Post { uri, message, session_id, auth_header, custom_headers, limits };
                    self.post(post).await
                }

                async fn delete_session(
                    &self,
                    uri: Arc<str>,
                    session_id: Arc<str>,
                    auth_header: Option<String>,
                    custom_headers: Headers,
                ) -> HttpResult<(), Self> {
                    self.delete(Delete { uri, session_id, auth_header, custom_headers }).await
                }

                async fn get_stream(
                    &self,
                    uri: Arc<str>,
                    session_id: Option<Arc<str>>,
                    last_event_id: Option<String>,
                    auth_header: Option<String>,
                    custom_headers: Headers,
                ) -> HttpResult<SseStream, Self> {
                    let max_sse_event_size = None;
                    let get = Get { uri, session_id, last_event_id, auth_header, custom_headers, max_sse_event_size };
                    self.get(get).await
                }

                async fn get_stream_with_max_sse_event_size(
                    &self,
                    uri: Arc<str>,
                    session_id: Option<Arc<str>>,
                    last_event_id: Option<String>,
                    auth_header: Option<String>,
                    custom_headers: Headers,
                    max: usize,
                ) -> HttpResult<SseStream, Self> {
                    let max_sse_event_size = Some(max);
                    let get = Get { uri, session_id, last_event_id, auth_header, custom_headers, max_sse_event_size };
                    self.get(get).await
                }
            }
        };
    };
}
pub(crate) use streamable_http_via_hooks;
