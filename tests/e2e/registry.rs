//! Plugins through a real OCI registry (Debian's docker-registry on 127.0.0.1): push,
//! inspect, pull and scan; signatures, the trust policy, the lock, tampering, a
//! stopped registry, many plugins at once; signatures checked by OpenSSL and made by
//! OpenSSL, so the format is cosign's and not only tollgate's own.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tollgate_e2e::registry::Registry;
use tollgate_e2e::{extra_plugin, output, root, tollgate, Run};

/// A working directory with its own cache, so each test sees only its own pulls.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        Work {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = tollgate();
        c.current_dir(self.dir.path())
            .env("TOLLGATE_CACHE_DIR", self.path("cache"))
            .env("DOCKER_CONFIG", self.path("docker"))
            .env_remove("COSIGN_PASSWORD")
            .args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        output(c.output().expect("run tollgate"))
    }

    fn config(&self, yaml: &str) {
        std::fs::write(self.path("tollgate.yaml"), yaml).unwrap();
    }

    /// Generates a key pair `<prefix>.key`/`<prefix>.pub` with password "pw".
    fn keygen(&self, prefix: &str) {
        let out = self.run_env(
            &["plugin", "keygen", "--output-key-prefix", prefix],
            &[("COSIGN_PASSWORD", "pw")],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }

    fn sign(&self, reference: &str, prefix: &str) {
        let key = format!("{prefix}.key");
        let out = self.run_env(
            &["plugin", "sign", reference, "--key", &key],
            &[("COSIGN_PASSWORD", "pw")],
        );
        assert_eq!(out.code, 0, "sign: {}", out.stderr);
    }
}

fn labels() -> PathBuf {
    extra_plugin("recommended-labels")
}

/// Pushes the labels plugin; returns the pinned reference tollgate printed.
fn push(w: &Work, reference: &str, extra: &[&str]) -> String {
    let file = labels();
    let mut args = vec!["plugin", "push", file.to_str().unwrap(), reference];
    args.extend_from_slice(extra);
    let out = w.run(&args);
    assert_eq!(out.code, 0, "push: {}", out.stderr);
    let pinned = out.stdout.lines().last().unwrap().to_string();
    assert!(pinned.contains("@sha256:"), "{}", out.stdout);
    pinned
}

fn web() -> String {
    root().join("examples/web.yaml").display().to_string()
}

/// Scans examples/web.yaml with one more plugin; the JSON report.
fn scan(w: &Work, plugin: &str) -> (i32, Value) {
    let out = w.run(&["scan", "-f", "json", "--plugin", plugin, &web()]);
    let code = out.code;
    (code, out.json())
}

fn errors(r: &Value) -> Vec<(String, String)> {
    r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["class"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every (resource, check id, status) of a report.
fn verdicts(r: &Value) -> Vec<String> {
    let mut v = Vec::new();
    for res in r["resources"].as_array().unwrap() {
        for c in res["checks"].as_array().unwrap() {
            v.push(format!("{} {} {}", res["name"], c["id"], c["status"]));
        }
    }
    v.sort();
    v
}

fn has_check(r: &Value, id: &str) -> bool {
    verdicts(r).iter().any(|v| v.contains(&format!("\"{id}\"")))
}

#[test]
fn push_inspect_pull_and_scan_round_trip() {
    let Some(reg) = Registry::start() else {
        return;
    };
    let w = Work::new();
    let reference = format!("{}:1.0", reg.reference("policies/labels"));
    let pinned = push(
        &w,
        &reference,
        &[
            "-a",
            "org.opencontainers.image.source=https://example.com/p",
        ],
    );

    // The manifest is the Wasm artifact layout, with the plugin's description.
    let m: Value = serde_json::from_slice(&reg.get_manifest("policies/labels", "1.0")).unwrap();
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(m["layers"].as_array().unwrap().len(), 1);
    assert_eq!(m["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(m["annotations"]["dev.tollgate.plugin.checks"], "LBL001");
    assert_eq!(
        m["annotations"]["org.opencontainers.image.source"],
        "https://example.com/p"
    );

    // inspect reads the manifest only.
    let out = w.run(&["plugin", "inspect", &reference, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let d = out.json();
    assert_eq!(d["name"], "recommended-labels");
    assert_eq!(d["checks"], serde_json::json!(["LBL001"]));
    assert_eq!(
        format!(
            "{}@{}",
            reg.reference("policies/labels"),
            d["digest"].as_str().unwrap()
        ),
        pinned
    );
    let table = w.run(&["plugin", "inspect", &reference]);
    assert!(
        table.stdout.contains("checks:    LBL001"),
        "{}",
        table.stdout
    );

    // pull gives the same bytes.
    let out = w.run(&["plugin", "pull", &reference, "-o", "pulled.wasm"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read(w.path("pulled.wasm")).unwrap(),
        std::fs::read(labels()).unwrap()
    );

    // A scan with the registry plugin gives what the same file gives.
    w.config(&format!(
        "trust:\n  repositories:\n    - name: \"{}/policies/*\"\n      allow_unsigned: true\n",
        reg.addr
    ));
    let (code_file, local) = scan(&w, labels().to_str().unwrap());
    let (code_remote, remote) = scan(&w, &reference);
    assert!(errors(&remote).is_empty(), "{:?}", errors(&remote));
    assert_eq!(code_remote, code_file);
    assert!(has_check(&remote, "LBL001") && has_check(&remote, "KSV011"));
    assert_eq!(verdicts(&remote), verdicts(&local));
    // The same through plugins: in the configuration, and pinned by digest.
    w.config(&format!(
        "plugins:\n  - path: {pinned}\ntrust:\n  allow_unsigned: true\n"
    ));
    let out = w.run(&["scan", "-f", "json", &web()]);
    assert_eq!(verdicts(&out.json()), verdicts(&local), "{}", out.stderr);
}

#[test]
fn signatures_and_the_trust_policy() {
    let Some(reg) = Registry::start() else {
        return;
    };
    let w = Work::new();
    let reference = format!("{}:1.0", reg.reference("policies/labels"));
    push(&w, &reference, &[]);
    w.keygen("cosign");
    w.keygen("other");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.path("cosign.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key_text = std::fs::read_to_string(w.path("cosign.key")).unwrap();
    assert!(key_text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));

    // Unsigned, no trust policy: refused, class trust, the other plugins still run.
    let (code, r) = scan(&w, &reference);
    assert_eq!(code, 2);
    let e = errors(&r);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "trust");
    assert!(
        e[0].1.contains(&reference) && e[0].1.contains("no key"),
        "{}",
        e[0].1
    );
    assert!(has_check(&r, "KSV011") && !has_check(&r, "LBL001"));

    // A key in the policy but no signature yet.
    w.config("trust:\n  keys: [cosign.pub]\n");
    let (code, r) = scan(&w, &reference);
    assert_eq!(code, 2);
    let e = errors(&r);
    assert!(
        e[0].0 == "trust" && e[0].1.contains("is not signed"),
        "{e:?}"
    );
    let out = w.run(&["plugin", "verify", &reference, "--key", "cosign.pub"]);
    assert_eq!(out.code, 2, "{}", out.stdout);

    // Signed: verify, pull --key and the scan accept it.
    w.sign(&reference, "cosign");
    let out = w.run(&["plugin", "verify", &reference, "--key", "cosign.pub"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("signed by cosign.pub"),
        "{}",
        out.stdout
    );
    let out = w.run(&["plugin", "pull", &reference, "--key", "cosign.pub"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (_, r) = scan(&w, &reference);
    assert!(errors(&r).is_empty(), "{:?}", errors(&r));
    assert!(has_check(&r, "LBL001"));

    // Another key: refused everywhere.
    let out = w.run(&["plugin", "verify", &reference, "--key", "other.pub"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("none of the trusted keys"),
        "{}",
        out.stderr
    );
    let out = w.run(&["plugin", "pull", &reference, "--key", "other.pub"]);
    assert_eq!(out.code, 2);
    w.config("trust:\n  keys: [other.pub]\n");
    let (code, r) = scan(&w, &reference);
    assert_eq!(code, 2);
    assert!(
        errors(&r)[0].1.contains("none of the trusted keys"),
        "{:?}",
        errors(&r)
    );
    // --trusted-key adds a key on the command line.
    let out = w.run(&[
        "scan",
        "-f",
        "json",
        "--trusted-key",
        "cosign.pub",
        "--plugin",
        &reference,
        &web(),
    ]);
    assert!(errors(&out.json()).is_empty(), "{}", out.stderr);

    // Repository rules: only listed repositories, first match decides.
    w.config(&format!(
        "trust:\n  repositories:\n    - name: \"{0}/scratch/*\"\n      allow_unsigned: true\n    - name: \"{0}/policies/*\"\n      keys: [cosign.pub]\n",
        reg.addr
    ));
    let (_, r) = scan(&w, &reference);
    assert!(errors(&r).is_empty(), "{:?}", errors(&r));
    let elsewhere = format!("{}:1.0", reg.reference("other/labels"));
    push(&w, &elsewhere, &[]);
    let (code, r) = scan(&w, &elsewhere);
    assert_eq!(code, 2);
    let e = errors(&r);
    assert!(
        e[0].0 == "trust" && e[0].1.contains("not allowed by trust.repositories"),
        "{e:?}"
    );
    let scratch = format!("{}:1.0", reg.reference("scratch/labels"));
    push(&w, &scratch, &[]);
    let (_, r) = scan(&w, &scratch);
    assert!(
        errors(&r).is_empty() && has_check(&r, "LBL001"),
        "{:?}",
        errors(&r)
    );

    // A bad password is a clear error.
    let out = w.run_env(
        &["plugin", "sign", &reference, "--key", "cosign.key"],
        &[("COSIGN_PASSWORD", "nope")],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("COSIGN_PASSWORD"), "{}", out.stderr);
}

/// The digest, payload and signature layer of a reference's signature manifest.
fn signature_of(reg: &Registry, repo: &str, digest: &str) -> (Vec<u8>, String) {
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let m: Value = serde_json::from_slice(&reg.get_manifest(repo, &tag)).unwrap();
    let layer = &m["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let payload = reg.get_blob(repo, layer["digest"].as_str().unwrap());
    let sig = layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap()
        .to_string();
    (payload, sig)
}

fn openssl(dir: &Path, args: &[&str]) -> Run {
    output(
        Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("run openssl"),
    )
}

#[test]
fn signatures_are_cosign_format_both_ways() {
    let Some(reg) = Registry::start() else {
        return;
    };
    let w = Work::new();
    let reference = format!("{}:1.0", reg.reference("policies/labels"));
    let pinned = push(&w, &reference, &[]);
    let digest = pinned.rsplit_once('@').unwrap().1.to_string();
    w.keygen("cosign");
    w.sign(&reference, "cosign");

    // OpenSSL checks tollgate's signature: ECDSA P-256 over SHA-256 of the payload.
    let (payload, sig) = signature_of(&reg, "policies/labels", &digest);
    let p: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(p["critical"]["type"], "cosign container image signature");
    assert_eq!(
        p["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    assert_eq!(
        p["critical"]["identity"]["docker-reference"],
        format!("{}/policies/labels", reg.addr)
    );
    std::fs::write(w.path("payload.json"), &payload).unwrap();
    let b64 = Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        b64.stdin
            .as_ref()
            .unwrap()
            .write_all(sig.as_bytes())
            .unwrap();
    }
    let der = b64.wait_with_output().unwrap().stdout;
    std::fs::write(w.path("sig.der"), der).unwrap();
    let text = openssl(
        w.dir.path(),
        &["pkey", "-pubin", "-in", "cosign.pub", "-noout", "-text"],
    );
    assert!(
        text.stdout.contains("prime256v1") || text.stdout.contains("P-256"),
        "{}",
        text.stdout
    );
    let v = openssl(
        w.dir.path(),
        &[
            "dgst",
            "-sha256",
            "-verify",
            "cosign.pub",
            "-signature",
            "sig.der",
            "payload.json",
        ],
    );
    assert!(
        v.stdout.contains("Verified OK"),
        "{} {}",
        v.stdout,
        v.stderr
    );

    // A signature made by OpenSSL, in cosign's Go style (payload with the capitalised
    // key cosign's documents print), pushed by hand: tollgate verifies it.
    let d = w.dir.path();
    openssl(
        d,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ossl.pem",
        ],
    );
    openssl(d, &["ec", "-in", "ossl.pem", "-pubout", "-out", "ossl.pub"]);
    let payload = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{}/policies/labels"}},"image":{{"Docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#,
        reg.addr
    );
    std::fs::write(w.path("ossl-payload.json"), &payload).unwrap();
    let s = openssl(
        d,
        &[
            "dgst",
            "-sha256",
            "-sign",
            "ossl.pem",
            "-out",
            "ossl.sig",
            "ossl-payload.json",
        ],
    );
    assert_eq!(s.code, 0, "{}", s.stderr);
    let sig_b64 = output(
        Command::new("base64")
            .args(["-w0", "ossl.sig"])
            .current_dir(d)
            .output()
            .unwrap(),
    )
    .stdout;
    let repo = "policies/labels";
    let payload_digest = reg.put_blob(repo, payload.as_bytes());
    let config =
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = reg.put_blob(repo, config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": payload_digest,
                    "size": payload.len(), "annotations": {"dev.cosignproject.cosign/signature": sig_b64.trim()}}]
    });
    reg.put_manifest(
        repo,
        &format!("{}.sig", digest.replace(':', "-")),
        &serde_json::to_vec(&manifest).unwrap(),
    );
    let out = w.run(&["plugin", "verify", &reference, "--key", "ossl.pub"]);
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    // That replaced tollgate's own signature: the tollgate key no longer verifies.
    let out = w.run(&["plugin", "verify", &reference, "--key", "cosign.pub"]);
    assert_eq!(out.code, 2);
    // Signing again appends to the signature manifest, as cosign does: both verify.
    w.sign(&reference, "cosign");
    for key in ["ossl.pub", "cosign.pub"] {
        let out = w.run(&["plugin", "verify", &reference, "--key", key]);
        assert_eq!(out.code, 0, "{key}: {}", out.stderr);
    }
}

#[test]
fn tampered_component_is_refused_before_compilation() {
    let Some(reg) = Registry::start() else {
        return;
    };
    let w = Work::new();
    let reference = format!("{}:1.0", reg.reference("policies/labels"));
    push(&w, &reference, &[]);
    w.config("trust:\n  allow_unsigned: true\n");
    let m: Value = serde_json::from_slice(&reg.get_manifest("policies/labels", "1.0")).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    let file = reg.blob_file(layer);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let (code, r) = scan(&w, &reference);
    assert_eq!(code, 2);
    let e = errors(&r);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "trust", "{e:?}");
    assert!(
        e[0].1.contains(layer) && e[0].1.contains("tampered"),
        "{}",
        e[0].1
    );
    assert!(has_check(&r, "KSV011"), "the other plugins still ran");
    // Nothing was stored for it.
    let out = w.run(&["plugin", "pull", &reference]);
    assert_eq!(out.code, 2);
}

#[test]
fn a_lock_pins_digests_and_refuses_moved_tags() {
    let Some(reg) = Registry::start() else {
        return;
    };
    let w = Work::new();
    let reference = format!("{}:1.0", reg.reference("policies/labels"));
    let first = push(&w, &reference, &[]);
    w.config(&format!(
        "plugins:\n  - path: {reference}\ntrust:\n  allow_unsigned: true\n"
    ));
    let out = w.run(&["plugin", "lock"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lock = std::fs::read_to_string(w.path("tollgate.lock")).unwrap();
    let first_digest = first.rsplit_once('@').unwrap().1;
    assert!(lock.contains(first_digest), "{lock}");
    let out = w.run(&["scan", "-f", "json", &web()]);
    assert!(errors(&out.json()).is_empty(), "{}", out.stderr);

    // The tag moves (same component, another manifest): refused, naming both digests.
    let second = push(&w, &reference, &["-a", "moved=yes"]);
    let second_digest = second.rsplit_once('@').unwrap().1;
    assert_ne!(first_digest, second_digest);
    let out = w.run(&["scan", "-f", "json", &web()]);
    assert_eq!(out.code, 2);
    let e = errors(&out.json());
    assert!(
        e[0].0 == "trust" && e[0].1.contains(first_digest) && e[0].1.contains(second_digest),
        "{e:?}"
    );
    // A reference the lock does not list is refused too.
    let other = format!("{}:2.0", reg.reference("policies/labels"));
    push(&w, &other, &[]);
    let out = w.run(&["scan", "-f", "json", "--plugin", &other, &web()]);
    assert!(errors(&out.json())
        .iter()
        .any(|(c, m)| c == "trust" && m.contains("not in tollgate.lock")));
    // Locking again accepts the new digest.
    let out = w.run(&["plugin", "lock"]);
    assert!(
        out.stdout.contains(&format!("(was {first_digest})")),
        "{}",
        out.stdout
    );
    let out = w.run(&["scan", "-f", "json", &web()]);
    assert!(errors(&out.json()).is_empty(), "{}", out.stderr);
}

#[test]
fn a_stopped_registry_is_a_clear_error_while_cached_digests_still_scan() {
    let Some(mut reg) = Registry::start() else {
        return;
    };
    let w = Work::new();
    let reference = format!("{}:1.0", reg.reference("policies/labels"));
    let pinned = push(&w, &reference, &[]);
    w.keygen("cosign");
    w.sign(&reference, "cosign");
    w.config("trust:\n  keys: [cosign.pub]\n");
    let (_, online) = scan(&w, &pinned);
    assert!(errors(&online).is_empty(), "{:?}", errors(&online));
    reg.stop();

    // The digest, its signature and its component are in the cache: no network needed.
    let (_, offline) = scan(&w, &pinned);
    assert!(errors(&offline).is_empty(), "{:?}", errors(&offline));
    assert_eq!(verdicts(&offline), verdicts(&online));
    // A tag must be resolved: a clear error naming the registry; the others still run.
    let (code, r) = scan(&w, &reference);
    assert_eq!(code, 2);
    let e = errors(&r);
    assert_eq!(e[0].0, "registry", "{e:?}");
    assert!(
        e[0].1.contains(&reg.addr) && e[0].1.contains("is the registry running"),
        "{}",
        e[0].1
    );
    assert!(has_check(&r, "KSV011"));
    // With a lock, the locked digest in the cache scans offline too.
    std::fs::write(
        w.path("tollgate.lock"),
        format!(
            "version: 1\nplugins:\n  \"{reference}\": {}\n",
            pinned.rsplit_once('@').unwrap().1
        ),
    )
    .unwrap();
    let (_, r) = scan(&w, &reference);
    assert!(errors(&r).is_empty(), "{:?}", errors(&r));
}

#[test]
fn other_layouts_are_refused_at_pull_with_what_they_are() {
    let Some(reg) = Registry::start() else {
        return;
    };
    let w = Work::new();
    let repo = "policies/kw";
    let config = reg.put_blob(repo, b"{}");
    let module = reg.put_blob(repo, b"\0asm\x01\0\0\0");
    let kubewarden = serde_json::json!({"schemaVersion": 2,
        "config": {"mediaType": "application/vnd.wasm.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.wasm.content.layer.v1+wasm", "digest": module, "size": 8}]});
    reg.put_manifest(repo, "kw", &serde_json::to_vec(&kubewarden).unwrap());
    let out = w.run(&["plugin", "pull", &format!("{}:kw", reg.reference(repo))]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("Kubewarden policy"), "{}", out.stderr);
    let image = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": []});
    reg.put_manifest(repo, "image", &serde_json::to_vec(&image).unwrap());
    let out = w.run(&["plugin", "pull", &format!("{}:image", reg.reference(repo))]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("container image"), "{}", out.stderr);
    // A reference without a registry host is a usage error.
    let out = w.run(&["scan", "--plugin", "oci://policies/labels:1.0", &web()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("registry host"), "{}", out.stderr);
}

#[test]
fn fifty_plugins_are_pulled_by_one_scan() {
    let Some(reg) = Registry::start() else {
        return;
    };
    let w = Work::new();
    w.config("trust:\n  allow_unsigned: true\n");
    let refs: Vec<String> = (0..50)
        .map(|i| format!("{}:1.0", reg.reference(&format!("policies/p{i}"))))
        .collect();
    for r in &refs {
        push(&w, r, &[]);
    }
    let mut args = vec!["scan", "-f", "json", "--no-builtin"];
    for r in &refs {
        args.push("--plugin");
        args.push(r);
    }
    let web = web();
    args.push(&web);
    let started = std::time::Instant::now();
    let out = w.run(&args);
    let took = started.elapsed();
    let r = out.json();
    // All 50 arrived: the first runs, the 49 others clash on its check id (LBL001),
    // which is decided after the download; none failed to download.
    let e = errors(&r);
    assert_eq!(e.len(), 49, "{e:?}");
    assert!(
        e.iter()
            .all(|(c, m)| c == "contract" && m.contains("already provided")),
        "{e:?}"
    );
    assert!(has_check(&r, "LBL001"));
    eprintln!("50 registry plugins in one scan: {took:?}");
    // Generous bound: a serialised or hung fetch would take far longer.
    assert!(took.as_secs() < 60, "took {took:?}");
}

/// A certificate authority and a certificate for 127.0.0.1/localhost signed by it:
/// (CA PEM, certificate PEM, key PEM).
fn tls_files() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[test]
fn tls_registries_and_docker_config_credentials() {
    let w = Work::new();
    let (ca, cert, key) = tls_files();
    std::fs::write(w.path("ca.pem"), &ca).unwrap();
    std::fs::write(w.path("cert.pem"), &cert).unwrap();
    std::fs::write(w.path("key.pem"), &key).unwrap();
    // htpasswd with a bcrypt entry, as distribution requires.
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(w.path("htpasswd"), format!("ci:{hash}\n")).unwrap();
    let Some(reg) = Registry::start_with(&format!(
        "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: tollgate-test\n    path: {}\n",
        w.path("cert.pem").display(),
        w.path("key.pem").display(),
        w.path("htpasswd").display()
    )) else {
        return;
    };
    let reference = format!("{}:1.0", reg.reference("policies/labels"));
    let file = labels();
    let push_args = ["plugin", "push", file.to_str().unwrap(), &reference];
    let ca_env = ("SSL_CERT_FILE", w.path("ca.pem"));
    let ca_env = (ca_env.0, ca_env.1.to_str().unwrap());

    // TLS with an untrusted certificate: refused, saying where a private CA goes.
    let out = w.run(&push_args);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("SSL_CERT_FILE"), "{}", out.stderr);
    // Trusted, but no credentials: the registry says 401; the message says how to log in.
    let out = w.run_env(&push_args, &[ca_env]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("docker login"), "{}", out.stderr);
    // Credentials from the docker config ($DOCKER_CONFIG/config.json).
    std::fs::create_dir_all(w.path("docker")).unwrap();
    let auth = output(
        Command::new("base64")
            .arg("-w0")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(b"ci:s3cret").unwrap();
                c.wait_with_output().unwrap()
            })
            .unwrap(),
    )
    .stdout;
    std::fs::write(
        w.path("docker/config.json"),
        format!(
            "{{\"auths\":{{\"{}\":{{\"auth\":\"{}\"}}}}}}",
            reg.addr,
            auth.trim()
        ),
    )
    .unwrap();
    let out = w.run_env(&push_args, &[ca_env]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    w.config("trust:\n  allow_unsigned: true\n");
    let out = w.run_env(
        &["scan", "-f", "json", "--plugin", &reference, &web()],
        &[ca_env],
    );
    let r = out.json();
    assert!(
        errors(&r).is_empty() && has_check(&r, "LBL001"),
        "{:?}",
        errors(&r)
    );
}

#[test]
fn a_pull_on_a_terminal_shows_its_progress() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipping: `script` (util-linux) is not installed");
        return;
    }
    let Some(reg) = Registry::start() else {
        return;
    };
    let w = Work::new();
    let reference = format!("{}:1.0", reg.reference("policies/labels"));
    push(&w, &reference, &[]);
    let pull = |min: &str, out: &str| {
        let cmd = format!(
            "TOLLGATE_CACHE_DIR={} TOLLGATE_PROGRESS_MIN_BYTES={min} {} plugin pull {reference} -o {out}",
            w.path(out).with_extension("cache").display(),
            tollgate_e2e::binary().display()
        );
        let o = Command::new("script")
            .args(["-qc", &cmd, "/dev/null"])
            .current_dir(w.dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // The bar's threshold is lowered: the test plugin is 170 kB, the default is 1 MiB.
    let screen = pull("1", "a.wasm");
    assert!(screen.contains("pulling sha256:"), "{screen:?}");
    let screen = pull("100000000", "b.wasm");
    assert!(
        !screen.contains("pulling sha256:") && screen.contains("pulled "),
        "{screen:?}"
    );
    // Not on a pipe.
    let out = w.run_env(
        &["plugin", "pull", &reference],
        &[
            ("TOLLGATE_PROGRESS_MIN_BYTES", "1"),
            ("TOLLGATE_CACHE_DIR", w.path("c").to_str().unwrap()),
        ],
    );
    assert!(!out.stderr.contains("pulling sha256:"), "{}", out.stderr);
}
