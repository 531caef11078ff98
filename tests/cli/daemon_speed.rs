//! What a kept-alive command sends on the daemon's socket (`src/daemon/overlap.rs`): the
//! same messages in the same order as a plain MCP client, `notifications/initialized` held
//! until the next message, and a daemon that goes away after `initialize` is a failure, not a
//! hang. Against `tests/fakes/kept_exchange.py`, a daemon keeping one fake server.

use std::io::BufRead;
use std::path::PathBuf;

use pretty_assertions::assert_eq;

use crate::support::*;

/// The fake daemon on a private runtime dir, and the log of what it was sent.
struct Fake {
    env: TestEnv,
    child: std::process::Child,
    log: PathBuf,
}

impl Fake {
    fn start(mode: &str) -> Fake {
        let env = TestEnv::new();
        let run = env.dir.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let log = env.path("sent.log");
        let mut child = std::process::Command::new("python3")
            .arg(repo().join("tests/fakes/kept_exchange.py"))
            .arg(run.join("mcpchat/daemon.sock"))
            .arg(&log)
            .arg(env!("CARGO_PKG_VERSION"))
            .arg(mode)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready, "listening\n");
        env.write(
            "mcp_servers.yaml",
            "servers:\n  - {name: k, command: no-such-command-here, keep_alive: true}\n",
        );
        Fake { env, child, log }
    }

    fn call(&self) -> std::process::Output {
        self.env
            .cmd()
            .env("XDG_RUNTIME_DIR", self.env.dir.path().join("run"))
            .args(["--config", "mcp_servers.yaml", "tools", "call", "k__echo"])
            .output()
            .unwrap()
    }

    fn sent(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_kept_call_sends_initialize_initialized_and_its_requests_in_order() {
    let fake = Fake::start("answer");
    let output = fake.call();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let result = &lines(&output.stdout)[0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["text"], "echoed");
    assert_eq!(stderr_of(&output), "");
    assert_eq!(
        fake.sent(),
        "initialize\nnotifications/initialized\ntools/list\ntools/call\n"
    );
}

#[test]
fn a_daemon_that_closes_after_initialize_fails_the_command_with_exit_4() {
    fails_as_closed("close-after-initialize", "initialize\nclose\n");
}

/// The command against the fake in `mode` fails as one whose daemon closed the connection
/// during `tools/list`; the fake saw `sent`.
fn fails_as_closed(mode: &str, sent: &str) {
    let fake = Fake::start(mode);
    let output = fake.call();
    assert_eq!(output.status.code(), Some(4), "{}", stderr_of(&output));
    assert_eq!(output.stdout, b"");
    assert_eq!(
        stderr_of(&output),
        "mcpchat: error: MCP server `k` closed the connection during tools/list\n\
         hint: run with -vv to see the transport's reason\n"
    );
    assert_eq!(fake.sent(), sent);
}

#[test]
fn a_daemon_that_stops_reading_after_initialize_fails_the_command_as_one_that_closed() {
    // The command's next write fails (EPIPE) before any end of the connection is read.
    fails_as_closed("refuse-after-initialize", "initialize\nrefuse\n");
}
