//! The watcher thread: takes events, closes bursts, compares contents, sends change sets.
//!
//! With nothing pending it blocks on its channel without a timeout: no wakeups when idle.
//! While a burst waits for quiet, the files it touched are read one at a time whenever no
//! event is queued, so a burst of thousands of files closes one quiet period after its end.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc::UnboundedSender;

use super::baseline::{Baseline, Shared};
use super::config::{Ignore, Relevance, Tuning};
use super::debounce::{Batch, Debouncer, Kind};
use super::error::{WatchError, read_limit};
use super::files::{FileTable, Slot};
use super::hash::{self, FileState, Observed};
use super::links::Links;
use super::rules::IgnoreRules;
use super::vcs::{Git, Lock, RECHECK, SEQUENCER_GRACE};
use super::walk::{Found, Walk, Watches};
use super::{ChangeSet, Notice};

pub(super) enum Msg {
    Event(Instant, notify::Result<notify::Event>),
    SetRelevant {
        relevant: Relevance,
        /// The new common `ignore`, if it changed with the Hotfile.
        ignore: Option<Ignore>,
        /// When the caller asked: the ctime bound of a background baseline.
        asked: SystemTime,
        request: u64,
        done: mpsc::Sender<()>,
    },
    /// A link's tree outside the project was counted off this thread: follow it or warn.
    Scouted {
        link: PathBuf,
        target: PathBuf,
        fits: bool,
    },
    Stop,
}

pub(super) struct Worker {
    pub root: PathBuf,
    pub watches: Watches,
    /// Links in the tree, to map events under their targets back to them.
    pub links: Links,
    pub rules: IgnoreRules,
    /// Tracked files (relative) and what they held when last looked at, shared with the
    /// background hasher.
    pub shared: Arc<Shared>,
    pub baseline: Baseline,
    pub tuning: Tuning,
    pub poll: Option<Duration>,
    /// Files (tracked or not) seen by the last walk of the whole tree.
    pub walked_files: usize,
    pub relevant: Relevance,
    pub always: HashSet<PathBuf>,
    /// The Hotfile's common `ignore`: never walked, watched or read.
    pub ignore: Arc<Ignore>,
    /// Link targets outside the project counted and small enough to follow.
    pub approved: HashSet<PathBuf>,
    /// Links whose target is being counted, each on a thread of its own.
    pub scouting: HashSet<PathBuf>,
    /// This thread's own channel, for the counting threads' answers.
    pub msgs: mpsc::Sender<Msg>,
    pub debouncer: Debouncer,
    /// The repository the project is in: while git holds its index, no burst closes.
    pub git: Option<Git>,
    /// Files the open burst touched that are not read yet, and those read while the burst
    /// waited for quiet: at its close only files touched since need reading, so a burst of
    /// thousands of files still closes one quiet period after its last event.
    pub unread: Vec<PathBuf>,
    pub read_early: HashMap<PathBuf, (Observed, Option<SystemTime>)>,
    /// The times of files whose last event in the open burst was metadata-only, from the
    /// `lstat` the filter made of each event: a burst of touches is judged at its close
    /// without a `stat` per file then.
    pub times_early: HashMap<PathBuf, Times>,
    /// The modification time each file had when a change set last looked at it, so a
    /// metadata-only event counts as a change only when the time moved (see `touch_moved`).
    /// Only files events touched are here, and at most [`MTIMES_MAX`] of them.
    pub mtimes: HashMap<PathBuf, SystemTime>,
    pub tx: UnboundedSender<ChangeSet>,
    pub buf: Vec<u8>,
    /// A runtime watch failure has been reported (once is enough).
    pub warned: bool,
    /// Unreadable directories and links to big trees already told about (each once; at
    /// most [`DENIED_MAX`]).
    pub denied: HashSet<PathBuf>,
    /// The watch limit fallback has been reported (once until every directory is back).
    pub fallback_reported: bool,
    /// When to try native watches for polled directories again.
    pub retry_at: Option<Instant>,
}

impl Worker {
    pub fn tracked(&self, rel: &Path) -> bool {
        self.always.contains(rel) || (self.relevant)(rel)
    }

    /// Reads the ignore rules of every directory a walk went through, and notes its links.
    fn absorb(&mut self, found: &Found) {
        let with_rules: HashSet<&Path> = found.rule_dirs.iter().map(PathBuf::as_path).collect();
        for (dir, _) in &found.dirs {
            if with_rules.contains(dir.as_path()) {
                self.rules.add_dir(dir);
            } else {
                self.rules.no_rules(dir);
            }
        }
        for (link, target) in &found.links {
            self.links.add(link.clone(), target.clone());
        }
        for dir in &found.unreadable {
            self.unreadable(dir);
        }
        for (link, target) in &found.too_big {
            self.too_big(link, target);
        }
        for (link, target) in &found.scout {
            self.scout(link, target);
        }
    }

    /// Counts a linked tree outside the project on a thread of its own; the answer comes back
    /// as [`Msg::Scouted`]. Meanwhile the link is not followed, and every other edit runs.
    fn scout(&mut self, link: &Path, target: &Path) {
        if self.scouting.len() >= SCOUTS_MAX || !self.scouting.insert(link.to_path_buf()) {
            return;
        }
        let (msgs, link, target) = (self.msgs.clone(), link.to_path_buf(), target.to_path_buf());
        let spawned = std::thread::Builder::new()
            .name("hot-watch-count".into())
            .spawn(move || {
                let fits = super::walk::fits(&target, super::walk::LINKED_TREE_MAX);
                let _ = msgs.send(Msg::Scouted { link, target, fits });
            });
        if let Err(e) = spawned {
            self.warn(&WatchError::Thread(e));
        }
    }

    /// A count came back: a small tree is walked as a new directory is (its files are new,
    /// so an edit made while it was counted is one of them); a big one is told about.
    fn scouted(&mut self, now: Instant, link: PathBuf, target: PathBuf, fits: bool) {
        self.scouting.remove(&link);
        if fits {
            self.approved.insert(target);
            self.on_path(now, &link, Kind::Placed);
        } else {
            self.too_big(&link, &target);
        }
    }

    /// A link to a big tree outside the project, not followed: told once, with the line
    /// that silences it.
    fn too_big(&mut self, link: &Path, target: &Path) {
        if self.denied.len() >= DENIED_MAX || !self.denied.insert(link.to_path_buf()) {
            return;
        }
        let rel = link.strip_prefix(&self.root).unwrap_or(link);
        let rel = rel.to_string_lossy();
        self.notify(Notice::Warning(format!(
            "`{rel}` links to `{}`, a tree outside the project of more than {} entries: hot \
             does not watch it (edits there run nothing). Link a smaller directory to have it \
             watched; to silence this, add `ignore \"{rel}/**\"` to the Hotfile's `defaults`",
            target.display(),
            super::walk::LINKED_TREE_MAX
        )));
    }

    /// A directory hot may not read: told once, with the line that silences it.
    fn unreadable(&mut self, dir: &Path) {
        if self.denied.len() >= DENIED_MAX || !self.denied.insert(dir.to_path_buf()) {
            return;
        }
        let rel = dir.strip_prefix(&self.root).unwrap_or(dir);
        let rel = rel.to_string_lossy();
        self.notify(Notice::Warning(format!(
            "cannot read `{rel}`: permission denied; hot leaves it and everything under it \
             out (edits there run nothing). To silence this, add `ignore \"{rel}/**\"` to the \
             Hotfile's `defaults`, or make it readable"
        )));
    }

    /// A tracked file hot may not read (`rel`, relative): told once, with the line that
    /// silences it. It stays tracked: every event on it counts, as nothing proves otherwise.
    pub fn unreadable_file(&mut self, rel: &Path) {
        let abs = self.root.join(rel);
        if self.denied.len() >= DENIED_MAX || !self.denied.insert(abs) {
            return;
        }
        let rel = rel.to_string_lossy();
        self.notify(Notice::Warning(format!(
            "cannot read `{rel}`: hot cannot tell a save of the same bytes from a change \
             there, so every event on it reruns what watches it. To silence this, add \
             `ignore \"{rel}\"` to the Hotfile's `defaults`, or make it readable"
        )));
    }

    /// A walk of the whole tree that records tracked files as `Pending` in `table`; returns
    /// how many files (tracked or not) it saw. `strict`: a watch failure is an error
    /// (start-up) rather than a warning.
    pub fn walk_root(&mut self, strict: bool, table: &mut FileTable) -> Result<usize, WatchError> {
        let mut found = self.with_walk(strict, |watches, walk| watches.walk_root(walk));
        for rel in found.files() {
            table.add_pending(rel);
        }
        for rel in &found.special {
            table.set(rel, Slot::Known(FileState::Special));
        }
        self.absorb(&found);
        if let Some(e) = found.err.take() {
            return Err(e);
        }
        if let Some(w) = found.warn.take() {
            self.warn(&w);
        }
        Ok(found.seen)
    }

    /// Runs `f` on the watches with this tree's walk settings. `strict` (start-up): a watch
    /// failure is an error, and links out of the tree are walked at once rather than deferred.
    fn with_walk<R>(&mut self, strict: bool, f: impl FnOnce(&mut Watches, &Walk) -> R) -> R {
        let (always, relevant) = (&self.always, &self.relevant);
        let tracked = |rel: &Path| always.contains(rel) || relevant(rel);
        let walk = Walk {
            root: &self.root,
            tracked: &tracked,
            ignore: &self.ignore,
            strict,
            defer: !strict,
            approved: &self.approved,
        };
        f(&mut self.watches, &walk)
    }

    /// Walks `dir` (inside the root, itself not ignored) and collects the tracked files.
    pub fn walk_collect(&mut self, dir: &Path) -> Vec<PathBuf> {
        let found = self.walk_lenient(dir, None);
        let mut files: Vec<PathBuf> = found.files().map(Path::to_path_buf).collect();
        files.extend(found.special);
        files
    }

    fn walk_lenient(
        &mut self,
        dir: &Path,
        before: Option<&std::collections::BTreeMap<PathBuf, usize>>,
    ) -> Found {
        let mut found =
            self.with_walk(false, |watches, walk| watches.walk(walk, dir, before, None));
        self.absorb(&found);
        if let Some(w) = found.warn.take() {
            self.warn(&w);
        }
        found
    }

    pub fn warn(&mut self, err: &WatchError) {
        if !self.warned {
            self.warned = true;
            self.notify(Notice::Warning(format!(
                "{err}; changes there will be noticed only at the next rescan"
            )));
        }
    }

    /// After anything that adds watches: reports the poll fallback once when it begins and
    /// once when it ends, and keeps the retry timer while directories are polled.
    pub fn check_polled(&mut self, now: Instant) {
        let polled = self.watches.polled();
        if polled == 0 {
            self.retry_at = None;
            if self.fallback_reported {
                self.fallback_reported = false;
                let directories = self.watches.count();
                self.notify(Notice::WatchRestored { directories });
            }
            return;
        }
        self.retry_at
            .get_or_insert(now + self.tuning.fallback_retry);
        if !self.fallback_reported {
            self.fallback_reported = true;
            let limit = watch_limit();
            // Room for what is polled, twice over, above what is already in use.
            let need = limit.unwrap_or(0) + 2 * polled as u64;
            let suggested = need.max(524_288).next_power_of_two();
            self.notify(Notice::WatchLimit {
                polled,
                limit,
                suggested,
                every: self.tuning.fallback_poll,
            });
        }
    }

    /// The retry timer fired: polled directories that get a native watch are read again
    /// (their entries go through the event path), so an edit the poller had not seen yet is
    /// still reported.
    fn retry_watches(&mut self, now: Instant) {
        self.retry_at = None;
        for dir in self.watches.retry() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                self.on_path(now, &entry.path(), Kind::Placed);
            }
        }
        self.check_polled(now);
    }

    /// When the thread must wake up with no message: the burst's close or the next retry.
    fn wake_at(&self) -> Option<Instant> {
        match (self.debouncer.deadline(), self.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sends a notice at once, ahead of the changes of the open burst.
    pub fn notify(&mut self, notice: Notice) {
        let _ = self.tx.send(ChangeSet {
            notices: vec![notice],
            ..ChangeSet::default()
        });
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
        match self.wake_at() {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
        }
    }

    /// Re-reads rules, re-walks the tree, reconciles watches; returns every path to compare.
    fn rescan(&mut self) -> BTreeSet<PathBuf> {
        self.rules = IgnoreRules::new(&self.root);
        // Re-watching a watched directory (on the same instance) is harmless (inotify merges)
        // and restores a watch the kernel dropped, so start from empty, on this thread.
        let before = self.watches.take();
        self.links = Links::default();
        let root = self.root.clone();
        let found = self.walk_lenient(&root, Some(&before.watched));
        self.walked_files = found.seen;
        self.watches.drop_stale(&before);
        let mut candidates: BTreeSet<PathBuf> = found.files().map(Path::to_path_buf).collect();
        candidates.extend(found.special.iter().cloned());
        candidates.extend(self.shared.files().paths());
        candidates
    }

    /// Compares candidates with their remembered content; returns those that changed. A
    /// candidate whose events were all metadata-only also changed when its modification time
    /// moved with the same content (a `touch`: the Unix way to ask for a rebuild).
    fn changed(
        &mut self,
        candidates: BTreeSet<PathBuf>,
        metadata_only: &BTreeSet<PathBuf>,
    ) -> (Vec<PathBuf>, Vec<Option<SystemTime>>) {
        let (mut out, mut times) = (Vec::new(), Vec::new());
        let shared = self.shared.clone();
        let mut files = shared.files();
        for rel in candidates {
            let known = files.get(&rel);
            if known.is_none() && !self.tracked(&rel) {
                continue;
            }
            // No content event: the bytes are those last hashed, only the times can have
            // moved, and one stat tells (a 5,000-file `touch` is 5,000 stats, not reads).
            if metadata_only.contains(&rel)
                && let Some(Slot::Known(FileState::Hash(_))) = known
                && let Some(now) = self.times_early.remove(&rel).or_else(|| {
                    std::fs::metadata(self.root.join(&rel))
                        .ok()
                        .filter(std::fs::Metadata::is_file)
                        .map(|meta| Times::of(&meta))
                })
            {
                self.read_early.remove(&rel);
                if now.moved_since(self.mtimes.get(&rel)) {
                    out.push(rel.clone());
                    times.push(now.modified);
                }
                self.remember_mtime(&rel, now.modified);
                continue;
            }
            let (now, modified) = match self.read_early.remove(&rel) {
                Some(observed) => observed,
                None => hash::observe_modified(&self.root.join(&rel), &mut self.buf),
            };
            if now == Observed::File(FileState::Unreadable) {
                self.unreadable_file(&rel);
            }
            let changed = match (known, now) {
                (None, Observed::Absent) => false,
                (_, Observed::File(FileState::Unreadable)) => true,
                (Some(Slot::Known(old)), Observed::File(new)) => old != new,
                // Not hashed yet: it may have changed (conservative).
                (Some(Slot::Pending), _) => true,
                (None, Observed::File(_)) | (Some(_), Observed::Absent) => true,
            };
            self.remember_mtime(&rel, modified);
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

    fn remember_mtime(&mut self, rel: &Path, modified: Option<SystemTime>) {
        match modified {
            Some(m) => {
                if self.mtimes.len() >= MTIMES_MAX && !self.mtimes.contains_key(rel) {
                    // Forgetting only falls back to the ctime rule of `touch_moved`.
                    self.mtimes.clear();
                }
                self.mtimes.insert(rel.to_path_buf(), m);
            }
            None => {
                self.mtimes.remove(rel);
            }
        }
    }

    /// Switches relevance, then walks for newly tracked files and baselines them. `done` is
    /// answered after the baseline on small trees (the caller waits, so nothing can race the
    /// reads), and at once on big ones (the baseline then uses the ctime rule from `asked`).
    fn set_relevant(
        &mut self,
        relevant: Relevance,
        ignore: Option<Ignore>,
        asked: SystemTime,
        request: u64,
        done: mpsc::Sender<()>,
    ) {
        self.relevant = relevant;
        if let Some(ignore) = ignore {
            // Newly ignored trees keep their watches until the next rescan; the filter drops
            // their events from now on.
            self.ignore = Arc::new(ignore);
        }
        let sync = self.poll.is_some() || self.walked_files <= self.tuning.sync_hash_max;
        if !sync {
            let _ = done.send(());
        }
        // Cancel the running job first: it must not fill slots of the new request.
        self.baseline.stop();
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
        if let Err(e) = self.baseline.run(request, (!sync).then_some(asked)) {
            // Unhashed files stay `Pending`: reported on their next event, never lost.
            self.warn(&e);
        }
        let _ = done.send(());
    }

    /// Whether the open burst may close at `now`: its deadline has passed and no git
    /// operation holds it. While one does, the burst is held and the lock looked at again
    /// every [`RECHECK`]; when it ends, the burst waits one more window for the last events
    /// of the operation (or the next step of a rebase).
    fn due(&mut self, now: Instant) -> bool {
        if self.debouncer.deadline().is_none_or(|d| now < d) {
            return false;
        }
        // Events still in the kernel's queue (a reader the machine did not run yet) belong
        // to this burst: look again shortly. Not past `max_delay`: a writer that never stops
        // still gets a wave that often.
        if !self.debouncer.over_cap(now) && self.watches.backlog() {
            self.debouncer.defer(now + BACKLOG_RECHECK);
            return false;
        }
        let Some(git) = &mut self.git else {
            return true;
        };
        let (lock, warning) = match git.lock(self.debouncer.held_for(now)) {
            Ok(lock) => (lock, None),
            Err(warning) => (Lock::Free, Some(warning)),
        };
        let sequencing = lock == Lock::Free && self.debouncer.is_held() && git.sequencing();
        if let Some(warning) = warning {
            self.notify(Notice::Warning(warning));
        }
        match lock {
            Lock::Held => {
                self.debouncer.hold(now, now + RECHECK);
                false
            }
            Lock::Free if self.debouncer.is_held() => {
                let wait = if sequencing {
                    SEQUENCER_GRACE
                } else {
                    self.debouncer.window()
                };
                self.debouncer.release(now, wait);
                false
            }
            Lock::Free => true,
        }
    }

    /// Closes the pending burst into a change set if it is due. False when the receiver is
    /// gone.
    fn flush(&mut self, now: Instant) -> bool {
        if !self.due(now) {
            return true;
        }
        let Some(batch) = self.debouncer.take(now) else {
            return true;
        };
        let Batch {
            paths: mut candidates,
            metadata_only,
            rescan,
        } = batch;
        if rescan {
            let started = Instant::now();
            candidates.extend(self.rescan());
            self.debouncer.rescanned(Instant::now(), started.elapsed());
        }
        let (paths, modified) = self.changed(candidates, &metadata_only);
        self.unread.clear();
        self.read_early.clear();
        self.times_early.clear();
        if paths.is_empty() {
            return true;
        }
        self.tx
            .send(ChangeSet {
                paths,
                modified,
                rescanned: rescan,
                notices: Vec::new(),
            })
            .is_ok()
    }

    pub fn run(mut self, rx: mpsc::Receiver<Msg>) {
        loop {
            match self.next_message(&rx) {
                Ok(Msg::Event(at, ev)) => {
                    self.on_event(at, ev);
                    self.check_polled(Instant::now());
                    // A backlog never lets the channel run dry; the cap still closes the burst.
                    if self.debouncer.capped(Instant::now()) && !self.flush(Instant::now()) {
                        return;
                    }
                }
                Ok(Msg::SetRelevant {
                    relevant,
                    ignore,
                    asked,
                    request,
                    done,
                }) => {
                    self.set_relevant(relevant, ignore, asked, request, done);
                    self.check_polled(Instant::now());
                }
                Ok(Msg::Scouted { link, target, fits }) => {
                    self.scouted(Instant::now(), link, target, fits);
                    self.check_polled(Instant::now());
                }
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                // Only close a burst once queued events are drained, so one burst is one wave.
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    if self.retry_at.is_some_and(|r| r <= now) {
                        self.retry_watches(now);
                    }
                    if !self.flush(Instant::now()) {
                        return;
                    }
                    self.check_polled(Instant::now());
                }
            }
        }
    }
}

/// How soon a burst due while events are still queued for a reader is looked at again.
const BACKLOG_RECHECK: Duration = Duration::from_micros(200);

/// Linked trees counted at once, each on its own thread; a link met past this many is
/// counted when it is met again (an event on it, a rescan).
const SCOUTS_MAX: usize = 4;

/// Unreadable directories told about one by one; past this many, the rest are left out
/// silently (the first ones name the fix).
const DENIED_MAX: usize = 64;

/// Remembered modification times are dropped past this many files (a burst of thousands):
/// they only sharpen the touch rule.
const MTIMES_MAX: usize = 4096;

/// What a metadata-only change is judged by, from one `stat` (or `lstat`) of a regular file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Times {
    modified: Option<SystemTime>,
    /// The mark a `touch` leaves: the modification time equal to the change time.
    touched: bool,
}

impl Times {
    pub fn of(meta: &std::fs::Metadata) -> Times {
        #[cfg(unix)]
        let touched = {
            use std::os::unix::fs::MetadataExt;
            meta.mtime() == meta.ctime() && meta.mtime_nsec() == meta.ctime_nsec()
        };
        #[cfg(not(unix))]
        let touched = true;
        Times {
            modified: meta.modified().ok(),
            touched,
        }
    }

    /// Whether a file whose events were metadata-only had its modification time moved: against
    /// the time remembered from the last look when there is one, else by the mark a `touch`
    /// leaves (setting the times to now sets both to one instant; `chmod` moves the ctime
    /// only). So `touch` runs once, and the metadata events that follow a save (a `chmod`
    /// after the close, a `touch` split over two batches) do not run again.
    fn moved_since(&self, before: Option<&SystemTime>) -> bool {
        let Some(modified) = self.modified else {
            return false;
        };
        match before {
            Some(before) => *before != modified,
            None => self.touched,
        }
    }
}

/// The inotify watch limit that applies: the system's, or a user namespace's if lower (the
/// kernel counts watches per user namespace, up the chain).
fn watch_limit() -> Option<u64> {
    let system = read_limit("max_user_watches");
    let namespace = std::fs::read_to_string("/proc/sys/user/max_inotify_watches")
        .ok()
        .and_then(|s| s.trim().parse().ok());
    match (system, namespace) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
