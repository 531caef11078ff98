//! `auth login` with a real browser: Debian's headless Chromium (driven by puppeteer-core, see
//! tests/peers/headless_browser.mjs) as `$BROWSER`, against oidc-provider's own login and
//! consent pages; then mcpchat's callback page, checked as the user sees it.

use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

/// Waits for the browser script to finish (mcpchat may exit before the screenshots are saved).
fn wait_for_browser(out: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(done) = std::fs::read_to_string(out.join("done")) {
            return done;
        }
        assert!(Instant::now() < deadline, "the browser never finished");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn headless_chromium_logs_in_through_real_login_and_consent_pages() {
    if skipped("browser") {
        return;
    }
    let env = TestEnv::new();
    let issuer = oidc_provider(&["--interactive"]);
    let resource = protected_echo(&issuer.url);
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: s\n    url: {}\n    auth_type: oauth\n",
            resource.url
        ),
    );
    let out = env.dir.path().join("browser");
    std::fs::create_dir_all(&out).unwrap();
    let browser = format!(
        "node {} {} {}",
        repo().join("tests/peers/headless_browser.mjs").display(),
        peers().join("npm").display(),
        out.display()
    );
    let output = env
        .cmd()
        .env("BROWSER", &browser)
        .args(["auth", "login", "s", "--timeout", "90"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(wait_for_browser(&out), "ok");

    // The store holds a token that works; its subject is who logged in on the form.
    let store: Value =
        serde_json::from_str(&std::fs::read_to_string(env.token_store()).unwrap()).unwrap();
    let entry = &store["servers"][&resource.url];
    assert!(entry["credentials"]["token_response"]["access_token"].is_string());
    let call = env
        .cmd()
        .args(["tools", "call", "s__whoami"])
        .output()
        .unwrap();
    assert_eq!(call.status.code(), Some(0), "{}", stderr_of(&call));
    assert_eq!(lines(&call.stdout)[0]["structured_content"]["sub"], "user");

    // The callback page: HTML with a title, says where to go next, carries no secret.
    let html = std::fs::read_to_string(out.join("callback.html")).unwrap();
    assert!(
        html.to_lowercase().starts_with("<!doctype html><html>"),
        "{html}"
    );
    assert!(html.contains("<title>Logged in</title>"), "{html}");
    let text = std::fs::read_to_string(out.join("callback.txt")).unwrap();
    assert_eq!(
        text.trim(),
        "Logged in\n\nmcpchat is logged in. You can close this window and go back to the terminal."
    );
    for secret in [
        &entry["credentials"]["token_response"]["access_token"],
        &entry["credentials"]["token_response"]["refresh_token"],
        &entry["client"]["client_secret"],
    ] {
        let secret = secret.as_str().unwrap();
        assert!(!html.contains(secret), "a secret is on the callback page");
    }
    assert!(!html.contains("code="), "{html}");

    // The screenshot shows something: it is a PNG well larger than one of an empty page.
    let shot = std::fs::read(out.join("callback.png")).unwrap();
    let blank = std::fs::read(out.join("blank.png")).unwrap();
    assert_eq!(&shot[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        shot.len() > blank.len() + 2000,
        "the callback screenshot ({} bytes) looks blank ({} bytes for an empty page)",
        shot.len(),
        blank.len()
    );
}
