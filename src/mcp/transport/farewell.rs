//! The DELETE that ends a 2025-era HTTP session, sent without waiting for its answer: a
//! command's result is printed already and the answer changes nothing (a server that does
//! not end the session expires it), so waiting for it costs a round trip at every exit.
//!
//! Guarantees: the request is written before we return (so it surely reaches the server
//! even when the process exits at once), or the wait ends after [`WRITE_CAP`]; it carries
//! the same headers as rmcp's own DELETE (session id, bearer token, the custom headers).

use std::collections::HashMap;
use std::task::Poll;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};

/// The session's DELETE as rmcp asks for it (`http_layer::Delete`, taken apart so that this
/// leaf needs nothing from the layer that calls it).
pub struct Farewell<'a> {
    pub uri: &'a str,
    pub session_id: &'a str,
    pub auth_header: Option<String>,
    pub custom_headers: HashMap<HeaderName, HeaderValue>,
}

/// How long writing the DELETE may take (a new connection and TLS handshake when the
/// pooled one is gone) before the command goes on without it.
pub const WRITE_CAP: Duration = Duration::from_millis(500);

/// Send `delete` with `http` and return once it is written, not answered.
pub async fn unawaited(delete: Farewell<'_>, http: &reqwest::Client) {
    let (wrote, written) = tokio::sync::oneshot::channel::<()>();
    // hyper pulls a request's body only after it has put the head in its write buffer, and
    // flushes both in the same turn of the connection's task: the empty body's first poll
    // says the request is on its way. (A body makes the DELETE `Transfer-Encoding: chunked`
    // with no content, which servers read as no body.)
    let mut wrote = Some(wrote);
    let body = futures::stream::poll_fn(move |_| {
        if let Some(wrote) = wrote.take() {
            let _ = wrote.send(());
        }
        Poll::Ready(None::<Result<Vec<u8>, std::io::Error>>)
    });
    let mut request = http
        .delete(delete.uri)
        .header("Mcp-Session-Id", delete.session_id);
    if let Some(token) = &delete.auth_header {
        request = request.bearer_auth(token);
    }
    for (name, value) in delete.custom_headers {
        request = request.header(name, value);
    }
    let request = request.body(reqwest::Body::wrap_stream(body));
    let answered = tokio::spawn(async move {
        match request.send().await {
            Ok(response) => {
                tracing::debug!(status = %response.status(), "the session's DELETE was answered")
            }
            Err(error) => tracing::debug!("the session's DELETE failed: {error}"),
        }
    });
    let gone = async {
        tokio::select! {
            _ = written => {
                // Over HTTP/2 the frames are flushed by the connection's own task, woken by
                // now: let the tasks that are ready run before we go on (and maybe exit).
                for _ in 0..2 {
                    tokio::task::yield_now().await;
                }
            }
            _ = answered => {}
        }
    };
    if tokio::time::timeout(WRITE_CAP, gone).await.is_err() {
        tracing::debug!("the session's DELETE was not written within {WRITE_CAP:?}; going on");
    }
}
