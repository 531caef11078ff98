//! A server being connected in the background: `ask` with a warm cache offers the cached tools
//! to the model at once and waits for a server only when the model calls one of its tools.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::Tool;
use tokio::sync::{Mutex, OnceCell};
use tokio::task::JoinHandle;

use super::{Context, Session};
use crate::config::ServerConfig;
use crate::exit::{Failure, Kind};

/// What connecting gave: the session and its tools, and whether they came from the cache.
pub type Connected = Result<(Session, Vec<Tool>, bool), Failure>;

/// One server's session, connecting (or connected) in the background.
pub struct Slot {
    pub name: String,
    pub required: bool,
    task: Mutex<Option<JoinHandle<Connected>>>,
    ready: OnceCell<Result<Session, Failure>>,
    /// Its failure has been reported (error line and warning).
    pub reported: std::sync::atomic::AtomicBool,
}

impl Slot {
    /// Start connecting to `server` (connect, then the tools from the cache or the server).
    pub fn start(
        name: String,
        required: bool,
        server: Arc<ServerConfig>,
        context: &Context,
    ) -> Slot {
        let context = context.clone();
        let task = tokio::spawn(async move {
            let session = Session::connect(server, &context).await?;
            // Offered to the model: a cached list the server said changed is listed again.
            match session.tools_to_show().await {
                Ok((tools, cached)) => Ok((session, tools, cached)),
                Err(failure) => {
                    session.close().await;
                    Err(failure)
                }
            }
        });
        Slot {
            name,
            required,
            task: Mutex::new(Some(task)),
            ready: OnceCell::new(),
            reported: Default::default(),
        }
    }

    /// A slot whose connection already failed (e.g. its settings could not be resolved).
    pub fn failed(name: String, required: bool, failure: Failure) -> Slot {
        Slot {
            name,
            required,
            task: Mutex::new(None),
            ready: OnceCell::new_with(Some(Err(failure))),
            reported: Default::default(),
        }
    }

    /// Wait for the connection and its tools (used when the tools are not cached).
    pub async fn wait_for_tools(&self) -> Result<Vec<Tool>, Failure> {
        let joined = self.join().await;
        let (result, tools) = match joined {
            Some(Ok((session, tools, _))) => (Ok(session), Ok(tools)),
            Some(Err(failure)) => (Err(failure.clone()), Err(failure)),
            None => return self.session().await.map(|_| Vec::new()),
        };
        let _ = self.ready.set(result);
        tools
    }

    async fn join(&self) -> Option<Connected> {
        let task = self.task.lock().await.take()?;
        Some(task.await.unwrap_or_else(|e| {
            Err(Failure::new(
                Kind::Internal,
                format!("connecting to MCP server failed: {e}"),
            ))
        }))
    }

    /// The session if it is connected already (never waits).
    pub fn connected(&self) -> Option<&Session> {
        self.ready.get().and_then(|ready| ready.as_ref().ok())
    }

    /// The session, waiting for the background connection if it is still going.
    pub async fn session(&self) -> Result<&Session, Failure> {
        let ready = self
            .ready
            .get_or_init(|| async {
                match self.join().await {
                    Some(connected) => connected.map(|(session, _, _)| session),
                    None => Err(Failure::new(
                        Kind::Internal,
                        format!("MCP server `{}` has no connection", self.name),
                    )),
                }
            })
            .await;
        ready.as_ref().map_err(Failure::clone)
    }

    /// End the session. A connection still under way gets `grace` to finish (so that its
    /// server-side session is closed too); after that it is dropped.
    pub async fn close(self, grace: Duration) -> Option<Failure> {
        let Slot {
            task, mut ready, ..
        } = self;
        if ready.get().is_none()
            && let Some(task) = task.into_inner()
        {
            match tokio::time::timeout(grace, task).await {
                Ok(Ok(connected)) => {
                    let _ = ready.set(connected.map(|(session, _, _)| session));
                }
                Ok(Err(_)) | Err(_) => return None,
            }
        }
        match ready.take()? {
            Ok(session) => {
                session.close().await;
                None
            }
            Err(failure) => Some(failure),
        }
    }
}
