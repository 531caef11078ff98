//! The token store: OAuth tokens, client registrations and discovered metadata, one JSON file.
//!
//! Guarantees: the file is 0600 in a 0700 directory; every write replaces it atomically
//! (temp file + rename) under an exclusive lock, so readers never see half a file; token
//! refreshes are serialised across processes by a second lock held for the whole refresh; a
//! store that cannot be parsed is an error naming the file and is never overwritten.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use rmcp::transport::auth::{AuthError, AuthorizationMetadata, CredentialStore, StoredCredentials};
use serde::{Deserialize, Serialize};

use crate::exit::Failure;

const VERSION: u32 = 1;

/// How a client came to be registered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClientSource {
    Config,
    MetadataDocument,
    Dynamic,
}

/// An OAuth client registration (a dynamically registered secret is kept here: rmcp does
/// not persist it, see rmcp issue #784).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    pub source: ClientSource,
    /// How token requests authenticate this client (RFC 7591 `token_endpoint_auth_method`),
    /// as the registration returned it or as chosen at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
}

/// Everything stored for one server URL.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Entry {
    /// The config name last used for this URL (for people reading the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The protected resource's `resource` value, byte for byte (RFC 8707).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Registration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<StoredCredentials>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<AuthorizationMetadata>,
    /// Scopes the server demanded (403 insufficient_scope) beyond the grant; the next
    /// `auth login` asks for them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_scopes: Vec<String>,
    /// The DPoP key the tokens are bound to (RFC 9449), when they are: a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<super::dpop::StoredKey>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    #[serde(default)]
    servers: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
}

impl TokenStore {
    /// The store's file (part of a server's auth identity in the cache key).
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// `--token-store` > `$MCPCHAT_TOKEN_STORE` > `<data dir>/mcpchat/tokens.json`.
    pub fn locate(flag: Option<PathBuf>) -> Result<TokenStore, Failure> {
        let path = flag
            .or_else(|| {
                std::env::var_os("MCPCHAT_TOKEN_STORE")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .or_else(|| dirs::data_dir().map(|d| d.join("mcpchat").join("tokens.json")))
            .ok_or_else(|| {
                Failure::config("cannot find a data directory for the token store")
                    .hint("pass --token-store PATH or set MCPCHAT_TOKEN_STORE")
            })?;
        Ok(TokenStore { path })
    }

    fn read(&self) -> Result<StoreFile, Failure> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(StoreFile {
                    version: VERSION,
                    servers: BTreeMap::new(),
                });
            }
            Err(e) => {
                return Err(Failure::config(format!(
                    "cannot read the token store {}: {e}",
                    self.path.display()
                )));
            }
        };
        if text.trim().is_empty() {
            return Ok(StoreFile {
                version: VERSION,
                servers: BTreeMap::new(),
            });
        }
        let file: StoreFile = serde_json::from_str(&text).map_err(|e| {
            Failure::config(format!(
                "the token store {} is corrupt ({e}); it was left untouched",
                self.path.display()
            ))
            .hint(format!(
                "move it away (mv {0} {0}.bad) and run `mcpchat auth login` again",
                self.path.display()
            ))
        })?;
        if file.version > VERSION {
            return Err(Failure::config(format!(
                "the token store {} was written by a newer mcpchat (format {})",
                self.path.display(),
                file.version
            )));
        }
        Ok(file)
    }

    pub fn get(&self, key: &str) -> Result<Option<Entry>, Failure> {
        Ok(self.read()?.servers.remove(key))
    }

    /// Read-modify-write one entry under the store's exclusive lock; an entry left empty is
    /// removed.
    pub fn update<T>(&self, key: &str, change: impl FnOnce(&mut Entry) -> T) -> Result<T, Failure> {
        let _lock = self.lock("lock")?;
        let mut file = self.read()?;
        let entry = file.servers.entry(key.to_string()).or_default();
        let result = change(entry);
        if entry.client.is_none() && entry.credentials.is_none() {
            file.servers.remove(key);
        }
        file.version = VERSION;
        self.write(&file)?;
        Ok(result)
    }

    fn ensure_dir(&self) -> Result<(), Failure> {
        let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) else {
            return Ok(());
        };
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Failure::config(format!("cannot create {}: {e}", dir.display())))?;
        }
        Ok(())
    }

    /// An exclusive lock on `<store>.<suffix>`, released when the file is dropped.
    fn lock(&self, suffix: &str) -> Result<File, Failure> {
        self.ensure_dir()?;
        let path = PathBuf::from(format!("{}.{suffix}", self.path.display()));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                Failure::config(format!("cannot open the lock file {}: {e}", path.display()))
            })?;
        file.lock()
            .map_err(|e| Failure::config(format!("cannot lock {}: {e}", path.display())))?;
        Ok(file)
    }

    /// The lock held across a whole token refresh (shared by all processes).
    pub fn refresh_lock(&self) -> Result<File, Failure> {
        self.lock("refresh.lock")
    }

    fn write(&self, file: &StoreFile) -> Result<(), Failure> {
        self.ensure_dir()?;
        let text = serde_json::to_string_pretty(file)
            .map_err(|e| Failure::config(format!("cannot encode the token store: {e}")))?;
        let tmp = PathBuf::from(format!(
            "{}.tmp-{}",
            self.path.display(),
            std::process::id()
        ));
        let result = (|| -> std::io::Result<()> {
            let mut out = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&tmp)?;
            out.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            out.write_all(text.as_bytes())?;
            out.write_all(b"\n")?;
            out.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        result.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Failure::config(format!(
                "cannot write the token store {}: {e}",
                self.path.display()
            ))
        })
    }
}

/// rmcp's view of one server's credentials in the store.
pub struct ServerCredentials {
    pub store: TokenStore,
    pub key: String,
}

fn store_error(failure: Failure) -> AuthError {
    AuthError::CredentialStoreError(failure.message)
}

#[async_trait::async_trait]
impl CredentialStore for ServerCredentials {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        Ok(self
            .store
            .get(&self.key)
            .map_err(store_error)?
            .and_then(|e| e.credentials))
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        self.store
            .update(&self.key, |entry| {
                if credentials.issuer.is_some() {
                    entry.issuer = credentials.issuer.clone();
                }
                entry.credentials = Some(credentials);
            })
            .map_err(store_error)
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.store
            .update(&self.key, |entry| entry.credentials = None)
            .map_err(store_error)
    }

    // No guard here: `auth::http::TokenSource` holds the store's refresh lock around the
    // whole check-then-refresh, so that a process that waited can use the new token as is.
}
/// When the stored access token expires (seconds since the epoch), if known.
pub fn expires_at(credentials: &StoredCredentials) -> Option<u64> {
    use oauth2::TokenResponse;
    let token = credentials.token_response.as_ref()?;
    Some(credentials.token_received_at? + token.expires_in()?.as_secs())
}

pub fn has_refresh_token(credentials: &StoredCredentials) -> bool {
    use oauth2::TokenResponse;
    credentials
        .token_response
        .as_ref()
        .is_some_and(|t| t.refresh_token().is_some())
}
