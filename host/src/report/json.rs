//! `--format json`: the tollgate.report/v1 document, written as the scan goes: the
//! header first, then one resource per line, then errors, skipped documents and the
//! summary. Memory does not grow with the number of resources.

use std::io::Write;

use serde::Serialize;

use tollgate_runtime::Severity;

use super::{Context, ResourceEntry, Sink, Tail, Tool, SCHEMA};

pub struct JsonSink<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W) -> Self {
        JsonSink { out, first: true }
    }
}

fn field<W: Write, T: Serialize + ?Sized>(
    out: &mut W,
    name: &str,
    value: &T,
) -> std::io::Result<()> {
    write!(out, "  \"{name}\": ")?;
    serde_json::to_writer(&mut *out, value)?;
    Ok(())
}

impl<W: Write> Sink for JsonSink<W> {
    fn begin(&mut self, ctx: &Context) -> std::io::Result<()> {
        writeln!(self.out, "{{")?;
        field(&mut self.out, "schema", SCHEMA)?;
        writeln!(self.out, ",")?;
        field(
            &mut self.out,
            "tool",
            &Tool {
                name: "tollgate",
                version: env!("CARGO_PKG_VERSION"),
            },
        )?;
        writeln!(self.out, ",")?;
        field(&mut self.out, "plugins", &ctx.plugins)?;
        write!(self.out, ",\n  \"resources\": [")
    }

    fn resource(&mut self, entry: &ResourceEntry) -> std::io::Result<()> {
        self.out
            .write_all(if self.first { b"\n    " } else { b",\n    " })?;
        self.first = false;
        write_entry(&mut self.out, entry)
    }

    fn finish(&mut self, tail: &Tail) -> std::io::Result<()> {
        writeln!(self.out, "{}],", if self.first { "" } else { "\n  " })?;
        field(&mut self.out, "errors", &tail.errors)?;
        writeln!(self.out, ",")?;
        field(&mut self.out, "skipped", &tail.skipped)?;
        writeln!(self.out, ",")?;
        field(&mut self.out, "exemptions", &tail.exemptions)?;
        writeln!(self.out, ",")?;
        field(&mut self.out, "summary", &tail.summary)?;
        writeln!(self.out, "\n}}")?;
        self.out.flush()
    }
}

/// The identity fields of a resource entry, in the order `ResourceEntry` declares them.
#[derive(Serialize)]
struct Head<'a> {
    file: &'a str,
    document: usize,
    item: Option<usize>,
    line: Option<usize>,
    #[serde(rename = "apiVersion")]
    api_version: Option<&'a str>,
    kind: &'a str,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
}

/// What `serde_json::to_writer(entry)` writes, byte for byte, with each check's
/// constant fields copied from their pre-rendered JSON: the JSON report of a large scan
/// writes millions of check entries, and this is the thread everything else waits on.
fn write_entry<W: Write>(out: &mut W, e: &ResourceEntry) -> std::io::Result<()> {
    let mut head = serde_json::to_vec(&Head {
        file: &e.file,
        document: e.document,
        item: e.item,
        line: e.line,
        api_version: e.api_version.as_deref(),
        kind: &e.kind,
        namespace: e.namespace.as_deref(),
        name: e.name.as_deref(),
    })?;
    head.pop(); // the closing brace: "checks" follows
    out.write_all(&head)?;
    out.write_all(b",\"checks\":[")?;
    for (i, c) in e.checks.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(&c.meta.json.head)?;
        out.write_all(match c.severity {
            Severity::Low => b"\"LOW\"",
            Severity::Medium => b"\"MEDIUM\"",
            Severity::High => b"\"HIGH\"",
            Severity::Critical => b"\"CRITICAL\"",
        })?;
        out.write_all(&c.meta.json.mid)?;
        if c.success && c.messages.is_empty() {
            // Most checks pass: no serializer for an empty list.
            out.write_all(b"true,\"messages\":[]")?;
        } else {
            out.write_all(if c.success { b"true" } else { b"false" })?;
            out.write_all(b",\"messages\":")?;
            serde_json::to_writer(&mut *out, &c.messages)?;
        }
        if let Some(x) = &c.exempted {
            out.write_all(b",\"exempted\":")?;
            serde_json::to_writer(&mut *out, x)?;
        }
        out.write_all(b"}")?;
    }
    out.write_all(b"]}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{CheckEntry, CheckMeta};
    use super::*;
    use tollgate_runtime::Severity;

    fn check(id: &str, success: bool, exempted: Option<crate::exempt::Applied>) -> CheckEntry {
        check_with(id, success, Severity::High, exempted)
    }

    fn check_with(
        id: &str,
        success: bool,
        severity: Severity,
        exempted: Option<crate::exempt::Applied>,
    ) -> CheckEntry {
        let m = CheckMeta::new(
            id,
            &[format!("AVD-{id}"), "quote\"d \\ ünï".to_string()],
            "A \"title\"\n with escapes\u{1}",
            "General",
            "general",
        );
        CheckEntry {
            meta: Arc::new(m),
            severity,
            success,
            messages: if success {
                vec![]
            } else {
                vec!["bad \"x\"".into(), "2".into()]
            },
            exempted,
        }
    }

    #[test]
    fn hand_written_entries_are_what_serde_writes() {
        let exempt = crate::exempt::Applied {
            reason: "accepted".into(),
            source: "annotation tollgate.dev/exempt".into(),
            expires: None,
        };
        for (item, line, ns) in [(None, None, None), (Some(3), Some(12), Some("prod"))] {
            let entry = ResourceEntry {
                file: "dir/a \"b\".yaml".into(),
                document: 2,
                item,
                line,
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                namespace: ns.map(String::from),
                name: None,
                checks: vec![
                    check("KSV001", true, None),
                    check("KSV002", false, None),
                    check("KSV003", false, Some(exempt.clone())),
                    check_with("KSV004", true, Severity::Low, None),
                    check_with("KSV005", false, Severity::Medium, None),
                    check_with("KSV006", true, Severity::Critical, None),
                    // Not what a scan makes, but the writer must not assume it away.
                    CheckEntry {
                        messages: vec![],
                        ..check("KSV007", false, None)
                    },
                ],
            };
            let mut out = Vec::new();
            write_entry(&mut out, &entry).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&entry).unwrap()
            );
        }
        let empty = ResourceEntry {
            file: "f".into(),
            document: 0,
            item: None,
            line: None,
            api_version: None,
            kind: "ConfigMap".into(),
            namespace: None,
            name: Some("n".into()),
            checks: vec![],
        };
        let mut out = Vec::new();
        write_entry(&mut out, &empty).unwrap();
        assert_eq!(out, serde_json::to_vec(&empty).unwrap());
    }
}
