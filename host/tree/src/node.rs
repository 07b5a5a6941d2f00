//! Reading the encoding in place: [`Node`] views, their items and fields, and JSON text.

use std::fmt;

use serde_json::{Map, Number, Value};

use super::*;

/// A value inside a tree: what `&serde_json::Value` was to checks, but `Copy` and
/// free to make. Accessors return `None` (or nothing to iterate) for the wrong type, so
/// paths chain without checks at every step.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
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
    pub(crate) fn span(&self) -> usize {
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
    pub(crate) fn subtree(&self) -> &'a [u8] {
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
