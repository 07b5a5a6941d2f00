//! `tollgate serve`: the admission webhook, configured from flags over `admission:`.

use std::time::Duration;

use anyhow::Result;

use crate::cli::ServeArgs;
use tollgate::breaker::BreakerSettings;
use tollgate::config::{AdmissionMode, FailurePolicy};
use tollgate::defaults;
use tollgate_serve::{self as serve, Rules, ServeOptions};

pub(super) fn run(args: ServeArgs) -> Result<u8> {
    let (config, file) = super::read_config(&args.plugins)?;
    let a = config.admission.clone();
    // Flags over the configuration over the defaults.
    let rules = Rules {
        deny_on: args.deny_on.or(a.deny_on).unwrap_or(defaults::DENY_ON),
        warn_on: args.warn_on.or(a.warn_on).unwrap_or(defaults::WARN_ON),
        mode: args.mode.or(a.mode).unwrap_or(AdmissionMode::Enforce),
        failure_policy: args
            .failure_policy
            .or(a.failure_policy)
            .unwrap_or(FailurePolicy::Fail),
    };
    let deadline = Duration::from_millis(
        args.deadline
            .or(a.deadline_ms)
            .unwrap_or(defaults::DEADLINE_MS)
            .max(1),
    );
    // A plugin is cut off by the deadline at the latest: its call cannot outlive the answer.
    let time_limit = args
        .plugins
        .time_limit
        .or(config.limits.time_ms)
        .map_or(deadline, |ms| Duration::from_millis(ms).min(deadline));
    let workers = args.workers.unwrap_or_else(defaults::jobs).max(1);
    let auditor = super::builder_with(&args.plugins, config, file)
        .time_limit(time_limit)
        .jobs(workers)
        // The object under review is the tenant's word: its annotations waive nothing
        // unless the configuration grants it.
        .admission_annotations(rules.deny_on)
        // A plugin that keeps hanging is switched off, then probed again.
        .switch_off(BreakerSettings {
            strikes: defaults::TIME_LIMIT_STRIKES,
            per_run: 0,
            probe_after: Some(Duration::from_secs(args.probe_after)),
        })
        .build()?;
    for e in auditor.load_errors() {
        eprintln!("tollgate: error: {e}");
    }
    json_logs();
    serve::run(
        auditor,
        ServeOptions {
            addr: args.addr,
            tls_cert: args.tls_cert,
            tls_key: args.tls_key,
            rules,
            deadline,
            max_body: args.max_body_size << 20,
            workers,
            queue: args.queue,
            drain: Duration::from_secs(defaults::DRAIN_SECS),
            max_connections: args.max_connections.max(1),
            max_connections_per_client: args.max_connections_per_client.max(1),
            connection_lifetime: Duration::from_secs(args.connection_lifetime.max(1)),
            header_timeout: Duration::from_millis(args.header_timeout.max(1)),
            body_timeout: Duration::from_millis(args.body_timeout.max(1)),
            // One body of the largest size always fits.
            body_budget: (args.body_budget.max(1) << 20).max(args.max_body_size << 20),
        },
    )?;
    Ok(0)
}

/// The server's events as one JSON object per line on stderr:
/// `{"timestamp", "level", "message", ...fields}`.
fn json_logs() {
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
