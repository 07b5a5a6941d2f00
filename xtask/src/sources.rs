// The sources the built-in plugins are built from, as one digest. Included by xtask
// (which records it beside the bundle it builds) and by host/cli/build.rs (which warns
// when the bundle it embeds was built from other sources), so both read them alike.

/// The directories, relative to the workspace root, whose files make the plugin `name`.
pub fn plugin_source_dirs(name: &str) -> Vec<String> {
    vec![
        format!("plugins/{name}"),
        "plugins/kit".to_string(),
        "host/tree".to_string(),
        "wit".to_string(),
    ]
}

/// sha256 (hex) over the sorted relative paths and contents of every file under `dirs`
/// (build output directories left out).
pub fn sources_digest(root: &std::path::Path, dirs: &[String]) -> String {
    use sha2::{Digest, Sha256};
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "target") {
                    walk(&p, out);
                }
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for d in dirs {
        walk(&root.join(d), &mut files);
    }
    files.sort();
    files.dedup();
    let mut h = Sha256::new();
    for f in files {
        let rel = f.strip_prefix(root).unwrap_or(&f);
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(std::fs::read(&f).unwrap_or_default());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
