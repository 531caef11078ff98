//! The rmcp-facing module: connect to one MCP server (Streamable HTTP or stdio), list its
//! tools, call them, and shut it down cleanly. Everything the rest of mcpchat needs from the
//! SDK goes through [`Session`], and every SDK error leaves here as a classified [`Failure`].
//!
//! Guarantees: every request is bounded by a timeout; a stdio child runs in its own process
//! group registered with `children`, so it cannot outlive us; its stderr reaches ours only with
//! `-v` (the last lines are kept for error messages).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::ClientHandler;
use rmcp::model::ProtocolVersion;
#[allow(deprecated)]
// logging notifications: deprecated in 2026-07-28, still sent by 2025-era servers
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    LoggingMessageNotificationParam, NumberOrString, ProgressNotificationParam, ProgressToken,
    RequestMetaObject, Tool,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

use crate::config::{AuthType, ServerConfig, Transport};
use crate::exit::{Failure, Kind};
use crate::redact;
use crate::ui::Progress;

/// What every connection shares: the pooled HTTP client and the stderr UI.
#[derive(Clone)]
pub struct Context {
    /// Built on first use: loading the system's CA certificates costs a few milliseconds that
    /// a stdio-only command should not pay.
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
    pub store: crate::store::TokenStore,
    pub progress: Arc<Progress>,
    pub connect_timeout: Duration,
    /// Forward stdio servers' stderr to ours (`-v`).
    pub forward_stderr: bool,
    /// How server elicitation requests are answered.
    pub elicitation: Elicitation,
    /// `--protocol-version`: `auto` (None) or a pinned revision.
    pub protocol_version: Option<String>,
}

/// What mcpchat answers when a server asks the user for input (`elicitation/create`). A
/// command-line run has nobody to ask, so it either declines or accepts the schema's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Elicitation {
    /// Decline every request (the default; the capability is not declared).
    #[default]
    Decline,
    /// Accept form requests with each field's `default` from the requested schema.
    AcceptDefaults,
}

impl Context {
    /// The pooled HTTP client (one for everything).
    pub fn http(&self) -> reqwest::Client {
        self.http
            .get_or_init(|| {
                http_client().unwrap_or_else(|failure| {
                    tracing::warn!("{}", failure.message);
                    reqwest::Client::new()
                })
            })
            .clone()
    }

    pub fn new(
        progress: Arc<Progress>,
        connect_timeout: Duration,
        forward_stderr: bool,
        store: crate::store::TokenStore,
    ) -> Result<Self, Failure> {
        Ok(Context {
            elicitation: Elicitation::Decline,
            protocol_version: None,
            store,
            http: Arc::default(),
            progress,
            connect_timeout,
            forward_stderr,
        })
    }
}

/// The MCP lifecycle for a server: by default, over HTTP, probe `server/discover` (the stateless
/// 2026-07-28 era) and fall back to `initialize` for older servers; stdio servers start with
/// `initialize`; a pinned version skips the probe (`initialize` for the dated revisions up to
/// 2025-11-25).
fn lifecycle(server: &ServerConfig, context: &Context, stdio: bool) -> ClientLifecycleMode {
    let pinned = server
        .protocol_version
        .clone()
        .or_else(|| context.protocol_version.clone());
    match pinned.as_deref() {
        // A local child answers initialize at once; probing would only cost time (and a
        // server that ignores unknown methods would stall the probe).
        None if stdio => ClientLifecycleMode::Initialize,
        None | Some("auto") => ClientLifecycleMode::Auto {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            legacy_version: Some(ProtocolVersion::V_2025_11_25),
        },
        Some("2026-07-28") => ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
        Some(_) => ClientLifecycleMode::Initialize,
    }
}

/// One pooled HTTP client for everything. Same-origin 307/308 redirects only: a 301/302/303
/// would turn the POST into a bodyless GET, and another origin must not see our headers.
pub fn http_client() -> Result<reqwest::Client, Failure> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(
            attempt.status(),
            reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
        );
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !keeps_body || !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > 10 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .user_agent(concat!("mcpchat/", env!("CARGO_PKG_VERSION")))
        .redirect(policy)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Failure::new(Kind::Internal, format!("cannot build the HTTP client: {e}")))
}

/// Receives what a server sends on its own: progress and log messages.
#[derive(Clone)]
struct Handler {
    server: Arc<str>,
    progress: Arc<Progress>,
    elicitation: Elicitation,
    /// A pinned protocol version (None: automatic).
    protocol_version: Option<String>,
}

impl ClientHandler for Handler {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let token = match &params.progress_token.0 {
            NumberOrString::Number(n) => n.to_string(),
            NumberOrString::String(s) => s.to_string(),
        };
        self.progress.update(
            &self.server,
            &token,
            params.progress,
            params.total,
            params.message.as_deref(),
        );
    }

    #[allow(deprecated)]
    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let text = match &params.data {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let logger = params.logger.as_deref().unwrap_or("");
        tracing::info!(target: "mcpchat::server", server = %self.server, level = ?params.level, logger, "{}", redact::text(&text));
    }

    async fn create_elicitation(
        &self,
        request: rmcp::model::ElicitRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        use rmcp::model::{ElicitResult, ElicitationAction};
        let request = serde_json::to_value(&request).unwrap_or_default();
        let message = request
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let schema = request.get("requestedSchema").cloned();
        match (self.elicitation, schema) {
            (Elicitation::AcceptDefaults, Some(schema)) => {
                let mut content = serde_json::Map::new();
                for (name, property) in schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if let Some(default) = property.get("default") {
                        content.insert(name.clone(), default.clone());
                    }
                }
                tracing::info!(server = %self.server, message = %redact::text(&message), "accepted an elicitation request with the schema's defaults");
                Ok(ElicitResult::new(ElicitationAction::Accept)
                    .with_content(Value::Object(content)))
            }
            _ => {
                tracing::info!(server = %self.server, message = %redact::text(&message), "declined an elicitation request");
                Ok(ElicitResult::new(ElicitationAction::Decline))
            }
        }
    }

    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities = match self.elicitation {
            Elicitation::AcceptDefaults => {
                serde_json::from_value(serde_json::json!({"elicitation": {"form": {}}}))
                    .unwrap_or_default()
            }
            Elicitation::Decline => ClientCapabilities::default(),
        };
        let config = ClientConfig::new(
            capabilities,
            Implementation::new("mcpchat", env!("CARGO_PKG_VERSION")),
        );
        match self.protocol_version.as_deref().and_then(|v| {
            serde_json::from_value::<ProtocolVersion>(Value::String(v.to_string())).ok()
        }) {
            Some(version) => config.with_protocol_version(version),
            None => config,
        }
    }
}

/// The last lines a stdio server wrote to stderr, for error messages.
type StderrTail = Arc<Mutex<VecDeque<String>>>;

struct Child {
    pid: u32,
    stderr_tail: StderrTail,
}

/// A live connection to one MCP server.
pub struct Session {
    pub server: Arc<ServerConfig>,
    store: crate::store::TokenStore,
    client: RunningService<RoleClient, Handler>,
    child: Option<Child>,
}

impl Session {
    /// Connect and complete the MCP handshake within the connect timeout.
    pub async fn connect(server: Arc<ServerConfig>, context: &Context) -> Result<Session, Failure> {
        let handler = Handler {
            server: Arc::from(server.name.as_str()),
            progress: context.progress.clone(),
            elicitation: context.elicitation,
            protocol_version: server
                .protocol_version
                .clone()
                .or_else(|| context.protocol_version.clone())
                .filter(|v| v != "auto"),
        };
        let started = Instant::now();
        let (result, child) = match &server.transport {
            Transport::Http { url, headers } => {
                let config = http_config(&server, url, headers)?;
                let authorized = match server.auth_type {
                    AuthType::Oauth | AuthType::ClientCredentials => tokio::time::timeout(
                        context.connect_timeout,
                        crate::oauth::authorized_client(&server, &context.store, &context.http()),
                    )
                    .await
                    .map_err(|_| {
                        Failure::new(
                            Kind::Timeout,
                            format!("timed out getting a token for MCP server `{}`", server.name),
                        )
                    })??,
                    _ => None,
                };
                let attempt = |handler: Handler, mode: ClientLifecycleMode| {
                    let config = config.clone();
                    let authorized = authorized.clone();
                    async move {
                        match authorized {
                            Some(client) => {
                                let transport =
                                    StreamableHttpClientTransport::with_client(client, config);
                                tokio::time::timeout(
                                    context.connect_timeout,
                                    handler.serve_with_lifecycle(transport, mode),
                                )
                                .await
                            }
                            None => {
                                let transport = StreamableHttpClientTransport::with_client(
                                    context.http(),
                                    config,
                                );
                                tokio::time::timeout(
                                    context.connect_timeout,
                                    handler.serve_with_lifecycle(transport, mode),
                                )
                                .await
                            }
                        }
                    }
                };
                let pinned = server
                    .protocol_version
                    .as_deref()
                    .or(context.protocol_version.as_deref());
                let legacy_pinned = pinned == Some("2024-11-05");
                let mode = lifecycle(&server, context, false);
                let auto = matches!(mode, ClientLifecycleMode::Auto { .. });
                let mut result = if legacy_pinned {
                    // Placeholder failure; the legacy transport below replaces it.
                    Ok(Err(rmcp::service::ClientInitializeError::ConnectionClosed(
                        "the legacy HTTP+SSE transport was asked for".to_string(),
                    )))
                } else {
                    attempt(handler.clone(), mode).await
                };
                // A server that answers `server/discover` with something other than a discover
                // result or a clean error is an older server too: start again with initialize.
                if auto
                    && let Ok(Err(error)) = &result
                    && classify_init(&server, &context.store, error, None).kind == Kind::Protocol
                {
                    tracing::debug!(server = %server.name, "server/discover failed; retrying with initialize");
                    let legacy = Handler {
                        protocol_version: Some("2025-11-25".to_string()),
                        ..handler.clone()
                    };
                    result = attempt(legacy, ClientLifecycleMode::Initialize).await;
                }
                // Servers of the 2024-11-05 era speak HTTP+SSE: a GET opens the event stream.
                let try_legacy = legacy_pinned
                    || matches!(pinned, None | Some("auto"))
                        && matches!(&result, Ok(Err(error)) if matches!(
                            classify_init(&server, &context.store, error, None).kind,
                            Kind::Http | Kind::Protocol
                        ));
                if try_legacy && authorized.is_none() {
                    let legacy = Handler {
                        protocol_version: Some("2024-11-05".to_string()),
                        ..handler.clone()
                    };
                    let opened = tokio::time::timeout(
                        context.connect_timeout,
                        crate::legacy_sse::LegacySse::connect(
                            context.http(),
                            url,
                            header_map(headers),
                        ),
                    )
                    .await;
                    match opened {
                        Ok(Ok(transport)) => {
                            tracing::info!(server = %server.name, "using the legacy HTTP+SSE transport (2024-11-05)");
                            result = tokio::time::timeout(
                                context.connect_timeout,
                                legacy.serve_with_lifecycle(
                                    transport,
                                    ClientLifecycleMode::Initialize,
                                ),
                            )
                            .await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(server = %server.name, "no legacy HTTP+SSE endpoint either: {e}")
                        }
                        Err(_) => {
                            tracing::debug!(server = %server.name, "timed out opening a legacy HTTP+SSE stream")
                        }
                    }
                }
                (result, None)
            }
            Transport::Stdio { .. } => {
                let (transport, child) = spawn_child(&server, context)?;
                let mode = lifecycle(&server, context, true);
                let handler = match mode {
                    ClientLifecycleMode::Initialize if handler.protocol_version.is_none() => {
                        Handler {
                            protocol_version: Some("2025-11-25".to_string()),
                            ..handler
                        }
                    }
                    _ => handler,
                };
                let result = tokio::time::timeout(
                    context.connect_timeout,
                    handler.serve_with_lifecycle(transport, mode),
                )
                .await;
                (result, Some(child))
            }
        };
        let outcome = match result {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(error)) => Err(classify_init(
                &server,
                &context.store,
                &error,
                child.as_ref(),
            )),
            Err(_) => Err(Failure::new(
                Kind::Timeout,
                format!(
                    "timed out after {} connecting to MCP server `{}` ({})",
                    human(context.connect_timeout),
                    server.name,
                    server.describe()
                ),
            )
            .hint(
                "raise the limit with --connect-timeout SECS if the server is just slow to start",
            )),
        };
        match outcome {
            Ok(client) => {
                tracing::debug!(server = %server.name, elapsed_ms = started.elapsed().as_millis() as u64, "connected");
                Ok(Session {
                    server,
                    store: context.store.clone(),
                    client,
                    child,
                })
            }
            Err(failure) => {
                if let Some(child) = &child {
                    crate::children::terminate(child.pid, Duration::from_millis(200));
                }
                Err(failure)
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.server.name
    }

    /// All tools (every page), filtered by the server's allow/deny globs.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, Failure> {
        let tools = self
            .bounded("tools/list", self.client.peer().list_all_tools())
            .await?;
        Ok(tools
            .into_iter()
            .filter(|t| self.server.tools.permits(&t.name))
            .collect())
    }

    /// Call a tool; `isError` results are `Ok` (the caller decides what they mean).
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, Value>,
    ) -> Result<CallToolResult, Failure> {
        static NEXT_TOKEN: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
        let token = NEXT_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
            NumberOrString::Number(token),
        )));
        self.bounded(
            &format!("tools/call `{tool}`"),
            self.client.call_tool(params),
        )
        .await
    }

    /// Run one request under the server's timeout and classify its failure.
    async fn bounded<T>(
        &self,
        what: &str,
        request: impl Future<Output = Result<T, rmcp::service::ServiceError>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.server.timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.classify(what, &error)),
            Err(_) => Err(Failure::new(
                Kind::Timeout,
                format!(
                    "timed out after {} waiting for {what} on MCP server `{}`",
                    human(self.server.timeout),
                    self.server.name
                ),
            )
            .hint("raise the limit with --timeout SECS or `timeout_secs` in the config")),
        }
    }

    fn classify(&self, what: &str, error: &rmcp::service::ServiceError) -> Failure {
        use rmcp::service::ServiceError;
        let server = &self.server;
        if let Some(challenge) = error.auth_challenge() {
            return challenge_failure(server, &self.store, challenge);
        }
        match error {
            ServiceError::McpError(data) => Failure::new(
                Kind::Protocol,
                format!(
                    "MCP server `{}` rejected {what}: {} (code {})",
                    server.name,
                    redact::text(&data.message),
                    data.code.0
                ),
            ),
            ServiceError::TransportClosed => self.closed_failure(what),
            ServiceError::TransportSend(inner) => {
                if let Some(failure) = classify_transport(server, inner.error.as_ref()) {
                    return failure;
                }
                if self.child.is_some() {
                    return self.closed_failure(what);
                }
                Failure::new(
                    Kind::Protocol,
                    format!(
                        "{what} failed on MCP server `{}`: {}",
                        server.name,
                        chain_text(inner.error.as_ref())
                    ),
                )
            }
            other => Failure::new(
                Kind::Protocol,
                format!(
                    "{what} failed on MCP server `{}`: {}",
                    server.name,
                    redact::text(&other.to_string())
                ),
            ),
        }
    }

    fn closed_failure(&self, what: &str) -> Failure {
        match &self.child {
            Some(child) => exited_failure(&self.server, child, &format!("during {what}")),
            None => Failure::new(
                Kind::Protocol,
                format!(
                    "MCP server `{}` closed the connection during {what}",
                    self.server.name
                ),
            ),
        }
    }

    /// End the session: DELETE the HTTP session, or close a child's stdin and let it exit
    /// (SIGTERM, then SIGKILL for its whole process group if it lingers).
    pub async fn close(self) {
        let Session { client, child, .. } = self;
        let grace = if child.is_some() {
            Duration::from_millis(1500)
        } else {
            Duration::from_secs(1)
        };
        let _ = tokio::time::timeout(grace, client.cancel()).await;
        if let Some(child) = child {
            crate::children::terminate(child.pid, Duration::from_millis(100));
        }
    }
}

/// The configured headers as a header map (invalid ones were rejected by `http_config`).
fn header_map(headers: &[(String, String)]) -> reqwest::header::HeaderMap {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
            reqwest::header::HeaderValue::from_str(value),
        ) {
            map.insert(name, value);
        }
    }
    map
}

fn http_config(
    server: &ServerConfig,
    url: &str,
    headers: &[(String, String)],
) -> Result<StreamableHttpClientTransportConfig, Failure> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_string())
        .reinit_on_expired_session(true);
    let mut custom = std::collections::HashMap::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("authorization") {
            // rmcp owns the Authorization header; hand it the bearer token.
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .unwrap_or(value);
            config = config.auth_header(token.to_string());
            continue;
        }
        let header_name =
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Failure::config(format!(
                    "server `{}`: `{name}` is not a valid HTTP header name",
                    server.name
                ))
            })?;
        let header_value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
            Failure::config(format!(
                "server `{}`: the value of header `{name}` is not valid in HTTP",
                server.name
            ))
        })?;
        custom.insert(header_name, header_value);
    }
    Ok(config.custom_headers(custom))
}

fn spawn_child(
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
        .map_err(|e| {
            let mut failure = Failure::new(
                Kind::Unreachable,
                format!(
                    "cannot start stdio MCP server `{}` (`{}`): {e}",
                    server.name,
                    redact::text(command)
                ),
            );
            if e.kind() == std::io::ErrorKind::NotFound {
                failure = failure.hint(format!(
                    "is `{}` installed and on PATH?",
                    redact::text(command)
                ));
            }
            failure
        })?;
    let pid = transport.id().unwrap_or(0);
    if pid != 0 {
        crate::children::register(pid);
    }
    let stderr_tail: StderrTail = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = stderr {
        let tail = stderr_tail.clone();
        let name = server.name.clone();
        let forward = context.forward_stderr;
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
                if tail.len() == 20 {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
    }
    Ok((transport, Child { pid, stderr_tail }))
}

fn exited_failure(server: &ServerConfig, child: &Child, when: &str) -> Failure {
    // Give the stderr reader a moment to collect the child's last words.
    std::thread::sleep(Duration::from_millis(50));
    let tail: Vec<String> = child
        .stderr_tail
        .lock()
        .map(|t| t.iter().rev().take(3).rev().cloned().collect())
        .unwrap_or_default();
    let mut failure = Failure::new(
        Kind::ServerExited,
        format!(
            "stdio MCP server `{}` exited or closed its output {when}",
            server.name
        ),
    );
    for line in tail {
        failure = failure.hint(format!("its stderr: {line}"));
    }
    failure.hint("run with -v to see everything the server writes to stderr")
}

fn auth_failure(server: &ServerConfig) -> Failure {
    let failure = Failure::new(
        Kind::Auth,
        format!(
            "MCP server `{}` requires authentication, or rejected the credentials sent",
            server.name
        ),
    );
    match server.auth_type {
        AuthType::Oauth => failure.hint(format!("run: mcpchat auth login {}", server.name)),
        AuthType::ClientCredentials => failure.hint(format!(
            "check oauth.client_id / oauth.client_secret, then run: mcpchat auth login {}",
            server.name
        )),
        _ => {
            failure.hint("check the token in the server's `url` or `headers` (config or --header)")
        }
    }
}

/// A 401/403 with its `WWW-Authenticate` challenge. For `insufficient_scope`, the scopes the
/// server wants are remembered so that the next `auth login` asks for them (step-up).
fn challenge_failure(
    server: &ServerConfig,
    store: &crate::store::TokenStore,
    challenge: &str,
) -> Failure {
    let lower = challenge.to_ascii_lowercase();
    if server.auth_type == AuthType::Oauth && lower.contains("insufficient_scope") {
        let wanted = challenge_param(challenge, "scope").unwrap_or_default();
        let scopes: Vec<String> = wanted.split_whitespace().map(str::to_string).collect();
        if let Transport::Http { url, .. } = &server.transport
            && !scopes.is_empty()
        {
            let _ = store.update(url, |entry| {
                for scope in &scopes {
                    if !entry.required_scopes.contains(scope) {
                        entry.required_scopes.push(scope.clone());
                    }
                }
            });
        }
        return Failure::new(
            Kind::Auth,
            format!(
                "MCP server `{}` needs more permissions (scope `{wanted}`) than the login granted",
                server.name
            ),
        )
        .hint(format!(
            "run: mcpchat auth login {} (it will ask for `{wanted}` too)",
            server.name
        ));
    }
    auth_failure(server)
}

/// A parameter of a `WWW-Authenticate` challenge, e.g. `scope="a b"`.
fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let lower = challenge.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&format!("{name}=")) {
        let start = from + pos;
        let boundary = start == 0
            || !lower.as_bytes()[start - 1].is_ascii_alphanumeric()
                && lower.as_bytes()[start - 1] != b'_';
        let value_start = start + name.len() + 1;
        if boundary {
            let rest = &challenge[value_start..];
            return Some(match rest.strip_prefix('"') {
                Some(quoted) => quoted.split('"').next().unwrap_or("").to_string(),
                None => rest.split([',', ' ']).next().unwrap_or("").to_string(),
            });
        }
        from = value_start;
    }
    None
}

fn classify_init(
    server: &ServerConfig,
    store: &crate::store::TokenStore,
    error: &rmcp::service::ClientInitializeError,
    child: Option<&Child>,
) -> Failure {
    use rmcp::service::ClientInitializeError as E;
    if let Some(challenge) = error.auth_challenge() {
        return challenge_failure(server, store, challenge);
    }
    if error.is_authorization_required() {
        return auth_failure(server);
    }
    match error {
        E::TransportError { error: inner, .. } => {
            if let Some(failure) = classify_transport(server, inner.error.as_ref()) {
                return failure;
            }
            if let Some(child) = child {
                return exited_failure(server, child, "during the MCP handshake");
            }
            Failure::new(
                Kind::Protocol,
                format!(
                    "MCP handshake with server `{}` ({}) failed: {}",
                    server.name,
                    server.describe(),
                    chain_text(inner.error.as_ref())
                ),
            )
        }
        E::ConnectionClosed(_) => match child {
            Some(child) => exited_failure(server, child, "during the MCP handshake"),
            None => Failure::new(
                Kind::Protocol,
                format!(
                    "MCP server `{}` ({}) closed the connection during the handshake",
                    server.name,
                    server.describe()
                ),
            ),
        },
        E::JsonRpcError(data) => Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{}` rejected initialize: {} (code {})",
                server.name,
                redact::text(&data.message),
                data.code.0
            ),
        ),
        other => Failure::new(
            Kind::Protocol,
            format!(
                "MCP handshake with server `{}` failed: {}",
                server.name,
                redact::text(&other.to_string())
            ),
        ),
    }
}

/// Classify a transport error by what is in its source chain.
fn classify_transport(
    server: &ServerConfig,
    error: &(dyn std::error::Error + 'static),
) -> Option<Failure> {
    use rmcp::transport::streamable_http_client::{HttpStatusError, StreamableHttpError};
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        let transport = current.downcast_ref::<StreamableHttpError<reqwest::Error>>();
        let status = current
            .downcast_ref::<HttpStatusError>()
            .or(match transport {
                Some(StreamableHttpError::HttpStatus(status)) => Some(status),
                _ => None,
            });
        if let Some(status) = status {
            return Some(Failure::new(
                Kind::Http,
                format!(
                    "MCP server `{}` ({}) answered HTTP {}",
                    server.name,
                    server.describe(),
                    status.status
                ),
            ));
        }
        let http = current
            .downcast_ref::<reqwest::Error>()
            .or(match transport {
                Some(StreamableHttpError::Client(e)) => Some(e),
                _ => None,
            });
        if let Some(http) = http {
            if http.is_connect() {
                let mut failure = Failure::new(
                    Kind::Unreachable,
                    format!(
                        "cannot connect to MCP server `{}` at {}: {}",
                        server.name,
                        server.describe(),
                        root_cause(http)
                    ),
                );
                if let Transport::Http { url, .. } = &server.transport
                    && (url.contains("://127.0.0.1") || url.contains("://localhost"))
                {
                    failure = failure.hint("is the server running?");
                }
                return Some(failure);
            }
            if http.is_timeout() {
                return Some(Failure::new(
                    Kind::Timeout,
                    format!("HTTP request to MCP server `{}` timed out", server.name),
                ));
            }
            if let Some(status) = http.status() {
                return Some(Failure::new(
                    Kind::Http,
                    format!(
                        "MCP server `{}` ({}) answered HTTP {}",
                        server.name,
                        server.describe(),
                        status.as_u16()
                    ),
                ));
            }
        }
        if current.downcast_ref::<serde_json::Error>().is_some() {
            return Some(Failure::new(
                Kind::Protocol,
                format!(
                    "MCP server `{}` ({}) sent a body that is not valid JSON-RPC: {}",
                    server.name,
                    server.describe(),
                    redact::text(&current.to_string())
                ),
            ));
        }
        source = current.source();
    }
    let text = chain_text(error);
    if ["HTTP 401", "HTTP 403", "401 Unauthorized", "403 Forbidden"]
        .iter()
        .any(|s| text.contains(s))
    {
        return Some(auth_failure(server));
    }
    if text.contains("HTTP 4") || text.contains("HTTP 5") || text.contains("status") {
        return Some(Failure::new(
            Kind::Http,
            format!(
                "MCP server `{}` ({}) failed: {text}",
                server.name,
                server.describe()
            ),
        ));
    }
    if text.contains("Unexpected content type")
        || text.contains("unexpected server response")
        || text.contains("Deserialize")
    {
        return Some(Failure::new(
            Kind::Protocol,
            format!(
                "MCP server `{}` ({}) sent an invalid response: {text}",
                server.name,
                server.describe()
            ),
        ));
    }
    None
}

fn root_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> String {
    let mut current: &'a (dyn std::error::Error + 'static) = error;
    while let Some(next) = current.source() {
        current = next;
    }
    redact::text(&current.to_string())
}

/// "outer: inner: root", deduplicated and redacted.
fn chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        let text = current.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = current.source();
    }
    redact::text(&parts.join(": "))
}

/// "10s", "1.5s", "250ms".
pub fn human(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}
