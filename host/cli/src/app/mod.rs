//! The command line: each command maps its arguments onto an [`AuditorBuilder`] and
//! the result onto output and an exit code (0 clean, 1 findings at or above the
//! threshold, 2 usage, input, plugin or configuration errors).

mod checks;
mod compliance;
mod config;
mod node;
mod plugin;
pub mod progress;
mod registry;
mod scan;
mod serve;
mod signing;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::cli::{Cli, Command, ConfigCommand, PluginArgs};
use tollgate::config::Config;
use tollgate::{Auditor, AuditorBuilder};

pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Checks(args) => checks::run(args),
        Command::Compliance(args) => compliance::run(args),
        Command::Config(ConfigCommand::Check(args)) => config::check(args),
        Command::Config(ConfigCommand::Show(args)) => config::show(args),
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::Serve(args) => serve::run(args),
        Command::Node(cmd) => node::run(cmd),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "tollgate", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(0)
        }
    }
}

/// The configuration the flags name: `--config FILE`, else `tollgate.yaml` here, else
/// none (or none at all with `--no-config`).
fn read_config(args: &PluginArgs) -> Result<(Config, Option<PathBuf>)> {
    if args.no_config {
        return Ok((Config::default(), None));
    }
    match tollgate::config::locate(args.config.as_deref()) {
        Some(path) => Ok((tollgate::config::load(&path)?, Some(path))),
        None => Ok((Config::default(), None)),
    }
}

/// An auditor builder set up from the plugin flags and the configuration they name.
fn builder(args: &PluginArgs) -> Result<AuditorBuilder> {
    let (config, file) = read_config(args)?;
    Ok(builder_with(args, config, file))
}

/// [`builder`] with the configuration already read.
fn builder_with(args: &PluginArgs, config: Config, file: Option<PathBuf>) -> AuditorBuilder {
    let mut b = Auditor::builder()
        .embedded_bundle(crate::bundle::plugins())
        .config(config, file);
    if let Some(dir) = &args.plugin_dir {
        b = b.bundle(dir);
    }
    if args.no_builtin {
        b = b.no_bundle();
    }
    for source in &args.plugins {
        b = b.plugin(source.clone());
    }
    for s in &args.settings {
        b = b.settings(&s.name, &s.json);
    }
    if let Some(v) = &args.k8s_version {
        b = b.k8s_version(v);
    }
    if let Some(ms) = args.time_limit {
        b = b.time_limit(Duration::from_millis(ms));
    }
    if let Some(mib) = args.memory_limit {
        b = b.memory_limit(mib << 20);
    }
    if args.no_cache {
        b = b.no_cache();
    }
    for k in &args.trusted_keys {
        b = b.trusted_key(k);
    }
    b.registry(args.registry.options())
}

/// The paths to scan: those given, else the working directory.
fn paths_or_here(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}
