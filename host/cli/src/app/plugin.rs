//! `tollgate plugin new|inspect|test`: writing, inspecting and testing policy plugins.

use std::path::PathBuf;

use anyhow::{bail, Result};
use tollgate_runtime::{Limits, Sandbox};

use crate::authoring;
use crate::cli::{ListFormat, PluginCommand};
use tollgate::plugins::{self, PluginDescription, PluginSource};
use tollgate::report::{self, Collect};
use tollgate::Auditor;

pub(super) fn run(cmd: PluginCommand) -> Result<u8> {
    match cmd {
        PluginCommand::New {
            name,
            lang,
            dir,
            kit,
        } => {
            let root = authoring::new_project(&name, lang, &dir, kit.as_deref())?;
            println!("created {}", root.display());
            println!(
                "next: cd {} and follow its README (build, then `tollgate plugin test`)",
                root.display()
            );
            Ok(0)
        }
        PluginCommand::Inspect {
            file: PluginSource::Oci(r),
            format,
            registry,
        } => super::registry::inspect(&r, format, &registry),
        PluginCommand::Inspect { file, format, .. } => {
            let description = plugins::inspect(&Sandbox::new(Limits::default())?, &file)?;
            match format {
                ListFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::to_value(&description)?)?
                ),
                ListFormat::Table => print_description(&description),
            }
            Ok(0)
        }
        PluginCommand::Test {
            file,
            examples,
            settings,
        } => test(file, &examples, settings),
        PluginCommand::Push {
            file,
            reference,
            annotations,
            registry,
        } => super::registry::push(&file, &reference, &annotations, &registry),
        PluginCommand::Pull {
            reference,
            output,
            keys,
            registry,
        } => super::registry::pull(&reference, output.as_deref(), &keys, &registry),
        PluginCommand::Lock { plugins } => super::registry::lock(&plugins),
        PluginCommand::Keygen {
            output_key_prefix,
            force,
        } => super::signing::keygen(&output_key_prefix, force),
        PluginCommand::Sign {
            reference,
            key,
            annotations,
            registry,
        } => super::signing::sign(&reference, &key, &annotations, &registry),
        PluginCommand::Verify {
            reference,
            keys,
            annotations,
            registry,
        } => super::signing::verify(&reference, &keys, &annotations, &registry),
    }
}

fn print_description(d: &PluginDescription) {
    println!("file:      {} ({} bytes)", d.file, d.size);
    println!("sha256:    {}", d.sha256);
    println!("plugin:    {} {}", d.name, d.version);
    println!(
        "contract:  exports {} (host implements {})",
        d.contract.as_deref().unwrap_or("?"),
        d.host_contract
    );
    println!(
        "input:     {}",
        if d.input == "tree" {
            "objects pre-parsed by the host (exports tollgate:policy/tree)"
        } else {
            "objects as JSON text"
        }
    );
    println!(
        "imports:   {}",
        if d.imports.is_empty() {
            "none".to_string()
        } else {
            format!("{} (all denied by the sandbox)", d.imports.join(", "))
        }
    );
    println!("settings:  {}", d.settings_help);
    println!("checks:");
    for c in &d.checks {
        println!(
            "  {:<8} {:<8} {:<50} kinds: {}",
            c.id,
            c.severity.as_str(),
            c.title,
            c.kinds.join(",")
        );
    }
}

/// Runs one plugin on example manifests and compares with what they declare.
fn test(file: PluginSource, examples: &[PathBuf], settings: Option<String>) -> Result<u8> {
    let mut builder = Auditor::builder().no_bundle().plugin(file);
    if let Some(s) = settings {
        builder = builder.default_settings(s);
    }
    let auditor = builder.build()?;
    if let Some(e) = auditor.load_errors().first() {
        bail!("{e}");
    }
    let ids: Vec<String> = auditor
        .plugins()
        .iter()
        .flat_map(|p| p.checks().iter().map(|c| c.id.clone()))
        .collect();
    let (expect, problems) = authoring::expectations(examples, &ids);
    if expect.is_empty() {
        bail!(
            "no example declares an expected outcome in {}: annotate manifests with {}: \"fail: ID\" or \"pass: ID\"",
            examples.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            authoring::EXPECT
        );
    }
    let mut collect = Collect::default();
    let tail: report::Tail = auditor.scan(examples, &mut collect)?;
    let (diffs, n) = authoring::compare(&expect, &collect.resources);
    for d in &diffs {
        println!("{d}\n");
    }
    for p in &problems {
        println!("error: {p}");
    }
    for e in &tail.errors {
        println!("error: {}: {}", e.file, e.message);
    }
    println!(
        "{}: {} of {n} expectations met{}",
        auditor
            .plugins()
            .first()
            .map(|p| p.plugin.name())
            .unwrap_or("plugin"),
        n - diffs.len(),
        if diffs.is_empty() {
            String::new()
        } else {
            format!(", {} not met", diffs.len())
        }
    );
    Ok(if !problems.is_empty() || !tail.errors.is_empty() {
        2
    } else if diffs.is_empty() {
        0
    } else {
        1
    })
}
