//! `tollgate plugin keygen|sign|verify`: cosign key pairs and signatures on registry
//! plugins.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::registry::{client, fetcher, map};
use crate::cli::{KeyValue, RegistryArgs};
use tollgate_registry::cosign::{self, SigningKey};
use tollgate_registry::{self as registry, OciRef};

pub(super) fn verify(
    r: &OciRef,
    key_files: &[PathBuf],
    annotations: &[KeyValue],
    args: &RegistryArgs,
) -> Result<u8> {
    let fetcher = fetcher(r, key_files, args)?.require_annotations(map(annotations));
    match fetcher.fetch_all(std::slice::from_ref(r)).pop() {
        Some(Ok(p)) => {
            println!(
                "verified {}: signed by {}",
                r.pinned_text(&p.digest),
                p.verified_by.as_deref().unwrap_or(Path::new("?")).display()
            );
            Ok(0)
        }
        Some(Err(e)) => {
            eprintln!("error: {e}");
            Ok(2)
        }
        None => Ok(2),
    }
}

pub(super) fn sign(
    r: &OciRef,
    key: &Path,
    annotations: &[KeyValue],
    args: &RegistryArgs,
) -> Result<u8> {
    let password = password(false)?;
    let key = SigningKey::load(key, password.as_bytes())?;
    let c = client(args, r)?;
    let digest = c.block_on(registry::publish::sign(&c, r, &key, &map(annotations)))?;
    println!(
        "signed {} (signature at tag {})",
        r.pinned_text(&digest),
        cosign::signature_tag(&digest)
    );
    Ok(0)
}

pub(super) fn keygen(prefix: &str, force: bool) -> Result<u8> {
    let (key, public) = (
        PathBuf::from(format!("{prefix}.key")),
        PathBuf::from(format!("{prefix}.pub")),
    );
    for f in [&key, &public] {
        if f.exists() && !force {
            bail!(
                "{} exists; pass --force to overwrite it, or --output-key-prefix for another name",
                f.display()
            );
        }
    }
    let password = password(true)?;
    let (private_pem, public_pem) = cosign::generate(password.as_bytes())?;
    write_private(&key, private_pem.as_bytes())?;
    std::fs::write(&public, public_pem)
        .with_context(|| format!("{}: cannot write", public.display()))?;
    println!("Private key written to {}", key.display());
    println!("Public key written to {}", public.display());
    Ok(0)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("{}: cannot write", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("{}: cannot write", path.display()))
}

/// The key's password: COSIGN_PASSWORD (may be empty), else asked on the terminal.
fn password(confirm: bool) -> Result<String> {
    if let Ok(p) = std::env::var("COSIGN_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: set COSIGN_PASSWORD (it may be empty) or run on a terminal");
    }
    let p = rpassword::prompt_password("Enter password for private key: ")?;
    if confirm && rpassword::prompt_password("Enter password for private key again: ")? != p {
        bail!("the passwords differ");
    }
    Ok(p)
}
