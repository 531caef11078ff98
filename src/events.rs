//! The stdout contract: every line mcpchat prints is one [`Event`], serialised as JSON with a
//! `"type"` tag. `schema/events.schema.json` describes each variant; changes are additive and
//! bump [`SCHEMA_VERSION`]. MCP payloads are carried as `serde_json::Value` so the format does
//! not follow the SDK's types.

use serde::Serialize;
use serde_json::Value;

/// Version of the line format, published in the JSON Schema (`schema_version`).
pub const SCHEMA_VERSION: &str = "1.9.0";

/// The JSON Schema for every stdout line, as shipped in the repository.
pub const SCHEMA: &str = include_str!("../schema/events.schema.json");

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Tool(ToolInfo),
    ToolCall(ToolCallInfo),
    ToolResult(ToolResult),
    Message(Message),
    Delta(Message),
    Result(RunResult),
    Auth(AuthStatus),
    AuthPrompt(AuthPrompt),
    Error(ErrorInfo),
    Resource(ResourceInfo),
    ResourceTemplate(ResourceTemplateInfo),
    ResourceContents(ResourceContents),
    ResourceUpdated(ResourceUpdated),
    Server(ServerReport),
    /// A server's answer to `ping` (schema 1.8.0).
    Ping(PingReport),
    /// An MCP prompt (`prompts list`). Until schema 1.7.0 these were `mcp_prompt` lines and
    /// `prompt` was a conversation's user prompt, now `user_prompt`.
    Prompt(PromptInfo),
    PromptResult(PromptResult),
    Completion(Completion),
    Task(TaskInfo),
    Session(SessionInfo),
    /// A conversation's user prompt (`sessions show`).
    UserPrompt(PromptText),
    Sampling(SamplingInfo),
    Elicitation(ElicitationInfo),
    /// A server the daemon keeps alive (`daemon status`). Since schema 1.8.0.
    DaemonServer(DaemonServer),
}

/// One server the per-user daemon keeps alive (`daemon status`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DaemonServer {
    pub server: String,
    /// The process id of the server's process (its group leader).
    pub pid: Option<u32>,
    pub uptime_secs: u64,
    pub idle_secs: u64,
    /// `tools/call` requests relayed to it.
    pub calls: u64,
    /// Commands connected to it now.
    pub connections: u64,
    pub protocol_version: Option<String>,
    /// The hash of its config that names it in the daemon.
    pub key: String,
    /// `stdio` or `http` (since schema 1.9.0; null from an older daemon).
    #[serde(default)]
    pub transport: Option<String>,
    /// An HTTP server's auth identity: `{"type": "oauth"|"token"|"none", "client_id",
    /// "issuer"}`, never a secret; null for stdio (since schema 1.9.0).
    #[serde(default)]
    pub auth: Option<Value>,
}

/// One resource a server lists (`resources list`); fields the server left out are null.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceInfo {
    pub server: String,
    pub uri: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub mime_type: Option<String>,
    pub size: Option<u64>,
    pub annotations: Option<Value>,
}

/// One resource template a server lists (`resources templates`).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceTemplateInfo {
    pub server: String,
    /// The RFC 6570 URI template, e.g. `demo://resource/dynamic/text/{resourceId}`.
    pub uri_template: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub mime_type: Option<String>,
    pub annotations: Option<Value>,
}

/// What `resources read` got for one URI: `contents` as the server sent them (`text`, or
/// base64 `blob`, with `mimeType`). With `-o FILE` the decoded bytes went to `file` instead,
/// and each item keeps its `uri` and `mimeType` and gains `bytes` (what was written).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceContents {
    pub server: String,
    pub uri: String,
    pub contents: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A `notifications/resources/updated` from a watched server (`resources watch`).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceUpdated {
    pub server: String,
    pub uri: String,
    /// The fresh contents (`--read`), as the server sent them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<Value>,
}

/// A server's answer to the MCP `ping` request (`ping`).
#[derive(Debug, Clone, Serialize)]
pub struct PingReport {
    pub server: String,
    /// Whether it answered; when not, an `error` line for it follows.
    pub ok: bool,
    /// The `ping` request's round trip in ms (to the µs); null when it did not answer.
    pub rtt_ms: Option<f64>,
}

/// What a server is (`servers`): how we reach it and what it said about itself.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub server: String,
    /// `http` or `stdio`.
    pub transport: &'static str,
    /// The URL with secrets masked (HTTP servers).
    pub url: Option<String>,
    /// The command line with secrets masked (stdio servers).
    pub command: Option<String>,
    pub protocol_version: Option<String>,
    /// `name`, `version`, `title` as the server sent them.
    pub server_info: Option<Value>,
    pub capabilities: Value,
    pub instructions: Option<String>,
    /// Counts; null when the server does not declare the capability.
    pub tools: Option<usize>,
    pub resources: Option<usize>,
    pub resource_templates: Option<usize>,
    pub prompts: Option<usize>,
    pub connect_ms: u64,
    /// The auth state, as `auth status` reports it (never a token).
    pub auth: Value,
}

/// Token counts, summed over a run, as the model API reported them.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// One stored conversation (`sessions list`).
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub name: String,
    pub path: String,
    /// User prompts in the conversation.
    pub turns: u32,
    /// Chat messages stored (user, assistant and tool messages).
    pub messages: u32,
    pub model: Option<String>,
    pub provider: Option<String>,
    /// RFC 3339, UTC.
    pub created: Option<String>,
    /// When the file last changed, RFC 3339, UTC.
    pub updated: Option<String>,
}

/// A user prompt of a stored conversation (`sessions show`).
#[derive(Debug, Clone, Serialize)]
pub struct PromptText {
    pub content: String,
    /// 1 for the conversation's first prompt.
    pub turn: u32,
}

/// A server's `sampling/createMessage` request answered by the configured model.
#[derive(Debug, Clone, Serialize)]
pub struct SamplingInfo {
    pub server: String,
    pub model: String,
    /// The model the server hinted at (logged, not obeyed).
    pub model_hints: Vec<String>,
    pub usage: Usage,
    pub duration_ms: u64,
    /// Null when answered; the reason otherwise.
    pub error: Option<String>,
}

/// A server's `elicitation/create` request and how it was answered (schema 1.8.0).
#[derive(Debug, Clone, Serialize)]
pub struct ElicitationInfo {
    pub server: String,
    /// `form` or `url`.
    pub mode: String,
    /// The server's message, as sent.
    pub message: String,
    /// `accept`, `decline` or `cancel`.
    pub action: String,
    /// The accepted form's values, sensitive ones as `***`; null otherwise.
    pub content: Option<Value>,
    /// URL mode: the URL the server named, and its elicitation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elicitation_id: Option<String>,
}

/// What the user must do to finish a device login (RFC 8628), for scripts that relay it:
/// open `verification_uri` and enter `user_code`. Printed before polling starts.
#[derive(Debug, Clone, Serialize)]
pub struct AuthPrompt {
    pub server: String,
    /// `device` (the only kind so far).
    pub flow: &'static str,
    pub verification_uri: String,
    /// The same page with the code filled in, when the server offers one.
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    /// Seconds until the code expires.
    pub expires_in: u64,
}

/// One server's authentication state (`auth login|status|logout`). Never carries a token.
#[derive(Debug, Clone, Serialize)]
pub struct AuthStatus {
    pub server: String,
    /// `token`, `oauth`, `client_credentials`, `jwt_bearer`, `enterprise_managed` or `none`.
    pub auth_type: &'static str,
    /// Null for servers without OAuth (their secret is in the config).
    pub logged_in: Option<bool>,
    /// When the access token expires, in seconds since the Unix epoch.
    pub expires_at: Option<u64>,
    pub expired: Option<bool>,
    pub scopes: Vec<String>,
    pub refreshable: bool,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// `auth logout` only: whether the tokens were revoked at the authorization server
    /// (null: nothing to revoke, or the server offers no revocation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Option<bool>>,
}

/// A tool call the model asked for (`ask`), printed before it runs.
#[derive(Debug, Clone, Serialize)]
pub struct ToolCallInfo {
    /// The model's call id (generated when the provider sent none).
    pub id: String,
    /// `server__tool`, or the model's function name when it names no known tool.
    pub name: String,
    pub server: Option<String>,
    pub tool: Option<String>,
    /// The arguments as the model sent them (parsed when they are a JSON string).
    pub arguments: Value,
    pub step: u32,
}

/// Assistant text (`message`: a whole turn's text; `delta`: a streamed piece of it).
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub content: String,
    pub step: u32,
}

/// The last line of every `ask` run, also when it fails.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// `success`, `error` or `max_steps`.
    pub status: &'static str,
    pub answer: Option<String>,
    pub model: Option<String>,
    /// Model requests made (a request that failed counts).
    pub steps: u32,
    /// Tool calls run (an interrupted call does not count).
    pub tool_calls: u32,
    pub usage: Usage,
    pub duration_ms: u64,
    pub error: Option<RunError>,
    /// The conversation this run continued (`--session`/`--continue`), else null.
    pub session: Option<String>,
    /// This run's exchange number in the conversation (1 for the first), else null.
    pub turn: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunError {
    pub kind: String,
    pub message: String,
    pub exit_code: i32,
}

/// One tool offered by a server (`tools list`).
#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    pub server: String,
    /// Prefixed name, `server__tool`, unique across servers.
    pub name: String,
    /// The name the server uses.
    pub tool: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub description: Option<String>,
    pub input_schema: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
    /// `tools search` only: how well the tool matches the query, higher is better.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<u32>,
}

/// The outcome of one `tools/call`.
#[derive(Debug, Clone, Serialize)]
pub struct ToolResult {
    /// The request id from `--batch` input (absent for single calls).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<RawId>,
    /// Null when the model named a tool that does not exist.
    pub server: Option<String>,
    pub tool: String,
    pub name: String,
    pub is_error: bool,
    /// Content blocks exactly as the server sent them.
    pub content: Value,
    pub structured_content: Option<Value>,
    /// The text parts of `content`, joined with newlines.
    pub text: String,
    pub duration_ms: u64,
}

/// A failure that did not stop the whole command (one server, one batch request).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<RawId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Machine-readable class, e.g. `timeout`, `unreachable`, `auth`, `invalid_arguments`.
    pub kind: String,
    pub message: String,
    /// The exit code this failure alone would cause.
    pub exit_code: i32,
}

impl ErrorInfo {
    pub fn from_failure(failure: &crate::exit::Failure) -> Self {
        ErrorInfo {
            id: None,
            server: None,
            tool: None,
            kind: failure.kind.as_str().to_string(),
            message: crate::redact::text(&failure.message),
            exit_code: failure.code().as_i32(),
        }
    }
}

/// One MCP prompt of one server (`prompts list`).
#[derive(Debug, Clone, Serialize)]
pub struct PromptInfo {
    pub server: String,
    /// Prefixed name, `server__prompt`; what `prompts get` and `ask --prompt` take.
    pub name: String,
    /// The name the server uses.
    pub prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub description: Option<String>,
    pub arguments: Vec<PromptArgument>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PromptArgument {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub description: Option<String>,
    pub required: bool,
}

/// The messages of one `prompts/get`.
#[derive(Debug, Clone, Serialize)]
pub struct PromptResult {
    pub server: String,
    pub name: String,
    pub prompt: String,
    pub description: Option<String>,
    /// The messages exactly as the server sent them (`role`, `content`).
    pub messages: Value,
    /// The text parts of the messages, joined with newlines.
    pub text: String,
}

/// Suggested values for one argument (`complete`).
#[derive(Debug, Clone, Serialize)]
pub struct Completion {
    pub server: String,
    /// `server__prompt` for a prompt argument, null for a resource template.
    pub name: Option<String>,
    /// The resource template's URI template, null for a prompt argument.
    pub template: Option<String>,
    pub argument: String,
    /// The partial value that was completed.
    pub value: String,
    pub values: Vec<String>,
    pub total: Option<u64>,
    pub has_more: bool,
}

/// The state of one task (`tools call --task`, `tasks list|get|cancel`).
#[derive(Debug, Clone, Serialize)]
pub struct TaskInfo {
    pub server: String,
    /// The server's task id.
    pub task_id: String,
    /// `working`, `input_required`, `completed`, `failed` or `cancelled`.
    pub status: String,
    pub status_message: Option<String>,
    pub created_at: Option<String>,
    pub last_updated_at: Option<String>,
    /// How long the server keeps the task, in milliseconds (null: unlimited or unknown).
    pub ttl_ms: Option<u64>,
    /// How often the server suggests polling, in milliseconds.
    pub poll_interval_ms: Option<u64>,
}

/// A request id echoed exactly as the caller wrote it: the JSON text of the `id` value, byte
/// for byte (big integers, `1.0`, `1e400`, escapes and the spacing inside objects all kept).
/// Parsing it into a `Value` would round numbers and reformat the rest.
#[derive(Debug, Clone)]
pub struct RawId(Box<serde_json::value::RawValue>);

impl RawId {
    /// The id's JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl From<Value> for RawId {
    fn from(value: Value) -> Self {
        let text = value.to_string();
        match serde_json::value::RawValue::from_string(text) {
            Ok(raw) => RawId(raw),
            // A serialised `Value` is always valid JSON; keep a valid id if not.
            Err(_) => RawId(Box::<serde_json::value::RawValue>::default()),
        }
    }
}

impl From<Box<serde_json::value::RawValue>> for RawId {
    fn from(raw: Box<serde_json::value::RawValue>) -> Self {
        RawId(raw)
    }
}

impl Serialize for RawId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}
