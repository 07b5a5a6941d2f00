//! `tollgate plugin push|pull|lock` and `inspect oci://...`: plugins through OCI
//! registries (signing is in `signing`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tollgate_runtime::{Limits, Sandbox};

use crate::cli::{KeyValue, ListFormat, PluginArgs, RegistryArgs};
use tollgate::PluginSource;
use tollgate_registry::artifact::{keys, PluginMeta};
use tollgate_registry::cosign::PublicKey;
use tollgate_registry::{self as registry, Client, Fetcher, Lock, OciRef, Store, Trust};

pub(super) fn client(args: &RegistryArgs, r: &OciRef) -> Result<Client> {
    Ok(Client::new(args.options(), &[r.registry()])?)
}

fn store() -> Option<Store> {
    tollgate_runtime::cache::default_dir().and_then(|d| Store::open(&d))
}

/// A fetcher that needs a signature by one of `key_files` (none: no signature).
pub(super) fn fetcher(r: &OciRef, key_files: &[PathBuf], args: &RegistryArgs) -> Result<Fetcher> {
    let keys = key_files
        .iter()
        .map(|k| PublicKey::load(k))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Fetcher::new(
        client(args, r)?,
        store(),
        Trust::keys_only(keys),
        None,
    ))
}

pub(super) fn map(kv: &[KeyValue]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|a| (a.key.clone(), a.value.clone()))
        .collect()
}

pub(super) fn push(
    file: &Path,
    r: &OciRef,
    annotations: &[KeyValue],
    args: &RegistryArgs,
) -> Result<u8> {
    let component = std::fs::read(file)
        .with_context(|| format!("{}: cannot read the plugin", file.display()))?;
    // Only a component that loads as a tollgate plugin is published.
    let d =
        tollgate::plugins::inspect(&Sandbox::new(Limits::default())?, &PluginSource::file(file))?;
    let plugin = tollgate_runtime::Plugin::from_bytes(
        &Sandbox::new(Limits::default())?,
        file,
        &component,
        d.sha256.clone(),
    )?;
    let meta = PluginMeta {
        name: &d.name,
        version: &d.version,
        description: &d.description,
        contract: d.contract.as_deref(),
        input: d.input,
        checks: d.checks.iter().map(|c| c.id.as_str()).collect(),
        exports: &plugin.exports,
        imports: &plugin.imports,
    };
    let extra: Vec<(String, String)> = annotations
        .iter()
        .map(|a| (a.key.clone(), a.value.clone()))
        .collect();
    let c = client(args, r)?;
    // Now, or $SOURCE_DATE_EPOCH for reproducible pushes (the same component and
    // annotations then give the same digest).
    let created = tollgate::clock::timestamp();
    let digest = c.block_on(registry::publish::push(
        &c, r, &component, &meta, &created, &extra,
    ))?;
    println!(
        "pushed {} {} ({} bytes, {} checks)",
        d.name,
        d.version,
        component.len(),
        d.checks.len()
    );
    println!("{}", r.pinned_text(&digest));
    Ok(0)
}

pub(super) fn pull(
    r: &OciRef,
    output: Option<&Path>,
    key_files: &[PathBuf],
    args: &RegistryArgs,
) -> Result<u8> {
    let fetcher = fetcher(r, key_files, args)?;
    let pulled = match fetcher.fetch_all(std::slice::from_ref(r)).pop() {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
        None => return Ok(2),
    };
    if let Some(out) = output {
        std::fs::write(out, &pulled.component)
            .with_context(|| format!("{}: cannot write", out.display()))?;
    }
    println!(
        "pulled {} ({} bytes, component sha256:{}){}",
        r.pinned_text(&pulled.digest),
        pulled.component.len(),
        pulled.sha256,
        output
            .map(|o| format!(" -> {}", o.display()))
            .unwrap_or_default()
    );
    if let Some(k) = &pulled.verified_by {
        println!("verified: signed by {}", k.display());
    }
    Ok(0)
}

pub(super) fn lock(args: &PluginArgs) -> Result<u8> {
    let (config, file) = super::read_config(args)?;
    let mut refs: Vec<OciRef> = Vec::new();
    for p in &config.plugins {
        let text = p.path.to_string_lossy();
        if text.starts_with(registry::reference::SCHEME) {
            refs.push(OciRef::parse(&text)?);
        }
    }
    refs.extend(args.plugins.iter().filter_map(|s| match s {
        PluginSource::Oci(r) => Some(r.clone()),
        _ => None,
    }));
    if refs.is_empty() {
        bail!("no registry plugin to lock: name oci:// references in plugins: of the configuration or with --plugin");
    }
    let hosts: Vec<&str> = refs.iter().map(|r| r.registry()).collect();
    let c = Client::new(args.registry.options(), &hosts)?;
    let path = registry::lock::path_for(file.as_deref());
    let mut lock = Lock::read(&path)?.unwrap_or_default();
    lock.version = 1;
    for r in &refs {
        let digest = match r.digest() {
            Some(d) => d.to_string(),
            None => c.block_on(c.resolve(r.oci()))?,
        };
        let before = lock.plugins.insert(r.to_string(), digest.clone());
        let note = match before {
            Some(b) if b != digest => format!(" (was {b})"),
            _ => String::new(),
        };
        println!("{r} {digest}{note}");
    }
    lock.write(&path)?;
    println!("wrote {}", path.display());
    Ok(0)
}

pub(super) fn inspect(r: &OciRef, format: ListFormat, args: &RegistryArgs) -> Result<u8> {
    let fetcher = fetcher(r, &[], args)?;
    let (digest, manifest, layer) = fetcher.client().block_on(fetcher.describe(r))?;
    let a = &manifest.annotations;
    let get = |k: &str| a.get(k).cloned().unwrap_or_default();
    match format {
        ListFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "reference": r.to_string(),
                "digest": digest,
                "component": {"digest": layer.digest, "size": layer.size},
                "name": get(keys::NAME),
                "version": get(keys::PLUGIN_VERSION),
                "contract": get(keys::CONTRACT),
                "checks": get(keys::CHECKS).split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
                "annotations": a,
            }))?
        ),
        ListFormat::Table => {
            println!("reference: {r}");
            println!("digest:    {digest}");
            println!("component: {} ({} bytes)", layer.digest, layer.size);
            println!(
                "plugin:    {} {}",
                get(keys::NAME),
                get(keys::PLUGIN_VERSION)
            );
            println!("contract:  {}", get(keys::CONTRACT));
            println!("input:     {}", get(keys::INPUT));
            println!("checks:    {}", get(keys::CHECKS).replace(',', ", "));
            for (k, v) in a {
                if !k.starts_with("dev.tollgate.plugin.") {
                    println!("  {k}: {v}");
                }
            }
        }
    }
    Ok(0)
}
