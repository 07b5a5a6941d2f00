//! Shell-style wildcards, for namespace and kind filters and exemptions.

/// Shell-style wildcard match: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, value: &str) -> bool {
    wildmatch::WildMatch::new(pattern).matches(value)
}
