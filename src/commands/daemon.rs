//! `daemon start|stop|status|restart` (and the hidden `run`): the per-user daemon that keeps
//! servers alive between commands. Like `gh`/`kubectl`, asking about a daemon that is not
//! running is not an error: a note on stderr, exit 0.

use crate::cli::DaemonCommand;
use crate::daemon::{client, place::Place, run};
use crate::events::{DaemonServer, Event};
use crate::exit::Code;
use crate::report;

use super::App;

pub async fn daemon(app: &App, command: &DaemonCommand) -> anyhow::Result<Code> {
    if let DaemonCommand::Run = command {
        return run::run(app).await;
    }
    let place = Place::locate()?;
    match command {
        DaemonCommand::Start => start(&place).await?,
        DaemonCommand::Stop => stop(&place).await,
        DaemonCommand::Status => status(app, &place).await?,
        DaemonCommand::Restart => {
            stop(&place).await;
            start(&place).await?;
        }
        DaemonCommand::Run => {}
    }
    Ok(Code::Success)
}

async fn start(place: &Place) -> anyhow::Result<()> {
    let (running, started) = client::ensure(place).await?;
    if started {
        report::notice(&format!("daemon started (pid {})", running.pid));
    } else {
        report::notice(&format!(
            "the daemon is already running (pid {})",
            running.pid
        ));
    }
    Ok(())
}

async fn stop(place: &Place) {
    match client::stop(place).await {
        Some(pid) => report::notice(&format!("daemon stopped (pid {pid})")),
        None => {
            // A daemon killed with -9 leaves its socket and its servers: clean up after it.
            run::end_orphans(place).await;
            let _ = std::fs::remove_file(&place.socket);
            let _ = std::fs::remove_file(&place.pid_file);
            report::notice("no daemon is running");
        }
    }
}

async fn status(app: &App, place: &Place) -> anyhow::Result<()> {
    let Some(running) = client::status(place).await else {
        report::notice("no daemon is running");
        return Ok(());
    };
    for server in running.servers {
        match serde_json::from_value::<DaemonServer>(server) {
            Ok(server) => app.output.emit(&Event::DaemonServer(server))?,
            Err(error) => tracing::warn!("the daemon described a server oddly: {error}"),
        }
    }
    Ok(())
}
