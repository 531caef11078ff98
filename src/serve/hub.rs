//! The upstreams `serve` relays to: every selected server connected once at start (all at
//! once), each either a live session or the failure that keeps it out, and the router that
//! names what they list. Shared by every host connection.
//!
//! Guarantees: a server that failed to connect is reported once on stderr and kept as its
//! failure, so its calls can say why; a `required` server failing stops `serve` (exit as
//! its failure); every live session is closed on the way out (stdio children reaped, HTTP
//! sessions deleted).

use std::sync::Arc;

use futures::future::join_all;

use crate::cli::Prefix;
use crate::commands::App;
use crate::exit::Failure;
use crate::mcp::Session;
use crate::report;

use super::asks::Asks;
use super::hosts::Hosts;
use super::router::Router;
use super::task_ids::TaskIds;

/// One configured server, as `serve` holds it.
pub struct Upstream {
    pub name: String,
    pub session: Result<Session, Failure>,
}

/// What a kept server's hook shares with the [`Hub::one`] that holds it: the hosts (the
/// commands using it) and the task ids named to them.
pub struct OneHook {
    hosts: Arc<Hosts>,
    task_ids: Arc<TaskIds>,
}

/// Every upstream, in config order, and the router over them.
pub struct Hub {
    pub upstreams: Vec<Upstream>,
    pub router: Router,
    /// The hosts, for the upstreams' requests to them (elicitation, sampling, roots).
    pub hosts: Arc<Hosts>,
    /// The task ids named to hosts, and their owners (`tasks`).
    pub task_ids: Arc<TaskIds>,
    /// Per upstream, whether it offers tasks (`task_offer::probe`): `tasks/list` asks only these.
    pub offered: Vec<bool>,
}

impl Hub {
    /// Connect to every selected server concurrently; a failure is kept, not fatal, unless
    /// the server is `required`.
    pub async fn connect(app: &App, prefix: Prefix) -> Result<Hub, Failure> {
        let selected = app.config.select(&app.selected)?;
        let hosts = Arc::new(Hosts::default());
        let task_ids = Arc::new(TaskIds::default());
        let several = selected.len() > 1;
        let attempts = selected.into_iter().enumerate().map(|(index, selected)| {
            let mut context = app.context.clone();
            context.asks = Some(Arc::new(Asks {
                hosts: hosts.clone(),
                upstream: index,
                server: selected.name.clone(),
                several,
                task_ids: task_ids.clone(),
            }));
            async move {
                let session = match selected.server {
                    Ok(server) => Session::connect(server, &context).await,
                    Err(failure) => Err(failure),
                };
                let offered = match &session {
                    Ok(session) => super::task_offer::probe(session).await,
                    Err(_) => false,
                };
                (selected.name, selected.required, session, offered)
            }
        });
        let mut upstreams = Vec::new();
        let mut offered = Vec::new();
        let mut required_failure = None;
        for (name, required, session, offers) in join_all(attempts).await {
            offered.push(offers);
            if let Err(failure) = &session {
                report::warning(failure);
                if required && required_failure.is_none() {
                    required_failure = Some(failure.clone());
                }
            }
            upstreams.push(Upstream { name, session });
        }
        let hub = Hub {
            router: Router::new(upstreams.iter().map(|u| u.name.clone()).collect(), prefix),
            upstreams,
            hosts,
            task_ids,
            offered,
        };
        match required_failure {
            Some(failure) => {
                hub.close().await;
                Err(failure.hint(
                    "the server is `required` in the config, so serve does not start without it",
                ))
            }
            None => Ok(hub),
        }
    }

    /// The hook to hosts of a session that [`Hub::one`] will hold (the daemon's kept
    /// server): its elicitation, sampling and log messages go to the host (the command)
    /// whose request is in flight, as `serve` passes them on; give the hosts to `one`.
    pub fn hook_for_one(name: &str) -> (OneHook, Arc<dyn crate::mcp::Asks>) {
        let hook = OneHook {
            hosts: Arc::new(Hosts::default()),
            task_ids: Arc::new(TaskIds::default()),
        };
        let asks = Asks {
            hosts: hook.hosts.clone(),
            upstream: 0,
            server: name.to_string(),
            several: false,
            task_ids: hook.task_ids.clone(),
        };
        (hook, Arc::new(asks))
    }

    /// One session already connected, under its own names: the daemon's view of a server
    /// it keeps alive (shared by every command that reaches it), with the hosts of its hook.
    pub fn one(name: String, session: Session, hook: OneHook) -> Hub {
        Hub {
            router: Router::new(vec![name.clone()], Prefix::Auto),
            upstreams: vec![Upstream {
                name,
                session: Ok(session),
            }],
            hosts: hook.hosts,
            task_ids: hook.task_ids,
            // Not asked: its `tasks/list` answer (or refusal) reaches the command as it is.
            offered: vec![true],
        }
    }

    /// Whether upstream `index` offers tasks.
    pub fn offers_tasks(&self, index: usize) -> bool {
        self.offered.get(index).copied().unwrap_or(false)
    }

    /// The live sessions with their index.
    pub fn live(&self) -> impl Iterator<Item = (usize, &Session)> {
        self.upstreams
            .iter()
            .enumerate()
            .filter_map(|(index, upstream)| Some((index, upstream.session.as_ref().ok()?)))
    }

    /// The failures of the upstreams that did not connect.
    pub fn dead(&self) -> impl Iterator<Item = (&str, &Failure)> {
        self.upstreams
            .iter()
            .filter_map(|upstream| Some((upstream.name.as_str(), upstream.session.as_ref().err()?)))
    }

    /// Close every live session, all at once.
    pub async fn close(self) {
        let sessions = self.upstreams.into_iter().filter_map(|u| u.session.ok());
        join_all(sessions.map(Session::close)).await;
    }
}
