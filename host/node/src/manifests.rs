//! The control plane's static Pods as the kubelet finds them: every manifest in
//! `/etc/kubernetes/manifests` on the node, links followed inside the root (a manifest
//! that is a link to `../static/etcd.yaml` is run by the kubelet, so it is judged).

use super::chroot;
use std::path::Path;

/// Where kubeadm's kubelet reads static Pods (`staticPodPath`).
pub const STATIC_POD_DIR: &str = "/etc/kubernetes/manifests";

/// Files larger than this are not read (a static Pod manifest is a few KiB).
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// A manifest read from the node: its path there and its bytes.
pub struct Manifest {
    pub node_path: String,
    pub bytes: Vec<u8>,
}

/// The manifests of the static Pod directory (`.yaml`, `.yml`, `.json`, `.manifest`,
/// not hidden), in name order, and why others could not be read.
pub fn static_pods(root: &Path) -> (Vec<Manifest>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let dir = match chroot::resolve(root, STATIC_POD_DIR) {
        Ok(d) => d,
        Err(e) => return (found, vec![format!("{STATIC_POD_DIR}: {e}")]),
    };
    let Ok(entries) = std::fs::read_dir(&dir.host) else {
        return (found, problems);
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .filter(|n| {
            [".yaml", ".yml", ".json", ".manifest"]
                .iter()
                .any(|x| n.ends_with(x))
        })
        .collect();
    names.sort();
    for name in names {
        let node_path = format!("{}/{name}", dir.node.trim_end_matches('/'));
        let read = chroot::resolve(root, &node_path).and_then(|r| {
            let meta = std::fs::metadata(&r.host)?;
            if !meta.is_file() {
                return Err(std::io::Error::other("not a regular file"));
            }
            if meta.len() > MAX_MANIFEST_BYTES {
                return Err(std::io::Error::other(format!(
                    "{} bytes, over the {MAX_MANIFEST_BYTES} read",
                    meta.len()
                )));
            }
            std::fs::read(&r.host)
        });
        match read {
            Ok(bytes) => found.push(Manifest { node_path, bytes }),
            Err(e) => problems.push(format!("{node_path}: {e}")),
        }
    }
    (found, problems)
}
