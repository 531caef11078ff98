//! The MCP server's methods: each request of the host answered through the relay's routes
//! and lists, or by the upstream it goes to.

use futures::future::join_all;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest, CompleteRequest,
    CompleteRequestParams, CompleteResult, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, Implementation, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Reference, ServerConfig, SubscribeRequestParams,
    UnsubscribeRequestParams,
};
#[allow(deprecated)] // resources/subscribe: what 2025-era hosts and servers speak
use rmcp::model::{SubscribeRequest, UnsubscribeRequest};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::answers::{as_error, malformed, refusal, tool_error};
use super::{Relay, capabilities, completed, position, relayed_meta};
use crate::mcp::Refused;
use crate::serve::input::Answer;
use crate::serve::router::Named;

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
        crate::serve::notices::started(&self.hub, &context.peer).await;
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let (at, fresh) = position(&request, &context)?;
        let (tools, next) = self.tools(&at, fresh).await.map_err(|f| as_error(&f))?;
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
        if let Some(schema) = schema_to_check(&request, &context) {
            checked(session.name(), &name, schema, &request).await?;
        }
        let what = format!("tools/call `{name}`");
        let key = format!("tools/call {}", request.name);
        let mut params = request;
        params.name = name.into();
        params.meta = relayed_meta(params.meta);
        let asked = (what.as_str(), key.as_str());
        match crate::serve::exchange::exchange(
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
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let (at, fresh) = position(&request, &context)?;
        let (prompts, next) = self.prompts(&at, fresh).await.map_err(|f| as_error(&f))?;
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
        match crate::serve::exchange::exchange(
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
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let (at, fresh) = position(&request, &context)?;
        let (resources, next) = self.resources(&at, fresh).await.map_err(|f| as_error(&f))?;
        let mut result = ListResourcesResult::with_all_items(resources);
        result.next_cursor = next.map(|at| at.encode());
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let (at, fresh) = position(&request, &context)?;
        let (templates, next) = self.templates(&at, fresh).await.map_err(|f| as_error(&f))?;
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
        match crate::serve::exchange::exchange(
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
        crate::serve::listen::listen(&self.hub, owned, context).await
    }

    #[allow(deprecated)] // resources/subscribe: what 2025-era hosts and servers speak
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let index = self.owner_of(&request.uri).await?;
        let uri = request.uri.clone();
        if self
            .session(index)
            .is_ok_and(crate::serve::input::speaks_2026)
        {
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
        if self
            .session(index)
            .is_ok_and(crate::serve::input::speaks_2026)
        {
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
            .filter(|(_, s)| s.serves_logging() && !crate::serve::input::speaks_2026(s));
        let results = join_all(sessions.map(|(_, s)| s.set_log_level(request.level))).await;
        for failure in results.into_iter().filter_map(Result::err) {
            tracing::warn!("{}", failure.message);
        }
        Ok(())
    }
}

/// The input schema a command asked the daemon to check the call's arguments against
/// (`validate::CHECK_KEY`, in the request's `_meta`, which rmcp hands over in the context).
fn schema_to_check<'a>(
    request: &'a CallToolRequestParams,
    context: &'a RequestContext<RoleServer>,
) -> Option<&'a Value> {
    let key = crate::validate::CHECK_KEY;
    context
        .meta
        .get(key)
        .or_else(|| request.meta.as_ref().and_then(|meta| meta.get(key)))
}

/// The call's arguments checked against `schema` before anything is called: a misfit fails
/// as a direct check does; a schema that does not compile is said to be unchecked.
async fn checked(
    server: &str,
    tool: &str,
    schema: &Value,
    request: &CallToolRequestParams,
) -> Result<(), ErrorData> {
    let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
    match crate::validate::kept_check(schema, &arguments).await {
        Ok(violations) if violations.is_empty() => Ok(()),
        Ok(violations) => Err(as_error(&crate::validate::mismatch(
            server,
            tool,
            &violations,
        ))),
        Err(error) => Err(ErrorData::invalid_params(
            format!("the input schema of `{tool}` does not compile: {error}"),
            Some(json!({crate::validate::UNCHECKED_KEY: true})),
        )),
    }
}
