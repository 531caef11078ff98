//! Where the daemon lives: `$XDG_RUNTIME_DIR/mcpchat/` (else `<cache dir>/mcpchat/daemon/`),
//! a directory only the user can enter, holding `daemon.sock` and `daemon.pid`; its log is
//! `daemon.log` in the cache dir, rotated when it passes a size cap.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::exit::Failure;

/// The log is moved to `daemon.log.1` when a daemon starts and it is over this size.
const LOG_CAP_BYTES: u64 = 1024 * 1024;

/// The daemon's files.
#[derive(Debug, Clone)]
pub struct Place {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub pid_file: PathBuf,
    pub log: PathBuf,
}

/// What `daemon.pid` says: the daemon's pid and version, and the process groups of the
/// servers it runs (so that whoever finds it killed can end them).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PidFile {
    pub pid: u32,
    pub version: String,
    #[serde(default)]
    pub children: Vec<u32>,
}

impl Place {
    pub fn locate() -> Result<Place, Failure> {
        let cache = dirs::cache_dir().map(|d| d.join("mcpchat"));
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|d| d.is_absolute() && d.is_dir())
            .map(|d| d.join("mcpchat"));
        let Some(dir) = runtime.or_else(|| cache.as_ref().map(|c| c.join("daemon"))) else {
            return Err(Failure::config(
                "cannot find a directory for the daemon: neither $XDG_RUNTIME_DIR nor a cache dir is set",
            ));
        };
        let log_dir = cache.unwrap_or_else(|| dir.clone());
        Ok(Place {
            socket: dir.join("daemon.sock"),
            pid_file: dir.join("daemon.pid"),
            log: log_dir.join("daemon.log"),
            dir,
        })
    }

    pub fn read_pid_file(&self) -> Option<PidFile> {
        let text = std::fs::read_to_string(&self.pid_file).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn write_pid_file(&self, file: &PidFile) {
        let text = serde_json::to_vec(file).unwrap_or_default();
        if let Err(error) = crate::private_file::write(&self.pid_file, &text) {
            tracing::warn!("cannot write {}: {error}", self.pid_file.display());
        }
    }

    /// The log file to append to, after moving a full one aside.
    pub fn open_log(&self) -> std::io::Result<std::fs::File> {
        if let Some(dir) = self.log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if std::fs::metadata(&self.log).is_ok_and(|m| m.len() > LOG_CAP_BYTES) {
            let _ = std::fs::rename(&self.log, self.log.with_extension("log.1"));
        }
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.log)
    }
}

/// Whether a process with this pid exists and has not exited (a zombie has).
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may hold anything.
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("");
    pid != 0 && state != "Z" && state != "X"
}
