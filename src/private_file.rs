//! Files only the user may read (0600 in a 0700 directory), written atomically: a temporary
//! file beside the target, renamed over it. A leaf module.
//!
//! Links are never followed: the temporary file has a random name and is created exclusively
//! (`O_CREAT | O_EXCL`, which refuses any existing name, a symbolic link included), and the
//! rename replaces whatever is at the target path, a link included, instead of writing
//! through it. So a link planted in the directory cannot send our bytes (a token store, a
//! session pointer) to a file of the planter's choosing, nor truncate one.

use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` atomically, creating its directory (0700) if needed.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, bytes, false)
}

/// The same, and on disk before the rename: for files whose loss costs more than a rebuild
/// (the token store: a rotated refresh token lost in a crash means a new login).
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, bytes, true)
}

fn write_with(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if dir.as_os_str().is_empty() => Path::new("."),
        Some(dir) => dir,
        None => return Err(std::io::Error::other("no parent directory")),
    };
    create_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    // Dropped before the rename (any error above it), the temporary file is removed.
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    // Created 0600 less the umask; make it exactly 0600, as the target must be.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    temp.write_all(bytes)?;
    if sync {
        temp.as_file().sync_all()?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Create `dir` and its parents, 0700.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap_or_else(|e| panic!("{e}"))
            .permissions()
            .mode()
            & 0o777
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|e| e.unwrap_or_else(|e| panic!("{e}")).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_a_0600_file_in_a_new_0700_directory_and_leaves_no_temporary_file() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = root.path().join("a/b");
        let path = dir.join("tokens.json");
        write_durably(&path, b"one").unwrap_or_else(|e| panic!("{e}"));
        write(&path, b"two").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read(&path).unwrap_or_default(), b"two");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(names(&dir), vec!["tokens.json"]);
    }

    #[test]
    fn tightens_a_file_that_was_0644() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("cache.json");
        std::fs::write(&path, "old").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        write(&path, b"new").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_symlink_at_the_target_is_replaced_and_its_victim_untouched() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        let store = dir.path().join("store/tokens.json");
        create_dir(store.parent().unwrap_or(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(&victim, &store).unwrap_or_else(|e| panic!("{e}"));
        write_durably(&store, b"secret tokens").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap_or_default(),
            "precious"
        );
        assert_eq!(mode(&victim), 0o644);
        assert!(
            !std::fs::symlink_metadata(&store)
                .unwrap_or_else(|e| panic!("{e}"))
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(&store).unwrap_or_default(),
            "secret tokens"
        );
        assert_eq!(mode(&store), 0o600);
    }

    #[test]
    fn the_old_predictable_temporary_name_planted_as_a_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("tokens.json");
        let planted = dir
            .path()
            .join(format!(".tokens.json.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap_or_else(|e| panic!("{e}"));
        write(&path, b"secret").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap_or_default(),
            "precious"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), "secret");
    }
}
