//! The audit engine behind every entry point: an [`Auditor`] owns the loaded and
//! configured plugins, the check catalogue, the policy (severity overrides, threshold,
//! exemptions) and the filters, and offers a streaming [`Auditor::scan`] of files and
//! an [`Auditor::evaluate`] of one object in memory. It is `Send + Sync` and cheap to
//! clone: threads share one set of compiled plugins, and each call takes a set of
//! plugin instances from a pool and gives it back.
//!
//! ```no_run
//! use tollgate::{Auditor, Object};
//!
//! let auditor = Auditor::builder().build()?;
//! let verdicts = auditor.evaluate(Object::Yaml("kind: Pod\nmetadata: {name: p}\n"))?;
//! for check in verdicts.failed() {
//!     println!("{} {}", check.meta.id, check.messages.join("; "));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod object;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tollgate_runtime::Sandbox;

use crate::LoadError;

pub use builder::{AuditorBuilder, BuildError};
pub use object::{Object, ObjectError, Verdicts};

use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::evaluate::Pool;
use crate::pipeline;
use crate::plugins::{self, ActivePlugin, PluginDescription, PluginSource};
use crate::policy::Policy;
use crate::report::{Builder, CheckMeta, Context, SeverityFilter, Sink, Tail};

/// Audits Kubernetes objects with a fixed set of configured plugins. Clones share
/// everything.
#[derive(Clone)]
pub struct Auditor {
    inner: Arc<Inner>,
}

struct Inner {
    sandbox: Sandbox,
    plugins: Vec<ActivePlugin>,
    /// Plugins that could not be loaded or configured: reported by every scan.
    load_errors: Vec<LoadError>,
    metas: Vec<Vec<Arc<CheckMeta>>>,
    policy: Policy,
    options: pipeline::Options,
    severities: SeverityFilter,
    config: Config,
    config_file: Option<PathBuf>,
    /// Instances of every plugin, one set per thread that evaluated objects at once,
    /// kept for the next call.
    idle: Mutex<Vec<Pool>>,
}

// A webhook shares one auditor among its request threads.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Auditor>();
};

impl Auditor {
    pub fn builder() -> AuditorBuilder {
        AuditorBuilder::default()
    }

    /// The plugins that run, in load order (the bundle's, sorted, then the others).
    pub fn plugins(&self) -> &[ActivePlugin] {
        &self.inner.plugins
    }

    /// Plugins that could not be loaded or configured (the others run).
    pub fn load_errors(&self) -> &[LoadError] {
        &self.inner.load_errors
    }

    /// The configuration in force (defaults when no file was read).
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The configuration file read, if any.
    pub fn config_file(&self) -> Option<&Path> {
        self.inner.config_file.as_deref()
    }

    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Every loaded check and whether it runs, and the plugins that failed to load.
    pub fn catalogue(&self) -> Catalogue {
        Catalogue::new(&self.inner.plugins, &self.inner.load_errors)
    }

    /// What the report formats need besides entries: plugins and full check metadata.
    pub fn context(&self) -> Context {
        self.report(SeverityFilter::default(), &[]).context()
    }

    /// Describes a plugin component without adding it (`tollgate plugin inspect`).
    pub fn inspect(&self, source: &PluginSource) -> Result<PluginDescription, LoadError> {
        plugins::inspect(&self.inner.sandbox, source)
    }

    /// Scans files, directories (`*.yaml`, `*.yml`, `*.json`, recursively) and `-`
    /// (stdin), handing every report entry to `sink` in input order while the scan
    /// goes on. The output is the same byte for byte whatever the jobs, window and
    /// batch. Only writing to the sink can fail; input and plugin errors are in the
    /// [`Tail`].
    pub fn scan(&self, paths: &[PathBuf], sink: &mut dyn Sink) -> std::io::Result<Tail> {
        self.scan_with_progress(paths, sink, &|_| {})
    }

    /// [`Auditor::scan`], calling `progress` with the number of documents read so far.
    pub fn scan_with_progress(
        &self,
        paths: &[PathBuf],
        sink: &mut dyn Sink,
        progress: &dyn Fn(usize),
    ) -> std::io::Result<Tail> {
        self.scan_documents(Vec::new(), paths, sink, progress)
    }

    /// [`Auditor::scan_with_progress`] with documents already in memory (a NodeInfo
    /// object just collected) scanned first, each reported under its name.
    pub fn scan_documents(
        &self,
        documents: Vec<pipeline::Document>,
        paths: &[PathBuf],
        sink: &mut dyn Sink,
        progress: &dyn Fn(usize),
    ) -> std::io::Result<Tail> {
        let inner = &*self.inner;
        let mut builder = self.report(inner.severities.clone(), &inner.load_errors);
        pipeline::scan(
            paths,
            documents,
            &inner.plugins,
            &inner.options,
            &mut builder,
            sink,
            progress,
        )
    }

    fn report(&self, severities: SeverityFilter, errors: &[LoadError]) -> Builder<'_> {
        let inner = &*self.inner;
        Builder::new(
            &inner.plugins,
            &inner.metas,
            &inner.policy,
            severities,
            errors,
        )
    }

    fn take_pool(&self) -> Pool {
        let idle = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        idle.unwrap_or_else(|| Pool::new(self.inner.plugins.len()))
    }

    fn put_pool(&self, pool: Pool) {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(pool);
    }
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.plugins().iter().map(|p| p.plugin.name()).collect();
        f.debug_struct("Auditor")
            .field("plugins", &names)
            .field("config_file", &self.inner.config_file)
            .finish()
    }
}
