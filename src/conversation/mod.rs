//! Stored conversations (`ask --session`, `sessions ...`): one JSONL file per conversation,
//! `<data dir>/mcpchat/sessions/NAME.jsonl` (0600, directory 0700), or any path with a `/`.
//!
//! The first line is a small header (`mcpchat_session`, `created`, `model`, `provider`); every
//! other line is one chat message exactly as it was sent to the model (no system prompt: that
//! belongs to each run's settings). Guarantees: a run holds an exclusive lock on the file from
//! reading the history until its messages are appended, so a second process waits and then
//! continues from the first one's result; a run's messages are appended with one write; a
//! file that cannot be read as a conversation is an error naming it and is never rewritten;
//! a symbolic link at the session path is refused, never followed (not even to create).

pub mod history;
mod time;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::exit::Failure;

pub use time::rfc3339;

/// Version of the file format, in the header.
const FORMAT: u64 = 1;

/// Where named conversations live: `<data dir>/mcpchat/sessions`.
pub fn dir() -> Result<PathBuf, Failure> {
    dirs::data_dir()
        .map(|d| d.join("mcpchat").join("sessions"))
        .ok_or_else(|| {
            Failure::config("cannot find a data directory for conversations")
                .hint("pass --session PATH (a file path, with a `/`) instead of a name")
        })
}

/// The file for `--session NAME|PATH`: a name is a file in [`dir`], anything with a `/` a path.
pub fn locate(name_or_path: &str) -> Result<PathBuf, Failure> {
    if name_or_path.contains('/') {
        return Ok(PathBuf::from(name_or_path));
    }
    let valid = !name_or_path.is_empty()
        && !name_or_path.starts_with('.')
        && name_or_path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        return Err(Failure::usage(format!(
            "`{name_or_path}` is not a session name: use letters, digits, `_`, `-` and `.`"
        ))
        .hint("or pass a file path containing a `/`, e.g. ./chat.jsonl"));
    }
    Ok(dir()?.join(format!("{name_or_path}.jsonl")))
}

/// The name shown for a session file: its stem inside [`dir`], else the path as given.
pub fn display_name(path: &Path) -> String {
    let inside = dir()
        .ok()
        .is_some_and(|d| path.parent() == Some(d.as_path()));
    match (inside, path.file_stem()) {
        (true, Some(stem)) => stem.to_string_lossy().into_owned(),
        _ => path.display().to_string(),
    }
}

/// The session `--continue` means: the last one a run used, else the newest file in [`dir`].
pub fn latest() -> Result<Option<PathBuf>, Failure> {
    let dir = dir()?;
    if let Ok(text) = std::fs::read_to_string(dir.join(".last")) {
        let path = PathBuf::from(text.trim());
        if path.is_file() {
            return Ok(Some(path));
        }
    }
    Ok(list_files(&dir)?
        .into_iter()
        .filter_map(|path| Some((path.metadata().ok()?.modified().ok()?, path)))
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, path)| path))
}

/// Remember `path` as the most recently used session (for `--continue`).
pub fn remember(path: &Path) -> Result<(), Failure> {
    let dir = dir()?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    crate::private_file::write(&dir.join(".last"), absolute.to_string_lossy().as_bytes())
        .map_err(|e| Failure::config(format!("cannot write {}: {e}", dir.display())))
}

/// The `*.jsonl` files in `dir`, sorted by name (none when the directory does not exist).
pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Failure::config(format!(
                "cannot read {}: {e}",
                dir.display()
            )));
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl") && path.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The sessions directory, private to the user (0700).
fn create_dir(dir: &Path) -> Result<(), Failure> {
    crate::private_file::create_dir(dir)
        .map_err(|e| Failure::config(format!("cannot create {}: {e}", dir.display())))
}

/// The header of a conversation file.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub created: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
}

/// A conversation as read from its file.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    pub header: Option<Header>,
    /// The chat messages, in order.
    pub messages: Vec<Value>,
}

impl Transcript {
    /// Parse a file's text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Transcript, Failure> {
        let corrupt = |line: usize, what: String| {
            Failure::config(format!(
                "session file {}:{line} is not a valid conversation: {what}; it was left untouched",
                path.display()
            ))
            .hint("fix or remove the file (`mcpchat sessions rm NAME`), or use another --session")
        };
        let mut transcript = Transcript::default();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(line)
                .map_err(|e| corrupt(number, format!("not JSON ({e})")))?;
            if index == 0 {
                if value.get("mcpchat_session").and_then(Value::as_u64) != Some(FORMAT) {
                    return Err(corrupt(number, "no `mcpchat_session` header".into()));
                }
                let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
                transcript.header = Some(Header {
                    created: text("created"),
                    model: text("model"),
                    provider: text("provider"),
                });
                continue;
            }
            match value.get("role").and_then(Value::as_str) {
                Some("user" | "assistant" | "tool" | "system") => transcript.messages.push(value),
                Some(other) => return Err(corrupt(number, format!("unknown role `{other}`"))),
                None => return Err(corrupt(number, "a message without `role`".into())),
            }
        }
        Ok(transcript)
    }

    /// User prompts so far.
    pub fn turns(&self) -> u32 {
        self.messages.iter().filter(|m| m["role"] == "user").count() as u32
    }
}

/// Read a session file without locking it (`sessions list|show`).
pub fn read(path: &Path) -> Result<Transcript, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::usage(format!("no session at {}", path.display()))
                .hint("`mcpchat sessions list` shows the stored conversations")
        } else {
            Failure::config(format!("cannot read session file {}: {e}", path.display()))
        }
    })?;
    Transcript::parse(&text, path)
}

/// A session file held under an exclusive lock for the length of one run.
pub struct Locked {
    pub path: PathBuf,
    file: File,
    pub transcript: Transcript,
}

impl Locked {
    /// Open (creating it empty if needed) and lock the file, then read it. Waits while another
    /// process holds the lock; `waiting` is called once if it has to.
    pub async fn open(path: PathBuf, waiting: impl FnOnce()) -> Result<Locked, Failure> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_dir(parent)?;
        }
        let mut waiting = Some(waiting);
        loop {
            let file = open_file(&path)?;
            let file = match file.try_lock() {
                Ok(()) => file,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if let Some(waiting) = waiting.take() {
                        waiting();
                    }
                    let shown = path.clone();
                    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
                        .await
                        .map_err(|e| Failure::config(format!("cannot lock a session: {e}")))?
                        .map_err(|e| lock_failure(&shown, &e))?
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(lock_failure(&path, &e)),
            };
            // `sessions rm` may have unlinked the file while we waited: start over on the new one.
            if same_file(&file, &path) {
                let mut locked = Locked {
                    path,
                    file,
                    transcript: Transcript::default(),
                };
                locked.transcript = locked.read_locked()?;
                return Ok(locked);
            }
        }
    }

    fn read_locked(&mut self) -> Result<Transcript, Failure> {
        let mut text = String::new();
        self.file
            .rewind()
            .and_then(|()| self.file.read_to_string(&mut text))
            .map_err(|e| {
                Failure::config(format!(
                    "cannot read session file {}: {e}",
                    self.path.display()
                ))
            })?;
        Transcript::parse(&text, &self.path)
    }

    /// Append `messages` (and the header, when the file is new) in one write.
    pub fn append(&mut self, header: &Header, messages: &[Value]) -> Result<(), Failure> {
        let mut text = String::new();
        if self.transcript.header.is_none() {
            let line = json!({
                "mcpchat_session": FORMAT,
                "created": header.created,
                "model": header.model,
                "provider": header.provider,
            });
            text.push_str(&line.to_string());
            text.push('\n');
            self.transcript.header = Some(header.clone());
        }
        for message in messages {
            text.push_str(&message.to_string());
            text.push('\n');
        }
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| {
                Failure::config(format!(
                    "cannot write session file {}: {e}",
                    self.path.display()
                ))
            })?;
        self.transcript.messages.extend(messages.iter().cloned());
        Ok(())
    }
}

impl Locked {
    /// Remove the file if this run created it and stored nothing (e.g. the model never
    /// answered), so no empty conversation is left behind. Safe under the lock: a process
    /// waiting for it notices the file is gone and opens a new one.
    pub fn discard_if_empty(&self) {
        let empty = self.file.metadata().is_ok_and(|m| m.len() == 0);
        if empty && self.transcript.header.is_none() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Open (or create, 0600) a session file, never through a symbolic link: a link at `path`,
/// dangling or not, is refused, so a planted one cannot make us append a conversation to (or
/// create) a file elsewhere. A file others may read is made private (0600) first.
fn open_file(path: &Path) -> Result<File, Failure> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => Failure::usage(format!(
                "session file {} is a symbolic link; mcpchat does not follow links to \
                 conversation files",
                path.display()
            ))
            .hint("pass the path of the file itself, or remove the link"),
            _ => Failure::config(format!("cannot open session file {}: {e}", path.display())),
        })?;
    make_private(&file, path)?;
    Ok(file)
}

/// Tighten a session file others may read or write (e.g. made 0644 by hand or by an older
/// version) to 0600, through the open file so no link can redirect the change.
fn make_private(file: &File, path: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let cannot = |e: std::io::Error| {
        Failure::config(format!(
            "cannot make session file {} private (0600): {e}",
            path.display()
        ))
    };
    let mode = file.metadata().map_err(cannot)?.mode();
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(cannot)?;
    }
    Ok(())
}

fn lock_failure(path: &Path, error: &std::io::Error) -> Failure {
    Failure::config(format!(
        "cannot lock session file {}: {error}",
        path.display()
    ))
}

fn same_file(file: &File, path: &Path) -> bool {
    // `symlink_metadata`: a link swapped in while we waited is not the file we locked.
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Remove a session file, under its lock so a running `ask` finishes first.
pub async fn remove(path: &Path) -> Result<(), Failure> {
    if !path.is_file() {
        return Err(Failure::usage(format!("no session at {}", path.display()))
            .hint("`mcpchat sessions list` shows the stored conversations"));
    }
    let file = open_file(path)?;
    let shown = path.to_path_buf();
    let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| Failure::config(format!("cannot lock a session: {e}")))?
        .map_err(|e| lock_failure(&shown, &e))?;
    std::fs::remove_file(path)
        .map_err(|e| Failure::config(format!("cannot remove {}: {e}", path.display())))?;
    drop(file);
    Ok(())
}
