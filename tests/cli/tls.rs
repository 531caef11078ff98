//! TLS with a private CA (made with openssl per test): `ca_file` for an MCP server, for its
//! OAuth endpoints, and `llm.ca_file` for the model API; an untrusted certificate is exit 4
//! with a hint about the CA, never "is the server running?".

use pretty_assertions::assert_eq;

use crate::support::*;

#[test]
fn an_mcp_server_with_a_private_ca_needs_its_ca_file() {
    if skipped("tls") {
        return;
    }
    let env = TestEnv::new();
    let (ca, cert, key) = private_ca(env.dir.path());
    let everything = everything_http();
    let front = tls_front(&cert, &key, everything.port);
    let url = format!("{}/mcp", front.url);

    env.write(
        "mcp_servers.yaml",
        &format!("servers:\n  - name: ev\n    url: {url}\n"),
    );
    let output = env.cmd().args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("the TLS certificate of MCP server `ev`")
            && stderr.contains("is not trusted"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: if the server uses a private CA, trust it with `ca_file"),
        "{stderr}"
    );
    assert!(!stderr.contains("is the server running?"), "{stderr}");

    // The CA file is relative to the config file.
    std::fs::copy(&ca, env.path("ca.pem")).unwrap();
    env.write(
        "mcp_servers.yaml",
        &format!("servers:\n  - name: ev\n    url: {url}\n    ca_file: ca.pem\n"),
    );
    let output = env
        .cmd()
        .args(["tools", "call", "ev__echo", "--arg", "message=over tls"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["text"], "Echo: over tls");
}

#[test]
fn oauth_login_and_refresh_over_tls_use_the_servers_ca_file() {
    if skipped("tls") {
        return;
    }
    let env = TestEnv::new();
    let (ca, cert, key) = private_ca(env.dir.path());
    let peer = python_oauth_tls(&cert, &key);
    assert!(peer.url.starts_with("https://127.0.0.1:"), "{}", peer.url);
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: s\n    url: {}\n    auth_type: oauth\n    ca_file: {}\n",
            peer.url,
            ca.display()
        ),
    );
    // The "browser" (curl) trusts the CA too; mcpchat's requests use ca_file alone.
    let browser = format!("curl -s -L --cacert {} -o /dev/null", ca.display());
    let output = env
        .cmd()
        .env("BROWSER", &browser)
        .args(["auth", "login", "s", "--timeout", "30"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let output = env
        .cmd()
        .args(["tools", "call", "s__whoami"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(
        lines(&output.stdout)[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("client_id="),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn the_model_api_with_a_private_ca_needs_llm_ca_file() {
    if skipped("tls") {
        return;
    }
    let env = TestEnv::new();
    let (ca, cert, key) = private_ca(env.dir.path());
    let llm = fakellm();
    let front = tls_front(&cert, &key, llm.port);
    let ask = |config: &str| {
        env.write("mcp_servers.yaml", config);
        env.cmd()
            .env("OPENAI_API_KEY", "sk-test-key-123456")
            .env("OPENAI_BASE_URL", format!("{}/v1", front.url))
            .args(["ask", "what tools do you have"])
            .output()
            .unwrap()
    };
    let output = ask("servers: []\n");
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("the TLS certificate of the model API"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: if the server uses a private CA"),
        "{stderr}"
    );
    let result = lines(&output.stdout).pop().unwrap();
    assert_eq!(result["status"], "error");

    let output = ask(&format!("servers: []\nllm:\n  ca_file: {}\n", ca.display()));
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let result = lines(&output.stdout).pop().unwrap();
    assert_eq!(result["status"], "success");
}
