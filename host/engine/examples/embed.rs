//! An embedder's program on the library alone: no CLI, no terminal code, and (built with
//! `--no-default-features`) no registry client either. It loads the plugins of a bundle
//! directory, judges the one object on stdin and prints its failed checks; the exit
//! status is 1 when one fails at or above the policy's threshold.
//!
//! ```sh
//! cargo xtask build
//! cargo run --release -p tollgate --example embed -- target/release/plugins < pod.yaml
//! ```

use std::io::Read;
use std::process::ExitCode;

use tollgate::{Auditor, Object};

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: embed PLUGIN_DIR < object.yaml")?;
    // Configuration mistakes are errors here; a plugin that fails to load is not: the
    // others run, and the load errors say why.
    let auditor = Auditor::builder().bundle(dir).build()?;
    for e in auditor.load_errors() {
        eprintln!("{e}");
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    // The same verdicts a scan gives the same object; any thread may call this.
    let verdicts = auditor.evaluate(Object::Yaml(&text))?;
    let mut over = false;
    for check in verdicts.failed() {
        println!(
            "{} {}: {}",
            check.severity,
            check.meta.id,
            check.messages.join("; ")
        );
        over |= check.severity >= auditor.policy().fail_on;
    }
    Ok(if over {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
