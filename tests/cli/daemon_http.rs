//! HTTP servers kept alive by the daemon: one upstream session shared by commands (its
//! `Mcp-Session-Id` at a recording proxy), a warm call as one upstream request, the key
//! (a changed header is another server), OAuth through the daemon (refresh under the
//! store's lock, exit 3 without a token or when the authorization is revoked mid-session, no
//! browser), a server gone mid-session (exit 4), no secret in `daemon status` or the daemon's
//! log, and the same stdout and stderr direct and kept alive. Each test has its own HOME and
//! XDG_RUNTIME_DIR; every daemon a test starts is stopped when the test ends (`support::daemon`).

use std::path::PathBuf;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::daemon::{Daemon, same};
use crate::support::*;

/// A daemon test whose server `ev` is `upstream` behind a recording proxy; it is the
/// [`Daemon`] otherwise.
struct Recording {
    // Dropped first: the daemon stops before its upstream does.
    daemon: Daemon,
    recorded: Recorded,
}

impl std::ops::Deref for Recording {
    type Target = Daemon;

    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl Recording {
    fn new(upstream: Peer) -> Recording {
        Recording {
            daemon: Daemon::new(),
            recorded: Recorded::new("ev", upstream),
        }
    }

    fn recorded(&self) -> &Recorded {
        &self.recorded
    }

    /// `mcpchat --url ev=PROXY --keep-alive ARGS...`: exit 0 checked; its stdout lines.
    fn kept(&self, args: &[&str]) -> Vec<Value> {
        let output = self
            .cmd()
            .args(["--url", &self.recorded().url_arg(), "--keep-alive"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert_eq!(stderr_of(&output), "");
        lines(&output.stdout)
    }

    /// What the upstream got since the last look, and the session ids it was sent.
    fn requests(&self) -> (Vec<String>, Vec<String>) {
        let log = self.recorded.env.path("requests.jsonl");
        let ids = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let entry: Value = serde_json::from_str(line).unwrap();
                entry["headers"]["mcp-session-id"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        // The daemon keeps its sessions open: no DELETE to wait for.
        (requests_now(&log), ids)
    }
}

/// `get-sum 2 3` on server-everything.
const GET_SUM: [&str; 7] = [
    "tools",
    "call",
    "ev__get-sum",
    "--arg",
    "a=2",
    "--arg",
    "b=3",
];

#[test]
fn two_commands_share_one_upstream_session_and_a_warm_call_is_one_request() {
    let daemon = Recording::new(everything_http());
    let first = daemon.kept(&GET_SUM);
    assert_eq!(first[0]["text"], "The sum of 2 and 3 is 5.");
    let (cold, cold_ids) = daemon.requests();
    assert_eq!(
        cold.iter().filter(|r| *r == "POST initialize").count(),
        1,
        "{cold:?}"
    );
    assert!(!cold.contains(&"DELETE".to_string()), "{cold:?}");

    let second = daemon.kept(&GET_SUM);
    assert_eq!(second[0]["text"], "The sum of 2 and 3 is 5.");
    let (warm, warm_ids) = daemon.requests();
    assert_eq!(warm, vec!["POST tools/call".to_string()]);
    // The same upstream session as the first command's requests after its handshake.
    assert_eq!(warm_ids.len(), 1);
    assert_eq!(cold_ids.last(), warm_ids.last());

    let status = daemon.status();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0]["server"], "ev");
    assert_eq!(status[0]["transport"], "http");
    assert_eq!(status[0]["auth"], json!({"type": "token"}));
    assert_eq!(status[0]["pid"], Value::Null);
    assert_eq!(status[0]["calls"], 2);
    assert_eq!(status[0]["protocol_version"], "2025-11-25");
}

#[test]
fn a_changed_header_is_another_server_with_its_own_session() {
    let daemon = Recording::new(everything_http());
    let call = |colour: &str| {
        let header = format!("X-Colour: {colour}");
        let mut args = vec!["--header", header.as_str()];
        args.extend(GET_SUM);
        daemon.kept(&args);
        daemon.requests()
    };
    let (red, red_ids) = call("red");
    let key = daemon.status()[0]["key"].clone();
    let (blue, blue_ids) = call("blue");
    assert!(red.contains(&"POST initialize".to_string()), "{red:?}");
    assert!(blue.contains(&"POST initialize".to_string()), "{blue:?}");
    assert_ne!(red_ids.last(), blue_ids.last());
    let status = daemon.status();
    assert_eq!(status.len(), 1, "the old one ended: {status:?}");
    assert_ne!(status[0]["key"], key);
    assert_eq!(call("blue").0, vec!["POST tools/call".to_string()]);
}

#[test]
fn stdout_and_exit_codes_are_the_same_direct_and_kept_alive_over_http() {
    let daemon = Recording::new(everything_http());
    let commands: &[&[&str]] = &[
        &["tools", "list"],
        &["servers"],
        &["tools", "call", "ev__get-sum", r#"{"a": 1, "b": 2}"#],
        &["tools", "call", "ev__echo", r#"{"message": 7}"#],
        &["tools", "call", "ev__no-such-tool", "{}"],
    ];
    let url = daemon.recorded().url_arg();
    for command in commands {
        eprintln!("command: {command:?}");
        let args: Vec<&str> = ["--no-cache", "--url", &url]
            .into_iter()
            .chain(command.iter().copied())
            .collect();
        let (direct, kept) = daemon.both(&args, |_| {});
        same(&direct, &kept);
    }
    assert_eq!(daemon.status().len(), 1);
}

/// The one server entry of the token store.
fn stored_entry(env: &TestEnv) -> Value {
    let store = env.stored();
    let servers = store["servers"].as_object().unwrap();
    assert_eq!(servers.len(), 1, "{store}");
    servers.values().next().unwrap().clone()
}

fn stored_token(env: &TestEnv, which: &str) -> String {
    stored_entry(env)["credentials"]["token_response"][which]
        .as_str()
        .unwrap()
        .to_string()
}

/// A script for `$BROWSER` that leaves `browser-opened` behind when run.
fn tell_tale_browser(env: &TestEnv) -> (PathBuf, PathBuf) {
    let opened = env.path("browser-opened");
    let browser = env.write(
        "browser.sh",
        &format!("#!/bin/sh\ntouch {}\n", opened.display()),
    );
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    (browser, opened)
}

/// Log in to the OAuth server `url` as `s` (see `logged_in_with_curl`), kept alive.
fn logged_in_and_kept(env: &TestEnv, url: &str) {
    logged_in_with_curl(env, url);
    let config = std::fs::read_to_string(env.path("mcp_servers.yaml")).unwrap();
    env.write(
        "mcp_servers.yaml",
        &format!("{config}    keep_alive: true\n"),
    );
}

#[test]
fn the_daemon_refreshes_an_expired_oauth_token_and_shows_no_secret() {
    let ml = mock_llm_oauth();
    let daemon = Daemon::new();
    let env = &daemon.env;
    logged_in_and_kept(env, &ml.url);
    let mut transcript = String::new();
    let mut call = |text: &str| {
        let output = daemon
            .cmd()
            .args(["tools", "call", "s__echo", "--arg", &format!("text={text}")])
            .output()
            .unwrap();
        transcript.push_str(&String::from_utf8_lossy(&output.stdout));
        transcript.push_str(&stderr_of(&output));
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert_eq!(lines(&output.stdout)[0]["text"], text);
    };
    call("hello");
    let first = stored_token(env, "access_token");
    let first_refresh = stored_token(env, "refresh_token");
    assert_eq!(
        post_json(
            &format!("{}/oauth/expire", ml.base()),
            &json!({"token": first})
        ),
        204
    );
    call("again");
    let second = stored_token(env, "access_token");
    assert_ne!(first, second, "the daemon refreshed and stored the token");
    assert_ne!(first_refresh, stored_token(env, "refresh_token"));

    let output = daemon.cmd().args(["daemon", "status"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let status = lines(&output.stdout);
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0]["auth"]["type"], "oauth");
    let client_id = stored_entry(env)["client"]["client_id"].clone();
    assert_eq!(status[0]["auth"]["client_id"], client_id);
    transcript.push_str(&String::from_utf8_lossy(&output.stdout));
    transcript.push_str(&stderr_of(&output));
    transcript.push_str(&daemon.log());
    let entry = stored_entry(env);
    let secrets = [
        first,
        second,
        first_refresh,
        stored_token(env, "refresh_token"),
        entry["client"]["client_secret"]
            .as_str()
            .expect("a confidential client")
            .to_string(),
    ];
    for secret in &secrets {
        assert!(
            !transcript.contains(secret.as_str()),
            "a secret leaked:\n{transcript}"
        );
    }
}

#[test]
fn without_a_token_a_kept_alive_oauth_server_fails_with_exit_3_as_direct_and_no_browser() {
    let ml = mock_llm_oauth();
    let daemon = Daemon::new();
    let env = &daemon.env;
    let (browser, opened) = tell_tale_browser(env);
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: s\n    url: {}\n    auth_type: oauth\n",
            ml.url
        ),
    );
    let run = |mode: &str| {
        daemon
            .cmd()
            .env("BROWSER", &browser)
            .args([mode, "tools", "call", "s__echo", "--arg", "text=x"])
            .output()
            .unwrap()
    };
    let direct = run("--no-keep-alive");
    let kept = run("--keep-alive");
    assert_eq!(direct.status.code(), Some(3), "{}", stderr_of(&direct));
    assert_eq!(kept.status.code(), Some(3), "{}", stderr_of(&kept));
    assert_eq!(stderr_of(&kept), stderr_of(&direct));
    assert!(
        stderr_of(&kept).contains("mcpchat auth login s"),
        "{}",
        stderr_of(&kept)
    );
    assert_eq!(kept.stdout, direct.stdout);
    assert!(!opened.exists(), "a browser was opened");
    // The daemon runs, but keeps nothing it could not connect.
    assert!(daemon.pid().is_some_and(alive));
    assert_eq!(daemon.status(), Vec::<Value>::new());
}

#[test]
fn an_expired_upstream_session_is_initialized_again_by_the_daemon_and_the_call_goes_on() {
    let daemon = Daemon::new();
    let env = &daemon.env;
    let port = free_port();
    let log = env.path("requests.jsonl");
    let old = python_http_with(port, &[]);
    let proxy = mcp_record_proxy(&old, &log);
    let call = || {
        let output = daemon
            .cmd()
            .args(["--keep-alive", "--protocol-version", "2025-11-25"])
            .args(["--url", &format!("py={}", proxy.url)])
            .args(["tools", "call", "py__add", "--arg", "a=2", "--arg", "b=3"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert_eq!(stderr_of(&output), "");
        assert_eq!(lines(&output.stdout)[0]["text"], "5");
    };
    call();
    requests_now(&log);
    // The server comes back where it was, without the daemon's session.
    drop(old);
    let _new = python_http_with(port, &[]);
    call();
    assert_eq!(
        requests_now(&log),
        [
            "POST tools/call",
            "POST initialize",
            "POST notifications/initialized",
            "POST tools/call",
        ]
    );
    assert_eq!(daemon.status().len(), 1);
}

#[test]
fn a_legacy_http_sse_server_is_kept_alive_too() {
    let daemon = Daemon::new();
    let sse = everything_sse();
    let call = || {
        let output = daemon
            .cmd()
            .args(["--keep-alive", "--url", &format!("ev={}", sse.url)])
            .args(GET_SUM)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert_eq!(lines(&output.stdout)[0]["text"], "The sum of 2 and 3 is 5.");
    };
    call();
    call();
    let status = daemon.status();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0]["protocol_version"], "2024-11-05");
    assert_eq!(status[0]["calls"], 2);
}

#[test]
fn a_daemon_started_with_other_proxy_variables_leaves_the_server_direct_with_one_warning() {
    let daemon = Recording::new(everything_http());
    daemon.kept(&GET_SUM);
    daemon.requests();
    let output = daemon
        .cmd()
        .env("NO_PROXY", "example.invalid")
        .args(["--url", &daemon.recorded().url_arg(), "--keep-alive"])
        .args(GET_SUM)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: warning: the daemon runs with other NO_PROXY than this command, so it would not \
         reach MCP server `ev` the same way; connecting to it directly\n\
         hint: `mcpchat daemon restart` from this environment keeps it alive\n"
    );
    assert_eq!(lines(&output.stdout)[0]["text"], "The sum of 2 and 3 is 5.");
    // Direct: its own session, ended by its DELETE.
    let (direct, _) = daemon.requests();
    assert!(
        direct.contains(&"POST initialize".to_string()),
        "{direct:?}"
    );
    assert_eq!(daemon.status()[0]["calls"], 1);
}

#[test]
fn an_authorization_revoked_mid_session_fails_kept_commands_with_exit_3_as_directly() {
    let peer = python_oauth();
    let daemon = Daemon::new();
    let env = &daemon.env;
    logged_in_and_kept(env, &peer.url);
    let (browser, opened) = tell_tale_browser(env);
    // A daemon that keeps no lists in its cache: every list reaches the server (one with a
    // fresh list would answer from it without asking the server, as a direct run does on
    // a 2026-07-28 server).
    let started = daemon
        .cmd()
        .env("MCPCHAT_NO_CACHE", "1")
        .env("BROWSER", &browser)
        .args(["daemon", "start"])
        .output()
        .unwrap();
    assert_eq!(started.status.code(), Some(0), "{}", stderr_of(&started));
    let run = |mode: &str, args: &[&str]| {
        daemon
            .cmd()
            .env("BROWSER", &browser)
            .arg(mode)
            .args(args)
            .output()
            .unwrap()
    };
    let whoami = ["tools", "call", "s__whoami"];
    let before = run("--keep-alive", &whoami);
    assert_eq!(before.status.code(), Some(0), "{}", stderr_of(&before));
    let key = daemon.status()[0]["key"].clone();
    // The server forgets both tokens: the access token is refused (401), and so is the
    // refresh token the daemon then tries.
    for which in ["access_token", "refresh_token"] {
        let token = stored_token(env, which);
        let expire = format!("{}/test/expire", peer.base());
        assert_eq!(post_json(&expire, &json!({"token": token})), 204);
    }
    let error = "mcpchat: error: MCP server `s` requires authentication, or rejected the credentials sent\n\
                 hint: run: mcpchat auth login s\n";
    let commands: &[&[&str]] = &[
        &whoami,
        &["--no-cache", "tools", "list"],
        &["resources", "read", "note://whoami"],
        &["prompts", "get", "s__greeting"],
    ];
    for command in commands {
        let direct = run("--no-keep-alive", command);
        let kept = run("--keep-alive", command);
        assert_eq!(direct.status.code(), Some(3), "{command:?}");
        assert_eq!(
            kept.status.code(),
            Some(3),
            "{command:?}: {}",
            stderr_of(&kept)
        );
        assert_eq!(lines(&kept.stdout), lines(&direct.stdout), "{command:?}");
        assert_eq!(stderr_of(&kept), error, "{command:?}");
        // Direct, the refresh is this process's own and its log line comes first.
        assert_eq!(
            stderr_of(&direct),
            format!(
                " WARN the refresh token was rejected or is missing; a new login is needed\n{error}"
            ),
            "{command:?}"
        );
    }
    assert!(!opened.exists(), "a browser was opened");
    // What the hint says works: after a new login the kept session goes on with its tokens.
    logged_in_and_kept(env, &peer.url);
    let after = run("--keep-alive", &whoami);
    assert_eq!(after.status.code(), Some(0), "{}", stderr_of(&after));
    assert_eq!(stderr_of(&after), "");
    let status = daemon.status();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0]["key"], key);
}

#[test]
fn a_refresh_token_revoked_mid_session_fails_a_kept_call_with_exit_3_on_a_2025_era_server() {
    let ml = mock_llm_oauth();
    let daemon = Daemon::new();
    let env = &daemon.env;
    logged_in_and_kept(env, &ml.url);
    let call = |mode: &str| {
        daemon
            .cmd()
            .args([mode, "tools", "call", "s__echo", "--arg", "text=x"])
            .output()
            .unwrap()
    };
    let before = call("--keep-alive");
    assert_eq!(before.status.code(), Some(0), "{}", stderr_of(&before));
    let refresh = stored_token(env, "refresh_token");
    let revoke = format!("{}/oauth/revoke", ml.base());
    assert_eq!(post_json(&revoke, &json!({"refresh_token": refresh})), 204);
    let access = stored_token(env, "access_token");
    let expire = format!("{}/oauth/expire", ml.base());
    assert_eq!(post_json(&expire, &json!({"token": access})), 204);
    let direct = call("--no-keep-alive");
    let kept = call("--keep-alive");
    assert_eq!(direct.status.code(), Some(3), "{}", stderr_of(&direct));
    assert_eq!(kept.status.code(), Some(3), "{}", stderr_of(&kept));
    assert_eq!(kept.stdout, b"");
    assert_eq!(direct.stdout, b"");
    assert_eq!(
        stderr_of(&kept),
        "mcpchat: error: MCP server `s` requires authentication, or rejected the credentials sent\n\
         hint: run: mcpchat auth login s\n"
    );
    assert_eq!(
        stderr_of(&direct),
        format!(
            " WARN the refresh token was rejected or is missing; a new login is needed\n{}",
            stderr_of(&kept)
        )
    );
    let status = daemon.status();
    assert_eq!(status[0]["protocol_version"], "2025-11-25");
    assert_eq!(status[0]["calls"], 2);
}

#[test]
fn a_kept_http_server_that_went_away_fails_the_command_with_exit_4_as_directly() {
    let daemon = Daemon::new();
    let port = free_port();
    let server = python_http_with(port, &[]);
    let url = format!("py=http://127.0.0.1:{port}/mcp");
    let call = |mode: &str| {
        daemon
            .cmd()
            .args([mode, "--url", &url])
            .args(["tools", "call", "py__add", "--arg", "a=2", "--arg", "b=3"])
            .output()
            .unwrap()
    };
    let before = call("--keep-alive");
    assert_eq!(before.status.code(), Some(0), "{}", stderr_of(&before));
    drop(server);
    let direct = call("--no-keep-alive");
    let kept = call("--keep-alive");
    assert_eq!(direct.status.code(), Some(4));
    assert_eq!(kept.status.code(), Some(4));
    assert_eq!(kept.stdout, b"");
    assert_eq!(
        stderr_of(&kept),
        format!(
            "mcpchat: error: cannot connect to MCP server `py` at http://127.0.0.1:{port}/mcp: \
             Connection refused (os error 111)\nhint: is the server running?\n"
        )
    );
    assert_eq!(stderr_of(&kept), stderr_of(&direct));
}
