//! What a live server is and offers, for `servers`: what it said about itself in the
//! handshake (initialize or server/discover), and how many prompts it has.

use std::sync::Arc;

use rmcp::model::ServerPeerInfo;

use crate::exit::Failure;
use crate::mcp::Session;

impl Session {
    /// What the server said about itself when we connected (initialize or server/discover).
    pub fn peer_info(&self) -> Option<Arc<ServerPeerInfo>> {
        self.client.peer().peer_info()
    }

    /// The negotiated protocol revision, e.g. `2025-11-25`.
    pub fn protocol_version(&self) -> Option<String> {
        self.peer_info()
            .map(|info| info.protocol_version.to_string())
    }

    /// How many prompts the server lists (every page; the list is cached).
    pub async fn count_prompts(&self) -> Result<usize, Failure> {
        Ok(self.list_prompts().await?.len())
    }
}
