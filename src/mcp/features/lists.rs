//! The lists a server answers (tools, prompts, resources, resource templates), live or from the
//! cache: one code path for all four kinds.
//!
//! Guarantees: every live listing follows every page and stores the server's unfiltered list
//! in the cache with its `ttlMs`/`cacheScope` hints merged over the pages; a cached answer is
//! used only while fresh, and never with `--refresh` or `--no-cache`.

use rmcp::model::{
    CacheScope, ClientRequest, ListPromptsRequest, ListResourceTemplatesRequest,
    ListResourcesRequest, ListToolsRequest, PaginatedRequestParams, Prompt, Resource,
    ResourceTemplate, Tool,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::lenient;
use crate::cache::ListKind;
use crate::exit::Failure;
use crate::mcp::Session;

/// The largest message read for a `list_changed` notification.
const LIST_CHANGED_BYTES: usize = 64 * 1024;

/// Which lists the server said changed (`notifications/*/list_changed`) since whoever holds
/// one in memory last looked: a long-running command lists it again before its next use.
#[derive(Default)]
pub(crate) struct Changed([std::sync::atomic::AtomicBool; 4]);

impl Changed {
    fn flag(&self, kind: ListKind) -> &std::sync::atomic::AtomicBool {
        &self.0[match kind {
            ListKind::Tools => 0,
            ListKind::Prompts => 1,
            ListKind::Resources => 2,
            ListKind::Templates => 3,
        }]
    }

    pub(in crate::mcp) fn mark(&self, kind: ListKind) {
        self.flag(kind)
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn take(&self, kind: ListKind) -> bool {
        self.flag(kind)
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }
}

/// Reacts to `notifications/*/list_changed` as our transports read them (Streamable HTTP,
/// stdio): the server's cached list of that kind is marked changed (listed again before it is
/// shown or offered; tool calls still go from it, see `Cache::tools`) and the session told, before the
/// messages after it reach rmcp. rmcp's own handler runs later on a task of its own, so a
/// long-running command could otherwise make its next request before it ran.
pub(crate) struct ListChanges {
    pub cache: crate::cache::Cache,
    pub key: crate::cache::Key,
    pub changed: Changed,
    /// Each change, for whoever relays it on (`serve`); nobody listening is fine.
    pub announced: tokio::sync::broadcast::Sender<ListKind>,
}

impl crate::mcp::transport::Watcher for ListChanges {
    /// Look at one message from the server (JSON text: an SSE event's data or a stdio line).
    fn seen(&self, text: &str) {
        // A notification is small: a big message that mentions one is not parsed a second
        // time here (its parsed form may cost many times its size).
        if text.len() > LIST_CHANGED_BYTES || !text.contains("list_changed") {
            return;
        }
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let kinds: &[ListKind] = match message.get("method").and_then(Value::as_str) {
            Some("notifications/tools/list_changed") => &[ListKind::Tools],
            Some("notifications/prompts/list_changed") => &[ListKind::Prompts],
            // Templates are part of what a server serves as resources: both lists go.
            Some("notifications/resources/list_changed") => {
                &[ListKind::Resources, ListKind::Templates]
            }
            _ => return,
        };
        for kind in kinds {
            tracing::debug!(
                "the server's {} list changed; the cached one is to be listed again",
                kind.noun()
            );
            self.cache.mark_changed(&self.key, *kind);
            self.changed.mark(*kind);
            let _ = self.announced.send(*kind);
        }
    }
}

/// The cache hints of a list's pages merged: the shortest `ttlMs` (none if a page has none),
/// and private if any page is.
#[derive(Default)]
struct Hints {
    pages: usize,
    ttl_ms: Option<u64>,
    scope: Option<CacheScope>,
}

impl Hints {
    fn add(&mut self, page: &Value) {
        let ttl = page
            .get("ttlMs")
            .and_then(Value::as_i64)
            .map(|t| t.max(0) as u64);
        self.ttl_ms = match (self.pages, self.ttl_ms, ttl) {
            (0, _, ttl) => ttl,
            (_, Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
        let scope = match page.get("cacheScope").and_then(Value::as_str) {
            Some("private") => Some(CacheScope::Private),
            Some("public") => Some(CacheScope::Public),
            _ => None,
        };
        if self.pages == 0 || scope == Some(CacheScope::Private) {
            self.scope = scope.or(self.scope.take());
        }
        self.pages += 1;
    }
}

/// The request for one page of `kind` (None: the first page).
/// The `_meta` key a command puts on a list request it sends through the daemon when its
/// cache is off or refreshed (`--no-cache`, `--refresh`): the daemon then asks the server too,
/// rather than answering from its own cache. Our own key; a server never sees it.
pub const FRESH_KEY: &str = "io.mcpchat/fresh";

fn page_request(kind: ListKind, cursor: Option<String>, fresh: bool) -> ClientRequest {
    let meta = fresh.then(|| {
        let mut meta = rmcp::model::RequestMetaObject::default();
        meta.insert(FRESH_KEY.to_string(), Value::Bool(true));
        meta
    });
    let params = (cursor.is_some() || meta.is_some()).then(|| {
        let mut params = PaginatedRequestParams::default().with_cursor(cursor);
        params.meta = meta;
        params
    });
    match kind {
        ListKind::Tools => ClientRequest::ListToolsRequest(ListToolsRequest {
            method: Default::default(),
            params,
            extensions: Default::default(),
        }),
        ListKind::Prompts => ClientRequest::ListPromptsRequest(ListPromptsRequest {
            method: Default::default(),
            params,
            extensions: Default::default(),
        }),
        ListKind::Resources => ClientRequest::ListResourcesRequest(ListResourcesRequest {
            method: Default::default(),
            params,
            extensions: Default::default(),
        }),
        ListKind::Templates => {
            ClientRequest::ListResourceTemplatesRequest(ListResourceTemplatesRequest {
                method: Default::default(),
                params,
                extensions: Default::default(),
            })
        }
    }
}

/// One page of a list other than tools, leniently.
fn items<T: DeserializeOwned>(
    kind: ListKind,
) -> impl Fn(&str, &Value) -> Result<(Vec<T>, Option<String>), Failure> {
    let field = match kind {
        ListKind::Tools => "tools",
        ListKind::Prompts => "prompts",
        ListKind::Resources => "resources",
        ListKind::Templates => "resourceTemplates",
    };
    move |server, result| lenient::items_page(server, kind.method(), field, result)
}

impl Session {
    /// Whether a list this command asks for must not come from the daemon's cache: it goes
    /// through the daemon, and its own cache is off or refreshed.
    fn wants_fresh(&self) -> bool {
        self.relayed && self.cache.mode != crate::cache::Mode::Normal
    }

    /// Every page of `kind` as the server lists it now (`parse` reads one page); the result
    /// goes to the cache with the server's hints.
    pub(in crate::mcp) async fn list_live<T: Serialize>(
        &self,
        kind: ListKind,
        parse: impl Fn(&str, &Value) -> Result<(Vec<T>, Option<String>), Failure>,
    ) -> Result<Vec<T>, Failure> {
        let name = self.name();
        tracing::debug!(server = name, "sending {}", kind.method());
        let hints = std::sync::Mutex::new(Hints::default());
        let (hints_ref, parse) = (&hints, &parse);
        let items = super::paginate::all_pages(name, kind.method(), |cursor| async move {
            let result = self
                .request(
                    kind.method(),
                    page_request(kind, cursor, self.wants_fresh()),
                )
                .await?;
            hints_ref
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(&result);
            parse(name, &result)
        })
        .await?;
        // This listing answers every list_changed read before its (last) answer: on one
        // ordered stream a change the server announced first is in the list it sent after.
        // server-everything announces its tools at the start of every session, while the first
        // listing is on its way; that no longer costs a second listing.
        self.changes.changed.take(kind);
        let hints = hints.into_inner().unwrap_or_else(|e| e.into_inner());
        self.cache
            .store_list(&self.key, kind, &items, hints.ttl_ms, hints.scope);
        Ok(items)
    }

    /// The cached list of `kind`, if the cache has a fresh one.
    pub fn cached<T: DeserializeOwned>(&self, kind: ListKind) -> Option<Vec<T>> {
        self.cache.list(&self.key, kind)
    }

    /// Whether the server said the list of `kind` changed since the last time this was
    /// asked (a holder of the list in memory should list it again).
    pub fn take_list_changed(&self, kind: ListKind) -> bool {
        self.changes.changed.take(kind)
    }

    /// One page of `kind` as the server lists it now, for `serve`'s merged pages: the items
    /// and the server's next cursor (`parse` reads the page). A first page without a next
    /// cursor is the whole list, and goes to the cache as a full listing does.
    async fn list_page<T: Serialize>(
        &self,
        kind: ListKind,
        cursor: Option<String>,
        parse: impl Fn(&str, &Value) -> Result<(Vec<T>, Option<String>), Failure>,
    ) -> Result<(Vec<T>, Option<String>), Failure> {
        let first = cursor.is_none();
        let result = self
            .request(
                kind.method(),
                page_request(kind, cursor, self.wants_fresh()),
            )
            .await?;
        let (items, next) = parse(self.name(), &result)?;
        if first && next.is_none() {
            self.changes.changed.take(kind);
            let mut hints = Hints::default();
            hints.add(&result);
            self.cache
                .store_list(&self.key, kind, &items, hints.ttl_ms, hints.scope);
        }
        Ok((items, next))
    }

    /// One page of tools (allow/deny applied) and the next cursor; see `list_page`.
    pub async fn tools_page(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<Tool>, Option<String>), Failure> {
        let (tools, next) = self
            .list_page(ListKind::Tools, cursor, lenient::tools_page)
            .await?;
        Ok((self.permitted(tools), next))
    }

    /// One page of prompts, resources or templates and the next cursor; see `list_page`.
    /// A server without the capability has none.
    pub async fn items_page<T: Serialize + DeserializeOwned>(
        &self,
        kind: ListKind,
        cursor: Option<String>,
    ) -> Result<(Vec<T>, Option<String>), Failure> {
        let served = match kind {
            ListKind::Tools => true,
            ListKind::Prompts => self.serves_prompts(),
            ListKind::Resources | ListKind::Templates => self.has_resources(),
        };
        if !served {
            return Ok((self.none_served(kind), None));
        }
        match self.list_page(kind, cursor, items(kind)).await {
            Err(failure) if kind == ListKind::Templates && method_not_found(&failure) => {
                Ok((self.none_served(kind), None))
            }
            listed => listed,
        }
    }

    /// Drop the cached list of `kind` (the server rejected a request made from it).
    pub fn forget(&self, kind: ListKind) {
        self.cache.forget(&self.key, kind);
    }

    /// A server without the capability for `kind` has none: an empty list, cached like any
    /// other (so `--cached` knows it too), and nothing asked.
    fn none_served<T: Serialize>(&self, kind: ListKind) -> Vec<T> {
        self.cache.store_list::<T>(&self.key, kind, &[], None, None);
        Vec::new()
    }

    /// All prompts (every page) as the server lists them now; empty for a server without the
    /// capability.
    pub async fn list_prompts(&self) -> Result<Vec<Prompt>, Failure> {
        if !self.serves_prompts() {
            return Ok(self.none_served(ListKind::Prompts));
        }
        self.list_live(ListKind::Prompts, items(ListKind::Prompts))
            .await
    }

    /// The prompts from the cache when it has a fresh list (no `prompts/list` is sent), else
    /// from the server. The flag says whether they came from the cache.
    pub async fn prompts(&self) -> Result<(Vec<Prompt>, bool), Failure> {
        match self.cached(ListKind::Prompts) {
            Some(prompts) => Ok((prompts, true)),
            None => Ok((self.list_prompts().await?, false)),
        }
    }

    /// All resources (every page) as the server lists them now; empty for a server without
    /// the capability.
    pub async fn list_resources(&self) -> Result<Vec<Resource>, Failure> {
        if !self.has_resources() {
            return Ok(self.none_served(ListKind::Resources));
        }
        self.list_live(ListKind::Resources, items(ListKind::Resources))
            .await
    }

    /// The resources from the cache when fresh, else listed.
    pub async fn resources(&self) -> Result<Vec<Resource>, Failure> {
        match self.cached(ListKind::Resources) {
            Some(resources) => Ok(resources),
            None => self.list_resources().await,
        }
    }

    /// All resource templates (every page) as the server lists them now; empty for a server
    /// without the capability, and for one that declares resources but answers
    /// `resources/templates/list` with "Method not found" (the sqlite and kubernetes servers do:
    /// the method is optional, and a server without it has no templates, not a fault).
    pub async fn list_resource_templates(&self) -> Result<Vec<ResourceTemplate>, Failure> {
        if !self.has_resources() {
            return Ok(self.none_served(ListKind::Templates));
        }
        match self
            .list_live(ListKind::Templates, items(ListKind::Templates))
            .await
        {
            Err(failure) if method_not_found(&failure) => {
                tracing::debug!(server = %self.name(), "resources/templates/list is not implemented: no templates");
                Ok(self.none_served(ListKind::Templates))
            }
            listed => listed,
        }
    }

    /// The resource templates from the cache when fresh, else listed.
    pub async fn resource_templates(&self) -> Result<Vec<ResourceTemplate>, Failure> {
        match self.cached(ListKind::Templates) {
            Some(templates) => Ok(templates),
            None => self.list_resource_templates().await,
        }
    }
}

/// Whether the server answered "Method not found" (JSON-RPC -32601).
fn method_not_found(failure: &Failure) -> bool {
    failure.kind == crate::exit::Kind::Protocol && failure.message.ends_with("(code -32601)")
}
