//! `servers`: one `server` line per selected server, saying how we reach it and what it said
//! about itself, with counts of what it offers. For CI smoke tests ("is every server up?") and
//! for people asking "what is this server?". Exit codes as `tools list`.

use rmcp::model::ServerPeerInfo;
use serde_json::Value;

use crate::config::Transport;
use crate::events::{Event, ServerReport};
use crate::exit::Failure;
use crate::mcp::Session;

use super::App;
use super::each::each_server;

pub async fn servers(app: &App) -> anyhow::Result<crate::exit::Code> {
    each_server(app, async |session: &Session| {
        Ok(vec![Event::Server(report(app, session).await?)])
    })
    .await
}

async fn report(app: &App, session: &Session) -> Result<ServerReport, Failure> {
    let info = session.peer_info();
    let declares = |pick: fn(&ServerPeerInfo) -> bool| info.as_deref().is_some_and(pick);
    // Counted only where the server declares the capability; the lists go out together.
    let (tools, resources, resource_templates, prompts) = tokio::join!(
        count(declares(|i| i.capabilities.tools.is_some()), async {
            session.list_tools().await.map(|t| t.len())
        }),
        count(declares(|i| i.capabilities.resources.is_some()), async {
            session.list_resources().await.map(|r| r.len())
        }),
        count(declares(|i| i.capabilities.resources.is_some()), async {
            session.list_resource_templates().await.map(|t| t.len())
        }),
        count(
            declares(|i| i.capabilities.prompts.is_some()),
            session.count_prompts()
        ),
    );
    let (tools, resources, resource_templates, prompts) =
        (tools?, resources?, resource_templates?, prompts?);
    let server = &session.server;
    let (transport, url, command) = match &server.transport {
        Transport::Http { .. } => ("http", Some(server.describe()), None),
        Transport::Stdio { .. } => ("stdio", None, Some(server.describe())),
    };
    let mut auth = serde_json::to_value(crate::auth::describe(server, &app.context.store)?)
        .unwrap_or(Value::Null);
    if let Some(object) = auth.as_object_mut() {
        object.shift_remove("server");
    }
    Ok(ServerReport {
        server: session.name().to_string(),
        transport,
        url,
        command,
        protocol_version: session.protocol_version(),
        server_info: info
            .as_ref()
            .and_then(|i| i.server_info.as_ref())
            .and_then(|s| serde_json::to_value(s).ok()),
        capabilities: info
            .as_ref()
            .and_then(|i| serde_json::to_value(&i.capabilities).ok())
            .unwrap_or(Value::Object(serde_json::Map::new())),
        instructions: info.as_ref().and_then(|i| i.instructions.clone()),
        tools,
        resources,
        resource_templates,
        prompts,
        connect_ms: session.connect_ms,
        auth,
    })
}

/// The count `listing` gives, when `declared`; null otherwise (no request is sent).
async fn count(
    declared: bool,
    listing: impl Future<Output = Result<usize, Failure>>,
) -> Result<Option<usize>, Failure> {
    if declared {
        listing.await.map(Some)
    } else {
        Ok(None)
    }
}
