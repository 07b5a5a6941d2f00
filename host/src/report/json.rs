//! `--format json`: the tollgate.report/v1 document, written as the scan goes: the
//! header first, then one resource per line, then errors, skipped documents and the
//! summary. Memory does not grow with the number of resources.

use std::io::Write;

use serde::Serialize;

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
        serde_json::to_writer(&mut self.out, entry)?;
        Ok(())
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
