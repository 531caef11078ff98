//! `--elicitation ask` on a pseudo-terminal (`script`, util-linux, gives mcpchat a terminal for
//! stdin and stderr while stdout goes to a file): answers typed, defaults kept with Enter, a bad
//! answer asked again, a secret typed without echo, `:d` declines, Ctrl-C cancels the form
//! (not mcpchat). The test types each answer only once its question is on the screen.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::*;

/// mcpchat running under `script`: what the terminal showed so far, and its keyboard.
struct Terminal {
    child: Child,
    screen: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl Terminal {
    /// `mcpchat ARGS > out.jsonl` on a fresh pseudo-terminal (the default mode there is `ask`).
    fn start(env: &TestEnv, args: &str) -> Terminal {
        let bin = assert_cmd::cargo::cargo_bin("mcpchat");
        let command = format!("{} {args} > out.jsonl", bin.display());
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", env.home())
            .env("XDG_CACHE_HOME", env.home().join(".cache"))
            .env("TERM", "xterm")
            .current_dir(env.cwd())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("script (util-linux) runs a command on a pseudo-terminal");
        let screen = Arc::new(Mutex::new(String::new()));
        let mut stdout = child.stdout.take().unwrap();
        let shown = screen.clone();
        let reader = std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                shown
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Terminal {
            child,
            screen,
            reader,
        }
    }

    /// Wait until `text` has been shown `times` times in all (a deadline only against a hang).
    fn wait_for(&self, text: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.screen.lock().unwrap().matches(text).count() < times {
            assert!(
                Instant::now() < deadline,
                "never shown {times}x: {text:?}\n{}",
                self.screen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_text(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Wait for the end; the screen and the stdout lines.
    fn finish(mut self, env: &TestEnv) -> (String, Vec<Value>) {
        let status = self.child.wait().unwrap();
        // `script` has exited: its stdout is closed and the reader has every byte.
        self.reader.join().unwrap();
        assert!(status.success(), "{}", self.screen.lock().unwrap());
        let screen = self.screen.lock().unwrap().clone();
        let stdout = std::fs::read(env.path("out.jsonl")).unwrap();
        (screen, lines(&stdout))
    }
}

fn fake_call(tool: &str) -> String {
    format!(
        "--stdio 'e=python3 {}' tools call e__{tool}",
        repo().join("tests/fakes/elicit_server.py").display()
    )
}

fn answered(line: &Value) -> Value {
    serde_json::from_str(line["text"].as_str().unwrap()).unwrap()
}

#[test]
fn a_form_is_asked_field_by_field_with_defaults_retries_and_a_hidden_secret() {
    let env = TestEnv::new();
    let mut terminal = Terminal::start(&env, &fake_call("form"));
    terminal.wait_for("Who you are (required)\r\n  text: ", 1);
    terminal.type_text("Ann\n");
    terminal.wait_for("Password (required)\r\n  text: ", 1);
    terminal.type_text("hunter22\n");
    terminal.wait_for("  integer from 0 to 150 [30]: ", 1);
    terminal.type_text("200\n");
    terminal.wait_for("  integer from 0 to 150 [30]: ", 2);
    terminal.type_text("\n");
    terminal.wait_for("  choose 1-2: ", 1);
    terminal.type_text("Green\n");
    terminal.wait_for("  y/n [n]: ", 1);
    terminal.type_text("\n");
    let (screen, lines) = terminal.finish(&env);

    assert_eq!(
        lines[0]["content"],
        json!({"user": "Ann", "password": "***", "age": 30, "color": "g", "subscribe": false})
    );
    assert_eq!(answered(&lines[1])["password_reversed"], "22retnuh");
    // The server's escape is shown, not obeyed; the secret was never echoed.
    assert!(
        screen.contains("mcpchat: MCP server `e` asks: \\x1b[2JPlease sign in\r\n"),
        "{screen}"
    );
    assert!(!screen.contains("hunter22"), "{screen}");
    assert!(
        screen.contains(
            "  200 is greater than the maximum of 150; try again (:d declines, :c cancels)\r\n"
        ),
        "{screen}"
    );
    assert!(screen.contains("  1) Red\r\n  2) Green\r\n"), "{screen}");
}

#[test]
fn colon_d_declines_the_form() {
    let env = TestEnv::new();
    let mut terminal = Terminal::start(&env, &fake_call("form"));
    terminal.wait_for("  text: ", 1);
    terminal.type_text(":d\n");
    let (_, lines) = terminal.finish(&env);
    assert_eq!(lines[0]["action"], "decline");
    assert_eq!(lines[0]["content"], Value::Null);
    assert_eq!(answered(&lines[1])["result"], json!({"action": "decline"}));
}

#[test]
fn ctrl_c_cancels_the_form_and_mcpchat_goes_on() {
    let env = TestEnv::new();
    let mut terminal = Terminal::start(&env, &fake_call("form"));
    terminal.wait_for("  text: ", 1);
    terminal.type_text("An\x03");
    let (_, lines) = terminal.finish(&env);
    assert_eq!(lines[0]["action"], "cancel");
    // The call went on: the server got the cancel and answered.
    assert_eq!(lines[1]["type"], "tool_result");
    assert_eq!(answered(&lines[1])["result"], json!({"action": "cancel"}));
}

#[test]
fn server_everythings_form_is_answered_on_the_terminal() {
    let env = TestEnv::new();
    let mut terminal = Terminal::start(
        &env,
        &format!(
            "--stdio 'everything={}' tools call everything__trigger-elicitation-request",
            everything_stdio_cmd()
        ),
    );
    terminal.wait_for("Your full, legal name (required)\r\n  text: ", 1);
    terminal.type_text("Ann\n");
    terminal.wait_for("  y/n: ", 1);
    terminal.type_text("y\n");
    // Every other field: its default, or left out.
    for prompt in [
        "  text [It was a dark and stormy night.]: ",
        "  email: ",
        "  uri: ",
        "  date: ",
        "  integer from 1 to 100 [42]: ",
        "  number from 0 to 1000 [3.14]: ",
        "  choose 1-6 [Monica]: ",
        "separated by commas, 1 to 3 of them [Guitar]: ",
        "  choose 1-3 [Superman]: ",
        "separated by commas, 1 to 3 of them [Tuna]: ",
    ] {
        terminal.wait_for(prompt, 1);
        terminal.type_text("\n");
    }
    terminal.wait_for("  choose 1-5 [Cats]: ", 1);
    terminal.type_text("2\n");
    let (_, lines) = terminal.finish(&env);
    assert_eq!(lines[0]["action"], "accept");
    assert_eq!(lines[0]["content"]["name"], "Ann");
    assert_eq!(lines[0]["content"]["legacyTitledEnum"], "pet-2");
    assert_eq!(
        lines[0]["content"]["titledMultipleSelectEnum"],
        json!(["fish-1"])
    );
    let text = lines[1]["text"].as_str().unwrap();
    assert!(text.contains("- Name: Ann\n"), "{text}");
    assert!(text.contains("- Agreed to terms: true\n"), "{text}");
}
