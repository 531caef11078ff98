//! `sessions list|show|rm`: the stored conversations of `ask --session`, read without
//! contacting any server or model.

use std::path::Path;

use crate::cli::SessionsCommand;
use crate::conversation::{self, history};
use crate::events::{ErrorInfo, Event, SessionInfo};
use crate::exit::{Code, Failure};
use crate::report;

use super::App;

pub async fn sessions(app: &App, command: &SessionsCommand) -> anyhow::Result<Code> {
    match command {
        SessionsCommand::List => list(app),
        SessionsCommand::Show { name } => show(app, name.as_deref()),
        SessionsCommand::Rm { names } => remove(names).await,
    }
}

/// One `session` line per file in the sessions directory; an unreadable file gets an `error`
/// line naming it (exit 2) and the others are still listed.
fn list(app: &App) -> anyhow::Result<Code> {
    let mut code = Code::Success;
    for path in conversation::list_files(&conversation::dir()?)? {
        match info(&path) {
            Ok(info) => app.output.emit(&Event::Session(info))?,
            Err(failure) => {
                report::warning(&failure);
                app.output
                    .emit(&Event::Error(ErrorInfo::from_failure(&failure)))?;
                code = code.max(failure.code());
            }
        }
    }
    Ok(code)
}

fn info(path: &Path) -> Result<SessionInfo, Failure> {
    let transcript = conversation::read(path)?;
    let header = transcript.header.clone().unwrap_or_default();
    let updated = path
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .map(conversation::rfc3339);
    Ok(SessionInfo {
        name: conversation::display_name(path),
        path: path.display().to_string(),
        turns: transcript.turns(),
        messages: transcript.messages.len() as u32,
        model: header.model,
        provider: header.provider,
        created: header.created,
        updated,
    })
}

fn show(app: &App, name: Option<&str>) -> anyhow::Result<Code> {
    let path = match name {
        Some(name) => conversation::locate(name)?,
        None => conversation::latest()?.ok_or_else(|| {
            Failure::usage("no stored conversation yet")
                .hint("start one with: mcpchat ask --session NAME \"...\"")
        })?,
    };
    let transcript = conversation::read(&path)?;
    for event in history::replay(&transcript.messages) {
        app.output.emit(&event)?;
    }
    Ok(Code::Success)
}

/// Remove each named session; a missing one is reported (exit 2) after the others are gone.
async fn remove(names: &[String]) -> anyhow::Result<Code> {
    let mut last_failure = None;
    for name in names {
        let outcome = async {
            let path = conversation::locate(name)?;
            conversation::remove(&path).await
        }
        .await;
        if let Err(failure) = outcome
            && let Some(earlier) = last_failure.replace(failure)
        {
            report::warning(&earlier);
        }
    }
    match last_failure {
        Some(failure) => Err(failure.into()),
        None => Ok(Code::Success),
    }
}
