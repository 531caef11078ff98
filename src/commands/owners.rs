//! Which server a resource URI belongs to, for `resources read|watch` and `ask --resource`:
//! with one server in play, that server (no listing round trip); with several, the first (in
//! config order) that lists the URI, else the first with a template it matches (from the
//! cached lists when fresh, listed live when they place no server). When a server
//! cannot read a URI that servers outside the selection list, the error names them (exit 2).

use futures::StreamExt;
use serde_json::Value;

use crate::cache::ListKind;
use crate::events::Event;
use crate::exit::{Code, Failure};
use crate::mcp::Session;
use crate::report;

use super::App;
use super::tools::{exit_for_servers, server_error, servers_failure};

/// Connected servers and, for each URI asked for, the index of its session.
pub struct Owners {
    pub sessions: Vec<Session>,
    owner: Vec<usize>,
    /// Picked with cached lists in play (they may be stale).
    warm: bool,
}

impl Owners {
    /// Connect to the selected servers and find each URI's server.
    pub async fn connect(app: &App, uris: &[String]) -> Result<Owners, Failure> {
        let sessions = connect_selected(app).await?;
        match pick(&sessions, uris).await {
            Ok(Picked { owner, warm }) => Ok(Owners {
                sessions,
                owner,
                warm,
            }),
            Err(failure) => {
                let failure = match uris.first() {
                    Some(uri) if failure.code() == Code::Usage => {
                        explain(app, &sessions, uri, failure).await
                    }
                    _ => failure,
                };
                close_all(sessions).await;
                Err(failure)
            }
        }
    }

    /// The index (in `sessions`) of each URI's session, in the order the URIs were given.
    pub fn indices(&self) -> &[usize] {
        &self.owner
    }

    /// After the server picked for the `i`th URI refused to read it as bad input: when the
    /// pick came from cached lists, forget them, pick again from the live lists, and return
    /// the new owner's session if it is another server (the caller reads once more).
    pub async fn repick(&mut self, i: usize, uri: &str) -> Option<&Session> {
        if !self.warm {
            return None;
        }
        self.warm = false;
        let owner = repick(&self.sessions, uri, self.owner[i]).await?;
        self.owner[i] = owner;
        Some(&self.sessions[owner])
    }

    /// A read that failed as bad input: say so with the servers that do list `uri`.
    pub async fn explain(&self, app: &App, uri: &str, failure: Failure) -> Failure {
        if failure.code() != Code::Usage {
            return failure;
        }
        explain(app, &self.sessions, uri, failure).await
    }

    pub async fn close(self) {
        close_all(self.sessions).await;
    }
}

async fn close_all(sessions: Vec<Session>) {
    futures::future::join_all(sessions.into_iter().map(Session::close)).await;
}

/// Every selected server, connected at once. One failing among several gets an `error` line
/// and a warning; a `required` one failing, or all of them, ends the command.
async fn connect_selected(app: &App) -> Result<Vec<Session>, Failure> {
    let selected = app.config.select(&app.selected)?;
    let total = selected.len();
    let mut pending: futures::stream::FuturesOrdered<_> = selected
        .into_iter()
        .map(|selected| {
            let app = app.clone();
            async move {
                let outcome = match selected.server {
                    Ok(server) => crate::daemon::connect(&app, server, None).await,
                    Err(failure) => Err(failure),
                };
                (selected.name, selected.required, outcome)
            }
        })
        .collect();
    let mut sessions = Vec::new();
    let mut failures = Vec::new();
    while let Some((name, required, outcome)) = pending.next().await {
        match outcome {
            Ok(session) => sessions.push(session),
            Err(failure) => {
                if total > 1 {
                    report::warning(&failure);
                    let _ = app
                        .output
                        .emit(&Event::Error(server_error(&name, &failure)));
                }
                failures.push((required, failure));
            }
        }
    }
    if exit_for_servers(total, &failures) != Code::Success {
        close_all(sessions).await;
        return Err(servers_failure(total, &failures));
    }
    Ok(sessions)
}

/// Where [`pick`] placed the URIs.
pub struct Picked {
    /// For each URI, the index of its session.
    pub owner: Vec<usize>,
    /// Placed from cached lists among several servers: they may be stale, so a server that
    /// refuses its URI is worth one [`repick`].
    pub warm: bool,
}

/// For each URI, the index of the session it belongs to (see the module's rules). The
/// servers' cached lists are used when fresh; a URI they do not place makes them listed live.
pub async fn pick<S: std::borrow::Borrow<Session>>(
    sessions: &[S],
    uris: &[String],
) -> Result<Picked, Failure> {
    if sessions.len() == 1 {
        let owner = vec![0; uris.len()];
        return Ok(Picked { owner, warm: false });
    }
    let cached = any_cached(sessions);
    match pick_from(sessions, uris, false).await {
        Err(failure) if cached && failure.code() == Code::Usage => {
            let owner = pick_from(sessions, uris, true).await?;
            Ok(Picked { owner, warm: false })
        }
        picked => Ok(Picked {
            owner: picked?,
            warm: cached,
        }),
    }
}

/// The server `uri` belongs to by the live lists, when it is not `current`: the cached lists
/// that placed it on `current` are forgotten first (they proved stale: `current` refused it).
pub async fn repick<S: std::borrow::Borrow<Session>>(
    sessions: &[S],
    uri: &str,
    current: usize,
) -> Option<usize> {
    if sessions.len() < 2 {
        return None;
    }
    for session in sessions {
        let session: &Session = session.borrow();
        session.forget(ListKind::Resources);
        session.forget(ListKind::Templates);
    }
    let owner = *pick_from(sessions, &[uri.to_string()], true)
        .await
        .ok()?
        .first()?;
    if owner == current {
        return None;
    }
    let name = sessions[owner].borrow().name();
    tracing::info!(uri, server = %name, "the cached lists placed the URI on another server; reading it from this one");
    Some(owner)
}

/// Whether any of the servers has a fresh cached resources or templates list.
fn any_cached<S: std::borrow::Borrow<Session>>(sessions: &[S]) -> bool {
    sessions.iter().any(|session| {
        let session: &Session = session.borrow();
        session.cached::<Value>(ListKind::Resources).is_some()
            || session.cached::<Value>(ListKind::Templates).is_some()
    })
}

/// [`pick`] from the cached lists (`live` false; those without a fresh entry are listed) or
/// the live ones.
async fn pick_from<S: std::borrow::Borrow<Session>>(
    sessions: &[S],
    uris: &[String],
    live: bool,
) -> Result<Vec<usize>, Failure> {
    let listings = futures::future::join_all(sessions.iter().map(async |session| {
        let session: &Session = session.borrow();
        if live {
            let resources = session.list_resources().await?;
            let templates = session.list_resource_templates().await?;
            return Ok::<_, Failure>((resources, templates));
        }
        Ok((
            session.resources().await?,
            session.resource_templates().await?,
        ))
    }))
    .await;
    let mut known = Vec::new();
    for listing in listings {
        match listing {
            Ok(listing) => known.push(listing),
            Err(failure) => {
                report::warning(&failure);
                known.push((Vec::new(), Vec::new()));
            }
        }
    }
    uris.iter()
        .map(|uri| {
            let found = |exact: bool| {
                known.iter().position(|(resources, templates)| {
                    let (listed, matched) = lists(resources, templates, uri);
                    if exact { listed } else { matched }
                })
            };
            found(true).or_else(|| found(false)).ok_or_else(|| {
                let names: Vec<&str> = sessions.iter().map(|s| s.borrow().name()).collect();
                Failure::usage(format!(
                    "no selected MCP server lists resource `{uri}` or has a template for it"
                ))
                .hint(format!(
                    "servers: {}; to read it from one anyway: --server NAME",
                    names.join(", ")
                ))
            })
        })
        .collect()
}

/// `failure` as is, unless servers outside `sessions` list `uri`: then an input error that
/// names them.
async fn explain(app: &App, sessions: &[Session], uri: &str, failure: Failure) -> Failure {
    let others: Vec<String> = match app.config.selected_names(&[]) {
        Ok(names) => names
            .into_iter()
            .filter(|name| !sessions.iter().any(|s| s.name() == name))
            .collect(),
        Err(_) => return failure,
    };
    if others.is_empty() {
        return failure;
    }
    let Ok(selected) = app.config.select(&others) else {
        return failure;
    };
    let found = futures::future::join_all(selected.into_iter().map(async |selected| {
        let session = crate::daemon::connect(app, selected.server.ok()?, None)
            .await
            .ok()?;
        let listed = session
            .list_resources()
            .await
            .is_ok_and(|resources| resources.iter().any(|r| r.uri == uri));
        session.close().await;
        listed.then_some(selected.name)
    }))
    .await;
    let listers: Vec<String> = found.into_iter().flatten().collect();
    let Some(first) = listers.first() else {
        return failure;
    };
    let asked: Vec<&str> = sessions.iter().map(Session::name).collect();
    Failure::usage(format!(
        "resource `{uri}` is listed by MCP server {}, not by {}",
        quoted(&listers),
        quoted(&asked)
    ))
    .hint(format!(
        "read it from there: mcpchat resources read --server {first} {uri}"
    ))
}

fn quoted(names: &[impl AsRef<str>]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a session lists `uri`, or has a template it matches.
fn lists(
    resources: &[rmcp::model::Resource],
    templates: &[rmcp::model::ResourceTemplate],
    uri: &str,
) -> (bool, bool) {
    (
        resources.iter().any(|r| r.uri == uri),
        templates
            .iter()
            .any(|t| crate::mcp::template_matches(&t.uri_template, uri)),
    )
}
