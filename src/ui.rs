//! Progress on stderr: indicatif bars driven by MCP progress notifications, the batch's bar and
//! `ask`'s status line, shown only when stderr is a terminal and `--quiet` is off. Never touches
//! stdout; when nothing is drawn, nothing at all is written. What a server sends (tool names,
//! progress messages) is shown through `terminal::for_stderr`, masked and neutralised.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// `ask`'s one-line status: the step and the tools being called.
    status: Mutex<Option<ProgressBar>>,
}

impl Progress {
    /// Bars are drawn only if `enabled` and stderr is a TTY.
    pub fn new(enabled: bool) -> Self {
        #[allow(clippy::disallowed_methods)] // asks whether stderr is a terminal; writes nothing
        let multi = (enabled && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress {
            multi,
            bars: Mutex::new(HashMap::new()),
            status: Mutex::new(None),
        }
    }

    /// Run `f` (a question on the terminal) with every bar cleared and none redrawn until it
    /// returns, so the bars cannot garble what is asked and typed.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.multi {
            Some(multi) => multi.suspend(f),
            None => f(),
        }
    }

    /// Whether anything is drawn (stderr is a terminal and `--quiet` is off).
    pub fn is_drawn(&self) -> bool {
        self.multi.is_some()
    }

    /// A bar for `tools call --batch`: done/total when the total is known, else a count; both
    /// with calls/s. A hidden bar when nothing is drawn.
    pub fn batch_bar(&self, total: Option<u64>) -> ProgressBar {
        let Some(multi) = &self.multi else {
            return ProgressBar::hidden();
        };
        let (bar, template) = match total {
            Some(total) => (
                ProgressBar::new(total),
                "{prefix:.bold} [{bar:30}] {pos}/{len} calls, {rate:.dim} {elapsed}",
            ),
            None => (
                ProgressBar::new_spinner(),
                "{prefix:.bold} {spinner} {pos} calls, {rate:.dim} {elapsed}",
            ),
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.1} calls/s", state.per_sec());
                },
            )
            .progress_chars("=> ");
        let bar = multi.add(bar.with_style(style).with_prefix("batch"));
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    }

    /// `ask`'s status line ("step 2: calling demo__add"); replaces the previous one.
    pub fn status(&self, text: String) {
        let Some(multi) = &self.multi else {
            return;
        };
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let bar = status.get_or_insert_with(|| {
            let style = ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bar = multi.add(ProgressBar::new_spinner().with_style(style));
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        bar.set_message(crate::terminal::for_stderr(&text));
    }

    /// A progress notification from `server` for request `token`.
    pub fn update(
        &self,
        server: &str,
        token: &str,
        progress: f64,
        total: Option<f64>,
        message: Option<&str>,
    ) {
        let Some(multi) = &self.multi else {
            tracing::info!(server, progress, total, message, "progress");
            return;
        };
        let key = format!("{server}\u{0}{token}");
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        // Servers often say the numbers themselves ("1/2 seconds"); don't print them twice.
        let says_numbers = total.is_some_and(|t| t > 0.0)
            && message.is_some_and(|m| m.contains(&numbers(progress, total)));
        let style = match total {
            Some(_) if says_numbers => {
                ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ")
            }
            Some(total) if total > 0.0 => {
                ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ")
            }
            _ => ProgressStyle::with_template("{prefix:.bold} {spinner} {pos} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        };
        let bar = bars.entry(key).or_insert_with(|| {
            // Styled before it is added, so the first frame is already right.
            let bar = ProgressBar::new(total.map_or(0, |t| t.round().max(0.0) as u64))
                .with_style(style.clone())
                .with_prefix(crate::terminal::for_stderr(server));
            multi.add(bar)
        });
        bar.set_style(style);
        if let Some(total) = total.filter(|t| *t > 0.0) {
            bar.set_length(total.round() as u64);
        }
        bar.set_position(progress.round().max(0.0) as u64);
        // A finished request's bar goes, so a batch does not pile up one bar per call.
        if total.is_some_and(|t| t > 0.0 && progress >= t) {
            if let Some(bar) = bars.remove(&format!("{server}\u{0}{token}")) {
                bar.finish_and_clear();
                multi.remove(&bar);
            }
            return;
        }
        if let Some(message) = message {
            bar.set_message(crate::terminal::for_stderr(message));
        }
    }

    /// Remove every bar (before exit or before printing a final message).
    pub fn clear(&self) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        for (_, bar) in bars.drain() {
            bar.finish_and_clear();
        }
        if let Some(status) = self.status.lock().unwrap_or_else(|e| e.into_inner()).take() {
            status.finish_and_clear();
        }
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }
}

/// How a bar prints a notification's numbers: "1/2" (or "1" without a total).
fn numbers(progress: f64, total: Option<f64>) -> String {
    let position = progress.round().max(0.0) as u64;
    match total.filter(|t| *t > 0.0) {
        Some(total) => format!("{position}/{}", total.round() as u64),
        None => position.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::numbers;

    #[test]
    fn numbers_are_written_as_a_bar_would_write_them() {
        assert_eq!(numbers(1.0, Some(2.0)), "1/2");
        assert_eq!(numbers(3.4, None), "3");
        assert_eq!(numbers(3.0, Some(0.0)), "3");
    }
}
