//! `--format sarif`: SARIF 2.1.0 for code-scanning dashboards. One rule per check
//! (default level from severity, `security-severity` for GitHub), one result per finding,
//! located at the file and the line where the resource's document starts. Results are
//! written as the scan goes.

use std::io::Write;

use serde_json::{json, Value};
use tollgate_runtime::Severity;

use super::{Context, ResourceEntry, Sink, Tail};

pub struct SarifSink<W: Write> {
    out: W,
    first: bool,
    rule_index: std::collections::HashMap<String, usize>,
}

impl<W: Write> SarifSink<W> {
    pub fn new(out: W) -> Self {
        SarifSink {
            out,
            first: true,
            rule_index: Default::default(),
        }
    }
}

pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub code scanning maps this 0-10 score to its own severity levels.
pub fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
    }
}

/// A relative URI reference for a path as given on the command line.
pub fn uri(file: &str) -> String {
    if file == "-" {
        return "stdin".into();
    }
    let mut out = String::with_capacity(file.len());
    for b in file.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b'+' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn rule_name(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

impl<W: Write> Sink for SarifSink<W> {
    fn begin(&mut self, ctx: &Context) -> std::io::Result<()> {
        let mut rules = Vec::new();
        for (i, c) in ctx.checks.values().enumerate() {
            self.rule_index.insert(c.id.clone(), i);
            rules.push(json!({
                "id": c.id,
                "name": rule_name(&c.title),
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": if c.description.is_empty() { &c.title } else { &c.description }},
                "help": {
                    "text": format!("{}\n\nRemediation: {}", c.description, c.remediation),
                    "markdown": format!("{}\n\n**Remediation**: {}\n\nAliases: {}", c.description, c.remediation, c.aliases.join(", ")),
                },
                "defaultConfiguration": {"level": level(c.severity)},
                "properties": {
                    "security-severity": security_severity(c.severity),
                    "tags": ["security", "kubernetes", c.category],
                    "precision": "very-high",
                },
            }));
        }
        let tool = json!({"driver": {
            "name": "tollgate",
            "version": env!("CARGO_PKG_VERSION"),
            "informationUri": "https://github.com/tollgate-dev/tollgate",
            "rules": rules,
        }});
        // Written by hand around the results array so that results can stream.
        write!(
            self.out,
            "{{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{{\"tool\":{},\"results\":[",
            serde_json::to_string(&tool)?
        )
    }

    fn resource(&mut self, r: &ResourceEntry) -> std::io::Result<()> {
        for c in r.checks.iter().filter(|c| !c.success) {
            let name = match (&r.namespace, &r.name) {
                (Some(ns), Some(n)) => format!("{}/{ns}/{n}", r.kind),
                (None, Some(n)) => format!("{}/{n}", r.kind),
                _ => format!("{}/(unnamed)", r.kind),
            };
            let mut region = json!({});
            if let Some(line) = r.line {
                region = json!({"startLine": line});
            }
            for m in &c.messages {
                let mut physical = json!({"artifactLocation": {"uri": uri(&r.file)}});
                if r.line.is_some() {
                    physical["region"] = region.clone();
                }
                let result: Value = json!({
                    "ruleId": c.meta.id,
                    "ruleIndex": self.rule_index.get(&c.meta.id).copied().unwrap_or(0),
                    "level": level(c.severity),
                    "message": {"text": m},
                    "locations": [{
                        "physicalLocation": physical,
                        "logicalLocations": [{"name": name, "kind": "resource"}],
                    }],
                    "properties": {"document": r.document, "item": r.item},
                });
                let mut result = result;
                if let Some(x) = &c.exempted {
                    result["suppressions"] = json!([{"kind": "external", "status": "accepted", "justification": format!("{} ({})", x.reason, x.source)}]);
                }
                self.out
                    .write_all(if self.first { b"\n" } else { b",\n" })?;
                self.first = false;
                serde_json::to_writer(&mut self.out, &result)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, _tail: &Tail) -> std::io::Result<()> {
        writeln!(self.out, "]}}]}}")?;
        self.out.flush()
    }
}
