//! How bytes reach a server and come back: the transports under rmcp's client. `stdio` (a
//! child in its own process group, `children` keeps the list so none outlives us, `stderr`
//! its bounded stderr lines), `framing` (bounded line reading: a bad reply fails its request),
//! `legacy_sse` (the 2024-11-05 HTTP+SSE transport), and the Streamable HTTP layers, each one
//! hook set over `http_layer`'s single delegation: `guarded_http` (reply caps), `resume` (a
//! 2025-era session kept for tasks), and `farewell` (the session's DELETE, not awaited).
//!
//! Nothing here knows what a message means: a transport shows each one to a [`Watcher`] and
//! hands it to rmcp; `features` reads them.

pub mod children;
mod farewell;
pub(super) mod framing;
pub(super) mod guarded_http;
pub mod http_layer;
pub mod legacy_sse;
pub(super) mod resume;
pub(super) mod stderr;
pub(super) mod stdio;

/// Whoever looks at each message a server sends as the transport reads it, before rmcp
/// parses it (the `list_changed` watcher of `features::lists`): a transport shows it the raw
/// text and never knows what it means.
pub(crate) trait Watcher: Send + Sync {
    /// One message from the server, as JSON text (an SSE event's data or a stdio line).
    fn seen(&self, text: &str);
}
