//! The encoding against serde_json: same values, same semantics.

use serde_json::Map;

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
