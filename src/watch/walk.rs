//! The walk and the watches: which directories are watched, by which notify instance, and the
//! one walker that finds them, on this thread or split between one thread per instance.
//!
//! The walker reads a directory's entries only after yielding it, so a directory is always
//! watched before it is read: nothing created in it between listing and watching is missed.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode};

use super::baseline::lock;
use super::config::{NATIVE_INSTANCES, SPLIT_DEPTH, Tuning};
use super::error::{EMFILE, WatchError, read_limit, watch_error};
use super::rules;
use super::worker::Msg;

type Instance = Box<dyn notify::Watcher + Send>;

/// The instance index of directories watched by the poll fallback.
pub(super) const POLLED: usize = usize::MAX;

/// Forwards notify's events to the watcher thread, time-stamped.
fn handler(events: mpsc::Sender<Msg>) -> impl notify::EventHandler {
    move |ev: notify::Result<notify::Event>| {
        // Reads (ours included: hashing opens files) are noise; a close after writing is the
        // best signal that a file is complete.
        if let Ok(e) = &ev
            && let EventKind::Access(kind) = e.kind
            && kind != AccessKind::Close(AccessMode::Write)
        {
            return;
        }
        let _ = events.send(Msg::Event(Instant::now(), ev));
    }
}

/// A poller for directories the kernel refused to watch (the inotify watch limit), made on
/// first need. Its events feed the same channel, so a polled directory behaves like a watched
/// one, only slower.
struct Fallback {
    poller: Option<notify::PollWatcher>,
    msgs: mpsc::Sender<Msg>,
    interval: Duration,
}

impl Fallback {
    fn watch(&mut self, dir: &Path) -> notify::Result<()> {
        let poller = match &mut self.poller {
            Some(p) => p,
            None => self.poller.insert(notify::PollWatcher::new(
                handler(self.msgs.clone()),
                // Whole-second mtimes would miss a second write within a second: compare bytes.
                notify::Config::default()
                    .with_poll_interval(self.interval)
                    .with_compare_contents(true),
            )?),
        };
        // The poller lists the directory now, before the walk reads it: nothing falls between.
        notify::Watcher::watch(poller, dir, RecursiveMode::NonRecursive)
    }

    fn unwatch(&mut self, dir: &Path) {
        if let Some(p) = &mut self.poller {
            let _ = notify::Watcher::unwatch(p, dir);
        }
    }
}

/// Adds a native watch on instance `k`; past the kernel's watch limit the directory is polled
/// instead (and [`POLLED`] returned). `refuse`: tests stand in for the limit.
fn add(
    native: &mut Instance,
    k: usize,
    dir: &Path,
    refuse: Option<&AtomicBool>,
    fallback: &Mutex<Fallback>,
) -> notify::Result<usize> {
    let result = if refuse.is_some_and(|r| r.load(Ordering::Relaxed)) {
        Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch))
    } else {
        native.watch(dir, RecursiveMode::NonRecursive)
    };
    match result {
        Ok(()) => Ok(k),
        Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
            lock(fallback).watch(dir).map(|()| POLLED)
        }
        Err(e) => Err(e),
    }
}

/// What a walk found.
#[derive(Default)]
pub(super) struct Found {
    /// Every directory walked, with the instance that now watches it when this walk added the
    /// watch (`None`: watched already). The ignore rules of each are (re)read by the caller.
    pub dirs: Vec<(PathBuf, Option<usize>)>,
    /// Tracked files (relative), NUL-separated: one growing buffer is mmap-backed once big, so
    /// it goes back to the OS when freed (small allocations in a thread's malloc arena would
    /// stay in RSS), and no lock is shared while walking.
    files: Vec<u8>,
    /// Files seen (tracked or not).
    pub seen: usize,
    /// Directories at the depth limit: watched, not read.
    pub frontier: Vec<PathBuf>,
    /// A watch failure of a strict walk: the walk stopped there.
    pub err: Option<WatchError>,
    /// The first watch failure of a lenient walk.
    pub warn: Option<WatchError>,
}

impl Found {
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files
            .split(|&b| b == 0)
            .filter(|r| !r.is_empty())
            .map(|rel| {
                // SAFETY: whole paths from `as_encoded_bytes`, split at our own NULs (no path
                // holds a NUL).
                Path::new(unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(rel) })
            })
    }

    fn absorb(&mut self, other: Found) {
        self.dirs.extend(other.dirs);
        self.files.extend_from_slice(&other.files);
        self.seen += other.seen;
        self.frontier.extend(other.frontier);
        if self.err.is_none() {
            self.err = other.err;
        }
        if self.warn.is_none() {
            self.warn = other.warn;
        }
    }
}

/// What every walk needs to know besides where it walks.
pub(super) struct Walk<'a> {
    /// The project root: found files are relative to it.
    pub root: &'a Path,
    pub tracked: &'a (dyn Fn(&Path) -> bool + Sync),
    /// A watch failure ends the walk with an error (start-up) rather than a warning.
    pub strict: bool,
}

impl Walk<'_> {
    /// Walks `dir`, watching every directory not in `watched` through `watch` (which returns the
    /// instance it used). `max_depth`: directories at that depth are watched, not read.
    /// `skip_root`: `dir` itself was watched and recorded by an earlier phase. Returns false
    /// when a strict walk failed.
    fn subtree(
        &self,
        dir: &Path,
        max_depth: Option<usize>,
        skip_root: bool,
        watched: &BTreeMap<PathBuf, usize>,
        watch: &mut dyn FnMut(&Path) -> notify::Result<usize>,
        out: &mut Found,
    ) -> bool {
        let mut walker = rules::walker(dir);
        walker.max_depth(max_depth);
        for entry in walker.build() {
            let Ok(entry) = entry else { continue };
            let Some(ft) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if ft.is_dir() {
                if skip_root && entry.depth() == 0 {
                    continue;
                }
                if max_depth == Some(entry.depth()) {
                    out.frontier.push(path.to_path_buf());
                }
                if watched.contains_key(path) {
                    // Also notes repository roots (`.git`), which bound `.gitignore` scope.
                    out.dirs.push((path.to_path_buf(), None));
                    continue;
                }
                match watch(path) {
                    Ok(k) => out.dirs.push((path.to_path_buf(), Some(k))),
                    // Gone already: its parent's event says so.
                    Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => {}
                    Err(e) => {
                        let err = watch_error(path, e, watched.len() + out.dirs.len());
                        if self.strict {
                            out.err = Some(err);
                            return false;
                        }
                        out.warn.get_or_insert(err);
                    }
                }
                continue;
            }
            out.seen += 1;
            if rules::is_editor_temp(entry.file_name()) {
                continue;
            }
            if let Ok(rel) = path.strip_prefix(self.root)
                && (self.tracked)(rel)
            {
                out.files
                    .extend_from_slice(rel.as_os_str().as_encoded_bytes());
                out.files.push(0);
            }
        }
        true
    }
}

/// The notify instances and the directories they watch.
pub(super) struct Watches {
    /// One poll watcher, or [`NATIVE_INSTANCES`] native ones.
    notify: Vec<Instance>,
    /// Watched directories (absolute) → the instance watching each ([`POLLED`]: the fallback
    /// poller). Ordered, so a subtree is a contiguous range.
    watched: BTreeMap<PathBuf, usize>,
    /// The directories in `watched` under [`POLLED`].
    polled: BTreeSet<PathBuf>,
    fallback: Mutex<Fallback>,
    /// Tests: refuse native watches as if the kernel's limit were reached.
    refuse: Option<Arc<AtomicBool>>,
    /// Published for [`super::Watcher::watched_dirs`].
    count: Arc<AtomicUsize>,
}

impl Watches {
    /// The notify instances, each sending its events to `msgs`.
    pub fn new(
        poll: Option<Duration>,
        msgs: &mpsc::Sender<Msg>,
        count: Arc<AtomicUsize>,
        tuning: &Tuning,
    ) -> Result<Watches, WatchError> {
        let native = || {
            <notify::RecommendedWatcher as notify::Watcher>::new(
                handler(msgs.clone()),
                notify::Config::default(),
            )
        };
        let mut notify: Vec<Instance> = vec![match poll {
            Some(interval) => Box::new(
                notify::PollWatcher::new(
                    handler(msgs.clone()),
                    // notify 8.2's poller compares whole-second mtimes only, so a second write
                    // within the same second would be missed; comparing contents closes that
                    // (at the cost of reading the files of watched directories every interval).
                    notify::Config::default()
                        .with_poll_interval(interval)
                        .with_compare_contents(true),
                )
                .map_err(WatchError::Init)?,
            ),
            None => Box::new(native().map_err(|e| match &e.kind {
                notify::ErrorKind::Io(io) if io.raw_os_error() == Some(EMFILE) => {
                    WatchError::InstanceLimit {
                        limit: read_limit("max_user_instances"),
                    }
                }
                _ => WatchError::Init(e),
            })?),
        }];
        if poll.is_none() {
            // Extra instances only speed up full walks: without them (instance limit), one does.
            while notify.len() < NATIVE_INSTANCES
                && let Ok(w) = native()
            {
                notify.push(Box::new(w));
            }
        }
        Ok(Watches {
            notify,
            watched: BTreeMap::new(),
            polled: BTreeSet::new(),
            fallback: Mutex::new(Fallback {
                poller: None,
                msgs: msgs.clone(),
                interval: tuning.fallback_poll,
            }),
            refuse: tuning.refuse_watches.clone(),
            count,
        })
    }

    /// Directories watched (natively or polled).
    pub fn count(&self) -> usize {
        self.watched.len()
    }

    /// Directories polled because the kernel refused their watch.
    pub fn polled(&self) -> usize {
        self.polled.len()
    }

    pub fn contains(&self, dir: &Path) -> bool {
        self.watched.contains_key(dir)
    }

    fn publish(&self) {
        self.count.store(self.watched.len(), Ordering::Relaxed);
    }

    fn record(&mut self, found: &Found) {
        for (dir, k) in &found.dirs {
            if let Some(k) = *k {
                self.watched.insert(dir.clone(), k);
                if k == POLLED {
                    self.polled.insert(dir.clone());
                } else {
                    self.polled.remove(dir);
                }
            }
        }
        self.publish();
    }

    fn unwatch(&mut self, dir: &Path, k: usize) {
        if k == POLLED {
            lock(&self.fallback).unwatch(dir);
            self.polled.remove(dir);
        } else {
            // notify usually dropped the kernel watch already; a "not found" is expected.
            let _ = self.notify[k].unwatch(dir);
        }
    }

    /// Tries to give polled directories a native watch again (the limit may have been
    /// raised); stops at the first refusal. Returns the directories moved: an edit made between
    /// the poller's last look and the new watch is only found by reading them again.
    pub fn retry(&mut self) -> Vec<PathBuf> {
        let mut moved = Vec::new();
        let polled: Vec<PathBuf> = self.polled.iter().cloned().collect();
        for dir in polled {
            let result = if self
                .refuse
                .as_deref()
                .is_some_and(|r| r.load(Ordering::Relaxed))
            {
                Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch))
            } else {
                self.notify[0].watch(&dir, RecursiveMode::NonRecursive)
            };
            match result {
                Ok(()) => {
                    lock(&self.fallback).unwatch(&dir);
                    self.polled.remove(&dir);
                    self.watched.insert(dir.clone(), 0);
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
    pub fn walk(
        &mut self,
        walk: &Walk<'_>,
        dir: &Path,
        before: Option<&BTreeMap<PathBuf, usize>>,
        max_depth: Option<usize>,
    ) -> Found {
        let mut found = Found::default();
        let (notify, refuse, fallback) = (&mut self.notify, self.refuse.as_deref(), &self.fallback);
        let mut watch = |path: &Path| {
            // A polled directory tries a native watch again first.
            let k = before
                .and_then(|b| b.get(path))
                .copied()
                .filter(|&k| k != POLLED)
                .unwrap_or(0);
            add(&mut notify[k], k, path, refuse, fallback)
        };
        walk.subtree(dir, max_depth, false, &self.watched, &mut watch, &mut found);
        self.record(&found);
        found
    }

    /// A walk of the whole tree. With several instances, the top of the tree (down to
    /// [`SPLIT_DEPTH`]) is walked on this thread, then its subtrees on one thread per
    /// instance, each watching with its own instance (the subtree roots were watched by the
    /// first phase). Directories watched already are left as they are.
    pub fn walk_root(&mut self, walk: &Walk<'_>) -> Found {
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
        let outs: Vec<Found> = std::thread::scope(|s| {
            let threads: Vec<_> = self
                .notify
                .iter_mut()
                .enumerate()
                .map(|(k, notify)| {
                    let (queue, failed) = (&queue, &failed);
                    s.spawn(move || {
                        let mut out = Found::default();
                        let mut watch = |path: &Path| add(notify, k, path, refuse, fallback);
                        while !failed.load(Ordering::Relaxed) {
                            let Some(sub) = lock(queue).pop() else { break };
                            if !walk.subtree(&sub, None, true, watched, &mut watch, &mut out) {
                                failed.store(true, Ordering::Relaxed);
                                break;
                            }
                        }
                        out
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        for out in outs {
            self.record(&out);
            found.absorb(out);
        }
        found
    }

    /// Drops the watches of `dir` and everything under it.
    pub fn forget(&mut self, dir: &Path) {
        let gone: Vec<(PathBuf, usize)> = self
            .watched
            .range::<Path, _>((Bound::Included(dir), Bound::Unbounded))
            .take_while(|(p, _)| p.starts_with(dir))
            .map(|(p, k)| (p.clone(), *k))
            .collect();
        for (d, k) in gone {
            self.unwatch(&d, k);
            self.watched.remove(&d);
        }
        self.publish();
    }

    /// Starts a rescan from no watches; returns the previous ones for [`Watches::walk`]'s
    /// `before` and [`Watches::drop_stale`].
    pub fn take(&mut self) -> BTreeMap<PathBuf, usize> {
        self.polled.clear();
        std::mem::take(&mut self.watched)
    }

    /// After a rescan: unwatches what was watched `before` and is not any more.
    pub fn drop_stale(&mut self, before: &BTreeMap<PathBuf, usize>) {
        for (d, k) in before {
            // Watched by another instance now (a polled one got a native watch), or not at all.
            if self.watched.get(d) != Some(k) {
                self.unwatch(d, *k);
            }
        }
        self.publish();
    }
}
