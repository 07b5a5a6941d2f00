//! The webhook's metrics in Prometheus' text format (version 0.0.4): reviews by decision
//! and operation, HTTP responses by code, plugin errors by class, reviews in flight, and
//! a latency histogram. A handful of counters behind one lock each: at thousands of
//! reviews a second the lock is never the bottleneck, and a metrics crate would bring a
//! registry and a text encoder for what fits in this file.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
pub struct Metrics {
    reviews: Mutex<BTreeMap<(String, String), u64>>,
    responses: Mutex<BTreeMap<u16, u64>>,
    plugin_errors: Mutex<BTreeMap<String, u64>>,
    in_flight: AtomicI64,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum of latencies, in microseconds.
    sum_us: AtomicU64,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    *map.lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key)
        .or_default() += 1;
}

/// A label value with `\`, `"` and newlines escaped, as the format wants.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// A review answered: its decision, operation and the time it took. Both come from
    /// closed sets (`Answer::decision`, `admission::OPERATIONS`, checked by `parse`).
    pub fn review(&self, decision: &str, operation: &str, took: Duration) {
        debug_assert!(super::admission::OPERATIONS.contains(&operation));
        bump(&self.reviews, (decision.to_string(), operation.to_string()));
        let secs = took.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn response(&self, code: u16) {
        bump(&self.responses, code);
    }

    /// A plugin failure, by class: one of [`tollgate::LoadError::classes`],
    /// `exemption`, `input` or `deadline-or-input`; anything else counts as `other`, so
    /// that the series stay a closed set whatever a review carries.
    pub fn plugin_error(&self, class: &str) {
        const HOST: [&str; 3] = ["exemption", "input", "deadline-or-input"];
        let known = tollgate::LoadError::classes()
            .chain(HOST)
            .find(|c| *c == class)
            .unwrap_or("other");
        bump(&self.plugin_errors, known.to_string());
    }

    /// Counts a review in flight until the guard is dropped.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "# HELP tollgate_admission_reviews_total Admission reviews answered, by decision and operation.")?;
        writeln!(out, "# TYPE tollgate_admission_reviews_total counter")?;
        for ((decision, op), n) in self
            .reviews
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            writeln!(
                out,
                "tollgate_admission_reviews_total{{decision=\"{}\",operation=\"{}\"}} {n}",
                label(decision),
                label(op)
            )?;
        }
        writeln!(
            out,
            "# HELP tollgate_http_responses_total HTTP responses, by status code."
        )?;
        writeln!(out, "# TYPE tollgate_http_responses_total counter")?;
        for (code, n) in self
            .responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            writeln!(out, "tollgate_http_responses_total{{code=\"{code}\"}} {n}")?;
        }
        writeln!(
            out,
            "# HELP tollgate_plugin_errors_total Plugin failures during reviews, by error class."
        )?;
        writeln!(out, "# TYPE tollgate_plugin_errors_total counter")?;
        for (class, n) in self
            .plugin_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            writeln!(
                out,
                "tollgate_plugin_errors_total{{class=\"{}\"}} {n}",
                label(class)
            )?;
        }
        writeln!(
            out,
            "# HELP tollgate_admission_in_flight Admission reviews being answered now."
        )?;
        writeln!(out, "# TYPE tollgate_admission_in_flight gauge")?;
        writeln!(
            out,
            "tollgate_admission_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        )?;
        writeln!(out, "# HELP tollgate_admission_review_duration_seconds Time to answer a review, from its body read to its answer.")?;
        writeln!(
            out,
            "# TYPE tollgate_admission_review_duration_seconds histogram"
        )?;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            writeln!(
                out,
                "tollgate_admission_review_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            )?;
        }
        let count = self.count.load(Ordering::Relaxed);
        writeln!(
            out,
            "tollgate_admission_review_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        )?;
        writeln!(
            out,
            "tollgate_admission_review_duration_seconds_sum {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        )?;
        writeln!(
            out,
            "tollgate_admission_review_duration_seconds_count {count}"
        )
    }
}

pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histogram_render_as_prometheus_text() {
        let m = Metrics::default();
        m.review("denied", "CREATE", Duration::from_millis(3));
        m.review("allowed", "CREATE", Duration::from_micros(200));
        m.response(200);
        m.plugin_error("trap");
        let _guard = m.in_flight();
        let text = m.render();
        assert!(text.contains(
            "tollgate_admission_reviews_total{decision=\"denied\",operation=\"CREATE\"} 1"
        ));
        assert!(text.contains("tollgate_admission_review_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("tollgate_admission_review_duration_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("tollgate_admission_review_duration_seconds_count 2"));
        assert!(text.contains("tollgate_admission_in_flight 1"));
        assert!(text.contains("tollgate_plugin_errors_total{class=\"trap\"} 1"));
    }
}
