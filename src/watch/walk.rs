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
use super::config::{Ignore, NATIVE_INSTANCES, SPLIT_DEPTH, Tuning};
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

/// A native instance: inotify itself on Linux (see `native`: no round trip per watch, no
/// events for reads), FSEvents a tree at a time on macOS (see `covering`), notify's
/// recommended watcher elsewhere (kqueue on the BSDs).
fn native(
    msgs: &mpsc::Sender<Msg>,
    #[cfg(target_os = "linux")] backlog: &Arc<super::native::Backlog>,
) -> notify::Result<Instance> {
    #[cfg(target_os = "linux")]
    let instance: Instance = Box::new(super::native::Native::start(
        handler(msgs.clone()),
        backlog.clone(),
    )?);
    #[cfg(target_os = "macos")]
    let instance: Instance = Box::new(
        <super::covering::Covering<notify::FsEventWatcher> as notify::Watcher>::new(
            handler(msgs.clone()),
            notify::Config::default(),
        )?,
    );
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    let instance: Instance = Box::new(<notify::RecommendedWatcher as notify::Watcher>::new(
        handler(msgs.clone()),
        notify::Config::default(),
    )?);
    Ok(instance)
}

/// A poller for directories the kernel refused to watch (the inotify watch limit), made on
/// first need. Its events feed the same channel, so a polled directory behaves like a watched
/// one, only slower.
struct Fallback {
    poller: Option<notify::PollWatcher>,
    msgs: mpsc::Sender<Msg>,
    interval: Duration,
    /// The instance that watches link targets (made on first need), of the main kind: native,
    /// or a poller in poll mode.
    links: Option<Instance>,
    poll: Option<Duration>,
    /// Canonical directories watched for links → how many links need each.
    refs: std::collections::HashMap<PathBuf, usize>,
    #[cfg(target_os = "linux")]
    backlog: Arc<super::native::Backlog>,
}

impl Fallback {
    /// Watches a link target's directory by its canonical path, once however many links
    /// lead there. Past the watch limit it is polled.
    fn link(&mut self, canonical: &Path) -> notify::Result<()> {
        if let Some(n) = self.refs.get_mut(canonical) {
            *n += 1;
            return Ok(());
        }
        let instance = match &mut self.links {
            Some(i) => i,
            None => {
                let made: Instance = match self.poll {
                    Some(interval) => Box::new(notify::PollWatcher::new(
                        handler(self.msgs.clone()),
                        notify::Config::default()
                            .with_poll_interval(interval)
                            .with_compare_contents(true),
                    )?),
                    #[cfg(target_os = "linux")]
                    None => native(&self.msgs, &self.backlog)?,
                    #[cfg(not(target_os = "linux"))]
                    None => native(&self.msgs)?,
                };
                self.links.insert(made)
            }
        };
        match instance.watch(canonical, RecursiveMode::NonRecursive) {
            Ok(()) => {}
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                self.watch(canonical)?
            }
            Err(e) => return Err(e),
        }
        self.refs.insert(canonical.to_path_buf(), 1);
        Ok(())
    }

    /// One link fewer needs `canonical`.
    fn unlink(&mut self, canonical: &Path) {
        let Some(n) = self.refs.get_mut(canonical) else {
            return;
        };
        *n -= 1;
        if *n == 0 {
            self.refs.remove(canonical);
            if let Some(i) = &mut self.links {
                let _ = i.unwatch(canonical);
            }
            self.unwatch(canonical);
        }
    }

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

/// The instance index of directories watched through a link (by their canonical path).
pub(super) const LINKED: usize = usize::MAX - 1;

/// Adds a native watch on instance `k`; past the kernel's watch limit the directory is polled
/// instead (and [`POLLED`] returned). A linked directory goes to the links' instance
/// ([`LINKED`]). `refuse`: tests stand in for the limit.
fn add(
    native: &mut Instance,
    k: usize,
    target: Target<'_>,
    refuse: Option<&AtomicBool>,
    fallback: &Mutex<Fallback>,
) -> notify::Result<usize> {
    let dir = match target {
        Target::Linked(canonical) => return lock(fallback).link(canonical).map(|()| LINKED),
        Target::Dir(dir) => dir,
    };
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
    /// Tracked entries that are not regular files (FIFOs, sockets, devices), relative: never
    /// opened, so they are recorded as [`super::hash::FileState::Special`], not hashed.
    pub special: Vec<PathBuf>,
    /// Files seen (tracked or not).
    pub seen: usize,
    /// Walked directories whose listing holds an ignore file or a repository (`.git`): only
    /// these have rules to read.
    pub rule_dirs: Vec<PathBuf>,
    /// Directories at the depth limit: watched, not read.
    pub frontier: Vec<PathBuf>,
    /// A watch failure of a strict walk: the walk stopped there.
    pub err: Option<WatchError>,
    /// The first watch failure of a lenient walk.
    pub warn: Option<WatchError>,
    /// Directories hot may not read (permission denied), left out with their subtrees: a
    /// warning each, never a stop.
    pub unreadable: Vec<PathBuf>,
    /// Links to directories outside the project holding more than [`LINKED_TREE_MAX`]
    /// entries, not followed (absolute link, canonical target).
    pub too_big: Vec<(PathBuf, PathBuf)>,
    /// Links to directories outside the project whose size is still to be counted (see
    /// [`Walk::defer`]): not followed yet.
    pub scout: Vec<(PathBuf, PathBuf)>,
    /// Symbolic links met (files and directories, absolute) and their canonical targets.
    pub links: Vec<(PathBuf, PathBuf)>,
    /// Directories at or under a link, watched (by this walk) through their canonical path.
    linked: Vec<(PathBuf, PathBuf)>,
    /// File links whose target's directory this walk watches (by its canonical path).
    file_links: Vec<(PathBuf, PathBuf)>,
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
        self.special.extend(other.special);
        self.seen += other.seen;
        self.rule_dirs.extend(other.rule_dirs);
        self.frontier.extend(other.frontier);
        if self.err.is_none() {
            self.err = other.err;
        }
        if self.warn.is_none() {
            self.warn = other.warn;
        }
        self.unreadable.extend(other.unreadable);
        self.too_big.extend(other.too_big);
        self.scout.extend(other.scout);
        self.links.extend(other.links);
        self.linked.extend(other.linked);
        self.file_links.extend(other.file_links);
    }
}

/// A linked tree outside the project with more entries (files and directories) than this is
/// not watched: at ~1 µs to list an entry and a watch a directory, this many cost ~10-30 ms
/// of the watcher's time, which an edit elsewhere may wait for; `/usr` has ~10^5-10^6.
pub(super) const LINKED_TREE_MAX: usize = 10_000;

/// Whether the tree at `dir` has at most `max` entries (links followed, ignore files not
/// read: the plain listing is the cost to bound). Stops reading at `max + 1`, so a huge tree
/// costs no more than a small one; a cycle of links only counts up to the bound.
pub(super) fn fits(dir: &Path, max: usize) -> bool {
    let mut count = 0usize;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            count += 1;
            if count > max {
                return false;
            }
            let is_dir = match entry.file_type() {
                Ok(t) if t.is_symlink() => {
                    std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir())
                }
                Ok(t) => t.is_dir(),
                Err(_) => false,
            };
            if is_dir && !rules::is_vcs_dir(&entry.file_name()) {
                stack.push(entry.path());
            }
        }
    }
    true
}

fn is_denied(e: &notify::Error) -> bool {
    matches!(&e.kind, notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied)
}

/// What a walk asks to be watched.
pub(super) enum Target<'p> {
    /// A directory of the tree, by its own path.
    Dir(&'p Path),
    /// A directory reached through a link, by its canonical path.
    Linked(&'p Path),
}

/// What every walk needs to know besides where it walks.
pub(super) struct Walk<'a> {
    /// The project root: found files are relative to it.
    pub root: &'a Path,
    pub tracked: &'a (dyn Fn(&Path) -> bool + Sync),
    /// The Hotfile's common `ignore`: pruned from the walk like a `.gitignore`d tree.
    pub ignore: &'a Arc<Ignore>,
    /// A watch failure ends the walk with an error (start-up) rather than a warning.
    pub strict: bool,
    /// Links to trees outside the project are not counted here but left in
    /// [`Found::scout`] for a thread of their own (while hot runs).
    pub defer: bool,
    /// Canonical targets outside the project counted already and small enough to follow.
    pub approved: &'a std::collections::HashSet<PathBuf>,
}

impl Walk<'_> {
    /// Walks `dir`, watching every directory not in `watched` through `watch` (which returns the
    /// instance it used). `max_depth`: directories at that depth are watched, not read.
    /// `skip_root`: `dir` itself was watched and recorded by an earlier phase. `linked`: a path
    /// lies under a link met by an earlier walk.
    ///
    /// Links are followed. A link to a directory is walked as a tree of its own after the
    /// walk that met it, with the walker following links below it (it reports a cycle as an
    /// error, which ends that branch); a link to a directory that contains it is skipped (its
    /// tree is being walked already). What lies under a link is watched by its canonical path.
    /// Returns false when a strict walk failed.
    #[allow(clippy::too_many_arguments)]
    fn subtree(
        &self,
        dir: &Path,
        max_depth: Option<usize>,
        skip_root: bool,
        watched: &BTreeMap<PathBuf, usize>,
        linked: &dyn Fn(&Path) -> bool,
        watch: &mut dyn FnMut(Target<'_>) -> notify::Result<usize>,
        out: &mut Found,
    ) -> bool {
        let mut pending = Vec::new();
        if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
            pending.push(dir.to_path_buf());
        } else {
            let through = linked(dir);
            let walked = self.walk_one(
                dir,
                max_depth,
                skip_root,
                through,
                watched,
                watch,
                out,
                &mut pending,
            );
            if !walked {
                return false;
            }
        }
        while let Some(link) = pending.pop() {
            let Ok(target) = std::fs::canonicalize(&link) else {
                continue;
            };
            if super::links::loops_back(&link, &target) {
                continue;
            }
            // A tree outside the project is only followed when small: a link to `/usr` would
            // cost minutes of reading and tens of thousands of watches.
            // Counted off the watcher's thread while hot runs (`defer`), so the edits of
            // others never wait for it; the link is walked once the count says it fits.
            let outside = std::fs::canonicalize(self.root).is_ok_and(|r| !target.starts_with(r));
            if outside && !self.approved.contains(&target) {
                if self.defer {
                    out.scout.push((link, target));
                    continue;
                }
                if !fits(&target, LINKED_TREE_MAX) {
                    out.too_big.push((link, target));
                    continue;
                }
            }
            out.links.push((link.clone(), target));
            if !self.walk_one(&link, None, false, true, watched, watch, out, &mut pending) {
                return false;
            }
        }
        true
    }

    /// One walk of [`Walk::subtree`]: `through` a link (following links, watching canonical
    /// paths) or not (links to directories go to `pending`).
    #[allow(clippy::too_many_arguments)]
    fn walk_one(
        &self,
        dir: &Path,
        max_depth: Option<usize>,
        skip_root: bool,
        through: bool,
        watched: &BTreeMap<PathBuf, usize>,
        watch: &mut dyn FnMut(Target<'_>) -> notify::Result<usize>,
        out: &mut Found,
        pending: &mut Vec<PathBuf>,
    ) -> bool {
        let mut walker = rules::walker(dir);
        // The walker's own filter, noting repositories on the way: the ignore rules of a
        // directory are only read again where its listing holds an ignore file or `.git`.
        let repos: Arc<Mutex<Vec<PathBuf>>> = Arc::default();
        let seen = repos.clone();
        let (ignore, root) = (self.ignore.clone(), self.root.to_path_buf());
        walker
            .max_depth(max_depth)
            .follow_links(through)
            .filter_entry(move |e| {
                let is_dir = e.file_type().is_some_and(|t| t.is_dir());
                let vcs = is_dir && rules::is_vcs_dir(e.file_name());
                if vcs && let Some(parent) = e.path().parent() {
                    lock(&seen).push(parent.to_path_buf());
                }
                // A link shows as a link here: judged as a directory too, so `dir/**` prunes a
                // link named `dir` before it is followed.
                let dir_like = is_dir || e.file_type().is_some_and(|t| t.is_symlink());
                let pruned = e.path().strip_prefix(&root).is_ok_and(|rel| {
                    !rel.as_os_str().is_empty() && ignore.is_ignored(rel, dir_like)
                });
                !vcs && !pruned
            });
        for entry in walker.build() {
            // A cycle of links, or one whose target is gone, comes as an error: skipped.
            let Ok(entry) = entry else { continue };
            let Some(mut ft) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            // Not following (`!through`): a link shows as a link. Followed: as its target.
            let mut is_link = through && entry.path_is_symlink() && entry.depth() > 0;
            if ft.is_symlink() {
                match std::fs::metadata(path) {
                    Ok(m) if m.is_dir() => {
                        pending.push(path.to_path_buf());
                        continue;
                    }
                    Ok(m) => ft = m.file_type(),
                    Err(_) => continue,
                }
                is_link = true;
            }
            if ft.is_dir() {
                if skip_root && entry.depth() == 0 {
                    continue;
                }
                if max_depth == Some(entry.depth()) {
                    out.frontier.push(path.to_path_buf());
                }
                let canonical = if through {
                    let Ok(canonical) = std::fs::canonicalize(path) else {
                        continue;
                    };
                    if is_link {
                        out.links.push((path.to_path_buf(), canonical.clone()));
                    }
                    Some(canonical)
                } else {
                    None
                };
                if watched.contains_key(path) {
                    // Also notes repository roots (`.git`), which bound `.gitignore` scope.
                    out.dirs.push((path.to_path_buf(), None));
                    continue;
                }
                let target = match &canonical {
                    Some(c) => Target::Linked(c),
                    None => Target::Dir(path),
                };
                match watch(target) {
                    Ok(k) => {
                        out.dirs.push((path.to_path_buf(), Some(k)));
                        if let Some(c) = canonical {
                            out.linked.push((path.to_path_buf(), c));
                        }
                    }
                    // Gone already: its parent's event says so.
                    Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => {}
                    // Not ours to read (a root-owned volume): left out, the walker's read of
                    // it fails too and yields nothing.
                    Err(e) if is_denied(&e) => out.unreadable.push(path.to_path_buf()),
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
            if rules::is_rules_entry(entry.file_name())
                && let Some(parent) = path.parent()
            {
                out.rule_dirs.push(parent.to_path_buf());
            }
            if rules::is_editor_temp(entry.file_name()) {
                continue;
            }
            if is_link {
                // Edits reach the target, not the link: watch the target's directory.
                if let Ok(canonical) = std::fs::canonicalize(path)
                    && let Some(parent) = canonical.parent()
                {
                    if watch(Target::Linked(parent)).is_ok() {
                        out.file_links
                            .push((path.to_path_buf(), parent.to_path_buf()));
                    }
                    out.links.push((path.to_path_buf(), canonical));
                }
            }
            if let Ok(rel) = path.strip_prefix(self.root)
                && (self.tracked)(rel)
            {
                if !ft.is_file() {
                    out.special.push(rel.to_path_buf());
                    continue;
                }
                out.files
                    .extend_from_slice(rel.as_os_str().as_encoded_bytes());
                out.files.push(0);
            }
        }
        out.rule_dirs.append(&mut lock(&repos));
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
    /// The directories in `watched` under [`LINKED`] → their canonical paths.
    linked: BTreeMap<PathBuf, PathBuf>,
    /// File links (absolute) → the canonical directory watched for each one's target.
    file_links: BTreeMap<PathBuf, PathBuf>,
    /// Published for [`super::Watcher::watched_dirs`].
    count: Arc<AtomicUsize>,
    /// Events of the native instances not handed on yet.
    #[cfg(target_os = "linux")]
    backlog: Arc<super::native::Backlog>,
}

impl Watches {
    /// The notify instances, each sending its events to `msgs`.
    pub fn new(
        poll: Option<Duration>,
        msgs: &mpsc::Sender<Msg>,
        count: Arc<AtomicUsize>,
        tuning: &Tuning,
    ) -> Result<Watches, WatchError> {
        #[cfg(target_os = "linux")]
        let backlog = Arc::<super::native::Backlog>::default();
        #[cfg(target_os = "linux")]
        let native = || native(msgs, &backlog);
        #[cfg(not(target_os = "linux"))]
        let native = || native(msgs);
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
            fallback: Mutex::new(Fallback {
                poller: None,
                msgs: msgs.clone(),
                interval: tuning.fallback_poll,
                links: None,
                poll,
                refs: std::collections::HashMap::new(),
                #[cfg(target_os = "linux")]
                backlog: backlog.clone(),
            }),
            linked: BTreeMap::new(),
            file_links: BTreeMap::new(),
            refuse: tuning.refuse_watches.clone(),
            count,
            #[cfg(target_os = "linux")]
            backlog,
        })
    }

    /// True while the native instances have events not handed on yet (see `native::Backlog`);
    /// elsewhere, false.
    pub fn backlog(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.backlog.pending();
        #[cfg(not(target_os = "linux"))]
        false
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
        for (dir, canonical) in &found.linked {
            self.linked.insert(dir.clone(), canonical.clone());
        }
        for (link, parent) in &found.file_links {
            if let Some(old) = self.file_links.insert(link.clone(), parent.clone()) {
                lock(&self.fallback).unlink(&old);
            }
        }
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

    /// A file link found outside a walk (made while hot runs): watches its target's directory.
    pub fn link_file(&mut self, link: &Path, canonical_parent: &Path) {
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

    fn unwatch(&mut self, dir: &Path, k: usize) {
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
        let mut watch = |target: Target<'_>| {
            // A polled directory tries a native watch again first.
            let k = match target {
                Target::Dir(path) => before
                    .and_then(|b| b.get(path))
                    .copied()
                    .filter(|&k| k < notify.len())
                    .unwrap_or(0),
                Target::Linked(_) => 0,
            };
            add(&mut notify[k], k, target, refuse, fallback)
        };
        let linked = &self.linked;
        let is_linked = |p: &Path| p.ancestors().any(|a| linked.contains_key(a));
        walk.subtree(
            dir,
            max_depth,
            false,
            &self.watched,
            &is_linked,
            &mut watch,
            &mut found,
        );
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
        let linked = &self.linked;
        let is_linked = |p: &Path| p.ancestors().any(|a| linked.contains_key(a));
        let is_linked = &is_linked;
        let outs: Vec<Found> = std::thread::scope(|s| {
            let threads: Vec<_> = self
                .notify
                .iter_mut()
                .enumerate()
                .map(|(k, notify)| {
                    let (queue, failed) = (&queue, &failed);
                    s.spawn(move || {
                        let mut out = Found::default();
                        let mut watch =
                            |target: Target<'_>| add(notify, k, target, refuse, fallback);
                        while !failed.load(Ordering::Relaxed) {
                            let Some(sub) = lock(queue).pop() else { break };
                            if !walk
                                .subtree(&sub, None, true, watched, is_linked, &mut watch, &mut out)
                            {
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
    pub fn take(&mut self) -> Before {
        self.polled.clear();
        Before {
            watched: std::mem::take(&mut self.watched),
            linked: std::mem::take(&mut self.linked),
            file_links: std::mem::take(&mut self.file_links),
        }
    }

    /// After a rescan: unwatches what was watched `before` and is not any more.
    pub fn drop_stale(&mut self, before: &Before) {
        for (d, k) in &before.watched {
            // Link targets are counted: the rescan counted each again, so drop the old counts.
            if *k == LINKED {
                continue;
            }
            // Watched by another instance now (a polled one got a native watch), or not at all.
            if self.watched.get(d) != Some(k) {
                self.unwatch(d, *k);
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

/// The watches before a rescan.
pub(super) struct Before {
    pub watched: BTreeMap<PathBuf, usize>,
    linked: BTreeMap<PathBuf, PathBuf>,
    file_links: BTreeMap<PathBuf, PathBuf>,
}
