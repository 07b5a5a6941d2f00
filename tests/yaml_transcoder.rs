//! The fast YAML path (granit-parser events straight to JSON text) against the reference
//! path (serde-saphyr into values): every document of the public corpus, the fixtures,
//! the examples and a set of awkward spellings must give the same resources (JSON text
//! byte for byte, identity, line), the same skipped documents and the same errors.

use std::path::{Path, PathBuf};

use tollgate_e2e::{root, shared};
use tollgate_input::{self as input, InputLimits, Loaded};

fn outcome(l: &Loaded) -> String {
    format!("{:#?}\n{:#?}\n{:#?}", l.resources, l.skipped, l.errors)
}

/// Compares both paths on every document of one file's text; returns (documents,
/// documents that took the fast path).
fn compare(name: &str, text: &str) -> (usize, usize) {
    let limits = InputLimits::default();
    let docs = match input::split_bytes(name, text.as_bytes().to_vec(), false) {
        Ok(d) => d,
        Err(_) => return (0, 0),
    };
    let mut fast_docs = 0;
    for d in &docs {
        let mut fast = Loaded::default();
        input::parse_doc(d, &limits, &mut fast);
        let mut reference = Loaded::default();
        input::parse_doc_reference(d, &limits, &mut reference);
        assert_eq!(
            outcome(&fast),
            outcome(&reference),
            "{name} document {}: the two YAML paths disagree on\n{}",
            d.index,
            d.text()
        );
        fast_docs += usize::from(input::transcodes(d, &limits));
    }
    (docs.len(), fast_docs)
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
    let (mut docs, mut fast) = (0, 0);
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let (d, t) = compare(&f.display().to_string(), &text);
        docs += d;
        fast += t;
    }
    eprintln!(
        "{} files, {docs} documents, {fast} on the fast path",
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
        last.json,
        format!(
            r#"{{"apiVersion":"v1","data":{{"a":"b","count":{}}},"kind":"ConfigMap","metadata":{{"name":"cm-{}","namespace":"ns-{}"}}}}"#,
            n - 1,
            n - 1,
            (n - 1) % 7
        )
    );
}
