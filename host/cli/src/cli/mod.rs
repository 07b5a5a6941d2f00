//! Command-line definitions: every argument parsed into its type here (formats,
//! severities, plugin sources, settings), every default shown from [`tollgate::defaults`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tollgate_runtime::Severity;

use tollgate::defaults;
use tollgate::plugins::PluginSource;
use tollgate::report;
use tollgate_registry::OciRef;

mod node;
pub use node::{CollectArgs, NodeCommand, NodeFormat, NodeScanArgs, Source};

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Audit Kubernetes manifests against trivy-operator's checks, every policy a sandboxed WebAssembly plugin",
    long_about = "Audit Kubernetes manifests against trivy-operator's configuration checks.\n\n\
Every policy is a WebAssembly component loaded at run time: the built-in bundle is embedded \
in the binary (or read from `plugins/` beside it), and `--plugin FILE` adds your own. Plugins run in a sandbox \
with no files, network, environment or clock, under time and memory limits.",
    after_help = "Examples:\n  tollgate scan ./manifests\n  kubectl get deploy -A -o yaml | tollgate scan -\n  \
helm template ./chart | tollgate scan --format json - > report.json\n  \
tollgate scan -f table -f sarif=results.sarif --fail-on HIGH ./manifests\n  \
tollgate compliance k8s-pss-restricted-0.1 ./manifests\n  tollgate checks\n  tollgate plugin new my-policy"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan files, directories (recursively: *.yaml, *.yml, *.json) or stdin (`-`).
    ///
    /// Exit status: 0 when no check failed, 1 when a check failed at or above --fail-on
    /// (exempted findings do not count), 2 on usage, input, configuration or plugin
    /// errors (the other results are still reported).
    Scan(ScanArgs),
    /// List the checks the loaded plugins declare: id, severity, category, title, kinds,
    /// and whether they run by default.
    Checks(ChecksArgs),
    /// How the scanned resources stand against a compliance specification:
    /// k8s-cis-1.23, k8s-nsa-1.0, k8s-pss-baseline-0.1, k8s-pss-restricted-0.1,
    /// eks-cis-1.4, rke2-cis-1.24, or a specification file. Give NodeInfo objects
    /// (`tollgate node collect`) and manifests together for the whole CIS view. Exit
    /// status 1 when a control fails.
    Compliance(ComplianceArgs),
    /// Validate or show the configuration file (tollgate.yaml).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write, inspect and test policy plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Serve a validating admission webhook over HTTPS: POST /validate answers
    /// admission.k8s.io/v1 AdmissionReviews with the same plugins, settings, exemptions
    /// and filters as `scan`; GET /healthz, /readyz, /metrics. SIGTERM drains and exits.
    ///
    /// Failed checks at or above --deny-on deny the request (HTTP 200, allowed: false,
    /// status 403 with the failed checks); those at or above --warn-on become warnings.
    /// A plugin error or a missed deadline denies under --failure-policy fail and allows
    /// with a warning under ignore. Overload is answered at once with HTTP 429, a body
    /// over --max-body-size with 413, anything that is not an AdmissionReview with 400.
    Serve(ServeArgs),
    /// Assess a node as trivy-operator's node-collector does: collect its file modes,
    /// owners and kubelet settings as a NodeInfo object (`collect`), or collect and run
    /// the CIS checks on it and on the static Pod manifests in one step (`scan`).
    #[command(subcommand)]
    Node(NodeCommand),
    /// Print a completion script for a shell, e.g.
    /// `tollgate completions bash > ~/.local/share/bash-completion/completions/tollgate`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g.
    /// `tollgate man > ~/.local/share/man/man1/tollgate.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Certificate chain to serve, PEM; its SANs must name the webhook's Service
    /// (<service>.<namespace>.svc). Reloaded when the file changes.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,

    /// Private key of the certificate, PEM. Reloaded when the file changes.
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,

    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR", default_value = defaults::SERVE_ADDR)]
    pub addr: std::net::SocketAddr,

    #[arg(long, value_name = "MS", help = deadline_help())]
    pub deadline: Option<u64>,

    /// Failed checks of this severity or worse deny [default: HIGH, or admission.deny_on].
    #[arg(long, value_name = "SEVERITY")]
    pub deny_on: Option<Severity>,

    /// Failed checks of this severity or worse, below --deny-on, become warnings
    /// [default: LOW, or admission.warn_on].
    #[arg(long, value_name = "SEVERITY")]
    pub warn_on: Option<Severity>,

    /// enforce, or audit: never deny, warn instead [default: enforce, or admission.mode].
    #[arg(long, value_parser = words::<tollgate::config::AdmissionMode>())]
    pub mode: Option<tollgate::config::AdmissionMode>,

    /// What a plugin error or a missed deadline does: fail (deny) or ignore (allow with
    /// a warning) [default: fail, or admission.failure_policy].
    #[arg(long, value_parser = words::<tollgate::config::FailurePolicy>())]
    pub failure_policy: Option<tollgate::config::FailurePolicy>,

    /// Largest request body, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = defaults::MAX_BODY_MIB)]
    pub max_body_size: usize,

    /// Evaluations at once [default: one per CPU].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// Reviews waiting for a worker before more are answered 429. A review joins the
    /// queue only once its whole body is in.
    #[arg(long, value_name = "N", default_value_t = defaults::QUEUE)]
    pub queue: usize,

    /// A plugin that runs over its time limit 3 times in a row is switched off (its
    /// reviews fail at once, and the failure policy decides); after this many seconds one
    /// review is let through to try it again.
    #[arg(long, value_name = "SECONDS", default_value_t = defaults::RECOVERY_PROBE_S)]
    pub probe_after: u64,

    /// Connections open at once; more wait in the listen backlog until one closes.
    #[arg(long, value_name = "N", default_value_t = defaults::MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Connections one client address may hold open at once; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = defaults::MAX_CONNECTIONS_PER_CLIENT)]
    pub max_connections_per_client: usize,

    /// How long a connection may stay open, in seconds; then it is closed after the
    /// answer in progress (a client that stops reading its answers holds it no longer).
    #[arg(long, value_name = "SECONDS", default_value_t = defaults::CONNECTION_LIFETIME_S)]
    pub connection_lifetime: u64,

    /// Time for a client's TLS handshake and for each request's head, in milliseconds;
    /// an idle keep-alive connection is closed after it too.
    #[arg(long, value_name = "MS", default_value_t = defaults::HEADER_TIMEOUT_MS)]
    pub header_timeout: u64,

    /// Time for a request's body once its head is in, in milliseconds (answered 408).
    #[arg(long, value_name = "MS", default_value_t = defaults::BODY_TIMEOUT_MS)]
    pub body_timeout: u64,

    /// Request bodies held at once over all connections, in MiB: a client that stalls
    /// mid-body holds what it has sent, never more; when the budget is spent, requests
    /// are answered 503 at once.
    #[arg(long, value_name = "MIB", default_value_t = defaults::BODY_BUDGET_MIB)]
    pub body_budget: usize,

    #[command(flatten)]
    pub plugins: PluginArgs,
}

fn deadline_help() -> String {
    format!(
        "Time to answer one review, in milliseconds (or admission.deadline_ms); plugins \
         are cut off by then [default: {}]",
        defaults::DEADLINE_MS
    )
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Write a ready-to-build plugin project: the WIT contract, one example check, a
    /// passing and a failing example manifest, and a README with the build command.
    New {
        /// Plugin name (lower-case letters, digits, '-').
        name: String,
        #[arg(long, value_enum, default_value_t = crate::authoring::Lang::Rust)]
        lang: crate::authoring::Lang,
        /// Where to create the project directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Path to a tollgate-kit crate (plugins/kit of a tollgate checkout), for Rust;
        /// without it the kit built into tollgate is written into the project
        /// (vendor/tollgate-kit), so the project builds anywhere.
        #[arg(long)]
        kit: Option<PathBuf>,
    },
    /// Show what a plugin is: name, version, contract, sha256, checks, imports. For a
    /// registry reference (oci://...), what its manifest says, without downloading the
    /// component.
    Inspect {
        #[arg(value_name = "FILE|REF")]
        file: PluginSource,
        #[arg(long, short, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Push a plugin component to an OCI registry as a Wasm artifact, e.g.
    /// `tollgate plugin push labels.wasm oci://registry.example.com/policies/labels:1.0`.
    /// The manifest's annotations carry the plugin's name, version, contract and check
    /// ids. Prints the pinned reference (…@sha256:<digest>). Credentials come from the
    /// docker config (`docker login`).
    Push {
        file: PathBuf,
        #[arg(value_name = "REF")]
        reference: OciRef,
        /// Another manifest annotation (repeatable), e.g.
        /// -a org.opencontainers.image.source=https://github.com/me/policies
        #[arg(long = "annotation", short = 'a', value_name = "KEY=VALUE")]
        annotations: Vec<KeyValue>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Download a registry plugin into the cache (where scans find it by digest, also
    /// offline) and, with -o, to a file. With --key, exit status 2 unless a valid
    /// signature by that key is found (as `cosign verify --key`).
    Pull {
        #[arg(value_name = "REF")]
        reference: OciRef,
        /// Also write the component to FILE.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Require a signature by this public key (cosign.pub; repeatable: any of them).
        #[arg(long = "key", value_name = "PUB")]
        keys: Vec<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Record the manifest digest of every registry plugin the configuration and
    /// --plugin name in tollgate.lock (beside the configuration file). Scans then run
    /// exactly those digests and refuse a tag that has moved until you lock again.
    Lock {
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Write a new ECDSA P-256 key pair as cosign does: cosign.key (encrypted with the
    /// password from COSIGN_PASSWORD, or asked for) and cosign.pub, here.
    Keygen {
        /// File name prefix of the key pair.
        #[arg(long, value_name = "PREFIX", default_value = "cosign")]
        output_key_prefix: String,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Sign a registry plugin with a private key, in cosign's format (the signature at
    /// tag sha256-<digest>.sig beside it); `cosign verify --key` accepts it. The key's
    /// password comes from COSIGN_PASSWORD, or is asked for.
    Sign {
        #[arg(value_name = "REF")]
        reference: OciRef,
        /// Private key (cosign.key).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// An annotation signed with the payload (repeatable); `verify -a` checks it.
        #[arg(long = "annotation", short = 'a', value_name = "KEY=VALUE")]
        annotations: Vec<KeyValue>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Check that a registry plugin carries a valid signature by a public key, as
    /// `cosign verify --key` does. Exit status 0 when one is found, 2 otherwise.
    Verify {
        #[arg(value_name = "REF")]
        reference: OciRef,
        /// Public key (cosign.pub; repeatable: any of them).
        #[arg(long = "key", value_name = "PUB", required = true)]
        keys: Vec<PathBuf>,
        /// An annotation the signed payload must carry (repeatable).
        #[arg(long = "annotation", short = 'a', value_name = "KEY=VALUE")]
        annotations: Vec<KeyValue>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Run a plugin on example manifests that declare their expected outcome (the
    /// annotation tollgate.dev/expect: "fail: ID" or "pass: ID"; or pass*.yaml and
    /// fail*.yaml files in a directory named after the check id). Exit status 1 on a
    /// mismatch, with a readable diff.
    Test {
        file: PluginSource,
        /// Example manifests (files or directories).
        #[arg(default_value = "examples")]
        examples: Vec<PathBuf>,
        /// Settings for the plugin, as JSON.
        #[arg(long, value_name = "JSON")]
        settings: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file without scanning: keys, values, check ids, plugin
    /// settings. Exit status 2 with a one-line error naming the file and key.
    Check(ConfigArgs),
    /// Print the effective configuration (defaults filled in) as YAML.
    Show(ConfigArgs),
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub plugins: PluginArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ComplianceFormat {
    Table,
    Json,
    /// A trivy-operator ClusterComplianceReport (YAML).
    K8sReport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportView {
    /// Per control: status and pass/fail counts.
    Summary,
    /// Also per resource: the controls it fails and why.
    All,
}

#[derive(Debug, Args)]
pub struct ComplianceArgs {
    /// Specification id or file.
    #[arg(value_name = "SPEC")]
    pub spec: String,

    /// Files, directories, or `-` for stdin [default: .].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[arg(long, short, value_enum, default_value_t = ComplianceFormat::Table)]
    pub format: ComplianceFormat,

    #[arg(long, value_enum, default_value_t = ReportView::Summary)]
    pub report: ReportView,

    /// Worker threads [default: one per CPU].
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<usize>,

    #[command(flatten)]
    pub plugins: PluginArgs,
}

/// How `checks` and `plugin inspect` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns for people.
    Table,
    /// Every field, as JSON.
    Json,
}

/// `-f FORMAT[=FILE]`: a report format and, optionally, the file it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatSpec {
    pub format: report::Format,
    pub file: Option<PathBuf>,
}

impl std::str::FromStr for FormatSpec {
    type Err = report::UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, file) = match s.split_once('=') {
            Some((name, file)) => (name, Some(PathBuf::from(file))),
            None => (s, None),
        };
        Ok(FormatSpec {
            format: name.parse()?,
            file,
        })
    }
}

/// `KEY=VALUE`, for annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl std::str::FromStr for KeyValue {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok(KeyValue {
                key: k.to_string(),
                value: v.to_string(),
            }),
            _ => Err("expected KEY=VALUE".to_string()),
        }
    }
}

/// How registries are reached.
#[derive(Debug, Clone, Default, Args)]
pub struct RegistryArgs {
    /// Speak plain HTTP to this registry host[:port] (repeatable). Loopback registries
    /// (localhost, 127.0.0.1) always may; every other one needs TLS without this.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,

    /// Largest plugin component accepted from a registry, in MiB; a larger declared size
    /// is refused before downloading.
    #[arg(long, value_name = "MIB", default_value_t = defaults::REGISTRY_MAX_PLUGIN_MIB)]
    pub max_plugin_size: u64,

    /// Largest manifest accepted from a registry, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = defaults::REGISTRY_MAX_MANIFEST_MIB)]
    pub max_manifest_size: u64,

    #[arg(long, value_name = "SECONDS", default_value_t = defaults::REGISTRY_DEADLINE_S,
          help = download_timeout_help())]
    pub download_timeout: u64,
}

impl RegistryArgs {
    pub fn options(&self) -> tollgate_registry::RegistryOptions {
        let limits = tollgate_registry::DownloadLimits {
            max_layer: self.max_plugin_size.max(1) << 20,
            max_manifest: self.max_manifest_size.max(1) << 20,
            deadline: std::time::Duration::from_secs(self.download_timeout.max(1)),
            ..Default::default()
        };
        tollgate_registry::RegistryOptions {
            insecure: self.insecure_registries.clone(),
            limits,
            progress: crate::app::progress::Downloads::for_terminal(),
            ..Default::default()
        }
    }
}

/// A parser for one of the library's configuration words, showing them in `--help`.
fn words<T>() -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr<Err = String> + Clone + Send + Sync + 'static,
    T: WordList,
{
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(T::words()).try_map(|s: String| s.parse::<T>())
}

/// The words a configuration enumeration is written with.
pub trait WordList {
    fn words() -> &'static [&'static str];
}

impl WordList for tollgate::config::AdmissionMode {
    fn words() -> &'static [&'static str] {
        Self::WORDS
    }
}

impl WordList for tollgate::config::FailurePolicy {
    fn words() -> &'static [&'static str] {
        Self::WORDS
    }
}

/// `--plugin-settings NAME=JSON`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSetting {
    pub name: String,
    pub json: String,
}

impl std::str::FromStr for PluginSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, json) = s
            .split_once('=')
            .ok_or_else(|| "expected NAME=JSON".to_string())?;
        Ok(PluginSetting {
            name: name.to_string(),
            json: json.to_string(),
        })
    }
}

fn download_timeout_help() -> String {
    format!(
        "Time for each artifact from a registry, in seconds; a download must also keep an \
         average of {} KiB/s after its first {} s",
        defaults::REGISTRY_MIN_RATE_KIB_S,
        defaults::REGISTRY_RATE_GRACE_S
    )
}

fn time_limit_help() -> String {
    format!(
        "Wall-clock limit for one call into a plugin, in milliseconds [default: {}]",
        defaults::TIME_LIMIT_MS
    )
}

fn memory_limit_help() -> String {
    format!(
        "Memory one plugin instance may use, in MiB [default: {}]",
        defaults::MEMORY_LIMIT_MIB
    )
}

fn formats_help() -> String {
    let names: Vec<&str> = report::Format::ALL.iter().map(|f| f.name()).collect();
    format!(
        "Report format, optionally written to a file: {}. Repeat it to get several \
         formats from one scan, e.g. `-f table -f sarif=results.sarif`",
        names.join(", ")
    )
}

#[derive(Debug, Args)]
pub struct PluginArgs {
    /// Load another plugin component (repeatable): a file (pin it with FILE@sha256:HEX)
    /// or a registry reference oci://registry/repository:tag (or @sha256:<digest>),
    /// admitted by the trust policy (trust: in the configuration).
    #[arg(long = "plugin", value_name = "FILE|REF")]
    pub plugins: Vec<PluginSource>,

    /// A public key (cosign.pub) whose signature admits registry plugins (repeatable),
    /// besides trust.keys in the configuration.
    #[arg(long = "trusted-key", value_name = "PUB")]
    pub trusted_keys: Vec<PathBuf>,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Directory of the built-in bundle [default: $TOLLGATE_PLUGIN_DIR, plugins/ beside
    /// the binary, or the bundle embedded in it].
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,

    /// Do not load the built-in bundle; only --plugin files.
    #[arg(long)]
    pub no_builtin: bool,

    /// Settings for one plugin as NAME=JSON (repeatable), e.g.
    /// advanced='{"KSV032":{"enabled":true}}'. `tollgate checks --format json`
    /// shows what each plugin accepts.
    #[arg(long = "plugin-settings", value_name = "NAME=JSON")]
    pub settings: Vec<PluginSetting>,

    /// The Kubernetes version the manifests are meant for (e.g. 1.29.0): deprecated and
    /// removed APIs (KSV107), version-gated checks (KSV01011, PSS). Given as
    /// `k8s_version` to every plugin whose settings take it; or `k8s_version:` in the
    /// configuration. Without it, as `trivy config`: no version.
    #[arg(long, value_name = "VERSION")]
    pub k8s_version: Option<String>,

    /// Configuration file [default: tollgate.yaml in the working directory, if present].
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Ignore tollgate.yaml in the working directory.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,

    #[arg(long, value_name = "MS", help = time_limit_help())]
    pub time_limit: Option<u64>,

    /// Do not read or write the compiled-plugin cache ($TOLLGATE_CACHE_DIR, else
    /// $XDG_CACHE_HOME/tollgate or ~/.cache/tollgate).
    #[arg(long)]
    pub no_cache: bool,

    #[arg(long, value_name = "MIB", help = memory_limit_help())]
    pub memory_limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files, directories, or `-` for stdin [default: . for `scan`, none for `node scan`].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[arg(long, short, value_name = "FORMAT[=FILE]", default_value = "table", help = formats_help())]
    pub format: Vec<FormatSpec>,

    /// Write the report to FILE instead of stdout (with a single --format).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Table: list the failures only, without the summary line.
    #[arg(long, short)]
    pub quiet: bool,

    /// Leave passed checks out of every report (JSON, JUnit, report objects), for big
    /// scans: each resource keeps its identity and its failed (and exempted) checks; the
    /// summary and the exit status are the same. The JSON report says "failed_only": true.
    #[arg(long)]
    pub failed_only: bool,

    /// Ignore `tollgate.dev/exempt` annotations in the manifests: only the configuration's
    /// exemptions apply (CI that gates other teams' manifests; or
    /// `ignore_annotation_exemptions: true` in the configuration).
    #[arg(long)]
    pub ignore_annotation_exemptions: bool,

    /// trivy's ignore file, read as exemptions (reason: the entry's statement, or the
    /// comment above it): `.trivyignore` (`ID [exp:YYYY-MM-DD]` per line) or
    /// `.trivyignore.yaml` (its `misconfigurations:` entries). Repeatable. A
    /// `.trivyignore` or `.trivyignore.yaml` in a scanned directory is read without it.
    #[arg(long, value_name = "FILE")]
    pub ignorefile: Vec<PathBuf>,

    /// A values file for the Helm charts found (a directory with Chart.yaml is rendered
    /// with `helm template` from PATH, and its templates are never read as manifests).
    /// Repeatable, in order.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Helm charts and kustomizations"
    )]
    pub helm_values: Vec<PathBuf>,

    /// A value for the Helm charts found, as `helm --set` takes it. Repeatable.
    #[arg(
        long,
        value_name = "KEY=VALUE",
        help_heading = "Helm charts and kustomizations"
    )]
    pub helm_set: Vec<String>,

    /// The release name charts are rendered with.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "release-name",
        help_heading = "Helm charts and kustomizations"
    )]
    pub helm_release: String,

    /// The namespace charts are rendered into (`helm template --namespace`).
    #[arg(
        long,
        value_name = "NAMESPACE",
        help_heading = "Helm charts and kustomizations"
    )]
    pub helm_namespace: Option<String>,

    /// Exit with status 1 only for failed checks of this severity or worse: LOW,
    /// MEDIUM, HIGH or CRITICAL [default: LOW, or fail_on in the configuration].
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,

    /// Scan only these namespaces (glob, repeatable; cluster-scoped objects always pass).
    #[arg(long = "include-namespace", value_name = "GLOB")]
    pub include_namespaces: Vec<String>,

    /// Skip these namespaces (glob, repeatable), e.g. --exclude-namespace 'kube-*'.
    #[arg(long = "exclude-namespace", value_name = "GLOB")]
    pub exclude_namespaces: Vec<String>,

    /// Scan only these kinds (glob, repeatable).
    #[arg(long = "include-kind", value_name = "GLOB")]
    pub include_kinds: Vec<String>,

    /// Skip these kinds (glob, repeatable).
    #[arg(long = "exclude-kind", value_name = "GLOB")]
    pub exclude_kinds: Vec<String>,

    /// Only count checks of these severities, comma-separated (e.g. HIGH,CRITICAL).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub severity: Vec<Severity>,

    /// Largest manifest file read, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = defaults::MAX_FILE_SIZE_MIB)]
    pub max_file_size: u64,

    /// Worker threads for parsing and evaluation [default: one per CPU].
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<usize>,

    /// Documents held in memory at once; bounds memory on huge inputs.
    #[arg(long, value_name = "N", default_value_t = defaults::WINDOW)]
    pub window: usize,

    /// Resources per call into a plugin.
    #[arg(long, value_name = "N", default_value_t = defaults::BATCH, hide = true)]
    pub batch: usize,

    #[command(flatten)]
    pub plugins: PluginArgs,
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    #[arg(long, short, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,

    #[command(flatten)]
    pub plugins: PluginArgs,
}
