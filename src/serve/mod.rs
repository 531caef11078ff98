//! `mcpchat serve`: the selected servers behind one MCP server, for hosts that speak MCP (a
//! desktop assistant, an editor, another agent) and cannot reach them themselves. This is the
//! server side of mcpchat: it uses the client side (`mcp::Session`) and is never used by it.
//!
//! Parts: `hub` (the upstreams, connected once, and who failed), `router` (names, prefixes,
//! which upstream owns a name or URI), `relay` (the MCP server the host talks to), `notices`
//! (what the host is told on its own: dead upstreams, list changes, resource updates),
//! `hosts` (which host has what in flight, its log level and subscriptions), `asks` (an
//! upstream's elicitation, sampling and roots requests passed on to the host that asked),
//! `input` and `parked` (the same for 2026-07-28 hosts, as `input_required` results),
//! `listen` (`subscriptions/listen` for 2026-07-28 hosts), `watches` (2025-era hosts'
//! subscriptions to 2026-07-28 upstreams),
//! `pages` (merged pagination), `wire` (the host's line transport, redacted), `listener`
//! (stdio and the Unix socket), `http` (Streamable HTTP, `--listen`), `record`
//! (`--record`: every host message to a file), `replay` (`--replay`: a recording served
//! without any upstream), and `tasks` (task requests routed to the upstream that owns the
//! task, with `task_ids`; `task_offer`: whether upstreams offer tasks), `http_tasks` (an HTTP
//! host's task requests made untyped).
//!
//! Guarantees: stdout carries only the MCP messages to the host (everything else is on
//! stderr); every upstream session is closed on the way out (stdio children reaped, HTTP
//! sessions deleted), whether the host closed stdin (exit 0) or a signal came (exit 130).

mod asks;
mod exchange;
mod forward;
mod hosts;
mod http;
mod http_tasks;
pub(crate) mod hub;
mod inbox;
mod input;
mod listen;
pub(crate) mod listener;
mod notices;
mod pages;
mod parked;
mod record;
pub(crate) mod relay;
mod replay;
mod router;
pub(crate) mod task_ids;
mod task_offer;
mod tasks;
mod watches;
pub(crate) mod wire;

pub use replay::replay;

use std::sync::Arc;
use std::time::Duration;

use crate::cli::ServeArgs;
use crate::commands::App;
use crate::exit::{Code, Failure, Kind};

use hub::Hub;
use relay::Relay;

/// Serve until the host goes (stdio) or a signal comes.
pub async fn serve(app: &App, args: &ServeArgs) -> anyhow::Result<Code> {
    if let Some(path) = &args.record {
        record::start(path)?;
    }
    // The socket first: a path we cannot listen on fails before any server is started.
    let socket = args
        .socket
        .as_deref()
        .map(listener::Socket::bind)
        .transpose()?;
    let listen = match &args.listen {
        Some(spec) => Some(http::Listen::bind(spec, args.token.as_deref()).await?),
        None => None,
    };
    let hub = match Hub::connect(app, args.prefix).await {
        Ok(hub) => Arc::new(hub),
        Err(failure) => {
            if let Some(socket) = socket {
                socket.close().await;
            }
            return Err(failure.into());
        }
    };
    if let [lone] = hub.upstreams.as_slice() {
        record::lone_server(&lone.name);
    }
    let relay = Relay::new(hub.clone());
    let cap = app
        .config
        .max_message_bytes
        .unwrap_or(crate::mcp::DEFAULT_MAX_MESSAGE_BYTES);
    let signal = match (socket, listen) {
        (Some(socket), _) => Some(on_socket(socket, relay, cap).await),
        (None, Some(listen)) => Some(on_http(listen, relay, cap).await),
        (None, None) => tokio::select! {
            () = listener::stdio(relay, cap) => None,
            what = crate::interrupt::wait() => Some(what),
        },
    };
    close(hub).await;
    match signal {
        None => Ok(Code::Success),
        Some(what) => Err(Failure::new(Kind::Interrupted, what).into()),
    }
}

/// Serve on a Unix socket until a signal comes; what the signal was.
async fn on_socket(mut socket: listener::Socket, relay: Relay, cap: usize) -> &'static str {
    let what = tokio::select! {
        () = socket.accept(&relay, cap) => "stopped",
        what = crate::interrupt::wait() => what,
    };
    socket.close().await;
    what
}

/// Serve Streamable HTTP until a signal comes; what the signal was.
async fn on_http(mut listen: http::Listen, relay: Relay, cap: usize) -> &'static str {
    // Printed once the upstreams are connected: a host that reads it can connect at once.
    crate::report::serving(&listen.url());
    let what = tokio::select! {
        () = listen.accept(&relay, cap) => "stopped",
        what = crate::interrupt::wait() => what,
    };
    listen.close().await;
    what
}

/// Close the upstreams once the host sessions let go of them. rmcp ends a host session's
/// tasks shortly after the session itself; if one lingers past a moment, the stdio children
/// are still killed on exit (`children::kill_all`), only HTTP sessions stay undeleted.
async fn close(mut hub: Arc<Hub>) {
    for _ in 0..100 {
        match Arc::try_unwrap(hub) {
            Ok(hub) => return hub.close().await,
            Err(shared) => hub = shared,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::debug!("a host session still held the upstreams; left them to the exit");
}
