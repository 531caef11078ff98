//! Roots: the directories a server may work in (`roots:` per server, `--root DIR`), announced
//! to it as `file://` URIs of their canonical paths (percent-encoded). Nothing is announced
//! unless configured: a scriptable tool must not hand out the working directory by itself. A
//! root that does not exist (or is not a directory) is the user's mistake, refused before any
//! server starts. The first request of a command waits for a server to ask for its roots only
//! when it asked last time, or nothing is known yet ([`wait_for_request`]). A leaf module:
//! what the server did last time is handed in.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

/// How long the first request waits for a server to ask for the configured roots.
const GRACE: Duration = Duration::from_secs(1);

/// How long a server is given to take in the roots it was sent.
const SETTLE: Duration = Duration::from_millis(50);

/// How long a server not waited for may still ask and be remembered as one that asks.
const LATE: Duration = Duration::from_secs(30);

/// One root, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The canonical directory.
    pub path: PathBuf,
    /// `file:///...`, percent-encoded.
    pub uri: String,
    /// The directory's name, for people.
    pub name: String,
}

/// `dir` as written (after `${VAR}` expansion; `~` and `~/...` are the home directory), made
/// canonical; relative paths are taken from `base`. Err: why it cannot be a root.
pub fn resolve(dir: &str, base: Option<&Path>) -> Result<Root, String> {
    let path = home_expanded(dir)?;
    let path = match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path,
    };
    let canonical = std::fs::canonicalize(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("root `{dir}` does not exist"),
        _ => format!("root `{dir}` cannot be used: {e}"),
    })?;
    if !canonical.is_dir() {
        return Err(format!("root `{dir}` is not a directory"));
    }
    let uri = url::Url::from_file_path(&canonical)
        .map_err(|()| format!("root `{dir}` has no file:// URI"))?
        .to_string();
    let name = canonical
        .file_name()
        .map_or_else(|| "/".to_string(), |n| n.to_string_lossy().into_owned());
    Ok(Root {
        path: canonical,
        uri,
        name,
    })
}

fn home_expanded(dir: &str) -> Result<PathBuf, String> {
    let rest = match dir.strip_prefix('~') {
        None => return Ok(PathBuf::from(dir)),
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.trim_start_matches('/'),
        // `~user` is not expanded: say so rather than look for a directory named `~user`.
        Some(_) => return Err(format!("root `{dir}`: only `~` and `~/...` are expanded")),
    };
    let home = dirs::home_dir().ok_or_else(|| format!("root `{dir}`: no home directory"))?;
    Ok(if rest.is_empty() {
        home
    } else {
        home.join(rest)
    })
}

/// Before the first request of a session with roots configured. Servers that work in roots
/// (the filesystem server) ask for them right after the handshake and refuse every path until
/// they have them: a call sent at once (a warm cache sends nothing before it) would be refused.
/// So wait until the server asked (`listed` is signalled when `roots/list` was answered), at
/// most [`GRACE`], then a moment for it to take the answer in (the filesystem server checks
/// each root on disk). Whether it asked is handed to `remember` (the cache keeps it): a server
/// that did not ask last time (`asked_before`) is not waited for, since it would pay [`GRACE`]
/// on every command, and if it asks after all, that is remembered for the next run.
pub async fn wait_for_request(
    asked_before: Option<bool>,
    listed: Arc<tokio::sync::Notify>,
    remember: impl Fn(bool) + Send + 'static,
) {
    if asked_before == Some(false) {
        tracing::debug!("not waiting for roots/list: the server did not ask for roots last time");
        tokio::spawn(async move {
            if tokio::time::timeout(LATE, listed.notified()).await.is_ok() {
                remember(true);
            }
        });
        return;
    }
    let asked = tokio::time::timeout(GRACE, listed.notified()).await.is_ok();
    tracing::debug!(asked, "waited for roots/list");
    remember(asked);
    if asked {
        tokio::time::sleep(SETTLE).await;
    }
}

/// The result of `roots/list` for these roots.
pub fn listed(roots: &[Root]) -> Value {
    let roots: Vec<Value> = roots
        .iter()
        .map(|root| json!({"uri": root.uri, "name": root.name}))
        .collect();
    json!({ "roots": roots })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_root_is_the_canonical_directory_as_a_percent_encoded_file_uri() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("my dir ü");
        std::fs::create_dir(&inner).unwrap();
        let root = resolve("my dir ü/../my dir ü", Some(dir.path())).unwrap();
        let canonical = std::fs::canonicalize(&inner).unwrap();
        assert_eq!(root.path, canonical);
        assert!(root.uri.starts_with("file:///"), "{}", root.uri);
        assert!(root.uri.ends_with("/my%20dir%20%C3%BC"), "{}", root.uri);
        assert_eq!(root.name, "my dir ü");
    }

    #[test]
    fn a_missing_root_or_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), "").unwrap();
        assert_eq!(
            resolve("nope", Some(dir.path())).unwrap_err(),
            "root `nope` does not exist"
        );
        assert_eq!(
            resolve("f", Some(dir.path())).unwrap_err(),
            "root `f` is not a directory"
        );
        assert_eq!(
            resolve("~bob/x", None).unwrap_err(),
            "root `~bob/x`: only `~` and `~/...` are expanded"
        );
    }
}
