//! Switching off a plugin that hangs. The sandbox stops a call at the time limit, but a
//! plugin that hangs on every object would then cost one time limit per batch (and
//! more, as a timed-out batch is re-run one resource at a time to save the verdicts of
//! the others): hours for a big scan, and a webhook whose every review waits for the
//! deadline. After `strikes` time-outs in a row, or `per_run` in all (across all
//! workers), the plugin is switched off: every object it would have judged gets a
//! `switched-off` error at once, which the report shows and the admission failure
//! policy decides on. A scan keeps it off; the webhook lets one review through as a
//! probe every `probe_after` and switches it back on when that review finishes in time.
//!
//! Threat: a plugin (someone else's component) that loops on every input, or on
//! inputs an attacker can send. Bound: a scan pays at most `per_run` + workers time
//! limits per plugin; a webhook at most `strikes`, then one per probe interval.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a plugin is switched off and back on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Time-outs in a row that switch the plugin off (0: never).
    pub strikes: u32,
    /// Time-outs in all that switch the plugin off (0: no such limit; a long-running
    /// webhook counts only those in a row).
    pub per_run: u32,
    /// When to let one call through again; None: off for good (a scan).
    pub probe_after: Option<Duration>,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            strikes: crate::defaults::TIME_LIMIT_STRIKES,
            per_run: crate::defaults::TIME_LIMITS_PER_RUN,
            probe_after: None,
        }
    }
}

/// Why a call was not made.
#[derive(Debug, Clone)]
pub struct Off {
    pub strikes: u32,
    pub per_run: u32,
    pub since: Instant,
    pub probe_after: Option<Duration>,
}

impl Off {
    pub fn reason(&self) -> String {
        let again = match self.probe_after {
            Some(d) => format!(
                "; it is tried again {} s after it was switched off",
                d.as_secs()
            ),
            None => " for the rest of this run".to_string(),
        };
        let in_all = match self.per_run {
            0 => String::new(),
            n => format!(", or {n} times in all"),
        };
        format!(
            "switched off after it ran over its time limit {} times in a row{in_all}{again}",
            self.strikes
        )
    }
}

/// What kind of call [`Breaker::admit`] let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// The plugin is on.
    Normal,
    /// The plugin is off; this call tries it again.
    Probe,
}

#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    streak: AtomicU32,
    total: AtomicU32,
    tripped: Mutex<Option<Instant>>,
    probing: AtomicBool,
}

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Self {
        Breaker {
            settings,
            streak: AtomicU32::new(0),
            total: AtomicU32::new(0),
            tripped: Mutex::new(None),
            probing: AtomicBool::new(false),
        }
    }

    fn tripped(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.tripped.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may be made now: a normal call when the plugin is on, the one
    /// probe the webhook lets through after the interval, else why not.
    pub fn admit(&self) -> Result<Admit, Off> {
        let Some(since) = *self.tripped() else {
            return Ok(Admit::Normal);
        };
        let off = Off {
            strikes: self.settings.strikes,
            per_run: self.settings.per_run,
            since,
            probe_after: self.settings.probe_after,
        };
        match self.settings.probe_after {
            Some(after)
                if since.elapsed() >= after
                    && self
                        .probing
                        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok() =>
            {
                Ok(Admit::Probe)
            }
            _ => Err(off),
        }
    }

    /// The outcome of a call that was made: a time-out, or anything else (an answer, or
    /// an error that came quickly). Only the probe switches a plugin back on: a normal
    /// call that started before the plugin was switched off and then answered says
    /// nothing about the next one.
    pub fn record(&self, call: Admit, timed_out: bool) {
        if !timed_out {
            match call {
                Admit::Probe => {
                    self.streak.store(0, Ordering::Release);
                    *self.tripped() = None;
                    self.probing.store(false, Ordering::Release);
                }
                Admit::Normal => {
                    if self.tripped().is_none() {
                        self.streak.store(0, Ordering::Release);
                    }
                }
            }
            return;
        }
        let streak = self.streak.fetch_add(1, Ordering::AcqRel) + 1;
        let total = self.total.fetch_add(1, Ordering::AcqRel) + 1;
        if call == Admit::Probe
            || (self.settings.strikes > 0 && streak >= self.settings.strikes)
            || (self.settings.per_run > 0 && total >= self.settings.per_run)
        {
            *self.tripped() = Some(Instant::now());
            self.probing.store(false, Ordering::Release);
        }
    }

    /// Whether the plugin is switched off now.
    pub fn is_off(&self) -> bool {
        self.tripped().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_time_outs_in_a_row_switch_off_for_good_in_a_scan() {
        let b = Breaker::new(BreakerSettings {
            strikes: 3,
            per_run: 0,
            probe_after: None,
        });
        let n = Admit::Normal;
        b.record(n, true);
        b.record(n, true);
        b.record(n, false); // an answer in between: the streak starts again
        b.record(n, true);
        b.record(n, true);
        assert!(b.admit().is_ok());
        b.record(n, true);
        let off = b.admit().unwrap_err();
        assert!(
            off.reason().contains("3 times in a row"),
            "{}",
            off.reason()
        );
        assert!(off.reason().contains("rest of this run"));
        assert!(b.is_off());
        // A call that started before and answers late does not switch it back on.
        b.record(n, false);
        assert!(b.is_off());
    }

    #[test]
    fn the_webhook_probes_once_per_interval_and_recovers() {
        let b = Breaker::new(BreakerSettings {
            strikes: 2,
            per_run: 0,
            probe_after: Some(Duration::from_millis(30)),
        });
        let n = Admit::Normal;
        b.record(n, true);
        b.record(n, true);
        assert!(b.admit().is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.admit().unwrap(), Admit::Probe, "the probe goes through");
        assert!(b.admit().is_err(), "one probe at a time");
        b.record(Admit::Probe, true); // the probe timed out: off again, a new interval
        assert!(b.admit().is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.admit().unwrap(), Admit::Probe);
        b.record(Admit::Probe, false);
        assert!(!b.is_off());
        assert_eq!(b.admit().unwrap(), Admit::Normal);
    }

    #[test]
    fn time_outs_between_answers_count_toward_the_run_limit() {
        let b = Breaker::new(BreakerSettings {
            strikes: 3,
            per_run: 5,
            probe_after: None,
        });
        let n = Admit::Normal;
        for _ in 0..4 {
            b.record(n, true);
            b.record(n, false);
        }
        assert!(b.admit().is_ok());
        b.record(n, true);
        assert!(b.admit().is_err(), "the fifth time-out in all");
    }

    #[test]
    fn zero_strikes_never_switch_off() {
        let b = Breaker::new(BreakerSettings {
            strikes: 0,
            per_run: 0,
            probe_after: None,
        });
        for _ in 0..10 {
            b.record(Admit::Normal, true);
        }
        assert!(b.admit().is_ok());
    }
}
