//! SIGINT / SIGTERM as a value commands can wait on. `main` races most commands against it;
//! commands that owe the caller a summary (`ask`'s `result` line, `tools call --batch`'s
//! `interrupted` lines) wait on it themselves so they can print what they have first.

use std::sync::OnceLock;

use tokio::sync::watch;

static SIGNAL: OnceLock<watch::Receiver<Option<&'static str>>> = OnceLock::new();

/// Start listening for signals. Call once, inside the runtime, before any command runs.
/// The handlers are installed here, not in the task: on the one-thread runtime the task first
/// runs at the command's first await, and a signal before that would end us by its default
/// action, leaving stdio servers behind.
pub fn install() {
    let (sender, receiver) = watch::channel(None);
    if SIGNAL.set(receiver).is_err() {
        return;
    }
    let signals = Signals::install();
    tokio::spawn(async move {
        let what = signals.received().await;
        let _ = sender.send(Some(what));
        // Keep the channel open so late waiters still see the value.
        std::future::pending::<()>().await;
    });
}

/// Resolves with "interrupted" (SIGINT) or "terminated" (SIGTERM) once one arrives.
pub async fn wait() -> &'static str {
    let Some(receiver) = SIGNAL.get() else {
        return std::future::pending().await;
    };
    let mut receiver = receiver.clone();
    match receiver.wait_for(Option::is_some).await {
        Ok(value) => value.unwrap_or("interrupted"),
        Err(_) => std::future::pending().await,
    }
}

/// SIGINT and SIGTERM, listened for from the moment this is built (None where that failed).
struct Signals {
    #[cfg(unix)]
    both: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let both = signal(SignalKind::interrupt())
                .ok()
                .zip(signal(SignalKind::terminate()).ok());
            Signals { both }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn received(self) -> &'static str {
        #[cfg(unix)]
        {
            let Some((mut int, mut term)) = self.both else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = int.recv() => "interrupted",
                _ = term.recv() => "terminated",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupted"
        }
    }
}
