//! `mcpchat serve` relaying both ways: an upstream's requests for the user or the model
//! (elicitation, sampling, roots) reach the host that asked and its answer goes back; log
//! messages, resource subscriptions and paged lists pass through. The upstream is the in-repo
//! fake `tests/fakes/serve_relay_upstream.py` (it writes down every message it gets); the
//! hosts are raw JSON-RPC on serve's stdio or a Unix socket, answering what serve asks them.

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::host::{Answer, Host};
use crate::support::*;

/// The relay fake named `label`, logging to `log`.
fn upstream(label: &str, log: &Path) -> String {
    format!(
        "{label}=python3 {} {label} {}",
        repo().join("tests/fakes/serve_relay_upstream.py").display(),
        log.display()
    )
}

/// The messages an upstream logged, of one method (responses to its requests: `None`).
fn received(log: &Path, label: &str, method: Option<&str>) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|entry| entry["label"] == label)
        .map(|entry| entry["message"].clone())
        .filter(|message| message.get("method").and_then(Value::as_str) == method)
        .collect()
}

/// A host that never expects to be asked anything.
fn never_asked() -> Answer {
    Box::new(|request| panic!("the host was asked {request}"))
}

/// A host declaring everything, answering every request with a fixed answer per method.
fn answering_all() -> Answer {
    Box::new(|request| match request["method"].as_str() {
        Some("elicitation/create") if request["params"]["mode"] == "url" => {
            Ok(json!({"action": "accept"}))
        }
        Some("elicitation/create") => {
            Ok(json!({"action": "accept", "content": {"colour": "teal"}}))
        }
        Some("sampling/createMessage") => Ok(json!({"role": "assistant",
            "content": {"type": "text", "text": "host model says hi"}, "model": "host-model"})),
        Some("roots/list") => {
            Ok(json!({"roots": [{"uri": "file:///host/project", "name": "project"}]}))
        }
        _ => Err(json!({"code": -32601, "message": "not here"})),
    })
}

fn every_capability() -> Value {
    json!({"elicitation": {"form": {}, "url": {}}, "sampling": {}, "roots": {"listChanged": true}})
}

/// Call `tool` and return its structuredContent.
fn call(host: &mut Host, tool: &str) -> Value {
    let response = host.request("tools/call", json!({"name": tool, "arguments": {}}));
    response["result"]["structuredContent"].clone()
}

#[test]
fn an_upstreams_elicitation_sampling_and_roots_reach_the_host_and_its_answers_go_back() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let mut host = Host::answering(&env, &["--stdio", &a], every_capability(), answering_all());

    let form = call(&mut host, "ask");
    assert_eq!(
        form,
        json!({"answer": {"action": "accept", "content": {"colour": "teal"}}})
    );
    let url = call(&mut host, "ask_url");
    assert_eq!(url, json!({"answer": {"action": "accept"}}));
    let sampled = call(&mut host, "sample");
    assert_eq!(
        sampled["answer"]["content"],
        json!({"type": "text", "text": "host model says hi"})
    );
    assert_eq!(sampled["answer"]["model"], "host-model");
    let roots = call(&mut host, "roots");
    assert_eq!(
        roots,
        json!({"answer": {"roots": [{"uri": "file:///host/project", "name": "project"}]}})
    );

    // The host saw the upstream's requests as the upstream sent them.
    let methods: Vec<&str> = host
        .asked
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        [
            "elicitation/create",
            "elicitation/create",
            "sampling/createMessage",
            "roots/list"
        ]
    );
    assert_eq!(host.asked[0]["params"]["message"], "a wants a colour");
    assert_eq!(
        host.asked[1]["params"]["url"],
        "https://example.com/consent"
    );
    assert_eq!(
        host.asked[2]["params"]["messages"][0]["content"]["text"],
        "a asks"
    );
    // A change of the host's roots reaches the upstream.
    host.send(&json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}));
    // Each ping is a round trip through serve; the notification is on its way meanwhile.
    for _ in 0..1000 {
        if !received(&log, "a", Some("notifications/roots/list_changed")).is_empty() {
            break;
        }
        host.request("ping", json!({}));
    }
    assert_eq!(
        received(&log, "a", Some("notifications/roots/list_changed")).len(),
        1
    );
    // serve declared to the upstream what a host may answer.
    let initialize = &received(&log, "a", Some("initialize"))[0];
    assert_eq!(
        initialize["params"]["capabilities"],
        json!({"elicitation": {"form": {}, "url": {}}, "sampling": {}, "roots": {"listChanged": true}})
    );
    let output = host.close();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

#[test]
fn a_host_without_the_capabilities_is_not_asked_and_the_upstream_is_refused() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let mut host = Host::answering(&env, &["--stdio", &a], json!({}), never_asked());

    assert_eq!(
        call(&mut host, "ask"),
        json!({"answer": {"action": "decline"}})
    );
    assert_eq!(
        call(&mut host, "sample"),
        json!({"error": {"code": -1, "message": "User rejected sampling request"}})
    );
    assert_eq!(
        call(&mut host, "roots")["error"]["code"],
        -32601,
        "roots without a host that has them"
    );
    let output = host.close();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

#[test]
fn a_hosts_error_reaches_the_upstream_with_its_code() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let refuse: Answer = Box::new(|_| Err(json!({"code": -32042, "message": "not today"})));
    let mut host = Host::answering(&env, &["--stdio", &a], every_capability(), refuse);
    assert_eq!(
        call(&mut host, "sample"),
        json!({"error": {"code": -32042, "message": "not today"}})
    );
    assert_eq!(host.asked.len(), 1);
    let output = host.close();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

fn has_log(notices: &[Value], data: &str) -> bool {
    notices
        .iter()
        .any(|n| n["method"] == "notifications/message" && n["params"]["data"] == data)
}

#[test]
fn upstream_log_messages_reach_the_host_at_the_level_it_set_named_by_server() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let (a, b) = (upstream("a", &log), upstream("b", &log));
    let mut host = Host::answering(
        &env,
        &["--stdio", &a, "--stdio", &b],
        json!({}),
        never_asked(),
    );

    host.request("tools/call", json!({"name": "a__log", "arguments": {}}));
    host.until(|n| has_log(n, "a says error"));
    let mut logs = host.logs();
    logs.sort();
    let expected = |level: &str| {
        (
            level.to_string(),
            "a/fake".to_string(),
            format!("a says {level}"),
        )
    };
    assert_eq!(
        logs,
        [expected("debug"), expected("error"), expected("info")]
    );

    let set = host.request("logging/setLevel", json!({"level": "info"}));
    assert_eq!(set["result"], json!({}), "{set}");
    assert_eq!(
        received(&log, "b", Some("logging/setLevel"))[0]["params"]["level"],
        "info"
    );
    host.notices.clear();
    host.request("tools/call", json!({"name": "a__log", "arguments": {}}));
    host.until(|n| has_log(n, "a says error") && has_log(n, "a says info"));
    let (rest, output) = host.finish();
    // The debug message of the second round was never sent to the host.
    let mut datas: Vec<&str> = rest
        .iter()
        .filter(|n| n["method"] == "notifications/message")
        .map(|n| n["params"]["data"].as_str().unwrap())
        .collect();
    datas.sort();
    assert_eq!(datas, ["a says error", "a says info"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

fn has_update(notices: &[Value], uri: &str) -> bool {
    notices
        .iter()
        .any(|n| n["method"] == "notifications/resources/updated" && n["params"]["uri"] == uri)
}

#[test]
fn a_resource_update_reaches_the_host_only_for_the_uris_it_subscribed_to() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let mut host = Host::answering(&env, &["--stdio", &a], json!({}), never_asked());
    let subscribed = host.request("resources/subscribe", json!({"uri": "a://r3"}));
    assert_eq!(subscribed["result"], json!({}), "{subscribed}");
    assert_eq!(
        received(&log, "a", Some("resources/subscribe"))[0]["params"]["uri"],
        "a://r3"
    );
    for uri in ["a://r0", "a://r3"] {
        host.request(
            "tools/call",
            json!({"name": "touch", "arguments": {"uri": uri}}),
        );
    }
    host.until(|n| has_update(n, "a://r3"));
    // Updates come in the upstream's order: r0's would have come first.
    assert!(!has_update(&host.notices, "a://r0"), "{:?}", host.notices);

    let gone = host.request("resources/unsubscribe", json!({"uri": "a://r3"}));
    assert_eq!(gone["result"], json!({}), "{gone}");
    assert_eq!(received(&log, "a", Some("resources/unsubscribe")).len(), 1);
    host.request("resources/subscribe", json!({"uri": "a://r4"}));
    host.notices.clear();
    for uri in ["a://r3", "a://r4"] {
        host.request(
            "tools/call",
            json!({"name": "touch", "arguments": {"uri": uri}}),
        );
    }
    host.until(|n| has_update(n, "a://r4"));
    assert!(!has_update(&host.notices, "a://r3"), "{:?}", host.notices);
    let output = host.close();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

/// Follow a list's cursors to the end: the pages' item fields `key`, one Vec per page.
fn every_page(host: &mut Host, method: &str, list: &str, key: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params = match &cursor {
            Some(cursor) => json!({"cursor": cursor}),
            None => json!({}),
        };
        let response = host.request(method, params);
        let items = response["result"][list]
            .as_array()
            .unwrap_or_else(|| panic!("no {list}: {response}"));
        pages.push(
            items
                .iter()
                .map(|item| item[key].as_str().unwrap().to_string())
                .collect(),
        );
        match response["result"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return pages,
        }
    }
}

#[test]
fn lists_page_where_an_upstream_pages_and_a_host_following_cursors_gets_every_item_once() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let (a, b) = (upstream("a", &log), upstream("b", &log));
    let mut host = Host::answering(
        &env,
        &["--stdio", &a, "--stdio", &b],
        json!({}),
        never_asked(),
    );

    let tools = every_page(&mut host, "tools/list", "tools", "name");
    let sizes: Vec<usize> = tools.iter().map(Vec::len).collect();
    // Each upstream pages by two; a page ends where an upstream has more.
    assert_eq!(sizes, [2, 2, 2, 3, 2, 2, 1]);
    let names = [
        "whoami", "ask", "ask_url", "sample", "roots", "log", "touch",
    ];
    let expected: Vec<String> = ["a", "b"]
        .iter()
        .flat_map(|server| names.iter().map(move |name| format!("{server}__{name}")))
        .collect();
    assert_eq!(tools.concat(), expected);
    // Each upstream got its own cursors back, page by page.
    let cursors: Vec<Value> = received(&log, "b", Some("tools/list"))
        .iter()
        .map(|request| request["params"]["cursor"].clone())
        .collect();
    assert_eq!(
        cursors,
        [
            Value::Null,
            json!("b-page-2"),
            json!("b-page-4"),
            json!("b-page-6")
        ]
    );
    // A tool of a later page routes as any other.
    let touched = host.request(
        "tools/call",
        json!({"name": "b__touch", "arguments": {"uri": "b://r4"}}),
    );
    assert_eq!(
        touched["result"]["content"][0]["text"], "touched",
        "{touched}"
    );

    let resources = every_page(&mut host, "resources/list", "resources", "uri");
    assert_eq!(resources.len(), 5);
    let uris: Vec<String> = ["a", "b"]
        .iter()
        .flat_map(|server| (0..5).map(move |n| format!("{server}://r{n}")))
        .collect();
    assert_eq!(resources.concat(), uris);

    let foreign = host.request("tools/list", json!({"cursor": "b-page-2"}));
    assert_eq!(foreign["error"]["code"], -32602, "{foreign}");
    let output = host.close();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

#[test]
fn an_oauth_upstream_without_a_token_answers_calls_with_the_login_to_run_and_no_browser_opens() {
    let env = TestEnv::new();
    let issuer = oauth2_mock_server();
    let resource = protected_echo(&issuer.url);
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: locked\n    url: {}\n    auth_type: oauth\n",
            resource.url
        ),
    );
    let opened = env.path("browser-opened");
    let browser = env.write("browser.sh", &format!("touch {}\n", opened.display()));
    let vars = [("BROWSER", format!("sh {}", browser.display()))];
    let mut host = Host::answering_with(&env, &vars, &[], json!({}), never_asked());
    let call = host.request("tools/call", json!({"name": "whoami", "arguments": {}}));
    assert_eq!(call["result"]["isError"], true, "{call}");
    let text = call["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("MCP server `locked` is not available: "),
        "{text}"
    );
    assert!(text.contains("mcpchat auth login locked"), "{text}");
    let (_, output) = host.finish();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(!opened.exists(), "serve opened a browser");
}

#[test]
fn a_request_in_flight_when_the_host_closes_stdin_is_cancelled_upstream_and_serve_exits_0() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    // A host that never answers: the upstream's elicitation stays in flight.
    let mut host = Host::answering(&env, &["--stdio", &a], every_capability(), never_asked());
    let id = host.next_id;
    host.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "ask", "arguments": {}}}));
    // Wait until serve passed the elicitation on: the call is then in flight upstream.
    let asked = host.next_line();
    assert_eq!(asked["method"], "elicitation/create", "{asked}");
    let (_, output) = host.finish();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(received(&log, "a", Some("tools/call")).len(), 1);
    // The upstream heard the call was cancelled, and its process is gone with serve.
    let cancelled = received(&log, "a", Some("notifications/cancelled"));
    assert_eq!(cancelled.len(), 1, "{cancelled:?}");
    let pid = received(&log, "a", None)[0]["pid"].as_u64().unwrap();
    assert!(!alive(pid as u32), "the upstream {pid} outlived serve");
}
