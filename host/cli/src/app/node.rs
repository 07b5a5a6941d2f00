//! `tollgate node collect` and `tollgate node scan`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cli::{NodeCommand, NodeFormat, Source};
use tollgate::pipeline::Document;
use tollgate_node::{self as node, Collected};

pub(super) fn run(cmd: NodeCommand) -> Result<u8> {
    match cmd {
        NodeCommand::Collect(args) => loop {
            let collected = collect(&args.source);
            let text = match args.format {
                NodeFormat::Json => serde_json::to_string(&collected.node_info)? + "\n",
                NodeFormat::Yaml => {
                    format!("---\n{}", serde_saphyr::to_string(&collected.node_info)?)
                }
            };
            match &args.output {
                Some(file) => std::fs::write(file, text).with_context(|| {
                    format!("cannot write the NodeInfo object to {}", file.display())
                })?,
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(text.as_bytes())?;
                    out.flush()?;
                }
            }
            if args.interval == 0 {
                return Ok(0);
            }
            std::thread::sleep(std::time::Duration::from_secs(args.interval));
        },
        NodeCommand::Scan(args) => {
            let args = *args;
            let collected = collect(&args.source);
            let name = collected.node_info["metadata"]["name"]
                .as_str()
                .unwrap_or("node");
            let mut documents = vec![Document {
                name: format!("nodeinfo:{name}"),
                bytes: serde_json::to_vec(&collected.node_info)?,
                json: true,
            }];
            // The control plane's static Pods are judged by the control-plane checks,
            // read as the kubelet reads them (links followed inside the root).
            let (manifests, problems) = node::manifests::static_pods(&args.source.root);
            for p in problems {
                eprintln!("tollgate: warning: static Pod manifest {p}");
            }
            documents.extend(manifests.into_iter().map(|m| Document {
                json: m.node_path.ends_with(".json"),
                name: m.node_path,
                bytes: m.bytes,
            }));
            let paths: Vec<PathBuf> = args.scan.paths.to_vec();
            super::scan::scan(&args.scan, documents, &paths)
        }
    }
}

/// Collects the node, telling stderr what could not be read.
fn collect(source: &Source) -> Collected {
    let collected = node::collect(&node::Options {
        root: source.root.clone(),
        proc_dir: source.proc_dir.clone(),
        kubelet_config: source.kubelet_config.clone(),
        node_name: source.node_name.clone(),
    });
    for p in &collected.problems {
        eprintln!("tollgate: warning: {p}");
    }
    collected
}
