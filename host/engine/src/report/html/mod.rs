//! `--format html[=FILE]`: one self-contained page (no network: styles, script and SVG
//! charts inline) for people who are not at a terminal: summary cards, failures by
//! severity, by namespace and the most-failed checks, then a filterable, searchable,
//! paginated table of resources with each finding's description and remediation, and
//! the errors and skipped documents. The page embeds the data once, compactly (file
//! names in a table, checks by index), and bounds the messages it carries
//! ([`MESSAGE_BUDGET`]), so a 100k-object scan stays a file a browser opens.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{json, Value};
use tollgate_runtime::Severity;

use super::{Context, ResourceEntry, Sink, Tail};
use crate::kube;

/// Bytes of finding messages the page carries; beyond, findings show their check only.
pub const MESSAGE_BUDGET: usize = 10 << 20;
/// Characters of one message kept.
const MESSAGE_CHARS: usize = 240;

const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

pub struct HtmlSink<W: Write> {
    out: W,
    ctx: Context,
    checks: BTreeMap<String, usize>,
    files: Vec<String>,
    file_index: BTreeMap<String, usize>,
    /// The resources' rows as JSON text, comma-separated (a `Value` per row took three
    /// times the memory on a 100k-object scan).
    rows: Vec<u8>,
    by_namespace: BTreeMap<String, usize>,
    by_check: BTreeMap<usize, usize>,
    message_bytes: usize,
    messages_left_out: usize,
}

impl<W: Write> HtmlSink<W> {
    pub fn new(out: W) -> Self {
        HtmlSink {
            out,
            ctx: Context::default(),
            checks: BTreeMap::new(),
            files: Vec::new(),
            file_index: BTreeMap::new(),
            rows: Vec::new(),
            by_namespace: BTreeMap::new(),
            by_check: BTreeMap::new(),
            message_bytes: 0,
            messages_left_out: 0,
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart as inline SVG.
fn bars(title: &str, id: &str, items: &[(String, usize, &str)]) -> String {
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (170.0, 260.0, 22.0);
    let height = (items.len().max(1) as f64) * row_h + 8.0;
    let mut svg = format!(
        "<div class=\"chart\" id=\"{id}\"><h3>{}</h3><svg width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        escape(title),
        label_w + bar_w + 60.0,
        escape(title)
    );
    if items.is_empty() {
        svg.push_str("<text x=\"4\" y=\"16\">no failures</text>");
    }
    for (i, (label, n, colour)) in items.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let w = (*n as f64 / max as f64 * bar_w).max(1.0);
        let short: String = label.chars().take(26).collect();
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"{colour}\"><title>{}: {n}</title></rect><text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{n}</text>",
            y + 13.0,
            escape(&short),
            escape(label),
            label_w + w + 4.0,
            y + 13.0
        ));
    }
    svg.push_str("</svg></div>");
    svg
}

fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#8b0000",
        Severity::High => "#c0392b",
        Severity::Medium => "#e0a030",
        Severity::Low => "#5b8db8",
    }
}

fn card(id: &str, n: usize, label: &str) -> String {
    format!("<div class=\"card\" id=\"card-{id}\"><span class=\"n\">{n}</span><span class=\"l\">{label}</span></div>")
}

impl<W: Write> Sink for HtmlSink<W> {
    fn begin(&mut self, ctx: &Context) -> std::io::Result<()> {
        self.ctx = ctx.clone();
        self.checks = ctx
            .checks
            .keys()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        Ok(())
    }

    fn resource(&mut self, r: &ResourceEntry) -> std::io::Result<()> {
        let next = self.files.len();
        let file = *self.file_index.entry(r.file.to_string()).or_insert(next);
        if file == next {
            self.files.push(r.file.to_string());
        }
        let (mut ids, mut messages) = (Vec::new(), Vec::new());
        for c in r
            .checks
            .iter()
            .filter(|c| !c.success && c.exempted.is_none())
        {
            let Some(&i) = self.checks.get(&c.meta.id) else {
                continue;
            };
            ids.push(i);
            *self.by_check.entry(i).or_default() += 1;
            let text: String = c.messages.join("; ").chars().take(MESSAGE_CHARS).collect();
            if self.message_bytes + text.len() <= MESSAGE_BUDGET {
                self.message_bytes += text.len();
                messages.push(text);
            } else {
                self.messages_left_out += 1;
                messages.push(String::new());
            }
        }
        if !ids.is_empty() {
            let ns = match &r.namespace {
                Some(ns) => ns.clone(),
                None if kube::is_cluster_scoped(&r.kind) => "(cluster)".into(),
                None => kube::DEFAULT_NAMESPACE.into(),
            };
            *self.by_namespace.entry(ns).or_default() += ids.len();
        }
        if !self.rows.is_empty() {
            self.rows.push(b',');
        }
        let row = json!([file, r.document, r.kind, r.namespace, r.name, ids, messages]);
        // The JSON sits in a script element: no `</` may end it early.
        let text = row.to_string().replace("</", "<\\/");
        self.rows.extend_from_slice(text.as_bytes());
        Ok(())
    }

    fn finish(&mut self, tail: &Tail) -> std::io::Result<()> {
        let s = &tail.summary;
        let checks: Vec<Value> = self
            .ctx
            .checks
            .values()
            .map(|c| json!({"id": c.id, "title": c.title, "severity": c.severity.as_str(),
                            "category": c.category, "description": c.description, "remediation": c.remediation}))
            .collect();
        let head = json!({"files": self.files, "checks": checks})
            .to_string()
            .replace("</", "<\\/");
        let rows = std::mem::take(&mut self.rows);
        let mut data = String::with_capacity(head.len() + rows.len() + 16);
        data.push_str(&head[..head.len() - 1]);
        data.push_str(",\"resources\":[");
        data.push_str(&String::from_utf8_lossy(&rows));
        data.push_str("]}");
        let severity = [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
        ]
        .map(|v| {
            let n = match v {
                Severity::Critical => s.failed.critical,
                Severity::High => s.failed.high,
                Severity::Medium => s.failed.medium,
                Severity::Low => s.failed.low,
            };
            (v.as_str().to_string(), n, colour(v))
        });
        let mut namespaces: Vec<(String, usize, &str)> = self
            .by_namespace
            .iter()
            .map(|(k, v)| (k.clone(), *v, "#6a5acd"))
            .collect();
        namespaces.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        namespaces.truncate(10);
        let ids: Vec<&String> = self.ctx.checks.keys().collect();
        let mut top: Vec<(String, usize, &str)> = self
            .by_check
            .iter()
            .map(|(i, n)| {
                let c = &self.ctx.checks[ids[*i]];
                (format!("{} {}", c.id, c.title), *n, colour(c.severity))
            })
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(10);
        let mut problems = String::new();
        for e in &tail.errors {
            problems.push_str(&format!(
                "<li class=\"error\">{}{}: {} ({})</li>",
                escape(&e.file),
                e.document.map(|d| format!("#{d}")).unwrap_or_default(),
                escape(&e.message),
                escape(&e.class)
            ));
        }
        for k in &tail.skipped {
            problems.push_str(&format!(
                "<li class=\"skipped\">{}#{}: skipped, {}</li>",
                escape(&k.file),
                k.document,
                escape(&k.reason)
            ));
        }
        let left_out = if self.messages_left_out > 0 {
            format!("<p class=\"meta\">{} finding messages are left out to keep this page small; the JSON report has them all.</p>", self.messages_left_out)
        } else {
            String::new()
        };
        let plugins: Vec<String> = self
            .ctx
            .plugins
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        write!(
            self.out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>tollgate report</title><style>{CSS}</style></head><body>\
<h1>tollgate report</h1><p class=\"meta\">{} resources in {} files, checked by {}; generated {}</p>\
<div class=\"cards\">{}{}{}{}{}{}{}{}{}{}</div>\
<h2>Failures</h2><div class=\"charts\">{}{}{}</div>\
<h2>Resources</h2>{left_out}<div class=\"filters\"><input type=\"search\" id=\"filter-text\" placeholder=\"search kind, namespace, name, file, check\">\
<select id=\"filter-check\"><option value=\"\">every check</option></select>\
<select id=\"filter-severity\"><option value=\"\">every severity</option><option>CRITICAL</option><option>HIGH</option><option>MEDIUM</option><option>LOW</option></select>\
<label><input type=\"checkbox\" id=\"filter-failing\" checked> with failures only</label> <span><span id=\"match-count\">0</span> resources match</span></div>\
<div class=\"pager\"><button id=\"prev\">previous</button><span id=\"page\"></span><button id=\"next\">next</button></div>\
<table id=\"resources\"><thead><tr><th>Kind</th><th>Namespace</th><th>Name</th><th>File</th><th>Failed checks</th></tr></thead><tbody id=\"resources-body\"></tbody></table>\
<h2>Errors and skipped documents</h2><ul class=\"problems\" id=\"problems\">{problems}</ul>\
<script type=\"application/json\" id=\"tollgate-data\">{data}</script><script>{JS}</script></body></html>\n",
            s.resources,
            s.files,
            escape(&plugins.join(", ")),
            crate::clock::timestamp(),
            card("resources", s.resources, "resources"),
            card("failed", s.checks_failed, "failed checks"),
            card("critical", s.failed.critical, "critical"),
            card("high", s.failed.high, "high"),
            card("medium", s.failed.medium, "medium"),
            card("low", s.failed.low, "low"),
            card("passed", s.checks_passed, "passed checks"),
            card("exempted", s.checks_exempted, "exempted"),
            card("errors", s.errors, "errors"),
            card("skipped", s.skipped, "skipped documents"),
            bars("Failed checks by severity", "chart-severity", &severity),
            bars("Failed checks by namespace (top 10)", "chart-namespaces", &namespaces),
            bars("Most-failed checks (top 10)", "chart-checks", &top),
        )?;
        self.out.flush()
    }
}
