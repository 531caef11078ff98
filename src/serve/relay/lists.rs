//! Merged lists: each upstream's page of tools, prompts, resources or templates (the cache
//! used, allow/deny applied), renamed for the host, with the cursor that goes on (`pages`).

use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Relay;
use super::answers::kept_list;
use crate::cache::ListKind;
use crate::exit::Failure;
use crate::serve::pages::{self, Position};
use crate::serve::router::Named;

impl Relay {
    /// One merged page of tools (allow/deny applied, the cache used unless `fresh`: the host
    /// asked for the lists as the upstreams list them now), renamed; see `pages`.
    pub(super) async fn tools(
        &self,
        at: &Position,
        fresh: bool,
    ) -> Result<(Vec<Tool>, Option<Position>), Failure> {
        let parts = pages::fetch(self.hub.live(), at, |session, cursor| async move {
            match cursor {
                None if !fresh && session.cached::<Tool>(ListKind::Tools).is_some() => {
                    Ok((session.tools_to_show().await?.0, None))
                }
                cursor => session.tools_page(cursor).await,
            }
        })
        .await;
        let parts = self.unfailed(parts)?;
        let (kept, next) = pages::cut(parts, at);
        let router = &self.hub.router;
        let mut merged = Vec::new();
        for (index, first, (_, server, listed)) in kept {
            let Some((tools, _)) = kept_list(&server, "tools/list", listed) else {
                continue;
            };
            let names = tools.iter().map(|t| t.name.as_ref());
            router.listed(Named::Tool, index, first, names);
            merged.extend(tools.into_iter().map(|mut tool| {
                tool.name = router.exposed(index, &tool.name).into();
                tool
            }));
        }
        let mut listed = self.listed_tools.lock().unwrap_or_else(|e| e.into_inner());
        // Pages add to what was listed (a first page starts over: see `Position`).
        if at.u == 0 && at.c.is_none() {
            listed.clear();
        }
        listed.extend(merged.iter().map(|t| (t.name.to_string(), t.clone())));
        drop(listed);
        Ok((merged, next))
    }

    /// One merged page of prompts, renamed.
    pub(super) async fn prompts(
        &self,
        at: &Position,
        fresh: bool,
    ) -> Result<(Vec<Prompt>, Option<Position>), Failure> {
        let (kept, next) = self.items::<Prompt>(ListKind::Prompts, at, fresh).await?;
        let router = &self.hub.router;
        let mut merged = Vec::new();
        for (index, first, prompts) in kept {
            let names = prompts.iter().map(|p| p.name.as_str());
            router.listed(Named::Prompt, index, first, names);
            merged.extend(prompts.into_iter().map(|mut prompt| {
                prompt.name = router.exposed(index, &prompt.name);
                prompt
            }));
        }
        Ok((merged, next))
    }

    /// One merged page of resources (their URIs as they are).
    pub(super) async fn resources(
        &self,
        at: &Position,
        fresh: bool,
    ) -> Result<(Vec<Resource>, Option<Position>), Failure> {
        let (kept, next) = self
            .items::<Resource>(ListKind::Resources, at, fresh)
            .await?;
        let mut merged = Vec::new();
        for (index, first, resources) in kept {
            let uris = resources.iter().map(|r| r.uri.as_str());
            self.hub.router.listed_uris(index, first, uris);
            merged.extend(resources);
        }
        Ok((merged, next))
    }

    /// One merged page of resource templates.
    pub(super) async fn templates(
        &self,
        at: &Position,
        fresh: bool,
    ) -> Result<(Vec<ResourceTemplate>, Option<Position>), Failure> {
        let (kept, next) = self
            .items::<ResourceTemplate>(ListKind::Templates, at, fresh)
            .await?;
        let mut merged = Vec::new();
        for (index, first, templates) in kept {
            let patterns = templates.iter().map(|t| t.uri_template.as_str());
            self.hub.router.listed_templates(index, first, patterns);
            merged.extend(templates);
        }
        Ok((merged, next))
    }

    /// One merged page of a list other than tools: each upstream's items with its index and
    /// whether they are its first page (failed upstreams left out with a warning).
    async fn items<T: Serialize + DeserializeOwned>(
        &self,
        kind: ListKind,
        at: &Position,
        fresh: bool,
    ) -> Result<(Vec<(usize, bool, Vec<T>)>, Option<Position>), Failure> {
        let parts = pages::fetch(self.hub.live(), at, |session, cursor| async move {
            match cursor {
                None if !fresh && session.cached::<T>(kind).is_some() => {
                    Ok((session.cached::<T>(kind).unwrap_or_default(), None))
                }
                cursor => session.items_page::<T>(kind, cursor).await,
            }
        })
        .await;
        let parts = self.unfailed(parts)?;
        let (kept, next) = pages::cut(parts, at);
        let items = kept
            .into_iter()
            .filter_map(|(index, first, (_, server, listed))| {
                let (items, _) = kept_list(&server, kind.method(), listed)?;
                Some((index, first, items))
            })
            .collect();
        Ok((items, next))
    }

    /// The parts of a merged page; for the daemon's relay, the failure of its upstream to
    /// list (e.g. its authorization was revoked) instead, so that the command fails as
    /// directly rather than getting an empty list.
    fn unfailed<T>(&self, mut parts: Vec<pages::Part<T>>) -> Result<Vec<pages::Part<T>>, Failure> {
        if !self.failures_as_errors {
            return Ok(parts);
        }
        match parts.iter().position(|(_, _, listed)| listed.is_err()) {
            Some(at) => match parts.remove(at) {
                (_, _, Err(failure)) => Err(failure),
                _ => Ok(parts),
            },
            None => Ok(parts),
        }
    }

    /// Every page of one list, for the router to know every name or URI; a cursor an
    /// upstream repeats ends it (as `paginate` does for our own listings).
    pub(super) async fn relist(&self, kind: ListKind) {
        let mut at = Position { u: 0, c: None };
        let mut seen = std::collections::HashSet::new();
        loop {
            let next = match kind {
                ListKind::Tools => self.tools(&at, false).await.map(|page| page.1),
                ListKind::Prompts => self.prompts(&at, false).await.map(|page| page.1),
                ListKind::Resources => self.resources(&at, false).await.map(|page| page.1),
                ListKind::Templates => self.templates(&at, false).await.map(|page| page.1),
            };
            match next {
                Ok(Some(next)) if seen.insert(next.encode()) => at = next,
                _ => return,
            }
        }
    }
}
