//! Attacks on `tollgate serve` from the issue "fail closed at every edge", each against
//! the real binary over real TLS on 127.0.0.1, and what must still hold for everyone
//! else:
//! - a tenant's object that exempts itself with `tollgate.dev/exempt` is denied, unless
//!   an administrator's `admission.annotation_exemptions` grants exactly that;
//! - a trimmed object (no `apiVersion`/`kind`/name) is judged as `request.kind` says;
//! - junk operations get 400 and `/metrics` keeps its size;
//! - 40 clients that stall mid-body and 40 that trickle their headers byte by byte do not
//!   keep other reviews from being answered within the deadline;
//! - with the process's descriptors exhausted the server idles instead of spinning, and
//!   serves again once connections close.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use tollgate_e2e::webhook::{compliant_pod, config_map, parse_metrics, review, Server, Tls};
use tollgate_e2e::{binary, extra_plugin, run};

/// A Pod that fails KSV017 (privileged, HIGH) and more.
fn privileged_pod(annotation: Option<&str>) -> Value {
    let mut pod = compliant_pod();
    pod["metadata"]["name"] = json!("debug");
    pod["spec"]["containers"][0]["securityContext"]["privileged"] = json!(true);
    pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true);
    if let Some(a) = annotation {
        pod["metadata"]["annotations"] = json!({ "tollgate.dev/exempt": a });
    }
    pod
}

fn failed_checks(r: &Value) -> Vec<String> {
    r["response"]["auditAnnotations"]["failed-checks"]
        .as_str()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn a_self_exempting_object_is_denied_unless_an_administrator_grants_the_annotation() {
    let tls = Tls::new();
    let server = Server::start(&tls, &[]);
    let plain = server.review(
        &tls,
        &review("u0", "CREATE", "debug-1", privileged_pod(None)),
    );
    assert_eq!(plain["response"]["allowed"], false, "{plain}");
    let denying = failed_checks(&plain);
    assert!(denying.contains(&"KSV017".to_string()), "{denying:?}");
    // Every denying check named, by trivy's other spellings too.
    let all = denying
        .iter()
        .map(|id| id.replace("KSV", "KSV-0"))
        .collect::<Vec<_>>()
        .join(", ");
    let annotation = format!("{all}: trust me");
    let r = server.review(
        &tls,
        &review("u1", "CREATE", "debug-1", privileged_pod(Some(&annotation))),
    );
    assert_eq!(r["response"]["allowed"], false, "defaults: {r}");
    assert_eq!(failed_checks(&r), denying);
    let warnings = r["response"]["warnings"].as_array().unwrap();
    let note = warnings[0].as_str().unwrap();
    assert!(
        note.starts_with("tollgate.dev/exempt not honoured at admission")
            && note.contains("KSV017"),
        "{warnings:?}"
    );
    drop(server);

    // An administrator grants exactly these checks in debug-* namespaces.
    let config = tls.path("tollgate.yaml");
    let grant = |checks: &str, namespaces: &str| {
        std::fs::write(
            &config,
            format!("admission:\n  annotation_exemptions:\n  - checks: [{checks}]\n    namespaces: [{namespaces}]\n"),
        )
        .unwrap();
    };
    grant(&denying.join(", "), "'debug-*'");
    let server = Server::start(&tls, &["--config", config.to_str().unwrap()]);
    let object = privileged_pod(Some(&annotation));
    let r = server.review(&tls, &review("u2", "CREATE", "debug-1", object.clone()));
    assert_eq!(r["response"]["allowed"], true, "granted: {r}");
    let r = server.review(&tls, &review("u3", "CREATE", "shop", object.clone()));
    assert_eq!(r["response"]["allowed"], false, "not granted in shop: {r}");
    drop(server);

    // `*` covers only checks below deny_on: the HIGH ones still deny.
    grant("'*'", "'debug-*'");
    let server = Server::start(&tls, &["--config", config.to_str().unwrap()]);
    let r = server.review(&tls, &review("u4", "CREATE", "debug-1", object.clone()));
    assert_eq!(r["response"]["allowed"], false, "{r}");
    assert!(failed_checks(&r).contains(&"KSV017".to_string()));
    drop(server);

    // A grant naming an unknown check is a configuration error, said at start.
    grant("KSV9999", "'*'");
    let out = run([
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--tls-cert",
        tls.path("cert.pem").to_str().unwrap(),
        "--tls-key",
        tls.path("key.pem").to_str().unwrap(),
        "--addr",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("admission.annotation_exemptions[0].checks[0]"),
        "{}",
        out.stderr
    );

    // A scan honours the annotation (the repository's owner wrote it), unless told not to.
    let file = tls.path("pod.json");
    let mut o = object;
    o["metadata"]["namespace"] = json!("debug-1");
    std::fs::write(&file, o.to_string()).unwrap();
    let honoured = run([
        "scan",
        "--no-config",
        "-f",
        "json",
        "--fail-on",
        "HIGH",
        file.to_str().unwrap(),
    ]);
    assert_eq!(honoured.code, 0, "{}", honoured.stderr);
    let ignored = run([
        "scan",
        "--no-config",
        "-f",
        "json",
        "--fail-on",
        "HIGH",
        "--ignore-annotation-exemptions",
        file.to_str().unwrap(),
    ]);
    assert_eq!(ignored.code, 1, "{}", ignored.stderr);
    let exempted = |r: &Value| {
        r["resources"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c.get("exempted").is_some())
            .count()
    };
    assert!(exempted(&honoured.json()) >= denying.len());
    assert_eq!(exempted(&ignored.json()), 0);
}

#[test]
fn a_trimmed_object_is_judged_as_request_kind_says() {
    let tls = Tls::new();
    let server = Server::start(&tls, &[]);
    let mut pod = privileged_pod(None);
    let obj = pod.as_object_mut().unwrap();
    obj.remove("apiVersion");
    obj.remove("kind");
    obj.remove("metadata");
    let mut r = review("u-trim", "CREATE", "shop", Value::Object(obj.clone()));
    r["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "Pod"});
    r["request"]["name"] = json!("named-by-the-request");
    let answer = server.review(&tls, &r);
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    assert!(
        failed_checks(&answer).contains(&"KSV017".to_string()),
        "{answer}"
    );
    let line = server.wait_log("\"u-trim\"");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (
            v["kind"].as_str(),
            v["name"].as_str(),
            v["namespace"].as_str()
        ),
        (Some("Pod"), Some("named-by-the-request"), Some("shop"))
    );
}

#[test]
fn junk_operations_get_400_and_metrics_keep_their_size() {
    let tls = Tls::new();
    let server = Server::start(&tls, &[]);
    let good = review("u-good", "CREATE", "shop", compliant_pod());
    server.review(&tls, &good);
    let (_, before) = server.curl(&tls, "ca.pem", "GET", "/metrics", None);
    for i in 0..400 {
        let mut junk = good.clone();
        junk["request"]["operation"] = json!(format!("JUNK-{i}-{}", "x".repeat(i % 50)));
        let (code, body) = server.curl(
            &tls,
            "ca.pem",
            "POST",
            "/validate",
            Some(junk.to_string().as_bytes()),
        );
        assert_eq!(code, 400, "{body}");
        if i == 0 {
            assert!(
                body.contains("expected one of CREATE, UPDATE, DELETE, CONNECT"),
                "{body}"
            );
        }
    }
    let (_, after) = server.curl(&tls, "ca.pem", "GET", "/metrics", None);
    eprintln!(
        "/metrics: {} bytes before, {} after 400 junk operations",
        before.len(),
        after.len()
    );
    assert!(!after.contains("JUNK"), "{after}");
    assert!(
        after.len() < before.len() + 200,
        "{} -> {}",
        before.len(),
        after.len()
    );
    let m = parse_metrics(&after);
    assert_eq!(m["tollgate_http_responses_total{code=\"400\"}"], 400.0);
}

/// A TLS client that trusts the test's certificate, for clients curl cannot play.
fn tls_stream(tls: &Tls, port: u16) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(tls.path("ca.pem")).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    // Completes the handshake.
    s.flush().unwrap();
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).unwrap();
    }
    s
}

#[test]
fn slow_clients_do_not_keep_other_reviews_from_being_answered() {
    let tls = Tls::new();
    // A small queue, so that the old server (a queue place taken before the body was
    // read) would answer everyone 429 while the stalled clients hold theirs.
    let server = Server::start(&tls, &["--workers", "2", "--queue", "8"]);
    let port = server.port;
    let body = review("u-slow", "CREATE", "shop", compliant_pod()).to_string();
    // 40 clients send their head and part of the body, then stall.
    let mut stalled = Vec::new();
    for _ in 0..40 {
        let mut s = tls_stream(&tls, port);
        write!(
            s,
            "POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
            body.len(),
            &body[..body.len() / 2]
        )
        .unwrap();
        s.flush().unwrap();
        stalled.push(s);
    }
    // 40 clients trickle their head one byte every 100 ms.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tricklers = Vec::new();
    for _ in 0..40 {
        let (tls_dir, stop) = (tls.path("ca.pem"), stop.clone());
        let t = Tls::new();
        std::fs::copy(tls_dir, t.path("ca.pem")).unwrap();
        tricklers.push(std::thread::spawn(move || {
            let mut s = tls_stream(&t, port);
            let head = b"POST /validate HTTP/1.1\r\nhost: localhost\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
            for b in head.iter().cycle() {
                if stop.load(std::sync::atomic::Ordering::Relaxed)
                    || s.write_all(&[*b]).and_then(|_| s.flush()).is_err()
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(500));
    // Meanwhile everyone else is answered, with the right decision, within the deadline.
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let (object, allowed) = if i % 2 == 0 {
            (compliant_pod(), true)
        } else {
            (privileged_pod(None), false)
        };
        let start = Instant::now();
        let r = server.review(&tls, &review(&format!("u-{i}"), "CREATE", "shop", object));
        slowest = slowest.max(start.elapsed());
        assert_eq!(r["response"]["allowed"], allowed, "{r}");
    }
    eprintln!("20 reviews beside 80 slow clients: the slowest took {slowest:?}");
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    // The stalled bodies are cut off by the body timeout (408), the connection closed.
    let mut s = stalled.pop().unwrap();
    s.sock
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tricklers {
        let _ = t.join();
    }
}

/// User and system CPU time of a process, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz = 100; // USER_HZ on Linux
    Duration::from_millis(ticks * 1000 / hz)
}

#[test]
fn with_descriptors_exhausted_the_server_idles_and_recovers() {
    let tls = Tls::new();
    // `prlimit` (util-linux) lowers the server's descriptor limit.
    let server = Server::start_with(
        &tls,
        Command::new("prlimit")
            .args(["--nofile=96:96", "--"])
            .arg(binary()),
        &["--header-timeout", "60000"],
    );
    let port = server.port;
    // Connections that never start their TLS handshake: each holds a descriptor.
    let hoard: Vec<TcpStream> = (0..150)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    server.wait_log("accept failed; backing off");
    let pid = server.child.id();
    let before = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_time(pid) - before;
    eprintln!(
        "{} connections held, descriptors exhausted: {used:?} of CPU in 3 s",
        hoard.len()
    );
    assert!(
        used < Duration::from_millis(600),
        "the accept loop spins: {used:?} of CPU in 3 s"
    );
    drop(hoard);
    // Once they close, the server answers again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, _) = server.curl(&tls, "ca.pem", "GET", "/healthz", None);
        if code == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not recover");
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = server.review(&tls, &review("u-back", "CREATE", "shop", compliant_pod()));
    assert_eq!(r["response"]["allowed"], true);
}

#[test]
fn a_plugin_that_failed_to_load_fails_reviews_closed() {
    let tls = Tls::new();
    let missing = tls.path("missing.wasm");
    let server = Server::start(&tls, &["--plugin", missing.to_str().unwrap()]);
    // The built-in plugins alone would allow this Pod; the missing one might not.
    let r = server.review(&tls, &review("u-miss", "CREATE", "shop", compliant_pod()));
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let message = r["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("could not be loaded") && message.contains("missing.wasm"),
        "{message}"
    );
    assert_eq!(server.curl(&tls, "ca.pem", "GET", "/readyz", None).0, 503);
    drop(server);
    // failure_policy: ignore lets it through, saying why.
    let server = Server::start(
        &tls,
        &[
            "--plugin",
            missing.to_str().unwrap(),
            "--failure-policy",
            "ignore",
        ],
    );
    let r = server.review(&tls, &review("u-ign", "CREATE", "shop", compliant_pod()));
    assert_eq!(r["response"]["allowed"], true, "{r}");
    assert!(r["response"]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("failure_policy: ignore"));
    // ... but what the loaded plugins deny is still denied.
    let r = server.review(
        &tls,
        &review("u-priv", "CREATE", "shop", privileged_pod(None)),
    );
    assert_eq!(r["response"]["allowed"], false, "{r}");
    assert!(failed_checks(&r).contains(&"KSV017".to_string()), "{r}");
}

/// Three reviews on which the hostile plugin hangs (each waits for the deadline): the
/// answers.
fn hang_three_times(server: &Server, tls: &Tls) -> Vec<Value> {
    (0..3)
        .map(|i| {
            server.review(
                tls,
                &review(
                    &format!("u-loop-{i}"),
                    "CREATE",
                    "ns",
                    config_map("spin", "loop"),
                ),
            )
        })
        .collect()
}

#[test]
fn a_switched_off_plugin_denies_whatever_the_failure_policy() {
    let tls = Tls::new();
    let hostile = extra_plugin("hostile");
    let server = Server::start(
        &tls,
        &[
            "--plugin",
            hostile.to_str().unwrap(),
            "--deadline",
            "1500",
            "--failure-policy",
            "ignore",
        ],
    );
    for r in hang_three_times(&server, &tls) {
        assert_eq!(
            r["response"]["allowed"], true,
            "ignore lets a time-out through: {r}"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    // With the plugin off, `ignore` would waive its checks for the next objects: denied.
    let r = server.review(
        &tls,
        &review("u-next", "CREATE", "ns", config_map("calm", "none")),
    );
    assert_eq!(r["response"]["allowed"], false, "{r}");
    assert!(r["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("a plugin is switched off, which denies whatever the failure policy"));
}

/// Whether the server has closed `s` (a read gets end of file or an error) within `wait`.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn connections_are_capped_per_client_and_in_time() {
    let tls = Tls::new();
    let server = Server::start(
        &tls,
        &[
            "--max-connections-per-client",
            "8",
            "--connection-lifetime",
            "2",
        ],
    );
    let port = server.port;
    // Eight connections from 127.0.0.1 are held; the ninth is closed at once.
    let held: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut ninth = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(
        closed_within(&mut ninth, Duration::from_secs(2)),
        "the ninth is closed"
    );
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    // A keep-alive TLS connection lives at most --connection-lifetime.
    let mut s = tls_stream(&tls, port);
    write!(s, "GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n").unwrap();
    s.flush().unwrap();
    let mut first = [0u8; 12];
    s.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let start = Instant::now();
    s.sock
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    let lived = start.elapsed();
    assert!(lived < Duration::from_secs(6), "closed after {lived:?}");
    // And the server still answers.
    assert_eq!(server.curl(&tls, "ca.pem", "GET", "/healthz", None).0, 200);
}

#[test]
fn a_plugin_that_keeps_hanging_is_switched_off_then_probed_back_on() {
    let tls = Tls::new();
    let hostile = extra_plugin("hostile");
    let server = Server::start(
        &tls,
        &[
            "--plugin",
            hostile.to_str().unwrap(),
            "--deadline",
            "1500",
            "--probe-after",
            "2",
        ],
    );
    // Three reviews that hang: each waits for the deadline.
    for r in hang_three_times(&server, &tls) {
        assert_eq!(r["response"]["allowed"], false, "{r}");
    }
    // Then the plugin is off (once the third call has run out its time limit, which
    // ends with the answer's deadline; the strike is counted when the worker returns,
    // a moment after the answer): a review is failed without calling it, closed. The
    // message says so; a calm review in its place would reset the strikes, so the
    // test waits rather than polls.
    std::thread::sleep(Duration::from_millis(500));
    let r = server.review(
        &tls,
        &review("u-off", "CREATE", "ns", config_map("calm", "none")),
    );
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let message = r["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("switched off after it ran over its time limit 3 times in a row"),
        "{message}"
    );
    // After the probe interval one review goes through; it finishes in time, so the
    // plugin is on again for the next ones.
    std::thread::sleep(Duration::from_millis(2200));
    for i in 0..2 {
        let r = server.review(
            &tls,
            &review(
                &format!("u-back-{i}"),
                "CREATE",
                "ns",
                config_map("calm", "none"),
            ),
        );
        assert_eq!(r["response"]["allowed"], true, "{r}");
    }
    let m = parse_metrics(&server.curl(&tls, "ca.pem", "GET", "/metrics", None).1);
    assert_eq!(
        m["tollgate_plugin_errors_total{class=\"switched-off\"}"], 1.0,
        "{m:?}"
    );
}
