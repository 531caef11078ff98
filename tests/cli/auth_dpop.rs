//! DPoP (RFC 9449) against real implementations: oidc-provider issues DPoP-bound tokens (and
//! demands its nonce with `--dpop-nonce`), tests/peers/protected_echo.py checks every proof
//! (signature, htm, htu, ath, unique jti, the token's cnf.jkt; its nonce with `--dpop-nonce`).
//! Also: `auto` keeps Bearer tokens for an MCP server that does not offer DPoP, `never` opts
//! out, and the key never reaches output.

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

/// Follows redirects and keeps cookies (oidc-provider's interactions need its session cookie).
const BROWSER: &str = "curl -s -L -b /dev/null -o /dev/null";

fn config(env: &TestEnv, url: &str, oauth: &str) {
    env.write(
        "mcp_servers.yaml",
        &format!("servers:\n  - name: s\n    url: {url}\n    auth_type: oauth\n{oauth}"),
    );
}

fn entry(env: &TestEnv, url: &str) -> Value {
    let store: Value =
        serde_json::from_str(&std::fs::read_to_string(env.token_store()).unwrap()).unwrap();
    store["servers"][url].clone()
}

fn login(env: &TestEnv) {
    let output = env
        .cmd()
        .env("BROWSER", BROWSER)
        .args(["auth", "login", "s", "--timeout", "30"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["logged_in"], true);
}

/// `whoami`'s claims, as the MCP server saw the request.
fn whoami(env: &TestEnv) -> (Value, String) {
    let output = env
        .cmd()
        .args(["-vv", "tools", "call", "s__whoami"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let printed = lines(&output.stdout);
    assert_eq!(printed.len(), 1);
    (printed[0]["structured_content"].clone(), stderr_of(&output))
}

fn stats(resource: &Peer) -> Value {
    let output = std::process::Command::new("curl")
        .args(["-s", &format!("{}/dpop-stats", resource.base())])
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn login_binds_the_tokens_to_a_stored_dpop_key_and_refreshes_keep_them_bound() {
    // Tokens live 10 s, inside the refresh margin: every command refreshes first.
    let issuer = oidc_provider(&["--access-ttl", "10"]);
    let resource = protected_echo_with(&issuer.url, &["--dpop"]);
    let env = TestEnv::new();
    config(&env, &resource.url, "");
    login(&env);
    let stored = entry(&env, &resource.url);
    assert_eq!(stored["dpop_key"]["alg"], "ES256");
    let private_key = stored["dpop_key"]["private_key"]
        .as_str()
        .unwrap()
        .to_string();
    let token = &stored["credentials"]["token_response"];
    assert_eq!(token["token_type"], "dpop");
    let first = token["access_token"].clone();

    let (claims, stderr) = whoami(&env);
    assert_eq!(claims["scheme"], "DPoP");
    assert_eq!(claims["aud"], resource.url);
    let jkt = claims["jkt"].as_str().unwrap().to_string();
    assert_eq!(jkt.len(), 43);
    assert!(!stderr.contains(&private_key), "{stderr}");

    // The refresh carried a proof of the same key: the new token is bound to it too.
    let refreshed = entry(&env, &resource.url);
    assert_ne!(
        refreshed["credentials"]["token_response"]["access_token"],
        first
    );
    assert_eq!(
        refreshed["credentials"]["token_response"]["token_type"],
        "dpop"
    );
    assert_eq!(refreshed["dpop_key"], stored["dpop_key"]);
    let (claims, _) = whoami(&env);
    assert_eq!(claims["jkt"], jkt.as_str());
    // Each with its own proof: server/discover, initialize, notifications/initialized,
    // tools/list, tools/call with a cold cache, then initialize, initialized, tools/call.
    assert_eq!(stats(&resource)["dpop_requests"], 8);
    assert_eq!(stats(&resource)["nonce_challenges"], 0);

    // `auth status` says nothing of the key.
    let output = env.cmd().args(["auth", "status", "s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&output.stdout).contains(&private_key));
}

#[test]
fn nonces_demanded_by_the_authorization_server_and_the_mcp_server_are_sent_on_retry() {
    let issuer = oidc_provider(&["--dpop-nonce"]);
    let resource = protected_echo_with(&issuer.url, &["--dpop-nonce"]);
    let env = TestEnv::new();
    config(&env, &resource.url, "");
    login(&env);
    assert_eq!(
        entry(&env, &resource.url)["credentials"]["token_response"]["token_type"],
        "dpop"
    );
    let (claims, _) = whoami(&env);
    assert_eq!(claims["scheme"], "DPoP");
    // The first request and the ping that learns the nonce are challenged; then the first
    // request again and the rest of the call (initialize, notifications/initialized,
    // tools/list, tools/call) carry the nonce, kept for the rest of the process.
    let seen = stats(&resource);
    assert_eq!(seen["nonce_challenges"], 2, "{seen}");
    assert_eq!(seen["dpop_requests"], 7, "{seen}");
}

#[test]
fn auto_keeps_bearer_tokens_for_an_mcp_server_that_does_not_offer_dpop() {
    // oidc-provider supports DPoP, protected_echo (without --dpop) only takes Bearer.
    let issuer = oidc_provider(&[]);
    let resource = protected_echo(&issuer.url);
    let env = TestEnv::new();
    config(&env, &resource.url, "");
    login(&env);
    let stored = entry(&env, &resource.url);
    assert_eq!(stored.get("dpop_key"), None);
    assert_eq!(
        stored["credentials"]["token_response"]["token_type"],
        "bearer"
    );
    let (claims, _) = whoami(&env);
    assert_eq!(claims.get("scheme"), None);
}

#[test]
fn dpop_never_opts_out_even_when_the_mcp_server_offers_it() {
    let issuer = oidc_provider(&[]);
    let resource = protected_echo_with(&issuer.url, &["--dpop"]);
    let env = TestEnv::new();
    config(&env, &resource.url, "    oauth:\n      dpop: never\n");
    login(&env);
    let stored = entry(&env, &resource.url);
    assert_eq!(stored.get("dpop_key"), None);
    let (claims, _) = whoami(&env);
    assert_eq!(claims.get("scheme"), None);
    assert_eq!(stats(&resource)["dpop_requests"], 0);
}

#[test]
fn an_unknown_dpop_setting_is_a_config_error() {
    let env = TestEnv::new();
    config(
        &env,
        "http://127.0.0.1:9/mcp",
        "    oauth:\n      dpop: sometimes\n",
    );
    let output = env.cmd().args(["auth", "status"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("mcp_servers.yaml:6:"), "{stderr}");
    assert!(stderr.contains("sometimes"), "{stderr}");
}

#[test]
fn the_client_credentials_grant_binds_its_token_when_the_mcp_server_offers_dpop() {
    let issuer = oidc_provider(&["--dpop-nonce"]);
    let resource = protected_echo_with(&issuer.url, &["--dpop"]);
    let env = TestEnv::new();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: s\n    url: {}\n    auth_type: client_credentials\n    oauth:\n      client_id: mcpchat-machine\n      client_secret: mcpchat-machine-secret\n      scopes: [mcp:tools]\n",
            resource.url
        ),
    );
    let (claims, _) = whoami(&env);
    assert_eq!(claims["scheme"], "DPoP");
    assert_eq!(claims["client_id"], "mcpchat-machine");
    let stored = entry(&env, &resource.url);
    assert_eq!(
        stored["credentials"]["token_response"]["token_type"],
        "dpop"
    );
    assert_eq!(stored["dpop_key"]["alg"], "ES256");
}
