//! `tollgate compliance SPEC`: a scan seen through a compliance specification.

use std::io::Write;

use anyhow::Result;

use crate::cli::{ComplianceArgs, ComplianceFormat, ReportView};
use tollgate::compliance;
use tollgate::report;

pub(super) fn run(args: ComplianceArgs) -> Result<u8> {
    let spec = compliance::load(&args.spec)?;
    let mut builder = super::builder(&args.plugins)?;
    if let Some(jobs) = args.jobs {
        builder = builder.jobs(jobs);
    }
    let auditor = builder.build()?;
    let ctx = auditor.context();
    let mut collect = report::Collect::default();
    let tail = auditor.scan(&super::paths_or_here(&args.paths), &mut collect)?;
    let outcome = compliance::evaluate(&spec, &ctx, &collect.resources);
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
            let obj = outcome.to_k8s(detail, &ctx, &tollgate::clock::timestamp());
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
