//! Connecting to a server: which protocol era to speak, tried as small steps. Over HTTP the
//! default is to probe `server/discover` (the stateless 2026-07-28 era), fall back to
//! `initialize` (2025 era), then to the legacy HTTP+SSE transport (2024-11-05); a pinned version
//! goes straight to its era. stdio servers start with `initialize`.
//!
//! The era a server answered in is remembered in the cache: the next run starts with that
//! handshake (no `server/discover` probe for a 2025-era server; for a 2026-07-28 server, no
//! request at all: the remembered discover answer is handed to rmcp locally). When the
//! remembered era fails in a way that says "another era", detection starts afresh once.
//!
//! Parts: this file (the session's start, the lifecycle, stdio), `eras` (the HTTP eras tried
//! in order, remembered or detected), `http` (one HTTP handshake: Streamable HTTP or legacy
//! HTTP+SSE, headers, OAuth).

mod eras;
mod http;

use std::sync::Arc;
use std::time::Instant;

use rmcp::model::ProtocolVersion;
use rmcp::service::{ClientInitializeError, ClientLifecycleMode, RoleClient, RunningService};
use tokio::time::error::Elapsed;

use super::classify::{classify_init, connect_timeout};
use super::features::handler::Handler;
use super::features::lists::ListChanges;
use super::features::wire::Primed;
use super::transport::resume::{Keep, Resume};
use super::transport::stdio::{Child, spawn_child};
use super::{Context, Session};
use crate::cache::{Era, Key};
use crate::config::{ServerConfig, Transport};
use crate::exit::{Failure, Kind};
use eras::connect_http;
use http::Target;

pub(super) type Client = RunningService<RoleClient, Handler>;

/// One handshake attempt: timed out, refused, or a running client.
type Attempt = Result<Result<Client, ClientInitializeError>, Elapsed>;

/// The revision a 2025-era handshake proposes when nothing is pinned.
const INITIALIZE_VERSION: &str = "2025-11-25";
/// The legacy HTTP+SSE transport's revision.
const LEGACY_VERSION: &str = "2024-11-05";

impl Session {
    /// Connect and complete the MCP handshake within the connect timeout.
    pub async fn connect(server: Arc<ServerConfig>, context: &Context) -> Result<Session, Failure> {
        Session::connect_resuming(server, context, None).await
    }

    /// Connect, going on in a recorded HTTP session when `resume` is given (see `resume`).
    pub async fn connect_resuming(
        server: Arc<ServerConfig>,
        context: &Context,
        resume: Option<Resume>,
    ) -> Result<Session, Failure> {
        let handler = new_handler(&server, context);
        let roots_listed = (!server.roots.is_empty()).then(|| handler.roots_listed.clone());
        let pieces = Pieces::new(&server, context, &handler, resume.as_ref());
        let (client, era, child) = match &server.transport {
            Transport::Http { url, headers } => {
                let (client, era) =
                    over_http(&server, url, headers, context, &pieces, handler, resume).await?;
                (client, era, None)
            }
            Transport::Stdio { .. } => {
                let (client, child) =
                    over_stdio(&server, context, handler, &pieces.changes).await?;
                (client, None, Some(child))
            }
        };
        tracing::debug!(server = %server.name, elapsed_ms = pieces.started.elapsed().as_millis() as u64, "connected");
        let key = pieces.key.clone();
        let session = pieces.into_session(server, context, client, child, era);
        if let Some(level) = context.log_level {
            session.apply_log_level(level).await;
        }
        if let Some(roots_listed) = roots_listed {
            // A server that works in roots refuses calls until it has them (see there).
            let cache = context.cache.clone();
            let asked_before = cache.asks_for_roots(&key);
            let remember = move |asked| cache.remember_asks_for_roots(&key, asked);
            crate::roots::wait_for_request(asked_before, roots_listed, remember).await;
        }
        Ok(session)
    }
}

impl Session {
    /// Connect over a transport that already reaches the server (the daemon's socket): the
    /// `initialize` handshake as with a stdio server, no child, no HTTP session.
    pub async fn connect_over<T>(
        server: Arc<ServerConfig>,
        context: &Context,
        transport: T,
    ) -> Result<Session, Failure>
    where
        T: rmcp::transport::Transport<RoleClient> + Send + 'static,
    {
        let handler = new_handler(&server, context);
        let pieces = Pieces::new(&server, context, &handler, None);
        let attempt = connect_stdio(&server, transport, handler, context).await;
        let client = settle(&server, context, attempt, None).await?;
        let mut session = pieces.into_session(server, context, client, None, None);
        session.relayed = true;
        if let Some(level) = context.log_level {
            session.apply_log_level(level).await;
        }
        Ok(session)
    }
}

/// The handler that answers the server's requests and notifications for this session, with
/// the pinned protocol version if one is (`auto` is no pin).
fn new_handler(server: &ServerConfig, context: &Context) -> Handler {
    Handler {
        server: Arc::from(server.name.as_str()),
        progress: context.progress.clone(),
        elicitation: context.elicitation,
        elicitor: context.elicitor.clone(),
        roots: server.roots.clone().into(),
        roots_listed: Default::default(),
        protocol_version: context
            .pinned_version(server)
            .filter(|v| *v != "auto")
            .map(str::to_string),
        resource_updates: tokio::sync::broadcast::channel(64).0,
        sampler: context.sampler.clone(),
        progress_routes: Default::default(),
        asks: context.asks.clone(),
    }
}

/// What the handshake shares with the session it makes: made before connecting so the
/// transports can fill them in, then handed to the session.
struct Pieces {
    key: Key,
    /// A resumed session stays open: its tasks may be asked about again.
    keep: Arc<Keep>,
    changes: Arc<ListChanges>,
    primed: Arc<std::sync::Mutex<Primed>>,
    resource_updates: tokio::sync::broadcast::Sender<String>,
    started: Instant,
}

impl Pieces {
    /// Fresh pieces for `server`; the clock for `connect_ms` starts here.
    fn new(
        server: &ServerConfig,
        context: &Context,
        handler: &Handler,
        resume: Option<&Resume>,
    ) -> Pieces {
        let keep = Arc::new(Keep::resuming(resume));
        let key = Key::of(server, &context.store);
        let changes = Arc::new(ListChanges {
            cache: context.cache.clone(),
            key: key.clone(),
            changed: Default::default(),
            announced: tokio::sync::broadcast::channel(16).0,
        });
        Pieces {
            key,
            keep,
            changes,
            primed: Arc::new(std::sync::Mutex::new(Primed::default())),
            resource_updates: handler.resource_updates.clone(),
            started: Instant::now(),
        }
    }

    /// The session over a connected `client`, in `era` when it runs over our HTTP wire.
    fn into_session(
        self,
        server: Arc<ServerConfig>,
        context: &Context,
        client: Client,
        child: Option<Child>,
        era: Option<Era>,
    ) -> Session {
        let is_http = matches!(server.transport, Transport::Http { .. });
        Session {
            server,
            store: context.store.clone(),
            client,
            child,
            cache: context.cache.clone(),
            key: self.key,
            era_unconfirmed: self.primed.lock().is_ok_and(|p| p.remembered),
            primed: child_free(&self.primed, era),
            resource_updates: self.resource_updates,
            connect_ms: self.started.elapsed().as_millis() as u64,
            progress: context.progress.clone(),
            keep: is_http.then_some(self.keep),
            changes: self.changes,
            relayed: false,
            daemon_checks: false,
        }
    }
}

/// Connect over HTTP in the era `connect_http` settles on; `resume` goes on in a recorded
/// session.
async fn over_http(
    server: &ServerConfig,
    url: &str,
    headers: &[(String, String)],
    context: &Context,
    pieces: &Pieces,
    handler: Handler,
    resume: Option<Resume>,
) -> Result<(Client, Option<Era>), Failure> {
    // A context whose HTTP client trusts the server's `ca_file`.
    let context = &context.for_server(server)?;
    let target = Target {
        server,
        url,
        headers,
        context,
        primed: &pieces.primed,
        changes: &pieces.changes,
        resume: resume.map(Arc::new),
        keep: pieces.keep.clone(),
    };
    connect_http(&target, &pieces.key, handler).await
}

/// Start the server's child process and shake hands over its stdio; a child whose handshake
/// failed is ended, so no process outlives the failure.
async fn over_stdio(
    server: &ServerConfig,
    context: &Context,
    handler: Handler,
    changes: &Arc<ListChanges>,
) -> Result<(Client, Child), Failure> {
    let (mut transport, child) = spawn_child(server, context)?;
    transport.changes = Some(changes.clone());
    let attempt = connect_stdio(server, transport, handler, context).await;
    match settle(server, context, attempt, Some(&child)).await {
        Ok(client) => Ok((client, child)),
        Err(failure) => {
            crate::mcp::transport::children::terminate(
                child.pid,
                std::time::Duration::from_millis(200),
            )
            .await;
            Err(failure)
        }
    }
}

/// The primed answers are usable only when the session runs over our [`Wire`] (Streamable
/// HTTP): `era` is Some exactly then.
fn child_free(
    primed: &Arc<std::sync::Mutex<Primed>>,
    era: Option<Era>,
) -> Option<Arc<std::sync::Mutex<Primed>>> {
    match era {
        Some(Era::Stateless { .. } | Era::Initialize) => Some(primed.clone()),
        _ => None,
    }
}

/// The MCP lifecycle for a server: by default, over HTTP, probe `server/discover` and fall back
/// to `initialize` for older servers; stdio servers start with `initialize` (a local child
/// answers it at once, and a server that ignores unknown methods would stall a probe); a
/// pinned version skips the probe.
fn lifecycle(server: &ServerConfig, context: &Context, stdio: bool) -> ClientLifecycleMode {
    match context.pinned_version(server) {
        None if stdio => ClientLifecycleMode::Initialize,
        None | Some("auto") => ClientLifecycleMode::Auto {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            legacy_version: Some(ProtocolVersion::V_2025_11_25),
        },
        Some("2026-07-28") => ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
        Some(_) => ClientLifecycleMode::Initialize,
    }
}

/// A finished attempt as a client or a classified failure.
async fn settle(
    server: &ServerConfig,
    context: &Context,
    attempt: Attempt,
    child: Option<&Child>,
) -> Result<Client, Failure> {
    match attempt {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(error)) => Err(classify_init(server, &context.store, &error, child).await),
        Err(_) => Err(connect_timeout(server, context.connect_timeout)),
    }
}

/// Whether a refused attempt failed with one of `kinds` (the signs of another era).
async fn failed_with(
    server: &ServerConfig,
    context: &Context,
    attempt: &Attempt,
    kinds: &[Kind],
) -> bool {
    match attempt {
        Ok(Err(error)) => kinds.contains(
            &classify_init(server, &context.store, error, None)
                .await
                .kind,
        ),
        _ => false,
    }
}

/// An `initialize` refused with the 2026-07-28 header-mismatch code.
fn rejected_as_modern(attempt: &Attempt) -> bool {
    use rmcp::model::ServerResult;
    match attempt {
        Ok(Err(ClientInitializeError::JsonRpcError(data))) => {
            data.code == rmcp::model::ErrorCode::HEADER_MISMATCH
        }
        // Something other than an initialize result: a stateless server answering `initialize`
        // like any method it does not know (a bare `{"resultType": "complete"}`), or the late
        // answer to the `server/discover` rmcp stopped waiting for.
        Ok(Err(ClientInitializeError::ExpectedInitResult(Some(result)))) => {
            !matches!(result, ServerResult::InitializeResult(_))
        }
        _ => false,
    }
}

async fn connect_stdio<T>(
    server: &ServerConfig,
    transport: T,
    handler: Handler,
    context: &Context,
) -> Attempt
where
    T: rmcp::transport::Transport<RoleClient> + Send + 'static,
{
    let mode = lifecycle(server, context, true);
    let handler = match mode {
        ClientLifecycleMode::Initialize if handler.protocol_version.is_none() => {
            handler.with_version(INITIALIZE_VERSION)
        }
        _ => handler,
    };
    tokio::time::timeout(
        context.connect_timeout,
        rmcp::service::ClientServiceExt::serve_with_lifecycle(handler, transport, mode),
    )
    .await
}
