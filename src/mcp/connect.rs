//! Connecting to a server: which protocol era to speak, tried as small steps. Over HTTP the
//! default is to probe `server/discover` (the stateless 2026-07-28 era), fall back to
//! `initialize` (2025 era), then to the legacy HTTP+SSE transport (2024-11-05); a pinned version
//! goes straight to its era. stdio servers start with `initialize`.
//!
//! The era a server answered in is remembered in the cache: the next run starts with that
//! handshake (no `server/discover` probe for a 2025-era server; for a 2026-07-28 server, no
//! request at all: the remembered discover answer is handed to rmcp locally). When the
//! remembered era fails in a way that says "another era", detection starts afresh once.

use std::sync::Arc;
use std::time::Instant;

use rmcp::model::ProtocolVersion;
use rmcp::service::{ClientInitializeError, ClientLifecycleMode, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use tokio::time::error::Elapsed;

use super::classify::{classify_init, connect_timeout};
use super::handler::Handler;
use super::resume::{Keep, Resumable, Resume};
use super::stdio::{Child, spawn_child};
use super::wire::{Primed, Wire};
use super::{Context, Session};
use crate::auth::http::OAuthHttp;
use crate::cache::{Era, Key};
use crate::config::{AuthType, ServerConfig, Transport};
use crate::exit::{Failure, Kind};

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
        // A resumed session stays open: its tasks may be asked about again.
        let keep = Arc::new(Keep::resuming(resume.as_ref()));
        let handler = Handler {
            server: Arc::from(server.name.as_str()),
            progress: context.progress.clone(),
            elicitation: context.elicitation,
            protocol_version: context
                .pinned_version(&server)
                .filter(|v| *v != "auto")
                .map(str::to_string),
            resource_updates: tokio::sync::broadcast::channel(64).0,
            sampler: context.sampler.clone(),
        };
        let resource_updates = handler.resource_updates.clone();
        let started = Instant::now();
        let key = Key::of(&server, &context.store);
        let primed = Arc::new(std::sync::Mutex::new(Primed::default()));
        let is_http = matches!(server.transport, Transport::Http { .. });
        let (outcome, child) = match &server.transport {
            Transport::Http { url, headers } => {
                // A context whose HTTP client trusts the server's `ca_file`.
                let context = &context.for_server(&server)?;
                let target = Target {
                    server: &server,
                    url,
                    headers,
                    context,
                    primed: &primed,
                    resume: resume.map(Arc::new),
                    keep: keep.clone(),
                };
                (connect_http(&target, &key, handler).await, None)
            }
            Transport::Stdio { .. } => {
                let (transport, child) = spawn_child(&server, context)?;
                let attempt = connect_stdio(&server, transport, handler, context).await;
                (
                    settle(&server, context, attempt, Some(&child)).map(|c| (c, None)),
                    Some(child),
                )
            }
        };
        match outcome {
            Ok((client, era)) => {
                tracing::debug!(server = %server.name, elapsed_ms = started.elapsed().as_millis() as u64, "connected");
                let session = Session {
                    server,
                    store: context.store.clone(),
                    client,
                    child,
                    cache: context.cache.clone(),
                    key,
                    era_unconfirmed: primed.lock().is_ok_and(|p| p.remembered),
                    primed: child_free(&primed, era),
                    resource_updates,
                    connect_ms: started.elapsed().as_millis() as u64,
                    progress: context.progress.clone(),
                    keep: is_http.then_some(keep),
                };
                if let Some(level) = context.log_level {
                    session.apply_log_level(level).await;
                }
                Ok(session)
            }
            Err(failure) => {
                if let Some(child) = &child {
                    super::children::terminate(child.pid, std::time::Duration::from_millis(200));
                }
                Err(failure)
            }
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

/// One HTTP server to connect to, and what the connection shares.
struct Target<'a> {
    server: &'a ServerConfig,
    url: &'a str,
    headers: &'a [(String, String)],
    context: &'a Context,
    primed: &'a Arc<std::sync::Mutex<Primed>>,
    /// A recorded session to go on in (tasks), and whether to keep the session open.
    resume: Option<Arc<Resume>>,
    keep: Arc<Keep>,
}

impl Target<'_> {
    /// Our HTTP client as rmcp sees it: local answers (`Wire`) over a resumable session over
    /// the reply guards.
    fn wrap<C: rmcp::transport::streamable_http_client::StreamableHttpClient + Sync>(
        &self,
        inner: C,
        standalone: bool,
    ) -> Wire<Resumable<super::guarded_http::Guarded<C>>> {
        Wire::new(
            Resumable {
                inner: super::guarded_http::Guarded { inner },
                resume: self.resume.clone(),
                keep: self.keep.clone(),
            },
            self.primed.clone(),
            standalone,
        )
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
fn settle(
    server: &ServerConfig,
    context: &Context,
    attempt: Attempt,
    child: Option<&Child>,
) -> Result<Client, Failure> {
    match attempt {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(error)) => Err(classify_init(server, &context.store, &error, child)),
        Err(_) => Err(connect_timeout(server, context.connect_timeout)),
    }
}

/// Whether a refused attempt failed with one of `kinds` (the signs of another era).
fn failed_with(
    server: &ServerConfig,
    context: &Context,
    attempt: &Attempt,
    kinds: &[Kind],
) -> bool {
    matches!(attempt, Ok(Err(error))
        if kinds.contains(&classify_init(server, &context.store, error, None).kind))
}

/// An `initialize` refused with the 2026-07-28 header-mismatch code.
fn rejected_as_modern(attempt: &Attempt) -> bool {
    matches!(attempt, Ok(Err(ClientInitializeError::JsonRpcError(data)))
        if data.code == rmcp::model::ErrorCode::HEADER_MISMATCH)
}

async fn connect_stdio(
    server: &ServerConfig,
    transport: super::stdio::StdioTransport,
    handler: Handler,
    context: &Context,
) -> Attempt {
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

/// Over HTTP: the remembered era first (unless a version is pinned), then detection afresh
/// when it fails in a way that says "another era"; the era that worked is remembered.
async fn connect_http(
    target: &Target<'_>,
    key: &Key,
    handler: Handler,
) -> Result<(Client, Option<Era>), Failure> {
    let Target {
        server, context, ..
    } = *target;
    // Invalid headers are a config error before anything is sent.
    http_config(server, target.url, target.headers)?;
    let authorized = authorize(server, context).await?;
    if let Some(resume) = &target.resume {
        // The session exists: replay its handshake in the era it was made in.
        let version = resume
            .initialize
            .get("protocolVersion")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(INITIALIZE_VERSION);
        let handler = handler.with_version(version);
        let attempt = streamable(
            &handler,
            ClientLifecycleMode::Initialize,
            target,
            authorized,
        )
        .await;
        return settle(server, context, attempt, None).map(|client| (client, None));
    }
    let remembered = match context.pinned_version(server) {
        None | Some("auto") => context.cache.era(key),
        Some(_) => None,
    };
    if let Some(era) = remembered {
        match remembered_era(target, &era, &handler, authorized.clone()).await {
            Ok(client) => return Ok((client, Some(era))),
            Err(failure) if matches!(failure.kind, Kind::Http | Kind::Protocol) => {
                tracing::info!(server = %server.name, "the remembered protocol era failed ({}); detecting it again", failure.message);
                context.cache.remember_era(key, None);
            }
            Err(failure) => return Err(failure),
        }
    }
    let (client, era) = detect(target, handler, authorized).await?;
    context.cache.remember_era(key, Some(era.clone()));
    Ok((client, Some(era)))
}

/// Connect in the era `era` that the server answered in last time.
async fn remembered_era(
    target: &Target<'_>,
    era: &Era,
    handler: &Handler,
    authorized: Option<OAuthHttp>,
) -> Result<Client, Failure> {
    let Target {
        server,
        url,
        headers,
        context,
        ..
    } = *target;
    let attempt = match era {
        Era::Stateless { peer } => {
            {
                let mut primed = target.primed.lock().unwrap_or_else(|e| e.into_inner());
                primed.discover = discover_answer(peer);
                primed.remembered = true;
            }
            let mode = ClientLifecycleMode::Discover {
                preferred_versions: vec![peer.protocol_version.clone()],
            };
            streamable(handler, mode, target, authorized).await
        }
        Era::Initialize => {
            let handler = handler.with_version(INITIALIZE_VERSION);
            let mode = ClientLifecycleMode::Initialize;
            streamable(&handler, mode, target, authorized).await
        }
        Era::LegacySse => match legacy_sse(server, url, headers, handler, context).await? {
            Some(attempt) => attempt,
            None => {
                return Err(Failure::new(
                    Kind::Http,
                    "the legacy HTTP+SSE endpoint is gone",
                ));
            }
        },
    };
    settle(server, context, attempt, None)
}

/// The remembered `server/discover` answer, rebuilt from the server's info.
fn discover_answer(peer: &rmcp::model::ServerPeerInfo) -> Option<rmcp::model::DiscoverResult> {
    let mut meta = peer.meta.clone().map(|m| m.0).unwrap_or_default();
    if let Some(info) = &peer.server_info {
        meta.insert(
            "io.modelcontextprotocol/serverInfo".to_string(),
            serde_json::to_value(info).ok()?,
        );
    }
    let mut answer = serde_json::json!({
        "resultType": "complete",
        "supportedVersions": [peer.protocol_version],
        "capabilities": peer.capabilities,
        "ttlMs": 0,
        "cacheScope": "private",
        "_meta": meta,
    });
    if let Some(instructions) = &peer.instructions {
        answer["instructions"] = serde_json::Value::String(instructions.clone());
    }
    serde_json::from_value(answer).ok()
}

/// Streamable HTTP in the era the lifecycle picks, then the older eras when the server's
/// answer says it is older.
async fn detect(
    target: &Target<'_>,
    handler: Handler,
    authorized: Option<OAuthHttp>,
) -> Result<(Client, Era), Failure> {
    let Target {
        server,
        url,
        headers,
        context,
        ..
    } = *target;
    let pinned = context.pinned_version(server);
    let legacy_pinned = pinned == Some(LEGACY_VERSION);
    let mode = lifecycle(server, context, false);
    let auto = matches!(mode, ClientLifecycleMode::Auto { .. });
    let mut attempt = if legacy_pinned {
        // Placeholder failure; the legacy transport below replaces it.
        Ok(Err(ClientInitializeError::ConnectionClosed(
            "the legacy HTTP+SSE transport was asked for".to_string(),
        )))
    } else {
        streamable(&handler, mode, target, authorized.clone()).await
    };
    // A server that answers `server/discover` with something other than a discover result or a
    // clean error is an older server too: start again with initialize.
    if auto && failed_with(server, context, &attempt, &[Kind::Protocol]) {
        tracing::debug!(server = %server.name, "server/discover failed; retrying with initialize");
        let handler = handler.with_version(INITIALIZE_VERSION);
        attempt = streamable(
            &handler,
            ClientLifecycleMode::Initialize,
            target,
            authorized.clone(),
        )
        .await;
    }
    // rmcp gives up on `server/discover` after 10 s and falls back to `initialize`; a 2026-07-28
    // server that was merely slow then rejects it for lacking 2026 headers (-32020): it is a
    // modern server after all, so ask it again without the fallback.
    if auto && rejected_as_modern(&attempt) {
        tracing::debug!(server = %server.name, "initialize rejected as a 2026-07-28 request; retrying server/discover");
        let mode = ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        };
        attempt = streamable(&handler, mode, target, authorized.clone()).await;
    }
    // Servers of the 2024-11-05 era speak HTTP+SSE: a GET opens the event stream.
    let try_legacy = legacy_pinned
        || matches!(pinned, None | Some("auto"))
            && failed_with(server, context, &attempt, &[Kind::Http, Kind::Protocol]);
    let mut legacy = false;
    if try_legacy
        && authorized.is_none()
        && let Some(answer) = legacy_sse(server, url, headers, &handler, context).await?
    {
        attempt = answer;
        legacy = true;
    }
    let client = settle(server, context, attempt, None)?;
    let era = if legacy {
        Era::LegacySse
    } else {
        match client.peer().peer_info() {
            Some(info) if !info.protocol_version.has_initialize() => Era::Stateless {
                peer: Box::new((*info).clone()),
            },
            _ => Era::Initialize,
        }
    };
    Ok((client, era))
}

/// The OAuth-aware HTTP client for `oauth` and `client_credentials` servers (None otherwise),
/// bounded by the connect timeout.
async fn authorize(server: &ServerConfig, context: &Context) -> Result<Option<OAuthHttp>, Failure> {
    if !matches!(
        server.auth_type,
        AuthType::Oauth | AuthType::ClientCredentials
    ) {
        return Ok(None);
    }
    tokio::time::timeout(
        context.connect_timeout,
        crate::auth::authorized_client(server, &context.store, &context.http()),
    )
    .await
    .map_err(|_| {
        Failure::new(
            Kind::Timeout,
            format!("timed out getting a token for MCP server `{}`", server.name),
        )
    })?
}

/// One Streamable HTTP handshake over our pooled client (or the OAuth wrapper around it),
/// through the [`Wire`] that answers primed requests locally.
async fn streamable(
    handler: &Handler,
    mode: ClientLifecycleMode,
    target: &Target<'_>,
    authorized: Option<OAuthHttp>,
) -> Attempt {
    use rmcp::service::ClientServiceExt;
    let handler = handler.clone();
    let context = target.context;
    let config = http_config(target.server, target.url, target.headers)
        .map_err(|f| ClientInitializeError::ConnectionClosed(f.message));
    let config = match config {
        Ok(config) => config,
        Err(error) => return Ok(Err(error)),
    };
    // Servers may send their own requests (elicitation) on the standalone stream rather than
    // on the request's: open it when we declared a capability that invites them.
    let standalone =
        context.standalone_stream || context.elicitation == super::Elicitation::AcceptDefaults;
    match authorized {
        Some(client) => {
            let wire = target.wrap(client, standalone);
            let transport = StreamableHttpClientTransport::with_client(wire, config);
            tokio::time::timeout(
                context.connect_timeout,
                handler.serve_with_lifecycle(transport, mode),
            )
            .await
        }
        None => {
            let wire = target.wrap(context.http_to(target.url), standalone);
            let transport = StreamableHttpClientTransport::with_client(wire, config);
            tokio::time::timeout(
                context.connect_timeout,
                handler.serve_with_lifecycle(transport, mode),
            )
            .await
        }
    }
}

/// The legacy HTTP+SSE transport: None when the server has no such endpoint either (the
/// Streamable HTTP failure then stands); an error when it has one that we refuse to use.
async fn legacy_sse(
    server: &ServerConfig,
    url: &str,
    headers: &[(String, String)],
    handler: &Handler,
    context: &Context,
) -> Result<Option<Attempt>, Failure> {
    use rmcp::service::ClientServiceExt;
    let opened = tokio::time::timeout(
        context.connect_timeout,
        super::legacy_sse::LegacySse::connect(
            context.http_to(url),
            url,
            header_map(headers),
            server.max_message_bytes,
        ),
    )
    .await;
    match opened {
        Ok(Ok(transport)) => {
            tracing::info!(server = %server.name, "using the legacy HTTP+SSE transport (2024-11-05)");
            let handler = handler.with_version(LEGACY_VERSION);
            Ok(Some(
                tokio::time::timeout(
                    context.connect_timeout,
                    handler.serve_with_lifecycle(transport, ClientLifecycleMode::Initialize),
                )
                .await,
            ))
        }
        // The server does speak HTTP+SSE, but named an endpoint we will not post to: that is the
        // answer the user needs, not the Streamable HTTP failure before it.
        Ok(Err(super::legacy_sse::SseError::CrossOrigin { endpoint, stream })) => {
            Err(Failure::new(
                Kind::Protocol,
                format!(
                    "MCP server `{}` speaks the legacy HTTP+SSE transport, but its `endpoint` event \
                     names {endpoint}, another origin than the event stream ({stream}); refused, \
                     because every message (and its headers) would go to that other host",
                    server.name
                ),
            )
            .hint("if that host is really the server's, configure its URL directly"))
        }
        Ok(Err(e)) => {
            tracing::debug!(server = %server.name, "no legacy HTTP+SSE endpoint either: {e}");
            Ok(None)
        }
        Err(_) => {
            tracing::debug!(server = %server.name, "timed out opening a legacy HTTP+SSE stream");
            Ok(None)
        }
    }
}
/// The configured headers as a header map (invalid ones were rejected by `http_config`).
fn header_map(headers: &[(String, String)]) -> reqwest::header::HeaderMap {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
            reqwest::header::HeaderValue::from_str(value),
        ) {
            map.insert(name, value);
        }
    }
    map
}

fn http_config(
    server: &ServerConfig,
    url: &str,
    headers: &[(String, String)],
) -> Result<StreamableHttpClientTransportConfig, Failure> {
    // rmcp enforces the caps on Streamable HTTP bodies and SSE events itself.
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_string())
        .reinit_on_expired_session(true)
        .max_json_response_size(server.max_message_bytes)
        .max_sse_event_size(server.max_message_bytes);
    let mut custom = std::collections::HashMap::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("authorization") {
            // rmcp owns the Authorization header; hand it the bearer token.
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .unwrap_or(value);
            config = config.auth_header(token.to_string());
            continue;
        }
        let header_name =
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Failure::config(format!(
                    "server `{}`: `{name}` is not a valid HTTP header name",
                    server.name
                ))
            })?;
        let header_value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
            Failure::config(format!(
                "server `{}`: the value of header `{name}` is not valid in HTTP",
                server.name
            ))
        })?;
        custom.insert(header_name, header_value);
    }
    Ok(config.custom_headers(custom))
}
