//! The `llm:` section of the config file: which model `ask` talks to and how.

use std::path::PathBuf;

use serde::Deserialize;

use super::Config;
use crate::exit::Failure;

/// The `llm:` section, used by `ask`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key_env: Option<String>,
    pub system_prompt: Option<String>,
    pub max_steps: Option<u32>,
    pub temperature: Option<f64>,
    pub timeout_secs: Option<f64>,
    /// The bound on one streamed answer as a whole (`timeout_secs` is the gap between chunks).
    pub total_timeout_secs: Option<f64>,
    pub max_retries: Option<u32>,
    /// Cap in bytes on one reply of the model API (a JSON body or a whole stream).
    pub max_reply_bytes: Option<u64>,
    /// `ask --session`: leave the oldest exchanges out beyond this many tokens (estimated).
    pub max_history_tokens: Option<u64>,
    /// Whether servers' sampling requests are answered by this model (`allow`) or refused.
    pub sampling: Option<crate::mcp::features::sampling::Sampling>,
    /// PEM file of extra CA certificates trusted for the model API (besides the system's).
    pub ca_file: Option<String>,
    /// Whether the model accepts images: `ask` then sends a tool's PNG, JPEG, GIF and WebP
    /// images to it as image parts (else a one-line description of each).
    pub images: Option<bool>,
}

impl Config {
    /// `llm.ca_file`, `${VAR}`-expanded and relative to the config file.
    pub fn llm_ca_file(&self) -> Result<Option<PathBuf>, Failure> {
        match &self.llm.ca_file {
            Some(file) => Ok(Some(self.relative_to_file(&self.expand(file)?))),
            None => Ok(None),
        }
    }
}
