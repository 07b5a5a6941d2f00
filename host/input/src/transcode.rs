//! YAML documents straight to the tree encoding plugins receive, from the parser's events.
//!
//! serde-saphyr's generic deserializer spends ~70% of a document's parse time in its
//! serde layer (events replayed, keys fingerprinted, every scalar turned into a
//! `serde_json::Value`). Kubernetes manifests use a small part of YAML, so this module
//! reads the same parser's events (granit-parser, same options) and writes the tree
//! encoding from them as they come, objects' pairs put in serde_json's order when they
//! close. Whatever it is not certain to treat exactly as
//! serde-saphyr does — anchors, aliases, tags, merge keys, directives, non-string keys,
//! parse errors, anything near a budget — makes it give up with [`Bail`], and the caller
//! parses that document with serde-saphyr instead. Scalars that might be numbers,
//! booleans or nulls in some spelling are resolved by serde-saphyr itself, so both paths
//! type every scalar identically; `tests/` checks the two paths agree on the corpus.
//!
//! A `kind: List`'s `items` are reduced one by one while parsed, and the node budget
//! applies per item, so a `kubectl get -A -o yaml` dump of any size parses in bounded
//! memory.

use std::borrow::Cow;

use granit_parser::{Event, Options, Parser, ScalarStyle, StrInput};
use serde_json::Value;
use tollgate_tree::Writer;

use crate::accept::{shape, Item, ItemsField, Outcome, Shape};
use crate::InputLimits;

/// This document needs the reference (serde-saphyr) path.
#[derive(Debug)]
pub(crate) struct Bail;

/// Nodes per object (a document, or one List item) before the reference path, and its
/// budget error, take over. serde-saphyr's own default budget.
const MAX_NODES: usize = 250_000;

/// A scalar, typed as serde-saphyr types it.
enum Scalar<'a> {
    Null,
    Bool(bool),
    Str(Cow<'a, str>),
    /// A number, as serde_json holds it.
    Number(serde_json::Number),
}

impl Scalar<'_> {
    fn write_tree(&self, w: &mut Writer) {
        match self {
            Scalar::Null => w.null(),
            Scalar::Bool(b) => w.bool(*b),
            Scalar::Number(n) => w.number(n),
            Scalar::Str(s) => w.string(s),
        }
    }
}

/// Where a document's events come from: the block scanner or granit-parser.
trait Events<'a> {
    fn next_event(&mut self) -> Option<Event<'a>>;
}

impl<'a> Events<'a> for Parser<'a, StrInput<'a>> {
    fn next_event(&mut self) -> Option<Event<'a>> {
        match self.next() {
            Some(Ok((event, _))) => Some(event),
            _ => None,
        }
    }
}

impl<'a> Events<'a> for std::vec::IntoIter<Event<'a>> {
    fn next_event(&mut self) -> Option<Event<'a>> {
        self.next()
    }
}

struct Reader<'a, E> {
    events: E,
    limits: &'a InputLimits,
    nodes: usize,
}

impl<'a, E: Events<'a>> Reader<'a, E> {
    fn next(&mut self) -> Result<Event<'a>, Bail> {
        self.events.next_event().ok_or(Bail)
    }

    /// The next key of a mapping, or None at its end.
    fn next_key(&mut self) -> Result<Option<Cow<'a, str>>, Bail> {
        match self.next()? {
            Event::MappingEnd => Ok(None),
            Event::Scalar(text, style, 0, None) => key(text, style).map(Some),
            _ => Err(Bail),
        }
    }

    /// Writes the node starting with `first`, at nesting `level` (the document root is
    /// 0), in the tree encoding of the value serde_json would build from it: objects'
    /// keys sorted (serde_json's map is a BTreeMap), a repeated key's last value.
    /// Returns its depth (containers count one, scalars zero).
    fn write(&mut self, first: Event<'a>, level: usize, w: &mut Writer) -> Result<usize, Bail> {
        self.nodes += 1;
        // Leave the reference path to report budgets, with a margin so that both agree
        // on which documents are too deep.
        if self.nodes > MAX_NODES || level + 3 > self.limits.max_depth {
            return Err(Bail);
        }
        match first {
            Event::Scalar(text, style, 0, None) => {
                scalar(text, style)?.write_tree(w);
                Ok(0)
            }
            Event::SequenceStart(_, 0, None) => {
                let mark = w.begin_array();
                let (mut count, mut depth) = (0, 0);
                loop {
                    match self.next()? {
                        Event::SequenceEnd => break,
                        e => {
                            depth = depth.max(self.write(e, level + 1, w)?);
                            count += 1;
                        }
                    }
                }
                w.end_array(mark, count);
                Ok(depth + 1)
            }
            Event::MappingStart(_, 0, None) => {
                let mark = w.begin_object();
                let mut depth = 0;
                while let Some(key) = self.next_key()? {
                    w.key(&key);
                    let first = self.next()?;
                    depth = depth.max(self.write(first, level + 1, w)?);
                }
                w.end_object_as_map(mark);
                Ok(depth + 1)
            }
            // Anchors, aliases, tags, comments: the reference path knows them.
            _ => Err(Bail),
        }
    }

    /// Writes the document's root mapping, except an `items` array, which is reduced
    /// item by item instead. Returns the depth and the items.
    fn root_map(&mut self, w: &mut Writer) -> Result<(usize, Option<Vec<Item>>), Bail> {
        let mark = w.begin_object();
        let mut depth = 0;
        let mut items = None;
        let mut items_key = false;
        self.nodes += 1;
        while let Some(key) = self.next_key()? {
            let first = self.next()?;
            if key == "items" {
                if items_key {
                    return Err(Bail);
                }
                items_key = true;
                if let Event::SequenceStart(_, 0, None) = first {
                    items = Some(self.items()?);
                    depth = depth.max(2);
                    continue;
                }
            }
            w.key(&key);
            depth = depth.max(self.write(first, 1, w)?);
        }
        w.end_object_as_map(mark);
        Ok((depth + 1, items))
    }

    fn items(&mut self) -> Result<Vec<Item>, Bail> {
        let mut out = Vec::new();
        let outer = self.nodes;
        loop {
            let first = match self.next()? {
                Event::SequenceEnd => break,
                e => e,
            };
            self.nodes = outer;
            let mut w = Writer::with_capacity(1024);
            let depth = self.write(first, 2, &mut w)?;
            out.push(Item::new(w.finish(), depth));
        }
        self.nodes = outer + 1;
        Ok(out)
    }
}

/// A key: a string as serde-saphyr would give it, else [`Bail`].
fn key<'a>(text: Cow<'a, str>, style: ScalarStyle) -> Result<Cow<'a, str>, Bail> {
    if style != ScalarStyle::Plain {
        return Ok(text);
    }
    match scalar(text, style)? {
        // `<<` is a merge key, which the reference path expands.
        Scalar::Str(s) if s != "<<" => Ok(s),
        _ => Err(Bail),
    }
}

/// A scalar without tag or anchor, typed as serde-saphyr types it for an untyped value.
fn scalar<'a>(text: Cow<'a, str>, style: ScalarStyle) -> Result<Scalar<'a>, Bail> {
    if style != ScalarStyle::Plain {
        return Ok(Scalar::Str(text));
    }
    let s: &str = &text;
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Scalar::Null),
        "true" => return Ok(Scalar::Bool(true)),
        "false" => return Ok(Scalar::Bool(false)),
        _ => {}
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    let plain_decimal = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if plain_decimal {
        // In range, such a spelling reads as the integer itself, as serde-saphyr reads
        // it (minus zero included: 0); out of range it is left to serde-saphyr below.
        let number = if s.starts_with('-') {
            s.parse::<i64>().ok().map(serde_json::Number::from)
        } else {
            s.parse::<u64>().ok().map(serde_json::Number::from)
        };
        if let Some(n) = number {
            return Ok(Scalar::Number(n));
        }
    }
    if !could_be_typed(s) {
        return Ok(Scalar::Str(text));
    }
    // A number, boolean or null in a rarer spelling (0x1F, 1e3, .inf, Yes, 0755, ...):
    // serde-saphyr's own resolution, on the scalar alone.
    // Alone, the text is a document of its own, where `---`, `...` or `-` are syntax:
    // only a result the scalar could have in place is trusted. The null spellings were
    // resolved above, so a null here is such a misreading.
    match crate::reference::parse_value(s) {
        Ok(Value::Bool(b)) => Ok(Scalar::Bool(b)),
        Ok(Value::Number(n)) => Ok(Scalar::Number(n)),
        Ok(Value::String(resolved)) if resolved == s => Ok(Scalar::Str(text)),
        _ => Err(Bail),
    }
}

/// Whether a plain scalar might resolve to anything but a string. Every typed spelling
/// (YAML 1.1 booleans, nulls, decimal/hex/octal/binary integers, floats, .inf, .nan)
/// is made of these bytes and starts with a sign, a digit, a dot, `~` or one of the
/// words below, and the only letters in a number are hex digits, the base and exponent
/// letters, or a spelling of infinity or not-a-number; anything else (`500m`, `128Mi`)
/// is certainly a string.
fn could_be_typed(s: &str) -> bool {
    let Some(&first) = s.as_bytes().first() else {
        return true;
    };
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_' | b':' | b'~'))
    {
        return false;
    }
    if first.is_ascii_alphabetic() {
        const WORDS: [&str; 12] = [
            "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "infinity",
        ];
        return WORDS.iter().any(|w| s.eq_ignore_ascii_case(w));
    }
    let numeric_letters = s
        .bytes()
        .all(|b| !b.is_ascii_alphabetic() || b.is_ascii_hexdigit() || b"xXoObB".contains(&b));
    let word = s.trim_start_matches(['+', '-', '.']);
    numeric_letters
        || ["inf", "infinity", "nan"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w))
}

/// Parses one YAML document (the text between two `---`), or says it needs the
/// reference path.
pub(crate) fn document(text: &str, limits: &InputLimits) -> Result<Outcome, Bail> {
    // The block scanner's events are granit's for every document it accepts.
    match crate::block::events(text, limits.max_depth) {
        Ok(events) => read(
            Reader {
                events: events.into_iter(),
                limits,
                nodes: 0,
            },
            text.len(),
        ),
        Err(_) => read(
            Reader {
                events: granit(text),
                limits,
                nodes: 0,
            },
            text.len(),
        ),
    }
}

/// granit-parser with the options serde-saphyr gives it.
pub(crate) fn granit(text: &str) -> Parser<'_, StrInput<'_>> {
    let mut options = Options::default();
    options.set_emit_comments(false);
    Parser::with_options(StrInput::new(text), options)
}

fn read<'a, E: Events<'a>>(mut r: Reader<'a, E>, size: usize) -> Result<Outcome, Bail> {
    if !matches!(r.next()?, Event::StreamStart) {
        return Err(Bail);
    }
    // A directive (%YAML 1.1, %TAG) changes how scalars resolve: reference path.
    let first = match r.next()? {
        Event::DocumentStart(_, None) => r.next()?,
        _ => return Err(Bail),
    };
    // The tree of a manifest takes about as many bytes as its text.
    let mut w = Writer::with_capacity(size.min(1 << 20));
    let outcome = if let Event::MappingStart(_, 0, None) = first {
        let (depth, items) = r.root_map(&mut w)?;
        let tree = w.finish();
        let root = tree.root();
        let kind = root.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        let field = ItemsField::of(items.is_some(), root.get("items").map(|n| n.is_null()));
        match (shape(kind, field), items) {
            (Shape::List, Some(items)) => Outcome::List(items),
            (Shape::EmptyList, _) => Outcome::EmptyList,
            (Shape::ItemsNotArray, _) => Outcome::ItemsNotArray,
            // `items` was an array but this is no List: put back together by the
            // reference path (rare).
            (_, Some(_)) => return Err(Bail),
            (_, None) => Outcome::Whole(Item::new(tree, depth)),
        }
    } else {
        let depth = r.write(first, 0, &mut w)?;
        let tree = w.finish();
        if tree.root().is_null() {
            Outcome::Empty
        } else {
            Outcome::Whole(Item::new(tree, depth))
        }
    };
    // Exactly one document, then the end of the stream.
    match (r.next()?, r.next()?) {
        (Event::DocumentEnd, Event::StreamEnd) => Ok(outcome),
        _ => Err(Bail),
    }
}
