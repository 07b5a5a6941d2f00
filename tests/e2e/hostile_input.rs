//! Hostile manifests: each ends in bounded time and memory with a clear error naming the
//! file and document, or with a correct result, never a panic; the other documents of
//! the same scan are unaffected.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tollgate_e2e::{root, run};

fn scan_dir(dir: &Path, extra: &[&str]) -> (i32, Value, Duration) {
    let mut args: Vec<String> = vec!["scan".into(), "--format".into(), "json".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(dir.display().to_string());
    let start = Instant::now();
    let out = run(&args);
    assert!(!out.stderr.contains("panicked"), "panic: {}", out.stderr);
    (out.code, out.json(), start.elapsed())
}

fn error_for<'a>(report: &'a Value, file: &str) -> Option<&'a Value> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"].as_str().unwrap().ends_with(file))
}

fn alias_bomb() -> String {
    let mut s = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n");
    for i in 0..9 {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            format!("l{}", i - 1)
        };
        let refs = vec![format!("*{prev}"); 9].join(",");
        s.push_str(&format!("  l{i}: &l{i} [{refs}]\n"));
    }
    s
}

#[test]
fn hostile_manifests_end_in_clear_errors_or_correct_results() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::copy(root().join("examples/web.yaml"), d.join("00-good.yaml")).unwrap();
    fs::write(d.join("alias-bomb.yaml"), alias_bomb()).unwrap();
    fs::write(
        d.join("deep-flow.yaml"),
        format!(
            "kind: ConfigMap\napiVersion: v1\ndata: {}{}\n",
            "[".repeat(5000),
            "]".repeat(5000)
        ),
    )
    .unwrap();
    let mut block = String::from("kind: ConfigMap\napiVersion: v1\ndata:\n");
    for i in 0..3000 {
        block.push_str(&format!("{}k{i}:\n", " ".repeat(2 * (i + 1))));
    }
    fs::write(d.join("deep-block.yaml"), block).unwrap();
    fs::write(
        d.join("deep.json"),
        format!(
            "{{\"kind\":\"ConfigMap\",\"x\":{}1{}}}",
            "[".repeat(5000),
            "]".repeat(5000)
        ),
    )
    .unwrap();
    let garbage: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    fs::write(d.join("garbage.yaml"), &garbage).unwrap();
    fs::write(
        d.join("latin1.yaml"),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n",
    )
    .unwrap();
    fs::write(d.join("bom.yaml"), "\u{feff}apiVersion: v1\nkind: Pod\nmetadata: {name: bom}\nspec: {containers: [{name: c, image: 'nginx:1'}]}\n").unwrap();
    fs::write(d.join("crlf.yaml"), "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: crlf-a}\r\n---\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: crlf-b}\r\n").unwrap();
    fs::write(d.join("dupkeys.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: first}\nmetadata: {name: dup}\nspec: {containers: [{name: c, image: 'nginx:1'}]}\n").unwrap();
    fs::write(d.join("huge-string.yaml"), format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\n  annotations: {{note: '{}'}}\n", "x".repeat(4 << 20))).unwrap();
    fs::write(d.join("nested-list.yaml"), "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: [{apiVersion: v1, kind: Pod, metadata: {name: inner}}]\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: outer}}\n").unwrap();

    let (code, r, took) = scan_dir(d, &[]);
    assert_eq!(code, 2);
    assert!(took < Duration::from_secs(30), "bounded time: {took:?}");
    // Errors and skipped documents are listed in input order whatever the slicing.
    let (_, sliced, _) = scan_dir(d, &["--window", "1", "--jobs", "2", "--batch", "1"]);
    assert_eq!(
        (&sliced["errors"], &sliced["skipped"]),
        (&r["errors"], &r["skipped"])
    );
    for (file, text) in [
        ("alias-bomb.yaml", "invalid YAML"),
        ("deep-flow.yaml", "invalid YAML"),
        ("deep-block.yaml", "invalid YAML"),
        ("deep.json", "invalid JSON"),
        ("garbage.yaml", "not UTF-8"),
        ("latin1.yaml", "not UTF-8"),
    ] {
        let e =
            error_for(&r, file).unwrap_or_else(|| panic!("no error for {file}: {}", r["errors"]));
        assert!(e["message"].as_str().unwrap().contains(text), "{file}: {e}");
        assert_eq!(e["class"], "input");
    }
    let names: Vec<&str> = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    for n in ["web", "bom", "crlf-a", "crlf-b", "dup", "huge", "outer"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert!(
        !names.contains(&"first"),
        "duplicate keys: the last one wins, as in kubectl"
    );
    let crlf_b = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "crlf-b")
        .unwrap();
    assert_eq!(
        (crlf_b["document"].as_u64(), crlf_b["line"].as_u64()),
        (Some(1), Some(5))
    );
    let skipped = r["skipped"].as_array().unwrap();
    assert!(skipped
        .iter()
        .any(|s| s["file"].as_str().unwrap().ends_with("nested-list.yaml") && s["item"] == 0));
    // The good file's results are the same as when it is scanned alone.
    let alone = tempfile::tempdir().unwrap();
    fs::copy(
        root().join("examples/web.yaml"),
        alone.path().join("00-good.yaml"),
    )
    .unwrap();
    let (_, base, _) = scan_dir(alone.path(), &[]);
    let strip = |v: &Value| {
        let mut v = v.clone();
        v["file"] = Value::Null;
        v
    };
    let good: Vec<Value> = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["file"].as_str().unwrap().ends_with("00-good.yaml"))
        .map(strip)
        .collect();
    let base: Vec<Value> = base["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(strip)
        .collect();
    assert_eq!(good, base);
}

#[test]
fn oversized_files_are_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    // 3 MiB of valid YAML documents against a 2 MiB limit: refused by its size, so none
    // of its documents is read.
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: filler}\ndata: {k: v}\n---\n";
    let big = doc.repeat((3 << 20) / doc.len() + 1);
    fs::write(dir.path().join("big.yaml"), &big).unwrap();
    let (code, r, _) = scan_dir(dir.path(), &["--max-file-size", "2"]);
    assert_eq!(code, 2);
    let e = error_for(&r, "big.yaml").unwrap();
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("larger than the 2 MiB limit"),
        "{e}"
    );
    assert_eq!(r["resources"].as_array().unwrap().len(), 0);
}
