//! The plugins' global allocator: free lists per size class in front of talc.
//!
//! Evaluating an object is mostly building and dropping its JSON tree: thousands of
//! small allocations (keys, strings, map nodes) of a few recurring sizes, all freed
//! before the next object. A freed small block goes on its class's list and the next
//! request of that class pops it — a handful of instructions, where talc's general
//! allocator spent a tenth of a plugin's time. Small blocks are carved from chunks
//! taken from talc and are never given back (memory stays at the peak of live small
//! blocks); larger or over-aligned requests go to talc itself.
//!
//! Single-threaded by construction: compiled only for wasm32 without the atomics
//! feature, where there is one thread.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr::null_mut;

/// Block sizes; every one a multiple of 8, so every block is 8-aligned.
const CLASSES: [usize; 17] = [
    8, 16, 24, 32, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024,
];
const LARGEST: usize = 1024;
const ALIGN: usize = 8;
/// Bytes taken from talc at a time for small blocks.
const CHUNK: usize = 64 * 1024;

/// Class index for each size in steps of 8 bytes (index `(size + 7) / 8`).
const CLASS_OF: [u8; LARGEST / 8 + 1] = {
    let mut table = [0u8; LARGEST / 8 + 1];
    let mut step = 0;
    while step <= LARGEST / 8 {
        let size = step * 8;
        let mut class = 0;
        while CLASSES[class] < size {
            class += 1;
        }
        table[step] = class as u8;
        step += 1;
    }
    table
};

struct State {
    /// Head of each class's list of free blocks; a free block stores the next one.
    free: [*mut u8; CLASSES.len()],
    /// The unused rest of the current chunk.
    bump: *mut u8,
    end: *mut u8,
}

pub(crate) struct SizeClasses<A> {
    inner: A,
    state: UnsafeCell<State>,
}

// SAFETY: the allocator is only installed on wasm32 without atomics, where a single
// thread exists.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for SizeClasses<A> {}

impl<A> SizeClasses<A> {
    pub(crate) const fn new(inner: A) -> Self {
        SizeClasses {
            inner,
            state: UnsafeCell::new(State {
                free: [null_mut(); CLASSES.len()],
                bump: null_mut(),
                end: null_mut(),
            }),
        }
    }
}

/// The class serving `layout`, or None when talc serves it.
fn class(layout: &Layout) -> Option<usize> {
    (layout.size() <= LARGEST && layout.align() <= ALIGN)
        .then(|| CLASS_OF[layout.size().div_ceil(8)] as usize)
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for SizeClasses<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(&layout) else {
            return self.inner.alloc(layout);
        };
        let s = &mut *self.state.get();
        let head = s.free[c];
        if !head.is_null() {
            s.free[c] = *(head as *mut *mut u8);
            return head;
        }
        let size = CLASSES[c];
        if (s.end as usize) - (s.bump as usize) < size {
            let chunk = self
                .inner
                .alloc(Layout::from_size_align_unchecked(CHUNK, ALIGN));
            if chunk.is_null() {
                return null_mut();
            }
            s.bump = chunk;
            s.end = chunk.add(CHUNK);
        }
        let block = s.bump;
        s.bump = block.add(size);
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(c) = class(&layout) else {
            return self.inner.dealloc(ptr, layout);
        };
        let s = &mut *self.state.get();
        *(ptr as *mut *mut u8) = s.free[c];
        s.free[c] = ptr;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        match (class(&layout), class(&new_layout)) {
            (Some(a), Some(b)) if a == b => ptr,
            (None, None) => self.inner.realloc(ptr, layout, new_size),
            _ => {
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_maps_to_the_smallest_class_that_holds_it() {
        for size in 1..=LARGEST {
            let c = class(&Layout::from_size_align(size, 1).unwrap()).unwrap();
            assert!(CLASSES[c] >= size);
            assert!(c == 0 || CLASSES[c - 1] < size, "size {size} class {c}");
        }
        assert_eq!(
            class(&Layout::from_size_align(LARGEST + 1, 1).unwrap()),
            None
        );
        assert_eq!(class(&Layout::from_size_align(64, 16).unwrap()), None);
    }

    /// Random allocations, frees and reallocations of every size class and beyond:
    /// every block keeps its contents (so none overlaps another), alignment holds.
    #[test]
    fn blocks_keep_their_contents_and_never_overlap() {
        let a = SizeClasses::new(std::alloc::System);
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut rand = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let check = |p: *mut u8, l: &Layout, tag: u8| unsafe {
            assert_eq!(p as usize % l.align(), 0);
            assert!(
                (0..l.size()).all(|i| *p.add(i) == tag),
                "block contents changed"
            );
        };
        for step in 0..200_000usize {
            let tag = (step % 251) as u8;
            match rand(3) {
                0 | 1 if live.len() < 2_000 => {
                    let big = rand(10) == 0;
                    let size = 1 + rand(if big { 5_000 } else { 600 });
                    let align = [1, 2, 4, 8, 16][rand(5)];
                    let l = Layout::from_size_align(size, align).unwrap();
                    let p = unsafe { a.alloc(l) };
                    unsafe { p.write_bytes(tag, size) };
                    live.push((p, l, tag));
                }
                0 => {
                    let (p, l, t) = live.swap_remove(rand(live.len()));
                    check(p, &l, t);
                    unsafe { a.dealloc(p, l) };
                }
                _ if !live.is_empty() => {
                    let i = rand(live.len());
                    let (p, l, t) = live[i];
                    check(p, &l, t);
                    let size = 1 + rand(2_000);
                    let q = unsafe { a.realloc(p, l, size) };
                    let nl = Layout::from_size_align(size, l.align()).unwrap();
                    check(
                        q,
                        &Layout::from_size_align(size.min(l.size()), 1).unwrap(),
                        t,
                    );
                    unsafe { q.write_bytes(tag, size) };
                    live[i] = (q, nl, tag);
                }
                _ => {}
            }
        }
        for (p, l, t) in live {
            check(p, &l, t);
            unsafe { a.dealloc(p, l) };
        }
    }
}
