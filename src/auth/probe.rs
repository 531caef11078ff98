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

/// The `Bearer` and `DPoP` challenges of a 401/403, joined (a server that offers both may send
/// them as one header or as two; `auth::dpop::demanded` reads the scheme from this).
fn bearer_challenge(response: &reqwest::Response) -> Option<String> {
    if response.status() != reqwest::StatusCode::UNAUTHORIZED
        && response.status() != reqwest::StatusCode::FORBIDDEN
    {
        return None;
    }
    let challenges: Vec<&str> = response
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| {
            let v = v.to_ascii_lowercase();
            v.starts_with("bearer") || v.starts_with("dpop")
        })
        .collect();
    (!challenges.is_empty()).then(|| challenges.join(", "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn response(status: u16, challenges: &[&str]) -> reqwest::Response {
        let mut builder = oauth2::http::Response::builder().status(status);
        for challenge in challenges {
            builder = builder.header("WWW-Authenticate", *challenge);
        }
        reqwest::Response::from(builder.body(Vec::<u8>::new()).unwrap())
    }

    #[test]
    fn bearer_and_dpop_challenges_are_both_kept() {
        let both = bearer_challenge(&response(
            401,
            &[
                r#"Bearer resource_metadata="http://a/prm""#,
                r#"Basic realm="x""#,
                r#"DPoP algs="ES256""#,
            ],
        ))
        .unwrap();
        assert_eq!(
            both,
            r#"Bearer resource_metadata="http://a/prm", DPoP algs="ES256""#
        );
        assert!(crate::auth::dpop::demanded(&both));
        let dpop_only = bearer_challenge(&response(
            401,
            &[r#"DPoP resource_metadata="http://a/prm""#],
        ));
        assert_eq!(
            dpop_only.as_deref(),
            Some(r#"DPoP resource_metadata="http://a/prm""#)
        );
        assert_eq!(bearer_challenge(&response(200, &["Bearer"])), None);
        assert_eq!(
            bearer_challenge(&response(401, &[r#"Basic realm="x""#])),
            None
        );
    }
}
