//! Completion candidates for the arguments that name a server or a tool: `cli` declares them
//! with those arguments (`ArgValueCandidates`), `shell`'s completion callback offers them.
//! Completing reads the config file and the discovery cache only: it never connects to a
//! server.

use std::ffi::OsString;
use std::path::PathBuf;

use clap_complete::engine::CompletionCandidate;

use crate::config::{Config, Overrides};

/// Candidates for `--server` and the SERVER arguments of `auth`: the names in the config file
/// mcpchat would use, read without expanding or contacting anything.
pub fn server_candidates() -> Vec<CompletionCandidate> {
    configured_servers()
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

/// Candidates for the NAME of `tools call`: each server's tools as the discovery cache knows
/// them (no server is contacted), else the server's `server__` prefix.
pub fn tool_candidates() -> Vec<CompletionCandidate> {
    let Some(config) = completion_config() else {
        return Vec::new();
    };
    let cached = CachedTools::open(&config);
    let mut candidates = Vec::new();
    for server in config.server_names() {
        let known = cached
            .as_ref()
            .map(|cached| cached.names(&config, server))
            .unwrap_or_default();
        if known.is_empty() {
            candidates.push(format!("{server}{}", crate::config::SEPARATOR));
        }
        candidates.extend(known);
    }
    candidates
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

/// The discovery cache as completion reads it: fresh entries only, never written.
struct CachedTools {
    cache: crate::cache::Cache,
    store: crate::auth::store::TokenStore,
}

impl CachedTools {
    fn open(config: &Config) -> Option<CachedTools> {
        Some(CachedTools {
            cache: crate::cache::Cache::locate(crate::cache::Mode::Normal, config.cache_ttl),
            store: crate::auth::store::TokenStore::locate(None, config.token_store.as_deref())
                .ok()?,
        })
    }

    /// `server__tool` for each cached tool of `server` that its allow/deny globs permit.
    fn names(&self, config: &Config, server: &str) -> Vec<String> {
        let Ok(resolved) = config.server(server) else {
            return Vec::new();
        };
        let key = crate::cache::Key::of(&resolved, &self.store);
        self.cache
            .tools(&key)
            .unwrap_or_default()
            .into_iter()
            .filter(|tool| resolved.tools.permits(&tool.name))
            .map(|tool| format!("{server}{}{}", crate::config::SEPARATOR, tool.name))
            .collect()
    }
}

fn completion_config() -> Option<Config> {
    let overrides = Overrides {
        config: config_flag(std::env::args_os()),
        ..Overrides::default()
    };
    Config::load(&overrides).ok()
}

fn configured_servers() -> Vec<String> {
    completion_config()
        .map(|config| {
            config
                .server_names()
                .into_iter()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The `--config`/`-c` value on the command line being completed, if any.
fn config_flag(args: impl Iterator<Item = OsString>) -> Option<PathBuf> {
    let args: Vec<OsString> = args.collect();
    let mut found = None;
    for (i, arg) in args.iter().enumerate() {
        let text = arg.to_string_lossy();
        if let Some(value) = text.strip_prefix("--config=") {
            found = Some(PathBuf::from(value));
        } else if (text == "--config" || text == "-c")
            && let Some(value) = args.get(i + 1)
        {
            found = Some(PathBuf::from(value));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_config_flag_in_every_spelling() {
        let args = |list: &[&str]| {
            list.iter()
                .map(OsString::from)
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert_eq!(
            config_flag(args(&["mcpchat", "--", "mcpchat", "-c", "a.yaml", "tools"])),
            Some(PathBuf::from("a.yaml"))
        );
        assert_eq!(
            config_flag(args(&["mcpchat", "--config=b.json", "-s"])),
            Some(PathBuf::from("b.json"))
        );
        assert_eq!(config_flag(args(&["mcpchat", "tools", "list"])), None);
    }
}
