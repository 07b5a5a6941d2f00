//! One NodeInfo object from a node's filesystem and processes: every key node-collector
//! fills for the KCV checks (`../shared/spec/node-collector.md` section 5), measured
//! natively, and a list of what could not be read and why.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::files::{permission_value, Root};
use super::kubelet::{self, SETTINGS};
use super::paths::{self, Candidates};
use super::procs::{self, Process};

/// Where to collect from.
#[derive(Debug, Clone)]
pub struct Options {
    /// The node's filesystem: `/` on the node, `/host` in a Pod that mounts it there.
    pub root: PathBuf,
    /// The node's process table (with `hostPID: true`, the Pod's own `/proc`).
    pub proc_dir: PathBuf,
    /// A KubeletConfiguration file (or a `/configz` answer) to read instead of the one
    /// the running kubelet names with `--config`.
    pub kubelet_config: Option<PathBuf>,
    pub node_name: Option<String>,
}

/// Something the collector could not read; the key it belongs to is then empty or absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The NodeInfo key, or what was being read (`processes`, `kubelet configuration`).
    pub key: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// A collected node.
#[derive(Debug, Clone)]
pub struct Collected {
    /// The NodeInfo object, in node-collector's shape.
    pub node_info: Value,
    pub problems: Vec<Problem>,
}

/// The annotation that lists a NodeInfo's [`Problem`]s, one per line.
pub const PROBLEMS_ANNOTATION: &str = "tollgate.dev/collection-problems";
/// The symbolic links followed to read the node's files, one `LINK -> TARGET` a line.
pub const LINKS_ANNOTATION: &str = "tollgate.dev/collection-links";

/// What one key measures.
enum Measure {
    Permission(Target),
    Ownership(Target),
}

/// Which file(s) a key is about.
enum Target {
    /// The first candidate that exists, else the default.
    File(&'static Candidates),
    /// The parent directory of the first existing candidate (else of the default).
    ParentOf(&'static Candidates),
    Fixed(&'static str),
    /// `/*/cni/*`: every entry one level below a top-level `cni` directory.
    Cni,
    /// Every entry below the PKI directory (hidden ones excluded).
    PkiEntries,
    /// Every file below the PKI directory whose name ends with the suffix.
    PkiFiles(&'static str),
    /// The file named by kube-proxy's `--kubeconfig`.
    ProxyKubeconfig,
    /// The kubelet's client CA file (`--client-ca-file`, else its configuration's).
    KubeletClientCa,
}

use Measure::{Ownership as Own, Permission as Perm};
use Target::*;

/// The file keys: name, master-only, measure. Master-only keys are absent on a worker,
/// as node-collector leaves them out there.
const FILE_KEYS: &[(&str, bool, Measure)] = &[
    (
        "kubeAPIServerSpecFilePermission",
        true,
        Perm(File(&paths::APISERVER_CONFS)),
    ),
    (
        "kubeAPIServerSpecFileOwnership",
        true,
        Own(File(&paths::APISERVER_CONFS)),
    ),
    (
        "kubeControllerManagerSpecFilePermission",
        true,
        Perm(File(&paths::CONTROLLERMANAGER_CONFS)),
    ),
    (
        "kubeControllerManagerSpecFileOwnership",
        true,
        Own(File(&paths::CONTROLLERMANAGER_CONFS)),
    ),
    (
        "kubeSchedulerSpecFilePermission",
        true,
        Perm(File(&paths::SCHEDULER_CONFS)),
    ),
    (
        "kubeSchedulerSpecFileOwnership",
        true,
        Own(File(&paths::SCHEDULER_CONFS)),
    ),
    (
        "kubeEtcdSpecFilePermission",
        true,
        Perm(File(&paths::ETCD_CONFS)),
    ),
    (
        "kubeEtcdSpecFileOwnership",
        true,
        Own(File(&paths::ETCD_CONFS)),
    ),
    ("containerNetworkInterfaceFilePermissions", true, Perm(Cni)),
    ("containerNetworkInterfaceFileOwnership", true, Own(Cni)),
    (
        "etcdDataDirectoryPermissions",
        true,
        Perm(ParentOf(&paths::ETCD_DATADIRS)),
    ),
    (
        "etcdDataDirectoryOwnership",
        true,
        Own(ParentOf(&paths::ETCD_DATADIRS)),
    ),
    (
        "adminConfFilePermissions",
        true,
        Perm(Fixed(paths::ADMIN_CONF)),
    ),
    (
        "adminConfFileOwnership",
        true,
        Own(Fixed(paths::ADMIN_CONF)),
    ),
    (
        "schedulerConfFilePermissions",
        true,
        Perm(File(&paths::SCHEDULER_KUBECONFIG)),
    ),
    (
        "schedulerConfFileOwnership",
        true,
        Own(File(&paths::SCHEDULER_KUBECONFIG)),
    ),
    (
        "controllerManagerConfFilePermissions",
        true,
        Perm(File(&paths::CONTROLLERMANAGER_KUBECONFIG)),
    ),
    (
        "controllerManagerConfFileOwnership",
        true,
        Own(File(&paths::CONTROLLERMANAGER_KUBECONFIG)),
    ),
    ("kubePKIDirectoryFileOwnership", true, Own(PkiEntries)),
    ("kubePKIKeyFilePermissions", true, Perm(PkiFiles(".key"))),
    (
        "kubernetesPKICertificateFilePermissions",
        true,
        Perm(PkiFiles(".crt")),
    ),
    (
        "kubeletServiceFilePermissions",
        false,
        Perm(File(&paths::KUBELET_SVC)),
    ),
    (
        "kubeletServiceFileOwnership",
        false,
        Own(File(&paths::KUBELET_SVC)),
    ),
    (
        "kubeconfigFileExistsPermissions",
        false,
        Perm(ProxyKubeconfig),
    ),
    ("kubeconfigFileExistsOwnership", false, Own(ProxyKubeconfig)),
    (
        "kubeletConfFilePermissions",
        false,
        Perm(File(&paths::KUBELET_KUBECONFIG)),
    ),
    (
        "kubeletConfFileOwnership",
        false,
        Own(File(&paths::KUBELET_KUBECONFIG)),
    ),
    (
        "certificateAuthoritiesFilePermissions",
        false,
        Perm(KubeletClientCa),
    ),
    (
        "certificateAuthoritiesFileOwnership",
        false,
        Own(KubeletClientCa),
    ),
    (
        "kubeletConfigYamlConfigurationFilePermission",
        false,
        Perm(File(&paths::KUBELET_CONFS)),
    ),
    (
        "kubeletConfigYamlConfigurationFileOwnership",
        false,
        Own(File(&paths::KUBELET_CONFS)),
    ),
];

struct Collector {
    root: Root,
    proc_dir: PathBuf,
    procs: Vec<Process>,
    kubelet: Option<usize>,
    proxy: Option<usize>,
    config: Option<Value>,
    /// How the kubelet got its configuration (which decides its defaults).
    source: kubelet::Source,
    problems: Vec<Problem>,
    /// Links followed, "LINK -> TARGET", for the notes annotation.
    links: Vec<String>,
}

/// Collect one node. Never fails: what cannot be read leaves its key empty (or absent)
/// and is listed in [`Collected::problems`] and in the object's annotations.
pub fn collect(opts: &Options) -> Collected {
    let root = Root::new(&opts.root);
    let mut problems = Vec::new();
    if fs::metadata(&opts.root)
        .map(|m| !m.is_dir())
        .unwrap_or(true)
    {
        problems.push(problem(
            "root",
            format!("{} is not a readable directory", opts.root.display()),
        ));
    }
    let (procs, errors) = procs::list(&opts.proc_dir);
    for (file, e) in errors {
        problems.push(problem(
            "processes",
            format!("{}: {}", file.display(), reason(&e)),
        ));
    }
    let index = |bins| {
        procs::find(&procs, bins).map(|p| procs.iter().position(|q| q.pid == p.pid).unwrap_or(0))
    };
    let kubelet = index(paths::KUBELET_BINS);
    let proxy = index(paths::PROXY_BINS);
    if kubelet.is_none() {
        problems.push(problem(
            "processes",
            format!(
                "no kubelet process in {}: the kubelet keys are empty",
                opts.proc_dir.display()
            ),
        ));
    }
    if proxy.is_none() {
        problems.push(problem(
            "processes",
            "no kube-proxy process: kubeconfigFileExistsPermissions and kubeconfigFileExistsOwnership are empty"
                .to_string(),
        ));
    }
    let mut c = Collector {
        root,
        proc_dir: opts.proc_dir.clone(),
        procs,
        kubelet,
        proxy,
        config: None,
        source: kubelet::Source::Flags,
        problems,
        links: Vec::new(),
    };
    c.config = c.kubelet_config(opts.kubelet_config.as_deref());
    let master = paths::MASTER_MARKERS.iter().all(|p| c.root.exists(p));

    let mut info = Map::new();
    for (key, master_only, measure) in FILE_KEYS {
        if *master_only && !master {
            continue;
        }
        let values = c.measure(key, measure);
        info.insert(key.to_string(), values_entry(values));
    }
    let kubelet = c.kubelet.map(|i| &c.procs[i]);
    for s in SETTINGS {
        info.insert(
            s.key.to_string(),
            values_entry(kubelet::values(s, kubelet, c.config.as_ref(), c.source)),
        );
    }

    let mut metadata = Map::new();
    metadata.insert(
        "creationTimestamp".into(),
        tollgate::clock::timestamp().into(),
    );
    if let Some(name) = c.node_name(opts) {
        metadata.insert("name".into(), name.into());
    }
    let mut annotations = Map::new();
    if !c.problems.is_empty() {
        let lines: Vec<String> = c.problems.iter().map(Problem::to_string).collect();
        annotations.insert(PROBLEMS_ANNOTATION.into(), lines.join("\n").into());
    }
    if !c.links.is_empty() {
        c.links.sort();
        c.links.dedup();
        annotations.insert(LINKS_ANNOTATION.into(), c.links.join("\n").into());
    }
    if !annotations.is_empty() {
        metadata.insert("annotations".into(), annotations.into());
    }
    let node_info = serde_json::json!({
        "apiVersion": "v1",
        "kind": "NodeInfo",
        "metadata": metadata,
        "type": if master { "master" } else { "worker" },
        "info": info,
    });
    Collected {
        node_info,
        problems: c.problems,
    }
}

fn values_entry(values: Vec<Value>) -> Value {
    serde_json::json!({ "values": values })
}

fn problem(key: &str, reason: String) -> Problem {
    Problem {
        key: key.to_string(),
        reason,
    }
}

/// An I/O error as a short reason (`permission denied`, `not found`), without the
/// "(os error 13)" suffix.
fn reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_lowercase(),
        None => text,
    }
}

impl Collector {
    fn measure(&mut self, key: &str, measure: &Measure) -> Vec<Value> {
        let (target, permission) = match measure {
            Perm(t) => (t, true),
            Own(t) => (t, false),
        };
        let files = self.files(key, target);
        let mut values = Vec::new();
        for (shown, node) in files {
            let real = match self.follow(&node) {
                Ok(r) => r,
                Err(e) => {
                    self.problems
                        .push(problem(key, format!("{shown}: {}", reason(&e))));
                    continue;
                }
            };
            match fs::symlink_metadata(&real) {
                Ok(meta) if permission => values.push(permission_value(meta.mode_bits())),
                Ok(meta) => values.push(Value::from(self.root.ownership(&meta))),
                Err(e) => {
                    let mut why = format!("{shown}: {}", reason(&e));
                    if let (File(c), io::ErrorKind::NotFound) = (target, e.kind()) {
                        why += &format!(
                            " (nor any other place node-collector looks, {})",
                            c.placeholder
                        );
                    }
                    self.problems.push(problem(key, why));
                }
            }
        }
        values
    }

    /// The files a key is about: (the path as the node names it, where it is here).
    fn files(&mut self, key: &str, target: &Target) -> Vec<(String, PathBuf)> {
        let one = |root: &Root, p: &str| vec![(p.to_string(), root.host(p))];
        match target {
            File(c) => {
                let p = self.first(c);
                one(&self.root, p)
            }
            ParentOf(c) => {
                let p = self.first(c);
                let parent = Path::new(p)
                    .parent()
                    .map(|d| d.to_string_lossy().into_owned());
                one(&self.root, parent.as_deref().unwrap_or("/"))
            }
            Fixed(p) => one(&self.root, p),
            Cni => self.cni(key),
            PkiEntries | PkiFiles(_) => {
                let ca = self.first(&paths::KUBELET_CAFILE);
                let dir = Path::new(ca)
                    .parent()
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let suffix = match target {
                    PkiFiles(s) => Some(*s),
                    _ => None,
                };
                let (entries, errors) = self.root.walk(&dir, suffix.is_some());
                for (d, e) in errors {
                    self.problems
                        .push(problem(key, format!("{d}: {}", reason(&e))));
                }
                entries
                    .into_iter()
                    .filter(|(p, meta)| suffix.is_none_or(|s| p.ends_with(s) && !meta.is_dir()))
                    .map(|(p, _)| {
                        let real = self.root.host(&p);
                        (p, real)
                    })
                    .collect()
            }
            ProxyKubeconfig => {
                let Some(p) = self.proxy.map(|i| &self.procs[i]) else {
                    return Vec::new();
                };
                match p.flag("kubeconfig", false) {
                    Some(path) => vec![self.seen_by(p, &path)],
                    None => Vec::new(),
                }
            }
            KubeletClientCa => {
                let Some(p) = self.kubelet.map(|i| &self.procs[i]) else {
                    return Vec::new();
                };
                let from_config = self
                    .config
                    .as_ref()
                    .and_then(|c| c.pointer("/authentication/x509/clientCAFile"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                match p.flag("client-ca-file", false).or(from_config) {
                    Some(path) => vec![self.seen_by(p, &path)],
                    None => Vec::new(),
                }
            }
        }
    }

    /// Where a file (host path under the root, or a path in a process's own root) is
    /// read: links followed inside the root, each noted.
    fn follow(&mut self, host: &Path) -> io::Result<PathBuf> {
        // A path in /proc/<pid>/root: the kernel resolves it in the process's own root.
        if host.starts_with(&self.proc_dir) {
            return Ok(host.to_path_buf());
        }
        let Ok(rel) = host.strip_prefix(self.root.dir()) else {
            return Ok(host.to_path_buf());
        };
        let r = self.root.resolve(&format!("/{}", rel.to_string_lossy()))?;
        if r.clamped {
            self.links.push(format!(
                "{} points above the root; read inside it",
                r.links.last().map(String::as_str).unwrap_or("a link")
            ));
        }
        self.links.extend(r.links);
        Ok(r.host)
    }

    /// The first candidate that exists on the node, else the default.
    fn first(&self, c: &'static Candidates) -> &'static str {
        c.paths
            .iter()
            .copied()
            .find(|p| self.root.exists(p))
            .unwrap_or(c.default)
    }

    /// A file a process names: on the node's filesystem, or, for a process in a
    /// container (kube-proxy reads its kubeconfig from a ConfigMap volume), where that
    /// process sees it.
    fn seen_by(&self, p: &Process, path: &str) -> (String, PathBuf) {
        let on_node = self.root.host(path);
        if self.root.exists(path) {
            return (path.to_string(), on_node);
        }
        let in_process = self
            .proc_dir
            .join(p.pid.to_string())
            .join("root")
            .join(path.trim_start_matches('/'));
        if in_process.symlink_metadata().is_ok() {
            return (path.to_string(), in_process);
        }
        (path.to_string(), on_node)
    }

    fn cni(&mut self, key: &str) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        let top = match self.root.list("/") {
            Ok(t) => t,
            Err(e) => {
                self.problems
                    .push(problem(key, format!("/: {}", reason(&e))));
                return out;
            }
        };
        for dir in top.iter().filter(|d| !d.starts_with('.')) {
            let cni = format!("/{dir}/cni");
            if !self.root.lstat(&cni).map(|m| m.is_dir()).unwrap_or(false) {
                continue;
            }
            match self.root.list(&cni) {
                Ok(names) => {
                    for n in names.into_iter().filter(|n| !n.starts_with('.')) {
                        let p = format!("{cni}/{n}");
                        let real = self.root.host(&p);
                        out.push((p, real));
                    }
                }
                Err(e) => self
                    .problems
                    .push(problem(key, format!("{cni}: {}", reason(&e)))),
            }
        }
        out
    }

    /// The kubelet's configuration, and how it got it: the file given (taken as
    /// effective), else the one the kubelet's `--config` names, else none for a kubelet
    /// started without `--config` (it reads no file: its flags and legacy defaults are
    /// all), else, with no kubelet process to ask, kubeadm's
    /// `/var/lib/kubelet/config.yaml` when it exists.
    fn kubelet_config(&mut self, given: Option<&Path>) -> Option<Value> {
        let kubelet = self.kubelet.map(|i| &self.procs[i]);
        let named = kubelet.map(|p| p.flag("config", false));
        let (shown, file) = match (given, named) {
            (Some(f), _) => {
                self.source = kubelet::Source::Given;
                (f.display().to_string(), f.to_path_buf())
            }
            (None, Some(Some(path))) => {
                self.source = kubelet::Source::File;
                (path.clone(), self.root.host(&path))
            }
            (None, Some(None)) => {
                self.source = kubelet::Source::Flags;
                return None;
            }
            (None, None) if self.root.exists("/var/lib/kubelet/config.yaml") => {
                self.source = kubelet::Source::File;
                (
                    "/var/lib/kubelet/config.yaml".to_string(),
                    self.root.host("/var/lib/kubelet/config.yaml"),
                )
            }
            (None, None) => return None,
        };
        // The kubelet's path is the node's: links followed inside the root.
        let file = if given.is_some() {
            file
        } else {
            match self.follow(&file) {
                Ok(f) => f,
                Err(e) => {
                    self.problems.push(problem(
                        "kubelet configuration",
                        format!("{shown}: {}", reason(&e)),
                    ));
                    self.source = kubelet::Source::Unreadable;
                    return None;
                }
            }
        };
        let text = match fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                self.problems.push(problem(
                    "kubelet configuration",
                    format!("{shown}: {}", reason(&e)),
                ));
                self.source = kubelet::Source::Unreadable;
                return None;
            }
        };
        match serde_saphyr::from_str::<Value>(&text) {
            Ok(doc @ Value::Object(_)) => Some(kubelet::configuration(doc)),
            Ok(_) => {
                self.problems.push(problem(
                    "kubelet configuration",
                    format!("{shown}: not a mapping"),
                ));
                self.source = kubelet::Source::Unreadable;
                None
            }
            Err(e) => {
                self.problems
                    .push(problem("kubelet configuration", format!("{shown}: {e}")));
                self.source = kubelet::Source::Unreadable;
                None
            }
        }
    }

    fn node_name(&self, opts: &Options) -> Option<String> {
        if let Some(n) = &opts.node_name {
            return Some(n.clone());
        }
        let kubelet = self.kubelet.map(|i| &self.procs[i]);
        if let Some(n) = kubelet.and_then(|p| p.flag("hostname-override", false)) {
            return Some(n);
        }
        let read = |p: &Path| {
            fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let hostname = self
            .root
            .resolve("/etc/hostname")
            .map_or_else(|_| self.root.host("/etc/hostname"), |r| r.host);
        read(&hostname).or_else(|| read(&opts.proc_dir.join("sys/kernel/hostname")))
    }
}

/// The permission bits of a file (the mode without its type).
trait ModeBits {
    fn mode_bits(&self) -> u32;
}

impl ModeBits for fs::Metadata {
    fn mode_bits(&self) -> u32 {
        std::os::unix::fs::PermissionsExt::mode(&self.permissions())
    }
}
