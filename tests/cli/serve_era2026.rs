//! `mcpchat serve --listen` and 2026-07-28 hosts (stateless, they cannot be sent requests):
//! an upstream's input requests reach them as `input_required` results with serve's own
//! `requestState` (a tampered or replayed one is refused and reaches no upstream), whether the
//! upstream speaks 2026-07-28 (its own `input_required`, over HTTP) or 2025-11-25 (real
//! requests, over stdio); `subscriptions/listen` carries an upstream's list changes. The
//! upstream is the in-repo conformance upstream (tests/conformance/upstream.py, Python SDK).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::serve_http::{Served, curl};
use crate::support::host::answer_in;
use crate::support::*;

/// The conformance upstream over Streamable HTTP (both eras; serve speaks 2026-07-28 to it);
/// killed by its PID on drop.
struct Upstream {
    child: Child,
    url: String,
}

impl Upstream {
    fn start() -> Upstream {
        let mut child = Command::new(venv_bin("python"))
            .arg(repo().join("tests/conformance/upstream.py"))
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the conformance upstream");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the upstream prints its port");
        Upstream {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The upstream over stdio: it speaks 2025-11-25 to serve and sends real requests.
fn stdio_upstream() -> String {
    format!(
        "up={} {} stdio",
        venv_bin("python").display(),
        repo().join("tests/conformance/upstream.py").display()
    )
}

/// A stateless 2026-07-28 request's `_meta`, the host declaring `capabilities`.
fn meta(capabilities: Value) -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
           "io.modelcontextprotocol/clientInfo": {"name": "test-host", "version": "1"},
           "io.modelcontextprotocol/clientCapabilities": capabilities})
}

/// One 2026-07-28 request through serve; its JSON-RPC answer (the last `data:` of an SSE
/// body, or the JSON body).
fn request(url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let mut headers = vec![
        "MCP-Protocol-Version: 2026-07-28".to_string(),
        format!("Mcp-Method: {method}"),
    ];
    if let Some(name) = params["name"].as_str() {
        headers.push(format!("Mcp-Name: {name}"));
    }
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let (status, text) = curl(url, &headers, &body);
    assert_eq!(status, 200, "{text}");
    answer_in(&text)
}

fn call(url: &str, tool: &str, arguments: Value, more: Value) -> Value {
    let mut params = json!({"name": tool, "arguments": arguments,
                            "_meta": meta(json!({"elicitation": {}}))});
    for (key, value) in more.as_object().unwrap() {
        params[key] = value.clone();
    }
    request(url, "tools/call", params)
}

#[test]
fn a_2026_upstreams_input_required_reaches_the_host_under_serves_own_state() {
    let env = TestEnv::new();
    let upstream = Upstream::start();
    let served = Served::start(&env, &[], "127.0.0.1:0", &["--url", &upstream.url]);
    let tool = "test_input_required_result_request_state";

    let first = call(&served.url, tool, json!({}), json!({}))["result"].clone();
    assert_eq!(first["resultType"], "input_required", "{first}");
    assert_eq!(
        first["inputRequests"]["confirm"]["method"], "elicitation/create",
        "{first}"
    );
    let state = first["requestState"].as_str().unwrap().to_string();
    assert_ne!(
        state, "confirm-pending",
        "the upstream's own state left serve"
    );

    let answer = json!({"confirm": {"action": "accept", "content": {"ok": true}}});
    let tampered = json!({"inputResponses": answer, "requestState": format!("{state}-TAMPERED")});
    let refused = call(&served.url, tool, json!({}), tampered);
    assert_eq!(refused["error"]["code"], -32602, "{refused}");

    let retry = json!({"inputResponses": answer, "requestState": state});
    let done = call(&served.url, tool, json!({}), retry.clone())["result"].clone();
    assert_eq!(done["resultType"], "complete", "{done}");
    assert_eq!(done["content"][0]["text"], "state-ok: confirmed=True");

    // A state is used once.
    let replayed = call(&served.url, tool, json!({}), retry);
    assert_eq!(replayed["error"]["code"], -32602, "{replayed}");
    let (code, _) = served.stop();
    assert_eq!(code, Some(130));
}

#[test]
fn a_2025_upstreams_elicitation_reaches_a_2026_host_as_input_required_and_its_answer_resumes_the_call()
 {
    let env = TestEnv::new();
    let served = Served::start(&env, &[], "127.0.0.1:0", &["--stdio", &stdio_upstream()]);
    let arguments = json!({"message": "Who are you?"});

    let first = call(
        &served.url,
        "test_elicitation",
        arguments.clone(),
        json!({}),
    )["result"]
        .clone();
    assert_eq!(first["resultType"], "input_required", "{first}");
    let requests = first["inputRequests"].as_object().unwrap();
    assert_eq!(requests.len(), 1, "{first}");
    let (key, asked) = requests.iter().next().unwrap();
    assert_eq!(asked["method"], "elicitation/create");
    assert_eq!(asked["params"]["message"], "Who are you?");
    let state = first["requestState"].as_str().unwrap();

    let content = json!({"username": "alice", "email": "a@example.com"});
    let mut answers = serde_json::Map::new();
    answers.insert(key.clone(), json!({"action": "accept", "content": content}));
    let retry = json!({"inputResponses": answers, "requestState": state});
    let done = call(&served.url, "test_elicitation", arguments, retry)["result"].clone();
    assert_eq!(
        done["content"][0]["text"],
        r#"User response: action=accept, content={"username": "alice", "email": "a@example.com"}"#,
        "{done}"
    );
    let (code, _) = served.stop();
    assert_eq!(code, Some(130));
}

#[test]
fn a_host_without_elicitation_gets_no_elicitation_and_the_upstream_gets_decline() {
    let env = TestEnv::new();
    let served = Served::start(&env, &[], "127.0.0.1:0", &["--stdio", &stdio_upstream()]);
    let params = json!({"name": "test_elicitation", "arguments": {"message": "Who?"},
                        "_meta": meta(json!({}))});
    let done = request(&served.url, "tools/call", params)["result"].clone();
    assert_eq!(
        done["content"][0]["text"], "User response: action=decline, content=null",
        "{done}"
    );
    let (code, _) = served.stop();
    assert_eq!(code, Some(130));
}

/// The upstream over HTTP: the Python SDK announces list changes only on listen streams, which
/// serve opens upstream for a host's listen.
#[test]
fn subscriptions_listen_carries_an_upstreams_tool_list_change() {
    let env = TestEnv::new();
    let upstream = Upstream::start();
    let served = Served::start(&env, &[], "127.0.0.1:0", &["--url", &upstream.url]);
    let listen = json!({"jsonrpc": "2.0", "id": 9, "method": "subscriptions/listen",
                        "params": {"_meta": meta(json!({})),
                                   "notifications": {"toolsListChanged": true}}});
    let mut stream = Command::new("curl")
        .args([
            "-s",
            "-N",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
        ])
        .args(["-H", "Accept: application/json, text/event-stream"])
        .args(["-H", "MCP-Protocol-Version: 2026-07-28"])
        .args(["-H", "Mcp-Method: subscriptions/listen"])
        .args(["--data", &listen.to_string(), &served.url])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(stream.stdout.take().unwrap()).lines();
    let mut next_message = || -> Value {
        loop {
            let line = lines.next().expect("the listen stream ended").unwrap();
            if let Some(data) = line.strip_prefix("data: ") {
                return serde_json::from_str(data).unwrap();
            }
        }
    };
    let ack = next_message();
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert_eq!(
        ack["params"]["notifications"],
        json!({"toolsListChanged": true})
    );

    let params = json!({"name": "test_trigger_tool_change", "arguments": {},
                        "_meta": meta(json!({}))});
    let done = request(&served.url, "tools/call", params)["result"].clone();
    assert_eq!(done["content"][0]["text"], "tools/list_changed announced");
    let change = next_message();
    assert_eq!(
        change["method"], "notifications/tools/list_changed",
        "{change}"
    );
    assert_eq!(
        change["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 9,
        "{change}"
    );
    let _ = stream.kill();
    let _ = stream.wait();
    let (code, _) = served.stop();
    assert_eq!(code, Some(130));
}
