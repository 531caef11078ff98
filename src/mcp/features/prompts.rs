//! Prompts, argument completion and log levels on a live [`Session`]: each request bounded by the
//! server's timeout, its failure classified like any other request.

use std::collections::HashMap;

use rmcp::model::{
    ArgumentInfo, CompleteRequestParams, CompletionContext, CompletionInfo, GetPromptRequestParams,
    GetPromptResult, Reference,
};
use serde_json::{Map, Value};

use crate::exit::Failure;
use crate::mcp::Session;

/// What an argument completion is for: a prompt's argument or a resource template's variable.
pub enum CompletionTarget<'a> {
    Prompt(&'a str),
    Template(&'a str),
}

impl Session {
    /// Whether the server declared the prompts capability (servers without it are skipped
    /// rather than asked and failing with "method not found").
    pub fn serves_prompts(&self) -> bool {
        self.client
            .peer()
            .peer_info()
            .is_none_or(|info| info.capabilities.prompts.is_some())
    }

    /// Whether the server declared the logging capability.
    pub fn serves_logging(&self) -> bool {
        self.client
            .peer()
            .peer_info()
            .is_some_and(|info| info.capabilities.logging.is_some())
    }

    /// `prompts/get` with string arguments.
    pub async fn get_prompt(
        &self,
        prompt: &str,
        arguments: &Map<String, Value>,
    ) -> Result<GetPromptResult, Failure> {
        let mut params = GetPromptRequestParams::new(prompt);
        if !arguments.is_empty() {
            params.arguments = Some(arguments.clone());
        }
        self.bounded(
            &format!("prompts/get `{prompt}`"),
            self.client.get_prompt(params),
        )
        .await
    }

    /// `completion/complete` for one argument, with the values already chosen as context.
    pub async fn complete(
        &self,
        target: CompletionTarget<'_>,
        argument: &str,
        value: &str,
        context: HashMap<String, String>,
    ) -> Result<CompletionInfo, Failure> {
        let (reference, what) = match target {
            CompletionTarget::Prompt(name) => (Reference::for_prompt(name), name),
            CompletionTarget::Template(uri) => (Reference::for_resource(uri), uri),
        };
        let mut params = CompleteRequestParams::new(reference, ArgumentInfo::new(argument, value));
        if !context.is_empty() {
            params = params.with_context(CompletionContext::with_arguments(context));
        }
        let result = self
            .bounded(
                &format!("completion/complete `{what}` `{argument}`"),
                self.client.peer().complete(params),
            )
            .await?;
        Ok(result.completion)
    }

    /// Send `--log-level` to a server that declared logging; a refusal is only a warning.
    pub(in crate::mcp) async fn apply_log_level(&self, level: crate::mcp::LogLevel) {
        if !self.serves_logging() {
            tracing::debug!(server = %self.name(), "no logging capability; --log-level not sent");
            return;
        }
        let name = clap::ValueEnum::to_possible_value(&level)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        #[allow(deprecated)]
        let Ok(level) = serde_json::from_value(Value::String(name)) else {
            return;
        };
        if let Err(failure) = self.set_log_level(level).await {
            tracing::warn!("{}", failure.message);
        }
    }

    /// `logging/setLevel`. Deprecated in 2026-07-28 (SEP-2577), still how 2025-era servers
    /// are asked for more or fewer log notifications.
    #[allow(deprecated)]
    pub async fn set_log_level(&self, level: rmcp::model::LoggingLevel) -> Result<(), Failure> {
        let params = rmcp::model::SetLevelRequestParams::new(level);
        self.bounded("logging/setLevel", self.client.peer().set_level(params))
            .await
    }
}
