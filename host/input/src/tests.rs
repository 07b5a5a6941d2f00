//! The loader as a whole, from bytes to resources.

use serde_json::Value;

use crate::{load_bytes, InputLimits};

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
fn input_errors_are_errors_that_name_file_and_document() {
    let out = load_bytes(
        "bad.yaml",
        b"a: [\n".to_vec(),
        false,
        &InputLimits::default(),
    );
    let e: &dyn std::error::Error = &out.errors[0];
    assert!(
        e.to_string()
            .starts_with("bad.yaml (document 0): invalid YAML"),
        "{e}"
    );
}

/// serde-saphyr reads its events from granit-parser, and the fast path reads the same
/// parser's events directly: both must be the one version, or the two paths may type
/// or split documents differently. Fails when `Cargo.toml`'s pin and the version that
/// serde-saphyr brings drift apart.
#[test]
fn granit_parser_is_pinned_to_the_version_serde_saphyr_uses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let pin = manifest
        .lines()
        .find_map(|l| l.strip_prefix("granit-parser = \"="))
        .and_then(|v| v.strip_suffix('"'))
        .expect("host/input/Cargo.toml pins granit-parser with `= \"=X.Y.Z\"`");
    let lock = std::fs::read_to_string(dir.join("../../Cargo.lock")).unwrap();
    let packages: Vec<&str> = lock.split("[[package]]").collect();
    let granit: Vec<&str> = packages
        .iter()
        .filter(|p| p.contains("name = \"granit-parser\""))
        .filter_map(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"'))
        .collect();
    assert_eq!(
        granit,
        [pin],
        "exactly one granit-parser, the pinned one, in Cargo.lock"
    );
    let saphyr = packages
        .iter()
        .find(|p| p.contains("name = \"serde-saphyr\""))
        .expect("serde-saphyr in Cargo.lock");
    assert!(
        saphyr.contains("\"granit-parser\"")
            || saphyr.contains(&format!("\"granit-parser {pin}\"")),
        "serde-saphyr depends on granit-parser {pin}:\n{saphyr}"
    );
}

/// A long decimal whose nearest double serde_json's default parser misses by one ulp
/// (the manifest fuzz target's crash of 2026-12-07): YAML and JSON give the same number,
/// and a resource's JSON text reads back as its tree.
#[test]
fn numbers_are_exact_in_both_syntaxes_and_in_the_json_text() {
    let digits = format!("{}79", "6".repeat(82));
    let exact: f64 = digits.parse().unwrap();
    let yaml = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec: {{port: {digits}}}\n"
    );
    let json = format!(
        r#"{{"apiVersion": "v1", "kind": "Service", "metadata": {{"name": "web"}}, "spec": {{"port": {digits}}}}}"#
    );
    for (text, is_json) in [(yaml, false), (json, true)] {
        let out = load_bytes("f", text.into_bytes(), is_json, &InputLimits::default());
        let r = &out.resources[0];
        let tree = r.tree.root().to_value();
        assert_eq!(
            tree["spec"]["port"].as_f64(),
            Some(exact),
            "json input: {is_json}"
        );
        let reread: Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(reread, tree, "json input: {is_json}");
    }
}
