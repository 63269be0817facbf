//! Watching the project: notify events, filtered and debounced into change sets.
//!
//! # Theory of operation
//!
//! **Sources.** [`Watcher::start`] walks the root with `ignore::WalkBuilder` (honouring
//! `.gitignore`, `.ignore`, `.git/info/exclude` and the global excludes file, hidden entries
//! allowed, VCS directories never) and watches every directory it finds *non-recursively*, one
//! inotify watch per directory. Ignored trees (`target/`, `node_modules/`) get no watch at all,
//! which keeps start-up time and the kernel's watch budget small. Watching directories rather
//! than files is what makes editors that save by renaming a temporary over the original work.
//! Poll mode uses notify's `PollWatcher` with the same per-directory watches, so it never stats
//! ignored trees either.
//!
//! **Filter.** notify's callback thread drops access events (except close-after-write) and
//! forwards the rest, time-stamped, to the watcher thread. There every path is made relative
//! (events outside the root are dropped), and dropped again when it is under a VCS directory,
//! matched by the ignore rules ([`rules::IgnoreRules`]), an editor temporary, or not tracked:
//! tracked means `relevant(path)`, listed in `always`, or already known. A directory that
//! appears (created, or renamed into the tree) is walked and watched *at once*, and the files
//! already in it become candidates, so `mkdir -p a/b && echo > a/b/c.rs` loses nothing: every
//! directory is watched before it is read. A directory that disappears loses its watches and
//! its known files become candidates (they will be reported deleted).
//!
//! **Hash.** The content of every tracked file is hashed during the start-up walk (eagerly:
//! `start` returns with a complete baseline). When a burst closes, each candidate is re-read
//! and compared with its remembered hash: only real content changes are reported, so `touch`
//! and a save of identical bytes are not; a deletion is; a file that cannot be read counts as
//! changed every time (conservative).
//!
//! **Debounce.** Candidates feed a [`debounce::Debouncer`]: the quiet window opens at the first
//! event and restarts with each one; `max_delay` caps a burst that never goes quiet.
//!
//! **ChangeSet.** The changed paths, relative, sorted and deduplicated, go to the channel as one
//! [`ChangeSet`]. Empty sets are never sent.
//!
//! **Overflow.** A queue overflow (`Flag::Rescan`), any error from the event stream, and any
//! change to a `.gitignore`/`.ignore` file trigger a full rescan: re-read the ignore rules,
//! re-walk, add missing watches, drop watches of vanished or newly ignored directories, rehash,
//! and report every path whose content changed with `rescanned: true`. Rescans are rate limited
//! (at least 500 ms apart, more for trees whose rescan is slow).
//!
//! Known limits: symlinked directories are not followed; a change to `.git/info/exclude` or the
//! global excludes file is only seen at the next rescan; hard-linked files written through
//! another link are not seen. Poll mode (notify 8.2's `PollWatcher`, whose mtimes have whole-second
//! resolution) compares file contents, so each interval reads every file in watched directories.

mod debounce;
mod hash;
mod rules;
#[cfg(test)]
mod tests;

pub use debounce::{Batch, Debouncer};
pub use rules::IgnoreRules;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode};
use tokio::sync::mpsc::UnboundedSender;

use hash::{FileState, Observed};

/// Relative path (with `/` separators) → some node watches it.
pub type Relevance = Arc<dyn Fn(&Path) -> bool + Send + Sync>;

/// How to watch a project.
#[derive(Clone)]
pub struct WatchConfig {
    /// Project root (absolute; a relative one is taken from the current directory).
    pub root: PathBuf,
    /// Quiet window that closes a burst.
    pub debounce: Duration,
    /// A continuous stream of events still yields a wave at least this often.
    pub max_delay: Duration,
    /// `Some(interval)`: poll instead of using the OS notification API (NFS, WSL `/mnt`,
    /// Docker bind mounts).
    pub poll: Option<Duration>,
    /// Relative path → some node watches it. Only relevant files are hashed and reported.
    pub relevant: Relevance,
    /// Relative paths reported whenever their content changes, relevant or not (the Hotfile).
    pub always: Vec<PathBuf>,
}

impl WatchConfig {
    /// The defaults: 10 ms debounce, 2 s cap, native notifications, nothing relevant.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WatchConfig {
            root: root.into(),
            debounce: Duration::from_millis(10),
            max_delay: Duration::from_secs(2),
            poll: None,
            relevant: Arc::new(|_: &Path| false),
            always: Vec::new(),
        }
    }
}

impl std::fmt::Debug for WatchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchConfig")
            .field("root", &self.root)
            .field("debounce", &self.debounce)
            .field("max_delay", &self.max_delay)
            .field("poll", &self.poll)
            .field("always", &self.always)
            .finish_non_exhaustive()
    }
}

/// One wave: the files whose content changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeSet {
    /// Relative to the root, sorted, deduplicated.
    pub paths: Vec<PathBuf>,
    /// Events were lost and the whole tree was re-walked to compute `paths`.
    pub rescanned: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(
        "cannot watch `{}`: inotify watch limit reached (fs.inotify.max_user_watches = {}, \
         {watched} directories watched by hot so far); raise it with sysctl \
         (`sudo sysctl fs.inotify.max_user_watches=524288`) or add ignores",
        dir.display(),
        limit.map_or_else(|| "?".to_string(), |l| l.to_string())
    )]
    WatchLimit {
        dir: PathBuf,
        limit: Option<u64>,
        watched: usize,
    },
    #[error(
        "cannot start the file watcher: too many inotify instances \
         (fs.inotify.max_user_instances = {}) or open files; close other watchers, raise the \
         limit with sysctl, or use polling",
        limit.map_or_else(|| "?".to_string(), |l| l.to_string())
    )]
    InstanceLimit { limit: Option<u64> },
    #[error("cannot start the file watcher: {0}")]
    Init(#[source] notify::Error),
    #[error("cannot watch `{}`: {source}", dir.display())]
    Watch {
        dir: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("cannot watch the project root `{}`: {source}", root.display())]
    Root {
        root: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the watcher thread: {0}")]
    Thread(#[source] io::Error),
}

fn read_limit(name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/fs/inotify/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn watch_error(dir: &Path, err: notify::Error, watched: usize) -> WatchError {
    match err.kind {
        notify::ErrorKind::MaxFilesWatch => WatchError::WatchLimit {
            dir: dir.to_path_buf(),
            limit: read_limit("max_user_watches"),
            watched,
        },
        _ => WatchError::Watch {
            dir: dir.to_path_buf(),
            source: err,
        },
    }
}

enum Msg {
    Event(Instant, notify::Result<notify::Event>),
    SetRelevant(Relevance, mpsc::Sender<()>),
    Stop,
}

/// A running watcher. Dropping it stops watching; its threads end.
pub struct Watcher {
    msgs: mpsc::Sender<Msg>,
    worker: Option<JoinHandle<()>>,
    watched: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("watched_dirs", &self.watched_dirs())
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Walks, watches and hashes the tree, then returns: every watch is in place and every
    /// tracked file has its baseline hash, so no edit after `start` returns is lost.
    pub fn start(
        config: WatchConfig,
        tx: UnboundedSender<ChangeSet>,
    ) -> Result<Watcher, WatchError> {
        let root = if config.root.is_absolute() {
            config.root.clone()
        } else {
            std::env::current_dir()
                .map_err(|source| WatchError::Root {
                    root: config.root.clone(),
                    source,
                })?
                .join(&config.root)
        };
        match std::fs::metadata(&root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(WatchError::Root {
                    root,
                    source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
                });
            }
            Err(source) => return Err(WatchError::Root { root, source }),
        }

        let (msgs, rx) = mpsc::channel();
        let events = msgs.clone();
        let handler = move |ev: notify::Result<notify::Event>| {
            // Reads (ours included: hashing opens files) are noise; a close after writing is
            // the best signal that a file is complete.
            if let Ok(e) = &ev
                && let EventKind::Access(kind) = e.kind
                && kind != AccessKind::Close(AccessMode::Write)
            {
                return;
            }
            let _ = events.send(Msg::Event(Instant::now(), ev));
        };
        let notify: Box<dyn notify::Watcher + Send> = match config.poll {
            Some(interval) => Box::new(
                notify::PollWatcher::new(
                    handler,
                    // notify 8.2's poller compares whole-second mtimes only, so a second write
                    // within the same second would be missed; comparing contents closes that
                    // (at the cost of reading the files of watched directories every interval).
                    notify::Config::default()
                        .with_poll_interval(interval)
                        .with_compare_contents(true),
                )
                .map_err(WatchError::Init)?,
            ),
            None => Box::new(
                <notify::RecommendedWatcher as notify::Watcher>::new(
                    handler,
                    notify::Config::default(),
                )
                .map_err(|e| match &e.kind {
                    notify::ErrorKind::Io(io) if io.raw_os_error() == Some(EMFILE) => {
                        WatchError::InstanceLimit {
                            limit: read_limit("max_user_instances"),
                        }
                    }
                    _ => WatchError::Init(e),
                })?,
            ),
        };

        let watched = Arc::new(AtomicUsize::new(0));
        let mut state = State {
            rules: IgnoreRules::new(&root),
            root,
            notify,
            watched: BTreeSet::new(),
            watched_count: watched.clone(),
            files: BTreeMap::new(),
            relevant: config.relevant,
            always: config.always.into_iter().collect(),
            debouncer: Debouncer::new(config.debounce, config.max_delay),
            tx,
            buf: Vec::new(),
            warned: false,
        };
        let root = state.root.clone();
        let mut found = state.walk(&root, true)?;
        // `always` files are baselined even when an ignore file hid them from the walk.
        found.extend(state.always.iter().cloned());
        for rel in found {
            let obs = hash::observe(&state.root.join(&rel), &mut state.buf);
            if let Observed::File(s) = obs {
                state.files.insert(rel, s);
            }
        }

        let worker = std::thread::Builder::new()
            .name("hot-watch".into())
            .spawn(move || state.run(rx))
            .map_err(WatchError::Thread)?;
        Ok(Watcher {
            msgs,
            worker: Some(worker),
            watched,
        })
    }

    /// After a Hotfile reload. Eager and synchronous: the watcher thread re-walks the tree,
    /// hashes files that became tracked (their current content is the new baseline, so they
    /// are not reported) and forgets files no longer tracked; this returns once that is done,
    /// so no edit after it returns is lost. It blocks for about one walk of the tree (call it
    /// from `spawn_blocking` on a big tree).
    pub fn set_relevant(&self, relevant: Relevance) {
        let (done, wait) = mpsc::channel();
        if self.msgs.send(Msg::SetRelevant(relevant, done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Number of directories watched.
    pub fn watched_dirs(&self) -> usize {
        self.watched.load(Ordering::Relaxed)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.msgs.send(Msg::Stop);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(unix)]
const EMFILE: i32 = libc::EMFILE;
#[cfg(not(unix))]
const EMFILE: i32 = 24;

struct State {
    root: PathBuf,
    notify: Box<dyn notify::Watcher + Send>,
    rules: IgnoreRules,
    /// Watched directories (absolute). Ordered, so a subtree is a contiguous range.
    watched: BTreeSet<PathBuf>,
    watched_count: Arc<AtomicUsize>,
    /// Tracked files (relative) and what they held when last looked at.
    files: BTreeMap<PathBuf, FileState>,
    relevant: Relevance,
    always: HashSet<PathBuf>,
    debouncer: Debouncer,
    tx: UnboundedSender<ChangeSet>,
    buf: Vec<u8>,
    /// A runtime watch failure has been reported (once is enough).
    warned: bool,
}

/// Entries of `map` at or under `prefix` (component-wise ordering keeps them contiguous).
fn subtree<'a, V>(
    map: &'a BTreeMap<PathBuf, V>,
    prefix: &'a Path,
) -> impl Iterator<Item = &'a PathBuf> + 'a {
    map.range::<Path, _>((Bound::Included(prefix), Bound::Unbounded))
        .map(|(k, _)| k)
        .take_while(move |k| k.starts_with(prefix))
}

impl State {
    fn tracked(&self, rel: &Path) -> bool {
        self.always.contains(rel) || (self.relevant)(rel)
    }

    fn publish_count(&self) {
        self.watched_count
            .store(self.watched.len(), Ordering::Relaxed);
    }

    /// Walks `dir` (inside the root, itself not ignored), watching every directory before its
    /// entries are read, loading ignore files, and returning the tracked files found
    /// (relative). `strict`: a watch failure is an error (start-up) rather than a warning.
    fn walk(&mut self, dir: &Path, strict: bool) -> Result<Vec<PathBuf>, WatchError> {
        let mut found = Vec::new();
        // The walker reads a directory's entries only after yielding it, so watching it on
        // sight closes the gap between listing and watching.
        for entry in rules::walker(dir).build() {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            let Some(ft) = entry.file_type() else {
                continue;
            };
            if ft.is_dir() {
                // Also notes repository roots (`.git`), which bound `.gitignore` scope.
                self.rules.add_dir(path);
                if !self.watched.contains(path) {
                    match self.notify.watch(path, RecursiveMode::NonRecursive) {
                        Ok(()) => {
                            self.watched.insert(path.to_path_buf());
                        }
                        // Gone already: its parent's event says so.
                        Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => {}
                        Err(e) => {
                            let err = watch_error(path, e, self.watched.len());
                            if strict {
                                return Err(err);
                            }
                            self.warn(&err);
                        }
                    }
                }
                continue;
            }
            if rules::is_editor_temp(entry.file_name()) {
                continue;
            }
            let Ok(rel) = path.strip_prefix(&self.root) else {
                continue;
            };
            if self.tracked(rel) {
                found.push(rel.to_path_buf());
            }
        }
        self.publish_count();
        Ok(found)
    }

    fn warn(&mut self, err: &WatchError) {
        // The API has no error channel after start; stderr is the honest fallback, once.
        if !self.warned {
            self.warned = true;
            eprintln!("hot: warning: {err}; changes there will be noticed only at the next rescan");
        }
    }

    /// Drops the watches of `dir` and everything under it; their known files become candidates.
    fn forget_dir(&mut self, now: Instant, dir: &Path) {
        let gone: Vec<PathBuf> = self
            .watched
            .range::<Path, _>((Bound::Included(dir), Bound::Unbounded))
            .take_while(|p| p.starts_with(dir))
            .cloned()
            .collect();
        for d in gone {
            // notify usually dropped the kernel watch already; a "not found" is expected.
            let _ = self.notify.unwatch(&d);
            self.watched.remove(&d);
        }
        self.publish_count();
        if let Ok(rel) = dir.strip_prefix(&self.root) {
            let known: Vec<PathBuf> = subtree(&self.files, rel).cloned().collect();
            for k in known {
                self.debouncer.push(now, k);
            }
        }
    }

    fn on_event(&mut self, now: Instant, ev: notify::Result<notify::Event>) {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                // A path-specific error in poll mode (a directory we may not read) would recur
                // on every poll; the rest mean events may have been lost.
                let benign = matches!(&e.kind, notify::ErrorKind::PathNotFound)
                    || matches!(&e.kind, notify::ErrorKind::Io(io) if io.kind() == io::ErrorKind::PermissionDenied || io.kind() == io::ErrorKind::NotFound);
                if !benign {
                    self.debouncer.push_rescan(now);
                }
                return;
            }
        };
        if ev.need_rescan() {
            self.debouncer.push_rescan(now);
        }
        if let EventKind::Access(kind) = ev.kind
            && kind != AccessKind::Close(AccessMode::Write)
        {
            return;
        }
        for path in ev.paths {
            self.on_path(now, &path);
        }
    }

    fn on_path(&mut self, now: Instant, abs: &Path) {
        let Ok(rel) = abs.strip_prefix(&self.root) else {
            return;
        };
        if rel.as_os_str().is_empty() {
            if !self.root.is_dir() {
                eprintln!(
                    "hot: warning: the project root `{}` is gone",
                    self.root.display()
                );
            }
            return;
        }
        let rel = rel.to_path_buf();
        if rel.components().any(|c| rules::is_vcs_dir(c.as_os_str())) {
            return;
        }
        let meta = std::fs::symlink_metadata(abs).ok();
        let is_dir = meta.as_ref().is_some_and(|m| m.is_dir());
        let was_watched = self.watched.contains(abs);
        let parent_watched = abs.parent().is_some_and(|p| self.watched.contains(p));
        let ignored = if parent_watched {
            self.rules.leaf_ignored(abs, is_dir || was_watched)
        } else {
            self.rules.is_ignored(abs, is_dir || was_watched)
        };
        // `always` (the Hotfile) is reported even if an ignore file covers it.
        if ignored && !self.always.contains(&rel) {
            return;
        }
        let name = rel.file_name().unwrap_or_default();
        if name == ".gitignore" || name == ".ignore" {
            // New rules can un-ignore (or ignore) whole trees: re-walk.
            self.debouncer.push_rescan(now);
        }
        if is_dir {
            if !was_watched {
                match self.walk(abs, false) {
                    Ok(found) => {
                        for f in found {
                            self.debouncer.push(now, f);
                        }
                    }
                    Err(e) => self.warn(&e),
                }
            }
        } else if was_watched {
            self.forget_dir(now, abs);
        }
        if !is_dir && rules::is_editor_temp(name) {
            return;
        }
        if self.files.contains_key(&rel) || (!is_dir && self.tracked(&rel)) {
            self.debouncer.push(now, rel);
        }
    }

    /// Re-reads rules, re-walks the tree, reconciles watches; returns every path to compare.
    fn rescan(&mut self) -> BTreeSet<PathBuf> {
        self.rules = IgnoreRules::new(&self.root);
        let before: BTreeSet<PathBuf> = std::mem::take(&mut self.watched);
        let root = self.root.clone();
        // Re-watching a watched directory is harmless (inotify merges), so start from empty.
        let found = self.walk(&root, false).unwrap_or_default();
        for d in before.difference(&self.watched) {
            let _ = self.notify.unwatch(d);
        }
        self.publish_count();
        let mut candidates: BTreeSet<PathBuf> = found.into_iter().collect();
        candidates.extend(self.files.keys().cloned());
        candidates
    }

    /// Compares candidates with their remembered content; returns those that changed.
    fn changed(&mut self, candidates: BTreeSet<PathBuf>) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for rel in candidates {
            let known = self.files.get(&rel).copied();
            if known.is_none() && !self.tracked(&rel) {
                continue;
            }
            let now = hash::observe(&self.root.join(&rel), &mut self.buf);
            let changed = match (known, now) {
                (None, Observed::Absent) => false,
                (_, Observed::File(FileState::Unreadable)) => true,
                (Some(old), Observed::File(new)) => old != new,
                (None, Observed::File(_)) | (Some(_), Observed::Absent) => true,
            };
            match now {
                Observed::File(s) => {
                    self.files.insert(rel.clone(), s);
                }
                Observed::Absent => {
                    self.files.remove(&rel);
                }
            }
            if changed {
                out.push(rel);
            }
        }
        out
    }

    fn set_relevant(&mut self, relevant: Relevance) {
        self.relevant = relevant;
        let root = self.root.clone();
        let found = self.walk(&root, false).unwrap_or_default();
        let found: BTreeSet<PathBuf> = found.into_iter().collect();
        let always = &self.always;
        let relevant = &self.relevant;
        self.files
            .retain(|rel, _| always.contains(rel) || relevant(rel));
        for rel in found {
            if !self.files.contains_key(&rel)
                && let Observed::File(s) = hash::observe(&self.root.join(&rel), &mut self.buf)
            {
                self.files.insert(rel, s);
            }
        }
    }

    /// Closes the pending burst into a change set. False when the receiver is gone.
    fn flush(&mut self, now: Instant) -> bool {
        let Some(batch) = self.debouncer.take(now) else {
            return true;
        };
        let mut candidates = batch.paths;
        if batch.rescan {
            let started = Instant::now();
            candidates.extend(self.rescan());
            self.debouncer.rescanned(Instant::now(), started.elapsed());
        }
        let paths = self.changed(candidates);
        if paths.is_empty() {
            return true;
        }
        self.tx
            .send(ChangeSet {
                paths,
                rescanned: batch.rescan,
            })
            .is_ok()
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        loop {
            let msg = match self.debouncer.deadline() {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            };
            match msg {
                Ok(Msg::Event(at, ev)) => {
                    self.on_event(at, ev);
                    // A backlog never lets the channel run dry; the cap still closes the burst.
                    if self.debouncer.capped(Instant::now()) && !self.flush(Instant::now()) {
                        return;
                    }
                }
                Ok(Msg::SetRelevant(r, done)) => {
                    self.set_relevant(r);
                    let _ = done.send(());
                }
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                // Only close a burst once queued events are drained, so one burst is one wave.
                Err(RecvTimeoutError::Timeout) => {
                    if !self.flush(Instant::now()) {
                        return;
                    }
                }
            }
        }
    }
}
