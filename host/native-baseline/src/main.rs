//! `tollgate-native [--jobs N] PATH...`: what `tollgate scan` does (discover, split,
//! parse with the same limits into the tree encoding, expand Lists, dispatch by kind,
//! run every check including
//! KSV032/KSV033) with the plugin crates linked in as plain Rust instead of sandboxed
//! components. Prints the counts, for the benchmark.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use tollgate_input::{self as input, InputLimits, Loaded};
use tollgate_kit::{Policy, Runtime};

trait Plugin: Sync {
    /// The enabled checks that apply to `kind` (the host decides this once per kind
    /// and worker; so does this baseline).
    fn applicable(&self, kind: &str) -> Vec<u32>;
    /// (checks run, checks failed)
    fn run(&self, ids: &[u32], tree: &[u8]) -> (usize, usize);
}

struct Native<P: Policy> {
    rt: Runtime<P>,
}

impl<P: Policy + Sync> Native<P> {
    fn new(settings: &str) -> Self {
        let mut rt = Runtime::<P>::new();
        rt.configure_json(settings).expect("settings");
        Native { rt }
    }
}

impl<P: Policy + Sync> Plugin for Native<P> {
    fn applicable(&self, kind: &str) -> Vec<u32> {
        let enabled = self.rt.enabled_ids();
        self.rt
            .checks
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                enabled.contains(&c.id)
                    && c.kinds
                        .iter()
                        .any(|k| k == "*" || k.eq_ignore_ascii_case(kind))
            })
            .map(|(i, _)| i as u32)
            .collect()
    }

    fn run(&self, ids: &[u32], tree: &[u8]) -> (usize, usize) {
        if ids.is_empty() {
            return (0, 0);
        }
        // The same bytes the host hands a component, read in place as the guest does.
        let results = self.rt.evaluate_bytes(tree, ids).unwrap_or_default();
        (
            results.len(),
            results.iter().filter(|r| !r.findings.is_empty()).count(),
        )
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(i) = args.iter().position(|a| a == "--jobs") {
        jobs = args[i + 1].parse().expect("--jobs N");
        args.drain(i..=i + 1);
    }
    // --parse-only: the input pipeline alone, the floor under any checking.
    let parse_only = args.iter().any(|a| a == "--parse-only");
    args.retain(|a| a != "--parse-only");
    let paths: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    let mut plugins: Vec<Box<dyn Plugin>> = vec![
        Box::new(Native::<tollgate_general::General>::new("{}")),
        Box::new(Native::<tollgate_advanced::Advanced>::new(
            r#"{"KSV032":{"enabled":true},"KSV033":{"enabled":true}}"#,
        )),
        Box::new(Native::<tollgate_pss_baseline::PssBaseline>::new("{}")),
        Box::new(Native::<tollgate_pss_restricted::PssRestricted>::new("{}")),
        Box::new(Native::<tollgate_rbac::Rbac>::new("{}")),
    ];
    if parse_only {
        plugins.clear();
    }
    let limits = InputLimits::default();
    let mut errors = Vec::new();
    let files = input::discover(&paths, &mut errors);
    let (resources, run, failed) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    for f in files {
        let docs = match input::read_file(&f, &limits) {
            Ok(d) => d,
            Err(_) => continue,
        };
        let next = AtomicUsize::new(0);
        let chunks: Vec<&[input::RawDoc]> = docs.chunks(32).collect();
        std::thread::scope(|s| {
            for _ in 0..jobs {
                s.spawn(|| {
                    let mut dispatch: Vec<HashMap<String, Vec<u32>>> =
                        plugins.iter().map(|_| HashMap::new()).collect();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(c) = chunks.get(i) else { break };
                        let mut loaded = Loaded::default();
                        for d in c.iter() {
                            input::parse_doc(d, &limits, &mut loaded);
                        }
                        for r in &loaded.resources {
                            for (p, table) in plugins.iter().zip(&mut dispatch) {
                                if !table.contains_key(&r.kind) {
                                    table.insert(r.kind.clone(), p.applicable(&r.kind));
                                }
                                let (n, f) = p.run(&table[&r.kind], r.tree.as_bytes());
                                run.fetch_add(n, Ordering::Relaxed);
                                failed.fetch_add(f, Ordering::Relaxed);
                            }
                        }
                        resources.fetch_add(loaded.resources.len(), Ordering::Relaxed);
                    }
                });
            }
        });
    }
    println!(
        "{} resources, {} checks run, {} failed",
        resources.into_inner(),
        run.into_inner(),
        failed.into_inner()
    );
}
