//! Every default the host applies, in one place: the library's builder, the
//! configuration and the CLI's `--help` all read them from here. The sandbox's and the
//! loader's own defaults are defined in their crates and named here.

use tollgate_input::InputLimits;
use tollgate_runtime::Limits;

/// Wall-clock limit for one call into a plugin (one batch), in milliseconds.
pub const TIME_LIMIT_MS: u64 = Limits::DEFAULT_TIME_MS;
/// Memory one plugin instance may use, in MiB.
pub const MEMORY_LIMIT_MIB: usize = Limits::DEFAULT_MEMORY_MIB;
/// Largest manifest file read, in MiB.
pub const MAX_FILE_SIZE_MIB: u64 = InputLimits::DEFAULT_MAX_FILE_MIB;
/// Documents held in memory at once (parsed, evaluated, reported, then dropped).
pub const WINDOW: usize = 4096;
/// Resources per call into a plugin. Batching amortises the call overhead: 1.1x to
/// 1.3x faster than one resource per call (`cargo xtask bench`).
pub const BATCH: usize = 32;

/// Time-outs in a row after which a plugin is switched off (see `breaker`).
pub const TIME_LIMIT_STRIKES: u32 = 3;
/// Time-outs in all after which a scan switches a plugin off, even with answers in
/// between (a plugin that hangs on every other object).
pub const TIME_LIMITS_PER_RUN: u32 = 10;
/// How long `tollgate serve` keeps a switched-off plugin off before it lets one review
/// through as a probe, in seconds.
pub const RECOVERY_PROBE_S: u64 = 30;

/// Worker threads: one per CPU.
pub fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where `tollgate serve` listens.
pub const SERVE_ADDR: &str = "0.0.0.0:8443";
/// Time `tollgate serve` takes at most to answer a review, in milliseconds: well under
/// the API server's default webhook timeout of 10 s.
pub const DEADLINE_MS: u64 = 2000;
/// Largest admission request body, in MiB (an object and its old version can each
/// approach etcd's 1.5 MiB limit).
pub const MAX_BODY_MIB: usize = 8;
/// Reviews waiting for a worker before more are answered 429.
pub const QUEUE: usize = 64;
/// Failed checks of this severity or worse deny an admission review.
pub const DENY_ON: tollgate_runtime::Severity = tollgate_runtime::Severity::High;
/// Failed checks of this severity or worse (below `DENY_ON`) become warnings.
pub const WARN_ON: tollgate_runtime::Severity = tollgate_runtime::Severity::Low;
/// Connections `tollgate serve` keeps open at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 512;
/// Connections one client address may hold open at once.
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 128;
/// How long a webhook connection may stay open, in seconds.
pub const CONNECTION_LIFETIME_S: u64 = 120;
/// Time for a client's TLS handshake and request head, in milliseconds; also how long
/// an idle keep-alive connection stays open.
pub const HEADER_TIMEOUT_MS: u64 = 10_000;
/// Time for a request's body once its head is in, in milliseconds.
pub const BODY_TIMEOUT_MS: u64 = 10_000;
/// Request bodies held at once over all connections, in MiB.
pub const BODY_BUDGET_MIB: usize = 256;
/// How long reviews in flight may take to finish after SIGTERM, in seconds.
pub const DRAIN_SECS: u64 = 30;

// The registry client's defaults are defined in its crate and named here.
#[cfg(feature = "oci")]
pub use tollgate_registry::defaults::*;
