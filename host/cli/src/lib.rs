//! The `tollgate` command over the tollgate library: the clap definitions ([`cli`]),
//! one module per command ([`app`]) that maps arguments onto an
//! [`tollgate::AuditorBuilder`] and results onto output and an exit code, plugin
//! authoring ([`authoring`]), and the built-in plugins embedded at build time
//! ([`bundle`]). Terminal concerns (progress bars, password prompts) live here and
//! nowhere in the libraries.
#![forbid(unsafe_code)]

pub mod app;
pub mod authoring;
pub mod bundle;
pub mod cli;
pub mod render;
