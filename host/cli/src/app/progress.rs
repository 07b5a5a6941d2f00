//! A progress bar on stderr for long scans: only when stderr is a terminal, and only
//! once the scan has taken more than a moment, so short scans and pipes stay clean.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    delay: Duration,
}

const DELAY: Duration = Duration::from_millis(800);

/// Overrides the delay before the bar appears, in milliseconds. Tests set it to 0: how long
/// a scan takes depends on the machine, whether the bar appears must not.
pub const DELAY_ENV: &str = "TOLLGATE_PROGRESS_DELAY_MS";

fn delay() -> Duration {
    std::env::var(DELAY_ENV)
        .ok()
        .and_then(|ms| ms.trim().parse().ok())
        .map_or(DELAY, Duration::from_millis)
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {human_pos} documents scanned ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        });
        Progress {
            bar,
            start: Instant::now(),
            delay: delay(),
        }
    }

    /// `done` documents have been scanned so far.
    pub fn update(&self, done: usize) {
        if let Some(bar) = &self.bar {
            if bar.is_hidden() && self.start.elapsed() >= self.delay {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            bar.set_position(done as u64);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Progress bars for large registry downloads, drawn on stderr when it is a terminal.
pub struct Downloads;

impl Downloads {
    /// The registry client's progress hook, or none when stderr is not a terminal.
    pub fn for_terminal() -> Option<std::sync::Arc<dyn tollgate_registry::client::Progress>> {
        std::io::stderr()
            .is_terminal()
            .then(|| std::sync::Arc::new(Downloads) as _)
    }
}

struct Download(ProgressBar);

impl tollgate_registry::client::Progress for Downloads {
    fn start(&self, digest: &str, total: u64) -> Box<dyn tollgate_registry::client::Downloading> {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} pulling {msg} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(digest.chars().take(19).collect::<String>());
        Box::new(Download(bar))
    }
}

impl tollgate_registry::client::Downloading for Download {
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
