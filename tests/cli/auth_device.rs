//! `auth login --device` (RFC 8628) against oidc-provider with its device flow: the prompt on
//! stderr and as an `auth_prompt` line, the user's side done by an HTTP client filling the
//! server's forms (tests/peers/device_user.py), polling, denial and expiry, stored tokens.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

fn config(env: &TestEnv, url: &str) {
    env.write(
        "mcp_servers.yaml",
        &format!("servers:\n  - name: s\n    url: {url}\n    auth_type: oauth\n"),
    );
}

/// Start `auth login` and read its first stdout line (the prompt) while it waits.
fn start_login(env: &TestEnv, args: &[&str]) -> (Child, Value) {
    let mut child = env
        .std_cmd()
        .args(["auth", "login", "s", "--timeout", "60"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let prompt = lines(line.as_bytes()).remove(0);
    (child, prompt)
}

/// The rest of the login's stdout lines, its stderr, and its exit code.
fn finish_login(mut child: Child) -> (Vec<Value>, String, Option<i32>) {
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let (code, stderr) = wait_with_stderr(&mut child);
    (lines(&stdout), stderr, code)
}

/// The user opens the verification page, enters the code and confirms (or aborts).
fn user(prompt: &Value, deny: bool) {
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(repo().join("tests/peers/device_user.py"))
        .arg(prompt["verification_uri"].as_str().unwrap())
        .arg(prompt["user_code"].as_str().unwrap());
    if deny {
        cmd.arg("--deny");
    }
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr_of(&output)
    );
}

#[test]
fn without_a_browser_login_uses_the_device_flow_and_stores_working_tokens() {
    // No BROWSER and no DISPLAY in the test environment: the server offers the device grant.
    let issuer = oidc_provider(&["--access-ttl", "10"]);
    let resource = protected_echo(&issuer.url);
    let env = TestEnv::new();
    config(&env, &resource.url);
    let (child, prompt) = start_login(&env, &[]);
    assert_eq!(prompt["type"], "auth_prompt");
    assert_eq!(prompt["server"], "s");
    assert_eq!(prompt["flow"], "device");
    assert_eq!(prompt["verification_uri"], format!("{}/device", issuer.url));
    let code = prompt["user_code"].as_str().unwrap();
    assert_eq!(
        prompt["verification_uri_complete"],
        format!("{}/device?user_code={code}", issuer.url)
    );
    assert_eq!(prompt["expires_in"], 600);
    user(&prompt, false);
    let (printed, stderr, code_) = finish_login(child);
    assert_eq!(code_, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("and enter the code: {code}")),
        "{stderr}"
    );
    assert_eq!(printed.len(), 1);
    assert_eq!(printed[0]["type"], "auth");
    assert_eq!(printed[0]["logged_in"], true);
    assert_eq!(printed[0]["refreshable"], true);

    // Stored like the browser flow's: the client, its method, the resource; the token works
    // and refreshes (it lives 10 s, inside the refresh margin).
    let store: Value =
        serde_json::from_str(&std::fs::read_to_string(env.token_store()).unwrap()).unwrap();
    let entry = store["servers"][&resource.url].clone();
    assert_eq!(entry["client"]["source"], "dynamic");
    assert_eq!(
        entry["client"]["token_endpoint_auth_method"],
        "client_secret_post"
    );
    assert_eq!(entry["resource"], resource.url);
    let first = entry["credentials"]["token_response"]["access_token"].clone();
    let output = env
        .cmd()
        .args(["tools", "call", "s__whoami"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let claims = lines(&output.stdout)[0]["structured_content"].clone();
    assert_eq!(claims["aud"], resource.url);
    assert_eq!(claims["client_id"], entry["client"]["client_id"]);
    let store: Value =
        serde_json::from_str(&std::fs::read_to_string(env.token_store()).unwrap()).unwrap();
    assert_ne!(
        store["servers"][&resource.url]["credentials"]["token_response"]["access_token"],
        first
    );
}

#[test]
fn a_denied_device_login_is_exit_3_and_stores_no_token() {
    let issuer = oidc_provider(&[]);
    let resource = protected_echo(&issuer.url);
    let env = TestEnv::new();
    config(&env, &resource.url);
    // --device even though a "browser" is configured.
    let (child, prompt) = start_login(&env, &["--device"]);
    assert_eq!(prompt["type"], "auth_prompt");
    user(&prompt, true);
    let (printed, stderr, code) = finish_login(child);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(printed.is_empty(), "{printed:?}");
    assert!(stderr.contains("access_denied"), "{stderr}");
    assert!(
        stderr.contains("hint: run it again: mcpchat auth login --device s"),
        "{stderr}"
    );
    assert!(
        !env.token_store().exists() || {
            let store = std::fs::read_to_string(env.token_store()).unwrap();
            !store.contains("access_token")
        }
    );
}

#[test]
fn a_device_code_that_expires_unapproved_is_exit_3() {
    let issuer = oidc_provider(&["--device-ttl", "2"]);
    let resource = protected_echo(&issuer.url);
    let env = TestEnv::new();
    config(&env, &resource.url);
    let (child, prompt) = start_login(&env, &["--device"]);
    assert_eq!(prompt["expires_in"], 2);
    let (printed, stderr, code) = finish_login(child);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(printed.is_empty(), "{printed:?}");
    assert!(
        stderr.contains("the device login for MCP server `s` was not approved within 2s"),
        "{stderr}"
    );
}

#[test]
fn device_login_needs_a_server_that_offers_it() {
    // mock-llm has no device authorization endpoint.
    let peer = mock_llm_oauth();
    let env = TestEnv::new();
    config(&env, &peer.url);
    let output = env
        .cmd()
        .args(["auth", "login", "s", "--device"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert!(lines(&output.stdout).is_empty());
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("offers no device authorization (no device_authorization_endpoint)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: log in with a browser: mcpchat auth login s"),
        "{stderr}"
    );
}

#[test]
fn a_device_login_binds_the_tokens_to_a_dpop_key_when_the_mcp_server_offers_dpop() {
    let issuer = oidc_provider(&["--dpop-nonce"]);
    let resource = protected_echo_with(&issuer.url, &["--dpop"]);
    let env = TestEnv::new();
    config(&env, &resource.url);
    let (child, prompt) = start_login(&env, &["--device"]);
    user(&prompt, false);
    let (_, stderr, code) = finish_login(child);
    assert_eq!(code, Some(0), "{stderr}");
    // The polls carried proofs (with oidc-provider's nonce, after its use_dpop_nonce).
    let store: Value =
        serde_json::from_str(&std::fs::read_to_string(env.token_store()).unwrap()).unwrap();
    let entry = &store["servers"][&resource.url];
    assert_eq!(entry["credentials"]["token_response"]["token_type"], "dpop");
    assert_eq!(entry["dpop_key"]["alg"], "ES256");
    let output = env
        .cmd()
        .args(["tools", "call", "s__whoami"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        lines(&output.stdout)[0]["structured_content"]["scheme"],
        "DPoP"
    );
}
