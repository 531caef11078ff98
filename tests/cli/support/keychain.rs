//! A private OS keychain for one test: a D-Bus session (`dbus-run-session`) with Debian's
//! gnome-keyring unlocked in it, so `token_store: keychain` runs against a real Secret Service.
//! A missing gnome-keyring fails the test unless the user opted out (`MCPCHAT_TEST_SKIP`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub struct Keychain {
    session: Child,
    /// `DBUS_SESSION_BUS_ADDRESS` of the session.
    pub address: String,
}

/// Whether the keychain tests run: `false` only when the user opted out
/// (`MCPCHAT_TEST_SKIP=keychain`); a missing gnome-keyring fails the test.
pub fn keychain_available() -> bool {
    !super::skipped("keychain")
}

impl Keychain {
    /// A session bus with an unlocked login keyring under `home`; it ends when dropped.
    pub fn start(home: &Path) -> Keychain {
        // The session lives as long as `cat` reads its stdin: dropping the pipe ends it.
        let script = "echo -n test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
                      && echo \"$DBUS_SESSION_BUS_ADDRESS\" && exec cat >/dev/null";
        let mut session = Command::new("dbus-run-session")
            .args(["--", "sh", "-c", script])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_RUNTIME_DIR", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(session.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        assert!(!address.is_empty(), "the D-Bus session did not start");
        Keychain { session, address }
    }

    /// The secrets mcpchat keeps for the server at `url` (JSON), read with libsecret's
    /// `secret-tool` as another program would.
    pub fn secrets(&self, url: &str) -> Option<Value> {
        let output = Command::new("secret-tool")
            .args(["lookup", "service", "mcpchat", "username", url])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        (output.status.success() && !text.is_empty()).then(|| serde_json::from_str(&text).unwrap())
    }
}

impl Drop for Keychain {
    fn drop(&mut self) {
        drop(self.session.stdin.take());
        let _ = self.session.wait();
    }
}
