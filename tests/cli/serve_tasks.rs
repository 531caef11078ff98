//! Tasks through `mcpchat serve`: a host's task-augmented call reaches the tool's upstream
//! under its own name, `tasks/*` go to the upstream that owns the task, `tasks/list` merges
//! the upstreams, an id serve did not hand out is -32602, status notifications reach the
//! host; mcpchat itself runs a task through serve as it does directly; and a host that never
//! answers an upstream's request has it cancelled and the upstream gets a timeout error.
//! Upstreams: server-everything (`simulate-research-query`, task mode required) and the fake
//! `tests/fakes/task_upstream.py`, which writes down every message it gets.

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::host::{Host, Served, answer_in, curl};
use crate::support::*;

/// The task fake named `label` (with `tasks` tasks from the start), logging to `log`.
fn fake(label: &str, log: &Path, tasks: usize) -> String {
    format!(
        "{label}=python3 {} {label} {} {tasks}",
        repo().join("tests/fakes/task_upstream.py").display(),
        log.display()
    )
}

/// What an upstream received, of one method: the params, without the progress token serve
/// adds to every request it sends (its own number, whatever the host sent).
fn received(log: &Path, label: &str, method: &str) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|entry| entry["label"] == label && entry["message"]["method"] == method)
        .map(|entry| {
            let mut params = entry["message"]["params"].clone();
            let object = params.as_object_mut().unwrap();
            let meta = object.remove("_meta").unwrap_or(json!({}));
            assert!(meta["progressToken"].is_number(), "{meta}");
            assert_eq!(meta.as_object().unwrap().len(), 1, "{meta}");
            params
        })
        .collect()
}

fn everything() -> String {
    format!("ev={}", everything_stdio_cmd())
}

#[test]
fn a_task_call_reaches_its_upstream_under_its_own_name_and_tasks_requests_go_to_the_owner() {
    let env = TestEnv::new();
    let log = env.path("upstream.jsonl");
    let mut host = Host::start(
        &env,
        &["--stdio", &everything(), "--stdio", &fake("fk", &log, 0)],
        &[],
    );
    // An upstream offers tasks: the 2025-11-25 capability is declared.
    assert_eq!(
        host.init["result"]["capabilities"]["tasks"],
        json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}),
        "{}",
        host.init
    );
    let started = host.request(
        "tools/call",
        json!({"name": "fk__slow", "arguments": {}, "task": {"ttl": 60000}}),
    );
    assert_eq!(
        started["result"]["task"]["taskId"], "fk__fk-task-1",
        "{started}"
    );
    assert_eq!(started["result"]["task"]["status"], "working");
    assert_eq!(
        received(&log, "fk", "tools/call"),
        [json!({"name": "slow", "arguments": {}, "task": {"ttl": 60000}})]
    );
    // The upstream's status notification reaches the host under the host's id.
    let status = host.notice("notifications/tasks/status");
    assert_eq!(status["params"]["taskId"], "fk__fk-task-1", "{status}");

    let got = host.request("tasks/get", json!({"taskId": "fk__fk-task-1"}));
    assert_eq!(got["result"]["taskId"], "fk__fk-task-1", "{got}");
    assert_eq!(got["result"]["status"], "working");
    let result = host.request("tasks/result", json!({"taskId": "fk__fk-task-1"}));
    assert_eq!(
        result["result"],
        json!({"content": [{"type": "text", "text": "fk finished fk-task-1"}],
               "_meta": {"io.modelcontextprotocol/related-task": {"taskId": "fk__fk-task-1"}}})
    );
    let cancelled = host.request("tasks/cancel", json!({"taskId": "fk__fk-task-1"}));
    assert_eq!(cancelled["result"]["status"], "cancelled", "{cancelled}");
    for method in ["tasks/get", "tasks/result", "tasks/cancel"] {
        assert_eq!(
            received(&log, "fk", method),
            [json!({"taskId": "fk-task-1"})],
            "{method}"
        );
    }

    // server-everything's task-mode tool: started as a task there, followed there.
    let research = host.request(
        "tools/call",
        json!({"name": "ev__simulate-research-query", "arguments": {"topic": "otters"},
               "task": {"ttl": 60000}}),
    );
    let id = research["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("ev__"), "{research}");
    let got = host.request("tasks/get", json!({"taskId": id}));
    assert_eq!(got["result"]["taskId"], id.as_str(), "{got}");
    let output = host.close();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

#[test]
fn tasks_list_merges_the_upstreams_page_by_page_and_an_unknown_id_is_invalid_params() {
    let env = TestEnv::new();
    let log = env.path("upstream.jsonl");
    let mut host = Host::start(
        &env,
        &[
            "--stdio",
            &fake("fa", &log, 2),
            "--stdio",
            &fake("fb", &log, 1),
        ],
        &[],
    );
    let mut pages = Vec::new();
    let mut params = json!({});
    loop {
        let page = host.request("tasks/list", params);
        let ids: Vec<String> = page["result"]["tasks"]
            .as_array()
            .unwrap_or_else(|| panic!("{page}"))
            .iter()
            .map(|t| t["taskId"].as_str().unwrap().to_string())
            .collect();
        pages.push(ids);
        match page["result"]["nextCursor"].as_str() {
            Some(cursor) => params = json!({"cursor": cursor}),
            None => break,
        }
    }
    assert_eq!(
        pages,
        [
            vec!["fa__fa-task-1"],
            vec!["fa__fa-task-2", "fb__fb-task-1"]
        ]
    );
    // A listed task can be asked about; its owner gets its own id.
    let got = host.request("tasks/get", json!({"taskId": "fb__fb-task-1"}));
    assert_eq!(got["result"]["taskId"], "fb__fb-task-1", "{got}");
    assert_eq!(
        received(&log, "fb", "tasks/get"),
        [json!({"taskId": "fb-task-1"})]
    );

    // An id serve never handed out reaches no upstream.
    for id in ["fa__fa-task-9", "nope"] {
        let refused = host.request("tasks/get", json!({"taskId": id}));
        assert_eq!(refused["error"]["code"], -32602, "{refused}");
        assert_eq!(
            refused["error"]["message"],
            format!("unknown task `{id}`: no server of mcpchat serve named it")
        );
    }
    assert_eq!(received(&log, "fa", "tasks/get"), Vec::<Value>::new());
    let output = host.close();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

#[test]
fn serve_declares_no_tasks_when_no_upstream_offers_them() {
    let env = TestEnv::new();
    let host = Host::start(
        &env,
        &["--stdio", &format!("demo={}", demo_stdio_cmd())],
        &[],
    );
    assert_eq!(
        host.init["result"]["capabilities"].get("tasks"),
        None,
        "{}",
        host.init
    );
    host.close();
}

/// The `task` and `tool_result` lines of `tools call --task` then `tasks result`, against
/// `url` as server `ev`, without what differs between runs.
fn task_then_result(env: &TestEnv, url: &str) -> Vec<Value> {
    let run = |args: &[&str]| {
        let output = env
            .cmd()
            .args(["--no-cache", "--url", &format!("ev={url}")])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        lines(&output.stdout)
    };
    let mut started = run(&[
        "tools",
        "call",
        "--task",
        "simulate-research-query",
        "-a",
        "topic=otters",
    ]);
    let id = started[0]["task_id"].as_str().unwrap().to_string();
    let mut finished = run(&["tasks", "result", &id]);
    for line in started.iter_mut().chain(finished.iter_mut()) {
        let object = line.as_object_mut().unwrap();
        for varying in ["task_id", "created_at", "last_updated_at", "duration_ms"] {
            object.remove(varying);
        }
    }
    started.extend(finished);
    started
}

#[test]
fn mcpchat_runs_a_task_through_serve_as_it_does_directly() {
    let env = TestEnv::new();
    let upstream = everything_http();
    let served = Served::start(
        &env,
        &["--url", &format!("ev={}", upstream.url)],
        "127.0.0.1:0",
        &[],
    );
    let direct = task_then_result(&env, &upstream.url);
    let through = task_then_result(&env, &served.url);
    assert_eq!(through, direct);
    assert_eq!(direct[0]["type"], "task");
    assert_eq!(direct[1]["type"], "tool_result");
    // A 2025-era HTTP host is told that serve offers tasks.
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "curl", "version": "1"}}});
    let (status, body) = curl(&served.url, &[], &initialize);
    assert_eq!(status, 200, "{body}");
    let answer = answer_in(&body);
    assert_eq!(
        answer["result"]["capabilities"]["tasks"],
        json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}),
        "{answer}"
    );
    let (code, _) = served.stop();
    assert_eq!(code, Some(130));
}

#[test]
fn a_tool_that_requires_task_mode_answers_through_serve_over_stdio() {
    let env = TestEnv::new();
    let through = format!(
        "ev={} --no-cache --stdio '{}' serve",
        assert_cmd::cargo::cargo_bin("mcpchat").display(),
        everything()
    );
    let output = env
        .cmd()
        .args(["--no-cache", "--stdio", &through])
        .args([
            "tools",
            "call",
            "simulate-research-query",
            "-a",
            "topic=otters",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines[0]["is_error"], false, "{lines:?}");
    let text = lines[0]["text"].as_str().unwrap();
    assert!(text.starts_with("# Research Report: otters\n"), "{text}");
}

#[test]
fn a_host_that_never_answers_an_upstreams_request_has_it_cancelled_and_the_upstream_gets_a_timeout()
{
    let env = TestEnv::new();
    let log = env.path("relay.jsonl");
    let relay = format!(
        "up=python3 {} up {}",
        repo().join("tests/fakes/serve_relay_upstream.py").display(),
        log.display()
    );
    // The host declares elicitation and roots but never answers serve's requests.
    let mut host = Host::silent(
        &env,
        &[("MCPCHAT_SERVE_ASK_LIMIT_MS", "300".to_string())],
        &["--stdio", &relay],
        json!({"elicitation": {"form": {}}, "roots": {}}),
    );
    for (tool, method) in [("ask", "elicitation/create"), ("roots", "roots/list")] {
        let called = host.request("tools/call", json!({"name": tool, "arguments": {}}));
        let error = &called["result"]["structuredContent"]["error"];
        assert_eq!(error["code"], -32001, "{called}");
        assert_eq!(
            error["message"],
            format!(
                "Request timed out: the client of mcpchat serve did not answer {method} within 300 ms"
            )
        );
        // Asked before the time limit ran out, so before the call's answer.
        let asked: Vec<&Value> = host
            .asked
            .iter()
            .filter(|l| l["method"] == method)
            .collect();
        assert_eq!(asked.len(), 1, "{:?}", host.asked);
        let asked_id = asked[0]["id"].clone();
        let cancelled = host.notice("notifications/cancelled");
        assert_eq!(cancelled["params"]["requestId"], asked_id, "{cancelled}");
    }
    let output = host.close();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

/// Runs `daemon stop` for its runtime dir when dropped (also when the test failed).
struct StopsDaemon<'a>(&'a TestEnv, std::path::PathBuf);

impl Drop for StopsDaemon<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .cmd()
            .env("XDG_RUNTIME_DIR", &self.1)
            .args(["daemon", "stop"])
            .output();
    }
}

#[test]
fn a_task_started_through_the_daemon_is_followed_by_the_next_command() {
    let env = TestEnv::new();
    let run = env.dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let _stop = StopsDaemon(&env, run.clone());
    let kept = |args: &[&str]| {
        let output = env
            .cmd()
            .env("XDG_RUNTIME_DIR", &run)
            .args(["--no-cache", "--keep-alive", "--stdio", &everything()])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        lines(&output.stdout)
    };
    let started = kept(&[
        "tools",
        "call",
        "--task",
        "simulate-research-query",
        "-a",
        "topic=owls",
    ]);
    assert_eq!(started[0]["type"], "task", "{started:?}");
    assert_eq!(started[0]["status"], "working");
    let id = started[0]["task_id"].as_str().unwrap().to_string();
    // Another command, another connection to the daemon: the task is still the server's.
    let got = kept(&["tasks", "get", &id]);
    assert_eq!(got[0]["task_id"], id.as_str(), "{got:?}");
    let finished = kept(&["tasks", "result", &id]);
    assert_eq!(finished[0]["type"], "tool_result", "{finished:?}");
    let text = finished[0]["text"].as_str().unwrap();
    assert!(text.starts_with("# Research Report: owls\n"), "{text}");
}
