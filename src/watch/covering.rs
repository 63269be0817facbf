//! The native watcher on macOS: FSEvents behind notify's `Watcher` trait, one stream path per
//! tree instead of one per directory.
//!
//! The walk watches each directory before reading it, as inotify needs (`walk`). notify's
//! FSEvents watcher restarts its stream on every `watch` (stop, then a new stream over all its
//! paths, reporting from "now"): a watch per directory is a restart per directory, quadratic
//! over a tree, and each restart's gap loses the events of every watched directory. FSEvents
//! watches a path and everything below it anyway, so [`Covering`] passes a watch on only when
//! no directory it watches holds the path already: the root, once, and a new directory costs
//! nothing. Events from ignored directories below do arrive; the filter drops them by the
//! ignore rules, as it does any path whose parent is not watched (`filter`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use notify::{Config, Error, EventHandler, RecursiveMode, Watcher, WatcherKind};

/// A recursive watcher (`W`) asked for one directory at a time.
pub(super) struct Covering<W> {
    inner: W,
    /// Every directory asked for and not yet unwatched.
    wanted: BTreeSet<PathBuf>,
    /// The directories `inner` watches (recursively): the topmost wanted ones.
    roots: BTreeSet<PathBuf>,
}

impl<W> Covering<W> {
    fn covers(&self, path: &Path) -> bool {
        path.ancestors().any(|a| self.roots.contains(a))
    }
}

impl<W: Watcher> Covering<W> {
    fn add_root(&mut self, path: &Path) -> notify::Result<()> {
        self.inner.watch(path, RecursiveMode::Recursive)?;
        // Roots below the new one are covered twice now: FSEvents would report each event twice.
        let below: Vec<PathBuf> = self
            .below(path)
            .filter(|r| self.roots.contains(r))
            .collect();
        for root in below {
            let _ = self.inner.unwatch(&root);
            self.roots.remove(&root);
        }
        self.roots.insert(path.to_path_buf());
        Ok(())
    }

    /// The wanted directories strictly below `path`, parents before children (paths sort by
    /// component, so they follow `path` in the set).
    fn below<'a>(&'a self, path: &'a Path) -> impl Iterator<Item = PathBuf> + 'a {
        self.wanted
            .range::<Path, _>((std::ops::Bound::Excluded(path), std::ops::Bound::Unbounded))
            .take_while(move |p| p.starts_with(path))
            .cloned()
    }
}

impl<W: Watcher> Watcher for Covering<W> {
    fn new<F: EventHandler>(handler: F, config: Config) -> notify::Result<Self> {
        Ok(Covering {
            inner: W::new(handler, config)?,
            wanted: BTreeSet::new(),
            roots: BTreeSet::new(),
        })
    }

    fn watch(&mut self, path: &Path, _mode: RecursiveMode) -> notify::Result<()> {
        if !self.covers(path) {
            self.add_root(path)?;
        }
        self.wanted.insert(path.to_path_buf());
        Ok(())
    }

    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        if !self.wanted.remove(path) {
            return Err(Error::watch_not_found());
        }
        if !self.roots.remove(path) {
            return Ok(());
        }
        let result = self.inner.unwatch(path);
        // Directories below that are still wanted become roots of their own, topmost first.
        let orphans: Vec<PathBuf> = self.below(path).collect();
        for dir in orphans {
            if !self.covers(&dir) {
                self.add_root(&dir)?;
            }
        }
        result
    }

    fn kind() -> WatcherKind {
        W::kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// What the inner watcher was asked, in order.
    static CALLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    struct Recording;

    impl Watcher for Recording {
        fn new<F: EventHandler>(_: F, _: Config) -> notify::Result<Self> {
            Ok(Recording)
        }
        fn watch(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
            assert_eq!(mode, RecursiveMode::Recursive);
            CALLS.lock().unwrap().push(format!("+{}", path.display()));
            Ok(())
        }
        fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
            CALLS.lock().unwrap().push(format!("-{}", path.display()));
            Ok(())
        }
        fn kind() -> WatcherKind {
            WatcherKind::Fsevent
        }
    }

    fn calls() -> Vec<String> {
        std::mem::take(&mut *CALLS.lock().unwrap())
    }

    /// The defect: notify's FSEvents watcher restarts its stream per watched directory (a
    /// restart per directory of the tree, each losing events); a tree is one watch.
    #[test]
    fn a_tree_watched_directory_by_directory_is_one_fsevents_watch() {
        let mut w =
            Covering::<Recording>::new(|_: notify::Result<notify::Event>| {}, Config::default())
                .unwrap();
        let nr = RecursiveMode::NonRecursive;
        for dir in ["/r", "/r/a", "/r/a/b", "/r/c", "/r-x"] {
            w.watch(Path::new(dir), nr).unwrap();
        }
        assert_eq!(calls(), ["+/r", "+/r-x"], "`/r-x` is not under `/r`");

        // Inside the tree, unwatching costs nothing; an unknown path is notify's "not found".
        w.unwatch(Path::new("/r/a/b")).unwrap();
        assert!(w.unwatch(Path::new("/r/a/b")).is_err());
        assert_eq!(calls(), Vec::<String>::new());

        // A parent watched after its child takes over from it.
        w.watch(Path::new("/s/x"), nr).unwrap();
        w.watch(Path::new("/s"), nr).unwrap();
        assert_eq!(calls(), ["+/s/x", "+/s", "-/s/x"]);

        // The root gone, what is still wanted below it keeps a watch: the topmost only.
        w.unwatch(Path::new("/r")).unwrap();
        assert_eq!(calls(), ["-/r", "+/r/a", "+/r/c"]);
    }
}
