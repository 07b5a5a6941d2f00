//! Plugin authoring: `tollgate plugin new` (a ready-to-build project) and the
//! expectations `plugin test` checks (example manifests that declare their expected
//! outcome). What a plugin file is (`plugin inspect`) is [`tollgate::plugins::inspect`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tollgate::input::{self, InputLimits};
use tollgate::report::ResourceEntry;

/// The annotation an example manifest uses to declare what a check must say about it:
/// `"fail: ID[, ID]"`, `"pass: ID"`, or both separated by `;`.
pub const EXPECT: &str = "tollgate.dev/expect";

const WIT: &str = include_str!("../../../wit/policy.wit");

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

/// Why a plugin project could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    #[error("plugin name '{0}' must be lower-case letters, digits and '-' (it becomes the crate and file name)")]
    Name(String),
    #[error("{} already exists; choose another name or directory", .0.display())]
    Exists(PathBuf),
    #[error(
        "--kit names no tollgate-kit crate (no Cargo.toml there): pass plugins/kit of a tollgate checkout, or leave --kit out to use the kit built into tollgate"
    )]
    NoKit,
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Where `plugin new` writes the embedded kit inside a Rust project: two levels down,
/// so that the kit's `../../wit` is the project's `wit/`.
const EMBEDDED_KIT_DIR: &str = "vendor/tollgate-kit";
/// The tree encoding the kit reads, beside it (the kit names it as `../tollgate-tree`).
const EMBEDDED_TREE_DIR: &str = "vendor/tollgate-tree";
/// The tree crate's sources as this binary was built with them (`host/tree/src`).
const TREE_SOURCES: &[(&str, &str)] = &[
    (
        "deserialize.rs",
        include_str!("../../tree/src/deserialize.rs"),
    ),
    ("lib.rs", include_str!("../../tree/src/lib.rs")),
    ("node.rs", include_str!("../../tree/src/node.rs")),
    ("tests.rs", include_str!("../../tree/src/tests.rs")),
    ("writer.rs", include_str!("../../tree/src/writer.rs")),
];

/// The kit's sources as this binary was built with them (`plugins/kit/src`).
const KIT_SOURCES: &[(&str, &str)] = &[
    (
        "alloc.rs",
        include_str!("../../../plugins/kit/src/alloc.rs"),
    ),
    (
        "component.rs",
        include_str!("../../../plugins/kit/src/component.rs"),
    ),
    (
        "flags.rs",
        include_str!("../../../plugins/kit/src/flags.rs"),
    ),
    ("info.rs", include_str!("../../../plugins/kit/src/info.rs")),
    ("lib.rs", include_str!("../../../plugins/kit/src/lib.rs")),
    (
        "node_info.rs",
        include_str!("../../../plugins/kit/src/node_info.rs"),
    ),
    (
        "object.rs",
        include_str!("../../../plugins/kit/src/object.rs"),
    ),
    ("rbac.rs", include_str!("../../../plugins/kit/src/rbac.rs")),
    (
        "runtime.rs",
        include_str!("../../../plugins/kit/src/runtime.rs"),
    ),
    (
        "value.rs",
        include_str!("../../../plugins/kit/src/value.rs"),
    ),
];

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(template.to_string(), |t, (k, v)| {
        t.replace(&format!("{{{{{k}}}}}"), v)
    })
}

/// Writes a new plugin project into `dir/name`.
pub fn new_project(
    name: &str,
    lang: Lang,
    dir: &Path,
    kit: Option<&Path>,
) -> Result<PathBuf, AuthoringError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(AuthoringError::Name(name.to_string()));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(AuthoringError::Exists(root));
    }
    let krate = name.replace('-', "_");
    let id = format!(
        "{}001",
        name.chars()
            .filter(|c| c.is_ascii_alphabetic())
            .take(3)
            .collect::<String>()
            .to_ascii_uppercase()
    );
    let (build, output) = match lang {
        Lang::Rust => (
            "cargo build --release --target wasm32-wasip2".to_string(),
            format!("target/wasm32-wasip2/release/{krate}.wasm"),
        ),
        Lang::Python => (
            format!("pip install componentize-py && componentize-py -d wit -w plugin componentize app -o {krate}.wasm"),
            format!("{krate}.wasm"),
        ),
        Lang::Js => (
            format!("npm install componentize-qjs && npx componentize-qjs --wit wit --world plugin --sync --stub-wasi --js policy.js -o {krate}.wasm"),
            format!("{krate}.wasm"),
        ),
    };
    let lang_name = match lang {
        Lang::Rust => "Rust",
        Lang::Python => "Python",
        Lang::Js => "JavaScript",
    };
    // The kit: the one given, else the copy embedded in this binary, written into the
    // project (so a copied or installed binary starts a project that builds anywhere).
    let kit_str = match (lang, kit) {
        (Lang::Rust, Some(k)) => {
            let k = k.canonicalize().unwrap_or_else(|_| k.to_path_buf());
            if !k.join("Cargo.toml").exists() {
                return Err(AuthoringError::NoKit);
            }
            k.display().to_string()
        }
        (Lang::Rust, None) => EMBEDDED_KIT_DIR.to_string(),
        _ => String::new(),
    };
    let vars = [
        ("NAME", name),
        ("CRATE", krate.as_str()),
        ("ID", id.as_str()),
        ("KIT", kit_str.as_str()),
        ("LANG", lang_name),
        ("BUILD", build.as_str()),
        ("OUTPUT", output.as_str()),
    ];
    let write = |rel: &str, text: String| -> Result<(), AuthoringError> {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap_or(&root))
            .and_then(|()| std::fs::write(&path, text))
            .map_err(|error| AuthoringError::Write { path, error })
    };
    write("wit/policy.wit", WIT.to_string())?;
    if lang == Lang::Rust && kit.is_none() {
        let version = [("VERSION", env!("CARGO_PKG_VERSION"))];
        write(
            &format!("{EMBEDDED_KIT_DIR}/Cargo.toml"),
            fill(include_str!("templates/kit_cargo.toml"), &version),
        )?;
        for (file, text) in KIT_SOURCES {
            write(&format!("{EMBEDDED_KIT_DIR}/src/{file}"), text.to_string())?;
        }
        write(
            &format!("{EMBEDDED_TREE_DIR}/Cargo.toml"),
            fill(include_str!("templates/tree_cargo.toml"), &version),
        )?;
        for (file, text) in TREE_SOURCES {
            write(&format!("{EMBEDDED_TREE_DIR}/src/{file}"), text.to_string())?;
        }
    }
    write(
        "examples/pass.yaml",
        fill(include_str!("templates/examples_pass.yaml"), &vars),
    )?;
    write(
        "examples/fail.yaml",
        fill(include_str!("templates/examples_fail.yaml"), &vars),
    )?;
    write(
        "README.md",
        fill(include_str!("templates/readme.md"), &vars),
    )?;
    match lang {
        Lang::Rust => {
            write(
                "Cargo.toml",
                fill(include_str!("templates/rust_cargo.toml"), &vars),
            )?;
            write(
                "src/lib.rs",
                fill(include_str!("templates/rust_lib.rs"), &vars),
            )?;
        }
        Lang::Python => write(
            "app.py",
            fill(include_str!("templates/python_app.py"), &vars),
        )?,
        Lang::Js => write(
            "policy.js",
            fill(include_str!("templates/js_policy.js"), &vars),
        )?,
    }
    Ok(root)
}

/// Expected outcomes per (file, document, item): check id → should fail.
type Expectations = BTreeMap<(String, usize, Option<usize>), BTreeMap<String, bool>>;

fn parse_expect(text: &str) -> Result<BTreeMap<String, bool>, String> {
    let mut out = BTreeMap::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (verdict, ids) = part
            .split_once(':')
            .ok_or_else(|| format!("'{part}' should read 'fail: ID' or 'pass: ID'"))?;
        let fail = match verdict.trim() {
            "fail" => true,
            "pass" => false,
            other => return Err(format!("'{other}' should be 'pass' or 'fail'")),
        };
        for id in ids.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            out.insert(id.to_string(), fail);
        }
    }
    Ok(out)
}

/// Reads the expectations of example manifests: the `tollgate.dev/expect` annotation,
/// or (for catalogue examples) a file named pass*.yaml / fail*.yaml in a directory named
/// after a check id.
pub fn expectations(paths: &[PathBuf], check_ids: &[String]) -> (Expectations, Vec<String>) {
    let loaded = input::load(paths, &InputLimits::default());
    let mut problems: Vec<String> = loaded
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.file, e.message))
        .collect();
    let mut out = Expectations::new();
    for r in &loaded.resources {
        let mut exp = BTreeMap::new();
        if let Some(text) = r
            .tree
            .root()
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(EXPECT))
            .and_then(|t| t.as_str())
        {
            match parse_expect(text) {
                Ok(e) => exp = e,
                Err(e) => problems.push(format!("{}#{}: {EXPECT}: {e}", r.file, r.document)),
            }
        } else {
            let path = Path::new(&*r.file);
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let dir_id = path
                .parent()
                .and_then(|p| p.parent())
                .and_then(|p| p.file_name())
                .and_then(|s| s.to_str());
            if let Some(id) = dir_id.filter(|d| check_ids.iter().any(|c| c == d)) {
                if stem.starts_with("pass") {
                    exp.insert(id.to_string(), false);
                } else if stem.starts_with("fail") {
                    exp.insert(id.to_string(), true);
                }
            }
        }
        if !exp.is_empty() {
            out.insert((r.file.to_string(), r.document, r.item), exp);
        }
    }
    (out, problems)
}

/// Compares results with expectations; returns the readable differences and how many
/// expectations were checked.
pub fn compare(expect: &Expectations, resources: &[ResourceEntry]) -> (Vec<String>, usize) {
    let mut diffs = Vec::new();
    let mut n = 0;
    for r in resources {
        let Some(exp) = expect.get(&(r.file.to_string(), r.document, r.item)) else {
            continue;
        };
        let who = format!(
            "{}#{}{} {} {}",
            r.file,
            r.document,
            r.item.map(|i| format!("[{i}]")).unwrap_or_default(),
            r.kind,
            r.name.as_deref().unwrap_or("(unnamed)")
        );
        for (id, should_fail) in exp {
            n += 1;
            let got = r.checks.iter().find(|c| c.meta.id == **id);
            let word = |f: bool| if f { "FAIL" } else { "pass" };
            match got {
                // A check that does not apply to the kind cannot fail.
                None if !*should_fail => {}
                None => diffs.push(format!("{who}\n  {id}: expected {}, but the check did not run (unknown id, disabled, or its kinds do not include {})", word(*should_fail), r.kind)),
                Some(c) if c.success == *should_fail => {
                    let mut d = format!("{who}\n  {id}: expected {}, got {}", word(*should_fail), word(!c.success));
                    for m in &c.messages {
                        d.push_str(&format!("\n    - {m}"));
                    }
                    diffs.push(d);
                }
                Some(_) => {}
            }
        }
    }
    (diffs, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kit file added to plugins/kit/src must be embedded too, and the standalone
    /// manifest must name the kit's dependencies.
    #[test]
    fn the_embedded_kit_is_the_whole_kit() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/kit");
        let mut files: Vec<String> = std::fs::read_dir(dir.join("src"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let embedded: Vec<&str> = KIT_SOURCES.iter().map(|(f, _)| *f).collect();
        assert_eq!(files, embedded);
        for (f, text) in KIT_SOURCES {
            assert_eq!(
                std::fs::read_to_string(dir.join("src").join(f)).unwrap(),
                *text
            );
        }
        let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tree/src");
        let mut files: Vec<String> = std::fs::read_dir(&tree)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let embedded: Vec<&str> = TREE_SOURCES.iter().map(|(f, _)| *f).collect();
        assert_eq!(files, embedded);
        for (f, text) in TREE_SOURCES {
            assert_eq!(std::fs::read_to_string(tree.join(f)).unwrap(), *text);
        }
        let kit = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let template = include_str!("templates/kit_cargo.toml");
        for dep in [
            "serde",
            "serde_json",
            "tollgate-tree",
            "wit-bindgen",
            "talc",
        ] {
            assert!(kit.contains(&format!("\n{dep}")), "{dep} in the kit");
            assert!(
                template.contains(&format!("\n{dep} =")),
                "{dep} in the template"
            );
        }
    }
}
