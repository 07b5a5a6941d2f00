//! The scan pipeline: files are read and split on the calling thread, documents are
//! gathered into a bounded window, and `jobs` workers take the window's documents in
//! chunks of `batch * FUSED_BATCHES`, each parsed and then evaluated by one worker with
//! its own plugin instances, while the calling thread reports the previous window. A
//! chunk that expands to many resources (a `kind: List`) is evaluated afterwards in
//! slices of at most `window` resources, spread over the workers.
//! Results are handed to the report in input order, so the output is the same byte for
//! byte whatever `jobs`, `window` or `batch` are.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::config::Filter;
use crate::evaluate::{self, Evaluation, Pool};
use crate::input::{self, InputLimits, Loaded, RawDoc};
use crate::kube;
use crate::plugins::ActivePlugin;
use crate::report::{Builder, Sink, Tail};

/// Which resources are scanned: namespaces and kinds (globs; empty = all).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub namespaces: Filter,
    pub kinds: Filter,
}

impl Filters {
    /// Whether the filters let a resource through. Cluster-scoped resources are not
    /// subject to the namespace filter; others without a namespace are in "default".
    pub fn admits(&self, r: &input::Resource) -> bool {
        let ns_ok = match r.namespace.as_deref() {
            Some(ns) => self.namespaces.admits(ns),
            None if kube::is_cluster_scoped(&r.kind) => true,
            None => self.namespaces.admits(kube::DEFAULT_NAMESPACE),
        };
        ns_ok && self.kinds.admits(&r.kind)
    }

    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.kinds.is_empty()
    }
}

/// Renders a chart or a kustomization into the documents to scan (see
/// the `render` module for helpers that read the renderers' output).
pub trait Render: Send + Sync {
    /// The rendered manifests, each document named after the file it came from, or why
    /// they could not be had (a message that says what to do).
    fn render(&self, what: &input::Renderable) -> Result<Vec<Document>, String>;
}

/// How charts and kustomizations are rendered, if at all.
#[derive(Clone, Default)]
pub struct Renderer(pub Option<std::sync::Arc<dyn Render>>);

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Renderer(Some)"
        } else {
            "Renderer(None)"
        })
    }
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
    pub filters: Filters,
    pub renderer: Renderer,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: crate::defaults::jobs(),
            window: crate::defaults::WINDOW,
            batch: crate::defaults::BATCH,
            input: InputLimits::default(),
            filters: Filters::default(),
            renderer: Renderer::default(),
        }
    }
}

fn parse(docs: &[RawDoc], opts: &Options) -> Loaded {
    let mut loaded = Loaded::default();
    for d in docs {
        input::parse_doc(d, &opts.input, &mut loaded);
    }
    if !opts.filters.is_empty() {
        let before = loaded.resources.len();
        loaded.resources.retain(|r| opts.filters.admits(r));
        loaded.filtered = before - loaded.resources.len();
    }
    loaded
}

/// Runs `f` on every item with `pools.len()` workers, each with its own pool; results
/// in item order.
fn parallel<T: Sync, R: Send>(
    pools: &mut [Pool],
    items: &[T],
    f: impl Fn(&T, &mut Pool) -> R + Sync,
) -> Vec<R> {
    if pools.len() == 1 || items.len() <= 1 {
        let pool = &mut pools[0];
        return items.iter().map(|t| f(t, pool)).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for pool in pools.iter_mut() {
            let (next, slots, f) = (&next, &slots, &f);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(t) = items.get(i) else { break };
                let out = f(t, pool);
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every item was processed")
        })
        .collect()
}

/// Resources evaluated, waiting to be reported.
struct Evaluated {
    resources: Vec<input::Resource>,
    eval: Evaluation,
}

impl Evaluated {
    /// Appends the next resources and their evaluation (whose error indices count
    /// from the first of them).
    fn append(&mut self, resources: Vec<input::Resource>, eval: Evaluation) {
        let offset = self.resources.len();
        self.resources.extend(resources);
        self.eval.verdicts.extend(eval.verdicts);
        self.eval
            .errors
            .extend(eval.errors.into_iter().map(|mut e| {
                e.resource += offset;
                e
            }));
    }
}

/// Batches per worker chunk. A worker parses a chunk and then evaluates it: one step
/// per window instead of a parse step and an evaluation step, so the workers do not
/// wait for the report thread between the two. Chunks of one batch were measured
/// slower (parser and plugin instances taking turns in the caches); 8 batches were
/// 6% faster than the two steps on the 100k benchmark (14 interleaved pairs).
const FUSED_BATCHES: usize = 8;

/// The scan's moving parts: the documents gathered so far and the evaluated resources
/// waiting to be reported.
struct Flow<'a> {
    plugins: &'a [ActivePlugin],
    opts: &'a Options,
    pools: Vec<Pool>,
    pending: Option<Evaluated>,
}

impl Flow<'_> {
    /// Parses and evaluates a window of documents: each worker takes a chunk of
    /// documents, parses it and evaluates its resources, while this thread reports the
    /// previous window. A chunk that expands to many resources (a `kind: List`) is
    /// evaluated afterwards in slices of at most `window` resources over every worker.
    fn window(
        &mut self,
        docs: &[RawDoc],
        builder: &mut Builder,
        sink: &mut dyn Sink,
    ) -> std::io::Result<()> {
        let batch = self.opts.batch.max(1);
        // Chunks of FUSED_BATCHES batches, but at least one per worker in a small
        // window (`--batch` is not bounded: saturate rather than wrap).
        let chunk = batch
            .saturating_mul(FUSED_BATCHES)
            .min(docs.len().div_ceil(self.pools.len().max(1)))
            .max(1);
        let chunks: Vec<&[RawDoc]> = docs.chunks(chunk).collect();
        let (plugins, opts) = (self.plugins, self.opts);
        let previous = self.pending.take();
        let pools = &mut self.pools;
        let (done, emitted) = std::thread::scope(|s| {
            let workers = s.spawn(|| {
                parallel(pools, &chunks, |c, pool| {
                    let loaded = parse(c, opts);
                    // A List is evaluated below, spread over the workers.
                    let eval = (loaded.resources.len() <= batch.saturating_mul(4 * FUSED_BATCHES))
                        .then(|| evaluate::evaluate(plugins, pool, &loaded.resources, batch));
                    (loaded, eval)
                })
            });
            let emitted = match previous {
                Some(p) => emit(p, builder, sink),
                None => Ok(()),
            };
            match workers.join() {
                Ok(done) => (done, emitted),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        emitted?;
        let mut ready = Evaluated {
            resources: Vec::new(),
            eval: Evaluation::default(),
        };
        for (l, eval) in done {
            builder.summary.filtered += l.filtered;
            for e in &l.errors {
                builder.input_error(e);
            }
            for s in &l.skipped {
                builder.skipped(s);
            }
            match eval {
                Some(e) => ready.append(l.resources, e),
                None => {
                    // Everything before the List is reported first, in input order:
                    // an earlier List's last slice, then the chunks evaluated since.
                    if !ready.resources.is_empty() {
                        if let Some(p) = self.pending.take() {
                            emit(p, builder, sink)?;
                        }
                        self.pending = Some(std::mem::replace(
                            &mut ready,
                            Evaluated {
                                resources: Vec::new(),
                                eval: Evaluation::default(),
                            },
                        ));
                    }
                    let mut resources = l.resources;
                    while !resources.is_empty() {
                        let rest = resources.split_off(resources.len().min(opts.window.max(1)));
                        let slice = std::mem::replace(&mut resources, rest);
                        self.evaluate(slice, builder, sink)?;
                    }
                }
            }
        }
        if !ready.resources.is_empty() {
            // A List's last slice may still be pending: it is reported before these.
            if let Some(p) = self.pending.take() {
                emit(p, builder, sink)?;
            }
            self.pending = Some(ready);
        }
        Ok(())
    }

    /// Evaluates `resources` on the workers while this thread reports the previous slice.
    fn evaluate(
        &mut self,
        resources: Vec<input::Resource>,
        builder: &mut Builder,
        sink: &mut dyn Sink,
    ) -> std::io::Result<()> {
        let previous = self.pending.take();
        let (plugins, opts) = (self.plugins, self.opts);
        let pools = &mut self.pools;
        let (emitted, evaluated) = std::thread::scope(|s| {
            let workers = s.spawn(|| {
                let batch = opts.batch.max(1);
                let chunks: Vec<&[input::Resource]> = resources.chunks(batch).collect();
                let evals = parallel(pools, &chunks, |c, pool| {
                    evaluate::evaluate(plugins, pool, c, batch)
                });
                let mut eval = Evaluation::default();
                for (k, e) in evals.into_iter().enumerate() {
                    eval.verdicts.extend(e.verdicts);
                    eval.errors.extend(e.errors.into_iter().map(|mut x| {
                        x.resource += k * batch;
                        x
                    }));
                }
                eval
            });
            let emitted = match previous {
                Some(p) => emit(p, builder, sink),
                None => Ok(()),
            };
            let eval = match workers.join() {
                Ok(e) => e,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            (emitted, eval)
        });
        emitted?;
        self.pending = Some(Evaluated {
            resources,
            eval: evaluated,
        });
        Ok(())
    }

    fn finish(&mut self, builder: &mut Builder, sink: &mut dyn Sink) -> std::io::Result<()> {
        match self.pending.take() {
            Some(p) => emit(p, builder, sink),
            None => Ok(()),
        }
    }
}

/// Hands evaluated resources to the report, in input order.
fn emit(done: Evaluated, builder: &mut Builder, sink: &mut dyn Sink) -> std::io::Result<()> {
    for e in &done.eval.errors {
        builder.eval_error(&done.resources[e.resource], e.plugin, &e.error);
    }
    for (r, v) in done.resources.into_iter().zip(done.eval.verdicts) {
        let entry = builder.resource(r, v);
        sink.resource(&entry)?;
    }
    Ok(())
}

/// Scans `paths`, feeding every entry to `builder` and `sink` in input order.
/// A file's contents already in memory (a NodeInfo object just collected), scanned
/// before the paths under `name`, which reports show as its file.
#[derive(Debug, Clone)]
pub struct Document {
    pub name: String,
    pub bytes: Vec<u8>,
    /// Read as one JSON document rather than as YAML documents.
    pub json: bool,
}

pub fn scan(
    paths: &[PathBuf],
    mut documents: Vec<Document>,
    plugins: &[ActivePlugin],
    opts: &Options,
    builder: &mut Builder,
    sink: &mut dyn Sink,
    progress: &dyn Fn(usize),
) -> std::io::Result<Tail> {
    let mut errors = Vec::new();
    let found = input::discover_all(paths, &mut errors);
    for r in &found.renderables {
        let rendered = match &opts.renderer.0 {
            Some(render) => render.render(r),
            None => Err(r.by_hand()),
        };
        match rendered {
            Ok(docs) => documents.extend(docs),
            Err(message) => errors.push(input::InputError {
                file: r.dir.display().to_string(),
                document: None,
                message,
            }),
        }
    }
    let mut files: Vec<PathBuf> = documents.iter().map(|d| PathBuf::from(&d.name)).collect();
    files.extend(found.files);
    builder.set_files(&files);
    builder.summary.files = files.len();
    for e in &errors {
        builder.input_error(e);
    }
    sink.begin(&builder.context())?;
    let jobs = opts.jobs.max(1);
    let mut flow = Flow {
        plugins,
        opts,
        pools: (0..jobs).map(|_| Pool::new(plugins.len())).collect(),
        pending: None,
    };
    let mut window: Vec<RawDoc> = Vec::with_capacity(opts.window.min(1 << 16));
    let mut done = 0usize;
    let in_memory = documents
        .into_iter()
        .map(|d| input::split_bytes(&d.name, d.bytes, d.json));
    let on_disk = files[in_memory.len()..]
        .iter()
        .map(|f| input::read_file(f, &opts.input));
    for read in in_memory.chain(on_disk) {
        match read {
            Ok(docs) => {
                for d in docs {
                    window.push(d);
                    if window.len() >= opts.window.max(1) {
                        done += window.len();
                        flow.window(&window, builder, sink)?;
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
        flow.window(&window, builder, sink)?;
    }
    flow.finish(builder, sink)?;
    progress(done);
    let tail = builder.finish();
    sink.finish(&tail)?;
    Ok(tail)
}
