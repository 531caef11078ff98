//! One HTTP handshake: Streamable HTTP through our reply guards and local answers, or the
//! legacy HTTP+SSE transport; the configured headers, and the OAuth client when one is needed.

use std::sync::Arc;

use rmcp::service::{ClientInitializeError, ClientLifecycleMode};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

use super::{Attempt, LEGACY_VERSION};
use crate::auth::http::OAuthHttp;
use crate::config::ServerConfig;
use crate::exit::{Failure, Kind};
use crate::mcp::Context;
use crate::mcp::features::handler::Handler;
use crate::mcp::features::wire::{Primed, Wire};
use crate::mcp::transport::resume::{Keep, Resumable, Resume};

/// One HTTP server to connect to, and what the connection shares.
pub(super) struct Target<'a> {
    pub(super) server: &'a ServerConfig,
    pub(super) url: &'a str,
    pub(super) headers: &'a [(String, String)],
    pub(super) context: &'a Context,
    pub(super) primed: &'a Arc<std::sync::Mutex<Primed>>,
    /// Sees `list_changed` notifications on the response streams.
    pub(super) changes: &'a Arc<crate::mcp::features::lists::ListChanges>,
    /// A recorded session to go on in (tasks), and whether to keep the session open.
    pub(super) resume: Option<Arc<Resume>>,
    pub(super) keep: Arc<Keep>,
}

impl Target<'_> {
    /// Our HTTP client as rmcp sees it: local answers (`Wire`) over a resumable session over
    /// the reply guards.
    fn wrap<C: rmcp::transport::streamable_http_client::StreamableHttpClient + Sync>(
        &self,
        inner: C,
        standalone: bool,
    ) -> Wire<Resumable<crate::mcp::transport::guarded_http::Guarded<C>>> {
        Wire::new(
            Resumable {
                inner: crate::mcp::transport::guarded_http::Guarded { inner },
                resume: self.resume.clone(),
                keep: self.keep.clone(),
            },
            self.primed.clone(),
            standalone,
        )
        .watching(self.changes.clone())
    }
}

/// The OAuth-aware HTTP client for `oauth` servers and headless grants (None otherwise),
/// bounded by the connect timeout.
pub(super) async fn authorize(
    server: &ServerConfig,
    context: &Context,
) -> Result<Option<OAuthHttp>, Failure> {
    if !crate::auth::uses_oauth(server.auth_type) {
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
pub(super) async fn streamable(
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
    let standalone = context.standalone_stream || context.elicitation.declares();
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
pub(super) async fn legacy_sse(
    target: &Target<'_>,
    handler: &Handler,
) -> Result<Option<Attempt>, Failure> {
    use rmcp::service::ClientServiceExt;
    let Target {
        server,
        url,
        headers,
        context,
        changes,
        ..
    } = *target;
    let opened = tokio::time::timeout(
        context.connect_timeout,
        crate::mcp::transport::legacy_sse::LegacySse::connect(
            context.http_to(url),
            url,
            header_map(headers),
            server.max_message_bytes,
            changes.clone(),
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
        Ok(Err(crate::mcp::transport::legacy_sse::SseError::CrossOrigin { endpoint, stream })) => {
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

pub(super) fn http_config(
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
