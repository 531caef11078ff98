//! Servers named on the command line (`--url [NAME=]URL`, `--stdio "[NAME=]COMMAND ARGS"`,
//! `--header`), given readable, unique names when none is written.

use indexmap::IndexMap;

use super::Overrides;
use super::errors::valid_name;
use super::raw::{Entry, RawServer, Scalar};
use crate::exit::Failure;
use crate::redact;

/// Servers from `--url` and `--stdio`.
pub(super) fn ad_hoc_entries(overrides: &Overrides) -> Result<Vec<Entry>, Failure> {
    let headers = headers(overrides)?;
    let mut entries: Vec<Entry> = Vec::new();
    for spec in &overrides.urls {
        let raw = url_server(spec, &headers, &entries)?;
        entries.push(Entry { raw, enabled: true });
    }
    for spec in &overrides.stdio {
        let raw = stdio_server(spec, &entries)?;
        entries.push(Entry { raw, enabled: true });
    }
    Ok(entries)
}

/// `--header Name: value`, sent to every `--url` server.
fn headers(overrides: &Overrides) -> Result<IndexMap<String, Scalar>, Failure> {
    let mut headers = IndexMap::new();
    for header in &overrides.headers {
        let Some((key, value)) = header.split_once(':') else {
            return Err(Failure::usage(format!(
                "--header `{}` must look like `Name: value`",
                redact::text(header)
            )));
        };
        let value = value.trim().to_string();
        redact::register_header(key, &value);
        headers.insert(key.trim().to_string(), Scalar::String(value));
    }
    Ok(headers)
}

/// A server with nothing set but its name.
fn blank(name: String) -> RawServer {
    RawServer {
        name,
        enabled: Some(true),
        ..RawServer::default()
    }
}

/// `--url [NAME=]URL`: named after host and port unless named.
fn url_server(
    spec: &str,
    headers: &IndexMap<String, Scalar>,
    entries: &[Entry],
) -> Result<RawServer, Failure> {
    let (name, url) = match spec.split_once('=') {
        Some((name, url)) if valid_name(name) && url.contains("://") => {
            (Some(name.to_string()), url.to_string())
        }
        _ => (None, spec.to_string()),
    };
    let parsed = url::Url::parse(&url).map_err(|e| {
        Failure::usage(format!(
            "--url `{}` is not a valid URL: {e}",
            redact::url(&url)
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Failure::usage(format!(
            "--url `{}` must be http:// or https://",
            redact::url(&url)
        )));
    }
    let name = name.unwrap_or_else(|| {
        let host = parsed.host_str().unwrap_or("server");
        match parsed.port() {
            Some(port) => sanitize_name(&format!("{host}-{port}")),
            None => sanitize_name(host),
        }
    });
    let mut raw = blank(unique_name(name, entries));
    raw.url = Some(url);
    raw.headers = headers.clone();
    Ok(raw)
}

/// `--stdio "[NAME=]COMMAND ARGS"`, split the way a shell would.
fn stdio_server(spec: &str, entries: &[Entry]) -> Result<RawServer, Failure> {
    let (name, line) = match spec.split_once('=') {
        Some((name, rest)) if valid_name(name) && !rest.trim().is_empty() => {
            (Some(name.to_string()), rest)
        }
        _ => (None, spec),
    };
    let words = shlex::split(line)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| {
            Failure::usage(format!(
                "--stdio `{spec}`: cannot split into a command and arguments (unbalanced quotes?)"
            ))
        })?;
    let name = name.unwrap_or_else(|| default_stdio_name(&words));
    let mut raw = blank(unique_name(name, entries));
    raw.command = Some(words[0].clone());
    raw.args = words[1..].iter().cloned().map(Scalar::String).collect();
    Ok(raw)
}

/// A readable default name for `--stdio`: the script or package, not the interpreter.
fn default_stdio_name(words: &[String]) -> String {
    const LAUNCHERS: &[&str] = &[
        "python", "python3", "node", "npx", "uvx", "uv", "bun", "bunx", "deno", "sh", "bash",
        "env", "pipx", "docker",
    ];
    let base = |w: &str| -> String {
        let last = w.rsplit('/').next().unwrap_or(w);
        last.split('.').next().unwrap_or(last).to_string()
    };
    let command = base(&words[0]);
    let name = if LAUNCHERS.contains(&command.as_str()) {
        words[1..]
            .iter()
            .filter(|w| !w.starts_with('-') && !w.contains('='))
            .find(|w| !["run", "exec", "x"].contains(&w.as_str()))
            .map(|w| base(w))
            .unwrap_or(command)
    } else {
        command
    };
    sanitize_name(&name)
}

fn sanitize_name(raw: &str) -> String {
    let mut name = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '-'
        };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    while name.contains("__") {
        name = name.replace("__", "_");
    }
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "server".to_string()
    } else {
        name
    }
}

fn unique_name(name: String, entries: &[Entry]) -> String {
    if !entries.iter().any(|e| e.raw.name == name) {
        return name;
    }
    (2..)
        .map(|i| format!("{name}-{i}"))
        .find(|candidate| !entries.iter().any(|e| &e.raw.name == candidate))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stdio_servers_after_their_script() {
        let words = |s: &str| shlex::split(s).unwrap_or_default();
        assert_eq!(
            default_stdio_name(&words("python3 examples/demo_server.py")),
            "demo_server"
        );
        assert_eq!(
            default_stdio_name(&words("npx -y @modelcontextprotocol/server-memory")),
            "server-memory"
        );
        assert_eq!(
            default_stdio_name(&words("mcp-server-time --local-timezone UTC")),
            "mcp-server-time"
        );
    }
}
