//! `--format junit`: one testsuite per resource, one testcase per check; a failed check
//! is a `<failure>` carrying its messages. Written as the scan goes.

use std::io::Write;

use super::{Context, ResourceEntry, Sink, Tail};

pub struct JunitSink<W: Write> {
    out: W,
}

impl<W: Write> JunitSink<W> {
    pub fn new(out: W) -> Self {
        JunitSink { out }
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

impl<W: Write> Sink for JunitSink<W> {
    fn begin(&mut self, _ctx: &Context) -> std::io::Result<()> {
        writeln!(
            self.out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tollgate\">"
        )
    }

    fn resource(&mut self, r: &ResourceEntry) -> std::io::Result<()> {
        let failures = r
            .checks
            .iter()
            .filter(|c| !c.success && c.exempted.is_none())
            .count();
        let skipped = r.checks.iter().filter(|c| c.exempted.is_some()).count();
        let ns = r
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        let name = format!(
            "{} {ns}{}",
            r.kind,
            r.name.as_deref().unwrap_or("(unnamed)")
        );
        let location = match r.item {
            Some(i) => format!("{}#{}[{i}]", r.file, r.document),
            None => format!("{}#{}", r.file, r.document),
        };
        writeln!(
            self.out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" file=\"{}\">",
            escape(&name),
            r.checks.len(),
            escape(&location)
        )?;
        let classname = escape(&format!(
            "{}.{}{}",
            r.kind,
            ns.replace('/', "."),
            r.name.as_deref().unwrap_or("unnamed")
        ));
        for c in &r.checks {
            let name = escape(&format!("{} {}", c.meta.id, c.meta.title));
            // What goes inside the testcase: nothing for a pass.
            let body = match &c.exempted {
                Some(x) => Some(format!(
                    "<skipped message=\"exempted: {} ({})\"/>",
                    escape(&x.reason),
                    escape(&x.source)
                )),
                None if c.success => None,
                None => Some(format!(
                    "<failure type=\"{}\" message=\"{}\">{}</failure>",
                    c.severity.as_str(),
                    escape(
                        c.messages
                            .first()
                            .map(String::as_str)
                            .unwrap_or(&c.meta.title)
                    ),
                    escape(&c.messages.join("\n"))
                )),
            };
            match body {
                None => writeln!(self.out, "    <testcase classname=\"{classname}\" name=\"{name}\"/>")?,
                Some(b) => writeln!(
                    self.out,
                    "    <testcase classname=\"{classname}\" name=\"{name}\">\n      {b}\n    </testcase>"
                )?,
            }
        }
        writeln!(self.out, "  </testsuite>")
    }

    fn finish(&mut self, _tail: &Tail) -> std::io::Result<()> {
        writeln!(self.out, "</testsuites>")?;
        self.out.flush()
    }
}
