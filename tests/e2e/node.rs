//! `tollgate node collect` on fake node roots built here: files with chosen modes and
//! owners, a kubelet configuration, and real processes started with real flags (a
//! sleeping stand-in linked as `kubelet`, `kube-apiserver`, `kube-proxy`), seen
//! through a process directory that holds only this test's processes.

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
        // Not set anywhere: the configuration's default, as the kubelet's /configz says.
        "kubeletMakeIptablesUtilChainsArgumentSet": ["true"],
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
    // The link inside pki/ (to pki/ itself) is measured as its target; the walk does
    // not go through it, so the loop costs nothing.
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
    // hostPID, hostPath, uid 0 (three checks), the image's registry, on the Job and on
    // the DaemonSet.
    assert_eq!(
        exempted,
        12,
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

/// `node scan` on the control-plane node: its NodeInfo and static Pods through the CIS
/// checks, trivy-operator's infra-assessment reports valid against their CRDs, and the
/// CIS compliance view with a status for every automated control.
#[test]
fn node_scan_judges_the_node_and_its_static_pods() {
    let node = control_plane();
    let scan = |format: &str| {
        let mut c = tollgate();
        c.args(["node", "scan", "--no-config", "-f", format, "--root"])
            .arg(&node.root)
            .arg("--proc")
            .arg(&node.proc_dir)
            .env_remove("NODE_NAME");
        output(c.output().unwrap())
    };
    let out = scan("json");
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.json();
    let resources = report["resources"].as_array().unwrap();
    let verdict = |kind: &str, name: &str, id: &str| -> bool {
        let r = resources
            .iter()
            .find(|r| r["kind"] == kind && r["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in {resources:?}"));
        let c = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id);
        c.unwrap_or_else(|| panic!("{kind} {name} has no {id}"))["success"] == false
    };
    let nodeinfo = resources.iter().find(|r| r["kind"] == "NodeInfo").unwrap();
    assert_eq!(nodeinfo["file"], "nodeinfo:cp-1");
    assert_eq!(nodeinfo["name"], "cp-1");
    // What the fake node gets wrong, and what it gets right.
    for (id, fails) in [
        ("KCV0048", true),  // kube-apiserver.yaml is 644
        ("KCV0050", false), // kube-controller-manager.yaml is 600
        ("KCV0056", true),  // /etc/cni/net.d is 755
        ("KCV0064", true),  // controller-manager.conf is 644
        ("KCV0067", true),  // apiserver.key is 640
        ("KCV0068", true),  // ca.crt is 644
        ("KCV0069", true),  // the kubelet's drop-in is 644
        ("KCV0079", false), // anonymous auth off in the configuration
        ("KCV0082", false), // --read-only-port=0 wins over the file's 10255
        ("KCV0083", false), // --protect-kernel-defaults
        ("KCV0088", true),  // no --tls-cert-file anywhere
        ("KCV0091", false), // the feature gate is set
    ] {
        assert_eq!(verdict("NodeInfo", "cp-1", id), fails, "{id}");
    }
    if can_chown() {
        assert!(
            !verdict("NodeInfo", "cp-1", "KCV0059"),
            "/var/lib/etcd is etcd:etcd"
        );
    }
    // The static Pods, from ROOT/etc/kubernetes/manifests.
    assert!(
        verdict("Pod", "kube-apiserver", "KCV0001"),
        "no --anonymous-auth=false"
    );
    assert!(
        verdict("Pod", "kube-controller-manager", "KCV0034"),
        "no --profiling=false"
    );
    assert!(
        verdict("Pod", "etcd", "KCV0042"),
        "no --cert-file/--key-file"
    );

    // trivy-operator's objects: the node's and the control-plane Pods' infra assessments.
    let out = scan("k8s-reports-json");
    assert_eq!(out.code, 1, "{}", out.stderr);
    let items = out.json()["items"].as_array().unwrap().clone();
    let cluster = tollgate_e2e::crd_validator("crd-clusterinfraassessmentreports.yaml");
    let infra = tollgate_e2e::crd_validator("crd-infraassessmentreports.yaml");
    let node_report = items
        .iter()
        .find(|o| o["kind"] == "ClusterInfraAssessmentReport")
        .expect("a ClusterInfraAssessmentReport");
    assert_eq!(node_report["metadata"]["name"], "node-cp-1");
    assert_eq!(
        node_report["metadata"]["labels"]["trivy-operator.resource.kind"],
        "Node"
    );
    tollgate_e2e::assert_valid(&cluster, node_report, "the node's report");
    let pods: Vec<&Value> = items
        .iter()
        .filter(|o| o["kind"] == "InfraAssessmentReport")
        .collect();
    assert_eq!(pods.len(), 4, "one per control-plane Pod");
    for p in &pods {
        tollgate_e2e::assert_valid(&infra, p, "a control-plane Pod's report");
        assert!(p["report"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["checkID"].as_str().unwrap().starts_with("KCV")));
    }
    // Their KSV results stay in their ConfigAuditReports.
    let audits = items
        .iter()
        .filter(|o| o["kind"] == "ConfigAuditReport")
        .count();
    assert_eq!(audits, 4);

    // The whole CIS view of this node and its Pods.
    let nodeinfo = node.collect(&[]);
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("cp-1.json"), &nodeinfo.stdout).unwrap();
    let out = tollgate_e2e::run([
        "compliance",
        "k8s-cis-1.23",
        "--no-config",
        "-f",
        "json",
        dir.path().to_str().unwrap(),
        node.root.join("etc/kubernetes/manifests").to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let c = out.json();
    let controls = c["controls"].as_array().unwrap();
    assert_eq!(controls.len(), 116);
    for ctl in controls {
        let status = ctl["status"].as_str().unwrap();
        let missing = ctl["missing"].as_array().unwrap();
        // Every KCV check is there; the four KSV checks tollgate lacks (KSV103, KSV104,
        // KSV110, KSV111) leave their controls NOT-COVERED, named.
        assert!(
            missing
                .iter()
                .all(|m| m.as_str().unwrap().starts_with("KSV-")),
            "{ctl}"
        );
        let no_checks = ctl["checks"].as_array().unwrap().is_empty();
        if ctl["name"].as_str().unwrap().contains("Manual") || (no_checks && missing.is_empty()) {
            assert_eq!(status, "MANUAL", "{ctl}");
        } else if no_checks {
            assert_eq!(status, "NOT-COVERED", "{ctl}");
        } else {
            assert!(
                matches!(status, "PASS" | "FAIL"),
                "an automated control has a status: {ctl}"
            );
        }
    }
    let status = |id: &str| controls.iter().find(|c| c["id"] == id).unwrap()["status"].clone();
    assert_eq!(status("1.1.1"), "FAIL"); // KCV0048
    assert_eq!(status("1.1.3"), "PASS"); // KCV0050
    assert_eq!(status("1.2.1"), "FAIL"); // KCV0001 on the kube-apiserver Pod
    assert_eq!(status("4.2.4"), "PASS"); // KCV0082
    let out = tollgate_e2e::run([
        "compliance",
        "k8s-cis-1.23",
        "--no-config",
        "-f",
        "k8s-report",
        dir.path().to_str().unwrap(),
        node.root.join("etc/kubernetes/manifests").to_str().unwrap(),
    ]);
    let report: Value = serde_saphyr::from_str(&out.stdout).unwrap();
    let v = tollgate_e2e::crd_validator("crd-clustercompliancereports.yaml");
    tollgate_e2e::assert_valid(&v, &report, "the ClusterComplianceReport");
}

/// A root that is not a node at all still gives a complete (empty) NodeInfo, exit 0, and
/// says why on stderr.
#[test]
fn a_root_that_is_not_a_node_gives_an_empty_node_info_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-root");
    let empty_proc = dir.path().join("proc");
    fs::create_dir(&empty_proc).unwrap();
    let out = output(
        tollgate()
            .args(["node", "collect", "--node-name", "x", "--root"])
            .arg(&missing)
            .arg("--proc")
            .arg(&empty_proc)
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["type"], "worker");
    assert_eq!(info(&v).len(), 24);
    assert!(info(&v).values().all(|e| e["values"] == json!([])), "{v}");
    assert!(
        out.stderr.contains("is not a readable directory"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("no kubelet process"), "{}", out.stderr);
}

/// node-collector's own NodeInfo has no name: its report is named after the file, so two
/// nodes' reports do not overwrite each other.
#[test]
fn a_nameless_node_info_is_reported_under_its_file_name() {
    let dir = tempfile::tempdir().unwrap();
    for n in ["worker-8", "worker-9"] {
        fs::write(
            dir.path().join(format!("{n}.json")),
            r#"{"apiVersion":"v1","kind":"NodeInfo","metadata":{"creationTimestamp":"2026-01-01T00:00:00Z"},"type":"worker","info":{"kubeletConfFilePermissions":{"values":[644]}}}"#,
        )
        .unwrap();
    }
    let out = tollgate_e2e::run([
        "scan",
        "--no-config",
        "-f",
        "k8s-reports-json",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let names: Vec<String> = out.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["node-worker-8", "node-worker-9"]);
}

/// `node scan -f json` of a fake node: the report.
fn node_scan(node: &FakeNode) -> Value {
    let mut c = tollgate();
    c.args(["node", "scan", "--no-config", "-f", "json", "--root"])
        .arg(&node.root)
        .arg("--proc")
        .arg(&node.proc_dir)
        .env_remove("NODE_NAME");
    let out = output(c.output().unwrap());
    assert!(out.code <= 1, "{}", out.stderr);
    out.json()
}

/// KCV0079..KCV0092 on the NodeInfo of a report: `F` where the check fails, `.` where
/// it passes, in id order.
fn kubelet_verdicts(report: &Value) -> String {
    (79..=92)
        .map(|n| {
            if failed(report, "NodeInfo", None, &format!("KCV00{n}")) {
                'F'
            } else {
                '.'
            }
        })
        .collect()
}

/// Whether check `id` failed on the resource of `kind` (and `name`, when given).
fn failed(report: &Value, kind: &str, name: Option<&str>, id: &str) -> bool {
    let r = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind && name.is_none_or(|n| r["name"] == n))
        .unwrap_or_else(|| panic!("no {kind} {name:?}"));
    r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{kind} has no {id}"))["success"]
        == false
}

#[test]
fn links_are_followed_inside_the_root_as_the_kubelet_sees_them() {
    let node = control_plane();
    let root = node.root.clone();
    let mv = |from: &str, to: &str| {
        let to = root.join(to);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::rename(root.join(from), to).unwrap();
    };
    // The kubelet's configuration lives elsewhere; an absolute link points at it.
    mv("var/lib/kubelet/config.yaml", "etc/kubelet/config.yaml");
    symlink(
        "/etc/kubelet/config.yaml",
        root.join("var/lib/kubelet/config.yaml"),
    )
    .unwrap();
    // A rotated PKI directory behind a relative link.
    mv("etc/kubernetes/pki", "etc/kubernetes/pki-2026");
    symlink("pki-2026", root.join("etc/kubernetes/pki")).unwrap();
    // A static Pod manifest that is a link, as some distributions lay them out.
    mv(
        "etc/kubernetes/manifests/etcd.yaml",
        "etc/kubernetes/static/etcd.yaml",
    );
    symlink(
        "../static/etcd.yaml",
        root.join("etc/kubernetes/manifests/etcd.yaml"),
    )
    .unwrap();
    // admin.conf points at the node's own /etc/passwd (mode 600 here): the collector's
    // /etc/passwd (644) must not be what is measured.
    fs::remove_file(root.join("etc/kubernetes/admin.conf")).unwrap();
    fs::set_permissions(root.join("etc/passwd"), fs::Permissions::from_mode(0o600)).unwrap();
    symlink("/etc/passwd", root.join("etc/kubernetes/admin.conf")).unwrap();
    // scheduler.conf points above the root: read inside it, as in a chroot.
    mv(
        "etc/kubernetes/scheduler.conf",
        "etc/kubernetes/real-scheduler.conf",
    );
    symlink(
        "../../../../../../../etc/kubernetes/real-scheduler.conf",
        root.join("etc/kubernetes/scheduler.conf"),
    )
    .unwrap();
    // The kubelet's kubeconfig dangles.
    fs::remove_file(root.join("etc/kubernetes/kubelet.conf")).unwrap();
    symlink(
        "/etc/kubernetes/gone.conf",
        root.join("etc/kubernetes/kubelet.conf"),
    )
    .unwrap();
    node.exited();
    let out = node.collect(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    // The configuration behind the link is read: its values, not the defaults.
    assert_eq!(
        values(&v, "kubeletAnonymousAuthArgumentSet"),
        json!(["false"])
    );
    assert_eq!(
        values(&v, "kubeletOnlyUseStrongCryptographic"),
        json!([
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
        ])
    );
    // Its mode is the target's, as the kubelet reads the target.
    assert_eq!(
        values(&v, "kubeletConfigYamlConfigurationFilePermission"),
        json!([600])
    );
    // The PKI behind its link, key by key as before the rotation.
    assert_eq!(
        values(&v, "kubePKIKeyFilePermissions"),
        json!([600, 640, 600])
    );
    assert_eq!(
        values(&v, "kubernetesPKICertificateFilePermissions"),
        json!([644, 600])
    );
    assert_eq!(values(&v, "adminConfFilePermissions"), json!([600]));
    assert_eq!(values(&v, "schedulerConfFilePermissions"), json!([600]));
    assert_eq!(values(&v, "kubeletConfFilePermissions"), json!([]));
    assert_eq!(values(&v, "kubeEtcdSpecFilePermission"), json!([600]));
    let links = v["metadata"]["annotations"]["tollgate.dev/collection-links"]
        .as_str()
        .unwrap();
    for link in [
        "/var/lib/kubelet/config.yaml -> /etc/kubelet/config.yaml",
        "/etc/kubernetes/pki -> pki-2026",
        "/etc/kubernetes/admin.conf -> /etc/passwd",
        "points above the root; read inside it",
    ] {
        assert!(links.contains(link), "{link}: {links}");
    }
    let problems = v["metadata"]["annotations"]["tollgate.dev/collection-problems"]
        .as_str()
        .unwrap();
    assert!(
        problems.contains(
            "kubeletConfFilePermissions: /etc/kubernetes/kubelet.conf: no such file or directory"
        ),
        "{problems}"
    );
    // node scan judges the static Pod behind its link with the control-plane checks,
    // and the node by what the links lead to (each of these failed when a link was
    // measured as itself, 777, or the configuration behind it was not read).
    let report = node_scan(&node);
    for id in [
        "KCV0054", "KCV0060", "KCV0062", "KCV0073", "KCV0079", "KCV0080", "KCV0081",
    ] {
        assert!(!failed(&report, "NodeInfo", None, id), "{id}");
    }
    let etcd = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "Pod" && r["name"] == "etcd")
        .unwrap_or_else(|| panic!("the symlinked etcd.yaml is not scanned"));
    assert_eq!(etcd["file"], "/etc/kubernetes/manifests/etcd.yaml");
    assert!(etcd["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"].as_str().unwrap().starts_with("KCV")));
}

/// The kubelet's anonymous authentication, authorization mode, read-only port and
/// streaming idle timeout in a NodeInfo.
fn kubelet_core(v: &Value) -> Value {
    json!([
        values(v, "kubeletAnonymousAuthArgumentSet"),
        values(v, "kubeletAuthorizationModeArgumentSet"),
        values(v, "kubeletReadOnlyPortArgumentSet"),
        values(v, "kubeletStreamingConnectionIdleTimeoutArgumentSet"),
    ])
}

/// A worker whose kubelet runs with `args`, with `config` at `/etc/kubelet.yaml`.
fn worker(config: Option<&str>, args: &[&str]) -> FakeNode {
    let mut n = FakeNode::new();
    n.file("etc/hostname", 0o644, "w-1\n");
    if let Some(c) = config {
        n.file("etc/kubelet.yaml", 0o600, c);
    }
    n.start("kubelet", args);
    n
}

#[test]
fn the_kubelet_runs_with_its_effective_configuration() {
    // Flags only: the command line's legacy defaults, an open kubelet. KCV0079..KCV0092:
    // anonymous auth, AlwaysAllow, no client CA, the read-only port, no kernel protection
    // fail; iptables chains, idle timeout, hostname, event QPS pass; no TLS certificate
    // nor key, no certificate rotation fail; the server certificate gate passes; no
    // cipher list fails.
    let n = worker(None, &["--kubeconfig=/etc/kubernetes/kubelet.conf"]);
    assert_eq!(
        kubelet_core(&n.collect(&[]).json()),
        json!([["true"], ["AlwaysAllow"], [10255], ["4h0m0s"]])
    );
    assert_eq!(kubelet_verdicts(&node_scan(&n)), "FFFFF....FFF.F");
    drop(n);

    // A configuration file that sets nothing about security: v1beta1's defaults; the
    // same verdicts but for anonymous auth, authorization and the read-only port.
    let n = worker(
        Some("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nclusterDomain: cluster.local\n"),
        &["--config=/etc/kubelet.yaml"],
    );
    assert_eq!(
        kubelet_core(&n.collect(&[]).json()),
        json!([["false"], ["Webhook"], [0], ["4h0m0s"]])
    );
    assert_eq!(kubelet_verdicts(&node_scan(&n)), "..F.F....FFF.F");
    drop(n);

    // Both, in conflict: the flags win, and durations read as configz prints them; the
    // flags' anonymous auth and AlwaysAllow fail, the file's read-only port 0 passes.
    let n = worker(
        Some("kind: KubeletConfiguration\nauthentication: {anonymous: {enabled: false}}\nauthorization: {mode: Webhook}\nreadOnlyPort: 0\nstreamingConnectionIdleTimeout: 1h\n"),
        &[
            "--config=/etc/kubelet.yaml",
            "--anonymous-auth=true",
            "--authorization-mode=AlwaysAllow",
            "--streaming-connection-idle-timeout=30m",
        ],
    );
    assert_eq!(
        kubelet_core(&n.collect(&[]).json()),
        json!([["true"], ["AlwaysAllow"], [0], ["30m0s"]])
    );
    assert_eq!(kubelet_verdicts(&node_scan(&n)), "FFF.F....FFF.F");
    // Given a /configz answer, it is the effective configuration: the flags are not read.
    let configz = n.root.join("configz.json");
    fs::write(
        &configz,
        r#"{"kubeletconfig": {"authentication": {"anonymous": {"enabled": false}}, "authorization": {"mode": "Webhook"}, "readOnlyPort": 0, "streamingConnectionIdleTimeout": "30m0s"}}"#,
    )
    .unwrap();
    let v = n
        .collect(&["--kubelet-config", configz.to_str().unwrap()])
        .json();
    assert_eq!(
        kubelet_core(&v),
        json!([["false"], ["Webhook"], [0], ["30m0s"]])
    );
}

#[test]
fn owners_without_a_name_are_numbers_and_fail_the_ownership_checks() {
    if !can_chown() {
        eprintln!("not root: cannot give a file an owner without a name; skipped");
        return;
    }
    let node = control_plane();
    std::os::unix::fs::lchown(
        node.root.join("etc/kubernetes/admin.conf"),
        Some(4242),
        Some(4343),
    )
    .unwrap();
    let v = node.collect(&[]).json();
    assert_eq!(values(&v, "adminConfFileOwnership"), json!(["4242:4343"]));
    let report = node_scan(&node);
    assert!(
        failed(&report, "NodeInfo", None, "KCV0061"),
        "admin.conf owned by 4242:4343"
    );
}
