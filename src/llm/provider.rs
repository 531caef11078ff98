//! Which model API `ask` talks to: provider presets (OpenAI, LM Studio, Ollama, llama.cpp,
//! vLLM...) with their base URL, model and key, resolved from flags > env > config file.

use std::time::Duration;

use crate::config::LlmConfig;
use crate::exit::{Failure, Kind};
use crate::redact;

/// Settings for one provider, resolved from flags > env > config file > preset.
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    /// The bound on one streamed answer as a whole (`timeout` is the gap between chunks).
    pub total_timeout: Duration,
    pub max_retries: u32,
    /// Cap on one reply (a JSON body, or one whole stream).
    pub max_reply_bytes: usize,
}

/// Provider-related flags of `ask`.
#[derive(Debug, Default, Clone)]
pub struct ProviderFlags {
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub timeout: Option<f64>,
    pub total_timeout: Option<f64>,
    pub max_retries: Option<u32>,
    pub max_reply_bytes: Option<u64>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A numeric environment variable; set but unparsable is a usage error, not silence.
pub fn env_number<T: std::str::FromStr>(name: &str) -> Result<Option<T>, Failure> {
    match env(name) {
        None => Ok(None),
        Some(value) => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Failure::usage(format!("${name} must be a number, not `{value}`"))),
    }
}

/// A string environment variable (unset or blank is `None`).
pub fn env_text(name: &str) -> Option<String> {
    env(name)
}

impl Provider {
    pub fn resolve(flags: &ProviderFlags, config: &LlmConfig) -> Result<Provider, Failure> {
        let name = flags
            .provider
            .clone()
            .or_else(|| env("MCPCHAT_PROVIDER"))
            .or_else(|| config.provider.clone())
            .unwrap_or_else(|| "openai".to_string())
            .to_ascii_lowercase();
        // The file's base_url, model and key describe the file's provider: when a flag or the
        // environment picks another one, they must not leak into it (an OpenAI key sent to a
        // local server, say).
        let file_provider = config
            .provider
            .as_deref()
            .unwrap_or("openai")
            .to_ascii_lowercase();
        let same_provider = file_provider == name;
        let file = |value: &Option<String>| value.clone().filter(|_| same_provider);
        let preset = Preset::named(&name)?;
        let base_url = flags
            .base_url
            .clone()
            .or_else(|| env("MCPCHAT_BASE_URL"))
            .or_else(|| env(preset.base_env))
            .or_else(|| file(&config.base_url))
            .or_else(|| preset.base_url.map(str::to_string))
            .ok_or_else(|| {
                Failure::usage(format!("provider `{name}` needs a base URL")).hint(
                    "pass --base-url URL, set MCPCHAT_BASE_URL, or `llm.base_url` in the config",
                )
            })?;
        let model = flags
            .model
            .clone()
            .or_else(|| env("MCPCHAT_MODEL"))
            .or_else(|| env(preset.model_env))
            .or_else(|| file(&config.model))
            .or_else(|| preset.model.map(str::to_string))
            .ok_or_else(|| {
                Failure::usage(format!("provider `{name}` needs a model name"))
                    .hint("pass --model NAME, set MCPCHAT_MODEL, or `llm.model` in the config")
            })?;
        let api_key = api_key(&name, &preset, file(&config.api_key_env))?;
        // Gateways take keys in the URL too (`?api-key=...`, `https://user:key@host/v1`).
        redact::register_url(&base_url);
        let (timeout, max_retries) = limits(flags, config)?;
        let max_reply_bytes = max_reply_bytes(flags, config)?;
        Ok(Provider {
            name,
            base_url: base_url.trim_end_matches('/').to_string(),
            model,
            api_key,
            timeout,
            total_timeout: total_timeout(flags, config)?,
            max_retries,
            max_reply_bytes,
        })
    }
}

/// A provider's defaults and the environment variables it reads.
struct Preset {
    base_env: &'static str,
    base_url: Option<&'static str>,
    model_env: &'static str,
    model: Option<&'static str>,
    key_env: Option<&'static str>,
    key_required: bool,
}

impl Preset {
    fn named(name: &str) -> Result<Preset, Failure> {
        let local = |prefix: &'static [&'static str; 3], url, model| Preset {
            base_env: prefix[0],
            base_url: Some(url),
            model_env: prefix[1],
            model: Some(model),
            key_env: Some(prefix[2]),
            key_required: false,
        };
        Ok(match name {
            "openai" => Preset {
                base_env: "OPENAI_BASE_URL",
                base_url: Some("https://api.openai.com/v1"),
                model_env: "MODEL",
                model: Some("gpt-4o-mini"),
                key_env: Some("OPENAI_API_KEY"),
                key_required: true,
            },
            "lmstudio" => local(
                &["LMSTUDIO_BASE_URL", "LMSTUDIO_MODEL", "LMSTUDIO_API_KEY"],
                "http://localhost:1234/v1",
                "local-model",
            ),
            "ollama" => local(
                &["OLLAMA_BASE_URL", "OLLAMA_MODEL", "OLLAMA_API_KEY"],
                "http://localhost:11434/v1",
                "llama3.2",
            ),
            "custom" => Preset {
                base_env: "MCPCHAT_BASE_URL",
                base_url: None,
                model_env: "MODEL",
                model: None,
                key_env: None,
                key_required: false,
            },
            other => {
                let mut failure = Failure::usage(format!("unknown model provider `{other}`"));
                if let Some(best) =
                    crate::config::suggest(other, &["openai", "lmstudio", "ollama", "custom"])
                {
                    failure = failure.hint(format!("did you mean `{best}`?"));
                }
                return Err(failure.hint("providers: openai, lmstudio, ollama, custom"));
            }
        })
    }
}

/// The API key: `MCPCHAT_API_KEY`, else the variable the config or the preset names (exit 3
/// when the provider needs one and there is none). Registered for masking.
fn api_key(
    name: &str,
    preset: &Preset,
    file_key_env: Option<String>,
) -> Result<Option<String>, Failure> {
    let key_var = env("MCPCHAT_API_KEY_ENV")
        .or(file_key_env)
        .or_else(|| preset.key_env.map(str::to_string));
    let api_key = env("MCPCHAT_API_KEY").or_else(|| key_var.as_deref().and_then(env));
    if api_key.is_none() && preset.key_required {
        let var = key_var.unwrap_or_else(|| "OPENAI_API_KEY".to_string());
        return Err(Failure::new(
            Kind::Auth,
            format!("no API key for the `{name}` model provider: {var} is not set"),
        )
        .hint(format!("export {var}=... (or put it in ./.env)"))
        .hint("for a local server use --provider lmstudio, ollama or custom"));
    }
    if let Some(key) = &api_key {
        redact::register(key);
    }
    Ok(api_key)
}

/// The request timeout and the number of retries: flag, environment, config, default.
fn limits(flags: &ProviderFlags, config: &LlmConfig) -> Result<(Duration, u32), Failure> {
    // The first source that sets it wins, and an error names that source.
    let (timeout, source) = match (
        flags.timeout,
        env_number::<f64>("MCPCHAT_LLM_TIMEOUT")?,
        config.timeout_secs,
    ) {
        (Some(secs), _, _) => (secs, "--llm-timeout"),
        (None, Some(secs), _) => (secs, "$MCPCHAT_LLM_TIMEOUT"),
        (None, None, Some(secs)) => (secs, "llm.timeout_secs"),
        (None, None, None) => (300.0, "the default model API timeout"),
    };
    let timeout = crate::durations::timeout(timeout)
        .ok_or_else(|| Failure::usage(crate::durations::timeout_message(source, timeout)))?;
    let max_retries = flags
        .max_retries
        .or(env_number("MCPCHAT_LLM_MAX_RETRIES")?)
        .or(config.max_retries)
        .unwrap_or(3);
    Ok((timeout, max_retries))
}

/// The bound on a whole streamed answer: flag, environment, config, default (10 minutes, so
/// that a stream that trickles forever still ends).
fn total_timeout(flags: &ProviderFlags, config: &LlmConfig) -> Result<Duration, Failure> {
    let total = flags
        .total_timeout
        .or(env_number("MCPCHAT_LLM_TOTAL_TIMEOUT")?)
        .or(config.total_timeout_secs)
        .unwrap_or(600.0);
    if !(total.is_finite() && total > 0.0) {
        return Err(Failure::usage(
            "the model API total timeout must be a positive number of seconds",
        ));
    }
    Ok(Duration::from_secs_f64(total))
}

/// The cap on one reply: flag, environment, config, default (16 MiB). Its own setting, not
/// `max_message_bytes`: that one caps what MCP servers send, and raising it for a big tool
/// result should not also let the model API send more.
fn max_reply_bytes(flags: &ProviderFlags, config: &LlmConfig) -> Result<usize, Failure> {
    let (bytes, from) = if let Some(bytes) = flags.max_reply_bytes {
        (bytes, "--llm-max-reply-bytes")
    } else if let Some(bytes) = env_number("MCPCHAT_LLM_MAX_REPLY_BYTES")? {
        (bytes, "$MCPCHAT_LLM_MAX_REPLY_BYTES")
    } else if let Some(bytes) = config.max_reply_bytes {
        (bytes, "llm.max_reply_bytes")
    } else {
        return Ok(super::capped::DEFAULT_MAX_REPLY_BYTES);
    };
    if bytes == 0 {
        return Err(Failure::usage(format!("{from} must be at least 1")));
    }
    Ok(usize::try_from(bytes).unwrap_or(usize::MAX))
}
