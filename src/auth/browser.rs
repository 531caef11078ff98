//! Showing the user the authorization URL: `$BROWSER`, else the platform opener, else the URL
//! on stderr. Only a URL `links::openable` accepts is ever opened or shown.

use crate::config::ServerConfig;
use crate::exit::Failure;
use crate::report;

/// Whether a browser can be opened here: `$BROWSER` is set, or a desktop session is (macOS
/// always has one; elsewhere DISPLAY or WAYLAND_DISPLAY). Without one, `auth login` prefers
/// the device flow when the server offers it.
pub(super) fn can_open() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    set("BROWSER") || cfg!(target_os = "macos") || set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// `url` (named `what` for people) when it may be opened or shown to open; else the auth
/// failure that names the server and what is wrong with it, before anything is opened.
pub(super) fn checked(server: &ServerConfig, what: &str, url: &str) -> Result<url::Url, Failure> {
    crate::links::openable(url).map_err(|refusal| {
        super::auth_failure(
            server,
            format!("the {what} {refusal}; {}", crate::links::RULE),
        )
        .hint("the authorization server is misconfigured or hostile: check the MCP server's URL")
    })
}

/// Open the browser (`$BROWSER`, else the platform opener), or print the URL. Refused (exit
/// 3) when the URL is not `links::openable`: nothing is opened or printed then.
pub(super) fn present_url(
    server: &ServerConfig,
    auth_url: &str,
    open: bool,
) -> Result<(), Failure> {
    let checked = checked(server, "authorization URL", auth_url)?;
    let auth_url = checked.as_str();
    let say = |text: String| report::login_url(&text);
    if !open {
        say(format!(
            "To log in to MCP server `{}`, open this URL in a browser:\n\n  {auth_url}\n",
            server.name
        ));
        return Ok(());
    }
    if crate::links::open_in_browser(&checked) {
        say(format!(
            "Opening the browser to log in to MCP server `{}`. If it does not open, visit:\n\n  {auth_url}\n",
            server.name
        ));
    } else {
        say(format!(
            "Could not open a browser. To log in to MCP server `{}`, visit:\n\n  {auth_url}\n",
            server.name
        ));
    }
    Ok(())
}
