use wasmtime::component::{ComponentType, Func, Lower};
use wasmtime::{Store, Trap};

use crate::bindings::exports::tollgate::policy::policy as wit;
use crate::bindings::Plugin as Bindings;
use crate::plugin::convert_info;
use crate::wasi::State;
use crate::{CheckOutcome, Finding, LimitKind, Plugin, PluginError, PluginInfo, Request};

/// An instantiated plugin with its own store, memory and limits. After any trap the
/// instance is unusable: throw it away and make a new one (see
/// [`PluginError::poisons_instance`]).
pub struct Instance {
    store: Store<State>,
    bindings: Bindings,
    /// `tollgate:policy/tree#evaluate-tree`, for plugins that read the tree encoding.
    evaluate_tree: Option<Func>,
    file: std::path::PathBuf,
    limits: crate::Limits,
}

impl Instance {
    pub(crate) fn new(plugin: &Plugin) -> Result<Self, PluginError> {
        let limits = plugin.sandbox.limits.clone();
        let limiter = crate::limiter::Limiter::new(limits.memory, limits.table_elements);
        let mut store = Store::new(&plugin.sandbox.engine, State::new(limiter));
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(limits.epoch_ticks());
        let file = plugin.file.clone();
        let instance = plugin
            .pre
            .instance_pre()
            .instantiate(&mut store)
            .map_err(|e| classify(&file, &store, e))?;
        let bindings =
            Bindings::new(&mut store, &instance).map_err(|e| classify(&file, &store, e))?;
        let evaluate_tree = plugin
            .evaluate_tree
            .and_then(|index| instance.get_func(&mut store, index));
        if let Some(func) = evaluate_tree {
            // Checked here, so that a plugin whose tree export has another shape is
            // refused when it is loaded, not on its first resource.
            func.typed::<(&[TreeRequest],), (Vec<WitResult>,)>(&store)
                .map_err(|e| PluginError::Contract {
                    file: file.clone(),
                    reason: format!(
                        "its evaluate-tree does not have the signature of this host's \
                         tollgate:policy/tree ({}); rebuild the plugin against this host's \
                         wit/policy.wit",
                        e.root_cause()
                    ),
                })?;
        }
        Ok(Instance {
            store,
            bindings,
            evaluate_tree,
            file,
            limits,
        })
    }

    fn arm(&mut self) {
        self.store.set_epoch_deadline(self.limits.epoch_ticks());
    }

    pub fn describe(&mut self) -> Result<PluginInfo, PluginError> {
        self.arm();
        let r = self
            .bindings
            .tollgate_policy_policy()
            .call_describe(&mut self.store);
        r.map(convert_info)
            .map_err(|e| classify(&self.file, &self.store, e))
    }

    /// Passes settings (JSON text) to the plugin; returns the enabled check ids.
    pub fn configure(&mut self, settings: &str) -> Result<Vec<String>, PluginError> {
        self.arm();
        let r = self
            .bindings
            .tollgate_policy_policy()
            .call_configure(&mut self.store, settings);
        match r {
            Ok(Ok(ids)) => Ok(ids),
            Ok(Err(message)) => Err(PluginError::Settings {
                file: self.file.clone(),
                message,
            }),
            Err(e) => Err(classify(&self.file, &self.store, e)),
        }
    }

    /// Evaluates a batch. The outer error is a failure of the whole call (a trap or a
    /// limit); the inner results are per resource, in request order.
    pub fn evaluate(
        &mut self,
        batch: &[Request<'_>],
    ) -> Result<Vec<Result<Vec<CheckOutcome>, PluginError>>, PluginError> {
        self.arm();
        let out = match self.evaluate_tree {
            Some(func) => {
                let requests: Vec<TreeRequest> = batch
                    .iter()
                    .map(|r| TreeRequest {
                        object: r.tree,
                        checks: r.checks,
                    })
                    .collect();
                // Typed again per batch (one type comparison per 32 resources): the
                // parameter borrows this batch, so the typed function cannot be kept.
                // Instance::new already refused a mismatch; this cannot fail.
                let typed = func
                    .typed::<(&[TreeRequest],), (Vec<WitResult>,)>(&self.store)
                    .map_err(|e| classify(&self.file, &self.store, e))?;
                typed.call(&mut self.store, (&requests,)).map(|(out,)| out)
            }
            None => {
                let requests: Vec<wit::Request> = batch
                    .iter()
                    .map(|r| wit::Request {
                        object: r.json.to_string(),
                        checks: r.checks.to_vec(),
                    })
                    .collect();
                self.bindings
                    .tollgate_policy_policy()
                    .call_evaluate(&mut self.store, &requests)
            }
        }
        .map_err(|e| classify(&self.file, &self.store, e))?;
        if out.len() != batch.len() {
            return Err(PluginError::Contract {
                file: self.file.clone(),
                reason: format!(
                    "evaluate() returned {} results for {} resources",
                    out.len(),
                    batch.len()
                ),
            });
        }
        Ok(out
            .into_iter()
            .zip(batch)
            .map(|(r, req)| match r {
                Ok(results) => self.convert_results(results, req),
                Err(message) => Err(PluginError::Rejected {
                    file: self.file.clone(),
                    message,
                }),
            })
            .collect())
    }

    fn convert_results(
        &self,
        results: Vec<wit::CheckResult>,
        req: &Request<'_>,
    ) -> Result<Vec<CheckOutcome>, PluginError> {
        let mut bytes = 0usize;
        let mut out = Vec::with_capacity(results.len());
        // Results usually come in request order: one comparison each, a search otherwise.
        let mut next = 0;
        for r in results {
            let requested = if req.checks.get(next) == Some(&r.check) {
                next += 1;
                true
            } else {
                req.checks.contains(&r.check)
            };
            if !requested {
                return Err(PluginError::Contract {
                    file: self.file.clone(),
                    reason: format!(
                        "evaluate() returned a result for check #{} which was not requested",
                        r.check
                    ),
                });
            }
            if r.findings.len() > self.limits.max_findings {
                return Err(PluginError::Limit {
                    file: self.file.clone(),
                    kind: LimitKind::Output,
                    detail: format!(
                        "{} findings for one check, the limit is {}",
                        r.findings.len(),
                        self.limits.max_findings
                    ),
                });
            }
            bytes += r
                .findings
                .iter()
                .map(|f| f.message.len() + f.path.as_ref().map_or(0, |p| p.len()))
                .sum::<usize>();
            if bytes > self.limits.max_output_bytes {
                return Err(PluginError::Limit {
                    file: self.file.clone(),
                    kind: LimitKind::Output,
                    detail: format!(
                        "more than {} bytes of messages for one resource",
                        self.limits.max_output_bytes
                    ),
                });
            }
            out.push(CheckOutcome {
                check: r.check,
                findings: r
                    .findings
                    .into_iter()
                    .map(|f| Finding {
                        message: f.message,
                        path: f.path,
                    })
                    .collect(),
            });
        }
        Ok(out)
    }
}

/// `tree-request` of the WIT, borrowed from the host's [`Request`].
#[derive(ComponentType, Lower)]
#[component(record)]
struct TreeRequest<'a> {
    #[component(name = "object")]
    object: &'a [u8],
    #[component(name = "checks")]
    checks: &'a [u32],
}

type WitResult = Result<Vec<wit::CheckResult>, String>;

/// Turns a wasmtime error into the limit or crash it stands for.
fn classify(file: &std::path::Path, store: &Store<State>, e: wasmtime::Error) -> PluginError {
    let file = file.to_path_buf();
    if let Some(x) = e.downcast_ref::<crate::limiter::Exceeded>() {
        return PluginError::Limit {
            file,
            kind: x.kind,
            detail: x.detail.clone(),
        };
    }
    let root = e.root_cause().to_string();
    if let Some(trap) = e.downcast_ref::<Trap>() {
        match trap {
            Trap::Interrupt => {
                return PluginError::Limit {
                    file,
                    kind: LimitKind::Time,
                    detail: "the call ran longer than the time limit".into(),
                }
            }
            Trap::StackOverflow => {
                return PluginError::Limit {
                    file,
                    kind: LimitKind::Stack,
                    detail: "call stack exhausted".into(),
                }
            }
            Trap::UnreachableCodeReached => {
                let stderr = store.data().stderr_text();
                let detail = if stderr.is_empty() {
                    "the plugin aborted (wasm `unreachable`)".to_string()
                } else {
                    format!("the plugin panicked: {}", last_lines(&stderr))
                };
                return PluginError::Trap { file, detail };
            }
            Trap::MemoryOutOfBounds => {
                return PluginError::Trap {
                    file,
                    detail:
                        "out of bounds memory access (often the plugin's own stack overflowing \
                             into its heap)"
                            .into(),
                }
            }
            other => {
                return PluginError::Trap {
                    file,
                    detail: other.to_string(),
                }
            }
        }
    }
    PluginError::Trap { file, detail: root }
}

fn last_lines(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    lines[start..].join(" / ")
}
