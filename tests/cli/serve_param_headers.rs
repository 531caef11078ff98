//! `mcpchat serve --listen` checks a 2026-07-28 host's `Mcp-Param-*` headers (SEP-2243)
//! against the body, for a tool whose schema annotates an argument with `x-mcp-header`, as
//! the official conformance scenario `http-custom-header-server-validation` does (the fake
//! upstream `tests/fakes/param_header_upstream.py` writes down every message it gets).

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::serve_http::{Served, curl};
use crate::support::*;

/// A stateless 2026-07-28 request's `_meta`.
fn meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
           "io.modelcontextprotocol/clientCapabilities": {}})
}

/// `tools/call locate {region: us-east}` with the `Mcp-Param-Region` header given (or none).
fn locate(url: &str, header: Option<&str>) -> (u16, String) {
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "locate", "arguments": {"region": "us-east"},
                                 "_meta": meta()}});
    let param = header.map(|value| format!("Mcp-Param-Region: {value}"));
    let mut headers = vec![
        "MCP-Protocol-Version: 2026-07-28",
        "Mcp-Method: tools/call",
        "Mcp-Name: locate",
    ];
    headers.extend(param.as_deref());
    curl(url, &headers, &body)
}

/// The `tools/call` requests that reached the upstream.
fn calls(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| serde_json::from_str::<Value>(line).unwrap()["method"] == "tools/call")
        .count()
}

/// The JSON-RPC error of a 400 answer.
fn error_of(body: &str) -> Value {
    serde_json::from_str::<Value>(body).unwrap()["error"].clone()
}

#[test]
fn a_mcp_param_header_that_disagrees_with_the_body_gets_400_and_never_reaches_the_upstream() {
    let env = TestEnv::new();
    let log = env.path("upstream.log");
    let upstream = format!(
        "up=python3 {} {}",
        repo()
            .join("tests/fakes/param_header_upstream.py")
            .display(),
        log.display()
    );
    let served = Served::start(&env, &["--stdio", &upstream], "127.0.0.1:0", &[]);
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
                      "params": {"_meta": meta()}});
    let headers = ["MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/list"];
    let (status, body) = curl(&served.url, &headers, &list);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""x-mcp-header":"Region""#), "{body}");

    let (status, body) = locate(&served.url, Some("us-east"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""text":"region us-east""#), "{body}");
    assert_eq!(calls(&log), 1);

    let (status, body) = locate(&served.url, Some("eu-west"));
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        error_of(&body),
        json!({"code": -32020,
               "message": "Mcp-Param-Region header `eu-west` does not match body value `us-east`"})
    );
    // Base64 that is not canonical (missing padding) is refused, not read as literal text.
    let (status, body) = locate(&served.url, Some("=?base64?dXMtZWFzdA?="));
    assert_eq!(
        (status, error_of(&body)["code"].clone()),
        (400, json!(-32020))
    );
    let (status, body) = locate(&served.url, None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        error_of(&body),
        json!({"code": -32020, "message": "missing Mcp-Param-Region header for `region`"})
    );
    assert_eq!(calls(&log), 1, "a refused call reached the upstream");

    let (code, _) = served.stop();
    assert_eq!(code, Some(130));
}
