//! Messages for people, on stderr: `mcpchat: error: ...`, `mcpchat: warning: ...`, then
//! `hint:` lines. Everything is passed through `redact` first.
#![allow(clippy::print_stderr)]

use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit::Failure;

static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn error(failure: &Failure) {
    eprintln!("mcpchat: error: {}", crate::redact::text(&failure.message));
    for hint in &failure.hints {
        eprintln!("hint: {}", crate::redact::text(hint));
    }
}

pub fn error_text(message: &str) {
    eprintln!("mcpchat: error: {}", crate::redact::text(message));
}

/// A failure that did not stop the command (one server of several). Silent with `--quiet`.
pub fn warning(failure: &Failure) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    eprintln!(
        "mcpchat: warning: {}",
        crate::redact::text(&failure.message)
    );
    for hint in &failure.hints {
        eprintln!("hint: {}", crate::redact::text(hint));
    }
}

/// Something the user should know that is not a failure. Silent with `--quiet`.
pub fn notice(message: &str) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    eprintln!("mcpchat: note: {}", crate::redact::text(message));
}

/// What the user must do to finish a device login. Printed even with `--quiet`: the login
/// cannot finish without it.
pub fn device_prompt(prompt: &crate::events::AuthPrompt) {
    eprintln!(
        "To log in to MCP server `{}`, open\n\n  {}\n\nand enter the code: {}\n",
        prompt.server,
        crate::redact::text(&prompt.verification_uri),
        prompt.user_code
    );
    if let Some(complete) = &prompt.verification_uri_complete {
        eprintln!(
            "(or open {} with the code filled in)\n",
            crate::redact::text(complete)
        );
    }
    eprintln!(
        "Waiting for the login to be approved (the code expires in {}).",
        crate::human::duration(std::time::Duration::from_secs(prompt.expires_in))
    );
}
