//! The terminal a form is asked on: answers read from `/dev/tty` (else stdin), questions written
//! to stderr through `terminal`. While a line is read, Ctrl-C does not interrupt mcpchat: it
//! ends the line and cancels the form (the terminal's `ISIG` is off and ^C is an extra end of
//! line), and a secret field is typed without echo. The terminal's settings are restored
//! when the form is done.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;

use crate::terminal;

/// ^C, as the terminal sends it.
const CTRL_C: u8 = 0x03;
/// A typed line longer than this is cut (nobody types that much into a form field).
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Where the questions go and the answers come from (the terminal; a script in tests).
pub trait Conversation {
    /// Show text (its own line ends included).
    fn say(&mut self, text: &str);
    /// Show `prompt`, then read one typed line without its end; `None` on Ctrl-C or end of
    /// input. `secret`: not echoed (echo is off before the prompt shows, so nothing typed
    /// after it can be echoed).
    fn read_line(&mut self, prompt: &str, secret: bool) -> Option<String>;
}

pub struct Tty {
    input: Input,
    /// Ctrl-C as an end of line for as long as the form is asked, not only while a line is
    /// read: a ^C typed between two questions must not interrupt mcpchat either.
    _mode: Option<LineMode>,
}

enum Input {
    Device(File),
    Stdin,
}

impl Tty {
    pub fn open() -> Tty {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
        {
            Ok(file) => {
                let mode = LineMode::set(file.as_raw_fd(), false);
                Tty {
                    input: Input::Device(file),
                    _mode: Some(mode),
                }
            }
            Err(_) => Tty {
                input: Input::Stdin,
                _mode: None,
            },
        }
    }
}

impl Conversation for Tty {
    fn say(&mut self, text: &str) {
        terminal::eprint(text);
    }

    fn read_line(&mut self, prompt: &str, secret: bool) -> Option<String> {
        let line = match &mut self.input {
            Input::Device(file) => {
                let _echo_off = secret.then(|| LineMode::set(file.as_raw_fd(), true));
                terminal::eprint(prompt);
                read_terminal_line(file)
            }
            Input::Stdin => {
                terminal::eprint(prompt);
                let mut line = String::new();
                match std::io::stdin().read_line(&mut line) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => Some(line.into_bytes()),
                }
            }
        };
        if secret {
            // The user's Enter was not echoed either.
            terminal::eprint("\n");
        }
        let line = line?;
        if line.contains(&CTRL_C) {
            return None;
        }
        let text = String::from_utf8_lossy(&line);
        Some(text.trim_end_matches(['\n', '\r']).to_string())
    }
}

/// One line from a terminal in canonical mode: each `read` returns at most one line, ended by
/// `\n`, by ^C (our extra end of line) or, at its start, by end of input (^D: `None`).
fn read_terminal_line(file: &mut File) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = file.read(&mut buffer).ok()?;
        if n == 0 {
            return (!line.is_empty()).then_some(line);
        }
        if line.len() < MAX_LINE_BYTES {
            line.extend_from_slice(&buffer[..n]);
        }
        if matches!(buffer[n - 1], b'\n' | CTRL_C) {
            return Some(line);
        }
    }
}

/// The terminal's settings while a line is read; the old ones come back on drop.
struct LineMode {
    fd: i32,
    saved: Option<libc::termios>,
}

impl LineMode {
    fn set(fd: i32, secret: bool) -> LineMode {
        // SAFETY: tcgetattr writes a termios for a valid fd and reports errors by return value.
        let mut settings: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut settings) } != 0 {
            return LineMode { fd, saved: None };
        }
        let saved = settings;
        settings.c_lflag &= !libc::ISIG;
        settings.c_cc[libc::VEOL] = CTRL_C;
        if secret {
            settings.c_lflag &= !libc::ECHO;
        }
        // SAFETY: as above; the settings came from tcgetattr.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &settings) };
        LineMode {
            fd,
            saved: Some(saved),
        }
    }
}

impl Drop for LineMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores settings tcgetattr gave for the same fd.
            unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, saved) };
        }
    }
}
