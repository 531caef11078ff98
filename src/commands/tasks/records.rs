//! The tasks `tools call --task` started: `<data dir>/mcpchat/tasks.json`, newest last, at
//! most [`KEEP`] entries. It says which server (and which HTTP session) a task id belongs to.
//! Losing it only means naming the server with `--server`, so write failures are warnings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::mcp::Resume;

/// How many tasks are remembered.
const KEEP: usize = 200;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub task_id: String,
    pub server: String,
    pub tool: String,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
    /// The HTTP session the task lives in, on servers that scope tasks to sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Resume>,
}

impl Record {
    pub fn new(server: &str, tool: &str, task_id: &str, session: Option<Resume>) -> Record {
        Record {
            task_id: task_id.to_string(),
            server: server.to_string(),
            tool: tool.to_string(),
            started_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            session,
        }
    }
}

fn path() -> Option<PathBuf> {
    Some(dirs::data_dir()?.join("mcpchat").join("tasks.json"))
}

fn load() -> Vec<Record> {
    path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// The record of `task_id`, if mcpchat started it.
pub fn find(task_id: &str) -> Option<Record> {
    load().into_iter().rev().find(|r| r.task_id == task_id)
}

/// The newest recorded session of `server` (where `tasks list` looks).
pub fn latest_session(server: &str) -> Option<Resume> {
    load()
        .into_iter()
        .rev()
        .filter(|r| r.server == server)
        .find_map(|r| r.session)
}

pub fn remember(record: Record) {
    let Some(path) = path() else {
        return;
    };
    let mut records = load();
    records.push(record);
    let excess = records.len().saturating_sub(KEEP);
    records.drain(..excess);
    // Session ids let anyone holding them act in the session: private like the token store.
    let text = serde_json::to_vec_pretty(&records).unwrap_or_default();
    let written = crate::private_file::write(&path, &text);
    if let Err(e) = written {
        tracing::warn!("cannot record the task in {}: {e}", path.display());
    }
}
