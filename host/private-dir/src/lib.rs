//! Directories and files only this user can write.
//!
//! tollgate keeps bytes it trusts when it reads them back: the sandbox's compiled
//! plugins (native code loaded without re-verification) and the registry's pulled
//! components and manifests. Threat model: another local user (or a process of another
//! user) who can write into such a cache can make tollgate run code of their choosing.
//! So a cache directory is used only when it belongs to this user and nobody else can
//! write to it, and a cached file only when it is a regular file (not a link to
//! somewhere else) with the same owner and modes; anything else is a miss, never an
//! error, and the caller falls back to the uncached path.

use std::path::Path;

#[cfg(unix)]
fn owned_and_private(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { geteuid() };
    meta.uid() == uid && meta.mode() & 0o022 == 0
}

#[cfg(unix)]
extern "C" {
    fn geteuid() -> u32;
}

#[cfg(not(unix))]
fn owned_and_private(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Creates `dir` (mode 0700) if needed; None unless it is a directory that belongs to
/// this user and nobody else can write to.
pub fn create_private(dir: &Path) -> Option<()> {
    if !dir.exists() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .ok()?;
        }
        #[cfg(not(unix))]
        std::fs::create_dir_all(dir).ok()?;
    }
    let meta = std::fs::symlink_metadata(dir).ok()?;
    (meta.is_dir() && owned_and_private(&meta)).then_some(())
}

/// A regular file (not a link) of this user's that nobody else can write to.
pub fn is_private_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && owned_and_private(&m))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn a_new_directory_is_private_and_a_shared_one_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        assert!(create_private(&dir).is_some());
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            create_private(&dir).is_none(),
            "a world-writable cache is not used"
        );
    }

    #[test]
    fn only_private_regular_files_are_trusted() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(is_private_file(&file));
        let link = root.path().join("l");
        symlink(&file, &link).unwrap();
        assert!(!is_private_file(&link), "a link is not followed");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(
            !is_private_file(&file),
            "a group- or world-writable file is refused"
        );
        assert!(!is_private_file(&root.path().join("missing")));
    }
}
