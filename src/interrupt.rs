//! SIGINT / SIGTERM as a value commands can wait on. `main` races most commands against it;
//! commands that owe the caller a summary (`ask`'s `result` line, `tools call --batch`'s
//! `interrupted` lines) wait on it themselves so they can print what they have first.

use std::sync::OnceLock;

use tokio::sync::watch;

static SIGNAL: OnceLock<watch::Receiver<Option<&'static str>>> = OnceLock::new();

/// Start listening for signals. Call once, inside the runtime, before any command runs.
pub fn install() {
    let (sender, receiver) = watch::channel(None);
    if SIGNAL.set(receiver).is_err() {
        return;
    }
    tokio::spawn(async move {
        let what = received().await;
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

async fn received() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => "interrupted",
                    _ = term.recv() => "terminated",
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "interrupted"
    }
}
