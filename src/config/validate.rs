//! What a config file must satisfy before any server is used: names that are unique and
//! fit for tool prefixes, one transport per server, settings in range (timeouts within a
//! day). Every error is located at the server's entry in the file, or at the bad key in it.

use std::path::Path;

use super::errors::{locate_nth, valid_name};
use super::raw::{Entry, RawServer};
use super::{Config, PROTOCOL_VERSIONS};
use crate::exit::Failure;

/// Check every entry, in file order; the first problem is the error.
pub(super) fn entries(config: &Config, path: &Path, entries: &[Entry]) -> Result<(), Failure> {
    for (i, entry) in entries.iter().enumerate() {
        let raw = &entry.raw;
        let at = format!("name: {}", raw.name);
        let anchor = if config.text.contains(&at) {
            at.clone()
        } else {
            format!("\"{}\"", raw.name)
        };
        let located = |message: String| config.error_at(&anchor, &message);
        if !valid_name(&raw.name) {
            return Err(located(format!(
                "server name `{}` must be letters, digits, `_` or `-` (and not contain `__`)",
                raw.name
            )));
        }
        if entries[..i].iter().any(|e| e.raw.name == raw.name) {
            let place = locate_nth(&config.text, &at, 2)
                .map(|(line, column)| format!("{}:{line}:{column}: ", path.display()))
                .unwrap_or_default();
            return Err(Failure::config(format!(
                "{place}server name `{}` is used twice",
                raw.name
            )));
        }
        transport(raw).map_err(&located)?;
        settings(raw).map_err(&located)?;
        if let Some(secs) = raw.timeout_secs
            && crate::durations::timeout(secs).is_none()
        {
            let message = crate::durations::timeout_message("timeout_secs", secs);
            return Err(config.error_at_after(
                &anchor,
                "timeout_secs",
                &format!("server `{}`: {message}", raw.name),
            ));
        }
    }
    Ok(())
}

/// The `llm:` section's numbers in range (`timeout_secs` within a day), located at the key.
pub(super) fn llm(config: &Config) -> Result<(), Failure> {
    if let Some(secs) = config.llm.timeout_secs
        && crate::durations::timeout(secs).is_none()
    {
        let anchor = if config.text.contains("\"llm\"") {
            "\"llm\""
        } else {
            "llm:"
        };
        let message = crate::durations::timeout_message("llm.timeout_secs", secs);
        return Err(config.error_at_after(anchor, "timeout_secs", &message));
    }
    Ok(())
}

/// Exactly one of `url` and `command`, and a command that is not blank.
fn transport(raw: &RawServer) -> Result<(), String> {
    match (&raw.url, &raw.command) {
        (Some(_), Some(_)) => Err(format!(
            "server `{}` has both `url` and `command`; use one",
            raw.name
        )),
        (None, None) => Err(format!(
            "server `{}` needs `url` (HTTP) or `command` (stdio)",
            raw.name
        )),
        (None, Some(command)) if command.trim().is_empty() => {
            Err(format!("server `{}` has an empty `command`", raw.name))
        }
        _ => Ok(()),
    }
}

/// A known protocol revision and a message cap of at least a byte.
fn settings(raw: &RawServer) -> Result<(), String> {
    if let Some(version) = &raw.protocol_version
        && !PROTOCOL_VERSIONS.contains(&version.as_str())
    {
        return Err(format!(
            "server `{}`: protocol_version `{version}` is not one of {}",
            raw.name,
            PROTOCOL_VERSIONS.join(", ")
        ));
    }
    if raw.idle_timeout_secs == Some(0) || raw.idle_timeout_secs.is_some_and(|s| s > 86_400 * 7) {
        return Err(format!(
            "server `{}`: idle_timeout_secs must be between 1 and 604800 (a week)",
            raw.name
        ));
    }
    if raw.max_message_bytes == Some(0) {
        return Err(format!(
            "server `{}`: max_message_bytes must be at least 1",
            raw.name
        ));
    }
    Ok(())
}
