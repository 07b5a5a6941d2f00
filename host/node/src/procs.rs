//! The node's processes, read from `/proc/<pid>/cmdline` (what `ps -ef` shows, in PID
//! order), and the components node-collector looks for among them.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One process: its id and its arguments exactly as it was started.
#[derive(Debug, Clone)]
pub struct Process {
    pub pid: u32,
    pub argv: Vec<String>,
}

/// Every process whose command line could be read, in PID order, and what could not be
/// read. A process that exits while the list is read is simply not in it; kernel
/// threads (empty command lines) are left out.
pub fn list(proc_dir: &Path) -> (Vec<Process>, Vec<(PathBuf, io::Error)>) {
    let mut procs = Vec::new();
    let mut errors = Vec::new();
    let entries = match fs::read_dir(proc_dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push((proc_dir.to_path_buf(), e));
            return (procs, errors);
        }
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let file = entry.path().join("cmdline");
        match fs::read(&file) {
            Ok(bytes) if bytes.is_empty() => {}
            Ok(bytes) => procs.push(Process {
                pid,
                argv: split_cmdline(&bytes),
            }),
            // ENOENT/ESRCH: it exited between the listing and the read.
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => {}
            Err(e) => errors.push((file, e)),
        }
    }
    procs.sort_by_key(|p| p.pid);
    (procs, errors)
}

/// NUL-separated arguments; a process that rewrote its title into one space-separated
/// string (some daemons do) is split on spaces instead.
fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_suffix('\0').unwrap_or(&text);
    if text.contains('\0') {
        text.split('\0').map(str::to_string).collect()
    } else {
        text.split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

impl Process {
    /// Whether this process is started as `names` (a binary's base name, then the first
    /// arguments of a multi-call binary such as `hyperkube kubelet`).
    pub fn runs(&self, names: &[&str]) -> bool {
        let Some((bin, rest)) = names.split_first() else {
            return false;
        };
        let Some(first) = self.argv.first() else {
            return false;
        };
        base_name(first) == *bin
            && rest.len() < self.argv.len()
            && rest.iter().zip(&self.argv[1..]).all(|(a, b)| a == b)
    }

    /// The value of a command-line flag as the component's flag parser (pflag) reads
    /// it: `--name=value`, or `--name value` for a flag that takes a value; a bare
    /// boolean flag is `true`. The last occurrence wins, as it does for the component.
    pub fn flag(&self, name: &str, boolean: bool) -> Option<String> {
        let long = format!("--{name}");
        let with_value = format!("--{name}=");
        let mut found = None;
        let mut args = self.argv.iter().skip(1).peekable();
        while let Some(arg) = args.next() {
            if let Some(v) = arg.strip_prefix(&with_value) {
                found = Some(v.to_string());
            } else if *arg == long {
                found = if boolean {
                    Some("true".to_string())
                } else {
                    args.next().cloned()
                };
            }
        }
        found
    }
}

/// The first process running any of `bins`, in node-collector's order of preference.
pub fn find<'p>(procs: &'p [Process], bins: &[&[&str]]) -> Option<&'p Process> {
    bins.iter()
        .find_map(|names| procs.iter().find(|p| p.runs(names)))
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(argv: &[&str]) -> Process {
        Process {
            pid: 1,
            argv: argv.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn flags_are_read_as_pflag_reads_them() {
        let p = process(&[
            "/usr/bin/kubelet",
            "--anonymous-auth",
            "--read-only-port=10255",
            "--client-ca-file",
            "/etc/kubernetes/pki/ca.crt",
            "--read-only-port=0",
        ]);
        assert_eq!(p.flag("anonymous-auth", true).as_deref(), Some("true"));
        assert_eq!(p.flag("read-only-port", false).as_deref(), Some("0"));
        assert_eq!(
            p.flag("client-ca-file", false).as_deref(),
            Some("/etc/kubernetes/pki/ca.crt")
        );
        assert_eq!(p.flag("tls-cert-file", false), None);
        // A longer flag that starts with the name is another flag.
        assert_eq!(
            process(&["kubelet", "--read-only-port-x=1"]).flag("read-only-port", false),
            None
        );
    }

    #[test]
    fn components_are_recognised_by_binary_and_subcommand() {
        assert!(process(&["/usr/local/bin/kubelet", "--v=2"]).runs(&["kubelet"]));
        assert!(process(&["hyperkube", "kubelet"]).runs(&["hyperkube", "kubelet"]));
        assert!(!process(&["hyperkube"]).runs(&["hyperkube", "kubelet"]));
        // The API server's `--kubelet-*` flags do not make it a kubelet.
        assert!(!process(&["kube-apiserver", "--kubelet-https=true"]).runs(&["kubelet"]));
        assert_eq!(
            split_cmdline(b"kube-proxy\0--v=2\0"),
            ["kube-proxy", "--v=2"]
        );
        assert_eq!(
            split_cmdline(b"nginx: worker process"),
            ["nginx:", "worker", "process"]
        );
    }
}
