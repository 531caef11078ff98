//! The MCP server the host talks to: every request answered by relaying it to the upstream
//! that owns the name or URI (lists merged from all of them), with the names the router gives.
//!
//! Guarantees: a call reaches only the upstream its name routes to, under the upstream's own
//! name, and only if the upstream's allow/deny lists permit it; an upstream's JSON-RPC error
//! reaches the host as the upstream sent it (redacted); a tool call that cannot reach its
//! upstream (not connected, timed out, needs `auth login`) is an `isError` result naming the
//! server and saying why, so the host's model can read it (the daemon's relay instead fails
//! any request, lists included, with the failure itself, for the command to fail as
//! directly); a host's cancellation is passed on.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::join_all;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest, CompleteRequest,
    CompleteRequestParams, CompleteResult, ContentBlock, ErrorCode, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    Prompt, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference,
    RequestMetaObject, Resource, ResourceTemplate, ServerConfig, SubscribeRequestParams, Tool,
    UnsubscribeRequestParams,
};
#[allow(deprecated)] // resources/subscribe: what 2025-era hosts and servers speak
use rmcp::model::{SubscribeRequest, UnsubscribeRequest};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::hub::Hub;
use super::input::Answer;
use super::pages::{self, Position};
use super::router::Named;
use crate::cache::ListKind;
use crate::exit::Failure;
use crate::mcp::{Refused, Session};

/// One host connection's view of the shared upstreams.
#[derive(Clone)]
pub struct Relay {
    pub hub: Arc<Hub>,
    /// The tools last listed to a host, by the name it sees (shared by every connection):
    /// the HTTP layer checks a call's `Mcp-Param-*` headers against the tool's schema.
    listed_tools: Arc<std::sync::Mutex<HashMap<String, rmcp::model::Tool>>>,
    /// The daemon's relay: a tool call that fails for a reason of ours (the upstream exited)
    /// is an error carrying the failure, so the command fails as directly, not an `isError`
    /// result for a host's model.
    pub failures_as_errors: bool,
    /// The `input_required` rounds waiting for their hosts' retries.
    pub rounds: Arc<super::input::Rounds>,
    /// 2025-era hosts' subscriptions to resources of 2026-07-28 upstreams.
    watches: Arc<super::watches::Watches>,
}

impl Relay {
    pub fn new(hub: Arc<Hub>) -> Relay {
        Relay {
            hub,
            listed_tools: Arc::default(),
            failures_as_errors: false,
            rounds: Arc::default(),
            watches: Arc::default(),
        }
    }
}

/// The text a host sees for a failure: the message, then its hints.
fn explain(failure: &Failure) -> String {
    let mut text = crate::redact::text(&failure.message);
    for hint in &failure.hints {
        text.push_str("\nhint: ");
        text.push_str(&crate::redact::text(hint));
    }
    text
}

/// A failure as a JSON-RPC error (for requests other than tool calls), the failure itself
/// in its data (a command through the daemon fails with it as directly).
pub(super) fn as_error(failure: &Failure) -> ErrorData {
    let data = crate::mcp::classify::failure_data(failure);
    ErrorData::internal_error(explain(failure), Some(data))
}

/// A failure as a tool result the host's model can read.
fn tool_error(failure: &Failure) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(explain(failure))]).into()
}

/// A relayed request that has no result, as the host should see it.
pub(super) fn refusal(refused: Refused) -> ErrorData {
    match refused {
        Refused::Upstream(mut error) => {
            // Only we speak for ourselves: an upstream's claim to be our failure is dropped.
            if let Some(Value::Object(data)) = &mut error.data {
                data.shift_remove(crate::mcp::classify::FAILURE_KEY);
            }
            error
        }
        Refused::Failed(failure) => as_error(&failure),
        Refused::Cancelled => ErrorData::internal_error("request cancelled", None),
    }
}

/// An upstream result that does not parse as what its method returns.
fn malformed(server: &str, method: &str, error: &serde_json::Error) -> ErrorData {
    ErrorData::internal_error(
        format!("MCP server `{server}` sent a malformed {method} result: {error}"),
        None,
    )
}

/// An upstream's result marked complete where it does not say (2025-era servers do not):
/// 2026-07-28 hosts require the mark, and rmcp strips it again for older hosts.
fn completed(mut raw: Value) -> Value {
    if let Some(result) = raw.as_object_mut() {
        result
            .entry("resultType")
            .or_insert_with(|| Value::from("complete"));
    }
    raw
}

/// The host's `_meta` as the upstream should get it: our own progress token and protocol
/// keys replace the host's (the upstream may speak another era than the host).
pub(super) fn relayed_meta(meta: Option<RequestMetaObject>) -> Option<RequestMetaObject> {
    let mut meta = meta?;
    meta.retain(|key, _| key != "progressToken" && !key.starts_with("io.modelcontextprotocol/"));
    (!meta.is_empty()).then_some(meta)
}

/// The capabilities the host is offered: the union of the upstreams' (tools always, so that
/// a dead upstream's calls can still say why they fail; logging always, as that is how a
/// dead upstream is announced); lists announce changes.
fn capabilities(hub: &Hub) -> Value {
    let mut declared = json!({"tools": {"listChanged": true}, "logging": {}});
    for (_, session) in hub.live() {
        let Some(info) = session.peer_info() else {
            continue;
        };
        let offered = &info.capabilities;
        if offered.prompts.is_some() {
            declared["prompts"] = json!({"listChanged": true});
        }
        if let Some(resources) = &offered.resources {
            let subscribe = resources.subscribe == Some(true)
                || declared["resources"]["subscribe"] == json!(true);
            declared["resources"] = json!({"listChanged": true, "subscribe": subscribe});
        }
        if offered.completions.is_some() {
            declared["completions"] = json!({});
        }
        if offered.supports_tasks() {
            declared["extensions"][rmcp::model::TASKS_EXTENSION_ID] = json!({});
        }
    }
    declared
}

impl Relay {
    /// The live session of upstream `index`, or the failure that keeps it out.
    pub(super) fn session(&self, index: usize) -> Result<&Session, Failure> {
        match self.hub.upstreams.get(index).map(|u| &u.session) {
            Some(Ok(session)) => Ok(session),
            Some(Err(failure)) => {
                let mut unavailable = Failure::new(
                    failure.kind,
                    format!(
                        "MCP server `{}` is not available: {}",
                        self.hub.router.server(index),
                        failure.message
                    ),
                );
                unavailable.hints = failure.hints.clone();
                Err(unavailable)
            }
            None => Err(Failure::new(
                crate::exit::Kind::Internal,
                "no such upstream",
            )),
        }
    }

    /// Where a tool or prompt name goes; without prefixes an unknown name is looked for in
    /// fresh lists once.
    pub(super) async fn route(
        &self,
        what: Named,
        exposed: &str,
    ) -> Result<(usize, String), ErrorData> {
        let router = &self.hub.router;
        if let Some(found) = router.route(what, exposed) {
            return Ok(found);
        }
        if !router.prefixed() {
            match what {
                Named::Tool => self.relist(ListKind::Tools).await,
                Named::Prompt => self.relist(ListKind::Prompts).await,
            }
            if let Some(found) = router.route(what, exposed) {
                return Ok(found);
            }
        }
        let noun = match what {
            Named::Tool => "tool",
            Named::Prompt => "prompt",
        };
        Err(ErrorData::invalid_params(
            format!("unknown {noun} `{exposed}`"),
            None,
        ))
    }

    /// One merged page of tools (allow/deny applied, the cache used), renamed; see `pages`.
    async fn tools(&self, at: &Position) -> Result<(Vec<Tool>, Option<Position>), Failure> {
        let parts = pages::fetch(self.hub.live(), at, |session, cursor| async move {
            match cursor {
                None if session.cached::<Tool>(ListKind::Tools).is_some() => {
                    Ok((session.tools_to_show().await?.0, None))
                }
                cursor => session.tools_page(cursor).await,
            }
        })
        .await;
        let parts = self.unfailed(parts)?;
        let (kept, next) = pages::cut(parts, at);
        let router = &self.hub.router;
        let mut merged = Vec::new();
        for (index, first, (_, server, listed)) in kept {
            let Some((tools, _)) = kept_list(&server, "tools/list", listed) else {
                continue;
            };
            let names = tools.iter().map(|t| t.name.as_ref());
            router.listed(Named::Tool, index, first, names);
            merged.extend(tools.into_iter().map(|mut tool| {
                tool.name = router.exposed(index, &tool.name).into();
                tool
            }));
        }
        let mut listed = self.listed_tools.lock().unwrap_or_else(|e| e.into_inner());
        // Pages add to what was listed (a first page starts over: see `Position`).
        if at.u == 0 && at.c.is_none() {
            listed.clear();
        }
        listed.extend(merged.iter().map(|t| (t.name.to_string(), t.clone())));
        drop(listed);
        Ok((merged, next))
    }

    /// One merged page of prompts, renamed.
    async fn prompts(&self, at: &Position) -> Result<(Vec<Prompt>, Option<Position>), Failure> {
        let (kept, next) = self.items::<Prompt>(ListKind::Prompts, at).await?;
        let router = &self.hub.router;
        let mut merged = Vec::new();
        for (index, first, prompts) in kept {
            let names = prompts.iter().map(|p| p.name.as_str());
            router.listed(Named::Prompt, index, first, names);
            merged.extend(prompts.into_iter().map(|mut prompt| {
                prompt.name = router.exposed(index, &prompt.name);
                prompt
            }));
        }
        Ok((merged, next))
    }

    /// One merged page of resources (their URIs as they are).
    async fn resources(&self, at: &Position) -> Result<(Vec<Resource>, Option<Position>), Failure> {
        let (kept, next) = self.items::<Resource>(ListKind::Resources, at).await?;
        let mut merged = Vec::new();
        for (index, first, resources) in kept {
            let uris = resources.iter().map(|r| r.uri.as_str());
            self.hub.router.listed_uris(index, first, uris);
            merged.extend(resources);
        }
        Ok((merged, next))
    }

    /// One merged page of resource templates.
    async fn templates(
        &self,
        at: &Position,
    ) -> Result<(Vec<ResourceTemplate>, Option<Position>), Failure> {
        let (kept, next) = self
            .items::<ResourceTemplate>(ListKind::Templates, at)
            .await?;
        let mut merged = Vec::new();
        for (index, first, templates) in kept {
            let patterns = templates.iter().map(|t| t.uri_template.as_str());
            self.hub.router.listed_templates(index, first, patterns);
            merged.extend(templates);
        }
        Ok((merged, next))
    }

    /// One merged page of a list other than tools: each upstream's items with its index and
    /// whether they are its first page (failed upstreams left out with a warning).
    async fn items<T: Serialize + DeserializeOwned>(
        &self,
        kind: ListKind,
        at: &Position,
    ) -> Result<(Vec<(usize, bool, Vec<T>)>, Option<Position>), Failure> {
        let parts = pages::fetch(self.hub.live(), at, |session, cursor| async move {
            match cursor {
                None if session.cached::<T>(kind).is_some() => {
                    Ok((session.cached::<T>(kind).unwrap_or_default(), None))
                }
                cursor => session.items_page::<T>(kind, cursor).await,
            }
        })
        .await;
        let parts = self.unfailed(parts)?;
        let (kept, next) = pages::cut(parts, at);
        let items = kept
            .into_iter()
            .filter_map(|(index, first, (_, server, listed))| {
                let (items, _) = kept_list(&server, kind.method(), listed)?;
                Some((index, first, items))
            })
            .collect();
        Ok((items, next))
    }

    /// The parts of a merged page; for the daemon's relay, the failure of its upstream to
    /// list (e.g. its authorization was revoked) instead, so that the command fails as
    /// directly rather than getting an empty list.
    fn unfailed<T>(&self, mut parts: Vec<pages::Part<T>>) -> Result<Vec<pages::Part<T>>, Failure> {
        if !self.failures_as_errors {
            return Ok(parts);
        }
        match parts.iter().position(|(_, _, listed)| listed.is_err()) {
            Some(at) => match parts.remove(at) {
                (_, _, Err(failure)) => Err(failure),
                _ => Ok(parts),
            },
            None => Ok(parts),
        }
    }

    /// Every page of one list, for the router to know every name or URI; a cursor an
    /// upstream repeats ends it (as `paginate` does for our own listings).
    async fn relist(&self, kind: ListKind) {
        let mut at = Position { u: 0, c: None };
        let mut seen = std::collections::HashSet::new();
        loop {
            let next = match kind {
                ListKind::Tools => self.tools(&at).await.map(|page| page.1),
                ListKind::Prompts => self.prompts(&at).await.map(|page| page.1),
                ListKind::Resources => self.resources(&at).await.map(|page| page.1),
                ListKind::Templates => self.templates(&at).await.map(|page| page.1),
            };
            match next {
                Ok(Some(next)) if seen.insert(next.encode()) => at = next,
                _ => return,
            }
        }
    }

    /// The upstream of each resource URI the host subscribed to (URIs nobody lists are left
    /// out).
    async fn owners(
        &self,
        accepted: &rmcp::model::SubscriptionFilter,
    ) -> HashMap<usize, Vec<String>> {
        let mut owned: HashMap<usize, Vec<String>> = HashMap::new();
        for uri in accepted.resource_subscriptions.iter().flatten() {
            if let Ok(index) = self.owner_of(uri).await {
                owned.entry(index).or_default().push(uri.clone());
            }
        }
        owned
    }

    /// The upstream of a resource URI; unknown URIs are looked for in fresh lists once.
    pub(super) async fn owner_of(&self, uri: &str) -> Result<usize, ErrorData> {
        if let Some(index) = self.hub.router.route_uri(uri) {
            return Ok(index);
        }
        self.relist(ListKind::Resources).await;
        self.relist(ListKind::Templates).await;
        self.hub.router.route_uri(uri).ok_or_else(|| {
            ErrorData::new(
                ErrorCode::RESOURCE_NOT_FOUND,
                format!("no server lists the resource `{uri}`"),
                Some(json!({"uri": uri})),
            )
        })
    }

    /// Relay `request` to upstream `index` and read its result as `T`.
    async fn relay<T: serde::de::DeserializeOwned>(
        &self,
        index: usize,
        what: &str,
        request: ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<T, ErrorData> {
        let session = self.session(index).map_err(|f| as_error(&f))?;
        let _flying = self.hub.hosts.flying(index, &context.peer);
        let raw = super::forward::forward_with_progress(session, what, request, context)
            .await
            .map_err(refusal)?;
        serde_json::from_value(completed(raw)).map_err(|e| malformed(session.name(), what, &e))
    }
}

/// The host's cursor, if it sent one.
fn cursor(request: &Option<PaginatedRequestParams>) -> Option<&str> {
    request.as_ref()?.cursor.as_deref()
}

/// A list from one upstream, or None (with a warning) when listing it failed: the others'
/// lists still reach the host.
pub(super) fn kept_list<T>(server: &str, method: &str, listed: Result<T, Failure>) -> Option<T> {
    match listed {
        Ok(items) => Some(items),
        Err(failure) => {
            crate::report::warning(&Failure::new(
                failure.kind,
                format!(
                    "{method} of MCP server `{server}` left out: {}",
                    failure.message
                ),
            ));
            None
        }
    }
}

impl ServerHandler for Relay {
    fn get_info(&self) -> ServerConfig {
        let capabilities = serde_json::from_value(capabilities(&self.hub)).unwrap_or_default();
        let mut info = ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("mcpchat", env!("CARGO_PKG_VERSION")));
        // One server: its instructions are still about the tools the host sees.
        if let [only] = self.hub.upstreams.as_slice()
            && let Ok(session) = &only.session
            && let Some(instructions) = session.peer_info().and_then(|i| i.instructions.clone())
        {
            info = info.with_instructions(instructions);
        }
        info
    }

    /// rmcp's Streamable HTTP service checks a 2026-07-28 `tools/call`'s `Mcp-Param-*` headers
    /// (SEP-2243) against this tool's input schema; a tool not listed yet is not checked here
    /// (the upstream checks the headers we send it, which we derive from the body).
    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        let listed = self.listed_tools.lock().unwrap_or_else(|e| e.into_inner());
        listed.get(name).cloned()
    }

    /// A host's roots changed: every server hears it (each asks `roots/list` again, and the
    /// host most recently active answers).
    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        self.hub.hosts.active(&context.peer);
        join_all(self.hub.live().map(|(_, session)| session.roots_changed())).await;
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.hub.hosts.joined(&context.peer);
        super::notices::started(&self.hub, &context.peer).await;
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let at = Position::decode(cursor(&request))?;
        let (tools, next) = self.tools(&at).await.map_err(|f| as_error(&f))?;
        let mut result = ListToolsResult::with_all_items(tools);
        result.next_cursor = next.map(|at| at.encode());
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (index, name) = self.route(Named::Tool, &request.name).await?;
        let session = match self.session(index) {
            Ok(session) => session,
            Err(failure) => return Ok(tool_error(&failure)),
        };
        if !session.server.tools.permits(&name) {
            return Err(ErrorData::invalid_params(
                format!("tool `{}` is not allowed by the config", request.name),
                None,
            ));
        }
        let what = format!("tools/call `{name}`");
        let key = format!("tools/call {}", request.name);
        let mut params = request;
        params.name = name.into();
        params.meta = relayed_meta(params.meta);
        let asked = (what.as_str(), key.as_str());
        match super::exchange::exchange(
            (&self.hub, &self.rounds),
            (index, session),
            asked,
            params,
            &context,
        )
        .await
        {
            Ok(Answer::InputRequired(result)) => Ok(result.into()),
            Ok(Answer::Complete(raw)) if raw.get("resultType") == Some(&json!("task")) => {
                let raw = self.named_for_host(index, raw, Some(&context.peer));
                serde_json::from_value::<rmcp::model::CreateTaskResult>(raw)
                    .map(CallToolResponse::from)
                    .map_err(|e| malformed(session.name(), "tools/call", &e))
            }
            Ok(Answer::Complete(raw)) => serde_json::from_value::<CallToolResult>(completed(raw))
                .map(CallToolResponse::from)
                .map_err(|e| malformed(session.name(), "tools/call", &e)),
            Err(Refused::Failed(failure)) if !self.failures_as_errors => Ok(tool_error(&failure)),
            Err(refused) => Err(refusal(refused)),
        }
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let at = Position::decode(cursor(&request))?;
        let (prompts, next) = self.prompts(&at).await.map_err(|f| as_error(&f))?;
        let mut result = ListPromptsResult::with_all_items(prompts);
        result.next_cursor = next.map(|at| at.encode());
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let (index, name) = self.route(Named::Prompt, &request.name).await?;
        let what = format!("prompts/get `{name}`");
        let key = format!("prompts/get {}", request.name);
        let mut params = request;
        params.name = name;
        params.meta = relayed_meta(params.meta);
        let session = self.session(index).map_err(|f| as_error(&f))?;
        let asked = (what.as_str(), key.as_str());
        match super::exchange::exchange(
            (&self.hub, &self.rounds),
            (index, session),
            asked,
            params,
            &context,
        )
        .await
        {
            Ok(Answer::InputRequired(result)) => Ok(result.into()),
            Ok(Answer::Complete(raw)) => serde_json::from_value::<GetPromptResult>(completed(raw))
                .map(GetPromptResponse::from)
                .map_err(|e| malformed(session.name(), "prompts/get", &e)),
            Err(refused) => Err(refusal(refused)),
        }
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let at = Position::decode(cursor(&request))?;
        let (resources, next) = self.resources(&at).await.map_err(|f| as_error(&f))?;
        let mut result = ListResourcesResult::with_all_items(resources);
        result.next_cursor = next.map(|at| at.encode());
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let at = Position::decode(cursor(&request))?;
        let (templates, next) = self.templates(&at).await.map_err(|f| as_error(&f))?;
        let mut result = ListResourceTemplatesResult::with_all_items(templates);
        result.next_cursor = next.map(|at| at.encode());
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let index = self.owner_of(&request.uri).await?;
        let what = format!("resources/read `{}`", request.uri);
        let key = format!("resources/read {}", request.uri);
        let mut params = request;
        params.meta = relayed_meta(params.meta);
        let session = self.session(index).map_err(|f| as_error(&f))?;
        let asked = (what.as_str(), key.as_str());
        match super::exchange::exchange(
            (&self.hub, &self.rounds),
            (index, session),
            asked,
            params,
            &context,
        )
        .await
        {
            Ok(Answer::InputRequired(result)) => Ok(result.into()),
            Ok(Answer::Complete(raw)) => {
                serde_json::from_value::<ReadResourceResult>(completed(raw))
                    .map(ReadResourceResponse::from)
                    .map_err(|e| malformed(session.name(), "resources/read", &e))
            }
            Err(refused) => Err(refusal(refused)),
        }
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let mut params = request;
        let index = match &mut params.r#ref {
            Reference::Prompt(prompt) => {
                let (index, name) = self.route(Named::Prompt, &prompt.name).await?;
                prompt.name = name;
                index
            }
            Reference::Resource(template) => self.owner_of(&template.uri).await?,
            _ => {
                return Err(ErrorData::invalid_params(
                    "unknown kind of completion reference",
                    None,
                ));
            }
        };
        params.meta = relayed_meta(params.meta);
        let request = ClientRequest::CompleteRequest(CompleteRequest::new(params));
        self.relay(index, "completion/complete", request, &context)
            .await
    }

    /// 2026-07-28 hosts: whatever they ask for (rmcp keeps only what `get_info` declares).
    fn accepted_subscription_filter(
        &self,
        requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn listen(&self, context: rmcp::service::SubscriptionContext) -> Result<(), ErrorData> {
        let owned = self.owners(context.accepted()).await;
        super::listen::listen(&self.hub, owned, context).await
    }

    #[allow(deprecated)] // resources/subscribe: what 2025-era hosts and servers speak
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let index = self.owner_of(&request.uri).await?;
        let uri = request.uri.clone();
        if self.session(index).is_ok_and(super::input::speaks_2026) {
            self.watches.start(self.hub.clone(), index, &uri).await?;
            self.hub.hosts.subscribe(&context.peer, &uri);
            return Ok(());
        }
        let what = format!("resources/subscribe `{uri}`");
        let request = ClientRequest::SubscribeRequest(SubscribeRequest::new(request));
        let _: Value = self.relay(index, &what, request, &context).await?;
        self.hub.hosts.subscribe(&context.peer, &uri);
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let index = self.owner_of(&request.uri).await?;
        if self.hub.hosts.unsubscribe(&context.peer, &request.uri) {
            // Another host still wants the updates: the upstream keeps sending them.
            return Ok(());
        }
        if self.session(index).is_ok_and(super::input::speaks_2026) {
            self.watches.stop(&request.uri);
            return Ok(());
        }
        let what = format!("resources/unsubscribe `{}`", request.uri);
        let request = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(request));
        let _: Value = self.relay(index, &what, request, &context).await?;
        Ok(())
    }

    /// Task requests rmcp does not type (see `tasks`).
    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CustomResult, ErrorData> {
        self.custom(request, context).await
    }

    #[allow(deprecated)] // logging/setLevel: what 2025-era hosts and servers speak
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        // Each host gets its own level; the upstreams get the latest host's.
        self.hub.hosts.set_level(&context.peer, request.level as u8);
        // 2026-07-28 upstreams get the level with each request instead (see `input`).
        let sessions = self
            .hub
            .live()
            .filter(|(_, s)| s.serves_logging() && !super::input::speaks_2026(s));
        let results = join_all(sessions.map(|(_, s)| s.set_log_level(request.level))).await;
        for failure in results.into_iter().filter_map(Result::err) {
            tracing::warn!("{}", failure.message);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_progress_token_and_protocol_keys_stay_home() {
        let meta: RequestMetaObject = serde_json::from_value(json!({
            "progressToken": 7,
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "trace": "abc"
        }))
        .unwrap();
        let relayed = serde_json::to_value(relayed_meta(Some(meta))).unwrap();
        assert_eq!(relayed, json!({"trace": "abc"}));
        let only_ours: RequestMetaObject =
            serde_json::from_value(json!({"progressToken": 7})).unwrap();
        assert_eq!(relayed_meta(Some(only_ours)), None);
    }
}
