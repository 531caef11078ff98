//! The OS keychain as the home of the token store's secrets (`token_store: keychain`): the
//! tokens, the client secret and the DPoP key of each server live in one keychain item (service `mcpchat`,
//! account = the server's URL, through the `keyring` crate: Secret Service on Linux, Keychain
//! on macOS, Credential Manager on Windows); everything else stays in the store file.
//!
//! Guarantees: when no keychain service answers, the store falls back to the file (one
//! warning on stderr per process); items are only ever read and written under the store's
//! file locks, so the refresh lock still serialises refreshes across processes.

use std::sync::OnceLock;

use rmcp::transport::auth::StoredCredentials;
use serde::{Deserialize, Serialize};

use crate::exit::{Failure, Kind};

/// The keychain service every item is filed under.
pub const SERVICE: &str = "mcpchat";

/// The secrets of one store entry, as one keychain item holds them (JSON). The store moves
/// them in and out of its entries (`Entry::take_secrets`): the keychain knows no entries.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Secrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) credentials: Option<StoredCredentials>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) client_secret: Option<String>,
    /// The private DPoP key the tokens are bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) dpop_key: Option<super::dpop::StoredKey>,
}

impl Secrets {
    /// Whether there is nothing to keep (the item is deleted then).
    pub(super) fn is_empty(&self) -> bool {
        self.credentials.is_none() && self.client_secret.is_none() && self.dpop_key.is_none()
    }
}

/// The keychain, probed once per process.
#[derive(Debug, Default)]
pub struct Keychain {
    usable: OnceLock<bool>,
}

impl Keychain {
    /// Whether a keychain service answers. The first call asks it (and warns when it does
    /// not); later calls remember the answer.
    pub fn usable(&self) -> bool {
        *self.usable.get_or_init(|| match probe() {
            Ok(()) => true,
            Err(why) => {
                crate::report::warning(
                    &Failure::new(
                        Kind::Config,
                        format!("token_store is keychain, but no OS keychain answers ({why}); the tokens are kept in the store file"),
                    )
                    .hint("on Linux, start a Secret Service provider (gnome-keyring, KeePassXC) in the session, or use token_store: file"),
                );
                false
            }
        })
    }

    /// The secrets stored for `key`, if any.
    pub fn load(&self, key: &str) -> Result<Option<Secrets>, Failure> {
        match item(key)?.get_password() {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Failure::config(format!(
                    "the OS keychain item `{SERVICE}` for {key} is not one mcpchat wrote ({e})"
                ))
                .hint("remove it with your keychain's tool, then run `mcpchat auth login` again")
            }),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_failure("read", key, e)),
        }
    }

    /// Store `secrets` for `key` (an empty set removes the item).
    pub fn save(&self, key: &str, secrets: &Secrets) -> Result<(), Failure> {
        let item = item(key)?;
        if secrets.is_empty() {
            return match item.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(keychain_failure("remove", key, e)),
            };
        }
        let text = serde_json::to_string(secrets)
            .map_err(|e| Failure::config(format!("cannot encode the keychain item: {e}")))?;
        item.set_password(&text)
            .map_err(|e| keychain_failure("write", key, e))
    }
}

fn item(key: &str) -> Result<keyring::Entry, Failure> {
    keyring::Entry::new(SERVICE, key).map_err(|e| keychain_failure("open", key, e))
}

fn keychain_failure(what: &str, key: &str, error: keyring::Error) -> Failure {
    Failure::config(format!(
        "cannot {what} the OS keychain item `{SERVICE}` for {key}: {error}"
    ))
    .hint("is the keychain unlocked? use token_store: file to keep tokens in a file instead")
}

/// Ask the keychain for an item that never exists: "no such item" means it answers.
fn probe() -> Result<(), String> {
    let item = keyring::Entry::new(SERVICE, "mcpchat keychain probe").map_err(|e| e.to_string())?;
    match item.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}
