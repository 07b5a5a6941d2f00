//! The built-in plugins as `build.rs` found them when the binary was built (none when
//! it found none).

use tollgate::PluginSource;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The embedded plugins, for [`tollgate::AuditorBuilder::embedded_bundle`].
pub fn plugins() -> Vec<PluginSource> {
    tollgate::plugins::embedded(embedded::EMBEDDED)
}
