//! Paths under `--root` as the node's processes see them: the root directory is the
//! node's `/`, as after `chroot`. A symbolic link's absolute target is read from the
//! root (`/etc/kubelet/config.yaml` is ROOT/etc/kubelet/config.yaml, never the
//! collector's own `/etc`), a relative one from the link's directory, `..` never climbs
//! above the root, and at most [`MAX_LINKS`] links are followed (Linux's own bound), so
//! a loop ends as an error instead of a hang.
//!
//! Threat: the node's filesystem is what is being judged, and a link may point anywhere
//! (a rotation tool's `pki -> pki-2026`, a dangling link, a loop, `../../../../etc`).
//! Nothing here reads outside the root: a link pointing above it is read inside it, as
//! the kubelet in a chroot would, and said so.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Links followed while resolving one path (Linux's MAXSYMLINKS).
pub const MAX_LINKS: usize = 40;

/// Where a node path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The node path after every link, absolute.
    pub node: String,
    /// The same under the root, where the collector reads it.
    pub host: PathBuf,
    /// Each link followed: "LINK -> TARGET".
    pub links: Vec<String>,
    /// A link or `..` pointed above the root and was read inside it.
    pub clamped: bool,
}

/// Resolves `node_path` under `root`. A missing component ends the resolution there,
/// the rest appended as written (the caller's read or stat then says "not found"); only
/// a link loop (more than [`MAX_LINKS`] links) is an error.
pub fn resolve(root: &Path, node_path: &str) -> io::Result<Resolved> {
    let mut todo: VecDeque<String> = components(node_path);
    let mut done: Vec<String> = Vec::new();
    let mut links = Vec::new();
    let mut clamped = false;
    let mut missing = false;
    while let Some(c) = todo.pop_front() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                if done.pop().is_none() {
                    clamped = true;
                }
                continue;
            }
            _ => {}
        }
        if missing {
            done.push(c);
            continue;
        }
        let here = host_of(root, &done).join(&c);
        match fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                if links.len() == MAX_LINKS {
                    // What the kernel says of a loop (ELOOP).
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = fs::read_link(&here)?;
                let target = target.to_string_lossy().into_owned();
                links.push(format!("{} -> {target}", node_of(&done, Some(&c))));
                if target.starts_with('/') {
                    done.clear();
                }
                for (i, t) in components(&target).into_iter().enumerate() {
                    todo.insert(i, t);
                }
            }
            Ok(_) => done.push(c),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing = true;
                done.push(c);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Resolved {
        node: node_of(&done, None),
        host: host_of(root, &done),
        links,
        clamped,
    })
}

fn components(path: &str) -> VecDeque<String> {
    path.split('/').map(str::to_string).collect()
}

fn host_of(root: &Path, parts: &[String]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(parts);
    p
}

fn node_of(parts: &[String], last: Option<&str>) -> String {
    let mut s = String::new();
    for p in parts.iter().map(String::as_str).chain(last) {
        s.push('/');
        s.push_str(p);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("etc/kubelet")).unwrap();
        fs::create_dir_all(r.join("var/lib/kubelet")).unwrap();
        fs::create_dir_all(r.join("etc/kubernetes/pki-2026")).unwrap();
        fs::write(r.join("etc/kubelet/config.yaml"), "x").unwrap();
        // Absolute: read from the root, not from the collector's /etc.
        symlink(
            "/etc/kubelet/config.yaml",
            r.join("var/lib/kubelet/config.yaml"),
        )
        .unwrap();
        let x = resolve(r, "/var/lib/kubelet/config.yaml").unwrap();
        assert_eq!(x.host, r.join("etc/kubelet/config.yaml"));
        assert_eq!(x.node, "/etc/kubelet/config.yaml");
        assert_eq!(
            x.links,
            ["/var/lib/kubelet/config.yaml -> /etc/kubelet/config.yaml"]
        );
        // A directory link in the middle of the path, relative.
        symlink("pki-2026", r.join("etc/kubernetes/pki")).unwrap();
        let x = resolve(r, "/etc/kubernetes/pki/ca.crt").unwrap();
        assert_eq!(x.host, r.join("etc/kubernetes/pki-2026/ca.crt"));
        // Above the root: clamped to it, as in a chroot.
        symlink("../../../../../../etc/kubelet", r.join("etc/kubernetes/up")).unwrap();
        let x = resolve(r, "/etc/kubernetes/up/config.yaml").unwrap();
        assert_eq!(x.host, r.join("etc/kubelet/config.yaml"));
        assert!(x.clamped);
        // A loop is an error, not a hang.
        symlink("b", r.join("etc/a")).unwrap();
        symlink("a", r.join("etc/b")).unwrap();
        let e = resolve(r, "/etc/a").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        // A dangling link resolves to where its target would be.
        symlink("/nowhere/file", r.join("etc/dangling")).unwrap();
        let x = resolve(r, "/etc/dangling").unwrap();
        assert_eq!(x.host, r.join("nowhere/file"));
        assert!(!x.host.exists());
    }
}
