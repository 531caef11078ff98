//! What mcpchat remembers about servers between runs, to save round trips: the protocol era a
//! server spoke and its lists (tools, prompts, resources, resource templates), in
//! `<cache dir>/mcpchat/servers/` (0700).
//!
//! One file per server location (URL without its query, or command and arguments), named by a
//! hash. Inside, `public` lists are shared by every auth identity and each identity (a hash of
//! the URL's query, the headers, and the token store entry) has its own era and `private`
//! lists. Lists honour the server's `ttlMs`/`cacheScope` hints (`ttlMs: 0` is never stored);
//! lists without hints are private and live `cache_ttl_secs`. Files are written atomically; a
//! corrupt file, or one of another format version, reads as empty and is replaced on the next
//! write. Nothing here is ever an error for the command: the cache only saves time.
//!
//! The format is additive: a file written before prompts, resources and templates were cached
//! (only `tools`) still reads, and older versions ignore the kinds they do not know.
//!
//! Parts: this file (the cache and its modes), `file` (the file format, its key, reading and
//! writing), `era` (the protocol era remembered), `lists` (the cached lists and their freshness).

mod era;
mod file;
mod lists;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use era::Era;
use file::File;
pub use file::Key;
pub use lists::ListKind;

/// How a command uses the cache (`--no-cache`, `--refresh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read and write.
    Normal,
    /// Do not read lists (fetch them again) but write what was fetched.
    Refresh,
    /// Neither read nor write.
    Off,
}

#[derive(Debug, Clone)]
pub struct Cache {
    dir: Option<PathBuf>,
    pub mode: Mode,
    /// For lists whose server gave no `ttlMs`.
    default_ttl: Duration,
    /// Each file as this process last read or wrote it, shared by clones: a command asks for a
    /// server's era and then its list, and a large tools list is parsed once, not twice.
    seen: Arc<Mutex<HashMap<String, Option<Arc<File>>>>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Cache {
    /// The cache in the user's cache dir (`$XDG_CACHE_HOME` or `~/.cache` on Linux).
    pub fn locate(mode: Mode, default_ttl: Duration) -> Cache {
        Cache {
            dir: dirs::cache_dir().map(|d| d.join("mcpchat")),
            mode,
            default_ttl,
            seen: Arc::default(),
        }
    }

    /// A cache that remembers nothing.
    pub fn off() -> Cache {
        Cache {
            dir: None,
            mode: Mode::Off,
            default_ttl: Duration::ZERO,
            seen: Arc::default(),
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Remove every cache file; returns how many there were.
    pub fn clear(&self) -> std::io::Result<usize> {
        let Some(dir) = &self.dir else {
            return Ok(0);
        };
        let servers = dir.join("servers");
        let entries = match std::fs::read_dir(&servers) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                std::fs::remove_file(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{CacheScope, Tool};

    fn cache(dir: &Path) -> Cache {
        Cache {
            dir: Some(dir.to_path_buf()),
            mode: Mode::Normal,
            default_ttl: Duration::from_secs(300),
            seen: Arc::default(),
        }
    }

    fn key(identity: &str) -> Key {
        Key {
            file: "f".into(),
            identity: identity.into(),
            describe: "s".into(),
        }
    }

    fn tool(name: &str) -> Tool {
        serde_json::from_value(serde_json::json!({"name": name, "inputSchema": {"type": "object"}}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn private_lists_stay_with_their_identity_and_public_ones_are_shared() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cache = cache(dir.path());
        cache.store_list(
            &key("a"),
            ListKind::Tools,
            &[tool("x")],
            Some(60_000),
            Some(CacheScope::Private),
        );
        assert!(cache.tools(&key("b")).is_none());
        assert_eq!(cache.tools(&key("a")).map(|t| t.len()), Some(1));
        cache.store_list(
            &key("a"),
            ListKind::Tools,
            &[tool("y")],
            Some(60_000),
            Some(CacheScope::Public),
        );
        assert_eq!(
            cache.tools(&key("b")).map(|t| t[0].name.to_string()),
            Some("y".into())
        );
    }

    #[test]
    fn a_zero_ttl_is_never_stored_and_a_corrupt_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cache = cache(dir.path());
        cache.store_list(&key("a"), ListKind::Tools, &[tool("x")], Some(0), None);
        assert!(cache.tools(&key("a")).is_none());
        let path = dir.path().join("servers/f.json");
        std::fs::write(&path, "{not json").unwrap_or_else(|e| panic!("{e}"));
        // A new process (a new Cache) reads the file from the disk.
        let cache = self::cache(dir.path());
        assert!(cache.tools(&key("a")).is_none());
        cache.store_list(&key("a"), ListKind::Tools, &[tool("x")], None, None);
        assert_eq!(cache.tools(&key("a")).map(|t| t.len()), Some(1));
        let written = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(written.starts_with("{\"format\":1,"), "{written}");
    }

    #[test]
    fn a_process_reads_a_file_once_and_writes_merge_with_the_disk() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ours = cache(dir.path());
        ours.store_list(&key("a"), ListKind::Tools, &[tool("x")], None, None);
        // Another process writes a prompts list and drops the tools meanwhile.
        let theirs = cache(dir.path());
        theirs.forget(&key("a"), ListKind::Tools);
        theirs.store_list(&key("a"), ListKind::Prompts, &[tool("p")], None, None);
        // This process goes on with the file as it last saw it...
        assert_eq!(ours.tools(&key("a")).map(|t| t.len()), Some(1));
        let prompts = ours.list::<serde_json::Value>(&key("a"), ListKind::Prompts);
        assert!(prompts.is_none());
        // ...and its next write starts from the disk, keeping the other process's change.
        ours.remember_era(&key("a"), Some(Era::Initialize));
        assert!(ours.tools(&key("a")).is_none());
        let prompts = ours.list::<serde_json::Value>(&key("a"), ListKind::Prompts);
        assert_eq!(prompts.map(|p| p.len()), Some(1));
        assert_eq!(cache(dir.path()).era(&key("a")), Some(Era::Initialize));
    }

    #[test]
    fn each_kind_has_its_own_list_and_forgetting_drops_private_and_public() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cache = cache(dir.path());
        let prompt = serde_json::json!({"name": "review"});
        cache.store_list(
            &key("a"),
            ListKind::Prompts,
            std::slice::from_ref(&prompt),
            None,
            None,
        );
        let public = Some(CacheScope::Public);
        cache.store_list(
            &key("a"),
            ListKind::Resources,
            std::slice::from_ref(&prompt),
            None,
            public,
        );
        assert!(cache.tools(&key("a")).is_none());
        assert!(
            cache
                .list::<serde_json::Value>(&key("a"), ListKind::Templates)
                .is_none()
        );
        let prompts = cache.list::<serde_json::Value>(&key("a"), ListKind::Prompts);
        assert_eq!(prompts, Some(vec![prompt.clone()]));
        let shared = cache.list::<serde_json::Value>(&key("b"), ListKind::Resources);
        assert_eq!(shared, Some(vec![prompt]));
        cache.forget(&key("b"), ListKind::Resources);
        assert!(
            cache
                .list::<serde_json::Value>(&key("a"), ListKind::Resources)
                .is_none()
        );
        assert!(
            cache
                .list::<serde_json::Value>(&key("a"), ListKind::Prompts)
                .is_some()
        );
    }

    #[test]
    fn a_file_written_with_only_tools_still_reads() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cache = cache(dir.path());
        std::fs::create_dir_all(dir.path().join("servers")).unwrap_or_else(|e| panic!("{e}"));
        let old = serde_json::json!({"format": 1, "server": "s", "public": {}, "identities": {
            "a": {"era": {"kind": "initialize"}, "tools": {"items": [
                {"name": "x", "inputSchema": {"type": "object"}}
            ], "fresh_until_ms": u64::MAX}}
        }});
        std::fs::write(dir.path().join("servers/f.json"), old.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cache.tools(&key("a")).map(|t| t.len()), Some(1));
        assert_eq!(cache.era(&key("a")), Some(Era::Initialize));
        assert!(
            cache
                .list::<serde_json::Value>(&key("a"), ListKind::Prompts)
                .is_none()
        );
    }
}
