//! Config errors that point at the place to fix: `file:line:column`, a "did you mean" for
//! misspelt keys and names, and a minimal example when there is nothing to work with.

use std::path::Path;

use super::Config;
use crate::exit::Failure;

impl Config {
    /// A config error located at the first non-comment line containing `needle`.
    pub(super) fn error_at(&self, needle: &str, message: &str) -> Failure {
        let place = match (&self.source, locate(&self.text, needle)) {
            (Some(path), Some((line, column))) => format!("{}:{line}:{column}: ", path.display()),
            (Some(path), None) => format!("{}: ", path.display()),
            (None, _) => String::new(),
        };
        Failure::config(format!("{place}{message}"))
    }

    /// A config error at the first `needle` after the first line containing `anchor` (a key
    /// inside a section or server entry), else at `anchor`.
    pub(super) fn error_at_after(&self, anchor: &str, needle: &str, message: &str) -> Failure {
        let place = locate_after(&self.text, anchor, needle).or_else(|| locate(&self.text, anchor));
        match (&self.source, place) {
            (Some(path), Some((line, column))) => {
                Failure::config(format!("{}:{line}:{column}: {message}", path.display()))
            }
            _ => self.error_at(anchor, message),
        }
    }
}

pub(super) fn missing_config_file(path: &Path, from: &str) -> Failure {
    let failure = Failure::config(format!(
        "config file {} (named by {from}) does not exist",
        path.display()
    ));
    if from == "--config" {
        failure.hint("check the path given to --config (-c)")
    } else {
        failure.hint(
            "point $MCPCHAT_CONFIG at an existing file, or unset it to use ./mcp_servers.yaml",
        )
    }
}

/// The smallest useful config, shown inline: the user may have no checkout with an example.
const MINIMAL_CONFIG: [&str; 6] = [
    "servers:",
    "  - name: docs",
    "    url: https://example.com/mcp",
    "  - name: demo",
    "    command: python3",
    "    args: [demo_server.py]",
];

pub(super) fn no_servers_failure(source: Option<&Path>) -> Failure {
    let message = match source {
        Some(path) => format!("no MCP servers configured: {} has none", path.display()),
        None => "no MCP servers configured (no ./mcp_servers.yaml, ./mcp_servers.json or \
                 <config dir>/mcpchat/mcp_servers.yaml)"
            .to_string(),
    };
    let file = source.map_or("./mcp_servers.yaml".to_string(), |p| {
        p.display().to_string()
    });
    Failure::config(message)
        .hint(format!(
            "list servers in {file}, for example:\n    {}",
            MINIMAL_CONFIG.join("\n    ")
        ))
        .hint("or name servers on the command line: --url [NAME=]URL, --stdio \"[NAME=]COMMAND ARGS\"")
}

/// `file:line:column: message` plus a "did you mean" for unknown keys and values.
pub(super) fn syntax_failure(
    path: &Path,
    location: Option<(usize, usize)>,
    message: &str,
) -> Failure {
    // Both serde_json and yaml_serde append " at line L column C"; we print it up front.
    let message = match message.rfind(" at line ") {
        Some(pos) if location.is_some() => &message[..pos],
        _ => message,
    };
    let place = match location {
        Some((line, column)) => format!("{}:{line}:{column}", path.display()),
        None => path.display().to_string(),
    };
    // yaml_serde's guard against alias bombs ("billion laughs") names no alias: say what it is.
    let message = match message {
        "repetition limit exceeded" | "recursion limit exceeded" => format!(
            "YAML alias expansion limit exceeded ({message}): the anchors and aliases (`&name`, \
             `*name`) expand to too many nodes"
        ),
        other => other.to_string(),
    };
    let mut failure = Failure::config(format!("{place}: {message}"));
    if let Some(hint) = unknown_key_hint(&message) {
        failure = failure.hint(hint);
    }
    if message.starts_with("YAML alias expansion limit") {
        failure = failure.hint("write the repeated values out, or alias them fewer times");
    }
    failure
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" build "did you mean `a`?".
fn unknown_key_hint(message: &str) -> Option<String> {
    let what = if message.contains("unknown field") {
        "unknown field"
    } else if message.contains("unknown variant") {
        "unknown variant"
    } else {
        return None;
    };
    let after = &message[message.find(what)? + what.len()..];
    let mut quoted = after.split('`').skip(1).step_by(2);
    let unknown = quoted.next()?;
    let expected: Vec<&str> = quoted.collect();
    match suggest(unknown, &expected) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if !expected.is_empty() => Some(format!(
            "expected one of: {}",
            expected
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => None,
    }
}

/// The closest candidate by edit distance, if it is close enough to be a typo.
pub fn suggest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = input.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                *c,
            )
        })
        .filter(|(distance, c)| *distance <= (c.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(super::SEPARATOR)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// 1-based line and column of the first occurrence of `needle` outside a `#` comment line.
pub(super) fn locate(text: &str, needle: &str) -> Option<(usize, usize)> {
    locate_nth(text, needle, 1)
}

/// Like [`locate`], for the first `needle` on or after the first line containing `anchor`.
pub(super) fn locate_after(text: &str, anchor: &str, needle: &str) -> Option<(usize, usize)> {
    let (anchor_line, _) = locate(text, anchor)?;
    text.lines()
        .enumerate()
        .skip(anchor_line - 1)
        .filter(|(_, line)| !line.trim_start().starts_with('#'))
        .find_map(|(index, line)| {
            let column = line.find(needle)?;
            Some((index + 1, line[..column].chars().count() + 1))
        })
}

pub(super) fn locate_nth(text: &str, needle: &str, nth: usize) -> Option<(usize, usize)> {
    let mut seen = 0;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(column) = line.find(needle) {
            seen += 1;
            if seen == nth {
                return Some((index + 1, line[..column].chars().count() + 1));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(suggest("urll", &["name", "url", "command"]), Some("url"));
        assert_eq!(suggest("zzzzzz", &["name", "url"]), None);
        assert_eq!(
            unknown_key_hint(
                "servers[0]: unknown field `comand`, expected one of `name`, `url`, `command`"
            )
            .as_deref(),
            Some("did you mean `command`?")
        );
    }
}
