//! Cached prompts, resources and resource-templates lists: what a warm `prompts get` sends
//! (exact requests through a recording proxy), a changed prompt picked up, `ttlMs: 0`,
//! `--cached` on the list commands, and `list_changed` notifications dropping cached lists.

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

/// A batch whose first call changes the server's tools list (and says so) and whose second
/// call must then be checked against the new list.
const TOUCH_THEN_ADD: &str = concat!(
    "{\"id\": 1, \"tool\": \"py__touch_tools\"}\n",
    "{\"id\": 2, \"tool\": \"py__add\", \"arguments\": {\"a\": 2, \"b\": 3}}\n",
);

/// Both calls of [`TOUCH_THEN_ADD`] answered, in order.
fn assert_touched_then_added(output: &std::process::Output) {
    let lines = succeeded(output);
    let texts: Vec<&Value> = lines.iter().map(|l| &l["text"]).collect();
    assert_eq!(texts, ["sent", "5"]);
}

/// The stdout lines of a command that must have succeeded.
fn succeeded(output: &std::process::Output) -> Vec<Value> {
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(output));
    lines(&output.stdout)
}

#[test]
fn a_warm_prompts_get_on_server_everything_sends_initialize_initialized_get_and_delete() {
    let rec = Recorded::new("ev", everything_http());
    let get = ["prompts", "get", "ev__args-prompt", "-a", "city=Paris"];

    let cold = succeeded(&rec.run(&get));
    assert_eq!(
        rec.requests(),
        strings(&[
            "POST server/discover",
            "POST initialize",
            "POST notifications/initialized",
            "POST prompts/list",
            "POST prompts/get",
            "DELETE",
        ])
    );

    // The line is printed before the session is closed, and the DELETE still goes out.
    let warm = succeeded(&rec.run(&get));
    assert_eq!(warm, cold);
    assert_eq!(warm[0]["text"], "What's weather in Paris?");
    assert_eq!(
        rec.requests(),
        strings(&[
            "POST initialize",
            "POST notifications/initialized",
            "POST prompts/get",
            "DELETE",
        ])
    );
}

#[test]
fn a_warm_prompts_get_on_a_2026_07_28_server_sends_only_prompts_get() {
    let rec = Recorded::new(
        "py",
        python_http_with(0, &["--stateless-json", "--prompts-ttl-ms", "600000"]),
    );
    let get = ["prompts", "get", "py__review", "-a", "code=x = 1"];

    succeeded(&rec.run(&get));
    assert_eq!(
        rec.requests(),
        strings(&[
            "POST server/discover",
            "POST prompts/list",
            "POST prompts/get"
        ])
    );
    let warm = succeeded(&rec.run(&get));
    assert_eq!(warm[0]["text"], "Please review this python code:\nx = 1");
    assert_eq!(rec.requests(), strings(&["POST prompts/get"]));
}

#[test]
fn a_prompt_that_gained_a_required_argument_is_picked_up_after_the_server_rejects_prompts_get() {
    let env = TestEnv::new();
    let port = free_port();
    let hints = ["--stateless-json", "--prompts-ttl-ms", "600000"];
    let log = env.path("requests.jsonl");
    let old = python_http_with(port, &hints);
    let proxy = mcp_record_proxy(&old, &log);
    let get = ["prompts", "get", "py__review", "-a", "code=x = 1"];
    succeeded(&run(&env, "py", &proxy.url, &get));
    drop(old);

    // The server comes back where it was, and `review` now needs `focus`.
    let _new = python_http_with(port, &[&hints[..], &["--review-needs-focus"]].concat());
    requests(&log);
    let rejected = run(&env, "py", &proxy.url, &get);
    assert_eq!(rejected.status.code(), Some(2), "{}", stderr_of(&rejected));
    assert!(
        stderr_of(&rejected)
            .contains("mcpchat: error: prompt `py__review` needs the argument `focus`"),
        "{}",
        stderr_of(&rejected)
    );
    assert_eq!(
        requests(&log),
        strings(&["POST prompts/get", "POST prompts/list"])
    );

    // The new definition is cached: a complete request goes out alone.
    let focused = [&get[..], &["-a", "focus=speed"]].concat();
    let ok = succeeded(&run(&env, "py", &proxy.url, &focused));
    assert_eq!(
        ok[0]["text"],
        "Please review this python code for speed:\nx = 1"
    );
    assert_eq!(requests(&log), strings(&["POST prompts/get"]));
}

#[test]
fn a_prompt_the_cached_list_does_not_know_is_looked_up_live_once() {
    let rec = Recorded::new("ev", everything_http());
    succeeded(&rec.run(&["prompts", "list"]));
    rec.requests();

    let unknown = rec.run(&["prompts", "get", "ev__nope"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr_of(&unknown));
    assert!(
        stderr_of(&unknown).contains("MCP server `ev` has no prompt `nope`"),
        "{}",
        stderr_of(&unknown)
    );
    assert_eq!(
        rec.requests(),
        strings(&[
            "POST initialize",
            "POST notifications/initialized",
            "POST prompts/list",
            "DELETE",
        ])
    );
}

#[test]
fn a_prompts_list_with_ttl_ms_0_is_never_cached() {
    // The Python SDK's default hint for prompts/list is ttlMs 0.
    let rec = Recorded::new("py", python_http_with(0, &["--stateless-json"]));
    let get = ["prompts", "get", "py__review", "-a", "code=x"];
    succeeded(&rec.run(&get));
    rec.requests();

    succeeded(&rec.run(&get));
    assert_eq!(
        rec.requests(),
        strings(&["POST prompts/list", "POST prompts/get"])
    );
    let cached = rec.run(&["prompts", "list", "--cached"]);
    assert_eq!(cached.status.code(), Some(4), "{}", stderr_of(&cached));
}

#[test]
fn the_cached_list_commands_without_an_entry_exit_4_naming_the_server() {
    for (command, noun) in [
        (["tools", "list"], "tools"),
        (["prompts", "list"], "prompts"),
        (["resources", "list"], "resources"),
        (["resources", "templates"], "resource templates"),
    ] {
        let env = TestEnv::new();
        let output = run(
            &env,
            "far",
            "http://127.0.0.1:9/mcp",
            &[command[0], command[1], "--cached"],
        );
        assert_eq!(output.status.code(), Some(4), "{command:?}");
        assert!(
            stderr_of(&output).contains(&format!(
                "mcpchat: error: no cached {noun} list (or only a stale one) for MCP server(s) `far`"
            )),
            "{}",
            stderr_of(&output)
        );
        let lines = lines(&output.stdout);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["type"], "error");
        assert_eq!(lines[0]["server"], "far");
    }
}

#[test]
fn the_cached_list_commands_print_the_live_lines_without_connecting() {
    let rec = Recorded::new("ev", everything_http());
    for command in [
        ["prompts", "list"],
        ["resources", "list"],
        ["resources", "templates"],
    ] {
        let live = succeeded(&rec.run(&command));
        assert!(!live.is_empty(), "{command:?}");
        rec.requests();
        let cached = succeeded(&rec.run(&[command[0], command[1], "--cached"]));
        assert_eq!(cached, live, "{command:?}");
        assert_eq!(rec.requests(), Vec::<String>::new(), "{command:?}");
    }
}

#[test]
fn list_changed_marks_the_cached_list_calls_still_go_from_it_and_the_rest_list_again() {
    // A 2025-era session: 2026-07-28 servers send list_changed only on subscriptions/listen.
    let rec = Recorded::new("py", python_http_with(0, &["--list-changers"]));
    let mcpchat = |args: &[&str]| {
        let output = rec
            .cmd(&[])
            .args(["--protocol-version", "2025-11-25"])
            .args(args)
            .output()
            .unwrap();
        succeeded(&output)
    };
    let session = |middle: &[&str]| {
        let mut all = strings(&["POST initialize", "POST notifications/initialized"]);
        all.extend(strings(middle));
        all.push("DELETE".to_string());
        all
    };
    mcpchat(&["tools", "list"]);
    mcpchat(&["prompts", "list"]);
    rec.requests();

    let touched = mcpchat(&["tools", "call", "py__touch_tools"]);
    assert_eq!(touched[0]["text"], "sent");
    assert_eq!(rec.requests(), session(&["POST tools/call"]));
    // Marked, not forgotten: a call still goes from it (a schema that changed would be
    // rejected by the server and listed again), so the warm path stays warm...
    let add = ["tools", "call", "py__add", "-a", "a=2", "-a", "b=3"];
    assert_eq!(mcpchat(&add)[0]["text"], "5");
    assert_eq!(rec.requests(), session(&["POST tools/call"]));
    // ...but it is not shown as the server's list any more.
    let cached = rec
        .cmd(&[])
        .args(["tools", "list", "--cached"])
        .output()
        .unwrap();
    assert_eq!(cached.status.code(), Some(4), "{}", stderr_of(&cached));
    assert_eq!(rec.requests(), Vec::<String>::new());
    mcpchat(&["tools", "list"]);
    rec.requests();

    // The prompts list was untouched so far; touch_prompts drops it, and only it.
    let review = ["prompts", "get", "py__review", "-a", "code=x"];
    mcpchat(&review);
    assert_eq!(rec.requests(), session(&["POST prompts/get"]));
    mcpchat(&["tools", "call", "py__touch_prompts"]);
    assert_eq!(rec.requests(), session(&["POST tools/call"]));
    mcpchat(&review);
    assert_eq!(
        rec.requests(),
        session(&["POST prompts/list", "POST prompts/get"])
    );
    assert_eq!(mcpchat(&add)[0]["text"], "5");
    assert_eq!(rec.requests(), session(&["POST tools/call"]));
}

#[test]
fn a_batch_lists_the_tools_again_after_the_server_says_they_changed() {
    let rec = Recorded::new("py", python_http_with(0, &["--list-changers"]));
    let output = rec
        .cmd(&[])
        .args(["--protocol-version", "2025-11-25"])
        .args(["tools", "call", "--batch", "--jobs", "1"])
        .write_stdin(TOUCH_THEN_ADD)
        .output()
        .unwrap();
    assert_touched_then_added(&output);
    assert_eq!(
        rec.requests(),
        strings(&[
            "POST initialize",
            "POST notifications/initialized",
            "POST tools/list",
            "POST tools/call",
            "POST tools/list",
            "POST tools/call",
            "DELETE",
        ])
    );
}

#[test]
fn a_warm_resources_read_among_two_servers_finds_the_owner_from_the_cached_lists() {
    let rec = Recorded::new("ev", everything_http());
    let python = python_http_with(0, &["--stateless-json"]);
    let read = || {
        let output = rec
            .cmd(&[])
            .args(["--url", &format!("py={}", python.url)])
            .args(["resources", "read", "notes://welcome"])
            .output()
            .unwrap();
        succeeded(&output)
    };
    let cold = read();
    assert_eq!(cold[0]["server"], "py");
    assert_eq!(
        rec.requests(),
        strings(&[
            "POST server/discover",
            "POST initialize",
            "POST notifications/initialized",
            "POST resources/list",
            "POST resources/templates/list",
            "DELETE",
        ])
    );
    let warm = read();
    assert_eq!(warm, cold);
    assert_eq!(
        rec.requests(),
        strings(&[
            "POST initialize",
            "POST notifications/initialized",
            "DELETE"
        ])
    );
}

#[test]
fn a_batch_over_stdio_lists_the_tools_again_after_the_server_says_they_changed() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args([
            "--stdio",
            &format!("py={} --list-changers", python_stdio_cmd()),
        ])
        .args(["--protocol-version", "2025-11-25", "-v"])
        .args(["tools", "call", "--batch", "--jobs", "1"])
        .write_stdin(TOUCH_THEN_ADD)
        .output()
        .unwrap();
    assert_touched_then_added(&output);
    // Over stdio there is no proxy to count requests: the relisting says so at -v.
    let stderr = stderr_of(&output);
    let listings = stderr.matches("the cached tools list looks stale").count();
    assert_eq!(listings, 1, "{stderr}");
}

#[test]
fn a_list_changed_on_a_legacy_sse_stream_drops_the_cached_list_too() {
    let env = TestEnv::new();
    let python = python_http_with(0, &["--list-changers", "--sse"]);
    let url = format!("py={}", python.url.replace("/mcp", "/sse"));
    let mcpchat = |args: &[&str]| env.cmd().args(["--url", &url]).args(args).output().unwrap();
    let listed = succeeded(&mcpchat(&["tools", "list"]));
    assert_eq!(succeeded(&mcpchat(&["tools", "list", "--cached"])), listed);
    let servers = succeeded(&mcpchat(&["servers"]));
    assert_eq!(servers[0]["protocol_version"], "2024-11-05");
    let touched = succeeded(&mcpchat(&["tools", "call", "py__touch_tools"]));
    assert_eq!(touched[0]["text"], "sent");
    let cached = mcpchat(&["tools", "list", "--cached"]);
    assert_eq!(cached.status.code(), Some(4), "{}", stderr_of(&cached));
    assert_eq!(
        stderr_of(&cached).lines().next(),
        Some("mcpchat: error: no cached tools list (or only a stale one) for MCP server(s) `py`")
    );
}

#[test]
fn ask_lists_a_servers_tools_again_when_a_call_says_they_changed() {
    let rec = Recorded::new("py", python_http_with(0, &["--list-changers"]));
    let llm = fakellm();
    let model_log = rec.env.path("model.jsonl");
    let model = record_proxy(&llm, &model_log, "");
    let output = rec
        .cmd(&["--protocol-version", "2025-11-25", "ask"])
        .env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", &model.url)
        .arg("touch the tools and answer #list-changed")
        .output()
        .unwrap();
    let lines = succeeded(&output);
    assert_eq!(lines.last().unwrap()["answer"], "The tools were touched.");
    assert_eq!(
        rec.requests(),
        strings(&[
            "POST initialize",
            "POST notifications/initialized",
            "POST tools/list",
            "POST tools/call",
            "POST tools/list",
            "DELETE",
        ])
    );
    // Both model requests offered the server's tools (the second from the new listing).
    let offered: Vec<usize> = logged_bodies(&model_log)
        .iter()
        .map(|b| b["body"]["tools"].as_array().unwrap().len())
        .collect();
    assert_eq!(offered.len(), 2);
    assert_eq!(offered[0], offered[1]);
    assert!(offered[0] > 2, "{offered:?}");
}

/// Make the cache file of the server named `name` list `uri` as one of its resources, as a
/// stale list would after the resource moved away.
pub(crate) fn plant_cached_resource(env: &TestEnv, name: &str, uri: &str) {
    let dir = env.home().join(".cache/mcpchat/servers");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let mut file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if !file["server"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{name} ("))
        {
            continue;
        }
        for identity in file["identities"].as_object_mut().unwrap().values_mut() {
            identity["resources"] = serde_json::json!({
                "items": [{"uri": uri, "name": "planted"}],
                "fresh_until_ms": u64::MAX / 2,
            });
        }
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
        return;
    }
    panic!("no cache file for `{name}` in {}", dir.display());
}

#[test]
fn a_resource_a_stale_cached_list_places_on_the_wrong_server_is_read_from_the_right_one() {
    let rec = Recorded::new("ev", everything_http());
    let python = python_http_with(0, &["--stateless-json"]);
    let read = || {
        rec.cmd(&[])
            .args(["--url", &format!("py={}", python.url)])
            .args(["resources", "read", "notes://welcome"])
            .output()
            .unwrap()
    };
    let cold = succeeded(&read());
    assert_eq!(cold[0]["server"], "py");
    rec.requests();
    // server-everything's cached list now claims the note (config order puts it first).
    plant_cached_resource(&rec.env, "ev", "notes://welcome");
    assert_eq!(succeeded(&read()), cold);
    assert_eq!(
        rec.requests(),
        strings(&[
            "POST initialize",
            "POST notifications/initialized",
            "POST resources/read",
            "POST resources/list",
            "POST resources/templates/list",
            "DELETE",
        ])
    );
}

#[test]
fn a_logout_forgets_the_lists_cached_for_the_account() {
    let env = TestEnv::new();
    let everything = everything_http();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: ev\n    url: {}\n    auth_type: oauth\n",
            everything.url
        ),
    );
    let list = |cached: bool| {
        let mut cmd = env.cmd();
        cmd.args(["tools", "list"]);
        if cached {
            cmd.arg("--cached");
        }
        cmd.output().unwrap()
    };
    let live = succeeded(&list(false));
    assert_eq!(succeeded(&list(true)), live);
    let output = env.cmd().args(["auth", "logout", "ev"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let output = list(true);
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("no cached tools list"));
}

/// server-everything announces `tools/list_changed` at the start of every session, while the
/// first listing is on its way: that listing answers it (no second `tools/list`), and the
/// cached list stays usable for calls, so every later `tools call` is warm (no `tools/list`).
#[test]
fn server_everythings_announcements_at_session_start_neither_relist_nor_cool_the_cache() {
    let env = TestEnv::new();
    let call = || {
        let output = env
            .cmd()
            .args(["--stdio", &format!("ev={}", everything_stdio_cmd())])
            .args([
                "-vv",
                "tools",
                "call",
                "ev__get-sum",
                "-a",
                "a=2",
                "-a",
                "b=3",
            ])
            .output()
            .unwrap();
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert_eq!(lines(&output.stdout)[0]["text"], "The sum of 2 and 3 is 5.");
        (
            stderr.matches("sending tools/list").count(),
            stderr.matches("tools list changed").count() > 0,
        )
    };
    // Each run saw the announcement, and only the cold one listed, once.
    assert_eq!([call(), call(), call()], [(1, true), (0, true), (0, true)]);
}
