//! Sending a chat completion: bounded by a timeout, retried on 429/5xx and connection errors
//! with exponential backoff and jitter (honouring `Retry-After`), and the API's errors turned
//! into `Failure`s that say what went wrong where.

use std::time::Duration;

use serde_json::Value;

use super::capped::{self, BodyError};
use super::reply::{Turn, parse_completion};
use super::{ChatRequest, Client, Provider};
use crate::exit::{Failure, Kind};
use crate::redact;

impl Client {
    /// Send with retries. `Err(Rejected)` carries a final HTTP status for the fallback logic;
    /// other failures are already classified.
    pub(super) async fn request(
        &self,
        request: &ChatRequest<'_>,
        on_delta: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Result<Turn, Failure>, Rejected> {
        let stream = request.stream;
        let url = format!("{}/chat/completions", self.provider.base_url);
        let body = self.body(request);
        let mut attempt = 0u32;
        loop {
            let mut request = self.http.post(&url).json(&body);
            if let Some(key) = &self.provider.api_key {
                request = request.bearer_auth(key);
            }
            if !stream {
                request = request.timeout(self.provider.timeout);
            }
            let sent = tokio::time::timeout(self.provider.timeout, request.send()).await;
            let retry_after = match sent {
                Err(_) => return Ok(Err(self.timeout_failure())),
                Ok(Err(error)) if error.is_timeout() => return Ok(Err(self.timeout_failure())),
                // Retrying cannot make a certificate trusted.
                Ok(Err(error)) if crate::mcp::classify::untrusted_certificate(&error).is_some() => {
                    return Ok(Err(self.unreachable(&error)));
                }
                Ok(Err(error)) => {
                    if attempt >= self.provider.max_retries {
                        return Ok(Err(self.unreachable(&error)));
                    }
                    tracing::info!(
                        "model API request failed ({}); retrying",
                        redact::text(&error.to_string())
                    );
                    None
                }
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    if response.status().is_success() {
                        return Ok(if stream {
                            self.read_stream(response, on_delta).await
                        } else {
                            self.read_json(response).await
                        });
                    }
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    let text =
                        tokio::time::timeout(Duration::from_secs(10), capped::error_text(response))
                            .await
                            .unwrap_or_default();
                    let message = error_message(&text);
                    if !matches!(status, 429 | 500 | 502 | 503 | 504)
                        || attempt >= self.provider.max_retries
                    {
                        return Err(Rejected { status, message });
                    }
                    tracing::info!(status, "model API answered HTTP {status}; retrying");
                    retry_after
                }
            };
            // Never wait longer for a retry than for an answer: the user's timeout bounds
            // what a server's `Retry-After` can make us sit through.
            let delay = retry_after
                .map(|asked| asked.min(self.provider.timeout))
                .unwrap_or_else(|| backoff(attempt));
            attempt += 1;
            tokio::time::sleep(delay).await;
        }
    }

    pub(super) async fn read_json(&self, response: reqwest::Response) -> Result<Turn, Failure> {
        let body = match capped::read_body(response, self.provider.max_reply_bytes).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => return Err(self.too_large()),
            Err(BodyError::Broken(e)) if e.is_timeout() => return Err(self.timeout_failure()),
            Err(BodyError::Broken(e)) => {
                return Err(self.protocol(&format!("the response was cut off: {e}")));
            }
        };
        if let Err(costly) = crate::json_cost::check(&body, self.provider.max_reply_bytes) {
            return Err(self.too_costly(&costly));
        }
        let text = String::from_utf8_lossy(&body);
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            self.protocol(&format!(
                "the response is not valid JSON ({e}): {}",
                preview(&text)
            ))
        })?;
        parse_completion(&value).ok_or_else(|| {
            self.protocol(&format!("the response has no choices: {}", preview(&text)))
        })
    }

    pub(super) fn timeout_failure(&self) -> Failure {
        Failure::new(
            Kind::Timeout,
            format!(
                "timed out after {} waiting for the model API at {}",
                crate::human::duration(self.provider.timeout),
                redact::url(&self.provider.base_url)
            ),
        )
        .hint("raise it with --llm-timeout SECS (or llm.timeout_secs)")
    }

    pub(super) fn unreachable(&self, error: &reqwest::Error) -> Failure {
        if let Some(why) = crate::mcp::classify::untrusted_certificate(error) {
            return Failure::new(
                Kind::Unreachable,
                format!(
                    "the TLS certificate of the model API at {} is not trusted: {why}",
                    redact::url(&self.provider.base_url)
                ),
            )
            .hint(crate::mcp::classify::CA_HINT);
        }
        let mut source: &dyn std::error::Error = error;
        while let Some(next) = source.source() {
            source = next;
        }
        let mut failure = Failure::new(
            Kind::Unreachable,
            format!(
                "cannot reach the model API at {}: {}",
                redact::url(&self.provider.base_url),
                redact::text(&source.to_string())
            ),
        );
        failure = match self.provider.name.as_str() {
            "lmstudio" => {
                failure.hint("is LM Studio's server running? (Developer tab -> Start Server)")
            }
            "ollama" => failure.hint("is Ollama running? (`ollama serve`)"),
            _ => failure.hint("check --base-url / OPENAI_BASE_URL"),
        };
        failure
    }

    pub(super) fn protocol(&self, what: &str) -> Failure {
        Failure::new(
            Kind::Protocol,
            format!(
                "invalid response from the model API at {}: {what}",
                redact::url(&self.provider.base_url)
            ),
        )
    }
}

/// A final non-success HTTP status from the model API.
pub(super) struct Rejected {
    pub(super) status: u16,
    pub(super) message: String,
}

impl Rejected {
    pub(super) fn into_failure(self, provider: &Provider) -> Failure {
        let Rejected { status, message } = self;
        let base = redact::url(&provider.base_url);
        let message = redact::text(&message);
        match status {
            401 | 403 => Failure::new(
                Kind::Auth,
                format!("the model API at {base} rejected the API key (HTTP {status}): {message}"),
            )
            .hint(match provider.name.as_str() {
                "openai" => "check OPENAI_API_KEY (or the variable named by llm.api_key_env)",
                _ => "check the API key variable named by llm.api_key_env",
            }),
            404 => Failure::new(
                Kind::ModelError,
                format!("the model API at {base} answered HTTP 404: {message}"),
            )
            .hint(format!(
                "check the base URL (it usually ends in /v1) and the model name `{}`",
                provider.model
            )),
            _ => Failure::new(
                Kind::ModelError,
                format!("the model API at {base} answered HTTP {status}: {message}"),
            ),
        }
    }
}

/// `error.message` from an OpenAI-style error body, else the body's start.
pub(super) fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error").and_then(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| e.as_str().map(str::to_string))
            })
        })
        .unwrap_or_else(|| preview(body))
}

pub(super) fn preview(text: &str) -> String {
    let text = text.trim();
    let cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

/// The longest wait a model API can ask for with `Retry-After`.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// `Retry-After` as seconds or an HTTP date, clamped to `0..=60 s`: the value is the
/// server's, so `inf`, `1e400`, `NaN` and negatives are clamped rather than trusted.
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return Some(crate::durations::clamp_secs_f64(seconds, MAX_RETRY_AFTER));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let delay = when
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    Some(delay.min(MAX_RETRY_AFTER))
}

/// 0.5 s, 1 s, 2 s, ... up to 10 s, each with +-50% jitter.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = 0.5 * 2f64.powi(attempt.min(5) as i32);
    let base = base.min(10.0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = 0.5 + f64::from(nanos % 1000) / 1000.0;
    Duration::from_secs_f64(base * jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("9999"), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn retry_after_from_a_hostile_server_is_clamped_not_a_panic() {
        let minute = Some(Duration::from_secs(60));
        assert_eq!(parse_retry_after("1e400"), minute);
        assert_eq!(parse_retry_after("inf"), minute);
        assert_eq!(parse_retry_after("1e20"), minute);
        assert_eq!(parse_retry_after("NaN"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-3"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT"), minute);
    }

    proptest::proptest! {
        #[test]
        fn any_retry_after_value_is_at_most_a_minute(value in "\\PC{0,40}") {
            if let Some(delay) = parse_retry_after(&value) {
                proptest::prop_assert!(delay <= Duration::from_secs(60));
            }
        }

        #[test]
        fn any_numeric_retry_after_is_at_most_a_minute(seconds in proptest::num::f64::ANY) {
            let delay = parse_retry_after(&seconds.to_string());
            proptest::prop_assert!(delay.is_some_and(|d| d <= Duration::from_secs(60)));
        }
    }
}
