//! The cache's file format and where each server's file lives: one file per server location,
//! named by a hash, with a `public` identity and one entry per auth identity; read once per
//! process, written atomically after a read-modify-write from the disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::lists::{ListKind, Listed};
use super::{Cache, Era, Mode};
use crate::config::{ServerConfig, Transport};

/// Bump when the file layout changes: older files are then ignored and replaced.
const FORMAT: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Identity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) era: Option<Era>,
    /// Whether the server asked for roots (`roots/list`) right after its last handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) asks_for_roots: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) tools: Option<Listed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) prompts: Option<Listed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) resources: Option<Listed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) resource_templates: Option<Listed>,
}

impl Identity {
    pub(super) fn listed(&self, kind: ListKind) -> Option<&Listed> {
        match kind {
            ListKind::Tools => self.tools.as_ref(),
            ListKind::Prompts => self.prompts.as_ref(),
            ListKind::Resources => self.resources.as_ref(),
            ListKind::Templates => self.resource_templates.as_ref(),
        }
    }

    pub(super) fn list(&mut self, kind: ListKind) -> &mut Option<Listed> {
        match kind {
            ListKind::Tools => &mut self.tools,
            ListKind::Prompts => &mut self.prompts,
            ListKind::Resources => &mut self.resources,
            ListKind::Templates => &mut self.resource_templates,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct File {
    pub(super) format: u32,
    /// For people looking at the file: the server, secrets masked.
    pub(super) server: String,
    #[serde(default)]
    pub(super) public: Identity,
    #[serde(default)]
    pub(super) identities: BTreeMap<String, Identity>,
}

/// Where one server's entries live: the file and the identity inside it.
#[derive(Debug, Clone)]
pub struct Key {
    pub(super) file: String,
    pub(super) identity: String,
    pub(super) describe: String,
}

fn hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Key {
    /// The location (URL without query, or the command line) and the auth identity (the
    /// URL's query, the headers, the environment, the token store) of `server`.
    pub fn of(server: &ServerConfig, store: &crate::auth::store::TokenStore) -> Key {
        let (location, identity) = match &server.transport {
            Transport::Http { url, headers } => {
                let (base, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
                let mut headers: Vec<String> =
                    headers.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                headers.sort();
                let auth = format!("{:?}", server.auth_type);
                let store = store.identity();
                (
                    hash(&["http", base]),
                    hash(&[query, &headers.join("\n"), &auth, &store]),
                )
            }
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let mut parts = vec!["stdio", command.as_str()];
                parts.extend(args.iter().map(String::as_str));
                let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let cwd = format!("{cwd:?}");
                (hash(&parts), hash(&[&env.join("\n"), &cwd]))
            }
        };
        Key {
            file: location,
            identity,
            describe: format!("{} ({})", server.name, server.describe()),
        }
    }
}

impl Cache {
    pub(super) fn path(&self, key: &Key) -> Option<PathBuf> {
        if self.mode == Mode::Off {
            return None;
        }
        Some(
            self.dir
                .as_ref()?
                .join("servers")
                .join(format!("{}.json", key.file)),
        )
    }

    /// The file of `key` as this process knows it: read once, then as last written.
    pub(super) fn load(&self, key: &Key) -> Option<Arc<File>> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = seen.get(&key.file) {
            return file.clone();
        }
        let file = self.read(key).map(Arc::new);
        seen.insert(key.file.clone(), file.clone());
        file
    }

    pub(super) fn read(&self, key: &Key) -> Option<File> {
        let text = std::fs::read(self.path(key)?).ok()?;
        match serde_json::from_slice::<File>(&text) {
            Ok(file) if file.format == FORMAT => Some(file),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(server = %key.describe, "ignoring an unreadable cache file: {e}");
                None
            }
        }
    }

    /// Read-modify-write of one server's file (a missing or unreadable file starts empty).
    /// One at a time in this process: a list_changed seen on the transport's task must not be
    /// undone by a list stored at the same moment from the file as it was before.
    pub(super) fn update(&self, key: &Key, change: impl FnOnce(&mut File)) {
        static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let Some(path) = self.path(key) else {
            return;
        };
        let _one = WRITING.lock().unwrap_or_else(|e| e.into_inner());
        // From the disk, not from `seen`: another process may have written since.
        let mut file = self.read(key).unwrap_or_default();
        file.format = FORMAT;
        file.server = key.describe.clone();
        change(&mut file);
        if let Err(e) = write_atomically(&path, &file) {
            tracing::debug!(server = %key.describe, "cannot write the cache: {e}");
        }
        // Even when the write failed, this process goes on from what it decided.
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.file.clone(), Some(Arc::new(file)));
    }
}

/// Write to a temporary file in the same directory and rename it over the old one, so that a
/// reader never sees half a file. The directories are created 0700.
fn write_atomically(path: &Path, file: &File) -> std::io::Result<()> {
    let text = serde_json::to_vec(file).map_err(std::io::Error::other)?;
    crate::private_file::write(path, &text)
}
