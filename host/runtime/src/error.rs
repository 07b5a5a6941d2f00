use std::path::PathBuf;

/// Which sandbox limit a plugin ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    Time,
    Memory,
    Stack,
    Output,
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LimitKind::Time => "time limit",
            LimitKind::Memory => "memory limit",
            LimitKind::Stack => "stack limit",
            LimitKind::Output => "output limit",
        })
    }
}

/// Everything that can go wrong with a plugin. Each variant names the plugin file.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("{file}: cannot read plugin: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{file}: sha256 is {actual} but {expected} was pinned; refusing to load it")]
    Digest {
        file: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("{file}: not a WebAssembly component: {reason}")]
    NotComponent { file: PathBuf, reason: String },

    #[error("{file}: does not implement the tollgate contract: {reason}")]
    Contract { file: PathBuf, reason: String },

    #[error("{file}: rejected its settings: {message}")]
    Settings { file: PathBuf, message: String },

    #[error("{file}: stopped by the {kind} ({detail})")]
    Limit {
        file: PathBuf,
        kind: LimitKind,
        detail: String,
    },

    #[error("{file}: crashed: {detail}")]
    Trap { file: PathBuf, detail: String },

    #[error("{file}: could not evaluate the resource: {message}")]
    Rejected { file: PathBuf, message: String },

    #[error("{file}: {detail}")]
    Host { file: PathBuf, detail: String },

    /// Not called: the plugin was switched off after it ran over its time limit too
    /// many times in a row.
    #[error("{file}: not run: {reason}")]
    SwitchedOff { file: PathBuf, reason: String },
}

impl PluginError {
    /// The plugin file the error is about.
    pub fn file(&self) -> &std::path::Path {
        match self {
            PluginError::Read { file, .. }
            | PluginError::Digest { file, .. }
            | PluginError::NotComponent { file, .. }
            | PluginError::Contract { file, .. }
            | PluginError::Settings { file, .. }
            | PluginError::Limit { file, .. }
            | PluginError::Trap { file, .. }
            | PluginError::Rejected { file, .. }
            | PluginError::Host { file, .. }
            | PluginError::SwitchedOff { file, .. } => file,
        }
    }

    /// A short machine-readable class, stable for tests and JSON output.
    pub fn class(&self) -> &'static str {
        match self {
            PluginError::Read { .. } => "read",
            PluginError::Digest { .. } => "digest",
            PluginError::NotComponent { .. } => "not-component",
            PluginError::Contract { .. } => "contract",
            PluginError::Settings { .. } => "settings",
            PluginError::Limit {
                kind: LimitKind::Time,
                ..
            } => "time-limit",
            PluginError::Limit {
                kind: LimitKind::Memory,
                ..
            } => "memory-limit",
            PluginError::Limit {
                kind: LimitKind::Stack,
                ..
            } => "stack-limit",
            PluginError::Limit {
                kind: LimitKind::Output,
                ..
            } => "output-limit",
            PluginError::Trap { .. } => "trap",
            PluginError::Rejected { .. } => "rejected",
            PluginError::Host { .. } => "host",
            PluginError::SwitchedOff { .. } => "switched-off",
        }
    }

    /// Every class [`PluginError::class`] can return: metrics and reports label by
    /// these, never by text a plugin chose.
    pub const CLASSES: &'static [&'static str] = &[
        "read",
        "digest",
        "not-component",
        "contract",
        "settings",
        "time-limit",
        "memory-limit",
        "stack-limit",
        "output-limit",
        "trap",
        "rejected",
        "host",
        "switched-off",
    ];

    /// The same error again, for each resource of a batch that failed as a whole.
    pub fn duplicate(&self) -> PluginError {
        let file = self.file().to_path_buf();
        match self {
            PluginError::Read { source, .. } => PluginError::Read {
                file,
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            PluginError::Digest {
                expected, actual, ..
            } => PluginError::Digest {
                file,
                expected: expected.clone(),
                actual: actual.clone(),
            },
            PluginError::NotComponent { reason, .. } => PluginError::NotComponent {
                file,
                reason: reason.clone(),
            },
            PluginError::Contract { reason, .. } => PluginError::Contract {
                file,
                reason: reason.clone(),
            },
            PluginError::Settings { message, .. } => PluginError::Settings {
                file,
                message: message.clone(),
            },
            PluginError::Limit { kind, detail, .. } => PluginError::Limit {
                file,
                kind: *kind,
                detail: detail.clone(),
            },
            PluginError::Trap { detail, .. } => PluginError::Trap {
                file,
                detail: detail.clone(),
            },
            PluginError::Rejected { message, .. } => PluginError::Rejected {
                file,
                message: message.clone(),
            },
            PluginError::Host { detail, .. } => PluginError::Host {
                file,
                detail: detail.clone(),
            },
            PluginError::SwitchedOff { reason, .. } => PluginError::SwitchedOff {
                file,
                reason: reason.clone(),
            },
        }
    }

    /// Whether the instance that produced this error must be thrown away.
    pub fn poisons_instance(&self) -> bool {
        matches!(
            self,
            PluginError::Limit { .. } | PluginError::Trap { .. } | PluginError::Host { .. }
        )
    }
}

/// Why the sandbox itself could not be set up (no plugin is involved yet).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot start wasmtime: {0}")]
    Engine(String),
    #[error("cannot link WASI: {0}")]
    Wasi(String),
    #[error("cannot start the epoch thread: {0}")]
    Ticker(#[source] std::io::Error),
}
