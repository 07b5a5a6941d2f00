//! Plugin authoring: `tollgate plugin new` (a ready-to-build project) and the
//! expectations `plugin test` checks (example manifests that declare their expected
//! outcome). What a plugin file is (`plugin inspect`) is [`crate::plugins::inspect`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::input::{self, InputLimits};
use crate::report::ResourceEntry;

/// The annotation an example manifest uses to declare what a check must say about it:
/// `"fail: ID[, ID]"`, `"pass: ID"`, or both separated by `;`.
pub const EXPECT: &str = "tollgate.dev/expect";

const WIT: &str = include_str!("../../wit/policy.wit");

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
        "cannot find the tollgate-kit crate; pass --kit PATH (plugins/kit of a tollgate checkout)"
    )]
    NoKit,
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

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
    let kit_path = match (lang, kit) {
        (Lang::Rust, Some(k)) => k.to_path_buf(),
        (Lang::Rust, None) => {
            let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/kit");
            if !built_from.join("Cargo.toml").exists() {
                return Err(AuthoringError::NoKit);
            }
            built_from
        }
        _ => PathBuf::new(),
    };
    let kit_path = kit_path.canonicalize().unwrap_or(kit_path);
    let kit_str = kit_path.display().to_string();
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
