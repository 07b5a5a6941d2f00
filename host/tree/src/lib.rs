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

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

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

/// A value inside a tree: what `&serde_json::Value` was to checks, but `Copy` and
/// free to make. Accessors return `None` (or nothing to iterate) for the wrong type, so
/// paths chain without checks at every step.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    bytes: &'a [u8],
    at: usize,
}

static NULL_BYTES: [u8; 1] = [NULL];
static EMPTY_OBJECT_BYTES: [u8; CONTAINER_HEADER] = [SORTED_OBJECT, 0, 0, 0, 0, 9, 0, 0, 0];

impl Node<'static> {
    /// A JSON `null`, for fields that are absent.
    pub const NULL: Node<'static> = Node {
        bytes: &NULL_BYTES,
        at: 0,
    };

    /// An empty JSON object.
    pub const EMPTY_OBJECT: Node<'static> = Node {
        bytes: &EMPTY_OBJECT_BYTES,
        at: 0,
    };
}

impl<'a> Node<'a> {
    /// The top-level value of bytes in the tree encoding.
    pub fn from_bytes(bytes: &'a [u8]) -> Node<'a> {
        Node { bytes, at: 0 }
    }

    fn tag(&self) -> u8 {
        self.bytes.get(self.at).copied().unwrap_or(NULL)
    }

    /// Bytes this node spans; never 0, so that iteration always advances.
    fn span(&self) -> usize {
        match self.tag() {
            UINT | INT | FLOAT => 9,
            STRING => 5 + u32_at(self.bytes, self.at + 1),
            ARRAY | OBJECT | SORTED_OBJECT => u32_at(self.bytes, self.at + 5).max(CONTAINER_HEADER),
            _ => 1,
        }
    }

    fn end(&self) -> usize {
        (self.at + self.span()).min(self.bytes.len())
    }

    fn count(&self) -> usize {
        u32_at(self.bytes, self.at + 1)
    }

    fn string_bytes(&self) -> Option<&'a [u8]> {
        if self.tag() != STRING {
            return None;
        }
        self.bytes.get(self.at + 5..self.at + self.span())
    }

    /// The value of `key` if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        let key = key.as_bytes();
        match self.tag() {
            SORTED_OBJECT => {
                for (k, v) in self.raw_fields() {
                    match key_order(k, key) {
                        Ordering::Less => continue,
                        Ordering::Equal => return Some(v),
                        Ordering::Greater => return None,
                    }
                }
                None
            }
            // No early return: a repeated key reads as its last value, as in serde_json.
            OBJECT => self
                .raw_fields()
                .filter(|(k, _)| same_bytes(k, key))
                .last()
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value at a JSON Pointer (RFC 6901), e.g. `/spec/containers/0/name`, as
    /// `serde_json::Value::pointer` reads it.
    pub fn pointer(&self, pointer: &str) -> Option<Node<'a>> {
        if pointer.is_empty() {
            return Some(*self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/').try_fold(*self, |cur, token| {
            let token = token.replace("~1", "/").replace("~0", "~");
            if cur.is_array() {
                // "01" and "+1" are not indices, as in serde_json.
                if token.len() > 1 && token.starts_with('0') || token.starts_with('+') {
                    return None;
                }
                cur.items().nth(token.parse::<usize>().ok()?)
            } else {
                cur.get(&token)
            }
        })
    }

    /// Whether this is an object with `key` (whatever its value).
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The elements of an array; nothing for any other value.
    pub fn items(&self) -> Items<'a> {
        if self.tag() != ARRAY {
            return Items::default();
        }
        Items {
            bytes: self.bytes,
            at: self.at + CONTAINER_HEADER,
            end: self.end(),
            left: self.count(),
        }
    }

    fn raw_fields(&self) -> RawFields<'a> {
        match self.tag() {
            OBJECT | SORTED_OBJECT => RawFields {
                bytes: self.bytes,
                at: self.at + CONTAINER_HEADER,
                end: self.end(),
                left: self.count(),
            },
            _ => RawFields {
                bytes: &[],
                at: 0,
                end: 0,
                left: 0,
            },
        }
    }

    /// The key/value pairs of an object in document order; nothing for any other value.
    pub fn fields(&self) -> Fields<'a> {
        Fields(self.raw_fields())
    }

    /// The keys of an object.
    pub fn keys(&self) -> impl Iterator<Item = &'a str> {
        self.fields().map(|(k, _)| k)
    }

    /// Number of elements of an array or pairs of an object; 0 for anything else.
    pub fn len(&self) -> usize {
        match self.tag() {
            ARRAY | OBJECT | SORTED_OBJECT => self.count(),
            _ => 0,
        }
    }

    /// Whether an array or object has no elements (true for scalars too).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_str(&self) -> Option<&'a str> {
        text(self.string_bytes()?)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.tag() {
            TRUE => Some(true),
            FALSE => Some(false),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<Number> {
        let raw = u64_at(self.bytes, self.at + 1);
        match self.tag() {
            UINT => Some(raw.into()),
            INT => Some((raw as i64).into()),
            FLOAT => Number::from_f64(f64::from_bits(raw)),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.as_number()?.as_f64()
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    pub fn is_null(&self) -> bool {
        self.tag() == NULL || self.tag() > SORTED_OBJECT
    }

    pub fn is_boolean(&self) -> bool {
        matches!(self.tag(), TRUE | FALSE)
    }

    pub fn is_number(&self) -> bool {
        matches!(self.tag(), UINT | INT | FLOAT)
    }

    pub fn is_string(&self) -> bool {
        self.tag() == STRING
    }

    pub fn is_array(&self) -> bool {
        self.tag() == ARRAY
    }

    pub fn is_object(&self) -> bool {
        matches!(self.tag(), OBJECT | SORTED_OBJECT)
    }

    /// Whether this is an object whose keys are strictly ascending.
    pub fn is_sorted_object(&self) -> bool {
        self.tag() == SORTED_OBJECT
    }

    /// The bytes of this node and everything under it.
    fn subtree(&self) -> &'a [u8] {
        self.bytes.get(self.at..self.end()).unwrap_or(&NULL_BYTES)
    }

    /// An owned `serde_json::Value` with the same content.
    pub fn to_value(&self) -> Value {
        match self.tag() {
            TRUE => Value::Bool(true),
            FALSE => Value::Bool(false),
            UINT | INT | FLOAT => self.as_number().map_or(Value::Null, Value::Number),
            STRING => Value::String(self.as_str().unwrap_or_default().to_string()),
            ARRAY => Value::Array(self.items().map(|x| x.to_value()).collect()),
            OBJECT | SORTED_OBJECT => Value::Object(
                self.fields()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect::<Map<String, Value>>(),
            ),
            _ => Value::Null,
        }
    }

    /// The object's pairs with repeated keys reduced to their last value.
    fn unique_fields(self) -> Vec<(&'a [u8], Node<'a>)> {
        let mut out: Vec<(&'a [u8], Node<'a>)> = Vec::new();
        for (k, v) in self.raw_fields() {
            match out.iter_mut().find(|(k2, _)| *k2 == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        out
    }
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Node<'_>) -> bool {
        if std::ptr::eq(self.bytes, other.bytes) && self.at == other.at {
            return true;
        }
        match (self.tag(), other.tag()) {
            (ARRAY, ARRAY) => {
                self.len() == other.len() && self.items().zip(other.items()).all(|(x, y)| x == y)
            }
            (SORTED_OBJECT, SORTED_OBJECT) => {
                self.len() == other.len()
                    && self
                        .raw_fields()
                        .zip(other.raw_fields())
                        .all(|((k, x), (k2, y))| k == k2 && x == y)
            }
            // Objects are equal when they hold the same keys with equal values, in
            // whatever order (as for serde_json's maps).
            (OBJECT | SORTED_OBJECT, OBJECT | SORTED_OBJECT) => {
                let (a, b) = (self.unique_fields(), other.unique_fields());
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v == v2))
            }
            (STRING, STRING) => self.string_bytes() == other.string_bytes(),
            (UINT, UINT) | (INT, INT) | (FLOAT, FLOAT) => self.as_number() == other.as_number(),
            // null, true, false (any unknown tag reads as null).
            (a, b) => a == b || (self.is_null() && other.is_null()),
        }
    }
}

impl fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Debug::fmt(&self.to_value(), f)
    }
}

impl Node<'_> {
    /// Appends the node as compact JSON text, byte for byte what `to_value()` would
    /// serialise to (keys of an unsorted object are sorted and deduplicated as a
    /// `serde_json::Map` would), without building the value: what the host hands
    /// plugins that read JSON text.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        match self.tag() {
            TRUE => out.extend_from_slice(b"true"),
            FALSE => out.extend_from_slice(b"false"),
            UINT | INT | FLOAT => match self.as_number() {
                Some(n) => {
                    let _ = serde_json::to_writer(&mut *out, &n);
                }
                None => out.extend_from_slice(b"null"),
            },
            STRING => write_json_str(out, self.as_str().unwrap_or_default()),
            ARRAY => {
                out.push(b'[');
                for (i, x) in self.items().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    x.write_json(out);
                }
                out.push(b']');
            }
            SORTED_OBJECT => {
                out.push(b'{');
                for (i, (k, v)) in self.fields().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_json_str(out, k);
                    out.push(b':');
                    v.write_json(out);
                }
                out.push(b'}');
            }
            OBJECT => {
                let _ = serde_json::to_writer(&mut *out, &self.to_value());
            }
            _ => out.extend_from_slice(b"null"),
        }
    }
}

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json escapes control characters, quotes and backslashes, nothing else.
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

impl Node<'_> {
    /// The node as compact JSON text (see [`Node::write_json`]).
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(self.subtree().len() + 64);
        self.write_json(&mut out);
        // The writer emits UTF-8 only (validated strings and serde_json's output).
        String::from_utf8(out).unwrap_or_default()
    }
}

/// JSON text, as `serde_json::Value` displays.
impl fmt::Display for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

/// Elements of an array node.
#[derive(Clone, Default)]
pub struct Items<'a> {
    bytes: &'a [u8],
    at: usize,
    end: usize,
    left: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = Node<'a>;

    fn next(&mut self) -> Option<Node<'a>> {
        if self.left == 0 || self.at >= self.end {
            return None;
        }
        let node = Node {
            bytes: self.bytes,
            at: self.at,
        };
        self.at += node.span();
        self.left -= 1;
        Some(node)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

#[derive(Clone)]
struct RawFields<'a> {
    bytes: &'a [u8],
    at: usize,
    end: usize,
    left: usize,
}

impl<'a> Iterator for RawFields<'a> {
    type Item = (&'a [u8], Node<'a>);

    fn next(&mut self) -> Option<(&'a [u8], Node<'a>)> {
        if self.left == 0 || self.at >= self.end {
            return None;
        }
        let len = u32_at(self.bytes, self.at);
        let key_end = self.at + 4 + len;
        let key = self.bytes.get(self.at + 4..key_end).unwrap_or_default();
        let value = Node {
            bytes: self.bytes,
            at: key_end,
        };
        self.at = key_end + value.span();
        self.left -= 1;
        Some((key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// Key/value pairs of an object node.
#[derive(Clone)]
pub struct Fields<'a>(RawFields<'a>);

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, Node<'a>);

    fn next(&mut self) -> Option<(&'a str, Node<'a>)> {
        let (k, v) = self.0.next()?;
        Some((text(k).unwrap_or_default(), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// Writes the tree encoding: what the host does for each object, what
/// [`Tree::from_json`] does, and how new trees are made of parts of existing ones (see
/// `tollgate_kit::value::deep_merge`).
pub struct Writer {
    bytes: Vec<u8>,
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

/// Appends the encoding of a serde-deserialized value.
struct Build<'w>(&'w mut Writer);

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.bool(v);
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.i64(v);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.u64(v);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.f64(v);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.string(v);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.null();
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.0.null();
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let w = self.0;
        let mark = w.begin_array();
        let mut n = 0;
        while seq.next_element_seed(Build(w))?.is_some() {
            n += 1;
        }
        w.end_array(mark, n);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let w = self.0;
        let mark = w.begin_object();
        let mut n = 0;
        let mut sorted = true;
        let mut previous: Option<(usize, usize)> = None;
        loop {
            // A key is written as its length and then its bytes.
            let start = w.bytes.len() + 4;
            if map.next_key_seed(BuildKey(w))?.is_none() {
                break;
            }
            let key = (start, w.bytes.len());
            if let (Some(p), true) = (previous, sorted) {
                sorted = w.bytes[p.0..p.1] < w.bytes[key.0..key.1];
            }
            previous = Some(key);
            map.next_value_seed(Build(w))?;
            n += 1;
        }
        w.end_object(mark, n, sorted);
        Ok(())
    }
}

struct BuildKey<'w>(&'w mut Writer);

impl<'de> DeserializeSeed<'de> for BuildKey<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for BuildKey<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.key(v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SAMPLE: &str = r#"{"kind":"Pod","n":[1,-2,3.5,18446744073709551615,-9223372036854775808],
        "e":{},"a":[],"s":"t\u00e9\"x","nested":{"x":[{"y":null},true,false]},"dup":1,"dup":2}"#;

    #[test]
    fn reads_like_serde_json() {
        let t = Tree::from_json(SAMPLE).unwrap();
        let v: Value = serde_json::from_str(SAMPLE).unwrap();
        assert_eq!(t.root().to_value(), v);
        let r = t.root();
        assert_eq!(r.get("kind").and_then(|k| k.as_str()), Some("Pod"));
        assert_eq!(r.get("s").and_then(|k| k.as_str()), Some("té\"x"));
        let n: Vec<Option<f64>> = r.get("n").unwrap().items().map(|x| x.as_f64()).collect();
        assert_eq!(
            n,
            [
                Some(1.0),
                Some(-2.0),
                Some(3.5),
                Some(18446744073709551615.0),
                Some(i64::MIN as f64)
            ]
        );
        let n: Vec<Node> = r.get("n").unwrap().items().collect();
        assert_eq!(n[3].as_u64(), Some(u64::MAX));
        assert_eq!(n[3].as_i64(), None);
        assert_eq!(n[4].as_i64(), Some(i64::MIN));
        assert_eq!(n[2].as_i64(), None);
        assert_eq!(r.get("dup").unwrap().as_i64(), Some(2), "last value wins");
        assert!(r.get("e").unwrap().is_object() && r.get("e").unwrap().is_empty());
        assert!(r.get("a").unwrap().is_array() && r.get("a").unwrap().is_empty());
        let x = r.get("nested").and_then(|n| n.get("x")).unwrap();
        assert_eq!(x.len(), 3);
        assert!(x.items().next().unwrap().get("y").unwrap().is_null());
        assert_eq!(x.items().nth(2).unwrap().as_bool(), Some(false));
        assert!(r.get("missing").is_none() && r.get("kind").unwrap().get("x").is_none());
        assert_eq!(r.get("kind").unwrap().items().count(), 0);
        assert_eq!(r.to_string(), v.to_string());
        let unsorted =
            Tree::from_json(r#"{"b":{"y":1,"x":[true,null,"q\"\n"]},"a":-1.5,"b":2}"#).unwrap();
        let expected: Value = serde_json::from_str(r#"{"a":-1.5,"b":2}"#).unwrap();
        assert_eq!(unsorted.root().to_string(), expected.to_string());
        let keys: Vec<&str> = r.keys().collect();
        assert_eq!(keys, ["kind", "n", "e", "a", "s", "nested", "dup", "dup"]);
        for p in [
            "",
            "/n/3",
            "/nested/x/0/y",
            "/nested/x/01",
            "/n/+1",
            "/missing",
            "kind",
            "/s",
        ] {
            assert_eq!(
                r.pointer(p).map(|n| n.to_value()),
                v.pointer(p).cloned(),
                "{p}"
            );
        }
    }

    #[test]
    fn sorted_objects_are_marked_and_read_alike() {
        let sorted = Tree::from_json(r#"{"a":1,"b":{"c":2,"d":3},"e":4}"#).unwrap();
        let unsorted = Tree::from_json(r#"{"e":4,"b":{"d":3,"c":2},"a":1}"#).unwrap();
        assert!(sorted.root().is_sorted_object());
        assert!(!unsorted.root().is_sorted_object());
        for t in [&sorted, &unsorted] {
            let r = t.root();
            assert_eq!(r.get("a").and_then(|x| x.as_u64()), Some(1));
            assert_eq!(r.get("e").and_then(|x| x.as_u64()), Some(4));
            assert_eq!(r.pointer("/b/d").and_then(|x| x.as_u64()), Some(3));
            assert!(r.get("0").is_none() && r.get("c").is_none() && r.get("z").is_none());
        }
        assert_eq!(sorted.root(), unsorted.root());
        let repeated = Tree::from_json(r#"{"a":1,"a":2}"#).unwrap();
        assert!(
            !repeated.root().is_sorted_object(),
            "a repeated key is not ascending"
        );
    }

    #[test]
    fn sorted_lookup_finds_exactly_what_a_scan_finds() {
        // Keys sharing first bytes and prefixes, as "name"/"namespace" do.
        let keys = [
            "",
            "a",
            "aa",
            "ab",
            "abc",
            "b",
            "ba",
            "name",
            "namespace",
            "names",
            "z",
        ];
        for mask in 0u32..(1 << keys.len()) {
            let present: Vec<&str> = (0..keys.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| keys[i])
                .collect();
            let map: Map<String, Value> = present
                .iter()
                .enumerate()
                .map(|(i, k)| (k.to_string(), Value::from(i)))
                .collect();
            let tree = Tree::from_value(&Value::Object(map.clone()));
            assert!(tree.root().is_sorted_object());
            for k in keys.iter().chain(&["ac", "nam", "namespaces", "0", "zz"]) {
                let got = tree.root().get(k).and_then(|v| v.as_u64());
                assert_eq!(
                    got,
                    map.get(*k).and_then(Value::as_u64),
                    "{k:?} in {present:?}"
                );
            }
        }
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        for bad in ["", "{", "{\"a\":1} x", "[1,]", "{\"a\" 1}", "nul"] {
            assert!(Tree::from_json(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(
            Tree::from_json(&deep).is_err(),
            "serde_json's recursion limit holds"
        );
    }

    #[test]
    fn equality_ignores_key_order_but_not_content() {
        let a = Tree::from_json(r#"{"a":1,"b":[1,{"c":2}]}"#).unwrap();
        let b = Tree::from_json(r#"{"b":[1,{"c":2}],"a":1}"#).unwrap();
        let c = Tree::from_json(r#"{"b":[1,{"c":3}],"a":1}"#).unwrap();
        let d = Tree::from_json(r#"{"b":[1,{"c":2}],"a":1.0}"#).unwrap();
        let e = Tree::from_json(r#"{"b":[1,{"c":2}],"a":"1"}"#).unwrap();
        assert_eq!(a.root(), b.root());
        assert_ne!(a.root(), c.root());
        assert_ne!(a.root(), d.root(), "1 and 1.0 differ, as in serde_json");
        assert_ne!(a.root(), e.root());
    }

    #[test]
    fn from_value_and_from_json_agree() {
        let v = json!({"z": [1, -1, 0.5, "two", {"three": 3}], "a": {"b": null, "t": true}});
        let text = v.to_string();
        assert_eq!(Tree::from_value(&v), Tree::from_json(&text).unwrap());
    }

    #[test]
    fn a_copied_subtree_reads_the_same() {
        let t = Tree::from_json(r#"{"a":{"b":[1,{"c":2}],"d":"e"},"f":3}"#).unwrap();
        let mut w = Writer::default();
        let m = w.begin_object();
        w.key("f");
        w.copy(t.root().get("f").unwrap());
        w.key("a");
        w.copy(t.root().get("a").unwrap());
        w.end_object(m, 2, false);
        let copy = w.finish();
        assert_eq!(copy.root(), t.root());
        assert_eq!(copy.root().get("a"), t.root().get("a"));
        assert_eq!(copy.root().get("f").and_then(|f| f.as_u64()), Some(3));
    }

    #[test]
    fn any_bytes_read_without_panicking() {
        // Every prefix and a run of corruptions of a real encoding: reading must end
        // and must not panic, whatever the bytes say.
        let good = Tree::from_json(SAMPLE).unwrap().into_bytes();
        let mut inputs: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
        let mut x = 0x9e37_79b9u32;
        for _ in 0..2000 {
            let mut b = good.clone();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % b.len();
                b[i] = (x >> 8) as u8;
            }
            inputs.push(b);
        }
        for b in &inputs {
            let r = Node::from_bytes(b);
            let _ = r.to_value();
            let _ = r.pointer("/nested/x/0/y");
            let _ = r == Node::from_bytes(&good);
            let _ = r.get("s").and_then(|s| s.as_str());
            assert_eq!(r.to_string(), r.to_value().to_string(), "{b:?}");
        }
    }

    /// Objects written in any key order, with repeats, close byte for byte as the
    /// encoding of the serde_json value the same pairs make (sorted, last value wins).
    #[test]
    fn objects_close_as_serde_json_maps() {
        let cases: [&[(&str, serde_json::Value)]; 6] = [
            &[],
            &[
                ("a", json!(1)),
                ("b", json!("x")),
                ("c", json!([1, {"z": 1}])),
            ],
            &[
                ("kind", json!("Pod")),
                ("apiVersion", json!("v1")),
                ("metadata", json!({"name": "n"})),
            ],
            &[
                ("b", json!(1)),
                ("a", json!(2)),
                ("b", json!({"k": [3]})),
                ("a", json!(null)),
            ],
            &[
                ("ab", json!(1)),
                ("a", json!(2)),
                ("", json!(3)),
                ("abc", json!(4)),
                ("a", json!(5)),
            ],
            &[("x", json!(1)), ("x", json!(2))],
        ];
        for pairs in cases {
            let mut w = Writer::default();
            let mark = w.begin_object();
            let mut map = serde_json::Map::new();
            for (k, v) in pairs {
                w.key(k);
                w.value(v);
                map.insert(k.to_string(), v.clone());
            }
            w.end_object_as_map(mark);
            let expected = Tree::from_value(&Value::Object(map));
            assert_eq!(w.finish().as_bytes(), expected.as_bytes(), "{pairs:?}");
        }
    }

    /// The word-at-a-time comparisons and text check agree with the standard ones on
    /// keys of every length around the word size, shared prefixes, high bytes and
    /// invalid UTF-8.
    #[test]
    fn word_comparisons_agree_with_slices() {
        let mut samples: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0xff], "é".into(), vec![0xc3]];
        for base in [
            "securityContext",
            "serviceAccountName",
            "spec",
            "status",
            "a",
        ] {
            for n in 0..=base.len() {
                samples.push(base.as_bytes()[..n].to_vec());
            }
        }
        for n in 0..20 {
            let mut v = vec![b'k'; n];
            samples.push(v.clone());
            if n > 0 {
                v[n - 1] = 0x80;
                samples.push(v.clone());
                v[n / 2] = b'j';
                samples.push(v);
            }
        }
        for a in &samples {
            for b in &samples {
                assert_eq!(order_bytes(a, b), a.cmp(b), "{a:?} {b:?}");
                assert_eq!(key_order(a, b), a.cmp(b), "{a:?} {b:?}");
                assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
            }
            assert_eq!(text(a), std::str::from_utf8(a).ok(), "{a:?}");
        }
    }
}
