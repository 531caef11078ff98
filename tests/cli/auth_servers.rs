//! Login and refresh against independent authorization servers: mock-llm's, oidc-provider (a
//! certified OpenID provider, in front of tests/peers/protected_echo.py) and the Python MCP SDK's
//! built-in one. The Python SDK holds a client to the `token_endpoint_auth_method` it registered,
//! mock-llm refuses HTTP Basic, oidc-provider refuses a confidential client without its secret.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// Follows redirects and keeps cookies (oidc-provider's interactions need its session cookie).
const BROWSER: &str = "curl -s -L -b /dev/null -o /dev/null";

fn config(env: &TestEnv, url: &str, extra: &str) {
    env.write(
        "mcp_servers.yaml",
        &format!("servers:\n  - name: s\n    url: {url}\n    auth_type: oauth\n{extra}"),
    );
}

/// The one stored entry (its secrets from the keychain when the env uses it).
fn entry(env: &TestEnv) -> Value {
    let store = env.stored();
    let servers = store["servers"].as_object().unwrap();
    assert_eq!(servers.len(), 1, "{store}");
    servers.values().next().unwrap().clone()
}

fn tokens(env: &TestEnv) -> (String, String) {
    let token = &entry(env)["credentials"]["token_response"];
    (
        token["access_token"].as_str().unwrap().to_string(),
        token["refresh_token"].as_str().unwrap().to_string(),
    )
}

fn login(env: &TestEnv) -> std::process::Output {
    env.cmd()
        .env("BROWSER", BROWSER)
        .args(["auth", "login", "s", "--timeout", "30"])
        .output()
        .unwrap()
}

fn call(env: &TestEnv, tool: &str) -> Value {
    let output = env.cmd().args(["tools", "call", tool]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let printed = lines(&output.stdout);
    assert_eq!(printed.len(), 1);
    printed[0].clone()
}

/// Login, a call, the server invalidating the token (`expire`), a call that refreshes, and
/// `auth token` printing the refreshed token. Returns the stored entry.
fn login_call_refresh_call(env: &TestEnv, tool: &str, expire: impl Fn(&str)) -> Value {
    let output = login(env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let status = &lines(&output.stdout)[0];
    assert_eq!(status["logged_in"], true);
    assert_eq!(status["refreshable"], true);
    let stored = entry(env);
    assert_eq!(stored["client"]["source"], "dynamic");
    assert_eq!(
        stored["client"]["token_endpoint_auth_method"],
        "client_secret_post"
    );
    assert!(stored["client"]["client_secret"].is_string(), "{stored}");

    let result = call(env, tool);
    assert_eq!(result["is_error"], false, "{result}");
    let (access, refresh) = tokens(env);
    expire(&access);
    let result = call(env, tool);
    assert_eq!(result["is_error"], false, "{result}");
    let (new_access, new_refresh) = tokens(env);
    assert_ne!(new_access, access, "the token was refreshed");
    assert_ne!(new_refresh, refresh, "the refresh token rotated");

    // `auth token` prints the stored token (refreshed first when it is about to expire).
    let output = env.cmd().args(["auth", "token", "s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{}\n", tokens(env).0)
    );
    entry(env)
}

/// A test that runs once with the store file and once with the OS keychain.
macro_rules! both_stores {
    ($file:ident, $keychain:ident, $body:ident) => {
        #[test]
        fn $file() {
            $body(TestEnv::new());
        }

        #[test]
        fn $keychain() {
            if let Some(env) = TestEnv::with_keychain() {
                $body(env);
            }
        }
    };
}

both_stores!(
    login_and_refresh_work_with_the_python_sdks_authorization_server,
    login_and_refresh_work_with_the_python_sdks_authorization_server_and_the_keychain,
    login_and_refresh_with_the_python_sdk
);

fn login_and_refresh_with_the_python_sdk(env: TestEnv) {
    // It lists client_secret_post and client_secret_basic and holds the client to the one it
    // registered: HTTP Basic here was `invalid_client: Missing client_id` (issue 13).
    let peer = python_oauth();
    config(&env, &peer.url, "");
    let stored = login_call_refresh_call(&env, "s__whoami", |token| {
        assert_eq!(
            post_json(
                &format!("{}/test/expire", peer.base()),
                &json!({"token": token})
            ),
            204
        );
    });
    let text = call(&env, "s__whoami")["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        text,
        format!(
            "client_id={} scopes=mcp:tools",
            stored["client"]["client_id"].as_str().unwrap()
        )
    );
}

both_stores!(
    login_and_refresh_work_with_oidc_provider,
    login_and_refresh_work_with_oidc_provider_and_the_keychain,
    login_and_refresh_with_oidc_provider
);

fn login_and_refresh_with_oidc_provider(env: TestEnv) {
    // Access tokens live 10 s, inside the refresh margin: every command refreshes first.
    let issuer = oidc_provider(&["--access-ttl", "10"]);
    let resource = protected_echo(&issuer.url);
    config(&env, &resource.url, "");
    let stored = login_call_refresh_call(&env, "s__whoami", |_| {});
    assert_eq!(stored["issuer"], issuer.url);
    let claims = call(&env, "s__whoami")["structured_content"].clone();
    assert_eq!(claims["iss"], issuer.url);
    assert_eq!(claims["aud"], resource.url);
    assert_eq!(claims["client_id"], stored["client"]["client_id"]);
    assert_eq!(claims["scope"], "mcp:tools");
}

#[test]
fn login_and_refresh_work_with_mock_llms_authorization_server() {
    let env = TestEnv::new();
    let peer = mock_llm_oauth();
    config(&env, &peer.url, "");
    login_call_refresh_call(&env, "s__echo_headers", |token| {
        assert_eq!(
            post_json(
                &format!("{}/oauth/expire", peer.base()),
                &json!({"token": token})
            ),
            204
        );
    });
}

#[test]
fn a_pre_registered_client_authenticates_the_way_the_config_says() {
    // oidc-provider's seeded client is registered for client_secret_basic.
    let issuer = oidc_provider(&[]);
    let resource = protected_echo(&issuer.url);
    let client =
        "    oauth:\n      client_id: mcpchat-pre\n      client_secret: mcpchat-pre-secret\n";

    // Unset: the server offers Basic, the RFC 6749 default.
    let env = TestEnv::new();
    config(&env, &resource.url, client);
    let output = login(&env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        entry(&env)["client"]["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert_eq!(
        call(&env, "s__whoami")["structured_content"]["client_id"],
        "mcpchat-pre"
    );

    // `none`: no secret is sent, and the server refuses the confidential client.
    let env = TestEnv::new();
    config(
        &env,
        &resource.url,
        &format!("{client}      token_endpoint_auth_method: none\n"),
    );
    let output = login(&env);
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("invalid_client"),
        "{}",
        stderr_of(&output)
    );
    assert!(!stderr_of(&output).contains("mcpchat-pre-secret"));
}

#[test]
fn a_pre_registered_client_set_to_basic_sends_the_header() {
    // mock-llm's seeded confidential client; mock-llm takes client_secret_post only.
    let peer = mock_llm_oauth();
    let client =
        "    oauth:\n      client_id: mcpchat-confidential\n      client_secret: mcpchat-secret\n";
    let env = TestEnv::new();
    config(&env, &peer.url, client);
    let output = login(&env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        entry(&env)["client"]["token_endpoint_auth_method"],
        "client_secret_post"
    );

    let env = TestEnv::new();
    config(
        &env,
        &peer.url,
        &format!("{client}      token_endpoint_auth_method: client_secret_basic\n"),
    );
    let output = login(&env);
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("the token exchange failed"),
        "{}",
        stderr_of(&output)
    );
}

both_stores!(
    eight_processes_refreshing_at_oidc_provider_never_reuse_a_rotated_refresh_token,
    eight_processes_refreshing_with_the_keychain_never_reuse_a_rotated_refresh_token,
    eight_processes_refreshing
);

fn eight_processes_refreshing(env: TestEnv) {
    // Tokens live 10 s, so every process refreshes; oidc-provider rotates refresh tokens and
    // revokes the whole grant when a used one comes back, so one reuse fails everything after.
    let issuer = oidc_provider(&["--access-ttl", "10"]);
    let resource = protected_echo(&issuer.url);
    config(&env, &resource.url, "");
    let output = login(&env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let children: Vec<_> = (0..8)
        .map(|_| {
            env.std_cmd()
                .args(["tools", "call", "s__whoami"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "process {i}: {}",
            stderr_of(&output)
        );
    }
    // The grant is still alive: one more refresh and call work.
    let result = call(&env, "s__whoami");
    assert_eq!(result["structured_content"]["sub"], "user");
}

/// POST a form to `url`; the status and the body.
fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "-X", "POST"]);
    for (k, v) in form {
        cmd.arg("--data-urlencode").arg(format!("{k}={v}"));
    }
    let output = cmd.arg(url).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (
        status.parse().unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// A refresh at the token endpoint with the stored client (client_secret_post).
fn refresh_with(stored: &Value, refresh: &str) -> (u16, Value) {
    post_form(
        stored["metadata"]["token_endpoint"].as_str().unwrap(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", stored["client"]["client_id"].as_str().unwrap()),
            (
                "client_secret",
                stored["client"]["client_secret"].as_str().unwrap(),
            ),
        ],
    )
}

both_stores!(
    logout_revokes_the_refresh_token_at_oidc_provider,
    logout_revokes_the_refresh_token_kept_in_the_keychain,
    logout_revokes
);

fn logout_revokes(env: TestEnv) {
    let issuer = oidc_provider(&[]);
    let resource = protected_echo(&issuer.url);
    config(&env, &resource.url, "");
    let output = login(&env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stored = entry(&env);
    assert!(
        stored["metadata"]["revocation_endpoint"].is_string(),
        "{stored}"
    );
    let (_, refresh) = tokens(&env);

    let output = env.cmd().args(["auth", "logout", "s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(stderr_of(&output), "");
    let printed = lines(&output.stdout);
    assert_eq!(printed.len(), 1);
    assert_eq!(printed[0]["revoked"], true);
    assert_eq!(printed[0]["logged_in"], false);
    assert!(entry(&env)["credentials"].is_null());
    if let Some(keychain) = &env.keychain {
        // Only the client secret is left in the keychain.
        let url = env.stored()["servers"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        assert_eq!(
            keychain.secrets(&url),
            Some(json!({"client_secret": stored["client"]["client_secret"]}))
        );
    }

    let (status, body) = refresh_with(&stored, &refresh);
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
}

#[test]
fn logout_still_forgets_the_tokens_when_revocation_fails() {
    let env = TestEnv::new();
    let issuer = oidc_provider(&[]);
    let resource = protected_echo(&issuer.url);
    config(&env, &resource.url, "");
    let output = login(&env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    drop(issuer);

    let output = env.cmd().args(["auth", "logout", "s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert!(
        stderr.starts_with(
            "mcpchat: warning: OAuth for MCP server `s`: could not revoke the refresh_token at "
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: the local tokens are forgotten all the same"),
        "{stderr}"
    );
    let printed = lines(&output.stdout);
    assert_eq!(printed[0]["revoked"], false);
    assert_eq!(printed[0]["logged_in"], false);
    assert!(entry(&env)["credentials"].is_null());
}

#[test]
fn without_a_running_keychain_the_file_store_is_used_after_one_warning() {
    let env = TestEnv::new();
    let issuer = oidc_provider(&[]);
    let resource = protected_echo(&issuer.url);
    config(&env, &resource.url, "token_store: keychain\n");
    let output = env
        .cmd()
        .env("BROWSER", BROWSER)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .args(["auth", "login", "s", "--timeout", "30"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert_eq!(stderr.matches("mcpchat: warning:").count(), 1, "{stderr}");
    assert!(
        stderr
            .starts_with("mcpchat: warning: token_store is keychain, but no OS keychain answers ("),
        "{stderr}"
    );
    assert_eq!(lines(&output.stdout)[0]["logged_in"], true);
    // The tokens went to the file.
    assert!(entry(&env)["credentials"]["token_response"]["refresh_token"].is_string());
}
