//! Which headless grant gets a server its token: the dispatch from `auth_type` to
//! `client_credentials`, `jwt_bearer` or `enterprise`. It sits above the grants and `headless`
//! (what they share) below them: a grant never imports the module that picks it.

pub(super) mod client_credentials;
pub(super) mod device;
pub(super) mod enterprise;
pub(super) mod headless;
pub(super) mod jwt_bearer;
pub(super) mod login;

use super::store::TokenStore;
use crate::config::{AuthType, ServerConfig};
use crate::exit::Failure;

/// Get a token with the server's headless grant when there is none or it is about to expire
/// (or always, with `force`). Nothing to do for other auth types.
pub async fn ensure_token(
    server: &ServerConfig,
    store: &TokenStore,
    force: bool,
) -> Result<(), Failure> {
    match server.auth_type {
        AuthType::ClientCredentials => {
            client_credentials::ensure_client_credentials(server, store, force).await
        }
        AuthType::JwtBearer => jwt_bearer::ensure(server, store, force).await,
        AuthType::EnterpriseManaged => enterprise::ensure(server, store, force).await,
        AuthType::Oauth | AuthType::Token | AuthType::None => Ok(()),
    }
}

/// Whether `auth_type` gets its tokens without a user (no browser, no device code).
pub fn is_headless(auth_type: AuthType) -> bool {
    matches!(
        auth_type,
        AuthType::ClientCredentials | AuthType::JwtBearer | AuthType::EnterpriseManaged
    )
}
