//! URLs we open in a browser or show the user to open: only `https:` anywhere, or `http:` to a
//! loopback address (PRODUCT.md §9). A `file:`, `javascript:` or custom-scheme URL handed to
//! `$BROWSER` (`xdg-open`, `open`) would open a local file or start another application, and
//! plain `http:` elsewhere would send the user's login over the network in clear text.
//!
//! Used for the OAuth authorization URL (opened, or printed with `--no-browser`) and the device
//! flow's `verification_uri(_complete)`; an elicitation that asks to open a URL must go through
//! [`openable`] too, and both open through [`open_in_browser`].

use std::net::IpAddr;

use url::{Host, Url};

/// Why a URL is not opened or offered to open. Its `Display` completes "the URL ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a URL at all.
    Invalid(String),
    /// A scheme other than `https:` and `http:` (`file`, `javascript`, `vscode`...).
    Scheme(String),
    /// `http:` to a host that is not loopback: the host as written in the URL.
    PlainHttp(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(why) => write!(f, "is not a valid URL ({why})"),
            Refusal::Scheme(scheme) => write!(f, "has the scheme `{scheme}:`"),
            Refusal::PlainHttp(host) => {
                write!(
                    f,
                    "is plain http: to `{host}`, which is not a loopback address"
                )
            }
        }
    }
}

/// What every refusal adds: the rule.
pub const RULE: &str =
    "only https: URLs (or http: to a loopback address) are opened or shown to open";

/// `raw` parsed, when it may be opened or shown to open: `https:` to any host, or `http:` to
/// `localhost`, 127.0.0.0/8 or `::1`.
pub fn openable(raw: &str) -> Result<Url, Refusal> {
    let url = Url::parse(raw).map_err(|e| Refusal::Invalid(e.to_string()))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(url.host()) => Ok(url),
        "http" => Err(Refusal::PlainHttp(
            url.host_str().unwrap_or_default().to_string(),
        )),
        other => Err(Refusal::Scheme(other.to_string())),
    }
}

/// Open a checked URL with `$BROWSER` (its `%s` replaced by the URL, else the URL appended),
/// else the platform opener (`open`, `xdg-open`); whether it started. Takes a [`Url`] so only
/// what [`openable`] accepted can be opened. The opener is reaped whenever it ends; we do not
/// wait for it.
pub fn open_in_browser(url: &Url) -> bool {
    let url = url.as_str();
    let command: Option<Vec<String>> = match std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        Some(browser) => shlex::split(&browser)
            .filter(|w| !w.is_empty())
            .map(|mut words| {
                if words.iter().any(|w| w.contains("%s")) {
                    words.iter_mut().for_each(|w| *w = w.replace("%s", url));
                } else {
                    words.push(url.to_string());
                }
                words
            }),
        None if cfg!(target_os = "macos") => Some(vec!["open".to_string(), url.to_string()]),
        None => Some(vec!["xdg-open".to_string(), url.to_string()]),
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
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            true
        }
        None => false,
    }
}

fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn https_anywhere_and_http_to_loopback_are_openable() {
        for url in [
            "https://example.com/authorize?x=1",
            "HTTPS://Example.COM/",
            "http://127.0.0.1:8080/cb",
            "http://127.5.6.7/",
            "http://localhost:3000/authorize",
            "http://LOCALHOST/",
            "http://[::1]:9000/",
        ] {
            assert!(openable(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn other_schemes_and_plain_http_elsewhere_are_refused() {
        let refused = |url: &str| openable(url).err().map(|r| r.to_string());
        assert_eq!(
            refused("file:///etc/passwd").as_deref(),
            Some("has the scheme `file:`")
        );
        assert_eq!(
            refused("javascript:alert(1)").as_deref(),
            Some("has the scheme `javascript:`")
        );
        assert_eq!(
            refused("evil-app://open?cmd=x").as_deref(),
            Some("has the scheme `evil-app:`")
        );
        assert_eq!(
            refused("http://example.com/device").as_deref(),
            Some("is plain http: to `example.com`, which is not a loopback address")
        );
        assert_eq!(
            refused("http://localhost.evil.com/").as_deref(),
            Some("is plain http: to `localhost.evil.com`, which is not a loopback address")
        );
        assert_eq!(
            refused("http://10.0.0.1/").as_deref(),
            Some("is plain http: to `10.0.0.1`, which is not a loopback address")
        );
        assert_eq!(
            refused("/relative/path").as_deref(),
            Some("is not a valid URL (relative URL without a base)")
        );
    }
}
