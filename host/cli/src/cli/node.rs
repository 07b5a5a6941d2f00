//! `tollgate node`: collect a node's facts as a NodeInfo object, or collect and scan.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::ScanArgs;

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Read what the CIS node checks need (file modes and owners, the kubelet's flags and
    /// configuration, master or worker) and print it as a NodeInfo object, in the shape
    /// trivy-operator's node-collector writes. Files that cannot be read leave their key
    /// empty and are listed on stderr and in the annotation
    /// tollgate.dev/collection-problems; the exit status is still 0.
    ///
    /// On a node: `sudo tollgate node collect`. In a Pod with the host mounted at /host
    /// and hostPID: `tollgate node collect --root /host`.
    Collect(CollectArgs),
    /// Collect this node and scan it in one step: the NodeInfo object, the static Pod
    /// manifests under ROOT/etc/kubernetes/manifests, and any PATHs given, with the
    /// same formats, plugins and exit status as `tollgate scan`.
    Scan(Box<NodeScanArgs>),
}

#[derive(Debug, Args)]
pub struct Source {
    /// The node's filesystem: / on the node, or where a Pod mounts the host.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// The node's process table (a Pod needs hostPID: true to see the node's).
    #[arg(long = "proc", value_name = "DIR", default_value = "/proc")]
    pub proc_dir: PathBuf,

    /// Read the kubelet's configuration from FILE (a KubeletConfiguration, or the JSON
    /// of the kubelet's /configz endpoint) instead of the file its --config names.
    #[arg(long, value_name = "FILE")]
    pub kubelet_config: Option<PathBuf>,

    /// The node's name, as the reports name it (node-NAME) [default: the kubelet's
    /// --hostname-override, else ROOT/etc/hostname].
    #[arg(long, value_name = "NAME", env = "NODE_NAME", hide_env_values = true)]
    pub node_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    #[command(flatten)]
    pub source: Source,

    #[arg(long, short, value_enum, default_value_t = NodeFormat::Json)]
    pub format: NodeFormat,

    /// Write the NodeInfo object to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Collect again every SECONDS, one object per line (for a DaemonSet whose log is
    /// read by `kubectl logs --tail=1`); 0 collects once.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub interval: u64,
}

#[derive(Debug, Args)]
pub struct NodeScanArgs {
    #[command(flatten)]
    pub source: Source,

    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NodeFormat {
    /// One line of JSON, as node-collector writes it to its log.
    Json,
    Yaml,
}
