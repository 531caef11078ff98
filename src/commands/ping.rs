//! `ping`: per selected server, connect and send the MCP `ping` request; one `ping` line each,
//! in config order, with the round trip of the `ping` itself. The cheapest honest liveness
//! check: also a 2026-07-28 server connected from memory (no handshake) is asked, so every
//! `ok: true` is an answer the server gave now. Any server failing fails the command.

use futures::StreamExt;
use futures::stream::FuturesOrdered;

use crate::config::Selected;
use crate::events::{Event, PingReport};
use crate::exit::{Code, Failure};
use crate::mcp::Session;
use crate::report;

use super::{App, server_error};

/// What pinging one server gave: its name, and the session with the round trip in ms.
type Pinged = (String, Result<(Session, f64), Failure>);

pub async fn ping(app: &App) -> anyhow::Result<Code> {
    let selected = app.config.select(&app.selected)?;
    let total = selected.len();
    let mut pending: FuturesOrdered<_> = selected
        .into_iter()
        .map(|selected| ping_one(app, selected))
        .collect();
    let mut sessions = Vec::new();
    let mut failures = Vec::new();
    let mut printed = Ok(());
    while let Some((server, outcome)) = pending.next().await {
        let lines = match outcome {
            Ok((session, rtt_ms)) => {
                sessions.push(session);
                vec![line(server, Some(rtt_ms))]
            }
            Err(failure) => {
                if total > 1 {
                    report::warning(&failure);
                }
                let error = Event::Error(server_error(&server, &failure));
                failures.push(failure);
                vec![line(server, None), error]
            }
        };
        printed = lines.iter().try_for_each(|event| app.output.emit(event));
        if printed.is_err() {
            break;
        }
    }
    // Printed first: the reader of stdout need not wait for servers to shut down.
    futures::future::join_all(sessions.into_iter().map(Session::close)).await;
    printed?;
    match failed(total, failures) {
        None => Ok(Code::Success),
        Some(failure) => Err(failure.into()),
    }
}

async fn ping_one(app: &App, selected: Selected) -> Pinged {
    let outcome = async {
        let session = Session::connect(selected.server?, &app.context).await?;
        match session.ping().await {
            Ok(rtt) => Ok((session, rtt.as_secs_f64() * 1000.0)),
            Err(failure) => {
                session.close().await;
                Err(failure)
            }
        }
    }
    .await;
    (selected.name, outcome)
}

/// The server's `ping` line: `ok` with the round trip in ms (to the µs), or not.
fn line(server: String, rtt_ms: Option<f64>) -> Event {
    Event::Ping(PingReport {
        server,
        ok: rtt_ms.is_some(),
        rtt_ms: rtt_ms.map(|ms| (ms * 1000.0).round() / 1000.0),
    })
}

/// The command's failure when any server failed: that server's own with one, else the
/// count with the worst kind (auth failures exit 3, the rest 4).
fn failed(total: usize, failures: Vec<Failure>) -> Option<Failure> {
    let count = failures.len();
    let worst = failures.into_iter().max_by_key(Failure::code)?;
    if count == 1 {
        return Some(worst);
    }
    Some(Failure::new(
        worst.kind,
        format!("{count} of {total} selected MCP servers failed to answer ping"),
    ))
}
