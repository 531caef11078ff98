//! Roots: `roots:` per server and `--root DIR`, announced only when configured, answered with
//! `file://` URIs of canonical paths; against the official filesystem server started without
//! directory arguments (it works only inside the client's roots) and
//! `tests/fakes/elicit_server.py`.

use std::path::PathBuf;
use std::sync::OnceLock;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// `@modelcontextprotocol/server-filesystem`, installed by `tests/peers/install_filesystem.sh`.
fn filesystem_cmd() -> String {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let output = std::process::Command::new("bash")
            .arg(repo().join("tests/peers/install_filesystem.sh"))
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run tests/peers/install_filesystem.sh");
        assert!(output.status.success(), "install_filesystem.sh failed");
        PathBuf::from(
            String::from_utf8(output.stdout)
                .unwrap()
                .lines()
                .last()
                .unwrap(),
        )
    });
    format!(
        "node {}",
        dir.join("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js")
            .display()
    )
}

fn fake_cmd() -> String {
    format!(
        "python3 {}",
        repo().join("tests/fakes/elicit_server.py").display()
    )
}

/// The JSON object a fake tool answered with.
fn answered(output: &std::process::Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(output));
    let lines = lines(&output.stdout);
    serde_json::from_str(lines[0]["text"].as_str().unwrap()).unwrap()
}

/// A work dir with `inside/a.txt` and `outside/b.txt`.
fn two_dirs(env: &TestEnv) -> (PathBuf, PathBuf) {
    let inside = env.cwd().join("inside");
    let outside = env.cwd().join("outside");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(inside.join("a.txt"), "hello from inside\n").unwrap();
    std::fs::write(outside.join("b.txt"), "not for the server\n").unwrap();
    (inside, outside)
}

fn read_file(env: &TestEnv, roots: &[&str], path: &std::path::Path) -> std::process::Output {
    let mut cmd = env.cmd();
    cmd.args(["--stdio", &format!("fs={}", filesystem_cmd())]);
    for root in roots {
        cmd.args(["--root", root]);
    }
    cmd.args(["tools", "call", "fs__read_text_file"])
        .arg(json!({"path": path}).to_string())
        .output()
        .unwrap()
}

#[test]
fn the_filesystem_server_reads_inside_its_root_and_refuses_outside() {
    let env = TestEnv::new();
    let (inside, outside) = two_dirs(&env);
    // Twice: the second run has the tools list cached and sends the call at once.
    for _ in 0..2 {
        let output = read_file(&env, &["inside"], &inside.join("a.txt"));
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert_eq!(lines(&output.stdout)[0]["text"], "hello from inside\n");
    }
    let output = read_file(&env, &["inside"], &outside.join("b.txt"));
    assert_eq!(output.status.code(), Some(1));
    let text = lines(&output.stdout)[0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    let canonical = std::fs::canonicalize(&inside).unwrap();
    assert_eq!(
        text,
        format!(
            "Access denied - path outside allowed directories: {} not in {}",
            std::fs::canonicalize(&outside)
                .unwrap()
                .join("b.txt")
                .display(),
            canonical.display()
        )
    );
}

#[test]
fn without_roots_the_filesystem_server_has_no_directory_and_refuses_every_path() {
    let env = TestEnv::new();
    let (inside, _) = two_dirs(&env);
    let output = read_file(&env, &[], &inside.join("a.txt"));
    assert_eq!(output.status.code(), Some(1));
    let line = &lines(&output.stdout)[0];
    assert_eq!(line["is_error"], true);
    assert_eq!(
        line["text"],
        format!(
            "Access denied - path outside allowed directories: {} not in ",
            std::fs::canonicalize(&inside)
                .unwrap()
                .join("a.txt")
                .display()
        )
    );
}

#[test]
fn roots_are_announced_only_when_configured() {
    let env = TestEnv::new();
    let (inside, _) = two_dirs(&env);
    let stdio = format!("e={}", fake_cmd());
    let output = env
        .cmd()
        .args(["--stdio", &stdio, "tools", "call", "e__caps"])
        .output()
        .unwrap();
    assert_eq!(answered(&output)["capabilities"].get("roots"), None);
    let output = env
        .cmd()
        .args(["--stdio", &stdio, "tools", "call", "e__roots"])
        .output()
        .unwrap();
    assert_eq!(answered(&output)["error"]["code"], -32601);

    // A link to the directory is announced as the directory it points at.
    std::os::unix::fs::symlink(&inside, env.cwd().join("link to inside")).unwrap();
    let output = env
        .cmd()
        .args([
            "--stdio",
            &stdio,
            "--root",
            "link to inside",
            "tools",
            "call",
            "e__caps",
        ])
        .output()
        .unwrap();
    assert_eq!(
        answered(&output)["capabilities"]["roots"],
        json!({"listChanged": true})
    );
    let output = env
        .cmd()
        .args([
            "--stdio",
            &stdio,
            "--root",
            "link to inside",
            "--root",
            "inside",
        ])
        .args(["tools", "call", "e__roots"])
        .output()
        .unwrap();
    let uri = url_of(&std::fs::canonicalize(&inside).unwrap());
    assert_eq!(
        answered(&output)["roots"],
        json!({"roots": [{"uri": uri, "name": "inside"}]})
    );
}

/// `file://` and the path, percent-encoded as a URL path is.
fn url_of(path: &std::path::Path) -> String {
    let mut uri = String::from("file://");
    for byte in path.to_str().unwrap().bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => {
                uri.push(byte as char)
            }
            other => uri.push_str(&format!("%{other:02X}")),
        }
    }
    uri
}

#[test]
fn config_roots_expand_home_and_variables_and_are_percent_encoded() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.home().join("my projects")).unwrap();
    std::fs::create_dir_all(env.cwd().join("data dir")).unwrap();
    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: e\n    command: python3\n    args: [{}]\n    roots: [\"~/my projects\", \"${{DATA}}\"]\n",
            repo().join("tests/fakes/elicit_server.py").display()
        ),
    );
    let output = env
        .cmd()
        .env("DATA", "data dir")
        .args(["tools", "call", "e__roots"])
        .output()
        .unwrap();
    let home = std::fs::canonicalize(env.home().join("my projects")).unwrap();
    let data = std::fs::canonicalize(env.cwd().join("data dir")).unwrap();
    assert_eq!(
        answered(&output)["roots"],
        json!({"roots": [
            {"uri": url_of(&home), "name": "my projects"},
            {"uri": url_of(&data), "name": "data dir"}
        ]})
    );
    assert!(url_of(&home).ends_with("/my%20projects"));
}

#[test]
fn a_root_that_does_not_exist_exits_2_with_its_place() {
    let env = TestEnv::new();
    let output = env
        .cmd()
        .args(["--stdio", &format!("e={}", fake_cmd())])
        .args(["--root", "nowhere", "tools", "call", "e__caps"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: --root nowhere: root `nowhere` does not exist\n"
    );

    env.write(
        "mcp_servers.yaml",
        &format!(
            "servers:\n  - name: e\n    command: python3\n    args: [{}]\n    roots:\n      - ./gone\n",
            repo().join("tests/fakes/elicit_server.py").display()
        ),
    );
    let output = env
        .cmd()
        .args(["tools", "call", "e__caps"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output).lines().next().unwrap(),
        "mcpchat: error: mcp_servers.yaml:5:5: server `e`: root `./gone` does not exist"
    );
}

/// The `asks_for_roots` the cache holds for the only server of `env` (None: not written).
fn remembered_asks_for_roots(env: &TestEnv) -> Option<Value> {
    let dir = env.home().join(".cache/mcpchat/servers");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(files.remove(0)).unwrap()).unwrap();
    let identities = file["identities"].as_object().unwrap();
    assert_eq!(identities.len(), 1, "{file}");
    identities
        .values()
        .next()
        .unwrap()
        .get("asks_for_roots")
        .cloned()
}

#[test]
fn a_server_that_did_not_ask_for_roots_is_not_waited_for_on_the_next_run() {
    let env = TestEnv::new();
    two_dirs(&env);
    // elicit_server.py asks for roots only inside its `roots` tool, never after the handshake.
    let run = || {
        env.cmd()
            .args([
                "-vv",
                "--stdio",
                &format!("e={}", fake_cmd()),
                "--root",
                "inside",
            ])
            .args(["tools", "call", "e__caps"])
            .output()
            .unwrap()
    };
    let not_waiting = "not waiting for roots/list: the server did not ask for roots last time";
    let first = run();
    assert_eq!(
        answered(&first)["capabilities"]["roots"],
        json!({"listChanged": true})
    );
    assert!(
        !stderr_of(&first).contains(not_waiting),
        "{}",
        stderr_of(&first)
    );
    assert_eq!(remembered_asks_for_roots(&env), Some(json!(false)));
    let second = run();
    assert_eq!(
        answered(&second)["capabilities"]["roots"],
        json!({"listChanged": true})
    );
    assert!(
        stderr_of(&second).contains(not_waiting),
        "{}",
        stderr_of(&second)
    );
}

#[test]
fn the_filesystem_server_is_remembered_as_asking_for_roots_and_waited_for_again() {
    let env = TestEnv::new();
    let (inside, _) = two_dirs(&env);
    for _ in 0..2 {
        let output = read_file(&env, &["inside"], &inside.join("a.txt"));
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert_eq!(lines(&output.stdout)[0]["text"], "hello from inside\n");
        assert_eq!(remembered_asks_for_roots(&env), Some(json!(true)));
    }
}
