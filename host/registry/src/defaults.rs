//! The registry client's defaults: timeouts, attempts and the bounds on what a registry
//! may send. `tollgate::defaults` names them beside the host's other defaults, and the
//! CLI's `--help` shows them from here.

/// Time to open a connection to a registry, in seconds.
pub const REGISTRY_CONNECT_TIMEOUT_S: u64 = 5;
/// Time a registry may go silent mid-answer, in seconds.
pub const REGISTRY_READ_TIMEOUT_S: u64 = 30;
/// Attempts per registry request when the registry cannot be reached or answers 5xx
/// (waiting 0.2 s, then 0.4 s, ...).
pub const REGISTRY_ATTEMPTS: u32 = 3;
/// Largest manifest read from a registry, in MiB (distribution refuses to store larger).
pub const REGISTRY_MAX_MANIFEST_MIB: u64 = 4;
/// Largest plugin component (layer) read from a registry, in MiB (componentize-py
/// components are about 40 MiB; Rust ones a few).
pub const REGISTRY_MAX_PLUGIN_MIB: u64 = 128;
/// Largest signature payload read from a registry, in KiB (cosign's are under 1 KiB).
pub const REGISTRY_MAX_SIGNATURE_KIB: u64 = 64;
/// Time for one artifact from a registry, from the request to its last byte, in seconds.
pub const REGISTRY_DEADLINE_S: u64 = 300;
/// Average rate a registry download must keep once the grace period has passed, in
/// KiB/s.
pub const REGISTRY_MIN_RATE_KIB_S: u64 = 16;
/// Seconds before the minimum rate applies.
pub const REGISTRY_RATE_GRACE_S: u64 = 10;
/// Registry requests in flight at once when a scan pulls many plugins.
pub const REGISTRY_CONCURRENCY: usize = 16;
/// Downloads at least this large show a progress bar on a terminal.
pub const PROGRESS_MIN_BYTES: u64 = 1 << 20;
