//! The headless grants for workloads and enterprises, against oidc-provider with grant handlers
//! on top of its own client authentication and token issuance (tests/peers/oidc_provider.mjs,
//! which logs every such token request), in front of tests/peers/protected_echo.py:
//! `auth_type: jwt_bearer` (RFC 7523 with a workload identity token, `--jwt-bearer`) and
//! `enterprise_managed` (token exchange for an ID-JAG at one oidc-provider as the IdP, `--idp`,
//! redeemed at another, `--trust-idp`); and the config errors of both. No authorization server
//! that installs offline has these grants built in; the conformance suite's IdP and
//! authorization server test the same flows independently (tests/conformance/run).

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// A token the peer's test endpoint `path` mints, with `expires_in` seconds to live.
fn minted(peer: &Peer, path: &str, expires_in: i64) -> String {
    let output = std::process::Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
        ])
        .arg(json!({ "expires_in": expires_in }).to_string())
        .arg(format!("{}/test/{path}", peer.url))
        .output()
        .unwrap();
    let body: Value = serde_json::from_slice(&output.stdout).unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// A workload identity token from the peer's workload issuer (what Kubernetes projects into a
/// pod).
fn workload_token(issuer: &Peer, expires_in: i64) -> String {
    minted(issuer, "workload-token", expires_in)
}

/// An ID token for user alice from the IdP peer.
fn id_token(idp: &Peer, expires_in: i64) -> String {
    minted(idp, "id-token", expires_in)
}

/// The JWT bearer token requests the authorization server received, in order.
fn token_requests(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A `jwt_bearer` server `s` with the peer's pre-registered workload client and `source`
/// (the assertion_file / assertion_env line).
fn config(env: &TestEnv, url: &str, source: &str) {
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: s\n    url: {url}\n    auth_type: jwt_bearer\n    oauth:\n      client_id: mcpchat-workload\n      client_secret: mcpchat-workload-secret\n      token_endpoint_auth_method: client_secret_post\n      scopes: [mcp:tools]\n      {source}\n"
        ),
    );
}

/// The body every token request of `config` carries, with `assertion`.
fn expected_request(assertion: &str, resource: &str) -> Value {
    json!({
        "body": {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": assertion,
            "scope": "mcp:tools",
            "resource": resource,
            "client_id": "mcpchat-workload",
            "client_secret": "mcpchat-workload-secret",
        },
        "authorization": null,
    })
}

#[test]
fn auth_login_sends_the_workload_token_from_the_file_as_a_jwt_bearer_assertion() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let issuer = oidc_provider(&["--jwt-bearer", log.path().to_str().unwrap()]);
    let resource = protected_echo(&issuer.url);
    let env = TestEnv::new();
    let token = workload_token(&issuer, 600);
    // Written with a trailing newline, as `echo` would; the assertion sent has none.
    env.write("workload-token", &format!("{token}\n"));
    config(&env, &resource.url, "assertion_file: workload-token");

    let output = env
        .cmd()
        .args(["-vv", "auth", "login", "s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let printed = lines(&output.stdout);
    assert_eq!(printed.len(), 1);
    let status = &printed[0];
    assert_eq!(status["type"], "auth");
    assert_eq!(status["auth_type"], "jwt_bearer");
    assert_eq!(status["logged_in"], true);
    assert_eq!(status["client_id"], "mcpchat-workload");
    assert_eq!(status["issuer"], issuer.url.as_str());
    assert_eq!(status["scopes"], json!(["mcp:tools"]));
    assert_eq!(
        token_requests(log.path()),
        [expected_request(&token, &resource.url)]
    );
    let stderr = stderr_of(&output);
    assert!(!stderr.contains(&token), "the assertion was printed");
    assert!(
        !stderr.contains("mcpchat-workload-secret"),
        "the secret was printed"
    );

    // The stored token serves the next command: no second token request.
    let output = env
        .cmd()
        .args(["tools", "call", "s__whoami"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let who: Value =
        serde_json::from_str(lines(&output.stdout)[0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(who["client_id"], "mcpchat-workload");
    assert_eq!(who["iss"], issuer.url.as_str());
    assert_eq!(token_requests(log.path()).len(), 1);
}

#[test]
fn an_expiring_access_token_is_replaced_with_the_token_file_read_again() {
    let log = tempfile::NamedTempFile::new().unwrap();
    // 20 s tokens are inside both renewal margins (60 s before a command, 30 s before each
    // request): every command gets one new token and uses it for all its requests (they
    // used to be fetched again on every request).
    let issuer = oidc_provider(&[
        "--jwt-bearer",
        log.path().to_str().unwrap(),
        "--access-ttl",
        "20",
    ]);
    let resource = protected_echo(&issuer.url);
    let env = TestEnv::new();
    let first = workload_token(&issuer, 600);
    env.write("workload-token", &first);
    config(&env, &resource.url, "assertion_file: workload-token");
    let output = env.cmd().args(["auth", "login", "s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));

    // The kubelet rotates the projected token in place.
    let second = workload_token(&issuer, 600);
    assert_ne!(first, second);
    env.write("workload-token", &second);
    let output = env
        .cmd()
        .args(["tools", "call", "s__whoami"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        token_requests(log.path()),
        [
            expected_request(&first, &resource.url),
            expected_request(&second, &resource.url)
        ]
    );
}

#[test]
fn the_assertion_can_come_from_an_environment_variable_without_a_login() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let issuer = oidc_provider(&["--jwt-bearer", log.path().to_str().unwrap()]);
    let resource = protected_echo(&issuer.url);
    let env = TestEnv::new();
    let token = workload_token(&issuer, 600);
    config(&env, &resource.url, "assertion_env: CI_OIDC_TOKEN");
    let output = env
        .cmd()
        .env("CI_OIDC_TOKEN", &token)
        .args(["-vv", "tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let tools: Vec<String> = of_type(&lines(&output.stdout), "tool")
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tools, ["s__whoami"]);
    assert_eq!(
        token_requests(log.path()),
        [expected_request(&token, &resource.url)]
    );
    assert!(
        !stderr_of(&output).contains(&token),
        "the assertion was printed"
    );
}

#[test]
fn a_rejected_assertion_exits_3_after_one_token_request() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let issuer = oidc_provider(&["--jwt-bearer", log.path().to_str().unwrap()]);
    let resource = protected_echo(&issuer.url);
    let env = TestEnv::new();
    let expired = workload_token(&issuer, -60);
    env.write("workload-token", &expired);
    config(&env, &resource.url, "assertion_file: workload-token");
    for args in [&["auth", "login", "s"][..], &["tools", "list"][..]] {
        let output = env.cmd().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
        let stderr = stderr_of(&output);
        assert!(
            stderr.contains(
                "mcpchat: error: OAuth for MCP server `s`: the authorization server rejected the workload identity token (invalid_grant"
            ),
            "{stderr}"
        );
        assert!(
            stderr.contains("hint: the token must be unexpired"),
            "{stderr}"
        );
        assert!(!stderr.contains(&expired), "the assertion was printed");
    }
    // One request per command: a rejected assertion is not retried.
    assert_eq!(token_requests(log.path()).len(), 2);
}

/// Run `tools list` with `server` (the YAML of one server `s`) and return its exit code and
/// error line.
fn config_error(server: &str) -> (Option<i32>, String) {
    let env = TestEnv::new();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: s\n    url: http://127.0.0.1:{}/mcp\n{server}",
            closed_port()
        ),
    );
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    let stderr = stderr_of(&output);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("mcpchat: error:"))
        .unwrap_or_default()
        .to_string();
    (output.status.code(), line)
}

#[test]
fn jwt_bearer_config_errors_exit_2_naming_the_key() {
    assert_eq!(
        config_error("    auth_type: jwt_bearer\n    oauth:\n      client_id: c\n"),
        (
            Some(2),
            "mcpchat: error: server `s` (auth_type jwt_bearer) needs oauth.assertion_file or oauth.assertion_env: the file or environment variable with the workload identity token".to_string()
        )
    );
    assert_eq!(
        config_error(
            "    auth_type: jwt_bearer\n    oauth:\n      assertion_file: t\n      assertion_env: T\n"
        ),
        (
            Some(2),
            "mcpchat: error: server `s`: set either oauth.assertion_file or oauth.assertion_env, not both".to_string()
        )
    );
    let (code, line) = config_error(
        "    auth_type: jwt_bearer\n    oauth:\n      assertion_file: /nonexistent/token\n",
    );
    assert_eq!(code, Some(2));
    assert!(
        line.starts_with(
            "mcpchat: error: server `s`: cannot read the workload identity token from oauth.assertion_file /nonexistent/token:"
        ),
        "{line}"
    );
    assert_eq!(
        config_error("    auth_type: jwt_bearer\n    oauth:\n      assertion_env: NO_SUCH_TOKEN\n"),
        (
            Some(2),
            "mcpchat: error: server `s`: the environment variable NO_SUCH_TOKEN named by oauth.assertion_env is not set".to_string()
        )
    );
    let (code, line) =
        config_error("    auth_type: jwt_bearer\n    oauth:\n      assertion_fil: t\n");
    assert_eq!(code, Some(2));
    assert!(line.contains("assertion_fil"), "{line}");
}

#[test]
fn enterprise_managed_config_errors_exit_2_naming_the_key() {
    assert_eq!(
        config_error("    auth_type: enterprise_managed\n"),
        (
            Some(2),
            "mcpchat: error: server `s` has auth_type enterprise_managed but no oauth.client_id (the client registered at the MCP server's authorization server)".to_string()
        )
    );
    assert_eq!(
        config_error("    auth_type: enterprise_managed\n    oauth:\n      client_id: c\n"),
        (
            Some(2),
            "mcpchat: error: server `s` has auth_type enterprise_managed but no oauth.identity_provider (the enterprise identity provider)".to_string()
        )
    );
    assert_eq!(
        config_error(
            "    auth_type: enterprise_managed\n    oauth:\n      client_id: c\n      identity_provider:\n        issuer: https://idp.example\n        client_id: i\n"
        ),
        (
            Some(2),
            "mcpchat: error: server `s` (auth_type enterprise_managed) needs oauth.identity_provider.id_token_file or oauth.identity_provider.id_token_env: the file or environment variable with the ID token".to_string()
        )
    );
    assert_eq!(
        config_error(
            "    auth_type: enterprise_managed\n    oauth:\n      client_id: c\n      identity_provider:\n        client_id: i\n        id_token_env: ID_TOKEN\n"
        ),
        (
            Some(2),
            "mcpchat: error: server `s` has auth_type enterprise_managed but no oauth.identity_provider.issuer (the IdP's issuer URL)".to_string()
        )
    );
    let env_empty = config_error(
        "    auth_type: enterprise_managed\n    oauth:\n      client_id: c\n      identity_provider:\n        issuer: https://idp.example\n        client_id: i\n        id_token_file: /dev/null\n",
    );
    assert_eq!(
        env_empty,
        (
            Some(2),
            "mcpchat: error: server `s`: the ID token in /dev/null (oauth.identity_provider.id_token_file) is empty".to_string()
        )
    );
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// The enterprise IdP, the MCP server's authorization server trusting it, the MCP server, and
/// the logs of the IdP's token exchanges and the authorization server's JWT bearer grants.
struct Enterprise {
    idp: Peer,
    authorization_server: Peer,
    resource: Peer,
    idp_log: tempfile::NamedTempFile,
    as_log: tempfile::NamedTempFile,
}

fn enterprise(env: &TestEnv) -> Enterprise {
    let idp_log = tempfile::NamedTempFile::new().unwrap();
    let as_log = tempfile::NamedTempFile::new().unwrap();
    let idp = oidc_provider(&["--idp", idp_log.path().to_str().unwrap()]);
    let authorization_server = oidc_provider(&[
        "--jwt-bearer",
        as_log.path().to_str().unwrap(),
        "--trust-idp",
        &idp.url,
    ]);
    let resource = protected_echo(&authorization_server.url);
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: wiki\n    url: {}\n    auth_type: enterprise_managed\n    oauth:\n      client_id: mcpchat-enterprise\n      client_secret: ${{WIKI_SECRET}}\n      scopes: [mcp:tools]\n      identity_provider:\n        issuer: {}\n        client_id: mcpchat-idp\n        client_secret: ${{IDP_SECRET}}\n        id_token_env: ACME_ID_TOKEN\n",
            resource.url, idp.url
        ),
    );
    Enterprise {
        idp,
        authorization_server,
        resource,
        idp_log,
        as_log,
    }
}

#[test]
fn enterprise_managed_trades_the_id_token_for_an_id_jag_then_the_id_jag_for_a_token() {
    let env = TestEnv::new();
    let e = enterprise(&env);
    let token = id_token(&e.idp, 600);
    let run = |args: &[&str]| {
        env.cmd()
            .env("ACME_ID_TOKEN", &token)
            .env("WIKI_SECRET", "mcpchat-enterprise-secret")
            .env("IDP_SECRET", "mcpchat-idp-secret")
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&["-vv", "auth", "login", "wiki"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let printed = lines(&output.stdout);
    assert_eq!(printed.len(), 1);
    assert_eq!(printed[0]["auth_type"], "enterprise_managed");
    assert_eq!(printed[0]["logged_in"], true);
    assert_eq!(printed[0]["client_id"], "mcpchat-enterprise");
    assert_eq!(printed[0]["issuer"], e.authorization_server.url.as_str());
    assert_eq!(printed[0]["scopes"], json!(["mcp:tools"]));

    // At the IdP: the RFC 8693 exchange, as mcpchat-idp with HTTP Basic.
    assert_eq!(
        token_requests(e.idp_log.path()),
        [json!({
            "body": {
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "subject_token": token,
                "audience": e.authorization_server.url,
                "resource": e.resource.url,
                "scope": "mcp:tools",
            },
            "authorization": basic("mcpchat-idp", "mcpchat-idp-secret"),
        })]
    );
    // At the MCP server's authorization server: only the ID-JAG, as mcpchat-enterprise.
    let redeemed = token_requests(e.as_log.path());
    assert_eq!(redeemed.len(), 1);
    let jag = redeemed[0]["body"]["assertion"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        redeemed[0],
        json!({
            "body": {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": jag},
            "authorization": basic("mcpchat-enterprise", "mcpchat-enterprise-secret"),
        })
    );
    let stderr = stderr_of(&output);
    for secret in [
        &token,
        &jag,
        "mcpchat-idp-secret",
        "mcpchat-enterprise-secret",
    ] {
        assert!(!stderr.contains(secret), "a secret was printed: {stderr}");
    }

    let output = run(&["tools", "call", "wiki__whoami"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let who: Value =
        serde_json::from_str(lines(&output.stdout)[0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(who["client_id"], "mcpchat-enterprise");
    assert_eq!(who["iss"], e.authorization_server.url.as_str());
    assert_eq!(who["aud"], e.resource.url.as_str());
    assert_eq!(token_requests(e.as_log.path()).len(), 1);
}

#[test]
fn an_id_token_the_idp_rejects_exits_3_without_reaching_the_authorization_server() {
    let env = TestEnv::new();
    let e = enterprise(&env);
    let expired = id_token(&e.idp, -60);
    let output = env
        .cmd()
        .env("ACME_ID_TOKEN", &expired)
        .env("WIKI_SECRET", "mcpchat-enterprise-secret")
        .env("IDP_SECRET", "mcpchat-idp-secret")
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains(
            "mcpchat: error: OAuth for MCP server `wiki`: the identity provider rejected the ID token (invalid_grant)\nhint: get a fresh ID token (sign in to the identity provider again)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains(&expired));
    assert_eq!(token_requests(e.idp_log.path()).len(), 1);
    assert_eq!(token_requests(e.as_log.path()), Vec::<Value>::new());
}
