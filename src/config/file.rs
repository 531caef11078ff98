//! The file formats we read: our own YAML/JSON (`servers:` list, `llm:`), and the Claude
//! Desktop / VS Code files (`mcpServers` / `servers` maps), into entries not yet expanded.

use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

use super::errors::syntax_failure;
use super::raw::{Entry, RawFile, RawMcpServer, RawServer};
use super::{Config, DEFAULT_CACHE_TTL_SECS, validate};
use crate::exit::Failure;

pub(super) fn parse_file(path: &Path) -> Result<Config, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::config(format!("cannot read config file {}: {e}", path.display())))?;
    // Editors on Windows save a UTF-8 byte order mark; neither parser accepts one.
    let text = match text.strip_prefix('\u{feff}') {
        Some(stripped) => stripped.to_string(),
        None => text,
    };
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if let Some(raw) = parse_client_format(path, &text, is_json)? {
        return build(path, text, raw);
    }
    let raw: RawFile = if is_json {
        serde_json::from_str(&text)
            .map_err(|e| syntax_failure(path, Some((e.line(), e.column())), &e.to_string()))?
    } else if text.trim().is_empty() {
        RawFile::default()
    } else {
        serde_yaml::from_str(&text).map_err(|e| {
            let location = e.location().map(|l| (l.line(), l.column()));
            syntax_failure(path, location, &e.to_string())
        })?
    };
    build(path, text, raw)
}

/// Claude Desktop (`{"mcpServers": {...}}`) and VS Code (`{"servers": {name: {...}}}`) files.
/// They carry keys of their own (e.g. `globalShortcut`, `inputs`), so unknown keys are ignored.
fn parse_client_format(path: &Path, text: &str, is_json: bool) -> Result<Option<RawFile>, Failure> {
    #[derive(Deserialize)]
    struct ClientFile {
        #[serde(default, rename = "mcpServers")]
        mcp_servers: IndexMap<String, RawMcpServer>,
        #[serde(default)]
        servers: IndexMap<String, RawMcpServer>,
    }
    // A file that does not parse at all is reported as such here: swallowing the error would
    // surface later as a misleading one (an alias-expansion limit as "unknown field").
    let value: serde_json::Value = if is_json {
        serde_json::from_str(text)
            .map_err(|e| syntax_failure(path, Some((e.line(), e.column())), &e.to_string()))?
    } else if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_yaml::from_str(text).map_err(|e| {
            let location = e.location().map(|l| (l.line(), l.column()));
            syntax_failure(path, location, &e.to_string())
        })?
    };
    let is_client_format = value.get("mcpServers").is_some_and(|v| v.is_object())
        || value.get("servers").is_some_and(|v| v.is_object());
    if !is_client_format {
        return Ok(None);
    }
    let parsed: ClientFile = if is_json {
        serde_json::from_str(text)
            .map_err(|e| syntax_failure(path, Some((e.line(), e.column())), &e.to_string()))?
    } else {
        serde_yaml::from_str(text).map_err(|e| {
            syntax_failure(
                path,
                e.location().map(|l| (l.line(), l.column())),
                &e.to_string(),
            )
        })?
    };
    let mut mcp_servers = parsed.mcp_servers;
    mcp_servers.extend(parsed.servers);
    let llm = match value.get("llm") {
        Some(llm) => Some(
            serde_json::from_value(llm.clone())
                .map_err(|e| Failure::config(format!("{}: llm: {e}", path.display())))?,
        ),
        None => None,
    };
    Ok(Some(RawFile {
        servers: Vec::new(),
        mcp_servers,
        llm,
        cache_ttl_secs: None,
        token_store: None,
    }))
}

fn build(path: &Path, text: String, raw: RawFile) -> Result<Config, Failure> {
    let mut config = Config {
        source: Some(path.to_path_buf()),
        text,
        llm: raw.llm.clone().unwrap_or_default(),
        cache_ttl: Duration::from_secs(raw.cache_ttl_secs.unwrap_or(DEFAULT_CACHE_TTL_SECS)),
        token_store: raw.token_store.clone(),
        ..Config::default()
    };
    let mut entries: Vec<Entry> = Vec::new();
    for server in raw.servers {
        let enabled = server.enabled.unwrap_or(true);
        entries.push(Entry {
            raw: server,
            enabled,
        });
    }
    for (name, server) in raw.mcp_servers {
        entries.push(Entry {
            enabled: !server.disabled,
            raw: from_client_format(name, server),
        });
    }
    validate::entries(&config, path, &entries)?;
    validate::llm(&config)?;
    config.entries = entries;
    Ok(config)
}

/// An `mcpServers` entry in our own shape: only what those files can say.
fn from_client_format(name: String, server: RawMcpServer) -> RawServer {
    RawServer {
        name,
        url: server.url,
        command: server.command,
        args: server.args,
        env: server.env,
        cwd: server.cwd,
        headers: server.headers,
        ..RawServer::default()
    }
}

/// Property tests over what a config file's author feeds us.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn a_byte_order_mark_never_changes_how_a_file_parses(
            text in "[a-z:\\[\\]{}\",&*\\- \n]{0,80}",
            json in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let name = if json { "c.json" } else { "c.yaml" };
            let plain = dir.path().join(name);
            let marked = dir.path().join(format!("bom-{name}"));
            std::fs::write(&plain, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            std::fs::write(&marked, format!("\u{feff}{text}"))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let outcome = |path: &Path| match parse_file(path) {
                Ok(config) => Ok(config.server_names().join(",")),
                Err(failure) => Err(failure.code()),
            };
            prop_assert_eq!(outcome(&plain), outcome(&marked));
        }

        /// Whatever number a config's duration keys hold, loading either gives durations
        /// within bounds or is a config error (exit 2): never a panic.
        #[test]
        fn any_number_in_a_duration_key_loads_within_bounds_or_is_exit_2(
            number in prop_oneof![
                any::<f64>().prop_map(|f| format!("{f:?}")),
                any::<i64>().prop_map(|i| i.to_string()),
                any::<u64>().prop_map(|u| u.to_string()),
                "(\\.inf|-\\.inf|\\.nan|1e400|-0|0x10|\"5\")",
            ],
            key in prop_oneof!["timeout_secs", "llm_timeout", "cache_ttl_secs"],
        ) {
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let path = dir.path().join("c.yaml");
            let (server, top) = match key.as_str() {
                "timeout_secs" => (format!("    timeout_secs: {number}\n"), String::new()),
                "llm_timeout" => (String::new(), format!("llm:\n  timeout_secs: {number}\n")),
                _ => (String::new(), format!("cache_ttl_secs: {number}\n")),
            };
            let text = format!("servers:\n  - name: demo\n    command: demo\n{server}{top}");
            std::fs::write(&path, text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            match parse_file(&path) {
                Ok(config) => {
                    let demo = config.server("demo").map_err(|f| TestCaseError::fail(f.message))?;
                    prop_assert!(demo.timeout <= Duration::from_secs(86_400));
                    let llm_ok = config
                        .llm
                        .timeout_secs
                        .is_none_or(|t| crate::durations::timeout(t).is_some());
                    prop_assert!(llm_ok);
                }
                Err(failure) => prop_assert!(matches!(failure.code(), crate::exit::Code::Usage)),
            }
        }
    }
}
