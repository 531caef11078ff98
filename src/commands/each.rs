//! Run one job on every selected server at once and print what each gives, in config order:
//! the shape of `resources list`, `resources templates`, `prompts list`, `tasks list` and
//! `servers`. A server that fails
//! gets an `error` line (and a warning when others are in play); exit codes as `tools list`.

use futures::StreamExt;
use futures::stream::FuturesOrdered;

use crate::events::Event;
use crate::exit::{Code, Failure};
use crate::mcp::Resume;
use crate::mcp::Session;
use crate::report;

use super::App;
use super::tools::{exit_for_servers, server_error, servers_failure};

/// Connect to every selected server concurrently, run `job` on each session, print its events
/// as soon as it and the servers before it are done, then close every session.
pub async fn each_server(
    app: &App,
    job: impl AsyncFn(&Session) -> Result<Vec<Event>, Failure>,
) -> anyhow::Result<Code> {
    each_server_resuming(app, |_| None, job).await
}

/// [`each_server`], going on in the HTTP session `resume` names for a server, if any.
pub async fn each_server_resuming(
    app: &App,
    resume: impl Fn(&str) -> Option<Resume>,
    job: impl AsyncFn(&Session) -> Result<Vec<Event>, Failure>,
) -> anyhow::Result<Code> {
    let selected = app.config.select(&app.selected)?;
    let total = selected.len();
    let job = &job;
    let mut pending: FuturesOrdered<_> = selected
        .into_iter()
        .map(|selected| {
            let resume = resume(&selected.name);
            async move {
                let outcome = async {
                    let session = crate::daemon::connect(app, selected.server?, resume).await?;
                    match job(&session).await {
                        Ok(events) => Ok((session, events)),
                        Err(failure) => {
                            session.close().await;
                            Err(failure)
                        }
                    }
                }
                .await;
                (selected.name, selected.required, outcome)
            }
        })
        .collect();

    let mut sessions = Vec::new();
    let mut failures: Vec<(bool, Failure)> = Vec::new();
    let mut printed = Ok(());
    while let Some((name, required, outcome)) = pending.next().await {
        let events = match outcome {
            Ok((session, events)) => {
                sessions.push(session);
                events
            }
            Err(failure) => {
                if total > 1 {
                    report::warning(&failure);
                }
                let line = Event::Error(server_error(&name, &failure));
                failures.push((required, failure));
                vec![line]
            }
        };
        printed = events.iter().try_for_each(|event| app.output.emit(event));
        if printed.is_err() {
            break;
        }
    }
    // Printed first: the reader of stdout need not wait for servers to shut down.
    app.context.progress.clear();
    futures::future::join_all(sessions.into_iter().map(Session::close)).await;
    printed?;
    match exit_for_servers(total, &failures) {
        Code::Success => Ok(Code::Success),
        _ => Err(servers_failure(total, &failures).into()),
    }
}
