//! The fast YAML path (granit-parser events straight to the tree encoding) against the
//! reference path (serde-saphyr into values): every document of the public corpus, the
//! fixtures, the examples and a set of awkward spellings must give the same resources
//! (trees byte for byte, identity, line), the same skipped documents and the same errors.

use std::path::{Path, PathBuf};

use tollgate_e2e::{root, shared};
use tollgate_input::oracle::{self, BlockScan};
use tollgate_input::{self as input, InputLimits, Loaded};

/// Everything a path produces; the trees also byte for byte (the Debug form shows their
/// values, not the encoding).
fn outcome(l: &Loaded) -> String {
    let trees: Vec<&[u8]> = l.resources.iter().map(|r| r.tree.as_bytes()).collect();
    format!(
        "{:#?}\n{:#?}\n{:#?}\n{:?}",
        l.resources, l.skipped, l.errors, trees
    )
}

/// Compares both paths on every document of one file's text, and the block scanner's
/// events with granit-parser's wherever the scanner accepts a document; returns
/// (documents, documents that took the fast path, documents the block scanner read).
fn compare(name: &str, text: &str) -> (usize, usize, usize) {
    let limits = InputLimits::default();
    let docs = match input::split_bytes(name, text.as_bytes().to_vec(), false) {
        Ok(d) => d,
        Err(_) => return (0, 0, 0),
    };
    let mut fast_docs = 0;
    let mut block_docs = 0;
    for d in &docs {
        match oracle::block_scan(d, &limits) {
            BlockScan::Different(diff) => panic!(
                "{name} document {}: the block scanner and granit-parser disagree on\n{}\n{diff}",
                d.index,
                d.text()
            ),
            BlockScan::Same => block_docs += 1,
            BlockScan::Unsupported => {}
        }
        let mut fast = Loaded::default();
        input::parse_doc(d, &limits, &mut fast);
        let mut reference = Loaded::default();
        oracle::parse_doc_reference(d, &limits, &mut reference);
        assert_eq!(
            outcome(&fast),
            outcome(&reference),
            "{name} document {}: the two YAML paths disagree on\n{}",
            d.index,
            d.text()
        );
        fast_docs += usize::from(oracle::transcodes(d, &limits));
    }
    (docs.len(), fast_docs, block_docs)
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn both_paths_agree_on_every_real_manifest() {
    let mut files = Vec::new();
    for dir in ["tests/fixtures", "examples", "policies", "plugins"] {
        yaml_files(&root().join(dir), &mut files);
    }
    let corpus = shared().map(|s| s.join("corpus/public"));
    if let Some(c) = &corpus {
        yaml_files(c, &mut files);
    } else {
        eprintln!("../shared is not present: comparing on the repository's own manifests only");
    }
    files.sort();
    let (mut docs, mut fast, mut block) = (0, 0, 0);
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let (d, t, b) = compare(&f.display().to_string(), &text);
        docs += d;
        fast += t;
        block += b;
    }
    eprintln!(
        "{} files, {docs} documents, {fast} on the fast path, {block} read by the block scanner",
        files.len()
    );
    assert!(docs > 300, "too few documents compared: {docs}");
    // The speed of `tollgate scan` rests on real manifests taking the fast path.
    assert!(
        fast * 100 >= docs * 95,
        "only {fast} of {docs} documents took the fast path"
    );
}

/// Plain scalars in every spelling YAML gives a type to, and their near misses, as
/// values, keys and sequence items.
#[test]
fn both_paths_type_every_scalar_spelling_alike() {
    let spellings = [
        "0",
        "00",
        "007",
        "0755",
        "-0",
        "+0",
        "+1",
        "1",
        "-1",
        "1.0",
        "1.5e3",
        "1e3",
        "1E3",
        ".5",
        "-.5",
        "1.",
        "0x1F",
        "0X1F",
        "0x",
        "0o17",
        "0O17",
        "0b101",
        "0B1",
        "1_000",
        "1__0",
        "_1",
        "1_",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999999",
        "1e999",
        "-1e999",
        ".inf",
        "-.inf",
        "+.inf",
        ".Inf",
        ".INF",
        ".nan",
        ".NaN",
        "-.nan",
        "+.NAN",
        "nan",
        "NaN",
        "inf",
        "Inf",
        "Infinity",
        "-inf",
        "-Infinity",
        "true",
        "True",
        "TRUE",
        "tRue",
        "false",
        "False",
        "yes",
        "Yes",
        "YES",
        "no",
        "No",
        "NO",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "y",
        "Y",
        "n",
        "N",
        "null",
        "Null",
        "NULL",
        "nULL",
        "~",
        "~~",
        "12:30",
        "1:20:30",
        "190:20:30",
        "2001-12-14",
        "2001-12-14t21:59:43.10-05:00",
        "1.2.3",
        "v1",
        "-",
        "--",
        "-x",
        "+",
        "-.",
        "._",
        "0.",
        "0e0",
        "-0.0",
        "1e-7",
        "1e+7",
        "123456789012345678",
        "1234567890123456789",
        "12345678901234567890",
        "/bin/sh",
        "--flag=value",
        "a b",
        "1 2",
        "café",
        "x:y",
        "0.0.0.0",
        "10Gi",
        "500m",
        "1e",
        "e1",
        "0b",
        "0o",
        "0xG",
        "1_000.5",
        "+.5",
        "=",
        "<<",
        "'q'",
        "\"dq\\n\\u00e9\"",
        "\"\"",
        "''",
        "---",
        "...",
        "---x",
        "...x",
        "-",
        "--",
        "-1-",
        "---1",
        ".",
        "..",
        // letters in number-like text: units, hex, exponents, infinity and NaN spellings
        "128Mi",
        "100M",
        "1.5Gi",
        "1d",
        "1f",
        "0x1g",
        "0xDEADbeef",
        "0xfp3",
        "1e3m",
        "1E+3",
        "2.5e-3",
        "1_000e3",
        "0B102",
        "+inf",
        "+Infinity",
        "-.Inf",
        "+nan",
        "-NaN",
        "+.nan",
        ".infinity",
        "+.Infinity",
        "-00",
        "9223372036854775807",
    ];
    let mut fast = 0;
    for s in spellings {
        // As a value, an item and inside flow collections; then as a key, in a document
        // of its own (a key the transcoder is unsure of sends the whole document to the
        // reference path, which would hide the value cases).
        let values = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  v: {s}\n  list:\n  - {s}\n  flow: [{s}, {{a: {s}}}]\n"
        );
        fast += compare(&format!("spelling {s:?} as a value"), &values).1;
        let key = format!("apiVersion: v1\nkind: ConfigMap\ndata:\n  {s}: k\n");
        compare(&format!("spelling {s:?} as a key"), &key);
    }
    // Most spellings must be decided by the fast path itself, or this test compares the
    // reference path with itself.
    assert!(
        fast * 10 >= spellings.len() * 8,
        "only {fast} of {} spellings took the fast path",
        spellings.len()
    );
}

#[test]
fn both_paths_agree_on_unusual_structure() {
    let docs = [
        // anchors, aliases, merge keys, tags, directives
        "kind: Pod\nmetadata: &m {name: a}\nspec:\n  x: *m\n",
        "kind: Pod\nbase: &b {a: 1}\nspec:\n  <<: *b\n  c: 2\n",
        "kind: Pod\nspec: {a: !!str 1, b: !!int '2', c: !custom x, d: !!float 1}\n",
        "%YAML 1.1\n---\nkind: Pod\nspec: {a: yes}\n",
        "kind: Pod\nspec: !!map {a: 1}\n",
        // duplicate keys, at the root and nested, and a duplicate `items`
        "kind: Pod\nkind: Service\nmetadata: {name: a, name: b}\n",
        "kind: List\nitems: [{kind: Pod}]\nitems: [{kind: Service}]\n",
        "kind: List\nitems: []\nitems: null\n",
        // Lists and their near misses
        "apiVersion: v1\nkind: List\nitems:\n- {kind: Pod, metadata: {name: p, namespace: n}}\n- {kind: List, items: []}\n- {foo: 1}\n- 3\n",
        "kind: PodList\nitems: [{kind: Pod, metadata: {name: p}}]\n",
        "kind: Thing\nmetadata: {name: t}\nitems: [{a: 1}, {b: 2}]\n",
        "kind: List\nitems: null\n",
        "kind: List\n",
        "kind: List\nitems: {a: 1}\n",
        "kind: List\nitems: 3\n",
        "items: [{kind: Pod}]\n",
        // not objects
        "just a string\n",
        "- a\n- b\n",
        "null\n",
        "~\n",
        "3\n",
        "kind: ''\n",
        "kind: 3\nmetadata: {name: 4}\n",
        "apiVersion: v1\nmetadata: {name: x}\n",
        // keys that are not plain strings
        "kind: Pod\n? [a, b]\n: c\n",
        "kind: Pod\n1: a\ntrue: b\n~: c\n",
        "kind: Pod\n\"quoted\": 1\n'single': 2\n",
        // scalars of every style
        "kind: ConfigMap\ndata:\n  lit: |\n    a\n    b\n  fold: >-\n    a\n    b\n  keep: |+\n    a\n\n  multi: a\n    b\n    c\n  dq: \"a\\tb\\u0001\\\\\"\n  sq: 'it''s'\n",
        "kind: ConfigMap\ndata:\n  ctl: \"\\x7f\\u2028\\b\\f\"\n  uni: \"\\U0001F600\"\n",
        // comments, CRLF, tabs, document end marker, trailing content
        "# c\nkind: Pod # c\nmetadata: # c\n  name: a # c\n",
        "kind: Pod\r\nmetadata:\r\n  name: a\r\n",
        "kind: Pod\nmetadata:\n  name:\ta\n",
        "kind: Pod\n...\n",
        "kind: Pod\n...\nkind: Service\n",
        "kind: Pod\nmetadata: {name: a\n",
        "kind: Pod\n  bad: indent\n",
        "kind: Pod\nmetadata:\n  annotations:\n    tollgate.dev/exempt: 'KSV001: reason'\n  name: a\n  namespace: n\n",
        "kind: Pod\nmetadata:\n  annotations:\n    tollgate.dev/exempt: 1\n",
        "kind: Pod\nempty: {}\nnone: []\nnested: [[], [{}], {a: []}]\n",
    ];
    for (i, d) in docs.iter().enumerate() {
        compare(&format!("structure #{i}"), d);
    }
}

#[test]
fn both_paths_agree_at_the_depth_limit() {
    for depth in [90, 96, 97, 98, 99, 100, 101, 102, 150] {
        let flow = format!(
            "kind: Pod\nspec: {}1{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        compare(&format!("flow depth {depth}"), &flow);
        let list = format!(
            "kind: List\nitems:\n- kind: Pod\n  spec: {}1{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        compare(&format!("List item depth {depth}"), &list);
        let mut block = String::from("kind: Pod\nspec:\n");
        for level in 1..depth {
            block.push_str(&"  ".repeat(level));
            block.push_str("a:\n");
        }
        block.push_str(&"  ".repeat(depth));
        block.push_str("b: 1\n");
        compare(&format!("block depth {depth}"), &block);
    }
}

/// `kubectl get -A -o yaml` of a large cluster is one document: a List of every object.
/// serde-saphyr's node budget (250,000 per document) refuses it; the fast path applies
/// the budget per item, so the dump is expanded like any other List.
#[test]
fn a_cluster_sized_yaml_list_is_expanded() {
    let n = 40_000;
    let mut text = String::from("apiVersion: v1\nitems:\n");
    for i in 0..n {
        text.push_str(&format!(
            "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: cm-{i}\n    namespace: ns-{}\n  data:\n    a: b\n    count: {i}\n",
            i % 7
        ));
    }
    text.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    let out = input::load_bytes(
        "dump.yaml",
        text.into_bytes(),
        false,
        &InputLimits::default(),
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.resources.len(), n);
    let last = &out.resources[n - 1];
    assert_eq!(last.item, Some(n - 1));
    assert_eq!(last.name.as_deref(), Some(format!("cm-{}", n - 1).as_str()));
    assert_eq!(
        last.json(),
        format!(
            r#"{{"apiVersion":"v1","data":{{"a":"b","count":{}}},"kind":"ConfigMap","metadata":{{"name":"cm-{}","namespace":"ns-{}"}}}}"#,
            n - 1,
            n - 1,
            (n - 1) % 7
        )
    );
}

/// Every shape the block scanner claims to read gives granit-parser's exact events, and
/// every shape outside its subset is handed on (never read differently).
#[test]
fn the_block_scanner_reads_manifests_exactly_as_granit_does() {
    let limits = InputLimits::default();
    let scan = |text: &str| {
        let docs = input::split_bytes("t.yaml", text.as_bytes().to_vec(), false).unwrap();
        assert_eq!(docs.len(), 1, "{text}");
        let result = oracle::block_scan(&docs[0], &limits);
        if let BlockScan::Different(diff) = &result {
            panic!("block scanner and granit-parser disagree on\n{text}\n{diff}");
        }
        // And the whole path still equals the reference.
        compare("block", text);
        result
    };
    let read = [
        "kind: Pod\nmetadata:\n  name: a\n  labels: {}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.25 # pinned\n    ports:\n    - containerPort: 80\n      protocol: TCP\n",
        // sequences at their key's indentation and deeper, nested and compact
        "kind: X\na:\n- 1\n- - 2\n  - 3\n-\n- x: 1\n  y:\n  - z\nb:\n    - deep\n",
        "- a\n-   b: 1\n    c: 2\n- - x\n",
        // a key with an empty value, followed by a sibling, a comment or the end
        "kind: X\na:\nb:\n  # comment\nc:\n",
        // quotes, escapes, flow sequences, empty flow collections
        "kind: X\n\"q k\": 'it''s'\ns: \"tab\\there \\\"q\\\" \\u00e9 \\x41 \\\\ \\/\"\nf: [a, \"b c\", 'd', -1, 1.5, true, null]\ne: []\nm: { }\n",
        "kind: X\ncmd: [\"sh\", \"-c\", \"echo hi; exit 0\"]\nurl: http://example.com/a#b\nhash: a#b\nwin: C:\\\\x\n",
        // literal block scalars: clip and strip, blank lines inside and after, deeper text
        "kind: X\ndata:\n  a: |\n    line 1\n\n      indented\n    # not a comment\n\n  b: |-\n    x\n  c: |\n\n    after a blank\n",
        "kind: X\nitems:\n- |\n  in a sequence\n- k: |-\n    in a compact mapping\n  after: 1\n",
        // comments everywhere, trailing spaces, odd but valid spacing
        "# head\nkind: X   \nmetadata:    # c\n  name:    a  \n# between\n  namespace: n\n\n\n",
        // plain scalars that look like other things
        "kind: X\na: -x\nb: a - b\nc: 'x' \nd: x:y\ne: \"a: b\"\nf: ---x\ng: a,b[c]{d}\n",
    ];
    for text in read {
        assert_eq!(
            scan(text),
            BlockScan::Same,
            "not read by the block scanner:\n{text}"
        );
    }
    let handed_on = [
        "kind: X\nfold: >\n  a\n  b\n",
        "kind: X\nkeep: |+\n  a\n\n",
        "kind: X\nexplicit: |2\n    a\n",
        "kind: X\nmulti: a\n  b\n",
        "kind: X\nq: \"a\n  b\"\n",
        "kind: X\na: &x 1\nb: *x\n",
        "kind: X\nt: !!str 1\n",
        "kind: X\nm: {a: 1}\n",
        "kind: X\nf: [a, [b]]\n",
        "kind: X\nf: [a,\n  b]\n",
        "kind: X\n? a\n: b\n",
        "kind: X\na:\tb\n",
        "kind: X\r\na: b\r\n",
        "kind: X\nname: caf\u{e9}\n",
        "kind: X\na: b: c\n",
        "kind: X\n  bad: indent\n",
        "kind: X\na: 'x' y\n",
        "kind: X\na:\n    b: 1\n  c: 2\n",
        "just a scalar\n",
        "kind: X\n...\n",
    ];
    for text in handed_on {
        assert_eq!(
            scan(text),
            BlockScan::Unsupported,
            "read by the block scanner:\n{text}"
        );
    }
}

/// Random documents built from the pieces manifests are made of — nesting at random
/// indentations, compact and same-indentation sequences, scalars full of indicator
/// characters, quotes, flow sequences, literal blocks, comments and blank lines at
/// random places — and mutated line by line: wherever the block scanner accepts one,
/// its events must be granit-parser's. Deterministic (fixed seed).
#[test]
fn the_block_scanner_agrees_with_granit_on_generated_documents() {
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick(&mut self, xs: &[&'static str]) -> &'static str {
            xs[self.below(xs.len())]
        }
    }
    // Scalars the scanner reads, and (one time in eight) ones it must hand on or read
    // with care: indicators, broken quotes, nested flow, anchors.
    const ATOMS: [&str; 24] = [
        "a",
        "name",
        "x y",
        "-1",
        "0x1F",
        "1.5",
        "true",
        "~",
        "null",
        "a:b",
        "http://h/p#f",
        "a #c",
        "a#c",
        "-a",
        "a,b",
        "'q'",
        "'it''s'",
        "\"d\"",
        "\"a\\tb\"",
        "\"\\u00e9\"",
        "[a, b]",
        "[a, 'b', \"c\"]",
        "[]",
        "{ }",
    ];
    const ODD: [&str; 16] = [
        "a: b", "a:", "- a", "?a", ":a", "[a]x", "{a}", "a]", "\"\\q\"", "'open", "\"open", "[a,]",
        "[a, [b]]", "&x a", "*x", "!t a",
    ];
    fn atom(r: &mut Rng) -> &'static str {
        if r.below(8) == 0 {
            r.pick(&ODD)
        } else {
            r.pick(&ATOMS)
        }
    }
    fn node(r: &mut Rng, out: &mut String, indent: usize, depth: usize) {
        let pad = |n: usize| " ".repeat(n);
        let step = 1 + r.below(4);
        // The root is a mapping, as in a manifest; deep down, scalars.
        let shape = match depth {
            0 => 0,
            4.. => 2,
            _ => r.below(3),
        };
        match shape {
            0 => {
                for _ in 0..1 + r.below(3) {
                    let key = r.pick(&[
                        "k", "key", "a-b", "\"q\"", "'s'", "k k", "-k", "k", "k", "k:",
                    ]);
                    out.push_str(&format!("{}{key}:", pad(indent)));
                    match r.below(6) {
                        0 => {
                            out.push('\n');
                            node(r, out, indent + step, depth + 1);
                        }
                        1 => {
                            // a sequence at the key's own indentation
                            out.push('\n');
                            for _ in 0..1 + r.below(2) {
                                out.push_str(&format!("{}- {}\n", pad(indent), atom(r)));
                            }
                        }
                        2 => {
                            let chomp = r.pick(&["", "-", "", "-", "+", "2"]);
                            out.push_str(&format!(" |{chomp}\n"));
                            let w = indent + step;
                            for _ in 0..1 + r.below(3) {
                                match r.below(4) {
                                    0 => out.push('\n'),
                                    1 => out.push_str(&format!("{}  more {}\n", pad(w), atom(r))),
                                    _ => out.push_str(&format!("{}{}\n", pad(w), atom(r))),
                                }
                            }
                        }
                        _ => out.push_str(&format!(" {}\n", atom(r))),
                    }
                }
            }
            1 => {
                for _ in 0..1 + r.below(3) {
                    out.push_str(&format!("{}-", pad(indent)));
                    match r.below(4) {
                        0 => {
                            out.push('\n');
                            node(r, out, indent + step, depth + 1);
                        }
                        1 => {
                            // compact: the node starts on the dash's line
                            let mut inner = String::new();
                            node(r, &mut inner, indent + 2, depth + 1);
                            out.push(' ');
                            out.push_str(inner.trim_start_matches(' '));
                        }
                        _ => out.push_str(&format!(" {}\n", atom(r))),
                    }
                }
            }
            _ => out.push_str(&format!("{}{}\n", pad(indent), atom(r))),
        }
    }
    let limits = InputLimits::default();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut total, mut read, mut objects_fast) = (0, 0, 0);
    for _ in 0..100_000 {
        let mut doc = String::new();
        node(&mut r, &mut doc, 0, 0);
        // Mutations: a comment, a blank line or a line shifted by one space.
        let mut lines: Vec<String> = doc.lines().map(str::to_string).collect();
        for _ in 0..r.below(3) {
            let at = r.below(lines.len());
            match r.below(4) {
                0 => lines.insert(at, format!("{}# c", " ".repeat(r.below(6)))),
                1 => lines.insert(at, " ".repeat(r.below(6))),
                2 => lines[at].insert(0, ' '),
                _ => {
                    if lines[at].starts_with(' ') {
                        lines[at].remove(0);
                    }
                }
            }
        }
        let text = lines.join("\n") + "\n";
        // As an object, the same document must also read the same on both YAML paths:
        // trees byte for byte, whatever order and repeats its generated keys have.
        let (_, fast, _) = compare("g.yaml", &format!("kind: Pod\n{text}"));
        objects_fast += fast;
        let Ok(docs) = input::split_bytes("g.yaml", text.as_bytes().to_vec(), false) else {
            continue;
        };
        for d in &docs {
            total += 1;
            match oracle::block_scan(d, &limits) {
                BlockScan::Different(diff) => {
                    panic!("block scanner and granit-parser disagree on\n{text}\n{diff}")
                }
                BlockScan::Same => read += 1,
                BlockScan::Unsupported => {}
            }
        }
    }
    eprintln!(
        "{total} generated documents, {read} read by the block scanner, \
         {objects_fast} as objects on the fast path"
    );
    // The generator must exercise the scanner and the fast path, not only refusals.
    assert!(read * 3 >= total, "only {read} of {total} were read");
    assert!(
        objects_fast * 3 >= total,
        "only {objects_fast} of {total} took the fast path"
    );
}

/// granit-parser stops at 255 nested blocks whatever depth the caller allows; the block
/// scanner must hand such documents on rather than read them.
#[test]
fn the_block_scanner_stops_where_granit_does() {
    let limits = InputLimits {
        max_depth: 400,
        ..InputLimits::default()
    };
    for depth in [250, 254, 255, 256, 300] {
        let mut text = String::new();
        for level in 0..depth {
            text.push_str(&" ".repeat(level));
            text.push_str("a:\n");
        }
        let docs = input::split_bytes("deep.yaml", text.into_bytes(), false).unwrap();
        let scan = oracle::block_scan(&docs[0], &limits);
        assert!(
            !matches!(scan, BlockScan::Different(_)),
            "depth {depth}: {scan:?}"
        );
    }
}
