//! Text for people on a terminal, and the only writer to stderr. Whatever a server, a model
//! or an authorization server sends is untrusted (PRODUCT.md §9): every stderr message and log
//! line, and every `--format text` field, passes through [`neutralise`], so such text cannot
//! move the cursor, clear the screen, write the clipboard (OSC 52), hide a link's target
//! (OSC 8), ring the bell or reorder what is shown (bidi overrides).
//!
//! Kept as they are: `\n` and `\t`. Shown as visible escapes instead: C0 controls and DEL
//! (`\x1b`, `\x07`, `\x7f`; a lone carriage return as `\r`), C1 controls (`\u009b`) and the
//! bidi controls (`\u202e`). A CR right before an LF is dropped: CRLF line ends (Windows
//! servers) are harmless and would otherwise clutter every line. JSON Lines never come here:
//! serde escapes every control character already.
//!
//! Secrets are masked before the text is neutralised and again after, so an escape rendered
//! visible cannot spell out a registered secret that was not masked in its raw form.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;

use crate::redact;

/// Whether `c` is shown as a visible escape rather than sent to the terminal.
pub fn is_neutralised(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}'
        | '\u{b}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        // Bidi: the Arabic letter mark, LRM/RLM, embeddings and overrides, isolates.
        | '\u{61c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// `text` with every control and bidi character (but `\n` and `\t`) shown as an escape.
/// Borrowed when there is nothing to change, which is nearly always.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_neutralised) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => out.push_str("\\r"),
            c if c.is_ascii() && is_neutralised(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_neutralised(c) => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A message for stderr: every secret masked (registered ones and credential-shaped text),
/// then neutralised. Masking only ever inserts `***`, so the second pass adds no control.
pub fn for_stderr(text: &str) -> String {
    redact::text(&neutralise(&redact::text(text)))
}

/// A `--format text` field for stdout: registered secrets masked (patterns would rewrite
/// results that merely talk about tokens), then neutralised.
pub fn for_text_output(text: &str) -> String {
    redact::registered(&neutralise(&redact::registered(text)))
}

/// Write `text` (with its own line ends) to stderr, masked and neutralised. Errors are
/// ignored: there is nowhere left to report them.
pub fn eprint(text: &str) {
    write_stderr(&for_stderr(text));
}

/// [`eprint`] with a line end.
pub fn eprintln(text: &str) {
    eprint(&format!("{text}\n"));
}

/// Write a line neutralised but not masked: only for the login URL, whose `state` (a
/// registered secret) the browser must carry back to us.
pub fn eprintln_unmasked(text: &str) {
    write_stderr(&format!("{}\n", neutralise(text)));
}

#[allow(clippy::disallowed_methods)] // the one place that writes to stderr
fn write_stderr(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(text.as_bytes())
        .and_then(|()| stderr.flush());
}

/// The tracing writer: each event is buffered and written in one piece through [`eprint`],
/// so log lines are masked and neutralised like every other message.
#[derive(Default)]
pub struct LogWriter {
    buffer: Vec<u8>,
}

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        eprint(&String::from_utf8_lossy(&self.buffer));
        self.buffer.clear();
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    #[test]
    fn escapes_are_shown_and_newlines_and_tabs_kept() {
        assert_eq!(
            neutralise("\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J"),
            "\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J"
        );
        assert_eq!(neutralise("a\rb\r\nc\n\td\r"), "a\\rb\nc\n\td\\r");
        assert_eq!(
            neutralise("x\u{0}\u{7f}\u{85}\u{9b}y"),
            "x\\x00\\x7f\\u0085\\u009by"
        );
        assert_eq!(
            neutralise("\u{202e}txt.exe\u{2066}\u{61c}\u{200f}"),
            "\\u202etxt.exe\\u2066\\u061c\\u200f"
        );
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "tool\tdescription\nüñíçødé ✓ 日本";
        assert!(matches!(neutralise(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn secrets_stay_masked_whether_sent_raw_or_spelled_as_an_escape() {
        redact::register("sec\u{1b}ret-value");
        redact::register("abc\\x1bdefgh");
        assert_eq!(for_stderr("a sec\u{1b}ret-value b"), "a *** b");
        // The server cannot rebuild a registered secret from a control character.
        assert_eq!(for_stderr("abc\u{1b}defgh"), "***");
        assert_eq!(for_text_output("abc\u{1b}defgh"), "***");
    }

    #[test]
    fn a_non_ascii_character_before_an_equals_sign_does_not_panic_the_masking() {
        // Found by the property test below: masking sliced inside a multi-byte character.
        assert_eq!(for_stderr("ச=x token=abcdef"), "ச=x token=***");
    }

    fn clean(text: &str) -> bool {
        !text.chars().any(is_neutralised)
    }

    proptest! {
        #[test]
        fn no_string_reaches_the_terminal_with_a_control_character(text in any::<String>()) {
            prop_assert!(clean(&neutralise(&text)));
            prop_assert!(clean(&for_stderr(&text)));
            prop_assert!(clean(&for_text_output(&text)));
        }

        #[test]
        fn no_byte_sequence_reaches_the_terminal_with_a_control_character(
            bytes in proptest::collection::vec(any::<u8>(), 0..256)
        ) {
            prop_assert!(clean(&for_stderr(&String::from_utf8_lossy(&bytes))));
        }

        #[test]
        fn text_made_of_controls_and_bidi_is_always_escaped(
            text in "[\\x00-\\x1f\\x7f-\\x9f\u{61c}\u{200e}\u{200f}\u{202a}-\u{202e}\u{2066}-\u{2069}a ]{0,64}"
        ) {
            prop_assert!(clean(&for_stderr(&text)));
        }

        #[test]
        fn text_without_controls_passes_unchanged(text in "[^\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f]*") {
            prop_assume!(clean(&text));
            prop_assert_eq!(neutralise(&text), text.as_str());
        }
    }
}
