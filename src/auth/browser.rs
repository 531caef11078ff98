//! Showing the user the authorization URL: `$BROWSER`, else the platform opener, else the URL
//! on stderr.

use crate::config::ServerConfig;

/// Whether a browser can be opened here: `$BROWSER` is set, or a desktop session is (macOS
/// always has one; elsewhere DISPLAY or WAYLAND_DISPLAY). Without one, `auth login` prefers
/// the device flow when the server offers it.
pub(super) fn can_open() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    set("BROWSER") || cfg!(target_os = "macos") || set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// Open the browser (`$BROWSER`, else the platform opener), or print the URL.
pub(super) fn present_url(server: &ServerConfig, auth_url: &str, open: bool) {
    #[allow(clippy::print_stderr)]
    let say = |text: String| eprintln!("{text}");
    if !open {
        say(format!(
            "To log in to MCP server `{}`, open this URL in a browser:\n\n  {auth_url}\n",
            server.name
        ));
        return;
    }
    let command: Option<Vec<String>> = match std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        Some(browser) => shlex::split(&browser)
            .filter(|w| !w.is_empty())
            .map(|mut words| {
                if words.iter().any(|w| w.contains("%s")) {
                    words
                        .iter_mut()
                        .for_each(|w| *w = w.replace("%s", auth_url));
                } else {
                    words.push(auth_url.to_string());
                }
                words
            }),
        None if cfg!(target_os = "macos") => Some(vec!["open".to_string(), auth_url.to_string()]),
        None => Some(vec!["xdg-open".to_string(), auth_url.to_string()]),
    };
    let spawned = command.and_then(|words| {
        std::process::Command::new(&words[0])
            .args(&words[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()
    });
    match spawned {
        Some(mut child) => {
            say(format!(
                "Opening the browser to log in to MCP server `{}`. If it does not open, visit:\n\n  {auth_url}\n",
                server.name
            ));
            // Reap it whenever it ends; we do not wait for it.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        None => say(format!(
            "Could not open a browser. To log in to MCP server `{}`, visit:\n\n  {auth_url}\n",
            server.name
        )),
    }
}
