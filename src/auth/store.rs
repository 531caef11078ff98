//! The token store: OAuth tokens, client registrations and discovered metadata, one JSON file;
//! with `token_store: keychain` the tokens and client secrets go to the OS keychain instead
//! (`keychain`), and the file keeps the rest.
//!
//! Guarantees: the file is 0600 in a 0700 directory; every write replaces it atomically
//! (temp file + rename) under an exclusive lock, so readers never see half a file; token
//! refreshes are serialised across processes by a second lock held for the whole refresh; a
//! store that cannot be parsed is an error naming the file and is never overwritten.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use rmcp::transport::auth::{AuthError, AuthorizationMetadata, CredentialStore, StoredCredentials};
use serde::{Deserialize, Serialize};

use super::keychain::{Keychain, Secrets};
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

impl Entry {
    /// Take the secrets out: what is left may be written to the file.
    fn take_secrets(&mut self) -> Secrets {
        Secrets {
            credentials: self.credentials.take(),
            client_secret: self.client.as_mut().and_then(|c| c.client_secret.take()),
            dpop_key: self.dpop_key.take(),
        }
    }

    /// Put the keychain's secrets back. Secrets a store file of an older mcpchat (or a run
    /// without a keychain) left in the file count while the keychain has none; the next write
    /// moves them into the keychain.
    fn restore_secrets(&mut self, secrets: Secrets) {
        if secrets.credentials.is_some() {
            self.credentials = secrets.credentials;
        }
        if let (Some(secret), Some(client)) = (secrets.client_secret, self.client.as_mut()) {
            client.client_secret = Some(secret);
        }
        if secrets.dpop_key.is_some() {
            self.dpop_key = secrets.dpop_key;
        }
    }
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
    /// Where the secrets go when not in the file.
    keychain: Option<std::sync::Arc<Keychain>>,
}

/// The value of `--token-store`, `MCPCHAT_TOKEN_STORE` or `token_store` that means the OS keychain.
const KEYCHAIN: &str = "keychain";

impl TokenStore {
    /// The store's file (part of a server's auth identity in the cache key).
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Part of a server's auth identity in the cache key: the file, and whether secrets are
    /// in the keychain.
    pub fn identity(&self) -> String {
        match self.keychain {
            Some(_) => format!("{:?} {KEYCHAIN}", self.path),
            None => format!("{:?}", self.path),
        }
    }

    /// `--token-store` > `$MCPCHAT_TOKEN_STORE` > the config's `token_store` (`file` or
    /// `keychain`) > `<data dir>/mcpchat/tokens.json`. `keychain` keeps the secrets in the OS
    /// keychain and the rest in the default file.
    pub fn locate(flag: Option<PathBuf>, configured: Option<&str>) -> Result<TokenStore, Failure> {
        let chosen = flag.or_else(|| {
            std::env::var_os("MCPCHAT_TOKEN_STORE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        let keychain = match (&chosen, configured) {
            (Some(path), _) => path.as_os_str() == KEYCHAIN,
            (None, None | Some("file")) => false,
            (None, Some(KEYCHAIN)) => true,
            (None, Some(other)) => {
                return Err(Failure::config(format!(
                    "token_store `{other}` is not one of file, keychain"
                ))
                .hint("a store file of your own: --token-store PATH or MCPCHAT_TOKEN_STORE=PATH"));
            }
        };
        let path = chosen
            .filter(|_| !keychain)
            .or_else(|| dirs::data_dir().map(|d| d.join("mcpchat").join("tokens.json")))
            .ok_or_else(|| {
                Failure::config("cannot find a data directory for the token store")
                    .hint("pass --token-store PATH or set MCPCHAT_TOKEN_STORE")
            })?;
        Ok(TokenStore {
            path,
            keychain: keychain.then(Default::default),
        })
    }

    /// Whether the secrets go to the OS keychain (the rest stays in [`Self::path`]).
    pub fn in_keychain(&self) -> bool {
        self.keychain.is_some()
    }

    /// The store a command located, opened again by another process (the daemon), so both
    /// read and refresh the same tokens under the same lock.
    pub fn reopen(path: PathBuf, keychain: bool) -> TokenStore {
        TokenStore {
            path,
            keychain: keychain.then(Default::default),
        }
    }

    /// The keychain, when the secrets go there and it answers.
    fn keychain(&self) -> Option<&Keychain> {
        self.keychain.as_deref().filter(|k| k.usable())
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
        let mut entry = self.read()?.servers.remove(key);
        if let (Some(entry), Some(keychain)) = (entry.as_mut(), self.keychain())
            && let Some(secrets) = keychain.load(key)?
        {
            entry.restore_secrets(secrets);
        }
        Ok(entry)
    }

    /// Read-modify-write one entry under the store's exclusive lock; an entry left empty is
    /// removed.
    pub fn update<T>(&self, key: &str, change: impl FnOnce(&mut Entry) -> T) -> Result<T, Failure> {
        let _lock = self.lock("lock")?;
        let mut file = self.read()?;
        let keychain = self.keychain();
        let entry = file.servers.entry(key.to_string()).or_default();
        if let Some(keychain) = keychain
            && let Some(secrets) = keychain.load(key)?
        {
            entry.restore_secrets(secrets);
        }
        let result = change(entry);
        let gone = entry.client.is_none() && entry.credentials.is_none();
        // The keychain first: a failure there leaves the file as it was.
        if let Some(keychain) = keychain {
            keychain.save(key, &entry.take_secrets())?;
        }
        if gone {
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
        crate::private_file::create_dir(dir)
            .map_err(|e| Failure::config(format!("cannot create {}: {e}", dir.display())))
    }

    /// An exclusive lock on `<store>.<suffix>`, released when the file is dropped.
    fn lock(&self, suffix: &str) -> Result<File, Failure> {
        self.ensure_dir()?;
        let path = PathBuf::from(format!("{}.{suffix}", self.path.display()));
        // Never through a link: a planted one would have us create files elsewhere.
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
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
        let mut text = serde_json::to_string_pretty(file)
            .map_err(|e| Failure::config(format!("cannot encode the token store: {e}")))?;
        text.push('\n');
        crate::private_file::write_durably(&self.path, text.as_bytes()).map_err(|e| {
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

/// Refuse, before it is stored, a token that every later request would fail with: a
/// `token_type` other than Bearer or DPoP (RFC 6750, RFC 9449; case-insensitive), or an
/// access token that cannot go in an HTTP header (a control or non-ASCII character).
pub fn check_token(token: &rmcp::transport::auth::OAuthTokenResponse) -> Result<(), String> {
    use oauth2::TokenResponse;
    let kind = token.token_type().as_ref();
    if !kind.eq_ignore_ascii_case("bearer") && !kind.eq_ignore_ascii_case("dpop") {
        let shown = if kind.len() <= 40 && kind.chars().all(|c| c.is_ascii_graphic()) {
            format!("`{kind}`")
        } else {
            "an unknown type".to_string()
        };
        return Err(format!(
            "the authorization server issued a token of type {shown}; mcpchat uses only Bearer and DPoP tokens"
        ));
    }
    let secret = token.access_token().secret();
    if secret.is_empty() {
        return Err("the authorization server issued an empty access token".to_string());
    }
    if let Some(bad) = secret.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!(
            "the access token from the authorization server contains the character U+{:04X}, which cannot go in an HTTP header; refusing to store it",
            u32::from(bad)
        ));
    }
    Ok(())
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
        if let Some(token) = &credentials.token_response {
            check_token(token).map_err(AuthError::OAuthError)?;
        }
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
    // Clamped and saturating: `expires_in: 18446744073709551615` must not wrap to "expired".
    Some(crate::durations::token_expiry(
        credentials.token_received_at?,
        token.expires_in()?,
    ))
}

/// Seconds of clock skew kept before the expiry of a token this process obtained itself.
const SKEW_SECS: u64 = 2;

/// Digests of the access tokens this process obtained (grants and refreshes).
static OBTAINED: std::sync::Mutex<Vec<[u8; 32]>> = std::sync::Mutex::new(Vec::new());

fn digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// Note an access token this process has just obtained (see [`usable`]).
pub fn mark_obtained(token: &str) {
    OBTAINED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(digest(token));
}

/// Whether an access token is good to send. One from an earlier process must have `margin`
/// seconds left (else it is renewed first); one this process obtained itself is used until it
/// expires (less a little skew): renewing it at once would only fetch another token of the
/// same short life, once per request. Unknown lifetimes are used until rejected.
pub fn usable(token: &str, expires_at: Option<u64>, margin: u64) -> bool {
    let Some(at) = expires_at else {
        return true;
    };
    let ours = OBTAINED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&digest(token));
    at > super::now() + if ours { SKEW_SECS } else { margin }
}

/// [`usable`] for a stored entry's access token (false without one).
pub fn token_usable(credentials: &StoredCredentials, margin: u64) -> bool {
    use oauth2::TokenResponse;
    credentials
        .token_response
        .as_ref()
        .is_some_and(|t| usable(t.access_token().secret(), expires_at(credentials), margin))
}

pub fn has_refresh_token(credentials: &StoredCredentials) -> bool {
    use oauth2::TokenResponse;
    credentials
        .token_response
        .as_ref()
        .is_some_and(|t| t.refresh_token().is_some())
}

#[cfg(test)]
mod tests {
    use super::{mark_obtained, usable};

    #[test]
    fn a_token_of_this_process_is_used_until_it_expires_an_older_one_is_renewed_early() {
        let now = crate::auth::now();
        mark_obtained("ours");
        // Obtained by this process, 20 s left: inside the margin, still used.
        assert!(usable("ours", Some(now + 20), 60));
        // The same from an earlier process: renewed first.
        assert!(!usable("stored", Some(now + 20), 60));
        assert!(usable("stored", Some(now + 120), 60));
        // About to expire even by this process's own measure.
        assert!(!usable("ours", Some(now + 1), 60));
        assert!(usable("stored", None, 60));
    }

    #[test]
    fn links_planted_at_the_store_or_its_lock_never_reach_their_targets() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("tokens.json");
        let store = super::TokenStore {
            path: path.clone(),
            keychain: None,
        };
        // A link at the lock: refused (the planted target is not created).
        let created = dir.path().join("created-through-the-lock");
        symlink(&created, dir.path().join("tokens.json.lock")).unwrap_or_else(|e| panic!("{e}"));
        assert!(store.update("https://a.example/mcp", |_| ()).is_err());
        assert!(!created.exists());
        // A link at the store itself: replaced by the new file, its target untouched.
        std::fs::remove_file(dir.path().join("tokens.json.lock")).unwrap_or_else(|e| panic!("{e}"));
        let victim = dir.path().join("victim");
        // Valid store JSON, so that reading through the link does not stop the write.
        std::fs::write(&victim, r#"{"version":1}"#).unwrap_or_else(|e| panic!("{e}"));
        symlink(&victim, &path).unwrap_or_else(|e| panic!("{e}"));
        store
            .update("https://a.example/mcp", |_| ())
            .unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap_or_default(),
            r#"{"version":1}"#
        );
        assert!(
            !std::fs::symlink_metadata(&path)
                .unwrap_or_else(|e| panic!("{e}"))
                .file_type()
                .is_symlink()
        );
    }

    /// Secrets move between an entry and its keychain item.
    #[allow(clippy::unwrap_used)]
    mod secrets {
        use pretty_assertions::assert_eq;

        use rmcp::transport::auth::StoredCredentials;

        use super::super::{ClientSource, Entry, Registration};
        use crate::auth::keychain::Secrets;

        fn entry() -> Entry {
            let token = serde_json::from_value(serde_json::json!({
                "access_token": "AT", "token_type": "Bearer", "refresh_token": "RT"
            }))
            .unwrap();
            Entry {
                issuer: Some("http://127.0.0.1:9".to_string()),
                client: Some(Registration {
                    client_id: "cid".to_string(),
                    client_secret: Some("sec".to_string()),
                    redirect_uri: None,
                    source: ClientSource::Dynamic,
                    token_endpoint_auth_method: Some("client_secret_post".to_string()),
                }),
                credentials: Some(StoredCredentials::new(
                    "cid".to_string(),
                    Some(token),
                    vec![],
                    Some(1),
                )),
                dpop_key: Some(crate::auth::dpop::StoredKey {
                    alg: "ES256".to_string(),
                    private_key: "pkcs8-der-base64url".to_string(),
                }),
                ..Entry::default()
            }
        }

        #[test]
        fn take_leaves_no_secret_in_the_entry_and_restore_puts_them_back() {
            let mut entry = entry();
            let secrets = entry.take_secrets();
            let file = serde_json::to_value(&entry).unwrap();
            assert_eq!(file.get("credentials"), None);
            assert_eq!(file["client"].get("client_secret"), None);
            assert_eq!(file.get("dpop_key"), None);
            assert_eq!(file["client"]["client_id"], "cid");
            let item = serde_json::to_value(&secrets).unwrap();
            assert_eq!(item["client_secret"], "sec");
            assert_eq!(item["dpop_key"]["private_key"], "pkcs8-der-base64url");
            assert_eq!(item["credentials"]["token_response"]["refresh_token"], "RT");
            entry.restore_secrets(secrets);
            assert_eq!(
                serde_json::to_value(&entry).unwrap(),
                serde_json::to_value(self::entry()).unwrap()
            );
        }

        #[test]
        fn secrets_an_older_file_holds_count_until_the_keychain_has_some() {
            let mut entry = entry();
            entry.restore_secrets(Secrets::default());
            assert_eq!(
                serde_json::to_value(&entry).unwrap(),
                serde_json::to_value(self::entry()).unwrap()
            );
            assert!(Entry::default().take_secrets().is_empty());
        }
    }
}
