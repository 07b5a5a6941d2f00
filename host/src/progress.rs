//! A progress bar on stderr for long scans: only when stderr is a terminal, and only
//! once the scan has taken more than a moment, so short scans and pipes stay clean.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
}

const DELAY: Duration = Duration::from_millis(800);

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
        }
    }

    /// `done` documents have been scanned so far.
    pub fn update(&self, done: usize) {
        if let Some(bar) = &self.bar {
            if bar.is_hidden() && self.start.elapsed() >= DELAY {
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
