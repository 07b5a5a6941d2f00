use std::time::Duration;

/// Limits every plugin call runs under. The defaults are far above what real policies
/// need (the built-in plugins evaluate a Deployment in tens of microseconds within a
/// couple of MiB) and low enough that a runaway plugin cannot hurt the machine.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock time for one call into a plugin (one batch).
    pub time: Duration,
    /// Linear memory one plugin instance may grow to, in bytes: all of its memories
    /// together.
    pub memory: usize,
    /// Table elements one plugin instance may hold, all of its tables together.
    pub table_elements: usize,
    /// Native stack wasm code may use, in bytes.
    pub stack: usize,
    /// Findings one check may report on one resource.
    pub max_findings: usize,
    /// Bytes of messages one resource's results may hold.
    pub max_output_bytes: usize,
}

impl Limits {
    /// The default of [`Limits::time`], in milliseconds.
    pub const DEFAULT_TIME_MS: u64 = 10_000;
    /// The default of [`Limits::memory`], in MiB.
    pub const DEFAULT_MEMORY_MIB: usize = 256;
    /// The default of [`Limits::table_elements`]: a table element is a pointer or two,
    /// so this is tens of MiB at most; real plugins hold a few thousand.
    pub const DEFAULT_TABLE_ELEMENTS: usize = 1 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time: Duration::from_millis(Self::DEFAULT_TIME_MS),
            memory: Self::DEFAULT_MEMORY_MIB << 20,
            table_elements: Self::DEFAULT_TABLE_ELEMENTS,
            stack: 1 << 20,
            max_findings: 1000,
            max_output_bytes: 1 << 20,
        }
    }
}

/// How often the engine's epoch advances; the time limit is counted in these ticks.
pub(crate) const TICK: Duration = Duration::from_millis(10);

impl Limits {
    pub(crate) fn epoch_ticks(&self) -> u64 {
        (self.time.as_millis() / TICK.as_millis()).max(1) as u64
    }
}
