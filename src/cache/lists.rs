//! The cached lists (tools, prompts, resources, resource templates): stored with the server's
//! `ttlMs`/`cacheScope` hints, fresh until their time runs out, marked when the server says a
//! list changed, and dropped when a request made from one is rejected.

use rmcp::model::{CacheScope, Tool};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Cache, Key, Mode, now_ms};

/// The longest a server's `ttlMs` can keep its list cached (a day): the number is the server's.
const MAX_SERVER_TTL_MS: u64 = 86_400_000;

/// A cached list and until when it is fresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Listed {
    pub(super) items: Vec<serde_json::Value>,
    /// Unix time in milliseconds after which the list is stale.
    pub(super) fresh_until_ms: u64,
    /// The server said the list changed since (`list_changed`): to be listed again before it
    /// is shown or offered, but still good to call tools from (see [`Cache::tools`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) changed: bool,
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

impl Cache {
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
}
