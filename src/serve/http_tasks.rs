//! An HTTP host's task requests handed to rmcp untyped (see `tasks`): a POST body is read
//! ahead, up to the message cap, and a task request in it gets the `UNTYPED` method prefix
//! before rmcp parses it.
//!
//! Guarantees: a body over the cap is not held whole: what was read goes on to rmcp followed
//! by the rest, so rmcp's own size refusal (413) still answers it; every other body reaches
//! rmcp byte for byte.

use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::Request;
use hyper::body::{Body, Bytes, Frame};

/// The 2026-07-28 header that repeats a request's method.
const MCP_METHOD: &str = "mcp-method";

/// A request body read ahead: the bytes read (possibly rewritten), then the rest, if any.
pub struct ReadAhead<B> {
    head: Option<Bytes>,
    rest: Option<B>,
}

impl<B> Body for ReadAhead<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if let Some(head) = this.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        match &mut this.rest {
            Some(rest) => Pin::new(rest).poll_frame(context),
            None => Poll::Ready(None),
        }
    }
}

/// `request` with its body read ahead (a POST) and a task request in it made untyped.
pub async fn untyped<B>(request: Request<B>, cap: usize) -> Request<ReadAhead<B>>
where
    B: Body<Data = Bytes> + Unpin,
{
    let (parts, mut body) = request.into_parts();
    if parts.method != hyper::Method::POST {
        let ahead = ReadAhead {
            head: None,
            rest: Some(body),
        };
        return Request::from_parts(parts, ahead);
    }
    let mut read = Vec::new();
    let mut ended = false;
    while read.len() <= cap {
        match std::future::poll_fn(|context| Pin::new(&mut body).poll_frame(context)).await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    read.extend_from_slice(data);
                }
            }
            // rmcp meets the same error when it reads on.
            Some(Err(_)) => break,
            None => {
                ended = true;
                break;
            }
        }
    }
    let mut parts = parts;
    if ended && let Some((rewritten, method)) = super::tasks::untyped_body(&read) {
        read = rewritten;
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        // A 2026-07-28 host names the method in a header too; rmcp checks the two agree.
        if parts.headers.contains_key(MCP_METHOD)
            && let Ok(value) = hyper::header::HeaderValue::from_str(&method)
        {
            parts.headers.insert(MCP_METHOD, value);
        }
    }
    let ahead = ReadAhead {
        head: (!read.is_empty()).then(|| Bytes::from(read)),
        rest: (!ended).then_some(body),
    };
    Request::from_parts(parts, ahead)
}
