//! Reading a server's `WWW-Authenticate` challenge before logging in (RFC 9728 discovery
//! starts from it).

use std::time::Duration;

/// An unauthenticated initialize, to read the server's `WWW-Authenticate` challenge.
pub(super) async fn probe_challenge(
    http: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
) -> Option<String> {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "mcpchat", "version": env!("CARGO_PKG_VERSION")}}
    });
    let mut request = http
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&body)
        .timeout(Duration::from_secs(30));
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("authorization") {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.ok()?;
    if let Some(challenge) = bearer_challenge(&response) {
        return Some(challenge);
    }
    // Some servers let `initialize` through and challenge the first real request.
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let _ = response.bytes().await;
    let list = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    let mut request = http
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&list)
        .timeout(Duration::from_secs(30));
    if let Some(session) = &session {
        request = request.header("Mcp-Session-Id", session);
    }
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("authorization") {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.ok()?;
    let challenge = bearer_challenge(&response);
    if let Some(session) = session {
        let _ = http
            .delete(url)
            .header("Mcp-Session-Id", session)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
    }
    challenge
}

fn bearer_challenge(response: &reqwest::Response) -> Option<String> {
    if response.status() != reqwest::StatusCode::UNAUTHORIZED
        && response.status() != reqwest::StatusCode::FORBIDDEN
    {
        return None;
    }
    response
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.to_ascii_lowercase().starts_with("bearer"))
        .map(str::to_string)
}
