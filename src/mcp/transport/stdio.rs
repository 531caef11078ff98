//! Starting a stdio MCP server and speaking to it: its own process group (registered with
//! `children`, so it cannot outlive us), stderr captured as bounded lines, its last lines kept for error
//! messages and forwarded to ours only with `-v`; stdout read as bounded lines by
//! [`framing`](super::framing), so an oversized or garbled reply fails its request at once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::watch;

use super::framing::{Frame, Line, Lines, Pending, decode, too_large};
use crate::config::{self, ServerConfig};
use crate::exit::{Failure, Kind};
use crate::mcp::Context;
use crate::redact;

/// The last lines a stdio server wrote to stderr, for error messages.
pub(in crate::mcp) type StderrTail = Arc<Mutex<VecDeque<String>>>;

/// How many stderr lines are kept for error messages.
const TAIL_LINES: usize = 20;

pub(in crate::mcp) struct Child {
    pub pid: u32,
    stderr_tail: StderrTail,
    /// Never sent on: it changes (to closed) when the stderr reader reaches EOF and drops its
    /// sender, which is how [`Child::last_words`] knows every line is in.
    stderr_open: watch::Receiver<()>,
}

impl Child {
    /// The child's last stderr lines, once its stderr has closed or `bound` has passed (a
    /// grandchild may hold the pipe open after the server itself is gone).
    pub async fn last_words(&self, bound: Duration) -> Vec<String> {
        let mut open = self.stderr_open.clone();
        let _ = tokio::time::timeout(bound, open.changed()).await;
        self.stderr_tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }
}

pub(in crate::mcp) fn spawn_child(
    server: &ServerConfig,
    context: &Context,
) -> Result<(StdioTransport, Child), Failure> {
    let config::Transport::Stdio {
        command,
        args,
        env,
        cwd,
    } = &server.transport
    else {
        return Err(Failure::new(Kind::Internal, "not a stdio server"));
    };
    let mut cmd = tokio::process::Command::new(command);
    if context.clear_env {
        cmd.env_clear();
    }
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .kill_on_drop(true);
    // Its own process group: Ctrl-C in the terminal reaches only us, and we end the whole
    // group (wrappers like npx spawn grandchildren).
    cmd.process_group(0);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut process = cmd
        .spawn()
        .map_err(|e| spawn_failure(server, command, &e))?;
    let pid = process.id().unwrap_or(0);
    if pid != 0 {
        super::children::register(pid);
    }
    let stderr = process.stderr.take();
    let (Some(stdin), Some(stdout)) = (process.stdin.take(), process.stdout.take()) else {
        return Err(Failure::new(
            Kind::Internal,
            "the child's stdin or stdout was not piped",
        ));
    };
    let transport = StdioTransport {
        server: Arc::from(server.name.as_str()),
        lines: Lines::new(stdout, server.max_message_bytes),
        stdin: Arc::new(tokio::sync::Mutex::new(Some(stdin))),
        process,
        pending: Pending::default(),
        queued: VecDeque::new(),
        changes: None,
    };
    let stderr_tail: StderrTail = Arc::new(Mutex::new(VecDeque::new()));
    // Without a stderr the sender is dropped here: there is nothing to wait for.
    let (open, stderr_open) = watch::channel(());
    if let Some(stderr) = stderr {
        read_stderr(
            stderr,
            Reader {
                tail: stderr_tail.clone(),
                open,
            },
            &server.name,
            context.forward_stderr,
        );
    }
    Ok((
        transport,
        Child {
            pid,
            stderr_tail,
            stderr_open,
        },
    ))
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

/// Where the stderr reader leaves what it read; `open` is dropped at EOF.
struct Reader {
    tail: StderrTail,
    open: watch::Sender<()>,
}

/// Keep the child's last stderr lines (redacted, each cut at
/// [`LINE_CAP`](super::stderr::LINE_CAP)), and forward them with `-v`.
fn read_stderr(stderr: tokio::process::ChildStderr, reader: Reader, name: &str, forward: bool) {
    let name = name.to_string();
    tokio::spawn(async move {
        let Reader { tail, open } = reader;
        // Bounded lines: a server that writes without newlines cannot grow our memory, and
        // bytes that are not UTF-8 do not stop the reading (the pipe would fill and block it).
        let mut lines = super::stderr::StderrLines::new(stderr);
        while let Some(line) = lines.next_line().await {
            let line = redact::text(&line);
            if forward {
                crate::report::forwarded(&name, &line);
            }
            let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        drop(open);
    });
}

/// The transport to a stdio server: JSON-RPC messages as lines on its stdin and stdout.
pub(in crate::mcp) struct StdioTransport {
    server: Arc<str>,
    lines: Lines<ChildStdout>,
    /// Shared with the send futures (which must be `'static`); None once closed.
    stdin: Arc<tokio::sync::Mutex<Option<ChildStdin>>>,
    process: tokio::process::Child,
    pending: Pending,
    /// Errors made up for requests whose reply was unusable, delivered before reading on.
    queued: VecDeque<ServerJsonRpcMessage>,
    /// Sees `list_changed` notifications as they are read.
    pub(in crate::mcp) changes: Option<Arc<dyn super::Watcher>>,
}

impl Transport<RoleClient> for StdioTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), std::io::Error>> + Send + 'static {
        self.pending.sent(&item);
        let stdin = self.stdin.clone();
        async move {
            let mut line = serde_json::to_vec(&item)?;
            line.push(b'\n');
            let mut stdin = stdin.lock().await;
            let Some(stdin) = stdin.as_mut() else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the server's stdin is closed",
                ));
            };
            stdin.write_all(&line).await?;
            stdin.flush().await
        }
    }

    async fn receive(&mut self) -> Option<ServerJsonRpcMessage> {
        loop {
            if let Some(message) = self.queued.pop_front() {
                return Some(message);
            }
            let frame = match self.lines.next().await {
                Ok(Line::Complete(line)) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(Line::Complete(line)) => {
                    if let Some(changes) = &self.changes {
                        changes.seen(&String::from_utf8_lossy(&line));
                    }
                    decode(&line, self.lines.cap(), &mut self.pending)
                }
                Ok(Line::TooLarge(over)) => too_large(
                    over.size,
                    self.lines.cap(),
                    &over.head,
                    &over.tail,
                    &mut self.pending,
                ),
                Ok(Line::Eof) => return None,
                Err(error) => {
                    tracing::debug!(server = %self.server, "reading the server's stdout failed: {error}");
                    return None;
                }
            };
            match frame {
                Frame::Message(message) => return Some(message),
                Frame::Failed(fault, errors) => {
                    if errors.is_empty() {
                        tracing::warn!(server = %self.server, "dropped a message nobody was waiting for: {}", fault.describe());
                    }
                    self.queued.extend(errors);
                }
                Frame::Ignored(note) => tracing::info!(server = %self.server, "{note}"),
            }
        }
    }

    async fn close(&mut self) -> Result<(), std::io::Error> {
        // Closing stdin asks the server to exit (the MCP stdio shutdown); one that does not
        // within a moment is ended with its whole process group, and reaped.
        drop(self.stdin.lock().await.take());
        super::children::shut_down(&mut self.process).await;
        Ok(())
    }
}
