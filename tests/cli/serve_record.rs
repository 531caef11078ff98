//! `mcpchat serve --record FILE` and `mcpchat serve --replay FILE`: sessions recorded through
//! serve in front of server-everything, the in-repo fake upstream and the secret-echoing fake,
//! then replayed to mcpchat itself, the Python SDK's client and raw hosts (stdio, the socket
//! and HTTP) with no upstream at all; the recording's privacy (0600, no link followed, no
//! secret) and a malformed recording (exit 2 with FILE:LINE).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::serve::{comparable, sdk_host, upstream};
use crate::support::host::{Served, post, serve_on_socket};
use crate::support::*;

fn mcpchat() -> String {
    assert_cmd::cargo::cargo_bin("mcpchat")
        .display()
        .to_string()
}

/// `--stdio` for a server named `name` that is `mcpchat serve <serve>` in front of `inner`
/// (global flags of the serve process, such as `--stdio 'a=...'`).
fn served(name: &str, inner: &str, serve: &str) -> String {
    format!("{name}={} --no-cache {inner} serve {serve}", mcpchat())
}

/// mcpchat as a client of `server` (a `--stdio` spec): exit 0 and its comparable lines.
fn client(env: &TestEnv, server: &str, args: &[&str]) -> Vec<Value> {
    client_declaring(env, server, &[], args)
}

/// The same, with `declare` (flags that make mcpchat declare client capabilities).
fn client_declaring(env: &TestEnv, server: &str, declare: &[&str], args: &[&str]) -> Vec<Value> {
    let output = env
        .cmd()
        .args(["--no-cache", "--stdio", server])
        .args(declare)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    comparable(&output.stdout)
}

/// The lines of a recording, parsed.
fn recorded(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

const COMMANDS: [&[&str]; 3] = [
    &["tools", "list"],
    &["tools", "call", "get-sum", r#"{"a": 2, "b": 3}"#],
    &["tools", "call", "echo", "--arg", "message=hi"],
];

#[test]
fn a_replay_of_server_everything_gives_mcpchat_the_same_lines_as_the_real_server() {
    let env = TestEnv::new();
    let file = env.path("everything.jsonl");
    let everything = format!("everything={}", everything_stdio_cmd());
    let recording = served(
        "everything",
        &format!("--stdio '{everything}'"),
        &format!("--record {}", file.display()),
    );
    let replay = format!("everything={} serve --replay {}", mcpchat(), file.display());
    let mut live = Vec::new();
    for args in COMMANDS {
        live.push(client(&env, &recording, args));
    }
    // Three runs appended to one file: three hosts, each answered.
    let lines = recorded(&file);
    let hosts: std::collections::BTreeSet<String> = lines
        .iter()
        .map(|l| format!("{} {}", l["pid"], l["connection"]))
        .collect();
    assert_eq!(hosts.len(), 3, "{hosts:?}");
    let first = &lines[0];
    assert_eq!(first["dir"], "host_to_serve");
    assert_eq!(first["server"], "everything");
    assert_eq!(first["message"]["method"], "initialize");
    assert!(first["time"].as_str().unwrap().ends_with('Z'), "{first}");
    assert_eq!(lines[1]["dir"], "serve_to_host");
    assert_eq!(lines[1]["message"]["id"], first["message"]["id"]);

    for (args, live) in COMMANDS.into_iter().zip(live) {
        // Direct, declaring what serve declares to its upstreams (elicitation in both modes,
        // roots), so server-everything offers the same tools.
        let cwd = env.cwd().display().to_string();
        let serve_declares = ["--elicitation", "ask", "--root", &cwd];
        let direct = client_declaring(&env, &everything, &serve_declares, args);
        assert_eq!(live, direct, "{args:?}: through serve and direct");
        assert_eq!(client(&env, &replay, args), direct, "{args:?}: replayed");
    }
    // The replays were answered from the file alone: nothing was recorded by them.
    assert_eq!(recorded(&file).len(), lines.len());
}

#[test]
fn the_python_sdk_gets_the_same_answers_from_a_replay_in_both_eras() {
    let env = TestEnv::new();
    let file = env.path("sdk.jsonl");
    let file_arg = file.display().to_string();
    let everything = format!("everything={}", everything_stdio_cmd());
    for mode in ["legacy", "auto"] {
        let live = sdk_host(
            &env,
            mode,
            "get-sum",
            r#"{"a": 2, "b": 3}"#,
            &["--stdio", &everything, "serve", "--record", &file_arg],
        );
        assert_eq!(
            live["result"]["content"][0]["text"], "The sum of 2 and 3 is 5.",
            "{mode}"
        );
        let replayed = sdk_host(
            &env,
            mode,
            "get-sum",
            r#"{"a": 2, "b": 3}"#,
            &["serve", "--replay", &file_arg],
        );
        assert_eq!(replayed, live, "{mode}");
    }
}

/// A hand-written recording: one host asked `tools/call` twice with the same params (two
/// answers) and once with others, and got a notification after its first answer.
fn hand_written(env: &TestEnv) -> std::path::PathBuf {
    let call = |id: i64, n: i64| {
        json!({"dir": "host_to_serve", "pid": 9, "connection": 1, "message": {"jsonrpc": "2.0",
            "id": id, "method": "tools/call", "params": {"name": "count", "arguments": {"n": n},
            "_meta": {"progressToken": id}}}})
    };
    let answer = |id: i64, text: &str| {
        json!({"dir": "serve_to_host", "pid": 9, "connection": 1, "message": {"jsonrpc": "2.0",
            "id": id, "result": {"content": [{"type": "text", "text": text}]}}})
    };
    let lines = [
        json!({"dir": "host_to_serve", "pid": 9, "connection": 1, "message": {"jsonrpc": "2.0",
            "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
            "capabilities": {}, "clientInfo": {"name": "recorded-host", "version": "1"}}}}),
        json!({"dir": "serve_to_host", "pid": 9, "connection": 1, "message": {"jsonrpc": "2.0",
            "id": 0, "result": {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
            "serverInfo": {"name": "recorded", "version": "7"}}}}),
        json!({"dir": "host_to_serve", "pid": 9, "connection": 1, "message": {"jsonrpc": "2.0",
            "method": "notifications/initialized"}}),
        call(1, 1),
        answer(1, "first"),
        json!({"dir": "serve_to_host", "pid": 9, "connection": 1, "message": {"jsonrpc": "2.0",
            "method": "notifications/tools/list_changed"}}),
        call(2, 1),
        answer(2, "second"),
    ];
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    env.write("hand.jsonl", &(text.join("\n") + "\n"))
}

/// Lines to a replay on its stdin; every line it wrote once stdin closed.
fn raw_replay(env: &TestEnv, file: &Path, messages: &[Value]) -> (Option<i32>, Vec<Value>) {
    let mut child = env
        .std_cmd()
        .args(["serve", "--replay"])
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for message in messages {
        writeln!(stdin, "{message}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert_eq!(stderr_of(&output), "");
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (output.status.code(), lines)
}

fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

#[test]
fn answers_come_in_recorded_order_with_their_notifications_and_the_last_one_repeats() {
    let env = TestEnv::new();
    let file = hand_written(&env);
    let count = |n: i64| json!({"arguments": {"n": n}, "name": "count"});
    let (code, lines) = raw_replay(
        &env,
        &file,
        &[
            request(
                10,
                "initialize",
                json!({"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "another-host", "version": "2"}}),
            ),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            request(11, "tools/call", count(1)),
            request(12, "tools/call", count(1)),
            request(13, "tools/call", count(1)),
            request(14, "ping", json!({})),
        ],
    );
    assert_eq!(code, Some(0));
    let text = |id: i64, text: &str| json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": text}]}});
    assert_eq!(
        lines,
        vec![
            json!({"jsonrpc": "2.0", "id": 10, "result": {"protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}}, "serverInfo": {"name": "recorded", "version": "7"}}}),
            text(11, "first"),
            json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}),
            text(12, "second"),
            text(13, "second"),
            json!({"jsonrpc": "2.0", "id": 14, "result": {}}),
        ]
    );
}

#[test]
fn a_request_no_recording_matches_gets_an_error_naming_its_method_and_params() {
    let env = TestEnv::new();
    let file = hand_written(&env);
    let (code, lines) = raw_replay(
        &env,
        &file,
        &[
            request(
                1,
                "tools/call",
                json!({"name": "count", "arguments": {"n": 2}}),
            ),
            request(2, "tools/list", json!({})),
            json!({"jsonrpc": "2.0", "id": 3, "method": 7}),
            json!("not a message"),
        ],
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        lines,
        vec![
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32000,
                "message": "no recording matches tools/call with params 6a57145b"}}),
            json!({"jsonrpc": "2.0", "id": 2, "error": {"code": -32000,
                "message": "no recording matches tools/list with params 44136fa3"}}),
            json!({"jsonrpc": "2.0", "id": 3, "error": {"code": -32600,
                "message": "invalid request"}}),
        ]
    );
}

#[test]
fn a_malformed_recording_exits_2_with_its_file_and_line() {
    let env = TestEnv::new();
    let file = env.write(
        "bad.jsonl",
        "{\"dir\": \"host_to_serve\", \"message\": {\"jsonrpc\": \"2.0\", \"method\": \"x\"}}\n\n{\"dir\": \"sideways\", \"message\": {}}\n",
    );
    let output = env
        .cmd()
        .args(["serve", "--replay"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(output.stdout, b"");
    assert_eq!(
        stderr_of(&output),
        format!(
            "mcpchat: error: {}:3: unknown `dir` `sideways`\n\
             hint: a recording is what `mcpchat serve --record FILE` writes: one JSON object a line with `dir` and `message`\n",
            file.display()
        )
    );
    let with_a_server = env
        .cmd()
        .args(["--url", "a=http://127.0.0.1:9/mcp", "serve", "--replay"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(with_a_server.status.code(), Some(2));
    assert_eq!(
        stderr_of(&with_a_server),
        "mcpchat: error: serve --replay answers from the recording alone; it takes no --server, --url or --stdio\n"
    );
    let missing = env
        .cmd()
        .args(["serve", "--replay", "nowhere.jsonl"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr_of(&missing),
        "mcpchat: error: cannot read the recording nowhere.jsonl: No such file or directory (os error 2)\n"
    );
}

#[test]
fn the_recording_is_0600_and_never_written_through_a_link() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let file = env.write("old.jsonl", "");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = served(
        "a",
        &format!("--stdio '{a}'"),
        &format!("--record {}", file.display()),
    );
    client(&env, &server, &["tools", "call", "whoami", "{}"]);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        recorded(&file)
            .iter()
            .filter(|l| l["message"]["method"] == "tools/call")
            .count(),
        1
    );
    let fresh = env.path("new/dir/rec.jsonl");
    let server = served(
        "a",
        &format!("--stdio '{a}'"),
        &format!("--record {}", fresh.display()),
    );
    client(&env, &server, &["tools", "list"]);
    assert_eq!(mode(&fresh), 0o600);
    assert_eq!(mode(fresh.parent().unwrap()), 0o700);

    let logged = std::fs::read_to_string(&log).unwrap();
    let victim = env.write("victim", "precious");
    let link = env.path("link.jsonl");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let output = env
        .cmd()
        .args(["--no-cache", "--stdio", &a, "serve", "--record"])
        .arg(&link)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_of(&output),
        format!(
            "mcpchat: error: cannot write the recording {}: Too many levels of symbolic links (os error 40)\n\
             hint: it is a symbolic link; serve records only to a file it opens itself\n",
            link.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // Refused before any server was started.
    assert_eq!(std::fs::read_to_string(&log).unwrap(), logged);
}

#[test]
fn no_upstream_secret_reaches_the_recording() {
    const QUERY: &str = "q5ecretQueryValue81";
    const BEARER: &str = "b5ecretBearerValue27";
    let env = TestEnv::new();
    let peer = Peer::echo_secrets("");
    let file = env.path("secret.jsonl");
    let inner = format!(
        "--url 'echo=http://127.0.0.1:{}/mcp?token={QUERY}' -H 'Authorization: Bearer {BEARER}'",
        peer.port
    );
    let server = served("echo", &inner, &format!("--record {}", file.display()));
    client(&env, &server, &["tools", "call", "echo", "{}"]);
    let text = std::fs::read_to_string(&file).unwrap();
    // The echoes were recorded (masked), so the check below is not vacuous.
    assert!(text.contains("query token=***"), "{text}");
    assert!(text.contains("credential ***"), "{text}");
    for secret in [QUERY, BEARER] {
        assert!(!text.contains(secret), "{secret} reached the recording");
    }
}

#[test]
fn a_session_recorded_over_http_replays_over_stdio_a_socket_and_http() {
    let env = TestEnv::new();
    let log = env.path("upstreams.log");
    let a = upstream("a", &log);
    let file = env.path("http.jsonl");
    let file_arg = file.display().to_string();
    let serve = Served::start(
        &env,
        &["--stdio", &a],
        "127.0.0.1:0",
        &["--record", &file_arg],
    );
    let url = serve.url.clone();
    let over_http = format!("a={url}");
    let run = |args: &[&str]| {
        let output = env
            .cmd()
            .args(["--no-cache", "--url", &over_http])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        comparable(&output.stdout)
    };
    let listed = run(&["tools", "list"]);
    let called = run(&["tools", "call", "whoami", r#"{"x": 1}"#]);
    assert_eq!(serve.stop().0, Some(130));
    assert_eq!(called[0]["text"], "a got whoami");

    // mcpchat spoke 2026-07-28 over HTTP (stateless); over stdio it is asked to.
    let replay = format!("a={} serve --replay {file_arg}", mcpchat());
    let era = ["--protocol-version", "2026-07-28"];
    assert_eq!(
        client(&env, &replay, &[&era[..], &["tools", "list"]].concat()),
        listed
    );
    assert_eq!(
        client(
            &env,
            &replay,
            &[&era[..], &["tools", "call", "whoami", r#"{"x": 1}"#]].concat()
        ),
        called
    );

    let socket = env.path("run/replay.sock");
    let mut served = serve_on_socket(&env, &["serve", "--replay", &file_arg], &socket);
    assert_eq!(mode(&socket), 0o600);
    for _ in 0..2 {
        // Each connection replays from the start; a host of the 2025 era (no protocol
        // version in `_meta`) gets the 2026-07-28 answer, the only one recorded.
        let stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        writeln!(
            writer,
            "{}",
            request(
                5,
                "tools/call",
                json!({"name": "whoami", "arguments": {"x": 1}})
            )
        )
        .unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["id"], 5);
        assert_eq!(answer["result"]["content"][0]["text"], "a got whoami");
    }
    unsafe {
        libc::kill(served.id() as i32, libc::SIGTERM);
    }
    assert_eq!(served.wait().unwrap().code(), Some(130));
    assert!(!socket.exists());

    // And over HTTP again, with no upstream behind it.
    let replaying = Served::start(&env, &[], "127.0.0.1:0", &["--replay", &file_arg]);
    let url = replaying.url.clone();
    let over_http = format!("a={url}");
    let run = |args: &[&str]| {
        let output = env
            .cmd()
            .args(["--no-cache", "--url", &over_http])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        comparable(&output.stdout)
    };
    assert_eq!(run(&["tools", "list"]), listed);
    assert_eq!(run(&["tools", "call", "whoami", r#"{"x": 1}"#]), called);
    assert_eq!(replaying.stop().0, Some(130));
}

#[test]
fn over_http_a_replay_streams_the_notifications_after_an_answer_and_keeps_the_origin_rule() {
    let env = TestEnv::new();
    let file = hand_written(&env);
    let replaying = Served::start(
        &env,
        &[],
        "127.0.0.1:0",
        &["--replay", &file.display().to_string()],
    );
    let url = replaying.url.clone();
    let (status, head, body) = post(&url, &[], &request(1, "initialize", json!({})));
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/json"), "{head}");
    let session = head
        .lines()
        .find_map(|line| line.strip_prefix("mcp-session-id: "))
        .unwrap_or_else(|| panic!("no session: {head}"))
        .to_string();
    let init: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(init["result"]["serverInfo"]["name"], "recorded");

    let call = request(
        2,
        "tools/call",
        json!({"name": "count", "arguments": {"n": 1}}),
    );
    let with_session = format!("mcp-session-id: {session}");
    let (status, head, body) = post(&url, &[&with_session], &call);
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert_eq!(
        body,
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"first\"}]}}\n\n\
         event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n"
    );
    let notification = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(&url, &[&with_session], &notification).0, 202);
    let (status, _, body) = post(&url, &["origin: http://evil.example"], &call);
    assert_eq!(
        (status, body.as_str()),
        (403, "Forbidden: Origin header is not allowed")
    );
    assert_eq!(replaying.stop().0, Some(130));
}
