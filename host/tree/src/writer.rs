//! Writing the encoding: values, containers, copies of existing nodes.

use super::*;

/// Writes the tree encoding: what the host does for each object, what
/// [`Tree::from_json`] does, and how new trees are made of parts of existing ones (see
/// `tollgate_kit::value::deep_merge`).
pub struct Writer {
    pub(crate) bytes: Vec<u8>,
}

impl Default for Writer {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl Writer {
    pub fn with_capacity(bytes: usize) -> Self {
        Writer {
            bytes: Vec::with_capacity(bytes),
        }
    }

    pub fn null(&mut self) {
        self.bytes.push(NULL);
    }

    pub fn bool(&mut self, b: bool) {
        self.bytes.push(if b { TRUE } else { FALSE });
    }

    pub fn number(&mut self, n: &Number) {
        if let Some(u) = n.as_u64() {
            self.u64(u);
        } else if let Some(i) = n.as_i64() {
            self.i64(i);
        } else {
            self.f64(n.as_f64().unwrap_or(0.0));
        }
    }

    pub fn u64(&mut self, u: u64) {
        self.bytes.push(UINT);
        self.bytes.extend_from_slice(&u.to_le_bytes());
    }

    /// A signed integer (written as unsigned when it is not negative, as serde_json
    /// stores it).
    pub fn i64(&mut self, i: i64) {
        if i >= 0 {
            return self.u64(i as u64);
        }
        self.bytes.push(INT);
        self.bytes.extend_from_slice(&i.to_le_bytes());
    }

    /// A float; NaN and infinities, which JSON cannot hold, become null.
    pub fn f64(&mut self, f: f64) {
        if !f.is_finite() {
            return self.null();
        }
        self.bytes.push(FLOAT);
        self.bytes.extend_from_slice(&f.to_bits().to_le_bytes());
    }

    pub fn string(&mut self, s: &str) {
        self.bytes.push(STRING);
        self.raw_str(s);
    }

    /// The key of the next pair of the object being written.
    pub fn key(&mut self, key: &str) {
        self.raw_str(key);
    }

    fn raw_str(&mut self, s: &str) {
        self.bytes
            .extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(s.as_bytes());
    }

    /// Starts an array; pass the returned mark and the element count to
    /// [`Writer::end_array`].
    pub fn begin_array(&mut self) -> usize {
        self.open(ARRAY)
    }

    pub fn end_array(&mut self, mark: usize, count: usize) {
        self.close(mark, count);
    }

    /// Starts an object; pass the returned mark to [`Writer::end_object`].
    pub fn begin_object(&mut self) -> usize {
        self.open(OBJECT)
    }

    /// Closes the object begun at `mark`; `sorted` says whether its keys were written
    /// in strictly ascending order (lookups then stop early).
    pub fn end_object(&mut self, mark: usize, pairs: usize, sorted: bool) {
        self.close(mark, pairs);
        if sorted {
            self.bytes[mark] = SORTED_OBJECT;
        }
    }

    /// Closes the object begun at `mark` as a `serde_json` map holds it: keys in
    /// ascending order, a repeated key with its last value. Pairs written in that order
    /// already (as `kubectl` writes them) cost one comparison each; others are moved
    /// into place.
    pub fn end_object_as_map(&mut self, mark: usize) {
        let start = mark + CONTAINER_HEADER;
        // (key start, key end, pair end) of the pair at `at`.
        let pair = |bytes: &[u8], at: usize| {
            let key_end = at + 4 + u32_at(bytes, at);
            let value = Node { bytes, at: key_end };
            (at + 4, key_end, key_end + value.span())
        };
        let mut at = start;
        let mut count = 0;
        let mut previous: Option<(usize, usize)> = None;
        let mut ordered = true;
        while at < self.bytes.len() {
            let (k0, k1, end) = pair(&self.bytes, at);
            if let Some((p0, p1)) = previous {
                ordered &= self.bytes[p0..p1] < self.bytes[k0..k1];
            }
            previous = Some((k0, k1));
            count += 1;
            at = end;
        }
        if ordered {
            return self.end_object(mark, count, true);
        }
        let mut pairs = Vec::with_capacity(count);
        let mut at = start;
        while at < self.bytes.len() {
            let (k0, k1, end) = pair(&self.bytes, at);
            pairs.push((at, k0, k1, end));
            at = end;
        }
        // Stable: among equal keys the last written stays last, and is the one kept.
        pairs.sort_by(|a, b| self.bytes[a.1..a.2].cmp(&self.bytes[b.1..b.2]));
        let mut region = Vec::with_capacity(self.bytes.len() - start);
        let mut kept = 0;
        for (i, &(p, k0, k1, end)) in pairs.iter().enumerate() {
            let repeated = pairs
                .get(i + 1)
                .is_some_and(|n| self.bytes[n.1..n.2] == self.bytes[k0..k1]);
            if !repeated {
                region.extend_from_slice(&self.bytes[p..end]);
                kept += 1;
            }
        }
        self.bytes.truncate(start);
        self.bytes.extend_from_slice(&region);
        self.end_object(mark, kept, true);
    }

    fn open(&mut self, tag: u8) -> usize {
        let mark = self.bytes.len();
        self.bytes.push(tag);
        self.bytes.extend_from_slice(&[0; 8]);
        mark
    }

    fn close(&mut self, mark: usize, count: usize) {
        let size = (self.bytes.len() - mark) as u32;
        self.bytes[mark + 1..mark + 5].copy_from_slice(&(count as u32).to_le_bytes());
        self.bytes[mark + 5..mark + 9].copy_from_slice(&size.to_le_bytes());
    }

    /// Appends a copy of `node` (sizes are relative, so a subtree copies as it is).
    pub fn copy(&mut self, node: Node) {
        self.bytes.extend_from_slice(node.subtree());
    }

    /// Appends a `serde_json::Value`.
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.null(),
            Value::Bool(b) => self.bool(*b),
            Value::Number(n) => self.number(n),
            Value::String(s) => self.string(s),
            Value::Array(a) => {
                let mark = self.begin_array();
                for x in a {
                    self.value(x);
                }
                self.end_array(mark, a.len());
            }
            Value::Object(m) => {
                let mark = self.begin_object();
                let mut sorted = true;
                let mut previous: Option<&str> = None;
                for (k, x) in m {
                    // Sorted unless something enables serde_json's `preserve_order`.
                    sorted &= previous.is_none_or(|p| p < k.as_str());
                    previous = Some(k);
                    self.key(k);
                    self.value(x);
                }
                self.end_object(mark, m.len(), sorted);
            }
        }
    }

    pub fn finish(self) -> Tree {
        Tree { bytes: self.bytes }
    }
}
