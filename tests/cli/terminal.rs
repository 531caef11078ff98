//! What a server, a model API or an authorization server sends never drives the terminal:
//! control and bidi characters in `--format text` and on stderr show as visible escapes
//! (tests/fakes/hostile_text.py, fault_llm.py `escapes_*`, hostile_as.py `device_escapes`),
//! JSON Lines carry the text as sent, and only https: (or loopback http:) URLs are opened or
//! shown to open (hostile_as.py). PRODUCT.md §9.

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::support::*;

/// What hostile_text.py puts in every text: OSC 52 (clipboard), CSI 2J (clear screen), BEL,
/// a lone CR, U+202E (right-to-left override), a C1 CSI and DEL...
const EVIL: &str = "\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\u{7}\rX\u{202e}evil\u{9b}31m\u{7f}";
/// ...and how people see it.
const SHOWN: &str = r"\x1b]52;c;cHduZWQ=\x07\x1b[2J\x07\rX\u202eevil\u009b31m\x7f";

/// What fault_llm.py's `escapes_*` modes and hostile_as.py put in their texts, and how it shows.
const EVIL_PEER: &str = "\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\rX\u{202e}evil";
const SHOWN_PEER: &str = r"\x1b]52;c;cHduZWQ=\x07\x1b[2J\rX\u202eevil";

fn hostile(env: &TestEnv) -> assert_cmd::Command {
    let mut cmd = env.cmd();
    cmd.arg("--stdio").arg(format!(
        "h=python3 {}",
        repo().join("tests/fakes/hostile_text.py").display()
    ));
    cmd
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// No character a terminal would act on, but `\n` and `\t`.
fn assert_inert(text: &str) {
    let bad = |c: char| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{61c}'
            | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    assert!(
        !text.chars().any(bad),
        "a control character got through: {text:?}"
    );
}

#[test]
fn text_output_shows_a_servers_control_characters_as_visible_escapes() {
    let env = TestEnv::new();
    let output = hostile(&env)
        .args(["tools", "list", "--format", "text"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        stdout_of(&output),
        format!("h__echo\tEchoes.{SHOWN}\nh__fail\nh__paint{SHOWN}\n")
    );

    let output = hostile(&env)
        .args(["tools", "call", "h__echo", "--format", "text"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(stdout_of(&output), format!("result{SHOWN}\n"));

    let output = hostile(&env)
        .args(["servers", "--format", "text"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        stdout_of(&output),
        format!("h\tstdio\t2025-06-18\tsrv{SHOWN} 1.0\n")
    );
}

#[test]
fn json_lines_carry_a_servers_text_as_sent() {
    let env = TestEnv::new();
    let output = hostile(&env).args(["tools", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let printed = lines(&output.stdout);
    let names: Vec<&str> = printed
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["h__echo", "h__fail", &format!("h__paint{EVIL}")]);
    assert_eq!(printed[0]["description"], format!("Echoes.{EVIL}"));
    // JSON-escaped on the wire: the line itself holds no raw ESC, BEL or CR.
    assert!(!output.stdout.contains(&0x1b) && !output.stdout.contains(&b'\r'));

    let output = hostile(&env)
        .args(["tools", "call", "h__echo"])
        .output()
        .unwrap();
    assert_eq!(lines(&output.stdout)[0]["text"], format!("result{EVIL}"));
}

#[test]
fn log_and_progress_notifications_a_stdio_servers_stderr_and_json_rpc_errors_reach_stderr_neutralised()
 {
    let env = TestEnv::new();
    let output = hostile(&env)
        .args(["-v", "tools", "call", "h__echo"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let stderr = stderr_of(&output);
    assert_inert(&stderr);
    // The two come through different pipes: their order is not fixed.
    let mut printed: Vec<&str> = stderr.lines().collect();
    printed.sort();
    assert_eq!(
        printed,
        [
            // tracing writes the C1 CSI as `\u{9b}` itself, before we see it.
            r#" INFO log\x1b]52;c;cHduZWQ=\x07\x1b[2J\x07\rX\u202eevil\u{9b}31m\x7f server=h level=Warning logger="evil""#,
            // Off a terminal, the server's progress is logged.
            r#" INFO progress server="h" progress=1.0 total=2.0 step\x1b]52;c;cHduZWQ=\x07\x1b[2J\x07\rX\u202eevil\u{9b}31m\x7f"#,
            format!("[h] stderr{SHOWN}").as_str(),
        ]
    );

    let output = hostile(&env)
        .args(["tools", "call", "h__fail"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(output.stdout.is_empty());
    assert_eq!(
        stderr_of(&output),
        format!(
            "mcpchat: error: MCP server `h` rejected tools/call `fail`: failed{SHOWN} (code -32000)\n"
        )
    );
}

#[test]
fn a_model_api_error_message_reaches_stderr_neutralised() {
    let env = TestEnv::new();
    let llm = fault_llm("escapes_error", &[]);
    let output = ask(&env, &llm).arg("hello").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr_of(&output),
        format!(
            "mcpchat: error: the model API at {} answered HTTP 400: bad request{SHOWN_PEER}\n",
            llm.url
        )
    );
    let result = lines(&output.stdout).pop().unwrap();
    assert_eq!(result["type"], "result");
    assert_eq!(result["status"], "error");
}

#[test]
fn a_models_answer_is_neutralised_in_text_format_whole_or_streamed_and_sent_as_is_in_json() {
    let env = TestEnv::new();
    let llm = fault_llm("escapes_answer", &[]);
    for stream in [false, true] {
        let mut cmd = ask(&env, &llm);
        if stream {
            cmd.arg("--stream");
        }
        let output = cmd.args(["--format", "text", "hello"]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        assert_eq!(
            stdout_of(&output),
            format!("answer{SHOWN_PEER}\n"),
            "stream: {stream}"
        );
    }
    let output = ask(&env, &llm).arg("hello").output().unwrap();
    let result = lines(&output.stdout).pop().unwrap();
    assert_eq!(result["answer"], format!("answer{EVIL_PEER}"));
}

/// A `$BROWSER` that records its arguments in `browser.log`; the login's config for `url`.
fn browser_and_config(env: &TestEnv, url: &str) -> (String, std::path::PathBuf) {
    let log = env.path("browser.log");
    let script = env.write(
        "browser.sh",
        &format!("#!/bin/sh\necho \"$@\" >> {}\n", log.display()),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    env.write(
        "mcp_servers.yaml",
        &format!("servers:\n  - name: s\n    url: {url}\n    auth_type: oauth\n"),
    );
    (script.display().to_string(), log)
}

fn refusal(what: &str, why: &str) -> String {
    format!(
        "mcpchat: error: OAuth for MCP server `s`: the {what} {why}; only https: URLs (or http: to a loopback address) are opened or shown to open\n\
         hint: the authorization server is misconfigured or hostile: check the MCP server's URL\n"
    )
}

#[test]
fn an_authorization_endpoint_with_a_file_or_custom_scheme_is_never_opened_or_printed() {
    for (mode, scheme) in [("file_endpoint", "file"), ("scheme_endpoint", "evil-app")] {
        let env = TestEnv::new();
        let requests = env.path("as.log");
        let peer = Peer::hostile_as(mode, &requests);
        let (browser, opened) = browser_and_config(&env, &peer.url);
        for no_browser in [false, true] {
            let mut cmd = env.cmd();
            cmd.env("BROWSER", &browser)
                .args(["auth", "login", "s", "--timeout", "10"]);
            if no_browser {
                cmd.arg("--no-browser");
            }
            let output = cmd.output().unwrap();
            assert_eq!(
                output.status.code(),
                Some(3),
                "{mode}: {}",
                stderr_of(&output)
            );
            assert!(output.stdout.is_empty());
            assert_eq!(
                stderr_of(&output),
                refusal("authorization URL", &format!("has the scheme `{scheme}:`")),
                "{mode}, --no-browser: {no_browser}"
            );
        }
        assert!(!opened.exists(), "the browser was run for {mode}");
        // The fake was asked (it is the one refused), and never for a token.
        let asked = std::fs::read_to_string(&requests).unwrap();
        assert!(
            asked.contains("GET /.well-known/oauth-authorization-server"),
            "{asked}"
        );
        assert!(!asked.contains("/token"), "{asked}");
    }
}

#[test]
fn a_device_flow_verification_uri_that_is_not_https_or_loopback_is_refused() {
    for (mode, what, why) in [
        ("device_file", "verification_uri", "has the scheme `file:`"),
        (
            "device_http",
            "verification_uri",
            "is plain http: to `example.com`, which is not a loopback address",
        ),
        (
            "device_complete",
            "verification_uri_complete",
            "has the scheme `javascript:`",
        ),
    ] {
        let env = TestEnv::new();
        let peer = Peer::hostile_as(mode, &env.path("as.log"));
        browser_and_config(&env, &peer.url);
        let output = env
            .cmd()
            .args(["auth", "login", "s", "--device", "--timeout", "10"])
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(3),
            "{mode}: {}",
            stderr_of(&output)
        );
        // No `auth_prompt` line offers it either.
        assert!(output.stdout.is_empty(), "{}", stdout_of(&output));
        assert_eq!(stderr_of(&output), refusal(what, why), "{mode}");
    }
}

#[test]
fn a_device_logins_user_code_and_error_description_reach_stderr_neutralised() {
    let env = TestEnv::new();
    let peer = Peer::hostile_as("device_escapes", &env.path("as.log"));
    browser_and_config(&env, &peer.url);
    let output = env
        .cmd()
        .args(["auth", "login", "s", "--device", "--timeout", "10"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr_of(&output));
    assert_eq!(
        stderr_of(&output),
        format!(
            "To log in to MCP server `s`, open\n\n  https://example.com/device\n\n\
             and enter the code: AB{SHOWN_PEER}\n\n\
             Waiting for the login to be approved (the code expires in 60s).\n\
             mcpchat: error: OAuth for MCP server `s`: device login failed: the login was denied (access_denied: denied{SHOWN_PEER})\n\
             hint: run it again: mcpchat auth login --device s\n"
        )
    );
    // The `auth_prompt` line carries the code as sent.
    let prompt: Value = lines(&output.stdout).remove(0);
    assert_eq!(prompt["user_code"], format!("AB{EVIL_PEER}"));
}

/// Replace the stored access token of the only server in the store.
fn store_access_token(store: &Path, token: &str) {
    let mut stored: Value = serde_json::from_str(&std::fs::read_to_string(store).unwrap()).unwrap();
    let servers = stored["servers"].as_object_mut().unwrap();
    let entry = servers.values_mut().next().unwrap();
    entry["credentials"]["token_response"]["access_token"] = Value::from(token);
    std::fs::write(store, serde_json::to_string(&stored).unwrap()).unwrap();
}

#[test]
fn auth_token_refuses_a_stored_token_with_control_characters_rather_than_print_it() {
    let env = TestEnv::new();
    let ml = mock_llm_oauth();
    logged_in_with_curl(&env, &ml.url);
    store_access_token(&env.token_store(), "token\u{1b}]52;c;cHduZWQ=\u{7}rest");
    let output = env.cmd().args(["auth", "token", "s"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(output.stdout.is_empty(), "{}", stdout_of(&output));
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: the access token stored for MCP server `s` contains characters a token cannot have (control or non-ASCII characters); not printing it\n\
         hint: log in again: mcpchat auth login s\n"
    );
}

#[test]
fn on_a_terminal_a_servers_progress_message_is_drawn_neutralised() {
    let env = TestEnv::new();
    // `script` gives mcpchat a terminal on stderr, so the progress bar is drawn.
    let command = format!(
        "{} --stdio 'h=python3 {}' tools call h__echo > out.jsonl",
        assert_cmd::cargo::cargo_bin("mcpchat").display(),
        repo().join("tests/fakes/hostile_text.py").display()
    );
    let output = std::process::Command::new("script")
        .args(["-qec", &command, "terminal.log"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.home())
        .env("TERM", "xterm")
        .current_dir(env.cwd())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let terminal = std::fs::read_to_string(env.path("terminal.log")).unwrap();
    assert!(
        terminal.contains(&format!("1/2 step{SHOWN}")),
        "{terminal:?}"
    );
    // The bar's own escapes are there; none of the server's.
    for raw in ["\u{1b}]52", "\u{7}", "\u{202e}", "\u{9b}", "\u{7f}"] {
        assert!(
            !terminal.contains(raw),
            "{raw:?} reached the terminal: {terminal:?}"
        );
    }
    let result = lines(&std::fs::read(env.path("out.jsonl")).unwrap()).remove(0);
    assert_eq!(result["text"], format!("result{EVIL}"));
}
