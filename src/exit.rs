//! Exit codes (PRODUCT.md section 3) and the one typed error that carries them up to `main`.
//!
//! Commands return `anyhow::Error`; any error that should map to a specific exit code is a
//! [`Failure`] somewhere in its chain. Everything else is treated as a task failure (exit 1).

use std::fmt;

/// The process exit codes mcpchat promises to scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    Success = 0,
    /// A tool returned `isError`, the model API returned an error, `max_steps` was reached.
    TaskFailed = 1,
    /// Usage, configuration or input error (including arguments that fail the tool's schema).
    Usage = 2,
    /// Authentication required or rejected.
    Auth = 3,
    /// Unreachable, timed out, or protocol failure.
    Unavailable = 4,
    /// Interrupted by Ctrl-C (SIGINT) or SIGTERM.
    Interrupted = 130,
}

impl Code {
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// Declares [`Kind`] from one list of kinds and their names, so that [`Kind::as_str`],
/// [`Kind::named`] and [`Kind::ALL`] cannot disagree (a kind added here has its name
/// everywhere at once).
macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident = $name:literal,)*) => {
        /// Short machine-readable classification used in `error` events (`kind`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            $($(#[$doc])* $kind,)*
        }

        impl Kind {
            /// Every kind, in the order declared (the order of the schema's `kind` enum).
            pub const ALL: &'static [Kind] = &[$(Kind::$kind,)*];

            /// The name `error` lines carry in `kind`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$kind => $name,)*
                }
            }
        }
    };
}

kinds! {
    Usage = "usage",
    Config = "config",
    InvalidArguments = "invalid_arguments",
    UnknownTool = "unknown_tool",
    UnknownServer = "unknown_server",
    ToolDenied = "tool_denied",
    ToolError = "tool_error",
    /// The model API answered with an error (after retries), or the run hit max_steps.
    ModelError = "model_error",
    MaxSteps = "max_steps",
    Auth = "auth",
    Unreachable = "unreachable",
    Timeout = "timeout",
    Http = "http",
    Protocol = "protocol",
    ServerExited = "server_exited",
    Interrupted = "interrupted",
    Internal = "internal",
}

impl Kind {
    /// The kind [`Kind::as_str`] names (a failure passed on by the daemon).
    pub fn named(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|kind| kind.as_str() == name)
    }

    /// The exit code a failure of this kind maps to.
    pub fn code(self) -> Code {
        match self {
            Kind::Usage
            | Kind::Config
            | Kind::InvalidArguments
            | Kind::UnknownTool
            | Kind::UnknownServer
            | Kind::ToolDenied => Code::Usage,
            Kind::ToolError | Kind::ModelError | Kind::MaxSteps | Kind::Internal => {
                Code::TaskFailed
            }
            Kind::Auth => Code::Auth,
            Kind::Unreachable
            | Kind::Timeout
            | Kind::Http
            | Kind::Protocol
            | Kind::ServerExited => Code::Unavailable,
            Kind::Interrupted => Code::Interrupted,
        }
    }
}

/// An error that knows its exit code, its kind and how to help the user.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
    pub hints: Vec<String>,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn code(&self) -> Code {
        self.kind.code()
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(Kind::Usage, message)
    }

    pub fn config(message: impl Into<String>) -> Self {
        Failure::new(Kind::Config, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit code for any error: the first [`Failure`] in its chain decides, else 1.
pub fn code_of(error: &anyhow::Error) -> Code {
    failure_of(error).map_or(Code::TaskFailed, Failure::code)
}

pub fn failure_of(error: &anyhow::Error) -> Option<&Failure> {
    error.chain().find_map(|e| e.downcast_ref::<Failure>())
}

/// Marker error: stdout was closed by the reader (e.g. `| head -1`). Exits 0 quietly.
#[derive(Debug)]
pub struct BrokenPipe;

impl fmt::Display for BrokenPipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broken pipe")
    }
}

impl std::error::Error for BrokenPipe {}

pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<BrokenPipe>().is_some()
            || e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::Kind;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_kind_is_named_by_its_name_and_no_other() {
        for &kind in Kind::ALL {
            assert_eq!(Kind::named(kind.as_str()), Some(kind));
        }
        let names: std::collections::BTreeSet<&str> =
            Kind::ALL.iter().map(|kind| kind.as_str()).collect();
        assert_eq!(names.len(), Kind::ALL.len());
        for unknown in ["", "Usage", "usage ", "server-exited", "nope"] {
            assert_eq!(Kind::named(unknown), None, "{unknown:?}");
        }
    }

    /// The names are the stdout contract: the schema's `kind` enum, in the same order.
    #[test]
    fn the_kinds_are_the_schemas_kind_enum() {
        let schema: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/events.schema.json"
        )))
        .unwrap_or_default();
        let names: Vec<&str> = Kind::ALL.iter().map(|kind| kind.as_str()).collect();
        assert_eq!(schema["$defs"]["kind"]["enum"], serde_json::json!(names));
    }
}
