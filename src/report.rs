//! Messages for people, on stderr: `mcpchat: error: ...`, `mcpchat: warning: ...`, then
//! `hint:` lines. Everything goes out through `terminal`, which masks secrets and shows
//! control and bidi characters as visible escapes.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit::Failure;
use crate::terminal;

static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn error(failure: &Failure) {
    terminal::eprint(&with_hints("error", failure));
}

pub fn error_text(message: &str) {
    terminal::eprintln(&format!("mcpchat: error: {message}"));
}

/// A failure that did not stop the command (one server of several). Silent with `--quiet`.
pub fn warning(failure: &Failure) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    terminal::eprint(&with_hints("warning", failure));
}

/// `mcpchat: LEVEL: message` and its `hint:` lines, each line ended.
fn with_hints(level: &str, failure: &Failure) -> String {
    let mut text = format!("mcpchat: {level}: {}\n", failure.message);
    for hint in &failure.hints {
        text.push_str(&format!("hint: {hint}\n"));
    }
    text
}

/// Something the user should know that is not a failure. Silent with `--quiet`.
pub fn notice(message: &str) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    terminal::eprintln(&format!("mcpchat: note: {message}"));
}

/// Where `serve --listen` can be reached: one line, also with `--quiet` (hosts and scripts
/// read the port from it).
pub fn serving(url: &str) {
    terminal::eprintln(&format!("mcpchat: serving on {url}"));
}

/// A line a stdio server wrote to its stderr, forwarded with `-v`.
pub fn forwarded(server: &str, line: &str) {
    terminal::eprintln(&format!("[{server}] {line}"));
}

/// Where to log in: the authorization URL, checked by `links::openable` first. Not masked:
/// it carries the `state` (a registered secret) that the browser must bring back.
pub fn login_url(text: &str) {
    terminal::eprintln_unmasked(text);
}

/// What the user must do to finish a device login. Printed even with `--quiet`: the login
/// cannot finish without it.
pub fn device_prompt(prompt: &crate::events::AuthPrompt) {
    let mut text = format!(
        "To log in to MCP server `{}`, open\n\n  {}\n\nand enter the code: {}\n\n",
        prompt.server, prompt.verification_uri, prompt.user_code
    );
    if let Some(complete) = &prompt.verification_uri_complete {
        text.push_str(&format!("(or open {complete} with the code filled in)\n\n"));
    }
    text.push_str(&format!(
        "Waiting for the login to be approved (the code expires in {}).\n",
        crate::human::duration(std::time::Duration::from_secs(prompt.expires_in))
    ));
    terminal::eprint(&text);
}
