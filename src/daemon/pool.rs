//! The servers the daemon keeps alive, keyed by their [`Spec`]: found or started for each
//! command that connects, counted while commands use them, ended when idle.
//!
//! Guarantees: one live session per key, however many commands connect at once (starting
//! is serialised); a server whose process exited is started again on the next connection
//! (never in the middle of a request), and the command is told; a changed config under the
//! same name ends the old server once no command uses it (at once, or at the next sweep when
//! a command still held it); every ended server's process
//! group is gone (`Session::close`), and the pid file lists the live ones. An HTTP server
//! is connected with the command's token store (the daemon refreshes its tokens under the
//! store's lock), and its session (its `Mcp-Session-Id`) is what the commands share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::exit::Failure;
use crate::mcp::{Context, Session};
use crate::serve::hub::Hub;

use super::place::{PidFile, Place};
use super::spec::Spec;

/// One kept-alive server.
pub struct Kept {
    pub name: String,
    pub key: String,
    pub hub: Arc<Hub>,
    pub pid: Option<u32>,
    pub protocol_version: Option<String>,
    /// `stdio` or `http`.
    pub transport: &'static str,
    /// The auth identity `daemon status` shows (HTTP servers; never a secret).
    pub auth: Option<serde_json::Value>,
    pub started: Instant,
    pub calls: AtomicU64,
    /// Commands connected right now.
    pub active: AtomicUsize,
    last_used: Mutex<Instant>,
    idle_timeout: Mutex<Duration>,
}

impl Kept {
    pub fn session(&self) -> Option<&Session> {
        self.hub.live().next().map(|(_, session)| session)
    }

    fn alive(&self) -> bool {
        self.session().is_some_and(Session::is_alive)
    }

    /// A command sent a request: the server is not idle.
    pub fn used(&self) {
        *self.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    pub fn idle(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    fn expired(&self) -> bool {
        self.active.load(Ordering::Relaxed) == 0
            && self.idle() >= *self.idle_timeout.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether a later server of the same name replaced `old`, which no command uses now: one
/// the replacing command could not end because a command still held it.
fn superseded<'a>(old: &Kept, all: impl IntoIterator<Item = &'a Arc<Kept>>) -> bool {
    old.active.load(Ordering::Relaxed) == 0
        && all
            .into_iter()
            .any(|k| k.name == old.name && k.started > old.started)
}

/// A command's hold on a kept server; dropping it lets the server go idle.
pub struct Hold(pub Arc<Kept>);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.used();
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct Pool {
    context: Context,
    place: Place,
    kept: tokio::sync::Mutex<HashMap<String, Arc<Kept>>>,
    /// Whether a server was ever kept: the daemon exits once the last one ended.
    ever: std::sync::atomic::AtomicBool,
    pub born: Instant,
}

impl Pool {
    pub fn new(context: Context, place: Place) -> Pool {
        Pool {
            context,
            place,
            kept: Default::default(),
            ever: Default::default(),
            born: Instant::now(),
        }
    }

    /// The live server for `spec` (started if needed), held for one command; the note says
    /// why it was started again, when it was.
    pub async fn hold(&self, spec: &Spec) -> Result<(Hold, Option<String>), Failure> {
        let key = spec.key();
        let mut kept = self.kept.lock().await;
        let mut note = None;
        let mut ended = Vec::new();
        if let Some(found) = kept.get(&key) {
            if found.alive() {
                let found = found.clone();
                found.active.fetch_add(1, Ordering::Relaxed);
                *found.idle_timeout.lock().unwrap_or_else(|e| e.into_inner()) = spec.idle_timeout();
                found.used();
                return Ok((Hold(found), None));
            }
            note = Some(format!(
                "MCP server `{}` kept alive by the daemon had exited; started it again",
                spec.name
            ));
            ended.extend(kept.remove(&key));
        }
        // The same name with another config: the old one goes once no command uses it.
        let replaced: Vec<String> = kept
            .iter()
            .filter(|(_, k)| k.name == spec.name && k.active.load(Ordering::Relaxed) == 0)
            .map(|(key, _)| key.clone())
            .collect();
        ended.extend(replaced.iter().filter_map(|key| kept.remove(key)));
        let started = self.start(spec, key.clone()).await;
        if let Ok(found) = &started {
            kept.insert(key, found.clone());
            self.ever.store(true, Ordering::Relaxed);
        }
        self.record(&kept);
        drop(kept);
        for old in ended {
            close(old).await;
        }
        let found = started?;
        found.active.fetch_add(1, Ordering::Relaxed);
        Ok((Hold(found), note))
    }

    async fn start(&self, spec: &Spec, key: String) -> Result<Arc<Kept>, Failure> {
        let server = spec.server()?;
        // What the server asks goes to the command using it (see `asks`).
        let (hook, relayed) = Hub::hook_for_one(&spec.name);
        let mut context = self.context.clone();
        // A stdio server gets the command's environment and its `env:`, nothing of the
        // daemon's (see `environment`).
        context.clear_env = true;
        context.asks = Some(Arc::new(super::asks::KeptAsks {
            relayed,
            declared: spec.declared.clone(),
            roots: server.roots.clone().into(),
        }));
        let (session, auth) = match &spec.remote {
            // An HTTP server is reached with the command's token store: the daemon refreshes
            // its tokens under the same lock as the command would.
            Some(remote) => {
                context.store = remote.store();
                let session = Session::connect(server, &context).await?;
                (session, Some(remote.identity(&context.store)))
            }
            None => (Session::connect(server, &context).await?, None),
        };
        tracing::info!(server = %spec.name, key = %key, pid = ?session.child_pid(), "started");
        Ok(Arc::new(Kept {
            name: spec.name.clone(),
            key,
            pid: session.child_pid(),
            protocol_version: session.protocol_version(),
            transport: if spec.remote.is_some() {
                "http"
            } else {
                "stdio"
            },
            auth,
            hub: Arc::new(Hub::one(spec.name.clone(), session, hook)),
            started: Instant::now(),
            calls: AtomicU64::new(0),
            active: AtomicUsize::new(0),
            last_used: Mutex::new(Instant::now()),
            idle_timeout: Mutex::new(spec.idle_timeout()),
        }))
    }

    /// Every kept server, in the order they started.
    pub async fn list(&self) -> Vec<Arc<Kept>> {
        let mut all: Vec<Arc<Kept>> = self.kept.lock().await.values().cloned().collect();
        all.sort_by_key(|k| k.started);
        all
    }

    /// End the servers idle past their timeout (and those whose process is gone); whether
    /// the daemon has nothing left to keep and should exit.
    pub async fn sweep(&self, idle_exit: Duration) -> bool {
        let mut kept = self.kept.lock().await;
        let gone: Vec<String> = kept
            .iter()
            // A server that exited stays until it expires: the next command starts it again
            // and is told so.
            .filter(|(_, k)| k.expired() || superseded(k, kept.values()))
            .map(|(key, _)| key.clone())
            .collect();
        let ended: Vec<Arc<Kept>> = gone.iter().filter_map(|key| kept.remove(key)).collect();
        if !ended.is_empty() {
            self.record(&kept);
        }
        let empty = kept.is_empty();
        drop(kept);
        for old in ended {
            tracing::info!(server = %old.name, "ended (idle)");
            close(old).await;
        }
        empty && (self.ever.load(Ordering::Relaxed) || self.born.elapsed() >= idle_exit)
    }

    /// End every server (the daemon is stopping).
    pub async fn close_all(&self) {
        let all: Vec<Arc<Kept>> = self.kept.lock().await.drain().map(|(_, k)| k).collect();
        futures::future::join_all(all.into_iter().map(close)).await;
        self.record(&HashMap::new());
    }

    /// The pid file, with the process groups of the servers alive now.
    fn record(&self, kept: &HashMap<String, Arc<Kept>>) {
        self.place.write_pid_file(&PidFile {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            children: kept.values().filter_map(|k| k.pid).collect(),
        });
    }
}

/// Close a server once the commands' relays let go of it; its process group is ended
/// either way.
async fn close(kept: Arc<Kept>) {
    let pid = kept.pid;
    let mut hub = match Arc::try_unwrap(kept) {
        Ok(kept) => kept.hub,
        Err(shared) => shared.hub.clone(),
    };
    for _ in 0..50 {
        match Arc::try_unwrap(hub) {
            Ok(hub) => return hub.close().await,
            Err(shared) => hub = shared,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if let Some(pid) = pid {
        crate::mcp::transport::children::terminate(pid, Duration::from_millis(200)).await;
    }
}
