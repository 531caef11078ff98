//! Issue 21, class 7: OAuth strictness against a hostile authorization server
//! (tests/fakes/hostile_oauth.py) — plain-http endpoints off loopback, unusable tokens, a token
//! endpoint redirecting elsewhere, idle connections to the login callback. (The overall bound
//! on a model stream is in `ask_bounds`.)

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

/// A config with the fake as OAuth server `s` (plus `extra` lines under it).
fn configure(env: &TestEnv, mcp: &Peer, extra: &str) {
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: s\n    url: {}\n    auth_type: oauth\n{extra}",
            mcp.url
        ),
    );
}

fn login(env: &TestEnv, args: &[&str]) -> std::process::Output {
    env.cmd()
        .env("BROWSER", "curl -s -L -o /dev/null")
        .args(["auth", "login", "s"])
        .args(args)
        .output()
        .unwrap()
}

/// The `mcpchat:` lines of stderr.
fn said(output: &std::process::Output) -> Vec<String> {
    stderr_of(output)
        .lines()
        .filter(|l| l.starts_with("mcpchat: ") || l.starts_with("hint: "))
        .map(str::to_string)
        .collect()
}

/// The credentials stored for the fake, if any.
fn stored_credentials(env: &TestEnv, mcp: &Peer) -> Option<Value> {
    if !env.token_store().exists() {
        return None;
    }
    env.stored()["servers"][&mcp.url]
        .get("credentials")
        .cloned()
        .filter(|c| !c.is_null())
}

#[test]
fn plain_http_oauth_endpoints_off_loopback_are_refused_before_any_request() {
    for (option, name, origin) in [
        (
            "token=http://192.0.2.1/token",
            "token_endpoint",
            "http://192.0.2.1",
        ),
        (
            "authorize=http://mcpchat.invalid/authorize",
            "authorization_endpoint",
            "http://mcpchat.invalid",
        ),
        (
            "register=http://mcpchat.invalid/register",
            "registration_endpoint",
            "http://mcpchat.invalid",
        ),
    ] {
        let env = TestEnv::new();
        let log = env.path("mcp.log");
        let mcp = hostile_oauth(&log, &[option]);
        configure(&env, &mcp, "");
        let output = login(&env, &["--timeout", "5"]);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{option}: {}",
            stderr_of(&output)
        );
        assert_eq!(
            said(&output),
            [format!(
                "mcpchat: error: OAuth for MCP server `s`: the {name} {origin} is plain http: refusing to send credentials, codes or tokens in clear (OAuth 2.1 requires https except on loopback)"
            )],
            "{option}"
        );
        // Refused on the metadata: nothing was registered or exchanged.
        let posts: Vec<String> = logged_requests(&log)
            .into_iter()
            .filter(|l| l.starts_with("POST") && l != "POST /mcp")
            .collect();
        assert_eq!(posts, Vec::<String>::new(), "{option}");
        assert_eq!(stored_credentials(&env, &mcp), None, "{option}");
    }
}

#[test]
fn an_access_token_with_a_control_character_is_refused_at_login_and_nothing_is_stored() {
    let env = TestEnv::new();
    let mcp = hostile_oauth(&env.path("mcp.log"), &[r#"access_token="abc\u0001def""#]);
    configure(&env, &mcp, "");
    let output = login(&env, &["--timeout", "30"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert_eq!(
        said(&output),
        [
            "mcpchat: error: OAuth for MCP server `s`: the token exchange failed: OAuth error: the access token from the authorization server contains the character U+0001, which cannot go in an HTTP header; refusing to store it"
        ]
    );
    assert_eq!(stored_credentials(&env, &mcp), None);
}

#[test]
fn a_token_type_other_than_bearer_or_dpop_is_refused_and_bearer_in_any_case_is_taken() {
    let env = TestEnv::new();
    let mcp = hostile_oauth(&env.path("mcp.log"), &["token_type=mac"]);
    configure(&env, &mcp, "");
    let output = login(&env, &["--timeout", "30"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert_eq!(
        said(&output),
        [
            "mcpchat: error: OAuth for MCP server `s`: the token exchange failed: OAuth error: the authorization server issued a token of type `mac`; mcpchat uses only Bearer and DPoP tokens"
        ]
    );
    assert_eq!(stored_credentials(&env, &mcp), None);

    let env = TestEnv::new();
    let mcp = hostile_oauth(&env.path("mcp.log"), &["token_type=BEARER"]);
    configure(&env, &mcp, "");
    let output = login(&env, &["--timeout", "30"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(stored_credentials(&env, &mcp).is_some());
}

#[test]
fn a_token_endpoint_redirecting_to_another_origin_is_refused_by_name_and_not_followed() {
    let env = TestEnv::new();
    let elsewhere_log = env.path("elsewhere.log");
    let elsewhere = hostile_oauth(&elsewhere_log, &[]);
    let redirect = format!("token_redirect=http://localhost:{}/token", elsewhere.port);
    let mcp = hostile_oauth(&env.path("mcp.log"), &[&redirect]);
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: s\n    url: {}\n    auth_type: client_credentials\n    oauth:\n      client_id: cid\n      client_secret: a-secret-value\n",
            mcp.url
        ),
    );
    let output = env.cmd().args(["auth", "login", "s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    let lines = said(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "mcpchat: error: OAuth for MCP server `s`: the client credentials grant failed: "
        ) && lines[0].ends_with(&format!(
            ": redirect to another origin refused (http://localhost:{})",
            elsewhere.port
        )),
        "{lines:?}"
    );
    assert_eq!(logged_requests(&elsewhere_log), Vec::<String>::new());
}

#[test]
fn idle_connections_to_the_callback_do_not_hold_back_the_real_redirect() {
    let env = TestEnv::new();
    let mcp = hostile_oauth(&env.path("mcp.log"), &[]);
    let port = free_port();
    configure(
        &env,
        &mcp,
        &format!("    oauth:\n      redirect_port: {port}\n"),
    );
    // The "browser" first opens two connections to the callback that never send anything
    // (each used to hold the listener for 10 s, longer than this login's 5 s), then follows
    // the authorization URL.
    let ready = env.path("idle.ready");
    let pid = env.path("idle.pid");
    let idle = env.write(
        "idle.py",
        &format!(
            "import socket, time\nheld = [socket.create_connection(('127.0.0.1', {port})) for _ in range(2)]\nopen({ready:?}, 'w').write('ok')\ntime.sleep(60)\n"
        ),
    );
    let browser = env.write(
        "browser.sh",
        &format!(
            "python3 {} & echo $! > {}\nwhile [ ! -s {} ]; do sleep 0.05; done\nexec curl -s -L -o /dev/null \"$1\"\n",
            idle.display(),
            pid.display(),
            ready.display()
        ),
    );
    let output = env
        .cmd()
        .env("BROWSER", format!("sh {}", browser.display()))
        .args(["auth", "login", "s", "--timeout", "5"])
        .output()
        .unwrap();
    if let Some(pid) = std::fs::read_to_string(&pid)
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    {
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(stored_credentials(&env, &mcp).is_some());
}
