//! The WASI a plugin sees: nothing. No preopened directories, no environment, no
//! arguments, stdin empty, stdout discarded, network denied, and clocks and random
//! numbers fixed by the host, so that a plugin's verdicts cannot depend on the machine.
//! Stderr is captured (bounded) to report a plugin's panic message.
//!
//! This module monomorphises wasmtime-wasi's linker; it lives in the runtime crate,
//! which rarely changes, because that is slow to compile.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

/// Per-store state: the deny-all WASI context and the resource limiter.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: crate::limiter::Limiter,
    pub(crate) stderr: MemoryOutputPipe,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// 2026-01-01T00:00:00Z, a fixed instant every plugin sees as "now".
const FIXED_EPOCH_SECS: u64 = 1_767_225_600;

struct FixedWallClock;
impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(FIXED_EPOCH_SECS)
    }
}

struct FixedMonotonicClock;
impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

const STDERR_CAPTURE: usize = 8 << 10;

impl State {
    pub(crate) fn new(limits: crate::limiter::Limiter) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .wall_clock(FixedWallClock)
            .monotonic_clock(FixedMonotonicClock)
            .secure_random(StdRng::seed_from_u64(0))
            .insecure_random(StdRng::seed_from_u64(1))
            .insecure_random_seed(0)
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        State {
            wasi,
            table: ResourceTable::new(),
            limits,
            stderr,
        }
    }

    /// What the plugin wrote to stderr (a panic message, usually), trimmed.
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }
}

/// A linker that provides deny-all WASI 0.2 and nothing else.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    Ok(linker)
}
