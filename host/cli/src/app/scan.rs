//! `tollgate scan`: the scan, its report formats and where they go.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::progress::Progress;
use crate::cli::ScanArgs;
use tollgate::config::Filter;
use tollgate::input::InputLimits;
use tollgate::pipeline::{Document, Filters};
use tollgate::report::{self, SeverityFilter};

pub(super) fn run(args: ScanArgs) -> Result<u8> {
    let paths = super::paths_or_here(&args.paths);
    scan(&args, Vec::new(), &paths)
}

/// A scan of `documents` (already in memory) and then `paths`, as the flags say.
pub(super) fn scan(args: &ScanArgs, documents: Vec<Document>, paths: &[PathBuf]) -> Result<u8> {
    // Outputs are opened before any work so that a bad path fails fast.
    let outputs = open_outputs(args)?;
    let mut builder = super::builder(&args.plugins)?
        .input_limits(InputLimits {
            max_file_bytes: args.max_file_size << 20,
            ..InputLimits::default()
        })
        .window(args.window)
        .batch(args.batch)
        .filters(Filters {
            namespaces: Filter {
                include: args.include_namespaces.clone(),
                exclude: args.exclude_namespaces.clone(),
            },
            kinds: Filter {
                include: args.include_kinds.clone(),
                exclude: args.exclude_kinds.clone(),
            },
        });
    if !args.severity.is_empty() {
        builder = builder.severities(SeverityFilter(args.severity.clone()));
    }
    if let Some(jobs) = args.jobs {
        builder = builder.jobs(jobs);
    }
    if let Some(severity) = args.fail_on {
        builder = builder.fail_on(severity);
    }
    if args.ignore_annotation_exemptions {
        builder = builder.ignore_annotation_exemptions();
    }
    builder = builder.renderer(std::sync::Arc::new(crate::render::ProcessRenderer {
        values: args.helm_values.clone(),
        set: args.helm_set.clone(),
        release: args.helm_release.clone(),
        namespace: args.helm_namespace.clone(),
        max_bytes: args.max_file_size << 20,
    }));
    for file in ignore_files(&args.ignorefile, paths) {
        builder = builder.exemptions(tollgate::trivyignore::read(&file)?);
    }
    let auditor = builder.build()?;
    let mut sink = report::Tee(outputs);
    let progress = Progress::new();
    let tail = auditor.scan_documents(documents, paths, &mut sink, &|n| progress.update(n))?;
    progress.finish();
    drop(sink);
    Ok(tail.exit_code())
}

/// The ignore files named, then those in the scanned directories (each once).
fn ignore_files(named: &[PathBuf], paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = named.to_vec();
    for dir in paths.iter().filter(|p| p.is_dir()) {
        for name in tollgate::trivyignore::FILE_NAMES {
            let f = dir.join(name);
            if f.is_file() && !files.contains(&f) {
                files.push(f);
            }
        }
    }
    files
}

/// Reports of large scans run to hundreds of megabytes (the JSON report of 100k objects:
/// ~650 MB); 8 KiB writes cost one system call per resource or so.
const OUTPUT_BUFFER: usize = 256 * 1024;

fn open_outputs(args: &ScanArgs) -> Result<Vec<Box<dyn report::Sink>>> {
    let mut specs = args.format.clone();
    if let Some(out) = &args.output {
        let mut unassigned = specs.iter_mut().filter(|s| s.file.is_none());
        match (unassigned.next(), unassigned.next()) {
            (Some(spec), None) => spec.file = Some(out.clone()),
            _ => bail!(
                "--output FILE needs exactly one --format without a file; use -f FORMAT=FILE for several"
            ),
        }
    }
    if specs.iter().filter(|s| s.file.is_none()).count() > 1 {
        bail!("only one format can go to stdout; give the others a file: -f FORMAT=FILE");
    }
    let mut sinks = Vec::new();
    for spec in specs {
        let (writer, terminal): (Box<dyn Write>, bool) = match &spec.file {
            Some(path) => {
                let f = std::fs::File::create(path).with_context(|| {
                    format!(
                        "cannot write the {} report to {}",
                        spec.format,
                        path.display()
                    )
                })?;
                (Box::new(BufWriter::with_capacity(OUTPUT_BUFFER, f)), false)
            }
            None => (
                Box::new(BufWriter::with_capacity(OUTPUT_BUFFER, std::io::stdout())),
                std::io::stdout().is_terminal(),
            ),
        };
        let style = report::table::Style {
            color: terminal && no_color_unset(),
            quiet: args.quiet,
        };
        let sink = spec.format.sink(writer, style);
        sinks.push(if args.failed_only {
            Box::new(report::FailedOnly(sink))
        } else {
            sink
        });
    }
    Ok(sinks)
}

fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
