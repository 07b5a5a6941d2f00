//! File facts as node-collector's `stat -c %a` and `stat -c %U:%G` print them, read
//! natively under a root directory (the node's filesystem, or a host mounted at `/host`).
//!
//! Paths are resolved as the node's processes see them, with the root as `/`
//! ([`super::chroot`]): a link's absolute target is read under the root, never from the
//! collector's own filesystem, and a file's mode and owner are its target's (what the
//! kubelet reads). Owner and group names come from the node's own `/etc/passwd` and
//! `/etc/group` under the root, because the ids on disk are the node's; an id they do
//! not name is printed as its number.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// A file found below a directory: its node path and what `lstat` says of it.
pub type Entry = (String, fs::Metadata);

/// The node's filesystem, seen from where the collector runs.
pub struct Root {
    dir: PathBuf,
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

/// `stat -c %a`: the permission bits' octal digits read as a decimal number, so mode
/// 0644 is 644 and a setuid 0755 is 4755 (how node-collector's values are typed).
pub fn permission_value(mode: u32) -> Value {
    let digits = format!("{:o}", mode & 0o7777);
    Value::from(digits.parse::<u64>().unwrap_or(0))
}

impl Root {
    pub fn new(dir: &Path) -> Self {
        let file =
            |p: &str| super::chroot::resolve(dir, p).map_or_else(|_| dir.join(&p[1..]), |r| r.host);
        Root {
            users: accounts(&file("/etc/passwd")),
            groups: accounts(&file("/etc/group")),
            dir: dir.to_path_buf(),
        }
    }

    /// Where a node path leads, links followed inside the root.
    pub fn resolve(&self, node_path: &str) -> io::Result<super::chroot::Resolved> {
        super::chroot::resolve(&self.dir, node_path)
    }

    /// The root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a node path (absolute, as node-collector names it) is under the root,
    /// links not followed (see [`Root::resolve`]).
    pub fn host(&self, node_path: &str) -> PathBuf {
        self.dir.join(node_path.trim_start_matches('/'))
    }

    /// Whether a node path leads to something (a dangling link does not).
    pub fn exists(&self, node_path: &str) -> bool {
        self.resolve(node_path)
            .is_ok_and(|r| fs::symlink_metadata(r.host).is_ok())
    }

    pub fn lstat(&self, node_path: &str) -> io::Result<fs::Metadata> {
        fs::symlink_metadata(self.host(node_path))
    }

    /// `user:group` of a file; an id the node's account files do not name is printed as
    /// the number (`stat` would print `UNKNOWN`, which tells nobody anything).
    pub fn ownership(&self, meta: &fs::Metadata) -> String {
        let name = |map: &HashMap<u32, String>, id: u32| match map.get(&id) {
            Some(n) => n.clone(),
            None if id == 0 => "root".to_string(),
            None => id.to_string(),
        };
        format!(
            "{}:{}",
            name(&self.users, meta.uid()),
            name(&self.groups, meta.gid())
        )
    }

    /// Every entry below `dir` (node path), depth first in name order, not following
    /// links; `hidden` decides whether dot-entries (and what is below them) count.
    /// Directories that cannot be listed are returned as errors beside the entries found.
    pub fn walk(&self, dir: &str, hidden: bool) -> (Vec<Entry>, Vec<(String, io::Error)>) {
        let mut found = Vec::new();
        let mut errors = Vec::new();
        // The directory itself may be a link (`pki -> pki-2026`): walk where it leads.
        let dir = match self.resolve(dir) {
            Ok(r) => r.node,
            Err(e) => return (found, vec![(dir.to_string(), e)]),
        };
        let mut stack = vec![dir.trim_end_matches('/').to_string()];
        while let Some(d) = stack.pop() {
            let entries = match self.list(&d) {
                Ok(e) => e,
                Err(e) => {
                    errors.push((d, e));
                    continue;
                }
            };
            let mut below = Vec::new();
            for name in entries {
                if !hidden && name.starts_with('.') {
                    continue;
                }
                let path = format!("{d}/{name}");
                match self.lstat(&path) {
                    Ok(meta) => {
                        if meta.is_dir() {
                            below.push(path.clone());
                        }
                        found.push((path, meta));
                    }
                    // Gone between the listing and the stat: it is not there.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => errors.push((path, e)),
                }
            }
            stack.extend(below.into_iter().rev());
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        (found, errors)
    }

    /// The names in a directory (node path, links followed), sorted as a shell glob
    /// sorts them.
    pub fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = fs::read_dir(self.resolve(dir)?.host)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// `name:x:id:...` lines of a passwd or group file; a missing file is an empty table.
fn accounts(file: &Path) -> HashMap<u32, String> {
    let Ok(text) = fs::read_to_string(file) else {
        return HashMap::new();
    };
    let mut map = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(id)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(id) = id.parse::<u32>() {
            // The first entry for an id wins, as getpwuid returns it.
            map.entry(id).or_insert_with(|| name.to_string());
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_the_octal_digits() {
        assert_eq!(permission_value(0o100644), Value::from(644));
        assert_eq!(permission_value(0o104755), Value::from(4755));
        assert_eq!(permission_value(0o040700), Value::from(700));
        assert_eq!(permission_value(0o100000), Value::from(0));
    }

    #[test]
    fn account_files_map_ids_to_the_first_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("etc")).unwrap();
        fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\netcd:x:998:998::/var/lib/etcd:/bin/false\ntoor:x:0:0::/:/bin/sh\nbroken\n",
        )
        .unwrap();
        let root = Root::new(dir.path());
        assert_eq!(root.users.get(&0).map(String::as_str), Some("root"));
        assert_eq!(root.users.get(&998).map(String::as_str), Some("etcd"));
        assert!(root.groups.is_empty());
    }
}
