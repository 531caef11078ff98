//! A stdio server's stderr as bounded lines: whatever the child writes (a line with no newline
//! for gigabytes, bytes that are not UTF-8), one line never holds more than [`LINE_CAP`] bytes
//! in memory; the rest of it is counted, skipped and named in a marker at the line's end.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// The most bytes of one stderr line that are kept (and shown); the rest is cut.
pub(in crate::mcp) const LINE_CAP: usize = 8 * 1024;

/// Reads lines of at most [`LINE_CAP`] bytes (plus the cut marker) from a child's stderr.
pub(in crate::mcp) struct StderrLines<R> {
    read: BufReader<R>,
    line: Vec<u8>,
    /// Bytes of the current line past the cap, dropped as they arrive.
    cut: u64,
}

impl<R: AsyncRead + Unpin> StderrLines<R> {
    pub(in crate::mcp) fn new(read: R) -> Self {
        StderrLines {
            read: BufReader::with_capacity(64 * 1024, read),
            line: Vec::new(),
            cut: 0,
        }
    }

    /// The next line without its newline, cut at the cap and marked; None at EOF or when the
    /// pipe breaks.
    pub(in crate::mcp) async fn next_line(&mut self) -> Option<String> {
        loop {
            let available = match self.read.fill_buf().await {
                Ok(available) => available,
                Err(_) => return self.finish(),
            };
            if available.is_empty() {
                return self.finish();
            }
            let newline = available.iter().position(|b| *b == b'\n');
            let chunk = &available[..newline.unwrap_or(available.len())];
            let room = LINE_CAP.saturating_sub(self.line.len());
            let kept = room.min(chunk.len());
            self.line.extend_from_slice(&chunk[..kept]);
            self.cut += (chunk.len() - kept) as u64;
            let taken = newline.map_or(available.len(), |i| i + 1);
            self.read.consume(taken);
            if newline.is_some() {
                return Some(self.take());
            }
        }
    }

    /// A last line without its newline, if any.
    fn finish(&mut self) -> Option<String> {
        (!self.line.is_empty() || self.cut > 0).then(|| self.take())
    }

    fn take(&mut self) -> String {
        let mut line = std::mem::take(&mut self.line);
        if self.cut == 0 && line.last() == Some(&b'\r') {
            line.pop();
        }
        // Cutting may have split a character; the lossy decoding shows it as U+FFFD.
        let mut text = String::from_utf8_lossy(&line).into_owned();
        let cut = std::mem::take(&mut self.cut);
        if cut > 0 {
            text.push_str(&format!("… [cut: {cut} bytes]"));
        }
        text
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8]) -> Vec<String> {
        let mut lines = StderrLines::new(input);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().await {
            out.push(line);
        }
        out
    }

    #[tokio::test]
    async fn a_line_over_the_cap_is_cut_and_marked_with_what_was_cut() {
        let mut input = b"first\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', LINE_CAP + 100));
        input.extend(b"\nnot utf8 \xff\nlast");
        let lines = read_all(&input).await;
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "first");
        assert_eq!(
            lines[1],
            format!("{}… [cut: 100 bytes]", "x".repeat(LINE_CAP))
        );
        assert_eq!(lines[2], "not utf8 \u{FFFD}");
        assert_eq!(lines[3], "last");
    }

    #[tokio::test]
    async fn an_endless_line_without_a_newline_keeps_only_the_cap() {
        let input = vec![b'y'; 5 * LINE_CAP];
        let lines = read_all(&input).await;
        assert_eq!(
            lines,
            vec![format!(
                "{}… [cut: {} bytes]",
                "y".repeat(LINE_CAP),
                4 * LINE_CAP
            )]
        );
    }
}
