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
    let mut s = r.file.to_string();
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
        .filter(|c| !c.success && c.exempted.is_none())
        .map(|c| c.severity)
        .max()
}

/// Keeps the rendered block of every resource with failed checks (never the resources
/// that passed) and writes them worst first at the end. Blocks are plain text, so memory
/// is about the size of the table itself.
pub struct TableSink<W: Write> {
    out: W,
    style: Style,
    failing: Vec<(Severity, String)>,
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
        if let Some(w) = worst(entry) {
            let mut block = Vec::new();
            render(entry, &self.style, &mut block)?;
            self.failing
                .push((w, String::from_utf8_lossy(&block).into_owned()));
        }
        Ok(())
    }

    fn finish(&mut self, tail: &Tail) -> std::io::Result<()> {
        // Worst resources first; the stable sort keeps input order among equals.
        self.failing.sort_by_key(|(w, _)| std::cmp::Reverse(*w));
        for (_, block) in &self.failing {
            self.out.write_all(block.as_bytes())?;
        }
        write_footer(tail, &self.style, &mut self.out)?;
        self.out.flush()
    }
}

/// One failing resource: a header line, then its failed checks worst first.
fn render(r: &ResourceEntry, style: &Style, out: &mut dyn Write) -> std::io::Result<()> {
    let ns = r
        .namespace
        .as_deref()
        .map(|n| format!("{n}/"))
        .unwrap_or_default();
    let name = r.name.as_deref().unwrap_or("(unnamed)");
    writeln!(out, "{} {ns}{name}  ({})", r.kind, location(r))?;
    let mut failed: Vec<_> = r
        .checks
        .iter()
        .filter(|c| !c.success && c.exempted.is_none())
        .collect();
    failed.sort_by_key(|c| std::cmp::Reverse(c.severity));
    for c in failed {
        let sev = paint(style, c.severity, &format!("{:<8}", c.severity.as_str()));
        writeln!(out, "  {sev} {:<7} {}", c.meta.id, c.meta.title)?;
        for m in &c.messages {
            writeln!(out, "           - {m}")?;
        }
    }
    writeln!(out)
}

fn selector(x: &crate::exempt::Status) -> String {
    format!(
        "{} {}/{}",
        x.kind.as_deref().unwrap_or("*"),
        x.namespace.as_deref().unwrap_or("*"),
        x.name.as_deref().unwrap_or("*")
    )
}

/// Errors, exemption warnings and the summary line.
pub fn write_footer(report: &Tail, style: &Style, out: &mut dyn Write) -> std::io::Result<()> {
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
    for x in report.exemptions.iter().filter(|x| x.status != "active") {
        let what = format!("{} on {}", x.checks.join(", "), selector(x));
        match x.status.as_str() {
            "expired" => writeln!(
                out,
                "warning: {} ({what}) expired on {} and no longer applies",
                x.source,
                x.expires.as_deref().unwrap_or("?")
            )?,
            _ => writeln!(
                out,
                "warning: {} ({what}) matched nothing in this scan (stale)",
                x.source
            )?,
        }
    }
    if !report.errors.is_empty() || report.exemptions.iter().any(|x| x.status != "active") {
        writeln!(out)?;
    }
    let s = &report.summary;
    let by_sev = format!(
        "{} critical, {} high, {} medium, {} low",
        s.failed.critical, s.failed.high, s.failed.medium, s.failed.low
    );
    writeln!(
        out,
        "{} resources in {} files: {} failed checks ({by_sev}), {} passed, {} exempted; {} skipped documents; {} errors",
        s.resources, s.files, s.checks_failed, s.checks_passed, s.checks_exempted, s.skipped, s.errors
    )
}
