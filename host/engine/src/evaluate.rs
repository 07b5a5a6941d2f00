//! Per-worker evaluation: each worker (a scan thread, a webhook request) holds a
//! [`Pool`] of its own plugin instances and dispatch tables, and sends each resource to
//! the enabled checks whose kinds match it, in batches, through those reused instances.
//! A trap throws the instance away, and the batch is re-run one resource at a time on
//! fresh instances so that only the resource that caused it loses its result from that
//! plugin. Time-outs are re-run the same way, and the plugin's
//! [`crate::breaker::Breaker`] counts each, so that a plugin that hangs on everything
//! is switched off after a few time limits instead of costing one per resource.

use std::collections::HashMap;

use tollgate_runtime::{CheckOutcome, Instance, PluginError, Request};

use crate::input::Resource;
use crate::plugins::ActivePlugin;

/// One check's outcome on one resource.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub plugin: usize,
    pub check: usize,
    pub findings: Vec<tollgate_runtime::Finding>,
}

/// A plugin that failed on a resource.
#[derive(Debug)]
pub struct ResourceError {
    pub resource: usize,
    pub plugin: usize,
    pub error: PluginError,
}

#[derive(Debug, Default)]
pub struct Evaluation {
    /// Per resource (same order as the input): the verdicts of every check applied.
    pub verdicts: Vec<Vec<Verdict>>,
    pub errors: Vec<ResourceError>,
}

/// One worker's plugin instances and dispatch tables.
pub struct Pool {
    instances: Instances,
    dispatch: Dispatch,
}

impl Pool {
    /// An empty pool for `plugins` plugins: instances are made on first use.
    pub fn new(plugins: usize) -> Self {
        Pool {
            instances: Instances {
                slots: (0..plugins).map(|_| None).collect(),
            },
            dispatch: Dispatch::default(),
        }
    }
}

/// One instance per plugin, reused from call to call. A slot is emptied when its
/// instance traps, so the next call gets a fresh one.
struct Instances {
    slots: Vec<Option<Instance>>,
}

impl Instances {
    /// Takes the plugin's instance out (creating it if needed); give it back with
    /// [`Instances::put`] unless it trapped.
    fn take(&mut self, index: usize, plugin: &ActivePlugin) -> Result<Instance, PluginError> {
        match self.slots[index].take() {
            Some(i) => Ok(i),
            None => plugin.instance(),
        }
    }

    fn put(&mut self, index: usize, instance: Instance) {
        self.slots[index] = Some(instance);
    }
}

/// Which checks of which plugin apply to a kind, decided once per kind and worker and
/// kept for the worker's life (enabled checks and their kinds never change once the
/// plugins are configured).
#[derive(Default)]
struct Dispatch {
    /// Per kind seen so far, an index into `tables`.
    kinds: HashMap<String, usize>,
    /// Per kind, per plugin: the checks that apply.
    tables: Vec<Vec<Vec<u32>>>,
}

impl Dispatch {
    /// The table of `kind` (see [`Dispatch::checks_for`]): one lookup per resource for
    /// all plugins.
    fn kind_table(&mut self, plugins: &[ActivePlugin], kind: &str) -> usize {
        if let Some(&t) = self.kinds.get(kind) {
            return t;
        }
        self.tables
            .push(plugins.iter().map(|p| p.applicable(kind)).collect());
        self.kinds.insert(kind.to_string(), self.tables.len() - 1);
        self.tables.len() - 1
    }

    /// The indices of plugin `index`'s enabled checks that apply to the kind of
    /// `table` (from [`Dispatch::kind_table`]).
    fn checks_for(&self, table: usize, index: usize) -> &[u32] {
        &self.tables[table][index]
    }
}

/// Evaluates `resources` with every plugin, using (and refilling) `pool`.
pub fn evaluate(
    plugins: &[ActivePlugin],
    pool: &mut Pool,
    resources: &[Resource],
    batch: usize,
) -> Evaluation {
    let mut verdicts: Vec<Vec<Verdict>> = vec![Vec::new(); resources.len()];
    let mut errors = Vec::new();
    let batch = batch.max(1);
    // Plugins that do not read the tree encoding get JSON text, made once per resource
    // and only when such a plugin is loaded.
    let texts: Vec<String> = if plugins.iter().any(|p| !p.plugin.reads_trees()) {
        resources.iter().map(|r| r.json()).collect()
    } else {
        Vec::new()
    };
    // Dispatch is decided once per kind and worker, not once per resource.
    let Pool {
        instances,
        dispatch,
    } = pool;
    let tables: Vec<usize> = resources
        .iter()
        .map(|r| dispatch.kind_table(plugins, &r.kind))
        .collect();
    let dispatch = &*dispatch;
    for (pi, plugin) in plugins.iter().enumerate() {
        let mut index = Vec::new();
        let mut requests = Vec::new();
        for (ri, r) in resources.iter().enumerate() {
            let checks = dispatch.checks_for(tables[ri], pi);
            if !checks.is_empty() {
                index.push(ri);
                requests.push(Request {
                    tree: r.tree.as_bytes(),
                    json: texts.get(ri).map_or("", String::as_str),
                    checks,
                });
            }
        }
        for (ris, reqs) in index.chunks(batch).zip(requests.chunks(batch)) {
            let each = |error: &PluginError, errors: &mut Vec<ResourceError>| {
                errors.extend(ris.iter().map(|&ri| ResourceError {
                    resource: ri,
                    plugin: pi,
                    error: error.duplicate(),
                }))
            };
            match run_batch(instances, pi, plugin, reqs) {
                Ok(results) => {
                    for (ri, result) in ris.iter().zip(results) {
                        record(pi, *ri, result, &mut verdicts, &mut errors);
                    }
                }
                // Which resource made the batch fail is unknown: a trap, a time-out or
                // a broken answer. Re-run one resource per call (fresh instance after a
                // trap), so the others keep their verdicts; a hanging plugin's
                // time-outs are counted by its breaker, which switches it off.
                Err(e) if reqs.len() > 1 && !matches!(e, PluginError::SwitchedOff { .. }) => {
                    for (ri, req) in ris.iter().zip(reqs) {
                        match run_batch(instances, pi, plugin, std::slice::from_ref(req)) {
                            Ok(mut results) => {
                                let result = results.pop().unwrap_or_else(|| Ok(vec![]));
                                record(pi, *ri, result, &mut verdicts, &mut errors);
                            }
                            Err(error) => errors.push(ResourceError {
                                resource: *ri,
                                plugin: pi,
                                error,
                            }),
                        }
                    }
                }
                // A switched-off plugin (or a batch of one): every resource gets the error.
                Err(error) => each(&error, &mut errors),
            }
        }
    }
    Evaluation { verdicts, errors }
}

type BatchResult = Vec<Result<Vec<CheckOutcome>, PluginError>>;

/// One call into a plugin, unless it is switched off; its time-outs are counted.
fn run_batch(
    instances: &mut Instances,
    pi: usize,
    plugin: &ActivePlugin,
    requests: &[Request<'_>],
) -> Result<BatchResult, PluginError> {
    let call = plugin
        .breaker
        .admit()
        .map_err(|off| PluginError::SwitchedOff {
            file: plugin.plugin.file.clone(),
            reason: off.reason(),
        })?;
    let mut instance = match instances.take(pi, plugin) {
        Ok(i) => i,
        Err(e) => {
            plugin.breaker.record(call, is_time_out(&e));
            return Err(e);
        }
    };
    let result = instance.evaluate(requests);
    plugin
        .breaker
        .record(call, matches!(&result, Err(e) if is_time_out(e)));
    match &result {
        Err(e) if e.poisons_instance() => {} // dropped: the next call gets a fresh one
        _ => instances.put(pi, instance),
    }
    result
}

fn is_time_out(e: &PluginError) -> bool {
    matches!(
        e,
        PluginError::Limit {
            kind: tollgate_runtime::LimitKind::Time,
            ..
        }
    )
}

fn record(
    pi: usize,
    ri: usize,
    result: Result<Vec<CheckOutcome>, PluginError>,
    verdicts: &mut [Vec<Verdict>],
    errors: &mut Vec<ResourceError>,
) {
    match result {
        Ok(outcomes) => verdicts[ri].extend(outcomes.into_iter().map(|o| Verdict {
            plugin: pi,
            check: o.check as usize,
            findings: o.findings,
        })),
        Err(error) => errors.push(ResourceError {
            resource: ri,
            plugin: pi,
            error,
        }),
    }
}
