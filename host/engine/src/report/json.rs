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
        if ctx.failed_only {
            // Said up front: a reader must not take the missing passed checks for absent ones.
            field(&mut self.out, "failed_only", &true)?;
            writeln!(self.out, ",")?;
        }
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

/// What `serde_json::to_writer(entry)` writes, byte for byte, with each check's
/// constant fields copied from their pre-rendered JSON and strings escaped a word at a
/// time: the JSON report of a large scan writes millions of check entries, and this is
/// the thread everything else waits on.
fn write_entry<W: Write>(out: &mut W, e: &ResourceEntry) -> std::io::Result<()> {
    out.write_all(b"{\"file\":")?;
    write_str(out, &e.file)?;
    out.write_all(b",\"document\":")?;
    write_number(out, Some(e.document))?;
    out.write_all(b",\"item\":")?;
    write_number(out, e.item)?;
    out.write_all(b",\"line\":")?;
    write_number(out, e.line)?;
    out.write_all(b",\"apiVersion\":")?;
    write_opt_str(out, e.api_version.as_deref())?;
    out.write_all(b",\"kind\":")?;
    write_str(out, &e.kind)?;
    out.write_all(b",\"namespace\":")?;
    write_opt_str(out, e.namespace.as_deref())?;
    out.write_all(b",\"name\":")?;
    write_opt_str(out, e.name.as_deref())?;
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
            out.write_all(b",\"messages\":[")?;
            for (i, m) in c.messages.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_str(out, m)?;
            }
            out.write_all(b"]")?;
        }
        if let Some(x) = &c.exempted {
            out.write_all(b",\"exempted\":")?;
            serde_json::to_writer(&mut *out, x)?;
        }
        out.write_all(b"}")?;
    }
    out.write_all(b"]}")
}

fn write_number<W: Write>(out: &mut W, n: Option<usize>) -> std::io::Result<()> {
    match n {
        Some(n) => out.write_all(itoa::Buffer::new().format(n).as_bytes()),
        None => out.write_all(b"null"),
    }
}

fn write_opt_str<W: Write>(out: &mut W, s: Option<&str>) -> std::io::Result<()> {
    match s {
        Some(s) => write_str(out, s),
        None => out.write_all(b"null"),
    }
}

/// A JSON string as serde_json writes it: `"` and `\\` escaped, control characters as
/// `\\b \\t \\n \\f \\r` or `\\u00XX`, everything else (non-ASCII included) as is. Runs
/// of eight bytes that need nothing are skipped with one test.
fn write_str<W: Write>(out: &mut W, s: &str) -> std::io::Result<()> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether any byte of `w` is zero / below `n` (n <= 128).
    let zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH != 0;
    let clean = |w: u64| {
        !(zero(w ^ (ONES * u64::from(b'"')))
            || zero(w ^ (ONES * u64::from(b'\\')))
            || w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0)
    };
    let b = s.as_bytes();
    out.write_all(b"\"")?;
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        if let Some(&[c0, c1, c2, c3, c4, c5, c6, c7]) = b.get(i..i + 8) {
            if clean(u64::from_le_bytes([c0, c1, c2, c3, c4, c5, c6, c7])) {
                i += 8;
                continue;
            }
        }
        let escaped: &[u8] = match b[i] {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            c if c < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.write_all(&b[start..i])?;
                out.write_all(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(c >> 4)],
                    HEX[usize::from(c & 0xf)],
                ])?;
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.write_all(&b[start..i])?;
        out.write_all(escaped)?;
        i += 1;
        start = i;
    }
    out.write_all(&b[start..])?;
    out.write_all(b"\"")
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
                name: ns.map(|_| "web\\\t\u{7}é".to_string()),
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

    /// The word-at-a-time string writer agrees with serde_json on every character up
    /// to U+00FF and beyond, alone and at every offset of runs longer than a word.
    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut samples: Vec<String> = (0u32..0x100)
            .chain([0x2028, 0x1F600])
            .filter_map(char::from_u32)
            .map(String::from)
            .collect();
        for special in [
            "\"", "\\", "\n", "\u{1}", "\u{1f}", "\u{7f}", "é", " ", "\t\r",
        ] {
            for at in 0..18 {
                let mut s = "x".repeat(at);
                s.push_str(special);
                s.push_str(&"y".repeat(17 - at));
                samples.push(s);
            }
        }
        samples.push("Container 'main' of Pod 'p' should set resources.limits.cpu".into());
        for s in &samples {
            let mut out = Vec::new();
            write_str(&mut out, s).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }
}
