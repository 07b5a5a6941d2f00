//! From paths to Kubernetes objects: discovers files, splits YAML streams into
//! documents, parses each with limits, expands `kind: List`, and keeps where every
//! object came from (file, document, item, line).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tollgate_kit::Tree;

mod block;
mod transcode;

use transcode::Outcome;

/// The annotation that exempts an object from checks: read here, while the object is
/// parsed, into [`Resource::exempt_annotation`]; interpreted by the host.
pub const EXEMPT_ANNOTATION: &str = "tollgate.dev/exempt";

/// Parsing limits for untrusted manifests.
#[derive(Debug, Clone)]
pub struct InputLimits {
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Deepest nesting of a document (plugins' JSON parsers stop at 128).
    pub max_depth: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_file_bytes: 256 << 20,
            max_depth: 100,
        }
    }
}

/// One Kubernetes object found in the input.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The path as given, or as found under a given directory; "-" for stdin.
    pub file: Arc<str>,
    /// 0-based index of the YAML document in the file.
    pub document: usize,
    /// 0-based index inside a `kind: List`, else None.
    pub item: Option<usize>,
    /// 1-based line where the document starts, when known.
    pub line: Option<usize>,
    pub api_version: Option<String>,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// The object in the tree encoding: what plugins receive (see [`Resource::json`]
    /// for those that read JSON text).
    pub tree: Tree,
    /// The value of the `tollgate.dev/exempt` annotation, if any.
    pub exempt_annotation: Option<String>,
}

impl Resource {
    /// The object as JSON text (keys sorted), for plugins that read text instead of the
    /// tree encoding; made on request, as most scans need none.
    pub fn json(&self) -> String {
        self.tree.root().to_json()
    }
}

/// A file or document that could not be read or parsed.
#[derive(Debug, Clone)]
pub struct InputError {
    pub file: String,
    pub document: Option<usize>,
    pub message: String,
}

/// A document that is valid but not a Kubernetes object.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub file: String,
    pub document: usize,
    pub item: Option<usize>,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub files: usize,
    /// Resources dropped by a caller's filters (namespaces, kinds).
    pub filtered: usize,
    pub resources: Vec<Resource>,
    pub errors: Vec<InputError>,
    pub skipped: Vec<Skipped>,
}

/// Files to read: every path given, directories walked recursively for *.yaml, *.yml
/// and *.json, in a stable (sorted) order.
pub fn discover(paths: &[PathBuf], errors: &mut Vec<InputError>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(p.clone());
            continue;
        }
        match std::fs::metadata(p) {
            Err(e) => errors.push(InputError {
                file: p.display().to_string(),
                document: None,
                message: format!("cannot read: {e}"),
            }),
            Ok(m) if m.is_dir() => {
                let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                    .sort_by_file_name()
                    .into_iter()
                    .filter_map(|entry| match entry {
                        Ok(e) => Some(e),
                        Err(e) => {
                            errors.push(InputError {
                                file: e.path().unwrap_or(p).display().to_string(),
                                document: None,
                                message: format!("cannot read: {e}"),
                            });
                            None
                        }
                    })
                    .filter(|e| e.file_type().is_file() && is_manifest(e.path()))
                    .map(|e| e.into_path())
                    .collect();
                found.sort();
                out.extend(found);
            }
            Ok(_) => out.push(p.clone()),
        }
    }
    out
}

fn is_manifest(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("yaml" | "yml" | "json")
    )
}

/// Reads and parses every path.
pub fn load(paths: &[PathBuf], limits: &InputLimits) -> Loaded {
    let mut loaded = Loaded::default();
    let files = discover(paths, &mut loaded.errors);
    loaded.files = files.len();
    for f in files {
        match read_file(&f, limits) {
            Ok(docs) => {
                for d in &docs {
                    parse_doc(d, limits, &mut loaded);
                }
            }
            Err(e) => loaded.errors.push(e),
        }
    }
    loaded
}

fn read_bytes(path: &Path, limits: &InputLimits) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let cap = limits.max_file_bytes;
    let n = if path.as_os_str() == "-" {
        std::io::stdin().lock().take(cap + 1).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| {
            // Sized up front: growing the buffer while reading a 60 MB dump copied it
            // about once more and faulted in twice the memory.
            if let Ok(meta) = f.metadata() {
                buf.reserve_exact(meta.len().min(cap + 1) as usize);
            }
            f.take(cap + 1).read_to_end(&mut buf)
        })
    }
    .map_err(|e| format!("cannot read: {e}"))?;
    if n as u64 > cap {
        return Err(format!(
            "file is larger than the {} MiB limit (--max-file-size)",
            cap >> 20
        ));
    }
    Ok(buf)
}

/// One document of a file, split but not yet parsed. Documents share their file's text.
#[derive(Debug, Clone)]
pub struct RawDoc {
    pub file: Arc<str>,
    pub index: usize,
    /// 1-based line where the document's content starts.
    pub line: usize,
    // An Arc of the String itself: `Arc<str>` would copy a 60 MB dump once more.
    text: Arc<String>,
    range: std::ops::Range<usize>,
    json: bool,
}

impl RawDoc {
    pub fn text(&self) -> &str {
        &self.text[self.range.clone()]
    }
}

/// Reads a file (or stdin for "-") and splits it into documents. A JSON file is one
/// document. Errors that concern the whole file come back as `Err`.
pub fn read_file(path: &Path, limits: &InputLimits) -> Result<Vec<RawDoc>, InputError> {
    let display = path.display().to_string();
    let bytes = read_bytes(path, limits).map_err(|message| InputError {
        file: display.clone(),
        document: None,
        message,
    })?;
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    split_bytes(&display, bytes, json)
}

/// Splits the bytes of one file into documents (see [`read_file`]).
pub fn split_bytes(file: &str, bytes: Vec<u8>, json: bool) -> Result<Vec<RawDoc>, InputError> {
    let text = String::from_utf8(bytes).map_err(|e| InputError {
        file: file.to_string(),
        document: None,
        message: format!(
            "not UTF-8 text (invalid byte at offset {}); is this a binary file?",
            e.utf8_error().valid_up_to()
        ),
    })?;
    let file: Arc<str> = Arc::from(file);
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let text = Arc::new(text);
    if json {
        return Ok(vec![RawDoc {
            file,
            index: 0,
            line: 1,
            range: bom..text.len(),
            text,
            json,
        }]);
    }
    let base = text.as_ptr() as usize;
    let docs = split_documents(&text[bom..])
        .into_iter()
        .map(|d| {
            let start = d.text.as_ptr() as usize - base;
            RawDoc {
                file: file.clone(),
                index: d.index,
                line: d.line,
                range: start..start + d.text.len(),
                text: text.clone(),
                json: false,
            }
        })
        .collect();
    Ok(docs)
}

/// Splits and parses one file's bytes: what `load` does for each file. For fuzzing and
/// for callers that already hold the bytes.
pub fn load_bytes(file: &str, bytes: Vec<u8>, json: bool, limits: &InputLimits) -> Loaded {
    let mut out = Loaded {
        files: 1,
        ..Loaded::default()
    };
    match split_bytes(file, bytes, json) {
        Ok(docs) => {
            for d in &docs {
                parse_doc(d, limits, &mut out);
            }
        }
        Err(e) => out.errors.push(e),
    }
    out
}

/// Parses one document into resources, skipped documents or errors, appended to `out`.
pub fn parse_doc(doc: &RawDoc, limits: &InputLimits, out: &mut Loaded) {
    let text = doc.text();
    if !doc.json {
        if let Ok(outcome) = transcode::document(text, limits) {
            return accept_outcome(&doc.file, doc.index, Some(doc.line), outcome, limits, out);
        }
    }
    parse_doc_reference(doc, limits, out)
}

/// Whether a YAML document takes the fast path (for tests: most real manifests must).
#[doc(hidden)]
pub fn transcodes(doc: &RawDoc, limits: &InputLimits) -> bool {
    !doc.json && transcode::document(doc.text(), limits).is_ok()
}

/// What the block scanner makes of one YAML document, next to granit-parser.
#[doc(hidden)]
#[derive(Debug, PartialEq)]
pub enum BlockScan {
    /// Outside the scanner's subset: granit-parser reads it.
    Unsupported,
    /// Accepted, with exactly granit-parser's events.
    Same,
    /// Accepted, with other events than granit-parser's: a bug (the two streams).
    Different(String),
}

/// For tests and the fuzzer: checks the block scanner against granit-parser on `doc`.
#[doc(hidden)]
pub fn block_scan(doc: &RawDoc, limits: &InputLimits) -> BlockScan {
    let Ok(ours) = block::events(doc.text(), limits.max_depth) else {
        return BlockScan::Unsupported;
    };
    let mut theirs = Vec::new();
    for event in transcode::granit(doc.text()) {
        match event {
            Ok((e, _)) => theirs.push(e),
            Err(e) => return BlockScan::Different(shorten(format!("granit: {e}\nours: {ours:?}"))),
        }
    }
    if ours == theirs {
        BlockScan::Same
    } else {
        BlockScan::Different(shorten(format!("ours:   {ours:?}\ngranit: {theirs:?}")))
    }
}

fn shorten(mut text: String) -> String {
    if text.len() > 4000 {
        let cut = (0..=4000)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push_str(" ...");
    }
    text
}

/// [`parse_doc`] with serde-saphyr for YAML: the path for every document the fast
/// transcoder leaves, and the oracle it is tested against.
#[doc(hidden)]
pub fn parse_doc_reference(doc: &RawDoc, limits: &InputLimits, out: &mut Loaded) {
    let text = doc.text();
    let parsed = if doc.json {
        let mut de = serde_json::Deserializer::from_str(text);
        serde::de::Deserializer::deserialize_any(&mut de, DocVisitor)
            .and_then(|d| de.end().map(|()| d))
            .map_err(|e| format!("invalid JSON: {e}"))
    } else {
        parse_yaml(text, limits).map_err(|m| format!("invalid YAML: {m}"))
    };
    match parsed {
        Ok(d) => accept_doc(&doc.file, doc.index, Some(doc.line), d, limits, out),
        Err(message) => out.errors.push(InputError {
            file: doc.file.to_string(),
            document: Some(doc.index),
            message,
        }),
    }
}

/// A parsed document. A mapping's `items` array is kept as one reduced [`Item`] (its
/// tree encoding and identity) per element instead of parsed values: a `kubectl get -A
/// -o yaml` List of 100,000 objects then costs about the size of its text, not
/// gigabytes of `serde_json::Value`s.
enum Doc {
    Map {
        fields: serde_json::Map<String, Value>,
        items: Option<Vec<Item>>,
    },
    Other(Value),
}

/// Scalars become a plain `Value`, for both visitors below.
macro_rules! plain_values {
    ($wrap:path) => {
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok($wrap(Value::String(v.into())))
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok($wrap(Value::Bool(v)))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }
    };
}

struct DocVisitor;

impl<'de> serde::de::Visitor<'de> for DocVisitor {
    type Value = Doc;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML or JSON document")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Doc, A::Error> {
        let mut fields = serde_json::Map::new();
        let mut items = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                match map.next_value_seed(ItemsSeed)? {
                    Items::List(list) => {
                        fields.remove("items");
                        items = Some(list);
                    }
                    Items::Other(other) => {
                        items = None;
                        fields.insert(key, other);
                    }
                }
            } else {
                let v: Value = map.next_value()?;
                fields.insert(key, v);
            }
        }
        Ok(Doc::Map { fields, items })
    }

    // Anything but a mapping is not a Kubernetes object; it is kept whole to say so.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Doc, A::Error> {
        use serde::Deserialize;
        Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(Doc::Other)
    }

    plain_values!(Doc::Other);
}

impl<'de> serde::Deserialize<'de> for Doc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Doc, D::Error> {
        d.deserialize_any(DocVisitor)
    }
}

/// `items`: an array becomes one reduced [`Item`] per element, each element's value
/// dropped as soon as it is reduced; anything else stays a value.
struct ItemsSeed;

enum Items {
    List(Vec<Item>),
    Other(Value),
}

impl<'de> serde::de::DeserializeSeed<'de> for ItemsSeed {
    type Value = Items;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        d.deserialize_any(ItemsVisitor)
    }
}

struct ItemsVisitor;

impl<'de> serde::de::Visitor<'de> for ItemsVisitor {
    type Value = Items;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(Item::from_value(&v));
        }
        Ok(Items::List(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Items, A::Error> {
        use serde::Deserialize;
        Value::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Items::Other)
    }

    plain_values!(Items::Other);
}

/// One object reduced to what a [`Resource`] needs, computed once while its parsed value
/// is at hand.
struct Item {
    tree: Tree,
    is_object: bool,
    depth: usize,
    kind: Option<String>,
    api_version: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    exempt_annotation: Option<String>,
    /// A List with items, inside a List.
    nested_list: bool,
}

impl Item {
    fn from_value(v: &Value) -> Item {
        let kind = str_field(v, &["kind"]);
        Item {
            tree: {
                let mut tree = Tree::from_value(v);
                tree.shrink_to_fit();
                tree
            },
            is_object: v.is_object(),
            depth: depth(v),
            nested_list: kind.as_deref().is_some_and(|k| k.ends_with("List"))
                && v.get("items").is_some(),
            kind,
            api_version: str_field(v, &["apiVersion"]),
            namespace: str_field(v, &["metadata", "namespace"]),
            name: str_field(v, &["metadata", "name"]),
            exempt_annotation: str_field(v, &["metadata", "annotations", EXEMPT_ANNOTATION]),
        }
    }
}

/// A parsed document into resources: a List's items one by one, anything else whole.
fn accept_doc(
    file: &Arc<str>,
    document: usize,
    line: Option<usize>,
    d: Doc,
    limits: &InputLimits,
    out: &mut Loaded,
) {
    match outcome(d, limits) {
        Ok(o) => accept_outcome(file, document, line, o, limits, out),
        Err(message) => out.errors.push(InputError {
            file: file.to_string(),
            document: Some(document),
            message,
        }),
    }
}

fn outcome(d: Doc, limits: &InputLimits) -> Result<Outcome, String> {
    let (fields, items) = match d {
        Doc::Other(Value::Null) => return Ok(Outcome::Empty),
        Doc::Other(v) => return Ok(Outcome::Whole(Item::from_value(&v))),
        Doc::Map { fields, items } => (fields, items),
    };
    let kind = fields.get("kind").and_then(Value::as_str).unwrap_or("");
    let is_list = kind == "List" || (kind.ends_with("List") && items.is_some());
    Ok(match items {
        Some(items) if is_list => Outcome::List(items),
        None if kind == "List" && fields.get("items").is_some_and(|v| !v.is_null()) => {
            Outcome::ItemsNotArray
        }
        None if kind == "List" => Outcome::EmptyList,
        items => {
            // Not a List after all: put `items` back where it was (rare).
            let mut fields = fields;
            if let Some(items) = items {
                let values = items.iter().map(|t| t.tree.root().to_value()).collect();
                fields.insert("items".into(), Value::Array(values));
            }
            let v = Value::Object(fields);
            if depth(&v) > limits.max_depth {
                return Err(format!("nested deeper than {} levels", limits.max_depth));
            }
            Outcome::Whole(Item::from_value(&v))
        }
    })
}

fn accept_outcome(
    file: &Arc<str>,
    document: usize,
    line: Option<usize>,
    o: Outcome,
    limits: &InputLimits,
    out: &mut Loaded,
) {
    let error = |message: String, out: &mut Loaded| {
        out.errors.push(InputError {
            file: file.to_string(),
            document: Some(document),
            message,
        })
    };
    match o {
        Outcome::Empty | Outcome::EmptyList => {}
        Outcome::ItemsNotArray => error("`items` of a List must be an array".into(), out),
        Outcome::Whole(item) => accept_object(file, document, None, line, item, out),
        Outcome::List(items) => {
            for (i, item) in items.into_iter().enumerate() {
                if item.depth + 2 > limits.max_depth {
                    error(
                        format!(
                            "item {i} of the List is nested deeper than {} levels",
                            limits.max_depth
                        ),
                        out,
                    );
                } else if item.nested_list {
                    out.skipped.push(Skipped {
                        file: file.to_string(),
                        document,
                        item: Some(i),
                        reason: "a List nested in a List is not expanded".into(),
                    });
                } else {
                    accept_object(file, document, Some(i), line, item, out);
                }
            }
        }
    }
}

fn accept_object(
    file: &Arc<str>,
    document: usize,
    item: Option<usize>,
    line: Option<usize>,
    it: Item,
    out: &mut Loaded,
) {
    let skip = |reason: &str, out: &mut Loaded| {
        out.skipped.push(Skipped {
            file: file.to_string(),
            document,
            item,
            reason: reason.into(),
        })
    };
    if !it.is_object {
        return skip(
            "not a Kubernetes object (the document is not a mapping)",
            out,
        );
    }
    // trivy evaluates objects without apiVersion (its own tests have some), so only a
    // missing kind disqualifies a document.
    let Some(kind) = it.kind.filter(|k| !k.is_empty()) else {
        return skip("not a Kubernetes object (no `kind`)", out);
    };
    out.resources.push(Resource {
        file: file.clone(),
        document,
        item,
        line,
        api_version: it.api_version,
        namespace: it.namespace,
        name: it.name,
        exempt_annotation: it.exempt_annotation,
        kind,
        tree: it.tree,
    });
}

/// One `---`-separated part of a YAML stream.
pub struct DocText<'a> {
    pub index: usize,
    /// 1-based line of the document's first line.
    pub line: usize,
    pub text: &'a str,
}

fn newlines(text: &str) -> usize {
    memchr::memchr_iter(b'\n', text.as_bytes()).count()
}

fn is_separator(line: &str) -> bool {
    let l = line.trim_end_matches(['\r', '\n']);
    l == "---" || l.starts_with("--- ") || l.starts_with("---\t")
}

fn has_content(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && t != "..." && !t.starts_with('%')
    })
}

/// Splits a YAML stream on `---` lines. Only documents with content (not blank or
/// comments only) are numbered, as trivy numbers them, so that `document` indices line
/// up with trivy's reports.
pub fn split_documents(text: &str) -> Vec<DocText<'_>> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut index = 0usize;
    // Lines are only looked at where one starts with `---`: a substring search instead of
    // a walk over every line (the stream is split before anything runs in parallel).
    let mut counted = 0usize;
    let mut line_no = 1usize;
    let candidates = std::iter::once(0)
        .filter(|_| text.starts_with("---"))
        .chain(memchr::memmem::find_iter(text.as_bytes(), b"\n---").map(|i| i + 1));
    for pos in candidates {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
        let line = &text[pos..end];
        if !is_separator(line) {
            continue;
        }
        line_no += newlines(&text[counted..pos]);
        counted = pos;
        let chunk = &text[start..pos];
        if has_content(chunk) {
            docs.push(DocText {
                index,
                line: start_line,
                text: chunk,
            });
            index += 1;
        }
        start = if content_follows(line) { pos + 3 } else { end };
        start_line = if start == pos + 3 {
            line_no
        } else {
            line_no + 1
        };
    }
    let chunk = &text[start..];
    if has_content(chunk) {
        docs.push(DocText {
            index,
            line: start_line,
            text: chunk,
        });
    }
    for d in &mut docs {
        d.line += first_content_line(d.text);
    }
    docs
}

/// Whether a separator line carries content after `---` (`--- {a: 1}`), which belongs
/// to the next document.
fn content_follows(separator: &str) -> bool {
    let after = separator
        .trim_end_matches(['\r', '\n'])
        .strip_prefix("---")
        .unwrap_or("");
    !(after.trim().is_empty() || after.trim_start().starts_with('#'))
}

/// Lines before a document's first content line (a leading comment is not where the
/// document is reported).
fn first_content_line(text: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .unwrap_or(0)
}

fn parse_yaml(text: &str, limits: &InputLimits) -> Result<Doc, String> {
    serde_saphyr::from_str_with_options::<Doc>(text, saphyr_options(limits)).map_err(|e| {
        // The library's advice to its own callers means nothing to a user.
        one_line(&e.to_string()).replace(", set DuplicateKeyPolicy in Options if acceptable", "")
    })
}

/// One plain scalar typed exactly as in [`parse_yaml`]: the transcoder's resolver for
/// spellings it does not know by heart.
fn parse_value(scalar: &str) -> Result<Value, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options::<Value>(scalar, saphyr_options(&InputLimits::default()))
}

fn saphyr_options(limits: &InputLimits) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = limits.max_depth;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // A key given twice: the last one wins, as with kubectl's (JSON-based) decoding and
    // trivy, which scans such files (several public examples have them). Refusing them
    // would parse ~40% faster, but would drop real manifests.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options.with_snippet = false;
    options
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn str_field(v: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(v, |cur, k| cur.get(k))?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(t: &str) -> Vec<(usize, usize)> {
        split_documents(t)
            .iter()
            .filter(|d| has_content(d.text))
            .map(|d| (d.index, d.line))
            .collect()
    }

    /// The line-by-line walk `split_documents` replaced: the oracle for its search (what
    /// a separator line means is shared).
    fn split_line_by_line(text: &str) -> Vec<(usize, usize, &str)> {
        let mut docs = Vec::new();
        let (mut start, mut start_line, mut pos, mut index) = (0, 1, 0, 0);
        for (line_no, line) in (1usize..).zip(text.split_inclusive('\n')) {
            if is_separator(line) {
                let chunk = &text[start..pos];
                if has_content(chunk) {
                    docs.push((index, start_line, chunk));
                    index += 1;
                }
                start = if content_follows(line) {
                    pos + 3
                } else {
                    pos + line.len()
                };
                start_line = if start == pos + 3 {
                    line_no
                } else {
                    line_no + 1
                };
            }
            pos += line.len();
        }
        if has_content(&text[start..]) {
            docs.push((index, start_line, &text[start..]));
        }
        for d in &mut docs {
            d.1 += first_content_line(d.2);
        }
        docs
    }

    #[test]
    fn the_splitter_finds_what_a_line_by_line_walk_finds() {
        let pieces = [
            "---", "--- ", "---\t", "--- # c", "--- a: 1", "--- |", "----", "---x", " ---", "a: 1",
            "b: |", "  ---", "# c", "", "...", "\r", "k: v\r", "- x",
        ];
        let mut seed = 0x9E37_79B9u64;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(seed % 9) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
                if !seed.is_multiple_of(5) {
                    text.push('\n');
                }
            }
            seed = seed.wrapping_add(1);
            let ours: Vec<_> = split_documents(&text)
                .iter()
                .map(|d| (d.index, d.line, d.text))
                .collect();
            assert_eq!(ours, split_line_by_line(&text), "{text:?}");
        }
    }

    #[test]
    fn leading_separator_does_not_make_a_document() {
        assert_eq!(docs("---\na: 1\n---\nb: 2\n"), vec![(0, 2), (1, 4)]);
        assert_eq!(docs("# c\n---\na: 1\n"), vec![(0, 3)]);
        assert_eq!(
            docs("a: 1\n---\n# only a comment\n---\nb: 1\n"),
            vec![(0, 1), (1, 5)]
        );
        assert_eq!(docs("a: 1\r\n---\r\nb: 1\r\n"), vec![(0, 1), (1, 3)]);
    }

    #[test]
    fn list_is_expanded_and_garbage_skipped() {
        let list = r#"{"apiVersion": "v1", "items": [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x"}}, {"foo": 1},
            {"kind": "List", "items": []}], "kind": "List"}"#;
        for json in [true, false] {
            let out = load_bytes("f", list.as_bytes().to_vec(), json, &InputLimits::default());
            assert_eq!(out.resources.len(), 1);
            let r = &out.resources[0];
            assert_eq!(
                (r.item, r.namespace.as_deref(), r.name.as_deref()),
                (Some(0), Some("x"), Some("a"))
            );
            assert_eq!(out.skipped.len(), 2, "no kind; nested List");
        }
    }

    #[test]
    fn items_of_other_kinds_stay_in_the_object() {
        let doc = "apiVersion: v1\nkind: Thing\nmetadata: {name: t}\nitems: [{a: 1}, {b: 2}]\n";
        let out = load_bytes("f", doc.as_bytes().to_vec(), false, &InputLimits::default());
        assert_eq!(out.resources.len(), 1);
        let v: Value = out.resources[0].tree.root().to_value();
        assert_eq!(v["items"], serde_json::json!([{"a": 1}, {"b": 2}]));
        let bad = "apiVersion: v1\nkind: List\nitems: {a: 1}\n";
        let out = load_bytes("f", bad.as_bytes().to_vec(), false, &InputLimits::default());
        assert!(out.errors[0].message.contains("must be an array"));
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!("l{i}: &l{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        }
        assert!(parse_yaml(&bomb, &InputLimits::default()).is_err());
    }
}
