//! The tree encoding: a Kubernetes object as one flat byte buffer, read in place
//! through [`Node`] views.
//!
//! Every resource is read by every plugin it applies to. Parsing JSON text into a
//! `serde_json::Value` in each plugin allocated every key, string, map and list and
//! freed them again, and tokenising the text was most of what remained: together three
//! quarters of a plugin's time. In the tree encoding the host parses each object once,
//! natively, and every plugin reads the bytes where they lie; a container records its
//! length in bytes, so a lookup skips a whole subtree in one step. The same encoding is
//! what `Tree::from_json` builds when a plugin is handed JSON text.
//!
//! The format (little-endian; `wit/policy.wit` documents it for other languages):
//!
//! | tag | value | payload after the tag byte |
//! |---|---|---|
//! | 0, 1, 2 | null, false, true | – |
//! | 3, 4, 5 | unsigned, negative and floating-point numbers | u64, i64, f64 |
//! | 6 | string | byte length u32, UTF-8 bytes |
//! | 7 | array | element count u32, node size u32, elements |
//! | 8, 9 | object (9: keys strictly ascending) | pair count u32, node size u32, pairs |
//!
//! A pair is a key (byte length u32, UTF-8 bytes) followed by a value node; a node's
//! size counts its own tag and header. Reading never fails: bytes that do not follow the
//! format read as null, nothing, or an empty string, so a plugin cannot be made to panic
//! by its input. (Positions add lengths read from the bytes without saturating: on a
//! 64-bit target the sums cannot overflow; in a wasm32 release build a forged length
//! near 4 GiB wraps, which reads garbage and ends at the container's count or the
//! host's time limit, never out of bounds. Saturating every step cost 3% of the
//! plugins' instructions for bytes the host never writes.)
//!
//! Semantics follow `serde_json::Value` where checks can see them: a repeated key reads
//! as its last value, numbers behave as `serde_json::Number`, and equality of objects
//! ignores key order.

use std::cmp::Ordering;
use std::fmt;

use serde::de::DeserializeSeed;
use serde_json::{Number, Value};

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const UINT: u8 = 3;
const INT: u8 = 4;
const FLOAT: u8 = 5;
const STRING: u8 = 6;
const ARRAY: u8 = 7;
const OBJECT: u8 = 8;
const SORTED_OBJECT: u8 = 9;
/// Tag, count and size of an array or object.
const CONTAINER_HEADER: usize = 9;

/// An object (or any JSON value) in the tree encoding.
#[derive(Clone, PartialEq, Eq)]
pub struct Tree {
    bytes: Vec<u8>,
}

impl Tree {
    /// Parses JSON text (the whole text must be one value, as for `serde_json::from_str`,
    /// with the same nesting limit).
    pub fn from_json(json: &str) -> Result<Tree, serde_json::Error> {
        // The encoding is a little shorter than JSON text.
        let mut w = Writer::with_capacity(json.len());
        let mut de = serde_json::Deserializer::from_str(json);
        Build(&mut w).deserialize(&mut de)?;
        de.end()?;
        Ok(w.finish())
    }

    /// Encodes a `serde_json::Value`.
    pub fn from_value(value: &Value) -> Tree {
        let mut w = Writer::with_capacity(64);
        w.value(value);
        w.finish()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Gives back the buffer's spare capacity: for trees kept a while, such as the
    /// 100,000 items of a `kind: List` held until they are evaluated.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }

    /// The document's top-level value.
    pub fn root(&self) -> Node<'_> {
        Node::from_bytes(&self.bytes)
    }
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Debug::fmt(&self.root(), f)
    }
}

/// `k.cmp(key)`, deciding on the first byte when it differs, as it does for most keys
/// a lookup passes over.
fn key_order(k: &[u8], key: &[u8]) -> Ordering {
    match (k.first(), key.first()) {
        (Some(a), Some(b)) if a != b => a.cmp(b),
        _ => order_bytes(k, key),
    }
}

/// The next eight bytes at `i` as a big-endian number: comparing two of them orders
/// their bytes lexicographically.
fn word_at(b: &[u8], i: usize) -> u64 {
    match b.get(i..i + 8) {
        Some(&[a, b, c, d, e, f, g, h]) => u64::from_be_bytes([a, b, c, d, e, f, g, h]),
        _ => 0,
    }
}

/// `a.cmp(b)`, eight bytes at a time: keys are short, and in a plugin a slice
/// comparison is a call to an out-of-line byte loop (wasm has no vector memcmp), with
/// an interruption check on every byte.
fn order_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let (x, y) = (word_at(a, i), word_at(b, i));
        if x != y {
            return x.cmp(&y);
        }
        i += 8;
    }
    while i < n {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
        i += 1;
    }
    a.len().cmp(&b.len())
}

/// `a == b`, as [`order_bytes`] does it.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && order_bytes(a, b) == Ordering::Equal
}

/// The bytes as text. Checked eight bytes at a time for the common case, ASCII; any
/// other byte goes through the full UTF-8 validation.
fn text(b: &[u8]) -> Option<&str> {
    let mut i = 0;
    let mut ascii = true;
    while ascii && i + 8 <= b.len() {
        ascii = word_at(b, i) & 0x8080_8080_8080_8080 == 0;
        i += 8;
    }
    if ascii && b[i..].iter().all(|c| c.is_ascii()) {
        // SAFETY: every byte is ASCII, and ASCII is valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(b) });
    }
    std::str::from_utf8(b).ok()
}

fn u32_at(bytes: &[u8], i: usize) -> usize {
    match bytes.get(i..i + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => 0,
    }
}

fn u64_at(bytes: &[u8], i: usize) -> u64 {
    match bytes.get(i..i + 8) {
        Some(&[a, b, c, d, e, f, g, h]) => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => 0,
    }
}

mod deserialize;
mod node;
#[cfg(test)]
mod tests;
mod writer;

use deserialize::Build;
pub use node::{Fields, Items, Node};
pub use writer::Writer;
