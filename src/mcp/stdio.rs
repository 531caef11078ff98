//! Starting a stdio MCP server: its own process group (registered with `children`, so it
//! cannot outlive us), stderr captured, its last lines kept for error messages and forwarded
//! to ours only with `-v`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rmcp::transport::TokioChildProcess;
use tokio::io::AsyncBufReadExt;

use super::Context;
use crate::config::{ServerConfig, Transport};
use crate::exit::{Failure, Kind};
use crate::redact;

/// The last lines a stdio server wrote to stderr, for error messages.
pub(super) type StderrTail = Arc<Mutex<VecDeque<String>>>;

/// How many stderr lines are kept for error messages.
const TAIL_LINES: usize = 20;

pub(super) struct Child {
    pub pid: u32,
    pub stderr_tail: StderrTail,
}

pub(super) fn spawn_child(
    server: &ServerConfig,
    context: &Context,
) -> Result<(TokioChildProcess, Child), Failure> {
    let Transport::Stdio {
        command,
        args,
        env,
        cwd,
    } = &server.transport
    else {
        return Err(Failure::new(Kind::Internal, "not a stdio server"));
    };
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .kill_on_drop(true);
    // Its own process group: Ctrl-C in the terminal reaches only us, and we end the whole
    // group (wrappers like npx spawn grandchildren).
    cmd.process_group(0);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| spawn_failure(server, command, &e))?;
    let pid = transport.id().unwrap_or(0);
    if pid != 0 {
        super::children::register(pid);
    }
    let stderr_tail: StderrTail = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = stderr {
        read_stderr(
            stderr,
            stderr_tail.clone(),
            &server.name,
            context.forward_stderr,
        );
    }
    Ok((transport, Child { pid, stderr_tail }))
}

fn spawn_failure(server: &ServerConfig, command: &str, error: &std::io::Error) -> Failure {
    let failure = Failure::new(
        Kind::Unreachable,
        format!(
            "cannot start stdio MCP server `{}` (`{}`): {error}",
            server.name,
            redact::text(command)
        ),
    );
    if error.kind() == std::io::ErrorKind::NotFound {
        failure.hint(format!(
            "is `{}` installed and on PATH?",
            redact::text(command)
        ))
    } else {
        failure
    }
}

/// Keep the child's last stderr lines (redacted), and forward them with `-v`.
fn read_stderr(stderr: tokio::process::ChildStderr, tail: StderrTail, name: &str, forward: bool) {
    let name = name.to_string();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let line = redact::text(&line);
            if forward {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("[{name}] {line}");
                }
            }
            let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    });
}
