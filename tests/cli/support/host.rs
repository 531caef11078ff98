//! Raw hosts of `mcpchat serve`, shared by the serve tests: `Host` speaks JSON-RPC on serve's
//! stdio (answering serve's requests when told how), `Served` is `serve --listen` on
//! 127.0.0.1, and `curl`/`post` send it one HTTP request each.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::TestEnv;

/// What a host answers to a request serve sends it: a result, or an error object.
pub type Answer = Box<dyn FnMut(&Value) -> Result<Value, Value>>;

/// A host on serve's stdio: requests written as lines, every line read kept in order, serve's
/// own requests answered with `answer` (a host without one is never asked anything).
pub struct Host {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    pub next_id: i64,
    /// The answer to `initialize`.
    pub init: Value,
    /// Requests serve sent the host, in order.
    pub asked: Vec<Value>,
    /// Notifications read while waiting for responses, in order.
    pub notices: Vec<Value>,
    answer: Option<Answer>,
    /// Serve's requests are kept in `asked` and never answered (a host that goes quiet).
    silent: bool,
}

impl Host {
    /// `mcpchat --no-cache <global args> serve <serve args>`, initialized.
    pub fn start(env: &TestEnv, global: &[&str], serve: &[&str]) -> Host {
        Host::spawn(env, &[&["--no-cache"], global].concat(), serve)
    }

    /// The same with the list cache on, as a user's serve runs.
    pub fn spawn(env: &TestEnv, global: &[&str], serve: &[&str]) -> Host {
        let mut command = env.std_cmd();
        command.args(global).arg("serve").args(serve);
        Host::launch(command, json!({}), "test-host", None)
    }

    /// `mcpchat --no-cache <global> serve`, initialized with `capabilities`, answering serve's
    /// requests with `answer`.
    pub fn answering(env: &TestEnv, global: &[&str], capabilities: Value, answer: Answer) -> Host {
        Host::answering_with(env, &[], global, capabilities, answer)
    }

    /// The same with extra environment variables.
    pub fn answering_with(
        env: &TestEnv,
        vars: &[(&str, String)],
        global: &[&str],
        capabilities: Value,
        answer: Answer,
    ) -> Host {
        let mut command = env.std_cmd();
        command
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .arg("--no-cache")
            .args(global)
            .arg("serve");
        Host::launch(command, capabilities, "relay-host", Some(answer))
    }

    /// `mcpchat --no-cache <global> serve` with extra environment variables, initialized with
    /// `capabilities`, keeping serve's requests in `asked` without ever answering them.
    pub fn silent(
        env: &TestEnv,
        vars: &[(&str, String)],
        global: &[&str],
        capabilities: Value,
    ) -> Host {
        // Never called: a silent host answers nothing.
        let unused: Answer = Box::new(|_| Err(json!({})));
        let mut host = Host::answering_with(env, vars, global, capabilities, unused);
        host.silent = true;
        host
    }

    /// Start `command` (a serve) with piped stdio and initialize it as `name`.
    fn launch(
        mut command: Command,
        capabilities: Value,
        name: &str,
        answer: Option<Answer>,
    ) -> Host {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("serve wrote a line that is not JSON ({e}): {line}")
                });
                if sender.send(value).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut host = Host {
            child,
            stdin,
            lines,
            next_id: 1,
            init: Value::Null,
            asked: Vec::new(),
            notices: Vec::new(),
            answer,
            silent: false,
        };
        let init = host.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": capabilities,
                   "clientInfo": {"name": name, "version": "1"}}),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "mcpchat", "{init}");
        host.init = init;
        host.notify("notifications/initialized", json!({}));
        host
    }

    pub fn send(&mut self, message: &Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Send a request without waiting; its id.
    pub fn start_request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// The next line serve writes (a guard against a hung serve, not a timed assertion).
    pub fn next_line(&mut self) -> Value {
        self.lines
            .recv_timeout(Duration::from_secs(60))
            .expect("serve wrote nothing for a minute")
    }

    /// The response to request `id`; notifications on the way are kept in `notices`, and
    /// serve's requests on the way are answered.
    pub fn response(&mut self, id: i64) -> Value {
        loop {
            let line = self.next_line();
            if line.get("method").is_none() && line["id"] == id {
                return line;
            }
            self.take(line);
        }
    }

    /// Send a request and read until its response.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.start_request(method, params);
        self.response(id)
    }

    /// A line that is not the response awaited: a request to answer or a notification.
    fn take(&mut self, line: Value) {
        if line.get("id").is_none() {
            self.notices.push(line);
            return;
        }
        assert!(
            line.get("method").is_some(),
            "a response to another request: {line}"
        );
        if self.silent {
            self.asked.push(line);
            return;
        }
        let Some(answer) = self.answer.as_mut() else {
            panic!("the host was asked {line}");
        };
        let reply = match answer(&line) {
            Ok(result) => json!({"jsonrpc": "2.0", "id": line["id"], "result": result}),
            Err(error) => json!({"jsonrpc": "2.0", "id": line["id"], "error": error}),
        };
        self.asked.push(line);
        self.send(&reply);
    }

    /// The notification `method` (already read, or the next ones).
    pub fn notice(&mut self, method: &str) -> Value {
        if let Some(at) = self.notices.iter().position(|n| n["method"] == method) {
            return self.notices.remove(at);
        }
        loop {
            let line = self.next_line();
            if line["method"] == method && line.get("id").is_none() {
                return line;
            }
            self.take(line);
        }
    }

    /// Read lines (answering requests) until `done` holds for the notifications read so far.
    pub fn until(&mut self, done: impl Fn(&[Value]) -> bool) {
        while !done(&self.notices) {
            let line = self.next_line();
            self.take(line);
        }
    }

    /// The data of the log messages received so far, with level and logger.
    pub fn logs(&self) -> Vec<(String, String, String)> {
        self.notices
            .iter()
            .filter(|n| n["method"] == "notifications/message")
            .map(|n| {
                let text = |key: &str| n["params"][key].as_str().unwrap_or("").to_string();
                (text("level"), text("logger"), text("data"))
            })
            .collect()
    }

    /// Close stdin (the MCP stdio shutdown) and collect the exit and stderr.
    pub fn close(mut self) -> std::process::Output {
        drop(self.stdin.take());
        self.child.wait_with_output().unwrap()
    }

    /// Close stdin and read what serve still wrote before it exited.
    pub fn finish(mut self) -> (Vec<Value>, std::process::Output) {
        drop(self.stdin.take());
        let mut notices = std::mem::take(&mut self.notices);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(60)) {
            notices.push(line);
        }
        (notices, self.child.wait_with_output().unwrap())
    }
}

/// `mcpchat serve --listen` running, with the URL it printed and its other stderr lines.
pub struct Served {
    pub child: Child,
    pub url: String,
    stderr: Receiver<String>,
}

impl Served {
    /// `mcpchat --no-cache <global> serve --listen <listen> <serve>`, once it says where.
    pub fn start(env: &TestEnv, global: &[&str], listen: &str, serve: &[&str]) -> Served {
        let mut child = env
            .std_cmd()
            .arg("--no-cache")
            .args(global)
            .args(["serve", "--listen", listen])
            .args(serve)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, stderr) = channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let first = stderr
            .recv_timeout(Duration::from_secs(60))
            .expect("serve printed nothing for a minute");
        let url = first
            .strip_prefix("mcpchat: serving on ")
            .unwrap_or_else(|| panic!("not the serving line: {first}"))
            .to_string();
        Served { child, url, stderr }
    }

    /// The URL on 127.0.0.1 (a wildcard bind prints 0.0.0.0).
    pub fn loopback_url(&self) -> String {
        self.url.replace("0.0.0.0", "127.0.0.1")
    }

    /// SIGTERM, then the exit code and the rest of stderr.
    pub fn stop(mut self) -> (Option<i32>, Vec<String>) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let status = self.child.wait().unwrap();
        // The reader thread may not have read the last lines yet: read until it has seen the
        // end of the pipe (bounded, in case something else still holds it open).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut rest = Vec::new();
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) => rest.push(line),
                Err(_) => break,
            }
        }
        (status.code(), rest)
    }
}

/// `mcpchat <args> --socket SOCKET` (args naming `serve`) running, once the socket exists;
/// stdout is not read, stderr is piped.
pub fn serve_on_socket(env: &TestEnv, args: &[&str], socket: &std::path::Path) -> Child {
    let serve = env
        .std_cmd()
        .args(args)
        .arg("--socket")
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A guard against a serve that never listens, not a timed assertion.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !socket.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the socket never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    serve
}

/// A test that fails before `stop` still ends its serve (and, through it, the upstreams).
impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            }
            let _ = self.child.wait();
        }
    }
}

/// curl POSTing `body` as JSON to `url` with `headers` and `options`; its stdout.
fn curl_post(options: &[&str], headers: &[&str], body: &Value, url: &str) -> String {
    let mut command = Command::new("curl");
    command.args(["-s", "-X", "POST"]).args(options);
    for header in headers {
        command.args(["-H", header]);
    }
    let output = command
        .arg("-d")
        .arg(body.to_string())
        .arg(url)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// curl's status and body for one request to serve (accepting JSON and SSE, as hosts do).
pub fn curl(url: &str, headers: &[&str], body: &Value) -> (u16, String) {
    let accept = [
        "-H",
        "Content-Type: application/json",
        "-H",
        "Accept: application/json, text/event-stream",
    ];
    let text = curl_post(
        &[&["-w", "\n%{http_code}"], &accept[..]].concat(),
        headers,
        body,
        url,
    );
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_string())
}

/// The JSON-RPC answer in a body serve sent: the last `data:` of an SSE stream that holds
/// JSON (the first event may be empty), or the body itself as JSON.
pub fn answer_in(body: &str) -> Value {
    let json = body
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .rfind(|data| !data.is_empty())
        .unwrap_or(body);
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A POST to `url` with `headers` (no Accept): the status, the headers (lowercase names) and
/// the body.
pub fn post(url: &str, headers: &[&str], body: &Value) -> (u16, String, String) {
    let options = ["-i", "-H", "content-type: application/json"];
    let text = curl_post(&options, headers, body, url).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), body.to_string())
}
