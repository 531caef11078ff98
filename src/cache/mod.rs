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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rmcp::model::{CacheScope, ServerPeerInfo, Tool};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{ServerConfig, Transport};

/// Bump when the file layout changes: older files are then ignored and replaced.
const FORMAT: u32 = 1;

/// The longest a server's `ttlMs` can keep its list cached (a day): the number is the server's.
const MAX_SERVER_TTL_MS: u64 = 86_400_000;

/// The protocol era a server answered in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Era {
    /// 2026-07-28 and later: no handshake; the server's `server/discover` answer is kept so
    /// that it need not be asked again.
    Stateless { peer: Box<ServerPeerInfo> },
    /// The 2025 era: `initialize` straight away (no `server/discover` probe).
    Initialize,
    /// The 2024-11-05 HTTP+SSE transport.
    LegacySse,
}

/// A cached list and until when it is fresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Listed {
    items: Vec<serde_json::Value>,
    /// Unix time in milliseconds after which the list is stale.
    fresh_until_ms: u64,
    /// The server said the list changed since (`list_changed`): to be listed again before it
    /// is shown or offered, but still good to call tools from (see [`Cache::tools`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    changed: bool,
}

/// The lists a server answers that are cached, each under the same rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Tools,
    Prompts,
    Resources,
    Templates,
}

impl ListKind {
    pub const ALL: [ListKind; 4] = [
        ListKind::Tools,
        ListKind::Prompts,
        ListKind::Resources,
        ListKind::Templates,
    ];

    /// The list's name in messages: "no cached prompts list for ...".
    pub fn noun(self) -> &'static str {
        match self {
            ListKind::Tools => "tools",
            ListKind::Prompts => "prompts",
            ListKind::Resources => "resources",
            ListKind::Templates => "resource templates",
        }
    }

    /// The JSON-RPC method that lists it.
    pub fn method(self) -> &'static str {
        match self {
            ListKind::Tools => "tools/list",
            ListKind::Prompts => "prompts/list",
            ListKind::Resources => "resources/list",
            ListKind::Templates => "resources/templates/list",
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Identity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    era: Option<Era>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tools: Option<Listed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prompts: Option<Listed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resources: Option<Listed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_templates: Option<Listed>,
}

impl Identity {
    fn listed(&self, kind: ListKind) -> Option<&Listed> {
        match kind {
            ListKind::Tools => self.tools.as_ref(),
            ListKind::Prompts => self.prompts.as_ref(),
            ListKind::Resources => self.resources.as_ref(),
            ListKind::Templates => self.resource_templates.as_ref(),
        }
    }

    fn list(&mut self, kind: ListKind) -> &mut Option<Listed> {
        match kind {
            ListKind::Tools => &mut self.tools,
            ListKind::Prompts => &mut self.prompts,
            ListKind::Resources => &mut self.resources,
            ListKind::Templates => &mut self.resource_templates,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    format: u32,
    /// For people looking at the file: the server, secrets masked.
    server: String,
    #[serde(default)]
    public: Identity,
    #[serde(default)]
    identities: BTreeMap<String, Identity>,
}

/// Where one server's entries live: the file and the identity inside it.
#[derive(Debug, Clone)]
pub struct Key {
    file: String,
    identity: String,
    describe: String,
}

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

fn hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Key {
    /// The location (URL without query, or the command line) and the auth identity (the
    /// URL's query, the headers, the environment, the token store) of `server`.
    pub fn of(server: &ServerConfig, store: &crate::auth::store::TokenStore) -> Key {
        let (location, identity) = match &server.transport {
            Transport::Http { url, headers } => {
                let (base, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
                let mut headers: Vec<String> =
                    headers.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                headers.sort();
                let auth = format!("{:?}", server.auth_type);
                let store = store.identity();
                (
                    hash(&["http", base]),
                    hash(&[query, &headers.join("\n"), &auth, &store]),
                )
            }
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let mut parts = vec!["stdio", command.as_str()];
                parts.extend(args.iter().map(String::as_str));
                let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let cwd = format!("{cwd:?}");
                (hash(&parts), hash(&[&env.join("\n"), &cwd]))
            }
        };
        Key {
            file: location,
            identity,
            describe: format!("{} ({})", server.name, server.describe()),
        }
    }
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

    fn path(&self, key: &Key) -> Option<PathBuf> {
        if self.mode == Mode::Off {
            return None;
        }
        Some(
            self.dir
                .as_ref()?
                .join("servers")
                .join(format!("{}.json", key.file)),
        )
    }

    /// The file of `key` as this process knows it: read once, then as last written.
    fn load(&self, key: &Key) -> Option<Arc<File>> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = seen.get(&key.file) {
            return file.clone();
        }
        let file = self.read(key).map(Arc::new);
        seen.insert(key.file.clone(), file.clone());
        file
    }

    fn read(&self, key: &Key) -> Option<File> {
        let text = std::fs::read(self.path(key)?).ok()?;
        match serde_json::from_slice::<File>(&text) {
            Ok(file) if file.format == FORMAT => Some(file),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(server = %key.describe, "ignoring an unreadable cache file: {e}");
                None
            }
        }
    }

    /// Read-modify-write of one server's file (a missing or unreadable file starts empty).
    /// One at a time in this process: a list_changed seen on the transport's task must not be
    /// undone by a list stored at the same moment from the file as it was before.
    fn update(&self, key: &Key, change: impl FnOnce(&mut File)) {
        static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let Some(path) = self.path(key) else {
            return;
        };
        let _one = WRITING.lock().unwrap_or_else(|e| e.into_inner());
        // From the disk, not from `seen`: another process may have written since.
        let mut file = self.read(key).unwrap_or_default();
        file.format = FORMAT;
        file.server = key.describe.clone();
        change(&mut file);
        if let Err(e) = write_atomically(&path, &file) {
            tracing::debug!(server = %key.describe, "cannot write the cache: {e}");
        }
        // Even when the write failed, this process goes on from what it decided.
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.file.clone(), Some(Arc::new(file)));
    }

    /// The era `key` answered in last time.
    pub fn era(&self, key: &Key) -> Option<Era> {
        self.load(key)?.identities.get(&key.identity)?.era.clone()
    }

    pub fn remember_era(&self, key: &Key, era: Option<Era>) {
        if self.era(key) == era {
            return;
        }
        self.update(key, |file| {
            file.identities.entry(key.identity.clone()).or_default().era = era;
        });
    }

    /// The cached tools of `key` to call from, if fresh (never with `--refresh`), also after the
    /// server said they changed: a call validated against a schema that changed is rejected by
    /// the server and the tools are listed again then (`mcp::rejected_as_stale`), and an unknown
    /// name is looked up live. Some servers (server-everything) announce a change in every
    /// session; forgetting the list for that made every next call list the tools again.
    pub fn tools(&self, key: &Key) -> Option<Vec<Tool>> {
        self.entry(key, ListKind::Tools, true)
    }

    /// The cached list of `kind` for `key`, if fresh and not changed since (never with
    /// `--refresh`): this identity's private entry, else the public one.
    pub fn list<T: DeserializeOwned>(&self, key: &Key, kind: ListKind) -> Option<Vec<T>> {
        self.entry(key, kind, false)
    }

    fn entry<T: DeserializeOwned>(
        &self,
        key: &Key,
        kind: ListKind,
        changed_too: bool,
    ) -> Option<Vec<T>> {
        if self.mode != Mode::Normal {
            return None;
        }
        let file = self.load(key)?;
        let now = now_ms();
        let fresh =
            |listed: &&Listed| listed.fresh_until_ms > now && (changed_too || !listed.changed);
        let listed = file
            .identities
            .get(&key.identity)
            .and_then(|identity| identity.listed(kind))
            .filter(fresh)
            .or_else(|| file.public.listed(kind).filter(fresh))?;
        listed
            .items
            .iter()
            .map(T::deserialize)
            .collect::<Result<Vec<T>, _>>()
            .ok()
    }

    /// Remember a freshly listed list of `kind` with the server's hints: `ttlMs: 0` is not
    /// stored (and drops what was), `public` goes where every identity finds it, anything
    /// else is this identity's; no `ttlMs` means the configured `cache_ttl_secs`.
    pub fn store_list<T: Serialize>(
        &self,
        key: &Key,
        kind: ListKind,
        items: &[T],
        ttl_ms: Option<u64>,
        scope: Option<CacheScope>,
    ) {
        // The server's `ttlMs` is bounded (a day); the user's `cache_ttl_secs` is taken as is.
        let ttl_ms = match ttl_ms {
            Some(theirs) => theirs.min(MAX_SERVER_TTL_MS),
            None => u64::try_from(self.default_ttl.as_millis()).unwrap_or(u64::MAX),
        };
        let listed = (ttl_ms > 0).then(|| Listed {
            items: items
                .iter()
                .filter_map(|item| serde_json::to_value(item).ok())
                .collect(),
            fresh_until_ms: now_ms().saturating_add(ttl_ms),
            changed: false,
        });
        self.update(key, |file| {
            let mine = file.identities.entry(key.identity.clone()).or_default();
            if scope == Some(CacheScope::Public) {
                *mine.list(kind) = None;
                *file.public.list(kind) = listed;
            } else {
                *mine.list(kind) = listed;
            }
        });
    }

    /// Drop every list `key`'s identity keeps privately: after a login or a logout they may
    /// be another account's. The era stays (a fact about the server), and so do public lists.
    pub fn forget_private(&self, key: &Key) {
        self.update(key, |file| {
            if let Some(mine) = file.identities.get_mut(&key.identity) {
                for kind in ListKind::ALL {
                    *mine.list(kind) = None;
                }
            }
        });
    }

    /// Drop the cached list of `kind` for `key`, this identity's and the public one (the
    /// server rejected a request made from it, or said the list changed).
    pub fn forget(&self, key: &Key, kind: ListKind) {
        self.update(key, |file| {
            if let Some(mine) = file.identities.get_mut(&key.identity) {
                *mine.list(kind) = None;
            }
            *file.public.list(kind) = None;
        });
    }

    /// Mark the cached list of `kind` for `key` (this identity's and the public one) as changed
    /// at the server: listed again before it is shown or offered, still used to call tools.
    pub fn mark_changed(&self, key: &Key, kind: ListKind) {
        let unmarked = |listed: Option<&Listed>| listed.is_some_and(|l| !l.changed);
        let Some(file) = self.load(key) else {
            return;
        };
        let mine = file.identities.get(&key.identity);
        if !unmarked(mine.and_then(|m| m.listed(kind))) && !unmarked(file.public.listed(kind)) {
            return; // nothing to mark: no write
        }
        self.update(key, |file| {
            if let Some(mine) = file.identities.get_mut(&key.identity)
                && let Some(listed) = mine.list(kind).as_mut()
            {
                listed.changed = true;
            }
            if let Some(listed) = file.public.list(kind).as_mut() {
                listed.changed = true;
            }
        });
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

/// Write to a temporary file in the same directory and rename it over the old one, so that a
/// reader never sees half a file. The directories are created 0700.
fn write_atomically(path: &Path, file: &File) -> std::io::Result<()> {
    let text = serde_json::to_vec(file).map_err(std::io::Error::other)?;
    crate::private_file::write(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

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
