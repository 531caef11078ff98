//! How a server starts a session, remembered per auth identity: the protocol era it answered
//! in (the next run starts with that handshake), and whether it asked for roots right after it
//! (the next run waits for that request only then: `roots::wait_for_request`).

use rmcp::model::ServerPeerInfo;
use serde::{Deserialize, Serialize};

use super::{Cache, Key};

/// The protocol era a server answered in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Era {
    /// 2026-07-28 and later: no handshake; the server's `server/discover` answer is kept so
    /// that it need not be asked again.
    Stateless { peer: Box<ServerPeerInfo> },
    /// The 2025 era: `initialize` straight away (no `server/discover` probe).
    Initialize,
    /// The 2024-11-05 HTTP+SSE transport.
    LegacySse,
}

impl Cache {
    /// The era `key` answered in last time.
    pub fn era(&self, key: &Key) -> Option<Era> {
        self.load(key)?.identities.get(&key.identity)?.era.clone()
    }

    pub fn remember_era(&self, key: &Key, era: Option<Era>) {
        if self.era(key) == era {
            return;
        }
        self.update(key, |file| {
            file.identities.entry(key.identity.clone()).or_default().era = era;
        });
    }

    /// Whether `key` asked for roots right after its last handshake (None: not known).
    pub fn asks_for_roots(&self, key: &Key) -> Option<bool> {
        self.load(key)?
            .identities
            .get(&key.identity)?
            .asks_for_roots
    }

    pub fn remember_asks_for_roots(&self, key: &Key, asks: bool) {
        if self.asks_for_roots(key) == Some(asks) {
            return;
        }
        self.update(key, |file| {
            file.identities
                .entry(key.identity.clone())
                .or_default()
                .asks_for_roots = Some(asks);
        });
    }
}
