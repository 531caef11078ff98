//! `auth`: log in to OAuth servers, inspect, print or forget their tokens.

use clap::{Args, Subcommand};
use clap_complete::engine::ArgValueCandidates;

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Authorize mcpchat with OAuth servers (all OAuth servers when none is named)
    #[command(after_help = "Examples:\n  mcpchat auth login sheets\n  \
        mcpchat auth login --no-browser sheets     # over SSH: open the printed URL yourself")]
    Login(LoginArgs),

    /// One line per server: logged in, expiry, scopes, refreshable, issuer (never a token)
    #[command(after_help = "Examples:\n  mcpchat auth status --format text\n  \
        mcpchat auth status sheets | jq .expires_at")]
    Status {
        /// Servers to report (default: all)
        #[arg(value_name = "SERVER", add = ArgValueCandidates::new(crate::candidates::server_candidates))]
        names: Vec<String>,
    },

    /// Forget stored tokens (all OAuth servers when none is named)
    #[command(after_help = "Examples:\n  mcpchat auth logout sheets\n  \
        mcpchat auth logout --forget-client sheets   # register a new client at the next login")]
    Logout {
        /// Servers to log out of (default: every OAuth server)
        #[arg(value_name = "SERVER", add = ArgValueCandidates::new(crate::candidates::server_candidates))]
        names: Vec<String>,
        /// Also forget the client registration
        #[arg(long)]
        forget_client: bool,
    },

    /// Print a valid access token for SERVER (refreshed if needed), for scripts
    #[command(after_help = "Examples:\n  \
        curl -H \"Authorization: Bearer $(mcpchat auth token sheets)\" https://example.com/api")]
    Token {
        /// The OAuth server
        #[arg(add = ArgValueCandidates::new(crate::candidates::server_candidates))]
        server: String,
    },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Servers to log in to (default: every server with auth_type oauth, client_credentials, jwt_bearer, enterprise_managed)
    #[arg(value_name = "SERVER", add = ArgValueCandidates::new(crate::candidates::server_candidates))]
    pub names: Vec<String>,

    /// Print the authorization URL on stderr instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,

    /// Log in with a code entered on another device (RFC 8628 device authorization); also
    /// used when no browser can be opened and the server offers it
    #[arg(long, conflicts_with = "no_browser")]
    pub device: bool,
}
