//! `tollgate config check|show`: validate or print the configuration.

use std::path::Path;

use anyhow::{bail, Result};

use crate::cli::ConfigArgs;
use tollgate::config::DEFAULT_FILE;

/// Validates the configuration against the loaded plugins, without scanning.
pub(super) fn check(args: ConfigArgs) -> Result<u8> {
    if args.plugins.config.is_none() && !Path::new(DEFAULT_FILE).exists() {
        bail!("no configuration to check: {DEFAULT_FILE} not found here; pass --config FILE");
    }
    let auditor = super::builder(&args.plugins)?.build()?;
    let file = auditor
        .config_file()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    for e in auditor.load_errors() {
        eprintln!("error: {e}");
    }
    let checks: usize = auditor
        .plugins()
        .iter()
        .map(|p| p.enabled.iter().filter(|e| **e).count())
        .sum();
    println!(
        "{file}: valid ({} plugins, {checks} checks enabled, {} exemptions)",
        auditor.plugins().len(),
        auditor.config().exemptions.len()
    );
    Ok(if auditor.load_errors().is_empty() {
        0
    } else {
        2
    })
}

/// Prints the effective configuration (defaults filled in) as YAML.
pub(super) fn show(args: ConfigArgs) -> Result<u8> {
    let (config, file) = super::read_config(&args.plugins)?;
    match &file {
        Some(f) => println!("# effective configuration from {}", f.display()),
        None => println!("# no configuration file: defaults"),
    }
    println!("{}", serde_saphyr::to_string(&config)?.trim_end());
    Ok(0)
}
