//! HTTP_PROXY / HTTPS_PROXY / NO_PROXY, through a real forward proxy (Debian's tinyproxy, whose
//! log shows each request line): MCP requests, OAuth discovery/registration/token requests and
//! model API requests all go through it; HTTPS goes through CONNECT; NO_PROXY bypasses it.

use pretty_assertions::assert_eq;

use crate::support::*;

#[test]
fn mcp_oauth_and_model_api_requests_go_through_the_proxy() {
    if skipped("proxy") {
        return;
    }
    let env = TestEnv::new();
    let log = env.dir.path().join("tinyproxy.log");
    let proxy = tinyproxy(&log);
    let ml = mock_llm_oauth();
    let llm = fakellm();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: ml\n    url: {}\n    auth_type: oauth\n",
            ml.url
        ),
    );
    let cmd = |args: &[&str]| {
        env.cmd()
            .env("HTTP_PROXY", &proxy.url)
            .env("BROWSER", "curl -s -L -o /dev/null")
            .env("OPENAI_API_KEY", "sk-test-key-123456")
            .env("OPENAI_BASE_URL", &llm.url)
            .args(args)
            .output()
            .unwrap()
    };
    let output = cmd(&["auth", "login", "ml", "--timeout", "30"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let output = cmd(&["tools", "call", "ml__echo", "--arg", "text=via proxy"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["text"], "via proxy");
    let output = cmd(&["ask", "what tools do you have"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));

    let requests = proxied_requests(&log);
    let base = ml.base();
    for expected in [
        format!("GET {base}/.well-known/oauth-protected-resource/mcp"),
        format!("GET {base}/.well-known/oauth-authorization-server"),
        format!("POST {base}/register"),
        format!("POST {base}/token"),
        format!("POST {}", ml.url),
        format!("POST {}/chat/completions", llm.url),
    ] {
        assert!(
            requests.contains(&expected),
            "`{expected}` did not go through the proxy: {requests:#?}"
        );
    }

    // NO_PROXY: the same commands go direct. DELETEs are left out of the count: the previous
    // command's DELETE can reach the proxy's log after that command exits (it waits 1 s for its
    // DELETE, which a loaded machine can outlast).
    let sent = |log: &std::path::Path| -> Vec<String> {
        let requests = proxied_requests(log);
        requests
            .into_iter()
            .filter(|r| !r.starts_with("DELETE "))
            .collect()
    };
    let before = sent(&log).len();
    let output = env
        .cmd()
        .env("HTTP_PROXY", &proxy.url)
        .env("NO_PROXY", "127.0.0.1")
        .args(["tools", "call", "ml__echo", "--arg", "text=direct"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(sent(&log)[before..], [] as [String; 0]);
}

#[test]
fn https_goes_through_the_proxy_with_connect() {
    if skipped("proxy") {
        return;
    }
    let env = TestEnv::new();
    let log = env.dir.path().join("tinyproxy.log");
    let proxy = tinyproxy(&log);
    let (ca, cert, key) = private_ca(env.dir.path());
    let everything = everything_http();
    let front = tls_front(&cert, &key, everything.port);
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: ev\n    url: {}/mcp\n    ca_file: {}\n",
            front.url,
            ca.display()
        ),
    );
    let output = env
        .cmd()
        .env("HTTPS_PROXY", &proxy.url)
        .args(["tools", "call", "ev__echo", "--arg", "message=tunnelled"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(lines(&output.stdout)[0]["text"], "Echo: tunnelled");
    let connect = format!("CONNECT 127.0.0.1:{}", front.port);
    assert!(
        proxied_requests(&log).contains(&connect),
        "{:#?}",
        proxied_requests(&log)
    );
}
