//! `tollgate serve` over real TLS with a real HTTP client (curl): certificates made here
//! with rcgen, the server started on 127.0.0.1 by each test and stopped by PID. What the
//! API server relies on: the uid echoed, allowed or denied with the findings, warnings
//! within Kubernetes' limits, 400/413/429 where due, the deadline kept when a plugin
//! hangs, the certificate reloaded from disk, SIGTERM draining, and metrics that count
//! what was sent.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tollgate_e2e::webhook::{
    assert_warnings_fit, compliant_pod, config_map, parse_metrics, privileged_deployment, review,
    Server, Tls,
};
use tollgate_e2e::{extra_plugin, root, run};

#[test]
fn reviews_are_allowed_denied_and_warned_as_tollgate_scan_finds() {
    let tls = Tls::new();
    let server = Server::start(&tls, &[]);
    // A compliant Pod: allowed, uid echoed, no patch.
    let r = server.review(&tls, &review("uid-good", "CREATE", "shop", compliant_pod()));
    assert_eq!(r["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(r["kind"], "AdmissionReview");
    assert_eq!(r["response"]["uid"], "uid-good");
    assert_eq!(r["response"]["allowed"], true, "{r}");
    assert!(r["response"].get("patch").is_none() && r["response"].get("patchType").is_none());

    // A privileged Deployment: denied with its HIGH findings, the rest as warnings.
    let deployment = privileged_deployment();
    let r = server.review(
        &tls,
        &review("uid-bad", "CREATE", "shop", deployment.clone()),
    );
    let resp = &r["response"];
    assert_eq!(
        (resp["uid"].as_str(), resp["allowed"].as_bool()),
        (Some("uid-bad"), Some(false)),
        "{r}"
    );
    assert_eq!(resp["status"]["code"], 403);
    let message = resp["status"]["message"].as_str().unwrap();
    let warnings = resp["warnings"].as_array().unwrap();
    assert_warnings_fit(warnings);

    // The same object through `tollgate scan`: its HIGH and CRITICAL failures deny,
    // the others warn, nothing else.
    let dir = tempfile::tempdir().unwrap();
    let mut object = deployment.clone();
    object["metadata"]["namespace"] = json!("shop");
    let file = dir.path().join("d.json");
    std::fs::write(&file, object.to_string()).unwrap();
    let scan = run(["scan", "-f", "json", "--no-config", file.to_str().unwrap()]).json();
    let failed: Vec<(String, String)> = scan["resources"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["success"] == false)
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(failed.len() > 5);
    let denying: Vec<&str> = failed
        .iter()
        .filter(|(_, s)| s == "HIGH" || s == "CRITICAL")
        .map(|(id, _)| id.as_str())
        .collect();
    assert!(!denying.is_empty());
    let mut annotated: Vec<&str> = resp["auditAnnotations"]["failed-checks"]
        .as_str()
        .unwrap()
        .split(',')
        .collect();
    annotated.sort();
    let mut expected = denying.clone();
    expected.sort();
    assert_eq!(annotated, expected);
    for (id, severity) in &failed {
        let in_message = message.contains(&format!("{id} ({severity})"));
        let in_warnings = warnings
            .iter()
            .any(|w| w.as_str().unwrap().starts_with(&format!("{id} ")));
        if denying.contains(&id.as_str()) {
            assert!(in_message && !in_warnings, "{id} denies: {message}");
        } else {
            assert!(in_warnings && !in_message, "{id} warns: {warnings:?}");
        }
    }

    // The object cannot exempt itself: an exemption annotation for the denying checks
    // changes nothing but a warning that says it was not honoured (see serve_attacks.rs
    // for what an administrator may allow).
    let mut exempted = deployment.clone();
    exempted["metadata"]["annotations"] = json!({"tollgate.dev/exempt": format!("{}: a debugging tool, reviewed in SEC-42", denying.join(", "))});
    let r = server.review(&tls, &review("uid-exempt", "CREATE", "shop", exempted));
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let warnings = r["response"]["warnings"].as_array().unwrap();
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("tollgate.dev/exempt not honoured at admission"),
        "{warnings:?}"
    );
    assert_warnings_fit(warnings);

    // DELETE and CONNECT carry no object to judge; dryRun is judged the same.
    let mut delete = review("uid-del", "DELETE", "shop", Value::Null);
    delete["request"]["oldObject"] = deployment.clone();
    assert_eq!(server.review(&tls, &delete)["response"]["allowed"], true);
    let connect = review(
        "uid-con",
        "CONNECT",
        "shop",
        json!({"kind": "PodExecOptions"}),
    );
    assert_eq!(server.review(&tls, &connect)["response"]["allowed"], true);
    let mut dry = review("uid-dry", "CREATE", "shop", deployment);
    dry["request"]["dryRun"] = json!(true);
    assert_eq!(server.review(&tls, &dry)["response"]["allowed"], false);

    // Every review is logged as one JSON line with its uid.
    let line = server.wait_log("\"uid-bad\"");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (v["message"].as_str(), v["decision"].as_str()),
        (Some("review"), Some("denied"))
    );
}

#[test]
fn bad_requests_are_refused_with_the_reason_and_counted() {
    let tls = Tls::new();
    let server = Server::start(&tls, &["--max-body-size", "1"]);
    let post = |body: &[u8]| server.curl(&tls, "ca.pem", "POST", "/validate", Some(body));
    let (code, body) = post(b"{not json");
    assert_eq!(code, 400);
    assert!(body.contains("not JSON"), "{body}");
    let (code, body) = post(br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}"#);
    assert_eq!(code, 400);
    assert!(body.contains("admission.k8s.io/v1beta1"), "{body}");
    let (code, body) = post(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#);
    assert_eq!(code, 400);
    assert!(body.contains("no `request`"), "{body}");
    let mut big = review("uid-big", "CREATE", "shop", compliant_pod());
    big["request"]["object"]["data"] = json!("x".repeat(2 << 20));
    let (code, body) = post(big.to_string().as_bytes());
    assert_eq!(code, 413, "{body}");
    let (code, _) = server.curl(&tls, "ca.pem", "GET", "/validate", None);
    assert_eq!(code, 405);
    let (code, _) = server.curl(&tls, "ca.pem", "GET", "/nowhere", None);
    assert_eq!(code, 404);
    let good = review("uid-1", "CREATE", "shop", compliant_pod());
    for _ in 0..3 {
        server.review(&tls, &good);
    }
    // Plain HTTP gets no HTTP answer.
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{}/healthz", server.port))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout).trim(), "000");
    // A client that does not trust the certificate gets nothing either.
    let other = Tls::new();
    assert_eq!(server.curl(&other, "ca.pem", "GET", "/healthz", None).0, 0);

    assert_eq!(server.curl(&tls, "ca.pem", "GET", "/healthz", None).0, 200);
    assert_eq!(server.curl(&tls, "ca.pem", "GET", "/readyz", None).0, 200);
    let (code, text) = server.curl(&tls, "ca.pem", "GET", "/metrics", None);
    assert_eq!(code, 200);
    let metrics = parse_metrics(&text);
    assert_eq!(
        metrics["tollgate_admission_reviews_total{decision=\"allowed\",operation=\"CREATE\"}"],
        3.0
    );
    assert_eq!(metrics["tollgate_http_responses_total{code=\"400\"}"], 3.0);
    assert_eq!(metrics["tollgate_http_responses_total{code=\"413\"}"], 1.0);
    assert_eq!(
        metrics["tollgate_http_responses_total{code=\"200\"}"], 5.0,
        "3 reviews, healthz, readyz"
    );
    assert_eq!(
        metrics["tollgate_admission_review_duration_seconds_count"],
        3.0
    );
    assert_eq!(
        metrics["tollgate_admission_review_duration_seconds_bucket{le=\"+Inf\"}"],
        3.0
    );
    assert_eq!(metrics["tollgate_admission_in_flight"], 0.0);
}

#[test]
fn a_hanging_plugin_is_cut_off_within_the_deadline_and_the_next_review_is_served() {
    let tls = Tls::new();
    let hostile = extra_plugin("hostile");
    for (policy, allowed) in [("fail", false), ("ignore", true)] {
        let server = Server::start(
            &tls,
            &[
                "--plugin",
                hostile.to_str().unwrap(),
                "--deadline",
                "500",
                "--failure-policy",
                policy,
            ],
        );
        let start = Instant::now();
        let r = server.review(
            &tls,
            &review("uid-loop", "CREATE", "ns", config_map("spin", "loop")),
        );
        let took = start.elapsed();
        assert!(
            took < Duration::from_millis(1500),
            "{policy}: answered after {took:?}"
        );
        assert_eq!(r["response"]["allowed"], allowed, "{policy}: {r}");
        let said = if allowed {
            r["response"]["warnings"][0].as_str().unwrap().to_string()
        } else {
            r["response"]["status"]["message"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert!(
            said.contains(&format!("failure_policy: {policy}")),
            "{said}"
        );
        // The next review gets a fresh instance of the same plugin.
        let r = server.review(
            &tls,
            &review("uid-calm", "CREATE", "ns", config_map("calm", "none")),
        );
        assert_eq!(r["response"]["allowed"], true, "{r}");
        assert!(r["response"].get("warnings").is_none(), "{r}");
        let metrics = parse_metrics(&server.curl(&tls, "ca.pem", "GET", "/metrics", None).1);
        let errors: f64 = metrics
            .iter()
            .filter(|(k, _)| k.starts_with("tollgate_plugin_errors_total"))
            .map(|(_, v)| v)
            .sum();
        assert!(errors >= 1.0, "{metrics:?}");
    }
}

/// A client that hangs up while the server writes (wrk does, at the end of a run) must
/// not kill it: the server runs with SIGPIPE ignored, unlike the CLI commands, which
/// stop quietly on a closed pipe.
#[test]
fn the_server_ignores_sigpipe() {
    let tls = Tls::new();
    let server = Server::start(&tls, &[]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let ignored = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
        .unwrap();
    assert_ne!(
        ignored & (1 << (libc::SIGPIPE - 1)),
        0,
        "SIGPIPE is not ignored: {ignored:x}"
    );
}

#[test]
fn overload_is_answered_at_once_with_429() {
    let tls = Tls::new();
    let hostile = extra_plugin("hostile");
    let server = Arc::new(Server::start(
        &tls,
        &[
            "--plugin",
            hostile.to_str().unwrap(),
            "--deadline",
            "1500",
            "--workers",
            "1",
            "--queue",
            "0",
        ],
    ));
    let busy = {
        let (server, body) = (
            server.clone(),
            review("uid-busy", "CREATE", "ns", config_map("spin", "loop")).to_string(),
        );
        let tls_dir = tls.path("");
        std::thread::spawn(move || {
            let t = Tls {
                dir: tempfile::tempdir().unwrap(),
            };
            std::fs::copy(tls_dir.join("ca.pem"), t.path("ca.pem")).unwrap();
            server.curl(&t, "ca.pem", "POST", "/validate", Some(body.as_bytes()))
        })
    };
    server.wait_in_flight(&tls, 1);
    let start = Instant::now();
    let (code, body) = server.curl(
        &tls,
        "ca.pem",
        "POST",
        "/validate",
        Some(
            review("uid-more", "CREATE", "ns", compliant_pod())
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(code, 429, "{body}");
    assert!(start.elapsed() < Duration::from_millis(500));
    assert_eq!(busy.join().unwrap().0, 200);
}

#[test]
fn a_certificate_replaced_on_disk_is_served_without_a_restart() {
    let tls = Tls::new();
    let server = Server::start(&tls, &[]);
    assert_eq!(server.curl(&tls, "ca.pem", "GET", "/healthz", None).0, 200);
    tls.issue("ca2.pem");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.curl(&tls, "ca2.pem", "GET", "/healthz", None).0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the new certificate is not served"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        server.curl(&tls, "ca.pem", "GET", "/healthz", None).0,
        0,
        "the old one is gone"
    );
    // A broken pair does not replace a working one.
    std::fs::write(tls.path("cert.pem"), "not a certificate").unwrap();
    server.wait_log("still serving the previous one");
    assert_eq!(server.curl(&tls, "ca2.pem", "GET", "/healthz", None).0, 200);
}

#[test]
fn sigterm_finishes_the_review_in_flight_then_exits() {
    let tls = Tls::new();
    let hostile = extra_plugin("hostile");
    let mut server = Server::start(
        &tls,
        &["--plugin", hostile.to_str().unwrap(), "--deadline", "1500"],
    );
    let port = server.port;
    let ca = tls.path("ca.pem");
    let body = review("uid-slow", "CREATE", "ns", config_map("spin", "loop")).to_string();
    let body_file = tls.path("slow.json");
    std::fs::write(&body_file, body).unwrap();
    let slow = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-w",
            "\n%{http_code}",
            "-H",
            "content-type: application/json",
        ])
        .arg("--cacert")
        .arg(&ca)
        .arg("--resolve")
        .arg(format!("localhost:{port}:127.0.0.1"))
        .arg("--data-binary")
        .arg(format!("@{}", body_file.display()))
        .arg(format!("https://localhost:{port}/validate"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    server.wait_in_flight(&tls, 1);
    server.signal("TERM");
    let out = slow.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with("\n200"),
        "the review in flight was answered: {text}"
    );
    assert!(text.contains("\"uid\":\"uid-slow\""), "{text}");
    let status = wait(&mut server.child, Duration::from_secs(10));
    assert_eq!(status, Some(0), "exits 0 after draining");
    server.wait_log("shutting down");
}

fn wait(child: &mut Child, limit: Duration) -> Option<i32> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn the_deploy_manifests_pass_every_check() {
    // deploy/node-collector has its own test (tests/node.rs): hostPID and hostPath are its point.
    let out = run([
        "scan",
        "--no-config",
        "-f",
        "json",
        root().join("deploy/webhook").to_str().unwrap(),
    ]);
    let report = out.json();
    let failed: Vec<(String, Value, Value)> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["success"] == false)
                .map(move |c| {
                    (
                        r["file"].as_str().unwrap().to_string(),
                        r["name"].clone(),
                        c.clone(),
                    )
                })
        })
        .collect();
    // The one failure is the image's registry (ghcr.io, not among trivy's default
    // trusted registries), exempted by annotation with its reason and commented beside
    // the image.
    let ids: Vec<&str> = failed
        .iter()
        .map(|(_, _, c)| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["KSV0125"], "{failed:#?}");
    for (file, _, c) in &failed {
        assert_eq!(
            c["exempted"]["source"], "annotation tollgate.dev/exempt",
            "{c}"
        );
        assert!(
            c["exempted"]["reason"]
                .as_str()
                .unwrap()
                .contains("mirror it"),
            "{c}"
        );
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text
            .lines()
            .any(|l| l.trim_start().starts_with('#') && l.contains("KSV0125")));
    }
    assert_eq!(out.code, 0, "{}", out.stderr);
    let kinds: Vec<&str> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "Service",
        "ValidatingWebhookConfiguration",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    ] {
        assert!(kinds.contains(&kind), "deploy/ has a {kind}");
    }
}

/// The configuration decides at admission as it does for a scan: `deny_on`, severity of
/// what denies, configured exemptions, namespace filters; and `--mode audit` never denies.
#[test]
fn the_configuration_decides_as_it_does_for_a_scan() {
    let tls = Tls::new();
    let config = tls.path("tollgate.yaml");
    std::fs::write(
        &config,
        "admission: {deny_on: MEDIUM, warn_on: HIGH}\nnamespaces: {exclude: ['kube-*']}\n\
         exemptions:\n- checks: [KSV017]\n  kind: Deployment\n  reason: the debug image must be privileged\n",
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let server = Server::start(&tls, &["--config", cfg]);
    let r = server.review(
        &tls,
        &review("uid-shop", "CREATE", "shop", privileged_deployment()),
    );
    let resp = &r["response"];
    assert_eq!(resp["allowed"], false, "{r}");
    let failed = resp["auditAnnotations"]["failed-checks"].as_str().unwrap();
    assert!(failed.contains("KSV013"), "MEDIUM denies now: {failed}");
    assert!(!failed.contains("KSV017"), "KSV017 is exempted: {failed}");
    assert!(
        resp.get("warnings").is_none(),
        "warn_on above deny_on: nothing left to warn: {r}"
    );
    let r = server.review(
        &tls,
        &review("uid-kube", "CREATE", "kube-public", privileged_deployment()),
    );
    assert_eq!(r["response"]["allowed"], true, "kube-* is not scanned: {r}");
    assert!(r["response"].get("warnings").is_none());
    drop(server);

    let audit = Server::start(&tls, &["--config", cfg, "--mode", "audit"]);
    let r = audit.review(
        &tls,
        &review("uid-audit", "CREATE", "shop", privileged_deployment()),
    );
    assert_eq!(r["response"]["allowed"], true, "{r}");
    let first = r["response"]["warnings"][0].as_str().unwrap();
    assert!(first.starts_with("audit mode, would deny: "), "{first}");
    assert!(r["response"].get("status").is_none());
}
