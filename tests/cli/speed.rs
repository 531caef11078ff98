//! Round trips: what a warm cache saves, counted as the requests a recording proxy forwards
//! (exact lists, not times), and how the cache behaves (hints, identities, corruption).

use pretty_assertions::assert_eq;

use crate::support::*;

/// `get-sum 2 3` on server-everything, named `ev`.
const GET_SUM: [&str; 7] = [
    "tools",
    "call",
    "ev__get-sum",
    "--arg",
    "a=2",
    "--arg",
    "b=3",
];

/// `add 2 3` on the Python peer, named `py`.
const ADD: [&str; 7] = ["tools", "call", "py__add", "--arg", "a=2", "--arg", "b=3"];

/// The Python peer's flags for a stateless server whose tools list may be cached 10 minutes.
const CACHEABLE: [&str; 3] = ["--stateless-json", "--tools-ttl-ms", "600000"];

/// `upstream` behind a recording proxy logging to `requests.jsonl` in `env`: returns the
/// proxy, the log (`requests(&log)` lists what reached the peer since the last look) and the
/// peer, which the caller keeps alive.
fn recorded(env: &TestEnv, upstream: Peer) -> (Peer, std::path::PathBuf, Peer) {
    let log = env.path("requests.jsonl");
    let proxy = mcp_record_proxy(&upstream, &log);
    (proxy, log, upstream)
}

/// The fake model behind a recording proxy logging to `llm.jsonl` in `env`; returns both
/// peers (the proxy first) and the log.
fn recorded_model(env: &TestEnv) -> (Peer, Peer, std::path::PathBuf) {
    let llm = fakellm();
    let log = env.path("llm.jsonl");
    let proxy = record_proxy(&llm, &log, "");
    (proxy, llm, log)
}

/// Point `cmd` at the model API at `url`, with a test key.
fn with_model(cmd: &mut assert_cmd::Command, url: &str) {
    cmd.env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", url);
}

fn cache_files(env: &TestEnv) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(env.home().join(".cache/mcpchat/servers"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[test]
fn a_warm_tools_call_on_server_everything_sends_initialize_initialized_call_and_delete() {
    let env = TestEnv::new();
    let (proxy, log, _upstream) = recorded(&env, everything_http());

    let cold = run(&env, "ev", &proxy.url, &GET_SUM);
    assert_eq!(cold.status.code(), Some(0), "{}", stderr_of(&cold));
    assert_eq!(
        requests(&log),
        strings(&[
            "POST server/discover",
            "POST initialize",
            "POST notifications/initialized",
            "POST tools/list",
            "POST tools/call",
            "DELETE",
        ])
    );

    let warm = run(&env, "ev", &proxy.url, &GET_SUM);
    assert_eq!(warm.status.code(), Some(0), "{}", stderr_of(&warm));
    assert_eq!(lines(&warm.stdout)[0]["text"], "The sum of 2 and 3 is 5.");
    assert_eq!(
        requests(&log),
        strings(&[
            "POST initialize",
            "POST notifications/initialized",
            "POST tools/call",
            "DELETE",
        ])
    );
}

#[test]
fn a_warm_tools_call_on_a_2026_07_28_server_sends_only_tools_call() {
    let env = TestEnv::new();
    let (proxy, log, _upstream) = recorded(&env, python_http_with(0, &CACHEABLE));

    let cold = run(&env, "py", &proxy.url, &ADD);
    assert_eq!(cold.status.code(), Some(0), "{}", stderr_of(&cold));
    assert_eq!(
        requests(&log),
        strings(&["POST server/discover", "POST tools/list", "POST tools/call"])
    );

    let warm = run(&env, "py", &proxy.url, &ADD);
    assert_eq!(warm.status.code(), Some(0), "{}", stderr_of(&warm));
    assert_eq!(lines(&warm.stdout)[0]["text"], "5");
    assert_eq!(requests(&log), strings(&["POST tools/call"]));
}

#[test]
fn a_tools_list_with_ttl_ms_0_is_never_cached() {
    let env = TestEnv::new();
    // The Python SDK's default hint for tools/list is ttlMs 0.
    let (proxy, log, _upstream) = recorded(&env, python_http_with(0, &["--stateless-json"]));

    for _ in 0..2 {
        let output = run(&env, "py", &proxy.url, &ADD);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert!(requests(&log).contains(&"POST tools/list".to_string()));
    }
    let cached = run(&env, "py", &proxy.url, &["tools", "list", "--cached"]);
    assert_eq!(cached.status.code(), Some(4), "{}", stderr_of(&cached));
}

#[test]
fn private_tools_lists_are_not_shared_between_two_auth_identities_and_public_ones_are() {
    for (scope, second_identity_lists) in [("private", true), ("public", false)] {
        let env = TestEnv::new();
        let python = python_http_with(0, &[&CACHEABLE[..], &["--tools-scope", scope]].concat());
        let (proxy, log, _upstream) = recorded(&env, python);
        let call = |who: &str| {
            let output = env
                .cmd()
                .args(["--url", &format!("py={}", proxy.url)])
                .args(["-H", &format!("Authorization: Bearer {who}")])
                .args(ADD)
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
            requests(&log).contains(&"POST tools/list".to_string())
        };
        assert!(call("alice"), "{scope}: alice's first call lists the tools");
        assert!(
            !call("alice"),
            "{scope}: alice's second call uses the cache"
        );
        assert_eq!(
            call("bob"),
            second_identity_lists,
            "{scope}: bob's first call"
        );
    }
}

#[test]
fn a_changed_tool_schema_is_picked_up_after_the_server_rejects_a_call() {
    let env = TestEnv::new();
    let port = free_port();
    let log = env.path("requests.jsonl");
    let old = python_http_with(port, &CACHEABLE);
    let proxy = mcp_record_proxy(&old, &log);
    let two = ADD;
    let warmed = run(&env, "py", &proxy.url, &two);
    assert_eq!(warmed.status.code(), Some(0), "{}", stderr_of(&warmed));
    drop(old);

    // The server comes back where it was, and `add` now needs `c`.
    let _new = python_http_with(port, &[&CACHEABLE[..], &["--add-needs-c"]].concat());
    requests(&log);
    let rejected = run(&env, "py", &proxy.url, &two);
    assert_eq!(rejected.status.code(), Some(2), "{}", stderr_of(&rejected));
    assert!(
        stderr_of(&rejected).contains("\"c\" is a required property"),
        "{}",
        stderr_of(&rejected)
    );
    assert_eq!(
        requests(&log),
        strings(&["POST tools/call", "POST tools/list"])
    );

    // The new schema is cached: a valid call goes out alone.
    let three = [&two[..], &["--arg", "c=4"]].concat();
    let ok = run(&env, "py", &proxy.url, &three);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr_of(&ok));
    assert_eq!(lines(&ok.stdout)[0]["text"], "9");
    assert_eq!(requests(&log), strings(&["POST tools/call"]));
}

#[test]
fn a_corrupt_cache_file_is_replaced_silently() {
    let env = TestEnv::new();
    let (proxy, log, _upstream) = recorded(&env, everything_http());
    assert_eq!(run(&env, "ev", &proxy.url, &GET_SUM).status.code(), Some(0));
    let files = cache_files(&env);
    assert_eq!(files.len(), 1);
    std::fs::write(&files[0], "{\"format\": 1, \"identities\": [tru").unwrap();
    requests(&log);

    let output = run(&env, "ev", &proxy.url, &GET_SUM);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(stderr_of(&output), "");
    assert!(requests(&log).contains(&"POST tools/list".to_string()));
    let replaced: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(replaced["format"], 1);
}

#[test]
fn tools_list_cached_answers_without_connecting_and_cache_clear_forgets() {
    let env = TestEnv::new();
    let (proxy, log, _upstream) = recorded(&env, everything_http());
    let live = run(&env, "ev", &proxy.url, &["tools", "list"]);
    assert_eq!(live.status.code(), Some(0), "{}", stderr_of(&live));
    requests(&log);

    let cached = run(&env, "ev", &proxy.url, &["tools", "list", "--cached"]);
    assert_eq!(cached.status.code(), Some(0), "{}", stderr_of(&cached));
    assert_eq!(lines(&cached.stdout), lines(&live.stdout));
    assert_eq!(requests(&log), Vec::<String>::new());

    let cleared = env.cmd().args(["cache", "clear"]).output().unwrap();
    assert_eq!(cleared.status.code(), Some(0), "{}", stderr_of(&cleared));
    assert_eq!(cache_files(&env), Vec::<std::path::PathBuf>::new());
    let gone = run(&env, "ev", &proxy.url, &["tools", "list", "--cached"]);
    assert_eq!(gone.status.code(), Some(4));
}

#[test]
fn no_cache_neither_reads_nor_writes_the_cache() {
    let env = TestEnv::new();
    let (proxy, log, _upstream) = recorded(&env, everything_http());
    let call = [&["--no-cache"][..], &GET_SUM].concat();
    for _ in 0..2 {
        let output = run(&env, "ev", &proxy.url, &call);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert_eq!(
            requests(&log),
            strings(&[
                "POST server/discover",
                "POST initialize",
                "POST notifications/initialized",
                "POST tools/list",
                "POST tools/call",
                "DELETE",
            ])
        );
    }
    assert_eq!(cache_files(&env), Vec::<std::path::PathBuf>::new());
}

#[test]
fn ask_with_a_warm_cache_asks_the_model_without_waiting_for_a_server_that_never_answers() {
    let env = TestEnv::new();
    let python = python_http_with(0, &CACHEABLE);
    let listed = run(&env, "py", &python.url, &["tools", "list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr_of(&listed));
    // The server now accepts connections but never answers.
    unsafe {
        libc::kill(python.pid() as i32, libc::SIGSTOP);
    }
    let (proxy, _llm, log) = recorded_model(&env);
    let mut ask = env.cmd();
    with_model(&mut ask, &proxy.url);
    let output = ask
        .args([
            "--url",
            &format!("py={}", python.url),
            "--connect-timeout",
            "120",
        ])
        .args(["ask", "what tools do you have #warm"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let lines = lines(&output.stdout);
    assert_eq!(lines.last().unwrap()["answer"], "I have tools.");
    let bodies = logged_bodies(&log);
    assert_eq!(bodies.len(), 1);
    let offered: Vec<&str> = bodies[0]["body"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, vec!["py__add", "py__shout", "py__fail"]);
}

/// `SSL_CERT_FILE`/`SSL_CERT_DIR` naming an empty CA store: loading the system's CA store
/// then fails (reqwest used to panic), so a command that works proves it never loaded it.
fn without_ca_store(env: &TestEnv, cmd: &mut assert_cmd::Command) {
    let empty_dir = env.path("no-certs");
    std::fs::create_dir_all(&empty_dir).unwrap();
    cmd.env("SSL_CERT_FILE", env.write("empty.pem", ""))
        .env("SSL_CERT_DIR", empty_dir);
}

#[test]
fn plain_http_servers_and_models_are_used_without_loading_the_ca_store() {
    let env = TestEnv::new();
    let python = python_http_with(0, &CACHEABLE);
    let mut call = env.cmd();
    without_ca_store(&env, &mut call);
    let called = call
        .args(["--url", &format!("py={}", python.url)])
        .args(ADD)
        .output()
        .unwrap();
    assert_eq!(called.status.code(), Some(0), "{}", stderr_of(&called));
    assert_eq!(lines(&called.stdout)[0]["text"], "5");

    // `ask` with a warm cache: the model request goes out over the plain client too.
    let (proxy, _llm, log) = recorded_model(&env);
    let mut ask = env.cmd();
    without_ca_store(&env, &mut ask);
    with_model(&mut ask, &proxy.url);
    let asked = ask
        .args(["--url", &format!("py={}", python.url)])
        .args(["ask", "what tools do you have #warm"])
        .output()
        .unwrap();
    assert_eq!(asked.status.code(), Some(0), "{}", stderr_of(&asked));
    assert_eq!(
        lines(&asked.stdout).last().unwrap()["answer"],
        "I have tools."
    );
    assert_eq!(logged_bodies(&log).len(), 1);
}

#[test]
fn an_https_server_without_a_ca_store_is_a_certificate_error_not_a_crash() {
    let env = TestEnv::new();
    let mut cmd = env.cmd();
    without_ca_store(&env, &mut cmd);
    // Nothing listens there: what matters is that the client is built and the command ends
    // with a classified error instead of reqwest's panic (exit 101).
    let output = cmd
        .args([
            "--url",
            &format!("far=https://127.0.0.1:{}/mcp", free_port()),
        ])
        .args(["tools", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("mcpchat: error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
