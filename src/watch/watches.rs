//! The watch registry: which directories are watched, by which instance, and the walks that
//! add them (on this thread, or split between one thread per instance).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::baseline::lock;
use super::config::{NATIVE_INSTANCES, SPLIT_DEPTH, Tuning};
use super::dirkey;
use super::error::{EMFILE, WatchError, read_limit};
use super::instances::{Fallback, Instance, InstanceId, LINKED, POLLED, add, native, poller};
use super::msg::Msg;
use super::walk::{Found, Step, Target, Walk, Walking};

/// Watched directories, by their keys (the path below the root, see `dirkey`) → their
/// instances. A key is the walk's own exact-size allocation, moved in rather than copied: a
/// copy cost this thread's malloc arena ~60 bytes a directory while the walking thread's freed
/// original stayed resident in its own arena (BENCHMARKS.md, the 100,000-file tree); the
/// native instance watching the directory shares it (an `Arc<Path>`, 8 bytes smaller than a
/// `PathBuf` in each node).
pub(super) type Registry = BTreeMap<Dir, InstanceId>;

/// A watched directory's key (see `dirkey`), ordered and compared by its bytes: a comparison
/// is one `memcmp`, where `Path`'s order splits both paths into components (on the
/// 100,000-file tree, ~110 M of start-up's ~920 M instructions were the registry's inserts).
/// Looked up by [`key`]; a subtree is the directory's own key and the keys that start with it
/// and a separator (see [`Watches::forget`]).
#[derive(Debug, Clone)]
pub(super) struct Dir(Arc<Path>);

/// The bytes a [`Registry`] is looked up by, of a directory's `dirkey::key`.
pub(super) fn key(dir: &Path) -> &[u8] {
    dir.as_os_str().as_encoded_bytes()
}

impl Dir {
    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl From<Arc<Path>> for Dir {
    fn from(path: Arc<Path>) -> Dir {
        Dir(path)
    }
}

impl std::borrow::Borrow<[u8]> for Dir {
    fn borrow(&self) -> &[u8] {
        key(&self.0)
    }
}

// By bytes, as `Borrow<[u8]>` requires (`Path`'s own equality ignores a trailing separator).
impl PartialEq for Dir {
    fn eq(&self, other: &Dir) -> bool {
        key(&self.0) == key(&other.0)
    }
}

impl Eq for Dir {}

impl PartialOrd for Dir {
    fn partial_cmp(&self, other: &Dir) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dir {
    fn cmp(&self, other: &Dir) -> std::cmp::Ordering {
        key(&self.0).cmp(key(&other.0))
    }
}

// Each native instance's index stays below the two marks.
const _: () = assert!(NATIVE_INSTANCES < LINKED as usize);

/// The notify instances and the directories they watch.
pub(super) struct Watches {
    /// One poll watcher, or [`NATIVE_INSTANCES`] native ones.
    notify: Vec<Instance>,
    /// Watched directories (by key) → the instance watching each ([`POLLED`]: the fallback
    /// poller). Ordered, so a subtree is a contiguous range.
    watched: Registry,
    /// The directories in `watched` under [`POLLED`] (absolute).
    polled: BTreeSet<PathBuf>,
    /// The project root, which the registry's keys are below.
    root: Arc<Path>,
    fallback: Mutex<Fallback>,
    /// Tests: refuse native watches as if the kernel's limit were reached.
    refuse: Option<Arc<AtomicBool>>,
    /// The directories in `watched` under [`LINKED`] → their canonical paths.
    linked: BTreeMap<PathBuf, PathBuf>,
    /// File links (absolute) → the canonical directory watched for each one's target.
    file_links: BTreeMap<PathBuf, PathBuf>,
    /// Published for [`super::Watcher::watched_dirs`].
    count: Arc<AtomicUsize>,
    /// Events of the native instances not handed on yet.
    #[cfg(target_os = "linux")]
    backlog: Arc<super::native::Backlog>,
    /// The watcher thread's own channel, for the mark of a cut (see [`Watches::cut`]).
    marks: mpsc::Sender<Msg>,
}

impl Watches {
    /// The notify instances, each sending its events to `msgs`.
    pub(super) fn new(
        poll: Option<Duration>,
        msgs: &mpsc::Sender<Msg>,
        count: Arc<AtomicUsize>,
        tuning: &Tuning,
        root: &Arc<Path>,
    ) -> Result<Watches, WatchError> {
        #[cfg(target_os = "linux")]
        let backlog = Arc::new(super::native::Backlog::new(
            msgs.clone(),
            tuning.pause_readers.clone(),
        ));
        #[cfg(target_os = "linux")]
        let native = || native(msgs, &backlog, root);
        #[cfg(not(target_os = "linux"))]
        let native = || native(msgs);
        let mut notify: Vec<Instance> = vec![match poll {
            Some(interval) => Box::new(
                notify::PollWatcher::new(
                    poller(msgs.clone()),
                    // notify 8.2's poller compares whole-second mtimes only, so a second write
                    // within the same second would be missed; comparing contents closes that
                    // (at the cost of reading the files of watched directories every interval).
                    notify::Config::default()
                        .with_poll_interval(interval)
                        .with_compare_contents(true),
                )
                .map_err(WatchError::Init)?,
            ),
            None => native().map_err(|e| match &e.kind {
                // inotify's instance limit; elsewhere the plain error says it (open files).
                notify::ErrorKind::Io(io)
                    if cfg!(target_os = "linux") && io.raw_os_error() == Some(EMFILE) =>
                {
                    WatchError::InstanceLimit {
                        limit: read_limit("max_user_instances"),
                    }
                }
                _ => WatchError::Init(e),
            })?,
        }];
        if poll.is_none() {
            // Extra instances only speed up full walks: without them (instance limit), one does.
            while notify.len() < NATIVE_INSTANCES
                && let Ok(w) = native()
            {
                notify.push(w);
            }
        }
        Ok(Watches {
            notify,
            watched: BTreeMap::new(),
            polled: BTreeSet::new(),
            fallback: Mutex::new(Fallback::new(
                msgs,
                tuning.fallback_poll,
                poll,
                #[cfg(target_os = "linux")]
                &backlog,
                #[cfg(target_os = "linux")]
                root,
            )),
            root: root.clone(),
            linked: BTreeMap::new(),
            file_links: BTreeMap::new(),
            refuse: tuning.refuse_watches.clone(),
            count,
            #[cfg(target_os = "linux")]
            backlog,
            marks: msgs.clone(),
        })
    }

    /// Cuts at what has happened so far: every event the kernel holds now for the native
    /// instances, and every message already sent, is received before the last of the
    /// [`Msg::Cut`]s this asks for. Returns how many will come (at least one: this thread's
    /// own, behind what its channel holds).
    pub(super) fn cut(&self) -> usize {
        #[cfg(target_os = "linux")]
        let readers = self.backlog.cut();
        #[cfg(not(target_os = "linux"))]
        let readers = 0;
        // The receiver is this thread: the send cannot fail while it runs.
        let own = usize::from(self.marks.send(Msg::Cut).is_ok());
        readers + own
    }

    /// True while the native instances have events not handed on yet (see `native::Backlog`);
    /// elsewhere, false.
    pub(super) fn backlog(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.backlog.pending();
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Directories watched (natively or polled).
    pub(super) fn count(&self) -> usize {
        self.watched.len()
    }

    /// Directories polled because the kernel refused their watch.
    pub(super) fn polled(&self) -> usize {
        self.polled.len()
    }

    pub(super) fn contains(&self, dir: &Path) -> bool {
        self.watched.contains_key(key(dirkey::key(&self.root, dir)))
    }

    /// The path of a registry key.
    fn absolute(&self, dir: &Dir) -> PathBuf {
        dirkey::absolute(&self.root, dir.path()).into_owned()
    }

    fn publish(&self) {
        self.count.store(self.watched.len(), Ordering::Relaxed);
    }

    fn record(&mut self, found: &mut Found) {
        for (dir, canonical) in &found.linked {
            self.linked.insert(dir.clone(), canonical.clone());
        }
        for (link, parent) in &found.file_links {
            if let Some(old) = self.file_links.insert(link.clone(), parent.clone()) {
                lock(&self.fallback).unlink(&old);
            }
        }
        let dirs = std::mem::take(&mut found.dirs);
        let added = dirs.into_iter().filter_map(|(dir, k)| {
            let k = k?;
            if k == POLLED {
                self.polled
                    .insert(dirkey::absolute(&self.root, &dir).into_owned());
            } else if !self.polled.is_empty() {
                self.polled.remove(&*dirkey::absolute(&self.root, &dir));
            }
            Some((Dir(dir), k))
        });
        bulk_insert(&mut self.watched, added);
        self.publish();
    }

    /// A file link found outside a walk (made while hot runs): watches its target's directory.
    pub(super) fn link_file(&mut self, link: &Path, canonical_parent: &Path) {
        if self
            .file_links
            .get(link)
            .is_some_and(|p| p == canonical_parent)
        {
            return;
        }
        let mut fallback = lock(&self.fallback);
        if fallback.link(canonical_parent).is_ok()
            && let Some(old) = self
                .file_links
                .insert(link.to_path_buf(), canonical_parent.to_path_buf())
        {
            fallback.unlink(&old);
        }
    }

    fn unwatch(&mut self, dir: &Path, k: InstanceId) {
        if k == LINKED {
            if let Some(canonical) = self.linked.remove(dir) {
                lock(&self.fallback).unlink(&canonical);
            }
            return;
        }
        if k == POLLED {
            lock(&self.fallback).unwatch(dir);
            self.polled.remove(dir);
        } else {
            // notify usually dropped the kernel watch already; a "not found" is expected.
            let _ = self.notify[usize::from(k)].unwatch(dir);
        }
    }

    /// Tries to give polled directories a native watch again (the limit may have been
    /// raised); stops at the first refusal. Returns the directories moved: an edit made between
    /// the poller's last look and the new watch is only found by reading them again.
    pub(super) fn retry(&mut self) -> Vec<PathBuf> {
        let mut moved = Vec::new();
        let polled: Vec<PathBuf> = self.polled.iter().cloned().collect();
        for dir in polled {
            let shared: Arc<Path> = dirkey::key(&self.root, &dir).into();
            let result = if self
                .refuse
                .as_deref()
                .is_some_and(|r| r.load(Ordering::Relaxed))
            {
                Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch))
            } else {
                self.notify[0].watch_dir(&dir, &shared)
            };
            match result {
                Ok(()) => {
                    lock(&self.fallback).unwatch(&dir);
                    self.polled.remove(&dir);
                    self.watched.insert(Dir(shared), 0);
                    moved.push(dir);
                }
                // Gone: the poller's event about it forgets it.
                Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => {}
                Err(_) => break,
            }
        }
        self.publish();
        moved
    }

    /// Walks `dir` on this thread. `before`: the instances of directories watched before a
    /// rescan, re-watched on the same instance.
    pub(super) fn walk(
        &mut self,
        walk: &Walk<'_>,
        dir: &Path,
        before: Option<&Registry>,
        max_depth: Option<usize>,
    ) -> Found {
        let mut walking = self.walking(walk, dir, max_depth);
        self.resume(walk, &mut walking, before, usize::MAX).0
    }

    /// The walk of `dir`, to be taken a step at a time by [`Watches::resume`].
    pub(super) fn walking(&self, walk: &Walk<'_>, dir: &Path, max_depth: Option<usize>) -> Walking {
        let linked = &self.linked;
        let is_linked = |p: &Path| p.ancestors().any(|a| linked.contains_key(a));
        Walking::new(walk, dir, max_depth, false, &is_linked)
    }

    /// Walks on for at most `budget` entries, recording the watches added: what was found,
    /// and where the walk stands.
    pub(super) fn resume(
        &mut self,
        walk: &Walk<'_>,
        walking: &mut Walking,
        before: Option<&Registry>,
        budget: usize,
    ) -> (Found, Step) {
        let mut found = Found::default();
        let (notify, refuse, fallback) = (&mut self.notify, self.refuse.as_deref(), &self.fallback);
        let mut watch = |target: Target<'_>| {
            // A polled directory tries a native watch again first.
            let k = match target {
                Target::Dir { key: dir, .. } => before
                    .and_then(|b| b.get(key(dir)))
                    .copied()
                    .filter(|&k| usize::from(k) < notify.len())
                    .unwrap_or(0),
                Target::Linked(_) => 0,
            };
            add(&mut notify[usize::from(k)], k, target, refuse, fallback)
        };
        let step = walking.step(walk, budget, &self.watched, &mut watch, &mut found);
        self.record(&mut found);
        (found, step)
    }

    /// A walk of the whole tree. With several instances, the top of the tree (down to
    /// [`SPLIT_DEPTH`]) is walked on this thread, then its subtrees on one thread per
    /// instance, each watching with its own instance (the subtree roots were watched by the
    /// first phase). Directories watched already are left as they are.
    pub(super) fn walk_root(&mut self, walk: &Walk<'_>) -> Found {
        if self.notify.len() == 1 {
            return self.walk(walk, walk.root, None, None);
        }
        let mut found = self.walk(walk, walk.root, None, Some(SPLIT_DEPTH));
        if found.err.is_some() {
            return found;
        }
        let queue = Mutex::new(std::mem::take(&mut found.frontier));
        let failed = AtomicBool::new(false);
        let (watched, refuse, fallback) = (&self.watched, self.refuse.as_deref(), &self.fallback);
        let linked = &self.linked;
        let is_linked = |p: &Path| p.ancestors().any(|a| linked.contains_key(a));
        let is_linked = &is_linked;
        let work = |notify: &mut Instance, k: InstanceId| {
            let mut out = Found::default();
            let mut watch = |target: Target<'_>| add(notify, k, target, refuse, fallback);
            while !failed.load(Ordering::Relaxed) {
                let Some(sub) = lock(&queue).pop() else { break };
                if !walk.subtree(&sub, None, true, watched, is_linked, &mut watch, &mut out) {
                    failed.store(true, Ordering::Relaxed);
                    break;
                }
            }
            out
        };
        let work = &work;
        let outs: Vec<Found> = std::thread::scope(|s| {
            let mut instances = self.notify.iter_mut().zip(0..);
            let (first, k) = instances.next().expect("several instances");
            // This thread walks with the first instance. A thread the system refuses (a
            // process limit reached) only leaves its instance idle: the others, this one
            // among them, take the queue.
            let threads: Vec<_> = instances
                .filter_map(|(notify, k)| {
                    std::thread::Builder::new()
                        .spawn_scoped(s, move || work(notify, k))
                        .ok()
                })
                .collect();
            let mut outs = vec![work(first, k)];
            outs.extend(
                threads
                    .into_iter()
                    .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            );
            outs
        });
        // Every thread's directories go into the registry at once (see `bulk_insert`).
        let mut all = Found::default();
        for out in outs {
            all.absorb(out);
        }
        self.record(&mut all);
        found.absorb(all);
        found
    }

    /// Drops the watches of `dir` and everything under it.
    pub(super) fn forget(&mut self, dir: &Path) {
        let gone: Vec<(Dir, InstanceId)> = subtree(&self.watched, dirkey::key(&self.root, dir))
            .map(|(d, k)| (d.clone(), *k))
            .collect();
        for (d, k) in gone {
            self.unwatch(&self.absolute(&d), k);
            self.watched.remove(&d);
        }
        let links: Vec<PathBuf> = self
            .file_links
            .range::<Path, _>((Bound::Included(dir), Bound::Unbounded))
            .take_while(|(p, _)| p.starts_with(dir))
            .map(|(p, _)| p.clone())
            .collect();
        for link in links {
            if let Some(parent) = self.file_links.remove(&link) {
                lock(&self.fallback).unlink(&parent);
            }
        }
        self.publish();
    }

    /// Starts a rescan from no watches; returns the previous ones for [`Watches::walk`]'s
    /// `before` and [`Watches::drop_stale`].
    pub(super) fn take(&mut self) -> Before {
        self.polled.clear();
        Before {
            watched: std::mem::take(&mut self.watched),
            linked: std::mem::take(&mut self.linked),
            file_links: std::mem::take(&mut self.file_links),
        }
    }

    /// After a rescan: unwatches what was watched `before` and is not any more.
    pub(super) fn drop_stale(&mut self, before: &Before) {
        for (d, k) in &before.watched {
            // Link targets are counted: the rescan counted each again, so drop the old counts.
            if *k == LINKED {
                continue;
            }
            // Watched by another instance now (a polled one got a native watch), or not at all.
            if self.watched.get(d) != Some(k) {
                self.unwatch(&self.absolute(d), *k);
            }
        }
        let mut fallback = lock(&self.fallback);
        for canonical in before.linked.values().chain(before.file_links.values()) {
            fallback.unlink(canonical);
        }
        drop(fallback);
        self.publish();
    }
}

/// Inserts `added` into `map` (the later of equal keys wins, as one insert after another).
/// Inserted one at a time in order, as a walk finds them, a B-tree's nodes split and stay about
/// half full; built from many at once, they are full. So a batch as big as a quarter of the
/// map rebuilds it whole (linear in both), a smaller one is inserted. On the 100,000-file tree
/// the registry's nodes are ~0.2 MB rather than ~0.4.
fn bulk_insert<K: Ord, V>(map: &mut BTreeMap<K, V>, added: impl Iterator<Item = (K, V)>) {
    let added: Vec<(K, V)> = added.collect();
    if added.len() * 4 >= map.len() {
        let mut added: BTreeMap<K, V> = added.into_iter().collect();
        map.append(&mut added);
    } else {
        map.extend(added);
    }
}

/// `dir` (a key) and the directories under it, in `watched`. In byte order a subtree is not
/// one range (`a/b-c` sorts between `a/b` and `a/b/c`): it is the directory's own key, then the
/// keys that start with it and a separator. The root's key is empty: every relative key is
/// under it (the absolute ones, outside the root, are not).
fn subtree<'a>(
    watched: &'a Registry,
    dir: &Path,
) -> impl Iterator<Item = (&'a Dir, &'a InstanceId)> {
    let sep = std::path::MAIN_SEPARATOR_STR.as_bytes();
    let mut under = key(dir).to_vec();
    let root = under.is_empty();
    if !under.ends_with(sep) {
        under.extend_from_slice(sep);
    }
    // Without the separator: `dir` named with a trailing one still finds its own key.
    let own = watched.get_key_value(&under[..under.len() - sep.len()]);
    let below = watched
        .range::<[u8], _>((Bound::Included(&under[..]), Bound::Unbounded))
        .take_while(move |(d, _)| key(d.path()).starts_with(&under));
    let all = watched
        .iter()
        .filter(|(d, _)| d.path().is_relative() && !key(d.path()).is_empty());
    let (below, all) = if root {
        (None, Some(all))
    } else {
        (Some(below), None)
    };
    own.into_iter()
        .chain(below.into_iter().flatten())
        .chain(all.into_iter().flatten())
}

/// The watches before a rescan.
pub(super) struct Before {
    pub watched: Registry,
    linked: BTreeMap<PathBuf, PathBuf>,
    file_links: BTreeMap<PathBuf, PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registry of `dirs`, each in the instance of its index.
    fn registry(dirs: &[&str]) -> Registry {
        dirs.iter()
            .zip(0..)
            .map(|(d, i)| (Dir::from(Arc::from(Path::new(d))), i))
            .collect()
    }

    /// The directories [`subtree`] gives for `dir`, in its order.
    fn subtree_names(watched: &Registry, dir: &str) -> Vec<String> {
        subtree(watched, Path::new(dir))
            .map(|(d, _)| d.path().display().to_string())
            .collect()
    }

    /// Byte order puts `a/b-c` and `a/b.rs` between `a/b` and `a/b/c`: a forgotten directory
    /// must take its own subtree and nothing of its siblings.
    #[test]
    fn forgetting_a_directory_kept_its_siblings_that_sort_inside_its_subtree() {
        let dirs = [
            "/p/a",
            "/p/a/b",
            "/p/a/b/c",
            "/p/a/b-c",
            "/p/a/b.d",
            "/p/a/bc",
            "/p/a/b/c/d",
            "/p/b",
        ];
        let watched = registry(&dirs);
        let names = |dir: &str| subtree_names(&watched, dir);
        assert_eq!(names("/p/a/b"), ["/p/a/b", "/p/a/b/c", "/p/a/b/c/d"]);
        assert_eq!(names("/p/a/b/"), ["/p/a/b", "/p/a/b/c", "/p/a/b/c/d"]);
        assert_eq!(names("/p/a/b-c"), ["/p/a/b-c"]);
        assert_eq!(names("/p/a/x"), Vec::<String>::new());
        assert_eq!(names("/").len(), dirs.len());
    }

    /// Keys are below the root (`dirkey`), the root's own empty: forgetting the root takes
    /// every relative key, and no absolute one (a link's target outside the root).
    #[test]
    fn forgetting_the_root_took_every_key_below_it_and_none_outside() {
        let dirs = ["", "a", "a/b", "a-b", "/elsewhere/t"];
        let watched = registry(&dirs);
        let names = |dir: &str| subtree_names(&watched, dir);
        assert_eq!(names(""), ["", "a", "a-b", "a/b"]);
        assert_eq!(names("a"), ["a", "a/b"]);
        assert_eq!(names("/elsewhere"), ["/elsewhere/t"]);
    }
}
