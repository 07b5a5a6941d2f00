//! The scan pipeline: files are read and split on the calling thread, documents are
//! gathered into a bounded window, and `jobs` workers parse and evaluate chunks of the
//! window in parallel, each with its own plugin instances, while the calling thread
//! reports the previous window. Results are handed to the report in input order, so the
//! output is the same byte for byte whatever `jobs`, `window` or `batch` are. At most two
//! windows of documents are in memory at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::evaluate::{self, Evaluation};
use crate::input::{self, InputLimits, Loaded, RawDoc};
use crate::plugins::{ActivePlugin, Pool};
use crate::report::{Builder, Sink, Tail};

/// Whether the namespace and kind filters let a resource through. Cluster-scoped
/// resources are not subject to the namespace filter.
fn admitted(r: &input::Resource, opts: &Options) -> bool {
    let ns_ok = match r.namespace.as_deref() {
        Some(ns) => opts.namespaces.admits(ns),
        None if crate::report::k8s::is_cluster_scoped(&r.kind) => true,
        None => opts.namespaces.admits("default"),
    };
    ns_ok && opts.kinds.admits(&r.kind)
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads.
    pub jobs: usize,
    /// Documents held in memory at once (parsed, evaluated, reported, then dropped).
    pub window: usize,
    /// Resources per call into a plugin.
    pub batch: usize,
    pub input: InputLimits,
    /// Namespaces and kinds to scan (globs; empty = all).
    pub namespaces: crate::config::Filter,
    pub kinds: crate::config::Filter,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            window: 4096,
            batch: evaluate::DEFAULT_BATCH,
            input: InputLimits::default(),
            namespaces: Default::default(),
            kinds: Default::default(),
        }
    }
}

/// What one worker made of one chunk of documents.
struct ChunkOut {
    loaded: Loaded,
    eval: Evaluation,
}

fn work(docs: &[RawDoc], plugins: &[ActivePlugin], pool: &mut Pool, opts: &Options) -> ChunkOut {
    let mut loaded = Loaded::default();
    for d in docs {
        input::parse_doc(d, &opts.input, &mut loaded);
    }
    if !opts.namespaces.is_empty() || !opts.kinds.is_empty() {
        let before = loaded.resources.len();
        loaded.resources.retain(|r| admitted(r, opts));
        loaded.filtered = before - loaded.resources.len();
    }
    let eval = evaluate::evaluate(plugins, pool, &loaded.resources, opts.batch);
    ChunkOut { loaded, eval }
}

/// Scans `paths`, feeding every entry to `builder` and `sink` in input order.
pub fn scan(
    paths: &[PathBuf],
    plugins: &[ActivePlugin],
    opts: &Options,
    builder: &mut Builder,
    sink: &mut dyn Sink,
    progress: &dyn Fn(usize),
) -> std::io::Result<Tail> {
    let mut errors = Vec::new();
    let files = input::discover(paths, &mut errors);
    builder.summary.files = files.len();
    for e in &errors {
        builder.input_error(e);
    }
    sink.begin(&builder.context())?;
    let jobs = opts.jobs.max(1);
    let mut pools: Vec<Pool> = (0..jobs).map(|_| Pool::new(plugins.len())).collect();
    let mut window: Vec<RawDoc> = Vec::with_capacity(opts.window.min(1 << 16));
    // Results of the previous window, reported while the workers evaluate the next one.
    let mut pending: Option<Vec<ChunkOut>> = None;
    let mut done = 0usize;
    for f in files {
        match input::read_file(&f, &opts.input) {
            Ok(docs) => {
                for d in docs {
                    window.push(d);
                    if window.len() >= opts.window.max(1) {
                        done += window.len();
                        pending = Some(overlapped(
                            &window,
                            plugins,
                            &mut pools,
                            opts,
                            pending.take(),
                            builder,
                            sink,
                        )?);
                        window.clear();
                        progress(done);
                    }
                }
            }
            Err(e) => builder.input_error(&e),
        }
    }
    if !window.is_empty() {
        done += window.len();
        pending = Some(overlapped(
            &window,
            plugins,
            &mut pools,
            opts,
            pending.take(),
            builder,
            sink,
        )?);
    }
    if let Some(outs) = pending {
        emit(outs, builder, sink)?;
    }
    progress(done);
    let tail = builder.finish();
    sink.finish(&tail)?;
    Ok(tail)
}

/// Evaluates `window` on the workers while this thread reports `previous`.
fn overlapped(
    window: &[RawDoc],
    plugins: &[ActivePlugin],
    pools: &mut [Pool],
    opts: &Options,
    previous: Option<Vec<ChunkOut>>,
    builder: &mut Builder,
    sink: &mut dyn Sink,
) -> std::io::Result<Vec<ChunkOut>> {
    std::thread::scope(|s| {
        let workers = s.spawn(|| compute(window, plugins, pools, opts));
        let emitted = match previous {
            Some(outs) => emit(outs, builder, sink),
            None => Ok(()),
        };
        let outs = match workers.join() {
            Ok(outs) => outs,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        emitted.map(|()| outs)
    })
}

fn compute(
    window: &[RawDoc],
    plugins: &[ActivePlugin],
    pools: &mut [Pool],
    opts: &Options,
) -> Vec<ChunkOut> {
    // Chunks small enough to balance the workers, large enough to batch plugin calls.
    let chunks: Vec<&[RawDoc]> = window.chunks(opts.batch.max(1)).collect();
    if pools.len() == 1 || chunks.len() == 1 {
        let pool = &mut pools[0];
        return chunks
            .iter()
            .map(|c| work(c, plugins, pool, opts))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<ChunkOut>>> = chunks.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for pool in pools.iter_mut() {
            let (next, slots, chunks) = (&next, &slots, &chunks);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = chunks.get(i) else { break };
                let out = work(c, plugins, pool, opts);
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every chunk was processed")
        })
        .collect()
}

/// Hands a window's results to the report, in input order.
fn emit(outs: Vec<ChunkOut>, builder: &mut Builder, sink: &mut dyn Sink) -> std::io::Result<()> {
    for out in outs {
        builder.summary.filtered += out.loaded.filtered;
        for e in &out.loaded.errors {
            builder.input_error(e);
        }
        for s in &out.loaded.skipped {
            builder.skipped(s);
        }
        for e in &out.eval.errors {
            builder.eval_error(&out.loaded.resources[e.resource], e.plugin, &e.error);
        }
        for (r, v) in out.loaded.resources.iter().zip(&out.eval.verdicts) {
            let entry = builder.resource(r, v);
            sink.resource(&entry)?;
        }
    }
    Ok(())
}
