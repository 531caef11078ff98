//! Names and owners: what the host calls a tool or prompt (`server__name` or the server's own
//! name), which upstream a name or a resource URI belongs to, and the way back to the name the
//! upstream knows.
//!
//! Guarantees: with prefixes, a name routes only to the server its prefix names (the longest
//! server name that matches, so `a__b` and `a` cannot steal each other's tools); without
//! prefixes, a name routes to the first server (in config order) that listed it; a resource
//! URI routes to the server that listed it, else to the one whose template matches it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::cli::Prefix;

/// The separator between a server's name and a tool's or prompt's, as `ask` shows them.
pub const SEPARATOR: &str = "__";

/// Routes the host's names to upstreams (by index into the configured order).
pub struct Router {
    servers: Vec<String>,
    prefixed: bool,
    /// Unprefixed names: who listed each first (filled as lists are answered).
    tools: Mutex<HashMap<String, usize>>,
    prompts: Mutex<HashMap<String, usize>>,
    /// Resource URIs and templates, as listed.
    uris: Mutex<HashMap<String, usize>>,
    templates: Mutex<Vec<(String, usize)>>,
}

/// Which list a name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    Tool,
    Prompt,
}

impl Router {
    /// A router for `servers` (in config order). `auto` prefixes when there are several.
    pub fn new(servers: Vec<String>, prefix: Prefix) -> Router {
        let prefixed = match prefix {
            Prefix::Always => true,
            Prefix::Never => false,
            Prefix::Auto => servers.len() > 1,
        };
        Router {
            servers,
            prefixed,
            tools: Mutex::default(),
            prompts: Mutex::default(),
            uris: Mutex::default(),
            templates: Mutex::default(),
        }
    }

    pub fn prefixed(&self) -> bool {
        self.prefixed
    }

    /// The name the host sees for `name` of server `index`.
    pub fn exposed(&self, index: usize, name: &str) -> String {
        match self.servers.get(index) {
            Some(server) if self.prefixed => format!("{server}{SEPARATOR}{name}"),
            _ => name.to_string(),
        }
    }

    /// Remember that server `index` listed `names` (unprefixed routing needs it); the first
    /// server to list a name keeps it. A `first` page replaces what that server listed
    /// before; a later page adds to it.
    pub fn listed<'a>(
        &self,
        what: Named,
        index: usize,
        first: bool,
        names: impl Iterator<Item = &'a str>,
    ) {
        let mut owners = self.owners(what).lock().unwrap_or_else(|e| e.into_inner());
        if first {
            owners.retain(|_, owner| *owner != index);
        }
        for name in names {
            owners.entry(name.to_string()).or_insert(index);
        }
    }

    fn owners(&self, what: Named) -> &Mutex<HashMap<String, usize>> {
        match what {
            Named::Tool => &self.tools,
            Named::Prompt => &self.prompts,
        }
    }

    /// The server (index) and its own name for a name the host used; None when nothing
    /// routes it (an unprefixed name nobody listed yet among several servers).
    pub fn route(&self, what: Named, exposed: &str) -> Option<(usize, String)> {
        if self.prefixed {
            return self
                .servers
                .iter()
                .enumerate()
                .filter_map(|(index, server)| {
                    let rest = exposed.strip_prefix(server.as_str())?;
                    let name = rest.strip_prefix(SEPARATOR)?;
                    Some((server.len(), index, name))
                })
                .max_by_key(|(length, _, _)| *length)
                .map(|(_, index, name)| (index, name.to_string()));
        }
        if self.servers.len() == 1 {
            return Some((0, exposed.to_string()));
        }
        let owners = self.owners(what).lock().unwrap_or_else(|e| e.into_inner());
        owners
            .get(exposed)
            .map(|index| (*index, exposed.to_string()))
    }

    /// Remember the resource URIs server `index` listed (a `first` page replaces what it
    /// listed before).
    pub fn listed_uris<'a>(&self, index: usize, first: bool, uris: impl Iterator<Item = &'a str>) {
        let mut owners = self.uris.lock().unwrap_or_else(|e| e.into_inner());
        if first {
            owners.retain(|_, owner| *owner != index);
        }
        for uri in uris {
            owners.entry(uri.to_string()).or_insert(index);
        }
    }

    /// Remember the resource templates server `index` listed.
    pub fn listed_templates<'a>(
        &self,
        index: usize,
        first: bool,
        templates: impl Iterator<Item = &'a str>,
    ) {
        let mut owned = self.templates.lock().unwrap_or_else(|e| e.into_inner());
        if first {
            owned.retain(|(_, owner)| *owner != index);
        }
        owned.extend(templates.map(|t| (t.to_string(), index)));
    }

    /// The server a resource URI (or a template's URI, for completion) belongs to: the one
    /// that listed it, else the first whose template matches, else the only server.
    pub fn route_uri(&self, uri: &str) -> Option<usize> {
        if let Some(index) = self.uris.lock().unwrap_or_else(|e| e.into_inner()).get(uri) {
            return Some(*index);
        }
        let templates = self.templates.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, index)) = templates
            .iter()
            .find(|(template, _)| template == uri || crate::mcp::template_matches(template, uri))
        {
            return Some(*index);
        }
        (self.servers.len() == 1).then_some(0)
    }

    pub fn server(&self, index: usize) -> &str {
        self.servers.get(index).map_or("?", String::as_str)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn two() -> Router {
        Router::new(vec!["a".into(), "a__b".into()], Prefix::Auto)
    }

    #[test]
    fn several_servers_get_prefixes_and_the_longest_server_name_wins() {
        let router = two();
        assert!(router.prefixed());
        assert_eq!(router.exposed(1, "echo"), "a__b__echo");
        assert_eq!(
            router.route(Named::Tool, "a__b__echo"),
            Some((1, "echo".to_string()))
        );
        assert_eq!(
            router.route(Named::Tool, "a__echo"),
            Some((0, "echo".to_string()))
        );
        assert_eq!(router.route(Named::Tool, "c__echo"), None);
        assert_eq!(router.route(Named::Tool, "echo"), None);
    }

    #[test]
    fn one_server_keeps_its_names_unless_prefixes_are_asked_for() {
        let router = Router::new(vec!["solo".into()], Prefix::Auto);
        assert_eq!(router.exposed(0, "echo"), "echo");
        assert_eq!(
            router.route(Named::Prompt, "echo"),
            Some((0, "echo".to_string()))
        );
        let always = Router::new(vec!["solo".into()], Prefix::Always);
        assert_eq!(always.exposed(0, "echo"), "solo__echo");
        assert_eq!(always.route(Named::Tool, "echo"), None);
    }

    #[test]
    fn without_prefixes_the_first_server_to_list_a_name_owns_it() {
        let router = Router::new(vec!["a".into(), "b".into()], Prefix::Never);
        assert_eq!(router.route(Named::Tool, "echo"), None);
        router.listed(Named::Tool, 0, true, ["echo"].into_iter());
        router.listed(Named::Tool, 1, true, ["echo", "add"].into_iter());
        assert_eq!(
            router.route(Named::Tool, "echo"),
            Some((0, "echo".to_string()))
        );
        assert_eq!(
            router.route(Named::Tool, "add"),
            Some((1, "add".to_string()))
        );
        assert_eq!(router.route(Named::Prompt, "add"), None);
    }

    #[test]
    fn resource_uris_route_to_the_server_that_listed_them_or_whose_template_matches() {
        let router = two();
        router.listed_uris(1, true, ["file:///x"].into_iter());
        router.listed_templates(0, true, ["notes://{id}"].into_iter());
        assert_eq!(router.route_uri("file:///x"), Some(1));
        assert_eq!(router.route_uri("notes://7"), Some(0));
        assert_eq!(router.route_uri("notes://{id}"), Some(0));
        assert_eq!(router.route_uri("other://y"), None);
    }
}
