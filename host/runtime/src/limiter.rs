//! What one plugin instance may take from the machine, counted across everything it
//! owns. A component may hold several core instances, each with its own linear memories
//! and tables; a per-memory limit would let a component with N memories take N times
//! the limit. This limiter counts the bytes of all of an instance's memories together
//! and the elements of all its tables together, and caps how many instances, memories
//! and tables it may create.
//!
//! Threat: a plugin (a component from someone else) that declares many memories or
//! tables, grows them one by one, or asks for a huge initial size. Each request is
//! checked against the running total before wasmtime reserves anything; a refusal is
//! a typed error ([`Exceeded`]) that traps the call, so the host classifies it by type,
//! never by wasmtime's message text.

use wasmtime::ResourceLimiter;

use crate::LimitKind;

/// Core instances one plugin instance may create (a Rust component has 2-4; a Python
/// one from componentize-py about a dozen).
pub const MAX_INSTANCES: usize = 64;
/// Linear memories one plugin instance may create; their sizes count together.
pub const MAX_MEMORIES: usize = 16;
/// Tables one plugin instance may create.
pub const MAX_TABLES: usize = 64;

/// A limit a plugin ran into, raised from inside wasmtime as the trap's error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct Exceeded {
    pub kind: LimitKind,
    pub detail: String,
}

/// The per-store limiter: running totals against fixed maxima.
pub(crate) struct Limiter {
    memory_max: usize,
    memory_used: usize,
    table_max: usize,
    table_used: usize,
}

impl Limiter {
    pub(crate) fn new(memory_max: usize, table_elements_max: usize) -> Self {
        Limiter {
            memory_max,
            memory_used: 0,
            table_max: table_elements_max,
            table_used: 0,
        }
    }
}

/// Adds a growth from `current` to `desired` to the running total `used`, or refuses
/// it when the total would pass `max` (`what` says in what unit). A growth past the
/// memory's or table's own declared `maximum` fails anyway (`memory.grow` returns -1):
/// it is not charged.
fn charge(
    used: &mut usize,
    max: usize,
    (current, desired, maximum): (usize, usize, Option<usize>),
    what: &dyn Fn(usize) -> String,
) -> wasmtime::Result<bool> {
    if maximum.is_some_and(|m| desired > m) {
        return Ok(false);
    }
    // `current` is 0 when a memory or table is created, so creation counts its initial
    // size.
    let total = used.saturating_add(desired.saturating_sub(current));
    if total > max {
        return Err(wasmtime::Error::new(Exceeded {
            kind: LimitKind::Memory,
            detail: what(total),
        }));
    }
    *used = total;
    Ok(true)
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let max = self.memory_max;
        let growth = (current, desired, maximum);
        charge(&mut self.memory_used, max, growth, &|total| {
            format!(
                "the plugin's memories would hold {} MiB together, the limit is {} MiB",
                total >> 20,
                max >> 20
            )
        })
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let max = self.table_max;
        let growth = (current, desired, maximum);
        charge(&mut self.table_used, max, growth, &|total| {
            format!("the plugin's tables would hold {total} elements together, the limit is {max}")
        })
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memories_count_together_and_refusals_are_typed() {
        let mut l = Limiter::new(10 << 20, 100);
        // Two memories of 4 MiB each fit; a third does not, though each is under the limit.
        assert!(l.memory_growing(0, 4 << 20, None).unwrap());
        assert!(l.memory_growing(0, 4 << 20, None).unwrap());
        let e = l.memory_growing(0, 4 << 20, None).unwrap_err();
        let x = e.downcast_ref::<Exceeded>().expect("typed");
        assert_eq!(x.kind, LimitKind::Memory);
        assert!(x.detail.contains("12 MiB"), "{}", x.detail);
        // Growth counts only what is added.
        assert!(l.memory_growing(4 << 20, 6 << 20, None).unwrap());
        assert!(l.memory_growing(6 << 20, 7 << 20, None).is_err());
        assert!(l.table_growing(0, 60, None).unwrap());
        assert!(l.table_growing(0, 60, None).is_err());
        // A growth past the memory's own maximum fails without being charged.
        let mut l = Limiter::new(10 << 20, 100);
        assert!(!l.memory_growing(0, 8 << 20, Some(4 << 20)).unwrap());
        assert!(l.memory_growing(0, 8 << 20, None).unwrap());
    }
}
