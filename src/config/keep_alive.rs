//! `keep_alive:` and `idle_timeout_secs:` of a server: whether commands reach it through the
//! per-user daemon (`daemon`), and how long the daemon keeps it without a call.
//!
//! Guarantees: a value other than `true`, `false` or `auto` is a config error located in the
//! file (exit 2); the invocation's `--keep-alive` / `--no-keep-alive` / `MCPCHAT_KEEP_ALIVE`
//! wins over every server's setting.

use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::Config;

/// Default `idle_timeout_secs`: ten minutes without a call ends a kept-alive server.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether a server is reached through the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeepAlive {
    /// Through the daemon, starting it when it is not running.
    On,
    /// Always direct.
    Off,
    /// Through the daemon only while it is running (the default).
    #[default]
    Auto,
}

/// What the daemon needs to know about one server besides how to start it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keeping {
    pub keep_alive: KeepAlive,
    pub idle_timeout: Duration,
}

impl<'de> Deserialize<'de> for KeepAlive {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeepAliveVisitor)
    }
}

struct KeepAliveVisitor;

impl Visitor<'_> for KeepAliveVisitor {
    type Value = KeepAlive;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("true, false or auto")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<KeepAlive, E> {
        Ok(if value { KeepAlive::On } else { KeepAlive::Off })
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<KeepAlive, E> {
        match value {
            "true" => Ok(KeepAlive::On),
            "false" => Ok(KeepAlive::Off),
            "auto" => Ok(KeepAlive::Auto),
            other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
        }
    }
}

impl Config {
    /// How the server named `name` is kept alive, the invocation's choice first.
    pub fn keeping(&self, name: &str) -> Keeping {
        let raw = self
            .entries
            .iter()
            .find(|e| e.raw.name == name)
            .map(|e| &e.raw);
        let keep_alive = match self.keep_alive {
            Some(true) => KeepAlive::On,
            Some(false) => KeepAlive::Off,
            None => raw.and_then(|r| r.keep_alive).unwrap_or_default(),
        };
        let idle_timeout = raw
            .and_then(|r| r.idle_timeout_secs)
            .map_or(DEFAULT_IDLE_TIMEOUT, Duration::from_secs);
        Keeping {
            keep_alive,
            idle_timeout,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct One {
        keep_alive: KeepAlive,
    }

    #[test]
    fn booleans_and_auto_are_read_and_anything_else_is_refused() {
        let read = |text: &str| serde_yaml::from_str::<One>(text).map(|o| o.keep_alive);
        assert_eq!(read("keep_alive: true").unwrap(), KeepAlive::On);
        assert_eq!(read("keep_alive: false").unwrap(), KeepAlive::Off);
        assert_eq!(read("keep_alive: auto").unwrap(), KeepAlive::Auto);
        let error = read("keep_alive: sometimes").unwrap_err().to_string();
        assert!(error.contains("expected true, false or auto"), "{error}");
    }
}
