//! Test harness: a clean environment per test, real peers started on free loopback ports,
//! fakes for faults, and a parser that validates every stdout line against the JSON Schema.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod daemon;
pub mod host;
mod hostile_memory;
mod keychain;
pub use hostile_memory::{hostile_memory_llm, hostile_memory_stdio_cmd};
pub use keychain::{Keychain, keychain_available};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Installs the pinned peers once per test run (the script is idempotent and cached).
pub fn peers() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let output = Command::new("bash")
            .arg(repo().join("tests/peers/install.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run tests/peers/install.sh");
        assert!(output.status.success(), "tests/peers/install.sh failed");
        let stdout = String::from_utf8(output.stdout).unwrap();
        PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("install.sh prints its dir")
                .trim(),
        )
    })
}

/// The Debian commands each test group drives, and the packages that bring them.
const GROUPS: &[(&str, &[(&str, &str)])] = &[
    ("proxy", &[("tinyproxy", "tinyproxy")]),
    ("tls", &[("openssl", "openssl")]),
    ("browser", &[("chromium", "chromium")]),
    (
        "keychain",
        &[
            ("dbus-run-session", "dbus"),
            ("gnome-keyring-daemon", "gnome-keyring"),
            ("secret-tool", "libsecret-tools"),
        ],
    ),
];

/// Whether this test skips its `group`: only when the user opted out by name
/// (`MCPCHAT_TEST_SKIP=keychain,proxy`); the skip is noted for `tests/run`'s closing list. A
/// group whose commands are missing is not skipped: the test fails, saying what to install.
pub fn skipped(group: &str) -> bool {
    let opted_out = std::env::var("MCPCHAT_TEST_SKIP")
        .unwrap_or_default()
        .split(',')
        .any(|name| name.trim() == group);
    let test = std::thread::current()
        .name()
        .unwrap_or("(unnamed test)")
        .to_string();
    if opted_out {
        eprintln!("note: skipping {test}: MCPCHAT_TEST_SKIP names `{group}`");
        if let Ok(log) = std::env::var("MCPCHAT_TEST_SKIP_LOG") {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(log)
                .expect("open MCPCHAT_TEST_SKIP_LOG");
            // One write per line: tests run in parallel and append to the same file.
            file.write_all(format!("{test} ({group})\n").as_bytes())
                .unwrap();
        }
        return true;
    }
    let needs = GROUPS
        .iter()
        .find(|(name, _)| *name == group)
        .map(|(_, needs)| *needs)
        .unwrap_or_else(|| panic!("unknown test group `{group}`"));
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(command, _)| which(command).is_none())
        .map(|(_, package)| *package)
        .collect();
    assert!(
        missing.is_empty(),
        "{test} needs the Debian packages {missing:?}: run tests/run (it installs them), or \
         `apt-get install -y {}`, or opt out with MCPCHAT_TEST_SKIP={group}",
        missing.join(" ")
    );
    false
}

/// The path of `command` on PATH, if any.
fn which(command: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(command))
        .find(|path| path.is_file())
}

/// `mcpchat ask` in `env` against the model API `llm` (an OpenAI-compatible fake), with a key.
pub fn ask(env: &TestEnv, llm: &Peer) -> assert_cmd::Command {
    let mut cmd = env.cmd();
    cmd.env("OPENAI_API_KEY", "sk-test-key-123456")
        .env("OPENAI_BASE_URL", &llm.url)
        .arg("ask");
    cmd
}

/// Configure the OAuth server `url` as `s` and log in to it, `curl` following the redirects in
/// place of a browser; asserts the login succeeded.
pub fn logged_in_with_curl(env: &TestEnv, url: &str) {
    env.write(
        "mcp_servers.yaml",
        &format!("servers:\n  - name: s\n    url: {url}\n    auth_type: oauth\n"),
    );
    let output = env
        .cmd()
        .env("BROWSER", "curl -s -L -o /dev/null")
        .args(["auth", "login", "s", "--timeout", "30"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

pub fn venv_bin(name: &str) -> PathBuf {
    peers().join("venv/bin").join(name)
}

pub fn node_module(path: &str) -> PathBuf {
    peers().join("npm/node_modules").join(path)
}

/// A temporary home and working directory, and the binary with a cleared environment.
pub struct TestEnv {
    /// With `with_keychain`: the OS keychain every command keeps its tokens in.
    pub keychain: Option<Keychain>,
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        TestEnv {
            keychain: None,
            dir,
        }
    }

    /// A TestEnv whose commands run with `MCPCHAT_TOKEN_STORE=keychain` against a private
    /// gnome-keyring; `None` (skip) only when the user opted out (`MCPCHAT_TEST_SKIP=keychain`).
    pub fn with_keychain() -> Option<Self> {
        if !keychain_available() {
            return None;
        }
        let mut env = TestEnv::new();
        env.keychain = Some(Keychain::start(&env.home()));
        Some(env)
    }

    /// Both stores the same test runs against: the file, then the keychain (when available).
    pub fn both_stores() -> Vec<Self> {
        std::iter::once(TestEnv::new())
            .chain(TestEnv::with_keychain())
            .collect()
    }

    /// The environment of the chosen token store (nothing for the default file store).
    fn store_env(&self) -> Vec<(&'static str, String)> {
        match &self.keychain {
            Some(keychain) => vec![
                ("MCPCHAT_TOKEN_STORE", "keychain".to_string()),
                ("DBUS_SESSION_BUS_ADDRESS", keychain.address.clone()),
            ],
            None => vec![],
        }
    }

    /// The token store as mcpchat sees it: the file, with the secrets from the keychain put
    /// back into each entry. With the keychain, asserts that the file holds no secret.
    pub fn stored(&self) -> Value {
        let text = std::fs::read_to_string(self.token_store()).unwrap();
        let mut store: Value = serde_json::from_str(&text).unwrap();
        let Some(keychain) = &self.keychain else {
            return store;
        };
        let servers = store["servers"].as_object_mut().unwrap();
        for (url, entry) in servers.iter_mut() {
            assert!(
                entry.get("credentials").is_none(),
                "tokens in the file: {text}"
            );
            assert!(
                entry["client"].get("client_secret").is_none(),
                "a secret in the file: {text}"
            );
            if let Some(secrets) = keychain.secrets(url) {
                if let Some(credentials) = secrets.get("credentials") {
                    entry["credentials"] = credentials.clone();
                }
                if let Some(secret) = secrets.get("client_secret") {
                    entry["client"]["client_secret"] = secret.clone();
                }
            }
        }
        store
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Where the token store lands by default (XDG_DATA_HOME is set by `cmd`).
    pub fn token_store(&self) -> PathBuf {
        self.home().join(".local/share/mcpchat/tokens.json")
    }

    pub fn cwd(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.cwd().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `mcpchat` with only PATH, HOME and XDG dirs set, run in the work dir.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("mcpchat").unwrap();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_DATA_HOME", self.home().join(".local/share"))
            .env("XDG_CACHE_HOME", self.home().join(".cache"))
            .envs(self.store_env())
            .current_dir(self.cwd())
            .timeout(Duration::from_secs(120));
        cmd
    }

    /// The same, as a std Command (for spawning and signalling).
    pub fn std_cmd(&self) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("mcpchat"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_DATA_HOME", self.home().join(".local/share"))
            .env("XDG_CACHE_HOME", self.home().join(".cache"))
            .envs(self.store_env())
            .current_dir(self.cwd());
        cmd
    }
}

/// A server process the test started; killed (with its process group) on drop.
pub struct Peer {
    pub child: Child,
    pub port: u16,
    pub url: String,
}

impl Peer {
    fn spawn(mut cmd: Command, port_from: PortFrom, path: &str) -> Peer {
        cmd.stdin(Stdio::null()).stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let (port, child) = match port_from {
            PortFrom::FirstLine => {
                cmd.stdout(Stdio::piped());
                let mut child = cmd.spawn().expect("spawn peer");
                let stdout = child.stdout.take().unwrap();
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).unwrap();
                let port: u16 = line
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("peer printed no port: {line:?}"));
                (port, child)
            }
            PortFrom::File(file) => {
                cmd.stdout(Stdio::null());
                let mut child = cmd.spawn().expect("spawn peer");
                let deadline = Instant::now() + Duration::from_secs(60);
                let port = loop {
                    if let Some(port) = std::fs::read_to_string(&file)
                        .ok()
                        .and_then(|s| s.trim().parse().ok())
                    {
                        break port;
                    }
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("peer exited before listening: {status}");
                    }
                    assert!(Instant::now() < deadline, "peer did not start listening");
                    std::thread::sleep(Duration::from_millis(20));
                };
                (port, child)
            }
        };
        wait_for_port(port);
        Peer {
            child,
            port,
            url: format!("http://127.0.0.1:{port}{path}"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Only the process group we started.
        let pgid = self.child.id() as i32;
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

enum PortFrom {
    FirstLine,
    File(PathBuf),
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A Node peer on a free loopback port (PORT=0, the preload reports the real port).
fn node_peer(script: &Path, args: &[&str], path: &str, env: &[(&str, &str)]) -> Peer {
    let port_file = tempfile::NamedTempFile::new()
        .unwrap()
        .into_temp_path()
        .to_path_buf();
    let _ = std::fs::remove_file(&port_file);
    let mut cmd = Command::new("node");
    cmd.arg("--require")
        .arg(repo().join("tests/peers/loopback.cjs"))
        .arg(script)
        .args(args)
        .env("PORT", "0")
        .env("MCPCHAT_PORT_FILE", &port_file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Peer::spawn(cmd, PortFrom::File(port_file), path)
}

/// server-everything over Streamable HTTP (`/mcp`).
pub fn everything_http() -> Peer {
    node_peer(
        &node_module("@modelcontextprotocol/server-everything/dist/index.js"),
        &["streamableHttp"],
        "/mcp",
        &[],
    )
}

/// The command line that runs server-everything over stdio.
pub fn everything_stdio_cmd() -> String {
    format!(
        "node {}",
        node_module("@modelcontextprotocol/server-everything/dist/index.js").display()
    ) + " stdio"
}

/// The command line for server-memory over stdio, with its own graph file.
pub fn memory_stdio_cmd(env: &TestEnv) -> (String, PathBuf) {
    let file = env.path("memory.jsonl");
    (
        format!(
            "node {}",
            node_module("@modelcontextprotocol/server-memory/dist/index.js").display()
        ),
        file,
    )
}

/// The Python SDK server over Streamable HTTP; `stateless_json` gives plain JSON bodies.
pub fn python_http(stateless_json: bool) -> Peer {
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(repo().join("tests/peers/python_server.py"))
        .arg("0");
    if stateless_json {
        cmd.arg("--stateless-json");
    }
    Peer::spawn(cmd, PortFrom::FirstLine, "/mcp")
}

/// The Python SDK server with extra `python_server.py` options (e.g. `--tools-ttl-ms 60000`),
/// on `port` (0: a free one).
pub fn python_http_with(port: u16, args: &[&str]) -> Peer {
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(repo().join("tests/peers/python_server.py"))
        .arg(port.to_string())
        .args(args);
    Peer::spawn(cmd, PortFrom::FirstLine, "/mcp")
}

/// A recording proxy in front of an MCP server: `url` is the same endpoint through the proxy,
/// and [`requests`] reads what it forwarded.
pub fn mcp_record_proxy(upstream: &Peer, log: &Path) -> Peer {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/fakes/record_proxy.py"))
        .arg(format!("http://127.0.0.1:{}", upstream.port))
        .arg(log);
    let path = upstream.url.splitn(4, '/').nth(3).unwrap_or("");
    Peer::spawn(cmd, PortFrom::FirstLine, &format!("/{path}"))
}

/// The requests a recording proxy forwarded, as "HTTP-METHOD json-rpc-method" (e.g.
/// "POST tools/call", "DELETE"), in order, once every session they name has its DELETE
/// (see [`sessions_ended`]); the log is emptied for the next command.
pub fn requests(log: &Path) -> Vec<String> {
    sessions_ended(log);
    requests_now(log)
}

/// Wait until every 2025-era session the log names (`Mcp-Session-Id`) has its DELETE
/// logged: a command sends the DELETE without waiting for its answer, so the proxy may log it
/// just after the command exited. A session nobody ends (kept open for tasks or by the
/// daemon) is waited for until a generous deadline only; the caller's assertions decide.
fn sessions_ended(log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut open = std::collections::HashSet::new();
        for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
            let Ok(entry) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some(id) = entry["headers"]["mcp-session-id"].as_str() else {
                continue;
            };
            if entry["method"] == "DELETE" {
                open.remove(id);
            } else {
                open.insert(id.to_string());
            }
        }
        if open.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The same at once, without waiting for DELETEs (sessions kept open on purpose).
pub fn requests_now(log: &Path) -> Vec<String> {
    let seen = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let entry: Value = serde_json::from_str(l).unwrap();
            let method = entry["method"].as_str().unwrap_or("?").to_string();
            match entry["body"]["method"].as_str() {
                Some(rpc) => format!("{method} {rpc}"),
                None => method,
            }
        })
        .collect();
    std::fs::write(log, "").unwrap();
    seen
}

/// Wait for `child` (spawned with stderr piped) to exit; its exit code and all it wrote on
/// stderr.
pub fn wait_with_stderr(child: &mut Child) -> (Option<i32>, String) {
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

/// An in-repo fake for faults: `hang`, `http500` or `badjson`.
pub fn fault_http(mode: &str) -> Peer {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/fakes/fault_http.py")).arg(mode);
    Peer::spawn(cmd, PortFrom::FirstLine, "/mcp")
}

impl Peer {
    /// The secret-echoing fake (tests/fakes/echo_secrets.py): mode `""` or `http_error`.
    pub fn echo_secrets(mode: &str) -> Peer {
        let mut cmd = Command::new("python3");
        cmd.arg(repo().join("tests/fakes/echo_secrets.py"));
        if !mode.is_empty() {
            cmd.arg(mode);
        }
        Peer::spawn(cmd, PortFrom::FirstLine, "/mcp")
    }

    /// An MCP server behind a hostile authorization server (tests/fakes/hostile_as.py);
    /// `log` receives each request as "METHOD PATH".
    pub fn hostile_as(mode: &str, log: &Path) -> Peer {
        let mut cmd = Command::new("python3");
        cmd.arg(repo().join("tests/fakes/hostile_as.py"))
            .arg(mode)
            .env("HOSTILE_AS_LOG", log);
        Peer::spawn(cmd, PortFrom::FirstLine, "/mcp")
    }

    /// A legacy HTTP+SSE fake whose `endpoint` names another origin
    /// (tests/fakes/legacy_cross_origin.py).
    pub fn legacy_cross_origin() -> Peer {
        let mut cmd = Command::new("python3");
        cmd.arg(repo().join("tests/fakes/legacy_cross_origin.py"));
        Peer::spawn(cmd, PortFrom::FirstLine, "/sse")
    }
}

pub fn crash_stdio_cmd() -> String {
    format!(
        "python3 {}",
        repo().join("tests/fakes/crash_stdio.py").display()
    )
}

pub fn demo_stdio_cmd() -> String {
    format!(
        "python3 {}",
        repo().join("examples/demo_server.py").display()
    )
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(repo().join("schema/events.schema.json")).unwrap(),
        )
        .unwrap();
        jsonschema::validator_for(&schema).expect("the events schema compiles")
    })
}

/// Parse stdout as JSON Lines; every line must validate against the published schema.
pub fn lines(stdout: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    text.lines()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let errors: Vec<String> = validator()
                .iter_errors(&value)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "line does not match schema/events.schema.json: {errors:?}\n{line}"
            );
            value
        })
        .collect()
}

pub fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Is a process with this PID still alive (and not a zombie)?
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

impl TestEnv {
    /// Run a bash script in the test environment.
    pub fn cmd_shell(&self, script: &str) -> std::process::Output {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(script)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_DATA_HOME", self.home().join(".local/share"))
            .env("XDG_CACHE_HOME", self.home().join(".cache"))
            .envs(self.store_env())
            .current_dir(self.cwd());
        cmd.output().unwrap()
    }
}

/// A free loopback port (for servers that cannot bind port 0 themselves).
pub fn free_port() -> u16 {
    closed_port()
}

/// fakellm (PyPI) serving `tests/llm/rules.yaml`; its base URL is `url` (ends in /v1).
pub fn fakellm() -> Peer {
    let port = free_port();
    let mut cmd = Command::new(venv_bin("fakellm"));
    cmd.args([
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--config",
    ])
    .arg(repo().join("tests/llm/rules.yaml"))
    .stdout(Stdio::null());
    cmd.stdin(Stdio::null()).stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().expect("spawn fakellm");
    wait_for_port(port);
    Peer {
        child,
        port,
        url: format!("http://127.0.0.1:{port}/v1"),
    }
}

/// A recording proxy in front of `upstream`: every request body is logged to `log` as JSONL.
/// `fail_first` (e.g. "429,503") answers the first requests with those statuses.
pub fn record_proxy(upstream: &Peer, log: &Path, fail_first: &str) -> Peer {
    let mut cmd = Command::new("python3");
    let base = upstream.url.trim_end_matches("/v1").to_string();
    cmd.arg(repo().join("tests/fakes/record_proxy.py"))
        .arg(base)
        .arg(log);
    cmd.env("RECORD_PROXY_FAIL_FIRST", fail_first);
    Peer::spawn(cmd, PortFrom::FirstLine, "/v1")
}

/// In-repo fake model API for faults: malformed, cut_stream, hang, unauthorized,
/// no_stream_with_tools, quirks.
pub fn fault_llm(mode: &str, env: &[(&str, &str)]) -> Peer {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/fakes/fault_llm.py")).arg(mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Peer::spawn(cmd, PortFrom::FirstLine, "/v1")
}

/// tests/fakes/hostile_token_server.py: an authorization server (issuer `url`) whose token
/// responses carry `expires_in` exactly as given; every token request is logged to `log`.
pub fn hostile_token_server(expires_in: &str, log: &Path) -> Peer {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/fakes/hostile_token_server.py"))
        .arg(expires_in)
        .arg(log);
    Peer::spawn(cmd, PortFrom::FirstLine, "")
}

/// The request bodies a recording proxy (or fault_llm's log) saw, in order.
pub fn logged_bodies(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|entry| {
            if entry.get("body").is_some() && entry.get("path").is_some() {
                entry
            } else {
                serde_json::json!({"body": entry})
            }
        })
        .collect()
}

/// mock-llm with OAuth (DCR, PKCE, rotating refresh tokens) in front of its MCP echo server.
/// `url` is the MCP endpoint; `base` (without /mcp) has the test controls under /oauth/.
pub fn mock_llm_oauth() -> Peer {
    let port_file = tempfile::NamedTempFile::new()
        .unwrap()
        .into_temp_path()
        .to_path_buf();
    let _ = std::fs::remove_file(&port_file);
    let mut cmd = Command::new("node");
    cmd.arg(repo().join("tests/peers/mock_llm_oauth.cjs"))
        .arg(node_module("@dwmkerr/mock-llm"))
        .arg(repo().join("tests/peers/mock-llm-oauth.yaml"))
        .env("MCPCHAT_PORT_FILE", &port_file);
    Peer::spawn(cmd, PortFrom::File(port_file), "/mcp")
}

/// The TypeScript SDK's example server with `--oauth` (confidential DCR clients, no refresh).
/// It names itself `localhost`, so `url` uses that host.
pub fn sdk_oauth_server() -> (Peer, u16) {
    let mcp_port = free_port();
    let auth_port = free_port();
    let mut cmd = Command::new("node");
    cmd.arg("--require")
        .arg(repo().join("tests/peers/loopback.cjs"))
        .arg(node_module(
            "@modelcontextprotocol/sdk/dist/esm/examples/server/simpleStreamableHttp.js",
        ))
        .arg("--oauth")
        .env("MCP_PORT", mcp_port.to_string())
        .env("MCP_AUTH_PORT", auth_port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().expect("spawn the sdk example server");
    wait_for_port(mcp_port);
    wait_for_port(auth_port);
    (
        Peer {
            child,
            port: mcp_port,
            url: format!("http://localhost:{mcp_port}/mcp"),
        },
        auth_port,
    )
}

/// oauth2-mock-server (OIDC discovery, no registration); `url` is its issuer.
pub fn oauth2_mock_server() -> Peer {
    let mut cmd = Command::new("node");
    cmd.arg(repo().join("tests/peers/oauth2_mock_server.mjs"))
        .arg(peers().join("npm"));
    let mut peer = Peer::spawn_first_line_url(cmd);
    peer.url = peer.url.trim_end_matches('/').to_string();
    peer
}

/// A stateless MCP resource server accepting JWTs from `issuer` (tool `whoami`).
pub fn protected_echo(issuer: &str) -> Peer {
    protected_echo_with(issuer, &[])
}

/// tests/peers/protected_echo.py with extra flags (`--dpop`, `--dpop-nonce`).
pub fn protected_echo_with(issuer: &str, args: &[&str]) -> Peer {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/peers/protected_echo.py"))
        .args(["--issuer", issuer])
        .args(args);
    Peer::spawn_first_line_url(cmd)
}

impl Peer {
    /// A peer that prints its URL (http://127.0.0.1:PORT...) as the first stdout line.
    fn spawn_first_line_url(mut cmd: Command) -> Peer {
        cmd.stdin(Stdio::null())
            .stderr(Stdio::null())
            .stdout(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().expect("spawn peer");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line.trim().to_string();
        let port: u16 = url::Url::parse(&url)
            .ok()
            .and_then(|u| u.port())
            .unwrap_or_else(|| panic!("no URL printed: {line:?}"));
        wait_for_port(port);
        Peer { child, port, url }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// POST a JSON body, returning the status (for peers' test controls).
pub fn post_json(url: &str, body: &Value) -> u16 {
    let output = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
        ])
        .arg(body.to_string())
        .arg(url)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// server-everything in its legacy HTTP+SSE mode (2024-11-05); `url` is the `/sse` endpoint.
pub fn everything_sse() -> Peer {
    node_peer(
        &node_module("@modelcontextprotocol/server-everything/dist/index.js"),
        &["sse"],
        "/sse",
        &[],
    )
}

/// The TypeScript SDK's server that speaks Streamable HTTP at /mcp and HTTP+SSE at /sse.
pub fn sdk_compat_server() -> Peer {
    node_peer(
        &node_module(
            "@modelcontextprotocol/sdk/dist/esm/examples/server/sseAndStreamableHttpCompatibleServer.js",
        ),
        &[],
        "",
        &[("MCPCHAT_LISTEN_PORT_ZERO", "1")],
    )
}

/// oidc-provider (tests/peers/oidc_provider.mjs) with `args`; `url` is its issuer (no trailing slash).
pub fn oidc_provider(args: &[&str]) -> Peer {
    let mut cmd = Command::new("node");
    cmd.arg(repo().join("tests/peers/oidc_provider.mjs"))
        .arg(peers().join("npm"))
        .args(args);
    Peer::spawn_first_line_url(cmd)
}

/// The Python MCP SDK with its built-in OAuth authorization server (tests/peers/python_oauth.py);
/// `url` is the MCP endpoint, `base()` has the test control /test/expire.
pub fn python_oauth() -> Peer {
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(repo().join("tests/peers/python_oauth.py"));
    Peer::spawn_first_line_url(cmd)
}

/// A private CA made with the openssl CLI in `dir`: (ca.pem, cert.pem, key.pem), the
/// certificate for 127.0.0.1 and localhost, signed by the CA.
pub fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            stderr_of(&output)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=mcpchat test CA",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "key.pem",
            "-out",
            "csr.pem",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "csr.pem",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

/// TLS with `cert`/`key` in front of a plain peer on `upstream_port`; `url` is https://127.0.0.1:PORT.
pub fn tls_front(cert: &Path, key: &Path, upstream_port: u16) -> Peer {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/peers/tls_front.py"))
        .arg(cert)
        .arg(key)
        .arg(upstream_port.to_string());
    Peer::spawn_first_line_url(cmd)
}

/// The Python SDK's OAuth server over HTTPS (its URLs say https).
pub fn python_oauth_tls(cert: &Path, key: &Path) -> Peer {
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(repo().join("tests/peers/python_oauth.py"))
        .arg("--tls")
        .arg(cert)
        .arg(key);
    Peer::spawn_first_line_url(cmd)
}

/// Debian's tinyproxy on a free loopback port, logging every request line to `log`; `url` is
/// http://127.0.0.1:PORT.
pub fn tinyproxy(log: &Path) -> Peer {
    let port = free_port();
    let conf = log.with_extension("conf");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\nLogFile \"{}\"\nLogLevel Info\nMaxClients 100\n",
            log.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("tinyproxy");
    cmd.arg("-d").arg("-c").arg(&conf);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd
        .spawn()
        .expect("spawn tinyproxy (apt-get install tinyproxy)");
    wait_for_port(port);
    Peer {
        child,
        port,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// The request lines tinyproxy logged ("POST http://127.0.0.1:P/mcp", "CONNECT 127.0.0.1:P").
pub fn proxied_requests(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once("): ").map(|(_, request)| request))
        .filter_map(|request| {
            request
                .strip_suffix(" HTTP/1.1")
                .or(request.strip_suffix(" HTTP/1.0"))
        })
        .map(str::to_string)
        .collect()
}

/// The command line that runs the Python SDK peer over stdio.
pub fn python_stdio_cmd() -> String {
    format!(
        "{} {} stdio",
        venv_bin("python").display(),
        repo().join("tests/peers/python_server.py").display()
    )
}

/// The JSON-RPC methods (and `params.uri`) of the MCP requests a recording proxy saw.
pub fn logged_methods(log: &Path) -> Vec<(String, Option<String>)> {
    logged_bodies(log)
        .iter()
        .filter_map(|entry| {
            let body = &entry["body"];
            let method = body["method"].as_str()?.to_string();
            Some((method, body["params"]["uri"].as_str().map(str::to_string)))
        })
        .collect()
}

/// `NODE_OPTIONS` that make a node peer's clock say 4:09:20 PM (tests/peers/fixed_clock.cjs).
pub fn fixed_clock_node_options() -> String {
    format!(
        "--require {}",
        repo().join("tests/peers/fixed_clock.cjs").display()
    )
}

/// server-everything over Streamable HTTP whose time of day is always 4:09:20 PM.
pub fn everything_http_fixed_clock() -> Peer {
    node_peer(
        &node_module("@modelcontextprotocol/server-everything/dist/index.js"),
        &["streamableHttp"],
        "/mcp",
        &[("NODE_OPTIONS", &fixed_clock_node_options())],
    )
}

/// The stdio command line of server-everything with the same fixed clock.
pub fn everything_stdio_fixed_clock_cmd() -> String {
    format!(
        "env 'NODE_OPTIONS={}' {}",
        fixed_clock_node_options(),
        everything_stdio_cmd()
    )
}

/// The hostile MCP fake over stdio (see tests/fakes/hostile_mcp.py for its tools and knobs).
pub fn hostile_stdio_cmd() -> String {
    format!(
        "python3 {} stdio",
        repo().join("tests/fakes/hostile_mcp.py").display()
    )
}

/// The hostile MCP fake over HTTP: `http` (JSON bodies), `http sse` (SSE bodies) or `legacy`
/// (the 2024-11-05 HTTP+SSE transport; `url` is its `/sse` stream). `env` sets its knobs.
pub fn hostile_http(args: &[&str], env: &[(&str, &str)]) -> Peer {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/fakes/hostile_mcp.py"))
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let path = if args.first() == Some(&"legacy") {
        "/sse"
    } else {
        "/mcp"
    };
    Peer::spawn(cmd, PortFrom::FirstLine, path)
}

/// Owned strings, to compare with a request list.
pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Run `mcpchat --url NAME=URL ARGS...` in `env`; returns the output.
pub fn run(env: &TestEnv, server: &str, url: &str, args: &[&str]) -> std::process::Output {
    env.cmd()
        .args(["--url", &format!("{server}={url}")])
        .args(args)
        .output()
        .unwrap()
}

/// The hostile MCP server with its own authorization server (tests/fakes/hostile_oauth.py):
/// every request it gets is logged to `log`; `options` (`key=value`) make it hostile.
pub fn hostile_oauth(log: &Path, options: &[&str]) -> Peer {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/fakes/hostile_oauth.py"))
        .arg(log)
        .args(options);
    Peer::spawn(cmd, PortFrom::FirstLine, "/mcp")
}

/// The request lines (`METHOD PATH`) a hostile_oauth fake logged.
pub fn logged_requests(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A test home and one MCP server behind a recording proxy, named on the command line with
/// `--url NAME=PROXY`: what a test of which requests a command sends needs.
pub struct Recorded {
    pub env: TestEnv,
    pub proxy: Peer,
    name: String,
    log: PathBuf,
    /// Kept alive for the test's length: dropping a peer ends it.
    _server: Peer,
}

impl Recorded {
    pub fn new(name: &str, server: Peer) -> Recorded {
        let env = TestEnv::new();
        let log = env.path("requests.jsonl");
        let proxy = mcp_record_proxy(&server, &log);
        Recorded {
            env,
            proxy,
            name: name.to_string(),
            log,
            _server: server,
        }
    }

    /// `--url NAME=PROXY`, for a command line with more servers.
    pub fn url_arg(&self) -> String {
        format!("{}={}", self.name, self.proxy.url)
    }

    /// `mcpchat --url NAME=PROXY ARGS...`.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.env.cmd();
        cmd.args(["--url", &self.url_arg()]).args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).output().unwrap()
    }

    /// The requests the server got since the last call (see [`requests`]).
    pub fn requests(&self) -> Vec<String> {
        requests(&self.log)
    }
}

/// One page on 127.0.0.1, served to every request until the test ends; returns its URL.
pub fn serve_page(html: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = std::io::Write::write_all(&mut stream, reply.as_bytes());
        }
    });
    format!("http://127.0.0.1:{port}/")
}
