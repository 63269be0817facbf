//! A watched directory's path as the watch registry and inotify's descriptor map keep it (one
//! shared allocation, see [`super::instances::Shared`]): the part below the project root,
//! since the root's own path is the same in every key; a directory outside the root (a link's
//! canonical target) keeps its whole path, told apart by being absolute. On the 100,000-file
//! tree under a 22-byte root this is a 48-byte malloc chunk a directory instead of 64.

use std::borrow::Cow;
use std::path::Path;

use super::walk::relative;

/// `dir`'s key: below `root`, the relative rest (empty for the root itself); else `dir`.
pub(super) fn key<'p>(root: &Path, dir: &'p Path) -> &'p Path {
    relative(root, dir).unwrap_or(dir)
}

/// The path a [`key`] was made from.
pub(super) fn absolute<'p>(root: &'p Path, key: &'p Path) -> Cow<'p, Path> {
    if key.as_os_str().is_empty() {
        Cow::Borrowed(root)
    } else if key.is_absolute() {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(root.join(key))
    }
}

/// The path of `name` in the directory of `key`, in one allocation (an event's path; inotify's
/// reader is Linux's alone).
#[cfg(any(target_os = "linux", test))]
pub(super) fn join(root: &Path, key: &Path, name: Option<&std::ffi::OsStr>) -> std::path::PathBuf {
    let (r, k) = (root.as_os_str().len(), key.as_os_str().len());
    let mut path = std::path::PathBuf::with_capacity(r + k + name.map_or(0, |n| n.len()) + 2);
    // An absolute key replaces the root, as `push` does with any absolute path.
    path.push(root);
    if k > 0 {
        path.push(key);
    }
    if let Some(name) = name {
        path.push(name);
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;

    /// Every directory hot watches goes through `key` and comes back through `absolute` (the
    /// registry's unwatch, the poller) or `join` (inotify's events): the round trip must give
    /// the same bytes for the root, a deep directory, a non-UTF-8 name, an unclean path and a
    /// link's target outside the root.
    #[test]
    fn a_watched_directory_keeps_its_path_below_the_root() {
        let root = Path::new("/p/proj");
        let odd = Path::new(OsStr::from_bytes(b"/p/proj/a/\xff\xfe/b"));
        let deep: PathBuf = (0..64).fold(root.to_path_buf(), |p, i| p.join(format!("d{i}")));
        for (dir, want) in [
            (root, Path::new("")),
            (Path::new("/p/proj/src"), Path::new("src")),
            (odd, Path::new(OsStr::from_bytes(b"a/\xff\xfe/b"))),
            (Path::new("/p/proj-b/x"), Path::new("/p/proj-b/x")),
            (Path::new("/elsewhere/t"), Path::new("/elsewhere/t")),
        ] {
            let k = key(root, dir);
            assert_eq!(k, want, "{}", dir.display());
            assert_eq!(absolute(root, k), dir);
            assert_eq!(join(root, k, None), dir);
            assert_eq!(join(root, k, Some(OsStr::new("f"))), dir.join("f"));
        }
        let k = key(root, &deep);
        assert!(k.is_relative() && k.components().count() == 64);
        assert_eq!(absolute(root, k), deep);
        // An unclean path names the same directory as its clean form: the same key.
        assert_eq!(key(root, Path::new("/p/proj//src/")), Path::new("src"));
    }
}
