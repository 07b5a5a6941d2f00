//! `tollgate node collect` on fake node roots built here: files with chosen modes and
//! owners, a kubelet configuration, and real processes started with real flags (a
//! sleeping stand-in linked as `kubelet`, `kube-apiserver`, `kube-proxy`), seen
//! through a process directory that holds only this test's processes.

#![recursion_limit = "256"]

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use serde_json::{json, Value};
use tollgate_e2e::{output, tollgate, Run};

/// Real processes, stopped by PID when the test ends (also when it fails).
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A node under construction: its root and the process directory the collector reads.
struct FakeNode {
    _dir: tempfile::TempDir,
    root: PathBuf,
    proc_dir: PathBuf,
    bin: PathBuf,
    procs: Processes,
}

/// Whether this test may give files to other users (it runs as root in CI).
fn can_chown() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl FakeNode {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let proc_dir = dir.path().join("proc");
        let bin = dir.path().join("bin");
        for d in [&root, &proc_dir, &bin] {
            fs::create_dir_all(d).unwrap();
        }
        let node = FakeNode {
            root,
            proc_dir,
            bin,
            _dir: dir,
            procs: Processes(Vec::new()),
        };
        node.file(
            "etc/passwd",
            0o644,
            "root:x:0:0:root:/root:/bin/sh\netcd:x:998:998::/var/lib/etcd:/bin/false\n",
        );
        node.file("etc/group", 0o644, "root:x:0:\netcd:x:998:\n");
        node
    }

    fn file(&self, path: &str, mode: u32, text: &str) -> &Self {
        let p = self.root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    fn dir(&self, path: &str, mode: u32) -> &Self {
        let p = self.root.join(path);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    fn chown(&self, path: &str, id: u32) {
        if can_chown() {
            std::os::unix::fs::lchown(self.root.join(path), Some(id), Some(id)).unwrap();
        }
    }

    /// Starts a process named `name` with `args`, visible to the collector.
    fn start(&mut self, name: &str, args: &[&str]) -> u32 {
        let link = self.bin.join(name);
        if !link.exists() {
            symlink(env!("CARGO_BIN_EXE_fake-component"), &link).unwrap();
        }
        let child = Command::new(&link).args(args).spawn().unwrap();
        let pid = child.id();
        self.procs.0.push(child);
        symlink(format!("/proc/{pid}"), self.proc_dir.join(pid.to_string())).unwrap();
        // The collector may read before the new process has exec'd: wait for its cmdline.
        for _ in 0..200 {
            let argv = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if argv.starts_with(link.as_os_str().as_encoded_bytes()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        pid
    }

    /// A process that has already exited, still listed: the collector must skip it.
    fn exited(&self) {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        symlink(format!("/proc/{pid}"), self.proc_dir.join(pid.to_string())).unwrap();
    }

    fn collect(&self, extra: &[&str]) -> Run {
        let mut c = tollgate();
        c.args(["node", "collect", "--root"])
            .arg(&self.root)
            .arg("--proc")
            .arg(&self.proc_dir)
            .args(extra)
            .env_remove("NODE_NAME");
        output(c.output().unwrap())
    }
}

fn info(node_info: &Value) -> &serde_json::Map<String, Value> {
    node_info["info"].as_object().expect("info is an object")
}

fn values(node_info: &Value, key: &str) -> Value {
    node_info["info"][key]["values"].clone()
}

/// A kubeadm control-plane node, with a few things wrong on purpose.
fn control_plane() -> FakeNode {
    let mut n = FakeNode::new();
    let pod = |c: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {c}\n  namespace: kube-system\nspec:\n  containers:\n  - name: {c}\n    image: registry.k8s.io/{c}:v1.30.0\n    command:\n    - {c}\n")
    };
    n.file("etc/hostname", 0o644, "cp-1\n")
        .file("etc/kubernetes/manifests/kube-apiserver.yaml", 0o644, &pod("kube-apiserver"))
        .file("etc/kubernetes/manifests/kube-controller-manager.yaml", 0o600, &pod("kube-controller-manager"))
        .file("etc/kubernetes/manifests/kube-scheduler.yaml", 0o600, &pod("kube-scheduler"))
        .file("etc/kubernetes/manifests/etcd.yaml", 0o600, &pod("etcd"))
        .file("etc/kubernetes/admin.conf", 0o600, "kind: Config\n")
        .file("etc/kubernetes/scheduler.conf", 0o600, "kind: Config\n")
        .file("etc/kubernetes/controller-manager.conf", 0o644, "kind: Config\n")
        .file("etc/kubernetes/kubelet.conf", 0o600, "kind: Config\n")
        .file("etc/kubernetes/pki/ca.crt", 0o644, "cert\n")
        .file("etc/kubernetes/pki/ca.key", 0o600, "key\n")
        .file("etc/kubernetes/pki/apiserver.key", 0o640, "key\n")
        .file("etc/kubernetes/pki/etcd/ca.crt", 0o600, "cert\n")
        .file("etc/kubernetes/pki/.hidden.key", 0o600, "key\n")
        .dir("var/lib/etcd/default.etcd", 0o700)
        .dir("var/lib/etcd", 0o700)
        .dir("etc/cni/net.d", 0o755)
        .dir("opt/cni/bin", 0o700)
        .file("etc/systemd/system/kubelet.service.d/10-kubeadm.conf", 0o644, "[Service]\n")
        .file("var/lib/kube-proxy/kubeconfig.conf", 0o644, "kind: Config\n")
        .file(
            "var/lib/kubelet/config.yaml",
            0o600,
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n\
             authentication:\n  anonymous:\n    enabled: false\n  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt\n\
             authorization:\n  mode: Webhook\nreadOnlyPort: 10255\nrotateCertificates: true\n\
             streamingConnectionIdleTimeout: 4h0m0s\ntlsCipherSuites:\n- TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n- TLS_RSA_WITH_3DES_EDE_CBC_SHA\n",
        );
    n.chown("var/lib/etcd", 998);
    n.chown("etc/kubernetes/pki/etcd", 998);
    // The API server first: its --kubelet-* flags must not make it the kubelet.
    n.start(
        "kube-apiserver",
        &[
            "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
            "--anonymous-auth=true",
        ],
    );
    n.start(
        "kubelet",
        &[
            "--config=/var/lib/kubelet/config.yaml",
            "--kubeconfig=/etc/kubernetes/kubelet.conf",
            "--read-only-port=0",
            "--protect-kernel-defaults",
            "--event-qps=-1",
            "--feature-gates=RotateKubeletServerCertificate=true,Foo=false",
        ],
    );
    n.start(
        "kube-proxy",
        &["--kubeconfig=/var/lib/kube-proxy/kubeconfig.conf", "--v=2"],
    );
    n.exited();
    n
}

#[test]
fn a_control_plane_node_is_collected_key_by_key() {
    let node = control_plane();
    let out = node.collect(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["kind"], "NodeInfo");
    assert_eq!(v["type"], "master");
    assert_eq!(v["metadata"]["name"], "cp-1");
    assert!(v["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let etcd_owner = if can_chown() {
        "etcd:etcd"
    } else {
        "root:root"
    };
    let me = if can_chown() {
        "root:root".to_string()
    } else {
        String::new()
    };
    let owner = |o: &str| {
        if can_chown() {
            o.to_string()
        } else {
            me.clone()
        }
    };
    let expected = json!({
        "kubeAPIServerSpecFilePermission": [644],
        "kubeAPIServerSpecFileOwnership": [owner("root:root")],
        "kubeControllerManagerSpecFilePermission": [600],
        "kubeControllerManagerSpecFileOwnership": [owner("root:root")],
        "kubeSchedulerSpecFilePermission": [600],
        "kubeSchedulerSpecFileOwnership": [owner("root:root")],
        "kubeEtcdSpecFilePermission": [600],
        "kubeEtcdSpecFileOwnership": [owner("root:root")],
        // /*/cni/*: the directories themselves, in glob order.
        "containerNetworkInterfaceFilePermissions": [755, 700],
        "containerNetworkInterfaceFileOwnership": [owner("root:root"), owner("root:root")],
        "etcdDataDirectoryPermissions": [700],
        "etcdDataDirectoryOwnership": [owner(etcd_owner)],
        "adminConfFilePermissions": [600],
        "adminConfFileOwnership": [owner("root:root")],
        "schedulerConfFilePermissions": [600],
        "schedulerConfFileOwnership": [owner("root:root")],
        "controllerManagerConfFilePermissions": [644],
        "controllerManagerConfFileOwnership": [owner("root:root")],
        // Every entry below pki/, hidden ones left out, in path order.
        "kubePKIDirectoryFileOwnership": [owner("root:root"), owner("root:root"), owner("root:root"), owner(etcd_owner), owner("root:root")],
        // Every *.key, hidden ones included.
        "kubePKIKeyFilePermissions": [600, 640, 600],
        "kubernetesPKICertificateFilePermissions": [644, 600],
        "kubeletServiceFilePermissions": [644],
        "kubeletServiceFileOwnership": [owner("root:root")],
        "kubeconfigFileExistsPermissions": [644],
        "kubeconfigFileExistsOwnership": [owner("root:root")],
        "kubeletConfFilePermissions": [600],
        "kubeletConfFileOwnership": [owner("root:root")],
        "certificateAuthoritiesFilePermissions": [644],
        "certificateAuthoritiesFileOwnership": [owner("root:root")],
        "kubeletConfigYamlConfigurationFilePermission": [600],
        "kubeletConfigYamlConfigurationFileOwnership": [owner("root:root")],
        // From the configuration file: booleans as strings, lists as the values.
        "kubeletAnonymousAuthArgumentSet": ["false"],
        "kubeletAuthorizationModeArgumentSet": ["Webhook"],
        "kubeletClientCaFileArgumentSet": ["/etc/kubernetes/pki/ca.crt"],
        // The flag wins over the file's 10255.
        "kubeletReadOnlyPortArgumentSet": [0],
        "kubeletStreamingConnectionIdleTimeoutArgumentSet": ["4h0m0s"],
        "kubeletProtectKernelDefaultsArgumentSet": ["true"],
        "kubeletMakeIptablesUtilChainsArgumentSet": [],
        "kubeletHostnameOverrideArgumentSet": [],
        "kubeletEventQpsArgumentSet": [-1],
        "kubeletTlsCertFileTlsArgumentSet": [],
        "kubeletTlsPrivateKeyFileArgumentSet": [],
        "kubeletRotateCertificatesArgumentSet": ["true"],
        "kubeletRotateKubeletServerCertificateArgumentSet": ["true"],
        "kubeletOnlyUseStrongCryptographic": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"],
    });
    if !can_chown() {
        // Without root the files are ours: the names then come from the ids.
        eprintln!("not root: ownership values are not compared");
    }
    let got = info(&v);
    for (key, want) in expected.as_object().unwrap() {
        let have = values(&v, key);
        if key.ends_with("Ownership") && !can_chown() {
            assert_eq!(
                have.as_array().map(Vec::len),
                want.as_array().map(Vec::len),
                "{key}"
            );
            continue;
        }
        assert_eq!(&have, want, "info.{key}");
    }
    assert_eq!(
        got.len(),
        expected.as_object().unwrap().len(),
        "keys: {:?}",
        got.keys()
    );
    // Nothing was unreadable on this node.
    assert!(
        v["metadata"].get("annotations").is_none(),
        "{}",
        v["metadata"]
    );
    assert_eq!(out.stderr, "", "no warnings on a complete node");
}

#[test]
fn a_worker_node_has_no_control_plane_keys_and_yaml_is_the_same_object() {
    let mut node = FakeNode::new();
    node.file("etc/kubernetes/kubelet.conf", 0o600, "kind: Config\n")
        .file("etc/systemd/system/kubelet.service", 0o644, "[Service]\n")
        .file("etc/kubernetes/pki/ca.crt", 0o644, "cert\n");
    node.start(
        "kubelet",
        &[
            "--kubeconfig=/etc/kubernetes/kubelet.conf",
            "--client-ca-file=/etc/kubernetes/pki/ca.crt",
            "--anonymous-auth=false",
            "--authorization-mode=Node,Webhook",
        ],
    );
    let out = node.collect(&["--node-name", "worker-7"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["type"], "worker");
    assert_eq!(v["metadata"]["name"], "worker-7");
    assert_eq!(
        info(&v).len(),
        24,
        "the 24 worker keys: {:?}",
        info(&v).keys()
    );
    assert!(info(&v).get("adminConfFilePermissions").is_none());
    assert_eq!(values(&v, "kubeletServiceFilePermissions"), json!([644]));
    assert_eq!(
        values(&v, "certificateAuthoritiesFilePermissions"),
        json!([644])
    );
    assert_eq!(
        values(&v, "kubeletAuthorizationModeArgumentSet"),
        json!(["Node", "Webhook"])
    );
    assert_eq!(
        values(&v, "kubeletAnonymousAuthArgumentSet"),
        json!(["false"])
    );
    // node-collector's candidates for the kubelet's config file include its unit file.
    assert_eq!(
        values(&v, "kubeletConfigYamlConfigurationFilePermission"),
        json!([644])
    );
    // No kube-proxy: empty, and said so.
    assert_eq!(values(&v, "kubeconfigFileExistsPermissions"), json!([]));
    assert!(
        out.stderr.contains("processes: no kube-proxy process"),
        "{}",
        out.stderr
    );

    let yaml = node.collect(&["--node-name", "worker-7", "--format", "yaml"]);
    assert_eq!(yaml.code, 0, "{}", yaml.stderr);
    let mut from_yaml: Value = serde_saphyr::from_str(&yaml.stdout).unwrap();
    let mut from_json = v.clone();
    for o in [&mut from_yaml, &mut from_json] {
        o["metadata"]["creationTimestamp"] = Value::Null;
    }
    assert_eq!(from_yaml, from_json);
}

#[test]
fn unreadable_files_and_symlink_loops_leave_a_complete_node_info_and_warnings() {
    let mut node = FakeNode::new();
    // A control-plane node (kubeadm's three marker files) with almost nothing else.
    node.file("etc/kubernetes/kubelet.conf", 0o600, "kind: Config\n")
        .file(
            "etc/kubernetes/controller-manager.conf",
            0o600,
            "kind: Config\n",
        )
        .file("etc/kubernetes/scheduler.conf", 0o600, "kind: Config\n")
        .file(
            "etc/kubernetes/manifests/kube-apiserver.yaml",
            0o600,
            "kind: Pod\n",
        );
    // A link loop where the kubelet's configuration should be, and one inside pki/.
    symlink("loop-b", node.root.join("etc/kubernetes/loop-a")).unwrap();
    symlink("loop-a", node.root.join("etc/kubernetes/loop-b")).unwrap();
    node.dir("etc/kubernetes/pki", 0o700);
    symlink("../pki", node.root.join("etc/kubernetes/pki/self")).unwrap();
    // A kubelet configuration that is a directory.
    node.dir("var/lib/kubelet/config.yaml", 0o755);
    node.start(
        "kubelet",
        &["--config=/etc/kubernetes/loop-a", "--read-only-port=10255"],
    );
    node.exited();
    let out = node.collect(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["type"], "master");
    assert_eq!(
        info(&v).len(),
        45,
        "every key is there: {:?}",
        info(&v).keys()
    );
    assert_eq!(values(&v, "kubeletReadOnlyPortArgumentSet"), json!([10255]));
    // The link inside pki/ is reported as itself, not followed.
    assert_eq!(
        values(&v, "kubePKIDirectoryFileOwnership")
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(values(&v, "adminConfFilePermissions"), json!([]));
    // A directory stat()s fine: its mode is reported as node-collector would.
    assert_eq!(
        values(&v, "kubeletConfigYamlConfigurationFilePermission"),
        json!([755])
    );
    let problems = v["metadata"]["annotations"]["tollgate.dev/collection-problems"]
        .as_str()
        .unwrap();
    for text in [&out.stderr as &str, problems] {
        assert!(
            text.contains(
                "kubelet configuration: /etc/kubernetes/loop-a: too many levels of symbolic links"
            ),
            "{text}"
        );
        assert!(text.contains("kubeletServiceFilePermissions: /etc/systemd/system/kubelet.service.d/10-kubeadm.conf: no such file or directory"), "{text}");
        assert!(
            text.contains(
                "adminConfFilePermissions: /etc/kubernetes/admin.conf: no such file or directory"
            ),
            "{text}"
        );
    }
}

#[test]
fn files_the_collector_may_not_read_are_reported_as_such() {
    if !can_chown()
        || Path::new("/usr/bin/setpriv")
            .exists()
            .then_some(())
            .is_none()
    {
        eprintln!("needs root and setpriv to run the collector as another user: skipped");
        return;
    }
    let node = FakeNode::new();
    node.file("etc/kubernetes/kubelet.conf", 0o600, "kind: Config\n")
        .dir("etc/kubernetes", 0o700);
    // The temp dir itself must be reachable by the unprivileged user.
    let mut p = node.root.clone();
    while let Some(parent) = p.parent() {
        if parent == Path::new("/") || parent.as_os_str().is_empty() {
            break;
        }
        p = parent.to_path_buf();
        let mode = fs::metadata(&p).unwrap().permissions().mode();
        if mode & 0o001 == 0 {
            fs::set_permissions(&p, fs::Permissions::from_mode(mode | 0o011)).unwrap();
        }
    }
    let out = output(
        Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(tollgate_e2e::binary())
            .args(["node", "collect", "--root"])
            .arg(&node.root)
            .arg("--proc")
            .arg(&node.proc_dir)
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(values(&v, "kubeletConfFilePermissions"), json!([]));
    assert!(
        out.stderr.contains(
            "kubeletConfFilePermissions: /etc/kubernetes/kubelet.conf: permission denied"
        ),
        "{}",
        out.stderr
    );
}

/// The manifests that run the collector in a cluster, scanned by tollgate itself: what
/// they fail is what a node collector needs, each check exempted by annotation with its
/// reason and explained in a comment beside the field that fails it.
#[test]
fn the_node_collector_manifests_fail_only_what_they_justify() {
    let dir = tollgate_e2e::root().join("deploy/node-collector");
    let out = tollgate_e2e::run(["scan", "--no-config", "-f", "json", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let report = out.json();
    let resources = report["resources"].as_array().unwrap();
    let kinds: Vec<&str> = resources
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "NetworkPolicy",
        "Job",
        "DaemonSet",
    ] {
        assert!(
            kinds.contains(&kind),
            "deploy/node-collector has a {kind}: {kinds:?}"
        );
    }
    let mut exempted = 0;
    for r in resources {
        let file = r["file"].as_str().unwrap();
        let text = fs::read_to_string(file).unwrap();
        for c in r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["success"] == false)
        {
            let id = c["id"].as_str().unwrap();
            let why = &c["exempted"];
            assert_eq!(
                why["source"], "annotation tollgate.dev/exempt",
                "{file} {id} fails without an exemption: {}",
                c["messages"]
            );
            assert!(
                why["reason"].as_str().unwrap().contains("node collector"),
                "{why}"
            );
            assert!(
                text.lines()
                    .any(|l| l.trim_start().starts_with('#') && l.contains(id)),
                "{file}: no comment beside the field that fails {id}"
            );
            exempted += 1;
        }
    }
    // hostPID, hostPath, uid 0 (two checks), on the Job and on the DaemonSet.
    assert_eq!(
        exempted,
        8,
        "{}",
        serde_json::to_string_pretty(&report["summary"]).unwrap()
    );
    assert_eq!(report["summary"]["checks_failed"], 0);
}

/// job.yaml and daemonset.yaml run the same pod: only the Job's node, restart policy and
/// one-shot arguments and the instance label differ.
#[test]
fn the_job_and_the_daemonset_run_the_same_pod() {
    let read = |f: &str| -> Value {
        let text =
            fs::read_to_string(tollgate_e2e::root().join("deploy/node-collector").join(f)).unwrap();
        serde_saphyr::from_str(&text).unwrap()
    };
    let (job, ds) = (read("job.yaml"), read("daemonset.yaml"));
    let normalise = |v: &Value| {
        let mut t = v["spec"]["template"].clone();
        let spec = t["spec"].as_object_mut().unwrap();
        spec.remove("nodeName");
        spec.remove("restartPolicy");
        t["spec"]["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("args");
        t["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("app.kubernetes.io/instance");
        t
    };
    assert_eq!(normalise(&job), normalise(&ds));
    assert_eq!(
        job["metadata"]["annotations"],
        ds["metadata"]["annotations"]
    );
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["node", "collect", "--root=/host", "--proc=/proc"])
    );
    assert_eq!(
        ds["spec"]["template"]["spec"]["containers"][0]["args"][4],
        "--interval=3600"
    );
    // Read-only host mounts only, and no service account token.
    for m in job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
    {
        assert_eq!(m["readOnly"], true, "{m}");
        assert!(
            m["mountPath"].as_str().unwrap().starts_with("/host/"),
            "{m}"
        );
    }
    assert_eq!(
        job["spec"]["template"]["spec"]["automountServiceAccountToken"],
        false
    );
}
