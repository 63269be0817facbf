//! Watching the project: notify events, filtered and debounced into change sets.
//!
//! # Theory of operation
//!
//! **Sources.** [`Watcher::start`] walks the root with `ignore::WalkBuilder` (honouring
//! `.gitignore`, `.ignore`, `.git/info/exclude` and the global excludes file, hidden entries
//! allowed, VCS directories never) and watches every directory it finds *non-recursively*, one
//! inotify watch per directory, always before reading its entries. A full walk reads the top
//! two levels on one thread, then splits the subtrees below between two threads, each adding
//! watches through its own notify instance: notify 8 adds a watch by a synchronous round trip
//! to its event thread, and one walker waiting on one instance is ~10× slower on a 2-core VM
//! (0.5 s for 11,000 directories; the events of both instances feed the same channel). Ignored
//! trees (`target/`, `node_modules/`) get no watch at all, which keeps start-up time and the
//! kernel's watch budget small. Watching directories rather than files is what makes editors that
//! save by renaming a temporary over the original work. Poll mode uses notify's `PollWatcher` with
//! the same per-directory watches, so it never stats ignored trees either.
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
//! **Hash.** The start-up walk records every tracked file as `Pending` in a compact table
//! (`files::FileTable`: names packed per directory, state packed in a `u64`). Up to 4,096
//! tracked files are then hashed before `start` returns (an exact baseline at once, as
//! ordinary projects always had). A bigger tree is hashed by a background thread, so `start`
//! returns as soon as the watches are in place; the rules that keep every edit after `start`
//! returns are: (1) an event on a `Pending` file is reported (conservative: it may be a no-op
//! save, it is never a lost edit); (2) the hasher only fills a slot that is still `Pending`, so
//! it never overwrites what an event established nor revives a deleted file; (3) it only takes
//! a hash whose inode ctime (read after the bytes) is 3 s older than `start`, which proves the
//! bytes are the content at `start`, even when the edit's event is still in flight (see
//! `hash::baseline_since`); a fresher file stays `Pending`. [`Watcher::set_relevant`] uses
//! the same scheme on big trees, so a Hotfile reload does not block on a walk and a rehash.
//! Poll mode (network and VM mounts, whose ctimes come from another machine's clock) always
//! hashes synchronously.
//! Each candidate is read and compared with its remembered hash: only real content changes are
//! reported, so `touch` and a save of identical bytes are not; a deletion is; a file that
//! cannot be read counts as changed every time (conservative). The reading happens while the
//! burst waits for quiet (a file at a time, whenever no event is queued; a later event on the
//! file discards what was read), so when the burst closes only files touched since are read:
//! a burst of thousands of files still becomes a change set one quiet period after its end.
//!
//! **Debounce.** Candidates feed a [`debounce::Debouncer`]: the quiet window opens at the first
//! event and restarts with each one; `max_delay` caps a burst that never goes quiet. With
//! nothing pending the watcher thread blocks on its channel without a timeout: no wakeups when
//! idle.
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
mod files;
mod hash;
mod rules;
#[cfg(test)]
mod tests;

pub use debounce::{Batch, Debouncer};
pub use rules::{IgnoreRules, walker};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode};
use tokio::sync::mpsc::UnboundedSender;

use files::{FileTable, Slot};
use hash::{FileState, Observed};

/// Up to this many tracked files are hashed synchronously, before [`Watcher::start`] (or
/// [`Watcher::set_relevant`]) returns: ordinary projects get an exact baseline at once
/// (~10 µs a file, so ~40 ms at most). Bigger trees are hashed in the background.
const SYNC_HASH_MAX: usize = 4096;

/// A background baseline is only taken from a file whose ctime is this much older than the
/// request: covers coarse kernel timestamps (a jiffy; 2 s on FAT) and small clock steps.
const CTIME_MARGIN: Duration = Duration::from_secs(3);

/// Full walks read the tree down to this depth on one thread, then split the subtrees below it
/// between the native watcher instances (one thread each; see `State::walk_split`).
const SPLIT_DEPTH: usize = 2;

/// Native watcher instances, each with its own notify thread. notify 8 adds a watch by a
/// synchronous round trip to its thread; on a 2-core VM each round trip waits ~50 µs for an
/// idle CPU to wake, so 11,000 sequential watches took ~0.5 s, and two walkers with an
/// instance each took ~0.05 s (measured: benches/watch_tree.rs, bench/tree.py).
const NATIVE_INSTANCES: usize = 2;

/// Knobs the tests turn; production uses [`Tuning::default`].
#[derive(Debug, Clone, Copy)]
struct Tuning {
    sync_hash_max: usize,
    ctime_margin: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            sync_hash_max: SYNC_HASH_MAX,
            ctime_margin: CTIME_MARGIN,
        }
    }
}

/// A poisoned lock still guards consistent data here (every critical section is a few
/// assignments), so it is used as is.
fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by the watcher thread and the background hasher.
#[derive(Debug, Default)]
struct Shared {
    files: Mutex<FileTable>,
    /// Bumped (under the `files` lock) to cancel the running baseline job.
    generation: AtomicU64,
    /// Baseline requests made (start counts as one) and the last one completed.
    requested: AtomicU64,
    completed: AtomicU64,
}

impl Shared {
    fn files(&self) -> MutexGuard<'_, FileTable> {
        lock(&self.files)
    }

    /// Cancels the running job; returns the new generation.
    fn bump(&self) -> u64 {
        let _files = self.files();
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// Hashes every `Pending` file, one directory at a time, without holding the lock while
/// reading. `before`: `None` when no edit can race the read (inside `start`, or while the
/// caller waits); otherwise the ctime bound of [`hash::baseline_since`]. A result only fills a
/// slot that is still `Pending`, so it never overwrites what an event established.
fn hash_pending(
    shared: &Shared,
    root: &Path,
    generation: u64,
    request: u64,
    before: Option<SystemTime>,
) {
    let current = || shared.generation.load(Ordering::SeqCst) == generation;
    let mut buf = Vec::new();
    let mut cursor: Option<PathBuf> = None;
    loop {
        let Some((dir, names)) = shared.files().next_pending(cursor.as_deref()) else {
            break;
        };
        let mut results = Vec::with_capacity(names.len());
        for name in names {
            if !current() {
                return;
            }
            let abs = root.join(&dir).join(&name);
            let state = match before {
                None => match hash::observe(&abs, &mut buf) {
                    Observed::File(s) => Some(s),
                    Observed::Absent => None,
                },
                Some(before) => hash::baseline_since(&abs, &mut buf, before),
            };
            if let Some(state) = state {
                results.push((name, state));
            }
        }
        let mut files = shared.files();
        if !current() {
            return;
        }
        for (name, state) in results {
            files.fill_pending(&dir, &name, state);
        }
        cursor = Some(dir);
    }
    let _files = shared.files();
    if current() {
        shared.completed.fetch_max(request, Ordering::SeqCst);
    }
}

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
    /// Each path's modification time, in the order of `paths`; `None` for a deleted or
    /// unreadable file. The engine uses it to tell a task's own writes from anyone else's.
    pub modified: Vec<Option<SystemTime>>,
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
    SetRelevant {
        relevant: Relevance,
        /// When the caller asked: the ctime bound of a background baseline.
        asked: SystemTime,
        request: u64,
        done: mpsc::Sender<()>,
    },
    Stop,
}

/// A running watcher. Dropping it stops watching; its threads end.
pub struct Watcher {
    msgs: mpsc::Sender<Msg>,
    worker: Option<JoinHandle<()>>,
    watched: Arc<AtomicUsize>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("watched_dirs", &self.watched_dirs())
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Walks and watches the tree, then returns: every watch is in place, so no edit after
    /// `start` returns is lost. Every tracked file has a baseline hash by then on trees of up
    /// to 4,096 tracked files; bigger trees are hashed in the background (see
    /// [`Watcher::baseline_ready`]), and until a file is hashed any event on it is reported.
    pub fn start(
        config: WatchConfig,
        tx: UnboundedSender<ChangeSet>,
    ) -> Result<Watcher, WatchError> {
        Self::start_tuned(config, tx, Tuning::default())
    }

    fn start_tuned(
        config: WatchConfig,
        tx: UnboundedSender<ChangeSet>,
        tuning: Tuning,
    ) -> Result<Watcher, WatchError> {
        // Before the walk: a file changed after this cannot get a background baseline.
        let started = SystemTime::now();
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
        let handler = |events: mpsc::Sender<Msg>| {
            move |ev: notify::Result<notify::Event>| {
                // Reads (ours included: hashing opens files) are noise; a close after writing
                // is the best signal that a file is complete.
                if let Ok(e) = &ev
                    && let EventKind::Access(kind) = e.kind
                    && kind != AccessKind::Close(AccessMode::Write)
                {
                    return;
                }
                let _ = events.send(Msg::Event(Instant::now(), ev));
            }
        };
        let native = || {
            <notify::RecommendedWatcher as notify::Watcher>::new(
                handler(msgs.clone()),
                notify::Config::default(),
            )
        };
        let mut notify: Vec<Box<dyn notify::Watcher + Send>> = vec![match config.poll {
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
        if config.poll.is_none() {
            // Extra instances only speed up full walks: without them (instance limit), one does.
            while notify.len() < NATIVE_INSTANCES
                && let Ok(w) = native()
            {
                notify.push(Box::new(w));
            }
        }

        let watched = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared::default());
        shared.requested.store(1, Ordering::SeqCst);
        let mut state = State {
            rules: IgnoreRules::new(&root),
            root,
            notify,
            watched: BTreeMap::new(),
            watched_count: watched.clone(),
            shared: shared.clone(),
            hasher: None,
            tuning,
            poll: config.poll,
            walked_files: 0,
            relevant: config.relevant,
            always: config.always.into_iter().collect(),
            debouncer: Debouncer::new(config.debounce, config.max_delay),
            tx,
            unread: Vec::new(),
            read_early: HashMap::new(),
            buf: Vec::new(),
            warned: false,
        };
        {
            let mut files = shared.files();
            let table = &mut *files;
            state.walked_files = state.walk_root(true, table)?;
            // `always` files are baselined even when an ignore file hid them from the walk.
            for rel in &state.always {
                table.add_pending(rel);
            }
            table.shrink();
        }
        // Nothing can race a read made before `start` returns: hash small trees exactly, now.
        // Poll mode serves network and VM mounts, whose ctimes come from another machine's
        // clock: the ctime rule cannot be trusted there, so it always hashes synchronously.
        let big = state.poll.is_none() && shared.files().len() > tuning.sync_hash_max;
        state.baseline(1, big.then_some(started))?;

        let worker = std::thread::Builder::new()
            .name("hot-watch".into())
            .spawn(move || state.run(rx))
            .map_err(WatchError::Thread)?;
        Ok(Watcher {
            msgs,
            worker: Some(worker),
            watched,
            shared,
        })
    }

    /// After a Hotfile reload. Files no longer tracked are forgotten at once; files that became
    /// tracked are found by a walk and baselined (their current content is not a change). On a
    /// tree of up to 4,096 files this is done before returning, exactly as at start. On a
    /// bigger tree it returns as soon as the watcher thread takes the request, and the walk and
    /// hashing run after it, with the background rule: a newly tracked file edited after
    /// (or within seconds before) this call is reported on its next event, never lost.
    pub fn set_relevant(&self, relevant: Relevance) {
        let asked = SystemTime::now();
        let request = self.shared.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let (done, wait) = mpsc::channel();
        let msg = Msg::SetRelevant {
            relevant,
            asked,
            request,
            done,
        };
        if self.msgs.send(msg).is_ok() {
            let _ = wait.recv();
        }
    }

    /// True once every file tracked at start (or at the last [`Watcher::set_relevant`]) has been
    /// hashed or found changed. Until then, events on unhashed files are reported even when
    /// their content turns out unchanged.
    pub fn baseline_ready(&self) -> bool {
        self.shared.completed.load(Ordering::SeqCst) >= self.shared.requested.load(Ordering::SeqCst)
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
    /// One poll watcher, or [`NATIVE_INSTANCES`] native ones.
    notify: Vec<Box<dyn notify::Watcher + Send>>,
    rules: IgnoreRules,
    /// Watched directories (absolute) → the `notify` instance watching each. Ordered, so a
    /// subtree is a contiguous range.
    watched: BTreeMap<PathBuf, usize>,
    watched_count: Arc<AtomicUsize>,
    /// Tracked files (relative) and what they held when last looked at, shared with the
    /// background hasher.
    shared: Arc<Shared>,
    hasher: Option<JoinHandle<()>>,
    tuning: Tuning,
    poll: Option<Duration>,
    /// Files (tracked or not) seen by the last walk of the whole tree.
    walked_files: usize,
    relevant: Relevance,
    always: HashSet<PathBuf>,
    debouncer: Debouncer,
    /// Files the open burst touched that are not read yet, and those read while the burst
    /// waited for quiet: at its close only files touched since need reading, so a burst of
    /// thousands of files still closes one quiet period after its last event.
    unread: Vec<PathBuf>,
    read_early: HashMap<PathBuf, (Observed, Option<SystemTime>)>,
    tx: UnboundedSender<ChangeSet>,
    buf: Vec<u8>,
    /// A runtime watch failure has been reported (once is enough).
    warned: bool,
}

impl Drop for State {
    fn drop(&mut self) {
        self.stop_hasher();
    }
}

impl State {
    fn stop_hasher(&mut self) -> u64 {
        let generation = self.shared.bump();
        if let Some(h) = self.hasher.take() {
            let _ = h.join();
        }
        generation
    }

    /// Hashes every `Pending` file for baseline request `request`: here and now when `before`
    /// is `None`, else on a background thread with the ctime bound `before` (less the margin).
    fn baseline(&mut self, request: u64, before: Option<SystemTime>) -> Result<(), WatchError> {
        let generation = self.stop_hasher();
        match before {
            None => hash_pending(&self.shared, &self.root, generation, request, None),
            Some(before) => {
                let bound = before.checked_sub(self.tuning.ctime_margin);
                let (shared, root) = (self.shared.clone(), self.root.clone());
                let hasher = std::thread::Builder::new()
                    .name("hot-watch-hash".into())
                    .spawn(move || {
                        // A clock this close to the epoch proves nothing: hash nothing.
                        let bound = bound.unwrap_or(SystemTime::UNIX_EPOCH);
                        hash_pending(&shared, &root, generation, request, Some(bound));
                    })
                    .map_err(WatchError::Thread)?;
                self.hasher = Some(hasher);
            }
        }
        Ok(())
    }

    fn tracked(&self, rel: &Path) -> bool {
        self.always.contains(rel) || (self.relevant)(rel)
    }

    fn publish_count(&self) {
        self.watched_count
            .store(self.watched.len(), Ordering::Relaxed);
    }

    /// Walks `dir` (inside the root, itself not ignored), watching every directory before its
    /// entries are read, loading ignore files, and passing each tracked file found (relative)
    /// to `found`. Returns how many files (tracked or not) it saw. `strict`: a watch failure is
    /// an error (start-up) rather than a warning.
    fn walk(
        &mut self,
        dir: &Path,
        strict: bool,
        found: &mut (dyn FnMut(&Path) + Send),
    ) -> Result<usize, WatchError> {
        self.walk_seq(dir, strict, found, None, None, &mut Vec::new())
    }

    /// A walk of the whole tree that records tracked files as `Pending` in `table`.
    fn walk_root(&mut self, strict: bool, table: &mut FileTable) -> Result<usize, WatchError> {
        if self.notify.len() > 1 {
            self.walk_split(strict, table)
        } else {
            let root = self.root.clone();
            self.walk(&root, strict, &mut |rel| table.add_pending(rel))
        }
    }

    /// The walk on this thread. `before`: the instances of directories watched before a
    /// rescan, re-watched on the same instance. `max_depth`: directories at that depth are
    /// watched but not read; they go to `frontier`.
    fn walk_seq(
        &mut self,
        dir: &Path,
        strict: bool,
        found: &mut (dyn FnMut(&Path) + Send),
        before: Option<&BTreeMap<PathBuf, usize>>,
        max_depth: Option<usize>,
        frontier: &mut Vec<PathBuf>,
    ) -> Result<usize, WatchError> {
        let mut seen = 0;
        let mut walker = rules::walker(dir);
        walker.max_depth(max_depth);
        // The walker reads a directory's entries only after yielding it, so watching it on
        // sight closes the gap between listing and watching.
        for entry in walker.build() {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            let Some(ft) = entry.file_type() else {
                continue;
            };
            if ft.is_dir() {
                if max_depth == Some(entry.depth()) {
                    frontier.push(path.to_path_buf());
                }
                // Also notes repository roots (`.git`), which bound `.gitignore` scope.
                self.rules.add_dir(path);
                if !self.watched.contains_key(path) {
                    let k = before.and_then(|b| b.get(path)).copied().unwrap_or(0);
                    match self.notify[k].watch(path, RecursiveMode::NonRecursive) {
                        Ok(()) => {
                            self.watched.insert(path.to_path_buf(), k);
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
            seen += 1;
            if rules::is_editor_temp(entry.file_name()) {
                continue;
            }
            let Ok(rel) = path.strip_prefix(&self.root) else {
                continue;
            };
            if self.tracked(rel) {
                found(rel);
            }
        }
        self.publish_count();
        Ok(seen)
    }

    /// A full walk on several threads: the top of the tree (down to [`SPLIT_DEPTH`]) on this
    /// one, then its subtrees on one thread per notify instance, each watching with its own
    /// instance, each watching a directory before reading it (the walker yields a directory
    /// before reading its entries, and the subtree roots were watched by the first phase).
    /// Directories watched already are left as they are.
    fn walk_split(&mut self, strict: bool, table: &mut FileTable) -> Result<usize, WatchError> {
        #[derive(Default)]
        struct Out {
            dirs: Vec<(PathBuf, usize)>,
            // Tracked paths, NUL-separated: one growing buffer is mmap-backed once big, so it
            // goes back to the OS when freed (small allocations in the thread's malloc arena
            // would stay in RSS), and no lock is shared while walking.
            files: Vec<u8>,
            seen: usize,
            err: Option<WatchError>,
            warn: Option<WatchError>,
        }
        let root = self.root.clone();
        let mut frontier = Vec::new();
        let mut found = |rel: &Path| table.add_pending(rel);
        let mut seen = self.walk_seq(
            &root,
            strict,
            &mut found,
            None,
            Some(SPLIT_DEPTH),
            &mut frontier,
        )?;
        let queue = Mutex::new(frontier);
        let failed = AtomicBool::new(false);
        let (watched, relevant, always) = (&self.watched, &self.relevant, &self.always);
        let tracked = |rel: &Path| always.contains(rel) || relevant(rel);
        let outs: Vec<Out> = std::thread::scope(|s| {
            let threads: Vec<_> = self
                .notify
                .iter_mut()
                .enumerate()
                .map(|(k, notify)| {
                    let (queue, failed, root) = (&queue, &failed, &root);
                    let tracked = &tracked;
                    s.spawn(move || {
                        let mut out = Out::default();
                        while !failed.load(Ordering::Relaxed) {
                            let Some(sub) = lock(queue).pop() else { break };
                            for entry in rules::walker(&sub).build() {
                                let Ok(entry) = entry else { continue };
                                let Some(ft) = entry.file_type() else {
                                    continue;
                                };
                                let path = entry.path();
                                if ft.is_dir() {
                                    // The subtree root was watched by the first phase.
                                    if entry.depth() == 0 || watched.contains_key(path) {
                                        continue;
                                    }
                                    match notify.watch(path, RecursiveMode::NonRecursive) {
                                        Ok(()) => out.dirs.push((path.to_path_buf(), k)),
                                        Err(e)
                                            if matches!(
                                                e.kind,
                                                notify::ErrorKind::PathNotFound
                                            ) => {}
                                        Err(e) => {
                                            let err = watch_error(
                                                path,
                                                e,
                                                watched.len() + out.dirs.len(),
                                            );
                                            if strict {
                                                out.err = Some(err);
                                                failed.store(true, Ordering::Relaxed);
                                                break;
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
                                if let Ok(rel) = path.strip_prefix(root)
                                    && tracked(rel)
                                {
                                    out.files
                                        .extend_from_slice(rel.as_os_str().as_encoded_bytes());
                                    out.files.push(0);
                                }
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
        let mut err = None;
        for out in outs {
            seen += out.seen;
            for rel in out.files.split(|&b| b == 0).filter(|r| !r.is_empty()) {
                // SAFETY: whole paths from `as_encoded_bytes`, split at our own NULs (no
                // path holds a NUL).
                let rel = unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(rel) };
                table.add_pending(Path::new(rel));
            }
            for (dir, k) in out.dirs {
                self.rules.add_dir(&dir);
                self.watched.insert(dir, k);
            }
            if let Some(e) = out.err {
                err.get_or_insert(e);
            }
            if let Some(w) = out.warn {
                self.warn(&w);
            }
        }
        self.publish_count();
        match err {
            Some(e) => Err(e),
            None => Ok(seen),
        }
    }

    /// Walks `dir` and collects the tracked files.
    fn walk_collect(&mut self, dir: &Path) -> Result<Vec<PathBuf>, WatchError> {
        let mut out = Vec::new();
        self.walk(dir, false, &mut |rel| out.push(rel.to_path_buf()))?;
        Ok(out)
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
        let gone: Vec<(PathBuf, usize)> = self
            .watched
            .range::<Path, _>((Bound::Included(dir), Bound::Unbounded))
            .take_while(|(p, _)| p.starts_with(dir))
            .map(|(p, k)| (p.clone(), *k))
            .collect();
        for (d, k) in gone {
            // notify usually dropped the kernel watch already; a "not found" is expected.
            let _ = self.notify[k].unwatch(&d);
            self.watched.remove(&d);
        }
        self.publish_count();
        if let Ok(rel) = dir.strip_prefix(&self.root) {
            let known = self.shared.files().subtree(rel);
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
        let was_watched = self.watched.contains_key(abs);
        let parent_watched = abs.parent().is_some_and(|p| self.watched.contains_key(p));
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
                match self.walk_collect(abs) {
                    Ok(found) => {
                        for f in found {
                            self.touched(now, f);
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
        if (!is_dir && self.tracked(&rel)) || self.shared.files().contains(&rel) {
            self.touched(now, rel);
        }
    }

    /// A file the open burst touched: anything read of it before is stale.
    fn touched(&mut self, now: Instant, rel: PathBuf) {
        self.read_early.remove(&rel);
        self.unread.push(rel.clone());
        self.debouncer.push(now, rel);
    }

    /// Reads one touched file ahead of the burst's close; false when none is left.
    fn read_one_early(&mut self) -> bool {
        while let Some(rel) = self.unread.pop() {
            if self.read_early.contains_key(&rel) {
                continue;
            }
            let observed = hash::observe_modified(&self.root.join(&rel), &mut self.buf);
            self.read_early.insert(rel, observed);
            return true;
        }
        false
    }

    /// The next message. While a burst waits for quiet and nothing is queued, the touched
    /// files are read meanwhile; an event that arrives drops what was read of its file.
    fn next_message(&mut self, rx: &mpsc::Receiver<Msg>) -> Result<Msg, RecvTimeoutError> {
        while self
            .debouncer
            .deadline()
            .is_some_and(|d| d > Instant::now())
        {
            match rx.try_recv() {
                Ok(msg) => return Ok(msg),
                Err(mpsc::TryRecvError::Disconnected) => {
                    return Err(RecvTimeoutError::Disconnected);
                }
                Err(mpsc::TryRecvError::Empty) => {
                    if !self.read_one_early() {
                        break;
                    }
                }
            }
        }
        match self.debouncer.deadline() {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
        }
    }

    /// Re-reads rules, re-walks the tree, reconciles watches; returns every path to compare.
    fn rescan(&mut self) -> BTreeSet<PathBuf> {
        self.rules = IgnoreRules::new(&self.root);
        let before = std::mem::take(&mut self.watched);
        let root = self.root.clone();
        // Re-watching a watched directory (on the same instance) is harmless (inotify merges)
        // and restores a watch the kernel dropped, so start from empty, on this thread.
        let mut candidates = BTreeSet::new();
        let mut found = |rel: &Path| {
            candidates.insert(rel.to_path_buf());
        };
        let walked = self.walk_seq(
            &root,
            false,
            &mut found,
            Some(&before),
            None,
            &mut Vec::new(),
        );
        if let Ok(n) = walked {
            self.walked_files = n;
        }
        for (d, k) in &before {
            if !self.watched.contains_key(d) {
                let _ = self.notify[*k].unwatch(d);
            }
        }
        self.publish_count();
        candidates.extend(self.shared.files().paths());
        candidates
    }

    /// Compares candidates with their remembered content; returns those that changed.
    fn changed(
        &mut self,
        candidates: BTreeSet<PathBuf>,
    ) -> (Vec<PathBuf>, Vec<Option<SystemTime>>) {
        let (mut out, mut times) = (Vec::new(), Vec::new());
        let shared = self.shared.clone();
        let mut files = shared.files();
        for rel in candidates {
            let known = files.get(&rel);
            if known.is_none() && !self.tracked(&rel) {
                continue;
            }
            let (now, modified) = match self.read_early.remove(&rel) {
                Some(observed) => observed,
                None => hash::observe_modified(&self.root.join(&rel), &mut self.buf),
            };
            let changed = match (known, now) {
                (None, Observed::Absent) => false,
                (_, Observed::File(FileState::Unreadable)) => true,
                (Some(Slot::Known(old)), Observed::File(new)) => old != new,
                // Not hashed yet: it may have changed (conservative).
                (Some(Slot::Pending), _) => true,
                (None, Observed::File(_)) | (Some(_), Observed::Absent) => true,
            };
            match now {
                Observed::File(s) => files.set(&rel, Slot::Known(s)),
                Observed::Absent => files.remove(&rel),
            }
            if changed {
                out.push(rel);
                times.push(modified);
            }
        }
        (out, times)
    }

    /// Switches relevance, then walks for newly tracked files and baselines them. `done` is
    /// answered after the baseline on small trees (the caller waits, so nothing can race the
    /// reads), and at once on big ones (the baseline then uses the ctime rule from `asked`).
    fn set_relevant(
        &mut self,
        relevant: Relevance,
        asked: SystemTime,
        request: u64,
        done: mpsc::Sender<()>,
    ) {
        self.relevant = relevant;
        let sync = self.poll.is_some() || self.walked_files <= self.tuning.sync_hash_max;
        if !sync {
            let _ = done.send(());
        }
        // Cancel the running job first: it must not fill slots of the new request.
        self.stop_hasher();
        let shared = self.shared.clone();
        {
            let mut files = shared.files();
            let table = &mut *files;
            let (always, relevant) = (&self.always, &self.relevant);
            table.retain(|rel| always.contains(rel) || relevant(rel));
            if let Ok(n) = self.walk_root(false, table) {
                self.walked_files = n;
            }
        }
        if let Err(e) = self.baseline(request, (!sync).then_some(asked)) {
            // Unhashed files stay `Pending`: reported on their next event, never lost.
            self.warn(&e);
        }
        let _ = done.send(());
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
        let (paths, modified) = self.changed(candidates);
        self.unread.clear();
        self.read_early.clear();
        if paths.is_empty() {
            return true;
        }
        self.tx
            .send(ChangeSet {
                paths,
                modified,
                rescanned: batch.rescan,
            })
            .is_ok()
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        loop {
            match self.next_message(&rx) {
                Ok(Msg::Event(at, ev)) => {
                    self.on_event(at, ev);
                    // A backlog never lets the channel run dry; the cap still closes the burst.
                    if self.debouncer.capped(Instant::now()) && !self.flush(Instant::now()) {
                        return;
                    }
                }
                Ok(Msg::SetRelevant {
                    relevant,
                    asked,
                    request,
                    done,
                }) => self.set_relevant(relevant, asked, request, done),
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
