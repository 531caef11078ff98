//! `auth` against real OAuth peers: mock-llm (DCR, PKCE, rotating refresh tokens), the
//! TypeScript SDK example server (confidential client), oauth2-mock-server (pre-registered
//! client, client credentials). `BROWSER="curl -s -L -o /dev/null"` completes a real loopback
//! flow, because these servers' /authorize redirects straight back.

use std::os::unix::fs::PermissionsExt;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

const BROWSER: &str = "curl -s -L -o /dev/null";

fn oauth_config(env: &TestEnv, name: &str, url: &str, extra: &str) {
    env.write(
        "mcp_servers.yaml",
        &format!("servers:\n  - name: {name}\n    url: {url}\n    auth_type: oauth\n{extra}"),
    );
}

fn login(env: &TestEnv, server: &str) -> std::process::Output {
    env.cmd()
        .env("BROWSER", BROWSER)
        .args(["auth", "login", server, "--timeout", "30"])
        .output()
        .unwrap()
}

fn store(env: &TestEnv) -> Value {
    serde_json::from_str(&std::fs::read_to_string(env.token_store()).unwrap()).unwrap()
}

/// The stored entry of the only server in the store.
fn entry(env: &TestEnv) -> Value {
    let store = store(env);
    let servers = store["servers"].as_object().unwrap();
    assert_eq!(servers.len(), 1, "{store}");
    servers.values().next().unwrap().clone()
}

fn access_token(env: &TestEnv) -> String {
    entry(env)["credentials"]["token_response"]["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn login_then_tools_with_the_stored_token_refresh_and_logout() {
    let env = TestEnv::new();
    let ml = mock_llm_oauth();
    oauth_config(&env, "ml", &ml.url, "");
    let mut transcript = String::new();
    let mut record = |output: &std::process::Output| {
        transcript.push_str(&String::from_utf8_lossy(&output.stdout));
        transcript.push_str(&String::from_utf8_lossy(&output.stderr));
    };

    // Before login: exit 3 with the hint, and no browser is opened.
    let output = env
        .cmd()
        .env("BROWSER", "false")
        .args(["tools", "list"])
        .output()
        .unwrap();
    record(&output);
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("hint: run: mcpchat auth login ml"),
        "{}",
        stderr_of(&output)
    );

    let output = login(&env, "ml");
    record(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let printed = lines(&output.stdout);
    assert_eq!(printed.len(), 1);
    let status = &printed[0];
    assert_eq!(status["type"], "auth");
    assert_eq!(status["server"], "ml");
    assert_eq!(status["logged_in"], true);
    assert_eq!(status["refreshable"], true);
    assert_eq!(status["scopes"], json!(["mcp:tools"]));
    assert_eq!(status["issuer"], format!("{}/", ml.base()));
    let authorize = stderr_of(&output);
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    assert!(
        authorize.contains("resource=http%3A%2F%2F127.0.0.1"),
        "{authorize}"
    );

    // The store: 0600 file in a 0700 directory, dynamic registration recorded.
    let path = env.token_store();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let stored = entry(&env);
    assert_eq!(stored["client"]["source"], "dynamic");
    let first_token = access_token(&env);

    // Tools with the stored token.
    let output = env
        .cmd()
        .args(["tools", "call", "ml__echo", "--arg", "text=hello"])
        .output()
        .unwrap();
    record(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["text"], "hello");

    // The server expires the token: the next command refreshes transparently (-vv logs too).
    assert_eq!(
        post_json(
            &format!("{}/oauth/expire", ml.base()),
            &json!({"token": first_token})
        ),
        204
    );
    let output = env
        .cmd()
        .args(["-vv", "tools", "call", "ml__echo", "--arg", "text=again"])
        .output()
        .unwrap();
    record(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["text"], "again");
    let second_token = access_token(&env);
    assert_ne!(
        first_token, second_token,
        "the token was refreshed and stored"
    );

    let output = env.cmd().args(["auth", "status"]).output().unwrap();
    record(&output);
    assert_eq!(lines(&output.stdout)[0]["logged_in"], true);

    // `auth token` prints exactly the current token (and nothing else).
    let output = env.cmd().args(["auth", "token", "ml"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{second_token}\n")
    );

    // Nothing secret was ever printed (except by `auth token`, which is not in the transcript).
    let stored = entry(&env);
    let secrets = [
        second_token.clone(),
        first_token.clone(),
        stored["credentials"]["token_response"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_string(),
        stored["client"]["client_secret"]
            .as_str()
            .expect("a confidential client")
            .to_string(),
    ];
    for secret in &secrets {
        assert!(
            !transcript.contains(secret.as_str()),
            "a secret leaked into the output:\n{transcript}"
        );
    }

    // Logout keeps the registration; --forget-client drops it.
    let output = env.cmd().args(["auth", "logout", "ml"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(lines(&output.stdout)[0]["logged_in"], false);
    assert!(entry(&env).get("credentials").is_none());
    assert_eq!(entry(&env)["client"]["source"], "dynamic");
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let output = env
        .cmd()
        .args(["auth", "logout", "--forget-client"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(store(&env)["servers"], json!({}));
}

#[test]
fn a_revoked_refresh_token_ends_in_exit_3_with_the_login_hint() {
    let env = TestEnv::new();
    let ml = mock_llm_oauth();
    oauth_config(&env, "ml", &ml.url, "");
    assert_eq!(login(&env, "ml").status.code(), Some(0));
    let refresh = entry(&env)["credentials"]["token_response"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        post_json(
            &format!("{}/oauth/revoke", ml.base()),
            &json!({"refresh_token": refresh})
        ),
        204
    );
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("hint: run: mcpchat auth login ml"));
}

#[test]
fn eight_processes_after_expiry_share_one_rotating_refresh_token() {
    let env = TestEnv::new();
    let ml = mock_llm_oauth();
    oauth_config(&env, "ml", &ml.url, "");
    assert_eq!(login(&env, "ml").status.code(), Some(0));
    assert_eq!(
        post_json(
            &format!("{}/oauth/expire", ml.base()),
            &json!({"token": access_token(&env)})
        ),
        204
    );
    let children: Vec<_> = (0..8)
        .map(|i| {
            env.std_cmd()
                .args(["tools", "call", "ml__echo", "--arg", &format!("text=p{i}")])
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
        assert_eq!(lines(&output.stdout)[0]["text"], format!("p{i}"));
    }
    // The store is whole and its token works.
    let output = env
        .cmd()
        .args(["tools", "call", "ml__echo", "--arg", "text=after"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

#[test]
fn a_callback_with_the_wrong_state_is_rejected() {
    let env = TestEnv::new();
    let ml = mock_llm_oauth();
    oauth_config(&env, "ml", &ml.url, "");
    // A "browser" that answers the callback with a forged state and records the status.
    let status_file = env.path("status");
    let script = env.write(
        "forge.sh",
        &format!(
            "#!/bin/sh\nredirect=$(printf '%s' \"$1\" | sed -n 's/.*redirect_uri=\\([^&]*\\).*/\\1/p' | sed 's/%3A/:/g; s/%2F/\\//g')\n\
             curl -s -o /dev/null -w '%{{http_code}}' \"$redirect?code=forged&state=not-the-state\" > {}\n",
            status_file.display()
        ),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = env
        .cmd()
        .env("BROWSER", script.to_str().unwrap())
        .args(["auth", "login", "ml", "--timeout", "3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("no authorization callback for MCP server `ml` within 3s"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(std::fs::read_to_string(&status_file).unwrap(), "400");
    assert!(
        !env.token_store().exists(),
        "nothing is stored by a login that did not finish"
    );
}

#[test]
fn a_callback_that_never_comes_times_out_with_exit_3() {
    let env = TestEnv::new();
    let ml = mock_llm_oauth();
    oauth_config(&env, "ml", &ml.url, "");
    let output = env
        .cmd()
        .args(["auth", "login", "ml", "--no-browser", "--timeout", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("open this URL in a browser"), "{stderr}");
    assert!(
        stderr.contains("mcpchat: error: no authorization callback for MCP server `ml` within 1s"),
        "{stderr}"
    );
}

#[test]
fn a_corrupt_store_is_exit_2_naming_the_file_and_left_untouched() {
    let env = TestEnv::new();
    let ml = mock_llm_oauth();
    oauth_config(&env, "ml", &ml.url, "");
    let path = env.token_store();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{not json").unwrap();
    for args in [vec!["tools", "list"], vec!["auth", "status"]] {
        let output = env.cmd().args(&args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr_of(&output)
        );
        assert!(
            stderr_of(&output).contains(&format!("the token store {} is corrupt", path.display())),
            "{}",
            stderr_of(&output)
        );
    }
    let output = login(&env, "ml");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
}

#[test]
fn the_sdk_example_server_keeps_its_confidential_client_across_logins() {
    let env = TestEnv::new();
    let (sdk, _auth_port) = sdk_oauth_server();
    oauth_config(&env, "sdk", &sdk.url, "");
    let output = login(&env, "sdk");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let first = entry(&env);
    let secret = first["client"]["client_secret"]
        .as_str()
        .expect("the client secret is stored")
        .to_string();
    // A new process uses the stored token.
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(
        lines(&output.stdout)
            .iter()
            .any(|l| l["name"] == "sdk__greet")
    );
    // Logging in again reuses the registration (same client, same secret).
    let output = login(&env, "sdk");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let second = entry(&env);
    assert_eq!(second["client"]["client_id"], first["client"]["client_id"]);
    assert_eq!(second["client"]["client_secret"], secret.as_str());
    assert!(!stderr_of(&output).contains(&secret));
}

#[test]
fn a_pre_registered_client_logs_in_without_registration() {
    let env = TestEnv::new();
    let issuer = oauth2_mock_server();
    let resource = protected_echo(&issuer.url);
    oauth_config(
        &env,
        "rs",
        &resource.url,
        "    oauth:\n      client_id: mcpchat-test\n      scopes: [mcp:tools]\n",
    );
    let output = login(&env, "rs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(entry(&env)["client"]["source"], "config");
    let output = env
        .cmd()
        .args(["tools", "call", "rs__whoami"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let who: Value =
        serde_json::from_str(lines(&output.stdout)[0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(who["client_id"], "mcpchat-test");
    assert_eq!(who["iss"], issuer.url.as_str());
}

#[test]
fn client_credentials_need_no_login() {
    let env = TestEnv::new();
    let issuer = oauth2_mock_server();
    let resource = protected_echo(&issuer.url);
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: ci\n    url: {}\n    auth_type: client_credentials\n    oauth:\n      client_id: ci-bot\n      client_secret: ${{CI_SECRET}}\n      scopes: [mcp:tools]\n",
            resource.url
        ),
    );
    let output = env
        .cmd()
        .env("CI_SECRET", "ci-very-secret-value")
        .args(["-vv", "tools", "call", "ci__whoami"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let who: Value =
        serde_json::from_str(lines(&output.stdout)[0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(who["client_id"], "ci-bot");
    assert!(!stderr_of(&output).contains("ci-very-secret-value"));
    let status = env
        .cmd()
        .env("CI_SECRET", "x")
        .args(["auth", "status", "ci"])
        .output()
        .unwrap();
    let line = &lines(&status.stdout)[0];
    assert_eq!(line["auth_type"], "client_credentials");
    assert_eq!(line["logged_in"], true);
}
