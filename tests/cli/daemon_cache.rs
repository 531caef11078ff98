//! The list cache through the daemon: a command's `--no-cache` and `--refresh` reach the
//! kept server, as directly (the daemon does not answer them from its own cache).

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::daemon::Daemon;
use crate::support::*;

/// How many `tools/list` and `prompts/list` requests reached the fake upstream so far.
fn lists_asked(log: &std::path::Path) -> (usize, usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let methods: Vec<String> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|line| line["message"]["method"].as_str().map(str::to_string))
        .collect();
    let count = |m: &str| methods.iter().filter(|x| *x == m).count();
    (count("tools/list"), count("prompts/list"))
}

#[test]
fn no_cache_and_refresh_reach_a_kept_server_and_a_plain_list_comes_from_the_cache() {
    let daemon = Daemon::new();
    let log = daemon.env.dir.path().join("upstream.jsonl");
    let text = format!(
        "servers:\n  - name: up\n    command: python3\n    args: [{}, up, {}]\n    keep_alive: true\n",
        repo().join("tests/fakes/serve_upstream.py").display(),
        log.display()
    );
    daemon.env.write("mcp_servers.yaml", &text);
    let list = |extra: &[&str], what: &str| {
        let output = daemon
            .cmd()
            .args(extra)
            .args([what, "list"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        lines(&output.stdout).len()
    };
    assert_eq!(list(&[], "tools"), 4);
    assert_eq!(lists_asked(&log).0, 1, "the first listing asks the server");
    assert_eq!(list(&[], "tools"), 4);
    assert_eq!(
        lists_asked(&log).0,
        1,
        "a fresh cached list is not asked again"
    );
    assert_eq!(list(&["--no-cache"], "tools"), 4);
    assert_eq!(lists_asked(&log).0, 2, "--no-cache asks the kept server");
    assert_eq!(list(&["--refresh"], "tools"), 4);
    assert_eq!(lists_asked(&log).0, 3, "--refresh asks the kept server");
    assert_eq!(list(&[], "prompts"), 1);
    let prompts = lists_asked(&log).1;
    assert_eq!(list(&["--no-cache"], "prompts"), 1);
    assert_eq!(
        lists_asked(&log).1,
        prompts + 1,
        "--no-cache asks for prompts too"
    );
    let status = daemon.status();
    assert_eq!(status.len(), 1, "one kept server: {status:?}");
}
