//! `resources watch`: subscribe to URIs on their servers and print one `resource_updated` line
//! per update, for `mcpchat resources watch X | while read -r line; do ...; done`.
//!
//! Guarantee: whatever ends the watch (`--count`, `--for`, Ctrl-C or SIGTERM, a closed stdout,
//! a server going away), every subscription that was made is removed before exit. That is why
//! this command handles the signals itself instead of being dropped by `main`.

use std::time::Duration;

use futures::FutureExt;

use crate::cli::WatchArgs;
use crate::events::{Event, ResourceUpdated};
use crate::exit::{BrokenPipe, Code, Failure, Kind};
use crate::mcp::Updates;
use crate::report;

use super::App;
use super::owners::Owners;
use super::resources::contents_event;

/// Why the watch ended.
enum End {
    Done,
    Failed(Failure),
    BrokenPipe,
}

pub async fn watch(app: &App, args: &WatchArgs) -> anyhow::Result<Code> {
    // `main` installed the handlers first: a signal during the setup below is seen once the
    // watch runs, after the subscriptions exist, and so they are removed.
    let mut signal = std::pin::pin!(crate::interrupt::wait());
    // At most a year: a larger `--for` would overflow the deadline (a panic), not wait longer.
    let max = crate::durations::MAX_WATCH_SECS;
    let duration = match args.duration {
        None => None,
        Some(secs) if (0.0..=max).contains(&secs) => Duration::try_from_secs_f64(secs).ok(),
        Some(_) => {
            return Err(Failure::usage(format!(
                "--for takes a number of seconds from 0 to {max} (a year), like 30 or 0.5"
            ))
            .into());
        }
    };
    let owners = tokio::select! {
        owners = Owners::connect(app, &args.uris) => owners?,
        what = &mut signal => return Err(Failure::new(Kind::Interrupted, what).into()),
    };
    let mut watches: Vec<(usize, Updates)> = Vec::new();
    let end = match subscribe(&owners, &args.uris, &mut watches).await {
        Ok(()) => run(app, args, duration, signal, &owners, &mut watches).await,
        Err(failure) => End::Failed(failure),
    };
    app.context.progress.clear();
    let cleanup = async {
        for (index, updates) in watches {
            owners.sessions[index].unwatch(updates).await;
        }
        owners.close().await;
    };
    // Each step is bounded by the server's timeout; a second Ctrl-C does not wait for them.
    tokio::select! {
        () = cleanup => {}
        () = another_signal() => report::notice("interrupted again: subscriptions may remain on the servers"),
    }
    match end {
        End::Done => Ok(Code::Success),
        End::Failed(failure) => Err(failure.into()),
        End::BrokenPipe => Err(BrokenPipe.into()),
    }
}

/// One watch per server, over the URIs it owns. Watches made before a failure are kept in
/// `watches` so the caller removes them.
async fn subscribe(
    owners: &Owners,
    uris: &[String],
    watches: &mut Vec<(usize, Updates)>,
) -> Result<(), Failure> {
    let mut by_session: Vec<(usize, Vec<String>)> = Vec::new();
    for (uri, &index) in uris.iter().zip(owners.indices()) {
        match by_session.iter_mut().find(|(i, _)| *i == index) {
            Some((_, list)) => list.push(uri.clone()),
            None => by_session.push((index, vec![uri.clone()])),
        }
    }
    for (index, uris) in by_session {
        let updates = owners.sessions[index].watch(&uris).await?;
        watches.push((index, updates));
    }
    Ok(())
}

async fn run(
    app: &App,
    args: &WatchArgs,
    duration: Option<Duration>,
    mut signal: std::pin::Pin<&mut impl Future<Output = &'static str>>,
    owners: &Owners,
    watches: &mut [(usize, Updates)],
) -> End {
    if let Err(failure) = call_tools(args, owners).await {
        return End::Failed(failure);
    }
    if watches.is_empty() {
        return End::Done;
    }
    let deadline = duration.map(|duration| tokio::time::Instant::now() + duration);
    let mut seen = 0;
    loop {
        if args.count.is_some_and(|count| seen >= count) {
            return End::Done;
        }
        let expired = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        let next = futures::future::select_all(watches.iter_mut().map(|(index, updates)| {
            let session = &owners.sessions[*index];
            async move { (session, session.next_update(updates).await) }.boxed()
        }));
        let (session, update) = tokio::select! {
            ((session, update), _, _) = next => (session, update),
            () = expired => return End::Done,
            what = signal.as_mut() => return End::Failed(Failure::new(Kind::Interrupted, what)),
        };
        let uri = match update {
            Ok(Some(uri)) => uri,
            Ok(None) => {
                return End::Failed(Failure::new(
                    Kind::Unreachable,
                    format!(
                        "MCP server `{}` closed the connection while watching",
                        session.name()
                    ),
                ));
            }
            Err(failure) => return End::Failed(failure),
        };
        let contents = if args.read {
            match session.read_resource(&uri).await {
                Ok(result) => Some(contents_event(session.name(), &uri, &result).contents),
                Err(failure) => return End::Failed(failure),
            }
        } else {
            None
        };
        let line = Event::ResourceUpdated(ResourceUpdated {
            server: session.name().to_string(),
            uri,
            contents,
        });
        if app.output.emit(&line).is_err() {
            return End::BrokenPipe;
        }
        seen += 1;
    }
}

/// `--call TOOL`: call each tool (no arguments) on the server that owns it, after subscribing.
async fn call_tools(args: &WatchArgs, owners: &Owners) -> Result<(), Failure> {
    for name in &args.calls {
        let (session, tool) = match name.split_once(super::tools::SEPARATOR) {
            Some((server, tool)) => (owners.sessions.iter().find(|s| s.name() == server), tool),
            None if owners.sessions.len() == 1 => (owners.sessions.first(), name.as_str()),
            None => (None, name.as_str()),
        };
        let Some(session) = session else {
            return Err(Failure::usage(format!(
                "--call `{name}`: name a tool of a watched server as SERVER__TOOL"
            )));
        };
        let result = session.call_tool(tool, serde_json::Map::new()).await?;
        if result.is_error {
            report::warning(&Failure::new(
                Kind::ToolError,
                format!("--call: tool `{name}` returned an error (isError)"),
            ));
        }
    }
    Ok(())
}

/// A SIGINT or SIGTERM that arrives from now on (the first one is already in `interrupt`).
async fn another_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
