//! `tollgate checks`: the catalogue of the loaded plugins, as a table or JSON.

use std::io::Write;

use anyhow::Result;

use crate::cli::{ChecksArgs, ListFormat};
use tollgate::catalogue::Catalogue;
use tollgate::kube;

pub(super) fn run(args: ChecksArgs) -> Result<u8> {
    let auditor = super::builder(&args.plugins)?.build()?;
    let catalogue = auditor.catalogue();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        ListFormat::Json => {
            // Through a `Value`: its keys are written sorted, as they always were.
            serde_json::to_writer_pretty(&mut out, &serde_json::to_value(&catalogue)?)?;
            writeln!(out)?;
        }
        ListFormat::Table => table(&catalogue, &mut out)?,
    }
    Ok(if catalogue.errors.is_empty() { 0 } else { 2 })
}

fn table(catalogue: &Catalogue, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<7} {:<8} {:<14} {:<8} {:<50} KINDS",
        "ID", "SEVERITY", "CATEGORY", "DEFAULT", "TITLE"
    )?;
    for check in catalogue.checks() {
        let c = &check.info;
        let kinds = if c.kinds.iter().any(|k| k == "*") {
            "*".to_string()
        } else if kube::is_workload_set(&c.kinds) {
            "Workload".to_string()
        } else {
            c.kinds.join(",")
        };
        let default = if c.default_enabled { "on" } else { "off" };
        let state = if check.enabled == c.default_enabled {
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
    writeln!(
        out,
        "\n{} checks from {} plugins (Workload = {}; * = changed by settings)",
        catalogue.checks().count(),
        catalogue.plugins.len(),
        kube::WORKLOAD_KINDS.join(", ")
    )?;
    for e in &catalogue.errors {
        writeln!(out, "error: {}", e.message)?;
    }
    Ok(())
}
