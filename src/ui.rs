//! Progress on stderr: indicatif bars driven by MCP progress notifications, shown only when
//! stderr is a terminal and `--quiet` is off. Never touches stdout.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    /// Bars are drawn only if `enabled` and stderr is a TTY.
    pub fn new(enabled: bool) -> Self {
        let multi = (enabled && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress {
            multi,
            bars: Mutex::new(HashMap::new()),
        }
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
        let style = match total {
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
                .with_prefix(server.to_string());
            multi.add(bar)
        });
        bar.set_style(style);
        if let Some(total) = total.filter(|t| *t > 0.0) {
            bar.set_length(total.round() as u64);
        }
        bar.set_position(progress.round().max(0.0) as u64);
        if let Some(message) = message {
            bar.set_message(message.to_string());
        }
    }

    /// Remove every bar (before exit or before printing a final message).
    pub fn clear(&self) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        for (_, bar) in bars.drain() {
            bar.finish_and_clear();
        }
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }
}
