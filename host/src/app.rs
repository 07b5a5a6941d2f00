//! Runs a parsed command line: the glue between CLI, input, plugins and reports.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tollgate_runtime::{Limits, PluginError, Sandbox, Severity};

use crate::cli::{ChecksArgs, Cli, Command, Format, PluginArgs, ScanArgs};
use crate::input::InputLimits;
use crate::pipeline;
use crate::plugins::{self, ActivePlugin, PluginSpec};
use crate::report::{self, SeverityFilter};

pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Scan(args) => scan(args),
        Command::Checks(args) => checks(args),
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

/// Loads the bundle and extra plugins; plugin failures are returned, not fatal.
fn load_plugins(args: &PluginArgs) -> Result<(Vec<ActivePlugin>, Vec<PluginError>)> {
    let limits = Limits {
        time: Duration::from_millis(args.time_limit),
        memory: args.memory_limit << 20,
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
    specs.extend(args.plugins.iter().map(|s| PluginSpec::parse(s)));
    if specs.is_empty() {
        bail!("no plugins to run: the bundle is empty and no --plugin was given");
    }
    let settings = parse_settings(args)?;
    let lookup = |name: &str| {
        settings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, j)| j.clone())
    };
    let mut errors = Vec::new();
    let mut names = Vec::new();
    let active = plugins::activate(&sandbox, &specs, &lookup, &mut errors, &mut names);
    for (name, _) in &settings {
        if !names.contains(name) {
            bail!(
                "--plugin-settings names plugin '{name}', which is not loaded (loaded: {})",
                names.join(", ")
            );
        }
    }
    Ok((active, errors))
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
    let (active, plugin_errors) = load_plugins(&args.plugins)?;
    let mut opts = pipeline::Options {
        window: args.window.max(1),
        batch: args.batch.max(1),
        input: InputLimits {
            max_file_bytes: args.max_file_size << 20,
            ..InputLimits::default()
        },
        ..pipeline::Options::default()
    };
    if let Some(j) = args.jobs {
        opts.jobs = j.max(1);
    }
    let mut builder = report::Builder::new(&active, filter, &plugin_errors);
    let stdout = std::io::stdout();
    let out = std::io::BufWriter::new(stdout.lock());
    let mut sink: Box<dyn report::Sink> = match args.format {
        Format::Json => Box::new(report::json::JsonSink::new(out)),
        Format::Table => Box::new(report::table::TableSink::new(
            out,
            report::table::Style {
                color: stdout_is_color(),
            },
        )),
    };
    pipeline::scan(
        &args.paths,
        &active,
        &opts,
        &mut builder,
        sink.as_mut(),
        &|_| {},
    )?;
    drop(sink);
    let tail = report::Tail {
        errors: builder.errors,
        skipped: builder.skipped,
        summary: builder.summary,
    };
    Ok(tail.exit_code())
}

fn stdout_is_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn checks(args: ChecksArgs) -> Result<u8> {
    let (active, errors) = load_plugins(&args.plugins)?;
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
                    } else if c.kinds.len() >= 9 {
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
