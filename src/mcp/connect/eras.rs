//! Over HTTP, which protocol era to speak: the one remembered from last time, else detected
//! (`server/discover`, then `initialize`, then the legacy HTTP+SSE transport); the era that
//! answered is remembered for the next run.

use rmcp::model::ProtocolVersion;
use rmcp::service::{ClientInitializeError, ClientLifecycleMode};

use super::http::{Target, authorize, http_config, legacy_sse, streamable};
use super::{
    Attempt, Client, INITIALIZE_VERSION, LEGACY_VERSION, failed_with, lifecycle,
    rejected_as_modern, settle,
};
use crate::auth::http::OAuthHttp;
use crate::cache::{Era, Key};
use crate::exit::{Failure, Kind};
use crate::mcp::features::handler::Handler;

/// Over HTTP: the remembered era first (unless a version is pinned), then detection afresh
/// when it fails in a way that says "another era"; the era that worked is remembered.
pub(super) async fn connect_http(
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
        return settle(server, context, attempt, None)
            .await
            .map(|client| (client, None));
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
        server, context, ..
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
        Era::LegacySse => match legacy_sse(target, handler).await? {
            Some(attempt) => attempt,
            None => {
                return Err(Failure::new(
                    Kind::Http,
                    "the legacy HTTP+SSE endpoint is gone",
                ));
            }
        },
    };
    settle(server, context, attempt, None).await
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
        server, context, ..
    } = *target;
    let pinned = context.pinned_version(server);
    let legacy_pinned = pinned == Some(LEGACY_VERSION);
    let mode = lifecycle(server, context, false);
    let auto = matches!(mode, ClientLifecycleMode::Auto { .. });
    let mut attempt = first_attempt(target, &handler, mode, legacy_pinned, &authorized).await;
    if auto && failed_with(server, context, &attempt, &[Kind::Protocol]).await {
        attempt = retry(target, &handler, Retry::Initialize, authorized.clone()).await;
    }
    if auto && rejected_as_modern(&attempt) {
        attempt = retry(target, &handler, Retry::Discover, authorized.clone()).await;
    }
    // Servers of the 2024-11-05 era speak HTTP+SSE: a GET opens the event stream.
    let try_legacy = legacy_pinned
        || matches!(pinned, None | Some("auto"))
            && failed_with(server, context, &attempt, &[Kind::Http, Kind::Protocol]).await;
    let mut legacy = false;
    if try_legacy
        && authorized.is_none()
        && let Some(answer) = legacy_sse(target, &handler).await?
    {
        attempt = answer;
        legacy = true;
    }
    let client = settle(server, context, attempt, None).await?;
    let era = if legacy {
        Era::LegacySse
    } else {
        era_answered(&client)
    };
    Ok((client, era))
}

/// The first Streamable HTTP handshake in `mode`; when the legacy transport is pinned, no
/// request at all but a placeholder failure that the legacy transport replaces.
async fn first_attempt(
    target: &Target<'_>,
    handler: &Handler,
    mode: ClientLifecycleMode,
    legacy_pinned: bool,
    authorized: &Option<OAuthHttp>,
) -> Attempt {
    if legacy_pinned {
        Ok(Err(ClientInitializeError::ConnectionClosed(
            "the legacy HTTP+SSE transport was asked for".to_string(),
        )))
    } else {
        streamable(handler, mode, target, authorized.clone()).await
    }
}

/// Which handshake detection asks a server again in, when its first answer gave its era away.
enum Retry {
    /// A server that answers `server/discover` with something other than a discover result
    /// or a clean error is an older server too: start again with initialize.
    Initialize,
    /// rmcp gives up on `server/discover` after 10 s and falls back to `initialize`; a
    /// 2026-07-28 server that was merely slow then rejects it for lacking 2026 headers
    /// (-32020), or answers it like any other method (a bare `resultType` result): it is a
    /// modern server after all, so ask it again without the fallback.
    Discover,
}

/// Ask the server again in the handshake `retry` names.
async fn retry(
    target: &Target<'_>,
    handler: &Handler,
    retry: Retry,
    authorized: Option<OAuthHttp>,
) -> Attempt {
    match retry {
        Retry::Initialize => {
            tracing::debug!(server = %target.server.name, "server/discover failed; retrying with initialize");
            let handler = handler.with_version(INITIALIZE_VERSION);
            let mode = ClientLifecycleMode::Initialize;
            streamable(&handler, mode, target, authorized).await
        }
        Retry::Discover => {
            tracing::debug!(server = %target.server.name, "initialize rejected as a 2026-07-28 request; retrying server/discover");
            let mode = ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            };
            streamable(handler, mode, target, authorized).await
        }
    }
}

/// The era a Streamable HTTP server answered in: stateless (2026-07-28, its answer kept to be
/// handed back next run) unless its version has an `initialize` handshake.
fn era_answered(client: &Client) -> Era {
    match client.peer().peer_info() {
        Some(info) if !info.protocol_version.has_initialize() => Era::Stateless {
            peer: Box::new((*info).clone()),
        },
        _ => Era::Initialize,
    }
}
