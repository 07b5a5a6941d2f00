//! How the rules read flags: components, lists, patterns, pairs, list-valued flags,
//! KCV0012's branches, findings per container; and KCV0093 on whole Ingresses.

use crate::tests::{fails, pod, run};
use tollgate_kit::{json, Value};

#[test]
fn component_is_the_first_command_element() {
    let no_auth = |command: Value, args: Value| fails("KCV0001", &pod(command, args));
    assert!(no_auth(json!(["kube-apiserver"]), Value::Null));
    assert!(no_auth(
        json!(["/usr/local/bin/kube-apiserver"]),
        Value::Null
    ));
    // Not the component: passes whatever its flags.
    assert!(!no_auth(Value::Null, json!(["kube-apiserver"])));
    assert!(!no_auth(
        json!(["sh", "-c", "kube-apiserver --anonymous-auth=true"]),
        Value::Null
    ));
    assert!(!no_auth(
        json!(["kube-apiserver --anonymous-auth=true"]),
        Value::Null
    ));
    assert!(!no_auth(json!(["kube-apiserver-wrapper"]), Value::Null));
    assert!(!no_auth(json!(["kube-controller-manager"]), Value::Null));
    // Labels and image do not make a component.
    let mut v = pod(json!(["/bin/true"]), Value::Null);
    v["metadata"]["labels"] = json!({"component": "kube-apiserver"});
    assert!(!fails("KCV0001", &v));
    assert!(fails("KCV0043", &pod(json!(["etcd"]), Value::Null)));
    assert!(!fails("KCV0043", &pod(json!(["etcdctl"]), Value::Null)));
}

#[test]
fn lists_are_read_element_by_element_and_separately() {
    let api = |args: Value| pod(json!(["kube-apiserver"]), args);
    // The split form never counts.
    assert!(fails("KCV0018", &api(json!(["--profiling", "false"]))));
    assert!(!fails("KCV0018", &api(json!(["--profiling=false"]))));
    assert!(!fails("KCV0017", &api(json!(["--secure-port", "0"]))));
    // Prefix and substring matches.
    assert!(fails("KCV0017", &api(json!(["--secure-port=0443"]))));
    assert!(!fails("KCV0019", &api(json!(["--audit-log-path-x"]))));
    assert!(!fails("KCV0001", &api(json!(["--anonymous-auth=falsey"]))));
    // Repeated flags: one matching element is enough either way.
    assert!(!fails(
        "KCV0018",
        &api(json!(["--profiling=true", "--profiling=false"]))
    ));
    assert!(fails(
        "KCV0024",
        &api(json!([
            "--service-account-lookup=true",
            "--service-account-lookup=false"
        ]))
    ));
    // Non-string elements never match.
    assert!(fails("KCV0019", &api(json!([{"--audit-log-path": 1}, 7]))));
    // `command` only: KCV0004, KCV0007, KCV0046.
    assert!(!fails("KCV0004", &api(json!(["--kubelet-https=false"]))));
    assert!(!fails(
        "KCV0007",
        &api(json!(["--authorization-mode=AlwaysAllow"]))
    ));
    let etcd = |command: Value, args: Value| pod(command, args);
    assert!(fails(
        "KCV0046",
        &etcd(json!(["etcd"]), json!(["--peer-client-cert-auth=true"]))
    ));
    assert!(!fails(
        "KCV0046",
        &etcd(json!(["etcd", "--peer-client-cert-auth=true"]), Value::Null)
    ));
}

#[test]
fn pattern_dots_match_any_character() {
    let cm = |flag: &str| pod(json!(["kube-controller-manager", flag]), Value::Null);
    assert!(!fails("KCV0039", &cm("--bind-address=127.0.0.1")));
    assert!(!fails("KCV0039", &cm("--bind-address=127.0.0.10")));
    assert!(!fails("KCV0039", &cm("--bind-address=127x0x0x1")));
    assert!(fails("KCV0039", &cm("--bind-address=0.0.0.0")));
    let sched = pod(
        json!(["kube-scheduler"]),
        json!(["--bind-address=127-0-0-1"]),
    );
    assert!(!fails("KCV0041", &sched));
}

#[test]
fn pairs_must_be_in_the_same_list() {
    let split = pod(
        json!(["kube-apiserver", "--kubelet-client-certificate=c"]),
        json!(["--kubelet-client-key=k"]),
    );
    assert!(fails("KCV0005", &split));
    let args = pod(
        json!(["kube-apiserver"]),
        json!(["--tls-cert-file=c", "--tls-private-key-file=k"]),
    );
    assert!(!fails("KCV0027", &args));
    // KCV0026's args branch tests --etcd-certfile twice (upstream bug, kept).
    assert!(!fails(
        "KCV0026",
        &pod(json!(["kube-apiserver"]), json!(["--etcd-certfile=c"]))
    ));
    assert!(fails(
        "KCV0026",
        &pod(json!(["kube-apiserver", "--etcd-certfile=c"]), Value::Null)
    ));
    assert!(fails(
        "KCV0026",
        &pod(json!(["kube-apiserver"]), json!(["--etcd-keyfile=k"]))
    ));
    // The peer flags are not the client flags.
    let peer = pod(
        json!(["etcd", "--peer-cert-file=c", "--peer-key-file=k"]),
        Value::Null,
    );
    assert!(fails("KCV0042", &peer) && !fails("KCV0045", &peer));
}

#[test]
fn list_valued_flags_are_tested_by_substring() {
    let api = |args: Value| pod(json!(["kube-apiserver"]), args);
    assert!(!fails(
        "KCV0016",
        &api(json!(["--enable-admission-plugins=XNodeRestrictionY"]))
    ));
    assert!(fails(
        "KCV0016",
        &api(json!(["--enable-admission-plugins="]))
    ));
    assert!(fails(
        "KCV0016",
        &api(json!(["--enable-admission-plugins", "NodeRestriction"]))
    ));
    assert!(!fails(
        "KCV0008",
        &api(json!(["--authorization-mode=RBAC,Node"]))
    ));
    assert!(fails(
        "KCV0014",
        &api(json!(["--disable-admission-plugins=ServiceAccountX"]))
    ));
    assert!(!fails(
        "KCV0011",
        &api(json!(["--enable-admission-plugins", "AlwaysAdmit"]))
    ));
    // KCV0013: each element is judged on its own value.
    let two = api(json!([
        "--enable-admission-plugins=SecurityContextDeny",
        "--enable-admission-plugins=X"
    ]));
    assert!(fails("KCV0013", &two));
    assert!(!fails(
        "KCV0013",
        &api(json!(["--enable-admission-plugins=PodSecurityPolicy"]))
    ));
    assert!(!fails(
        "KCV0013",
        &api(json!(["--authorization-mode=RBAC"]))
    ));
    // KCV0003 reads every container, component or not.
    let any = pod(
        json!([
            "my-proxy",
            "--enable-admission-plugins=DenyServiceExternalIPs"
        ]),
        Value::Null,
    );
    assert!(fails("KCV0003", &any));
}

#[test]
fn always_pull_images_has_two_branches() {
    // (a) the apiserver without the flag in its command, even with AlwaysPullImages in args.
    let in_args = pod(
        json!(["kube-apiserver"]),
        json!(["--enable-admission-plugins=AlwaysPullImages"]),
    );
    assert!(fails("KCV0012", &in_args));
    // (b) any container whose command gives the flag a value without AlwaysPullImages.
    let other = pod(
        json!(["sh", "--enable-admission-plugins=NodeRestriction"]),
        Value::Null,
    );
    assert_eq!(run("KCV0012", &other).len(), 1);
    // The split form in the command has the flag and no value: passes.
    let split = pod(
        json!(["kube-apiserver", "--enable-admission-plugins", "X"]),
        Value::Null,
    );
    assert!(!fails("KCV0012", &split));
    let good = pod(
        json!([
            "kube-apiserver",
            "--enable-admission-plugins=NodeRestriction,AlwaysPullImages"
        ]),
        Value::Null,
    );
    assert!(!fails("KCV0012", &good));
    assert!(!fails("KCV0012", &pod(json!(["sh"]), Value::Null)));
}

#[test]
fn one_finding_per_offending_container() {
    let v = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
        "spec": {"template": {"spec": {
            "initContainers": [{"name": "init", "command": ["kube-apiserver"]}],
            "containers": [{"name": "a", "command": ["kube-apiserver"]},
                           {"name": "b", "command": ["kube-apiserver", "--profiling=false"]},
                           {"name": "c", "command": ["sidecar"]}]}}}});
    let f = run("KCV0018", &v);
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(
        f[0].message,
        "Container 'a' of Deployment 'api' runs kube-apiserver without --profiling=false in its command or args"
    );
    assert_eq!(
        f[0].path.as_deref(),
        Some("spec.template.spec.containers[0]")
    );
    assert!(f[1]
        .message
        .starts_with("Init container 'init' of Deployment 'api'"));
    let forbid = run(
        "KCV0002",
        &pod(
            json!(["kube-apiserver"]),
            json!(["--token-auth-file=/t.csv"]),
        ),
    );
    assert!(forbid[0]
        .message
        .ends_with("runs kube-apiserver with '--token-auth-file=/t.csv' in its args"));
}

fn ingress(annotations: Value, class: Value) -> Value {
    let mut v = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "annotations": annotations}, "spec": {}});
    if !class.is_null() {
        v["spec"]["ingressClassName"] = class;
    }
    v
}

#[test]
fn ingress_nginx_annotations() {
    let bad = json!({
        "nginx.ingress.kubernetes.io/auth-url": "http://a/|b",
        "nginx.ingress.kubernetes.io/mirror-host": "CN=x;",
        "nginx.ingress.kubernetes.io/mirror-target": "https://fine.example.com",
        "nginx.ingress.kubernetes.io/auth-tls-match-cn": 5,
        "nginx.ingress.kubernetes.io/configuration-snippet": "http://a/|b"});
    let f = run("KCV0093", &ingress(bad.clone(), json!("nginx")));
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(f[0]
        .message
        .contains("nginx.ingress.kubernetes.io/auth-url"));
    assert_eq!(f[0].path.as_deref(), Some("metadata.annotations"));
    assert_eq!(
        run("KCV0093", &ingress(bad.clone(), json!("NGINX"))).len(),
        2
    );
    assert!(!fails(
        "KCV0093",
        &ingress(bad.clone(), json!("nginx-internal"))
    ));
    assert!(!fails("KCV0093", &ingress(bad.clone(), Value::Null)));
    assert!(!fails("KCV0093", &ingress(bad.clone(), json!(false))));
    // The legacy class annotation is not consulted.
    let mut legacy = bad.clone();
    legacy["kubernetes.io/ingress.class"] = json!("nginx");
    assert!(!fails("KCV0093", &ingress(legacy, Value::Null)));
    // kind is compared case-insensitively inside the rule.
    let mut v = ingress(bad, json!("nginx"));
    v["kind"] = json!("ingress");
    assert!(fails("KCV0093", &v));
    v["kind"] = json!("Pod");
    assert!(!fails("KCV0093", &v));
}
