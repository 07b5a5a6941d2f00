//! The human-readable report: failed checks grouped by resource, worst first.

use std::io::Write;

use tollgate_runtime::Severity;

use super::{Context, ResourceEntry, Sink, Tail};

pub struct Style {
    pub color: bool,
    /// Failures only: no error list, no summary line.
    pub quiet: bool,
}

fn paint(style: &Style, s: Severity, text: &str) -> String {
    if !style.color {
        return text.to_string();
    }
    let code = match s {
        Severity::Critical => "1;35",
        Severity::High => "1;31",
        Severity::Medium => "33",
        Severity::Low => "36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn location(r: &ResourceEntry) -> String {
    let mut s = r.file.clone();
    match r.line {
        Some(l) => s.push_str(&format!(":{l}")),
        None => s.push_str(&format!(" (document {})", r.document)),
    }
    if let Some(i) = r.item {
        s.push_str(&format!(" item {i}"));
    }
    s
}

fn worst(r: &ResourceEntry) -> Option<Severity> {
    r.checks
        .iter()
        .filter(|c| !c.success)
        .map(|c| c.severity)
        .max()
}

/// Keeps only resources with failed checks (the table shows nothing else) and writes
/// them sorted at the end.
pub struct TableSink<W: Write> {
    out: W,
    style: Style,
    failing: Vec<ResourceEntry>,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W, style: Style) -> Self {
        TableSink {
            out,
            style,
            failing: Vec::new(),
        }
    }
}

impl<W: Write> Sink for TableSink<W> {
    fn begin(&mut self, _ctx: &Context) -> std::io::Result<()> {
        Ok(())
    }

    fn resource(&mut self, entry: &ResourceEntry) -> std::io::Result<()> {
        if entry.checks.iter().any(|c| !c.success) {
            let mut kept = entry.clone();
            kept.checks.retain(|c| !c.success);
            self.failing.push(kept);
        }
        Ok(())
    }

    fn finish(&mut self, tail: &Tail) -> std::io::Result<()> {
        write(&self.failing, tail, &self.style, &mut self.out)?;
        self.out.flush()
    }
}

pub fn write(
    resources: &[ResourceEntry],
    report: &Tail,
    style: &Style,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut failing: Vec<&ResourceEntry> = resources
        .iter()
        .filter(|r| r.checks.iter().any(|c| !c.success))
        .collect();
    // Worst resources first; input order among equals keeps the output stable.
    failing.sort_by_key(|r| std::cmp::Reverse(worst(r)));
    for r in failing {
        let ns = r
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        let name = r.name.as_deref().unwrap_or("(unnamed)");
        writeln!(out, "{} {ns}{name}  ({})", r.kind, location(r))?;
        let mut failed: Vec<_> = r.checks.iter().filter(|c| !c.success).collect();
        failed.sort_by_key(|c| std::cmp::Reverse(c.severity));
        for c in failed {
            let sev = paint(style, c.severity, &format!("{:<8}", c.severity.as_str()));
            writeln!(out, "  {sev} {:<7} {}", c.id, c.title)?;
            for m in &c.messages {
                writeln!(out, "           - {m}")?;
            }
        }
        writeln!(out)?;
    }
    if style.quiet {
        return Ok(());
    }
    for e in &report.errors {
        match e.document {
            Some(d) => writeln!(out, "error: {} (document {d}): {}", e.file, e.message)?,
            // Plugin and file errors already name their file.
            None if e.plugin.is_some() => writeln!(out, "error: {}", e.message)?,
            None => writeln!(out, "error: {}: {}", e.file, e.message)?,
        }
    }
    if !report.errors.is_empty() {
        writeln!(out)?;
    }
    let s = &report.summary;
    let by_sev = format!(
        "{} critical, {} high, {} medium, {} low",
        s.failed.critical, s.failed.high, s.failed.medium, s.failed.low
    );
    writeln!(
        out,
        "{} resources in {} files: {} failed checks ({by_sev}), {} passed; {} skipped documents; {} errors",
        s.resources, s.files, s.checks_failed, s.checks_passed, s.skipped, s.errors
    )
}
