//! Runs a parsed command line: the glue between CLI, input, plugins and reports.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tollgate_runtime::{Limits, PluginError, Sandbox, Severity};

use crate::cli::{
    ChecksArgs, Cli, Command, ComplianceArgs, ComplianceFormat, ConfigArgs, ConfigCommand, Format,
    PluginArgs, PluginCommand, ReportView, ScanArgs,
};
use crate::config::{self, Config};
use crate::exempt;
use crate::input::InputLimits;
use crate::pipeline;
use crate::plugins::{self, ActivePlugin, PluginSpec};
use crate::report::{self, SeverityFilter};

pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Scan(args) => scan(args),
        Command::Checks(args) => checks(args),
        Command::Compliance(args) => compliance(args),
        Command::Config(ConfigCommand::Check(args)) => config_check(args),
        Command::Config(ConfigCommand::Show(args)) => config_show(args),
        Command::Plugin(cmd) => plugin_command(cmd),
    }
}

fn parse_settings(args: &PluginArgs) -> Result<Vec<(String, String)>> {
    args.settings
        .iter()
        .map(|s| {
            let (name, json) = s
                .split_once('=')
                .with_context(|| format!("--plugin-settings '{s}': expected NAME=JSON"))?;
            serde_json::from_str::<serde_json::Value>(json)
                .with_context(|| format!("--plugin-settings for '{name}': not valid JSON"))?;
            Ok((name.to_string(), json.to_string()))
        })
        .collect()
}

/// Plugins ready to run, the plugin failures to report, and the configuration in force.
struct Setup {
    active: Vec<ActivePlugin>,
    errors: Vec<PluginError>,
    config: Config,
    config_file: Option<PathBuf>,
}

impl Setup {
    fn catalogue(&self) -> Vec<&tollgate_runtime::CheckInfo> {
        self.active.iter().flat_map(|p| p.checks()).collect()
    }

    /// Severity overrides, threshold and exemptions from the configuration (and flags).
    fn policy(&self, fail_on_flag: Option<&str>) -> Result<report::Policy> {
        let catalogue = self.catalogue();
        let mut severity = std::collections::HashMap::new();
        for (id, sev) in &self.config.severity {
            if let (Some(p), Some(s)) = (
                plugins::primary_id(catalogue.iter().copied(), id),
                Severity::parse(sev),
            ) {
                severity.insert(p, s);
            }
        }
        let fail_on = match fail_on_flag.or(self.config.fail_on.as_deref()) {
            Some(s) => Severity::parse(s).with_context(|| {
                format!("--fail-on: unknown severity '{s}' (use LOW, MEDIUM, HIGH, CRITICAL)")
            })?,
            None => Severity::Low,
        };
        let file = self
            .config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let exemptions = exempt::Exemptions::new(&file, &self.config.exemptions, &catalogue);
        Ok(report::Policy {
            severity,
            fail_on,
            exemptions,
        })
    }
}

fn read_config(args: &PluginArgs) -> Result<(Config, Option<PathBuf>)> {
    if args.no_config {
        return Ok((Config::default(), None));
    }
    match config::locate(args.config.as_deref()) {
        Some(path) => Ok((config::load(&path)?, Some(path))),
        None => Ok((Config::default(), None)),
    }
}

/// Loads the bundle and extra plugins under the configuration. Plugin failures are
/// returned, not fatal; configuration mistakes are fatal.
fn load_plugins(args: &PluginArgs) -> Result<Setup> {
    let (config, config_file) = read_config(args)?;
    let cfg_err = |key: String, message: String| -> anyhow::Error {
        let file = config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        anyhow::Error::new(config::ConfigError {
            file,
            key: format!("{key}: "),
            message,
        })
    };
    let limits = Limits {
        time: Duration::from_millis(args.time_limit.or(config.limits.time_ms).unwrap_or(10_000)),
        memory: args
            .memory_limit
            .or(config.limits.memory_mib)
            .unwrap_or(256)
            << 20,
        ..Limits::default()
    };
    let mut sandbox = Sandbox::new(limits).map_err(anyhow::Error::msg)?;
    if !args.no_cache {
        if let Some(dir) = tollgate_runtime::cache::default_dir() {
            // An unusable cache only costs time: plugins are then compiled in memory.
            sandbox.with_cache(&dir);
        }
    }
    let mut specs = Vec::new();
    if !args.no_builtin {
        let dir = args.plugin_dir.clone().or_else(plugins::bundle_dir);
        match dir {
            Some(dir) => match plugins::bundle_files(&dir) {
                Ok(files) => specs.extend(
                    files
                        .into_iter()
                        .map(|path| PluginSpec { path, sha256: None }),
                ),
                Err(e) => bail!(
                    "cannot read the built-in plugin bundle {}: {e}; run `cargo xtask build`, \
                     pass --plugin-dir, or use --no-builtin with --plugin FILE",
                    dir.display()
                ),
            },
            None => bail!("cannot locate the built-in plugin bundle; pass --plugin-dir"),
        }
    }
    // Plugin paths in the configuration are relative to the configuration file.
    let base = config_file
        .as_ref()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    specs.extend(config.plugins.iter().map(|p| PluginSpec {
        path: base.join(&p.path),
        sha256: p.sha256.clone(),
    }));
    specs.extend(args.plugins.iter().map(|s| PluginSpec::parse(s)));
    if specs.is_empty() {
        bail!("no plugins to run: the bundle is empty and no --plugin was given");
    }
    let flag_settings = parse_settings(args)?;
    let mut settings: Vec<(String, String, bool)> = config
        .settings
        .iter()
        .map(|(n, v)| (n.clone(), v.to_string(), true))
        .collect();
    for (n, j) in flag_settings {
        settings.retain(|(m, _, _)| *m != n);
        settings.push((n, j, false));
    }
    let lookup = |name: &str| {
        settings
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, j, _)| j.clone())
    };
    let mut errors = Vec::new();
    let mut names: Vec<(PathBuf, String)> = Vec::new();
    let mut active = plugins::activate(&sandbox, &specs, &lookup, &mut errors, &mut names);
    for (name, _, from_config) in &settings {
        if !names.iter().any(|(_, n)| n == name) {
            let loaded = names
                .iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            if *from_config {
                return Err(cfg_err(
                    format!("settings.{name}"),
                    format!("no loaded plugin is named '{name}' (loaded: {loaded})"),
                ));
            }
            bail!(
                "--plugin-settings names plugin '{name}', which is not loaded (loaded: {loaded})"
            );
        }
    }
    // Settings from the configuration that a plugin refuses are configuration errors.
    for e in &errors {
        if let PluginError::Settings { file, message } = e {
            let name = names
                .iter()
                .find(|(f, _)| f == file)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            if settings.iter().any(|(n, _, c)| *n == name && *c) {
                return Err(cfg_err(
                    format!("settings.{name}"),
                    format!("plugin '{name}' refuses them: {message}"),
                ));
            }
        }
    }
    let known = |id: &str| {
        active
            .iter()
            .any(|p| p.checks().iter().any(|c| c.is_named(id)))
    };
    if let Some(file) = &config_file {
        config.validate_ids(file, &known)?;
    }
    for p in &mut active {
        let (checks, enabled) = (&p.plugin.info.checks, &mut p.enabled);
        for (i, c) in checks.iter().enumerate() {
            if config.checks.enable.iter().any(|id| c.is_named(id)) {
                enabled[i] = true;
            }
            if config.checks.disable.iter().any(|id| c.is_named(id)) {
                enabled[i] = false;
            }
        }
    }
    Ok(Setup {
        active,
        errors,
        config,
        config_file,
    })
}

fn scan(args: ScanArgs) -> Result<u8> {
    let filter = if args.severity.is_empty() {
        SeverityFilter::default()
    } else {
        let mut list = Vec::new();
        for s in &args.severity {
            list.push(Severity::parse(s.trim()).with_context(|| {
                format!("--severity: unknown severity '{s}' (use LOW, MEDIUM, HIGH, CRITICAL)")
            })?);
        }
        SeverityFilter(list)
    };
    // Outputs are opened before any work so that a bad path fails fast.
    let outputs = open_outputs(&args)?;
    let setup = load_plugins(&args.plugins)?;
    let policy = setup.policy(args.fail_on.as_deref())?;
    let mut opts = pipeline::Options {
        window: args.window.max(1),
        batch: args.batch.max(1),
        input: InputLimits {
            max_file_bytes: args.max_file_size << 20,
            ..InputLimits::default()
        },
        namespaces: setup.config.namespaces.clone(),
        kinds: setup.config.kinds.clone(),
        ..pipeline::Options::default()
    };
    opts.namespaces
        .include
        .extend(args.include_namespaces.iter().cloned());
    opts.namespaces
        .exclude
        .extend(args.exclude_namespaces.iter().cloned());
    opts.kinds
        .include
        .extend(args.include_kinds.iter().cloned());
    opts.kinds
        .exclude
        .extend(args.exclude_kinds.iter().cloned());
    if let Some(j) = args.jobs {
        opts.jobs = j.max(1);
    }
    let mut builder =
        report::Builder::new(&setup.active, filter, &setup.errors).with_policy(policy);
    let mut sink = report::Tee(outputs);
    let progress = crate::progress::Progress::new();
    let tail = pipeline::scan(
        &args.paths,
        &setup.active,
        &opts,
        &mut builder,
        &mut sink,
        &|n| progress.update(n),
    )?;
    progress.finish();
    drop(sink);
    Ok(tail.exit_code())
}

/// Reports of large scans run to hundreds of megabytes (the JSON report of 100k objects:
/// ~650 MB); 8 KiB writes cost one system call per resource or so.
const OUTPUT_BUFFER: usize = 256 * 1024;

const FORMATS: &str = "table, json, sarif, junit, k8s-reports, k8s-reports-json";

fn open_outputs(args: &ScanArgs) -> Result<Vec<Box<dyn report::Sink>>> {
    let mut specs: Vec<(String, Option<PathBuf>)> = args
        .format
        .iter()
        .map(|f| match f.split_once('=') {
            Some((name, file)) => (name.to_string(), Some(PathBuf::from(file))),
            None => (f.to_string(), None),
        })
        .collect();
    if let Some(out) = &args.output {
        let unassigned: Vec<usize> = specs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.1.is_none())
            .map(|(i, _)| i)
            .collect();
        if unassigned.len() != 1 {
            bail!("--output FILE needs exactly one --format without a file; use -f FORMAT=FILE for several");
        }
        specs[unassigned[0]].1 = Some(out.clone());
    }
    if specs.iter().filter(|s| s.1.is_none()).count() > 1 {
        bail!("only one format can go to stdout; give the others a file: -f FORMAT=FILE");
    }
    let mut sinks: Vec<Box<dyn report::Sink>> = Vec::new();
    for (name, file) in specs {
        if !FORMATS.split(", ").any(|f| f == name) {
            bail!("unknown format '{name}' (use one of: {FORMATS})");
        }
        let (writer, terminal): (Box<dyn Write>, bool) = match &file {
            Some(path) => {
                let f = std::fs::File::create(path).with_context(|| {
                    format!("cannot write the {name} report to {}", path.display())
                })?;
                (Box::new(BufWriter::with_capacity(OUTPUT_BUFFER, f)), false)
            }
            None => (
                Box::new(BufWriter::with_capacity(OUTPUT_BUFFER, std::io::stdout())),
                std::io::stdout().is_terminal(),
            ),
        };
        sinks.push(match name.as_str() {
            "table" => Box::new(report::table::TableSink::new(
                writer,
                report::table::Style {
                    color: terminal && no_color_unset(),
                    quiet: args.quiet,
                },
            )),
            "json" => Box::new(report::json::JsonSink::new(writer)),
            "sarif" => Box::new(report::sarif::SarifSink::new(writer)),
            "junit" => Box::new(report::junit::JunitSink::new(writer)),
            "k8s-reports" => Box::new(report::k8s::K8sSink::new(writer, false)),
            _ => Box::new(report::k8s::K8sSink::new(writer, true)),
        });
    }
    Ok(sinks)
}

fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn checks(args: ChecksArgs) -> Result<u8> {
    let Setup { active, errors, .. } = load_plugins(&args.plugins)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Json => {
            let plugins: Vec<serde_json::Value> = active
                .iter()
                .map(|p| {
                    let checks: Vec<serde_json::Value> = p
                        .checks()
                        .iter()
                        .zip(&p.enabled)
                        .map(|(c, on)| {
                            let mut v = serde_json::to_value(c).unwrap_or_default();
                            v["enabled"] = serde_json::Value::Bool(*on);
                            v
                        })
                        .collect();
                    serde_json::json!({
                        "name": p.plugin.name(),
                        "version": p.plugin.info.version,
                        "description": p.plugin.info.description,
                        "settings_help": p.plugin.info.settings_help,
                        "file": p.plugin.file.display().to_string(),
                        "sha256": p.plugin.sha256,
                        "checks": checks,
                    })
                })
                .collect();
            let errs: Vec<serde_json::Value> = errors
                .iter()
                .map(|e| serde_json::json!({"file": e.file().display().to_string(), "class": e.class(), "message": e.to_string()}))
                .collect();
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({"plugins": plugins, "errors": errs}),
            )?;
            writeln!(out)?;
        }
        Format::Table => {
            writeln!(
                out,
                "{:<7} {:<8} {:<14} {:<8} {:<50} KINDS",
                "ID", "SEVERITY", "CATEGORY", "DEFAULT", "TITLE"
            )?;
            let mut n = 0;
            for p in &active {
                for (c, on) in p.checks().iter().zip(&p.enabled) {
                    n += 1;
                    let kinds = if c.kinds.iter().any(|k| k == "*") {
                        "*".to_string()
                    } else if is_workload_set(&c.kinds) {
                        "Workload".to_string()
                    } else {
                        c.kinds.join(",")
                    };
                    let default = if c.default_enabled { "on" } else { "off" };
                    let state = if *on == c.default_enabled {
                        default.to_string()
                    } else {
                        format!("{default}*")
                    };
                    writeln!(
                        out,
                        "{:<7} {:<8} {:<14} {:<8} {:<50} {kinds}",
                        c.id,
                        c.severity.as_str(),
                        c.category,
                        state,
                        c.title
                    )?;
                }
            }
            writeln!(out, "\n{n} checks from {} plugins (Workload = Pod, ReplicaSet, ReplicationController, Deployment, DeploymentConfig, StatefulSet, DaemonSet, CronJob, Job; * = changed by settings)", active.len())?;
            for e in &errors {
                writeln!(out, "error: {e}")?;
            }
        }
    }
    Ok(if errors.is_empty() { 0 } else { 2 })
}

fn compliance(args: ComplianceArgs) -> Result<u8> {
    let spec = crate::compliance::load(&args.spec).map_err(anyhow::Error::msg)?;
    let setup = load_plugins(&args.plugins)?;
    let policy = setup.policy(None)?;
    let (active, plugin_errors) = (&setup.active, &setup.errors);
    let mut opts = pipeline::Options {
        namespaces: setup.config.namespaces.clone(),
        kinds: setup.config.kinds.clone(),
        ..pipeline::Options::default()
    };
    if let Some(j) = args.jobs {
        opts.jobs = j.max(1);
    }
    let mut builder =
        report::Builder::new(active, SeverityFilter::default(), plugin_errors).with_policy(policy);
    let ctx = builder.context();
    let mut collect = report::Collect::default();
    let tail = pipeline::scan(
        &args.paths,
        active,
        &opts,
        &mut builder,
        &mut collect,
        &|_| {},
    )?;
    let outcome = crate::compliance::evaluate(&spec, &ctx, &collect.resources);
    let detail = args.report == ReportView::All;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        ComplianceFormat::Table => {
            outcome.write_table(detail, &mut out)?;
            for e in &tail.errors {
                writeln!(
                    out,
                    "error: {}{}: {}",
                    e.file,
                    e.document
                        .map(|d| format!(" (document {d})"))
                        .unwrap_or_default(),
                    e.message
                )?;
            }
        }
        ComplianceFormat::Json => {
            let mut v = outcome.to_json(detail);
            v["errors"] = serde_json::to_value(&tail.errors)?;
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        ComplianceFormat::K8sReport => {
            let obj = outcome.to_k8s(detail, &ctx, &report::k8s::timestamp());
            writeln!(out, "{}", serde_saphyr::to_string(&obj)?.trim_end())?;
        }
    }
    out.flush()?;
    Ok(if !tail.errors.is_empty() {
        2
    } else if outcome.controls.iter().any(|c| c.status == "FAIL") {
        1
    } else {
        0
    })
}

fn config_check(args: ConfigArgs) -> Result<u8> {
    if args.plugins.config.is_none() && !Path::new(config::DEFAULT_FILE).exists() {
        bail!(
            "no configuration to check: {} not found here; pass --config FILE",
            config::DEFAULT_FILE
        );
    }
    let setup = load_plugins(&args.plugins)?;
    let file = setup
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    for e in &setup.errors {
        eprintln!("error: {e}");
    }
    let checks: usize = setup
        .active
        .iter()
        .map(|p| p.enabled.iter().filter(|e| **e).count())
        .sum();
    println!(
        "{file}: valid ({} plugins, {checks} checks enabled, {} exemptions)",
        setup.active.len(),
        setup.config.exemptions.len()
    );
    Ok(if setup.errors.is_empty() { 0 } else { 2 })
}

fn config_show(args: ConfigArgs) -> Result<u8> {
    let (config, file) = read_config(&args.plugins)?;
    match &file {
        Some(f) => println!("# effective configuration from {}", f.display()),
        None => println!("# no configuration file: defaults"),
    }
    println!("{}", serde_saphyr::to_string(&config)?.trim_end());
    Ok(0)
}

fn plugin_command(cmd: PluginCommand) -> Result<u8> {
    match cmd {
        PluginCommand::New {
            name,
            lang,
            dir,
            kit,
        } => {
            let root = crate::authoring::new_project(&name, lang, &dir, kit.as_deref())?;
            println!("created {}", root.display());
            println!(
                "next: cd {} and follow its README (build, then `tollgate plugin test`)",
                root.display()
            );
            Ok(0)
        }
        PluginCommand::Inspect { file, format } => {
            let sandbox = Sandbox::new(Limits::default()).map_err(anyhow::Error::msg)?;
            let v = crate::authoring::inspect(&sandbox, &file)?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&v)?),
                Format::Table => {
                    println!(
                        "file:      {} ({} bytes)",
                        v["file"].as_str().unwrap_or(""),
                        v["size"]
                    );
                    println!("sha256:    {}", v["sha256"].as_str().unwrap_or(""));
                    println!(
                        "plugin:    {} {}",
                        v["name"].as_str().unwrap_or(""),
                        v["version"].as_str().unwrap_or("")
                    );
                    println!(
                        "contract:  exports {} (host implements {})",
                        v["contract"].as_str().unwrap_or("?"),
                        tollgate_runtime::CONTRACT
                    );
                    println!(
                        "input:     {}",
                        if v["input"] == "tree" {
                            "objects pre-parsed by the host (exports tollgate:policy/tree)"
                        } else {
                            "objects as JSON text"
                        }
                    );
                    let imports: Vec<&str> = v["imports"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                        .unwrap_or_default();
                    println!(
                        "imports:   {}",
                        if imports.is_empty() {
                            "none".to_string()
                        } else {
                            format!("{} (all denied by the sandbox)", imports.join(", "))
                        }
                    );
                    println!("settings:  {}", v["settings_help"].as_str().unwrap_or(""));
                    println!("checks:");
                    for c in v["checks"].as_array().into_iter().flatten() {
                        println!(
                            "  {:<8} {:<8} {:<50} kinds: {}",
                            c["id"].as_str().unwrap_or(""),
                            c["severity"].as_str().unwrap_or(""),
                            c["title"].as_str().unwrap_or(""),
                            c["kinds"]
                                .as_array()
                                .map(|k| k
                                    .iter()
                                    .filter_map(|x| x.as_str())
                                    .collect::<Vec<_>>()
                                    .join(","))
                                .unwrap_or_default()
                        );
                    }
                }
            }
            Ok(0)
        }
        PluginCommand::Test {
            file,
            examples,
            settings,
        } => plugin_test(&file, &examples, settings),
    }
}

fn plugin_test(file: &Path, examples: &[PathBuf], settings: Option<String>) -> Result<u8> {
    let args = PluginArgs {
        plugins: vec![file.display().to_string()],
        plugin_dir: None,
        no_builtin: true,
        settings: vec![],
        config: None,
        no_config: true,
        time_limit: None,
        no_cache: false,
        memory_limit: None,
    };
    let mut setup = load_plugins(&args)?;
    if let Some(e) = setup.errors.first() {
        bail!("{e}");
    }
    if let Some(s) = settings {
        // The plugin is loaded once; only its configuration changes.
        let p = setup.active.pop().context("no plugin loaded")?;
        setup.active.push(ActivePlugin::configured(p.plugin, s)?);
    }
    let ids: Vec<String> = setup
        .active
        .iter()
        .flat_map(|p| p.checks().iter().map(|c| c.id.clone()))
        .collect();
    let (expect, problems) = crate::authoring::expectations(examples, &ids)?;
    if expect.is_empty() {
        bail!(
            "no example declares an expected outcome in {}: annotate manifests with {}: \"fail: ID\" or \"pass: ID\"",
            examples.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            crate::authoring::EXPECT
        );
    }
    let mut builder = report::Builder::new(&setup.active, SeverityFilter::default(), &[]);
    let mut collect = report::Collect::default();
    let tail = pipeline::scan(
        examples,
        &setup.active,
        &pipeline::Options::default(),
        &mut builder,
        &mut collect,
        &|_| {},
    )?;
    let (diffs, n) = crate::authoring::compare(&expect, &collect.resources);
    for d in &diffs {
        println!("{d}\n");
    }
    for p in &problems {
        println!("error: {p}");
    }
    for e in &tail.errors {
        println!("error: {}: {}", e.file, e.message);
    }
    println!(
        "{}: {} of {n} expectations met{}",
        setup
            .active
            .first()
            .map(|p| p.plugin.name())
            .unwrap_or("plugin"),
        n - diffs.len(),
        if diffs.is_empty() {
            String::new()
        } else {
            format!(", {} not met", diffs.len())
        }
    );
    Ok(if !problems.is_empty() || !tail.errors.is_empty() {
        2
    } else if diffs.is_empty() {
        0
    } else {
        1
    })
}

/// trivy-operator's "Workload" kinds, shown as one word in the checks table.
const WORKLOAD: [&str; 9] = [
    "Pod",
    "ReplicaSet",
    "ReplicationController",
    "Deployment",
    "DeploymentConfig",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Job",
];

fn is_workload_set(kinds: &[String]) -> bool {
    kinds.len() == WORKLOAD.len() && WORKLOAD.iter().all(|w| kinds.iter().any(|k| k == w))
}
