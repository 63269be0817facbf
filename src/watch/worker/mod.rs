//! The watcher thread: takes events, closes bursts, compares contents, sends change sets.
//!
//! With nothing pending it blocks on its channel without a timeout: no wakeups when idle.
//! While a burst waits for quiet, the files it touched are read one at a time whenever no
//! event is queued, so a burst of thousands of files closes one quiet period after its end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc::UnboundedSender;

use crate::watch::baseline::{Baseline, Shared, release_free_memory};
use crate::watch::config::{Ignore, Relevance, Tuning};
use crate::watch::debounce::{Batch, Debouncer, Kind};
use crate::watch::error::WatchError;
use crate::watch::files::{FileTable, Slot};
use crate::watch::hash::FileState;
use crate::watch::idle::Idle;
use crate::watch::links::Links;
use crate::watch::msg::Msg;
use crate::watch::rules::SharedRules;
use crate::watch::vcs::{Git, Lock, RECHECK};
use crate::watch::walk::{Found, Walk};
use crate::watch::watches::Watches;
use crate::watch::{ChangeSet, Notice, WatchConfig};

mod compare;
mod filter;
mod reads;
mod reports;
mod rescan;
mod scope;
mod scouts;
mod subtrees;

#[cfg(test)]
pub(super) use filter::looked;
use reads::Reads;
use reports::Reports;
use scope::Scope;
use scouts::Scouts;
use subtrees::Subtrees;

/// The watcher thread's state. Each concern beside the tree itself lives in a room of its own:
/// `scope` (what is tracked), `scouts` (links out of the project being counted), `reads` (the
/// reads of an open burst), `reports` (what is told); `filter` and `compare` hold the
/// event path and the comparison.
pub(super) struct Worker {
    root: PathBuf,
    watches: Watches,
    /// Links in the tree, to map events under their targets back to them.
    links: Links,
    rules: SharedRules,
    /// Tracked files (relative) and what they held when last looked at, shared with the
    /// background hasher.
    shared: Arc<Shared>,
    baseline: Baseline,
    tuning: Tuning,
    poll: Option<Duration>,
    /// Files (tracked or not) seen by the last walk of the whole tree.
    walked_files: usize,
    scope: Scope,
    scouts: Scouts,
    debouncer: Debouncer,
    /// The repository the project is in: while git holds its index, no burst closes.
    git: Option<Git>,
    /// The repositories inside the project (submodules, nested clones), found by the walks:
    /// a checkout in one holds a burst as one in the project's own does.
    nested: Vec<Git>,
    reads: Reads,
    /// Big directories that appeared while hot runs, walked and read in slices.
    subtrees: Subtrees,
    reports: Reports,
    /// When to try native watches for polled directories again.
    retry_at: Option<Instant>,
    /// Whether anything else is at work: a lone save closes before its settle when not.
    idle: Idle,
    /// Set by the caller of the start-up walk when hot stops meanwhile: the walks end at once.
    cancel: Arc<AtomicBool>,
    /// The open burst reached `max_delay` and was cut (see `Watches::cut`): how many marks
    /// are still to come before it may close.
    cut: Option<usize>,
    /// The root is gone (renamed or deleted), and whether an edit came since (see
    /// `Worker::root_gone`).
    gone: Option<bool>,
}

impl Worker {
    /// The thread's state before its first walk (see [`Worker::begin`]).
    pub(super) fn new(
        config: WatchConfig,
        root: PathBuf,
        watches: Watches,
        shared: Arc<Shared>,
        tuning: Tuning,
        tx: UnboundedSender<ChangeSet>,
        msgs: mpsc::Sender<Msg>,
    ) -> Worker {
        Worker {
            rules: SharedRules::new(&root),
            baseline: Baseline::new(
                shared.clone(),
                root.clone(),
                tuning.ctime_margin,
                tuning.index_min,
            ),
            git: Git::find(
                &root,
                (tuning.vcs_hold_max, tuning.vcs_stall, tuning.vcs_run_max),
                Instant::now(),
            ),
            nested: Vec::new(),
            root,
            watches,
            links: Links::default(),
            shared,
            tuning,
            poll: config.poll,
            retry_at: None,
            idle: Idle::default(),
            walked_files: 0,
            scope: Scope::new(config.relevant, config.always, config.ignore),
            scouts: Scouts::new(msgs),
            debouncer: Debouncer::new(config.debounce, config.max_delay),
            reads: Reads::default(),
            subtrees: Subtrees::default(),
            reports: Reports::new(tx),
            cancel: Arc::default(),
            cut: None,
            gone: None,
        }
    }

    /// The start-up walk and baseline. `started`: before the walk (a file changed after it
    /// cannot get a background baseline). `cancel`: set, it calls the walk off.
    pub(super) fn begin(
        &mut self,
        started: SystemTime,
        cancel: Arc<AtomicBool>,
    ) -> Result<(), WatchError> {
        self.cancel = cancel;
        let shared = self.shared.clone();
        {
            let mut files = shared.files();
            let table = &mut *files;
            self.walked_files = self.walk_root(true, table, &[])?;
            if self.cancel.load(Ordering::Relaxed) {
                return Err(WatchError::Cancelled);
            }
            if self.poll.is_none()
                && let Some(kind) = super::fstype::remote(&self.root)
            {
                let warning = super::fstype::warning(&self.root, kind);
                self.reports.notify(Notice::Warning(warning));
            }
            // `always` files are baselined even when an ignore file hid them from the walk.
            table.add_pending(self.scope.always().iter().map(PathBuf::as_path));
        }
        // Nothing can race a read made before `start` returns: hash small trees exactly, now.
        // Poll mode serves network and VM mounts, whose ctimes come from another machine's
        // clock: the ctime rule cannot be trusted there, so it always hashes synchronously.
        let big = self.poll.is_none() && shared.files().len() > self.tuning.sync_hash_max;
        self.baseline.run(1, big.then_some(started))?;
        if !big {
            // Hashed here and now: what could not be read is told before "watching".
            let unreadable: Vec<PathBuf> = {
                let files = shared.files();
                files
                    .paths()
                    .filter(|p| files.get(p) == Some(Slot::Known(FileState::Unreadable)))
                    .collect()
            };
            for rel in unreadable {
                self.reports.unreadable_file(&self.root, &rel);
            }
        }
        release_free_memory();
        self.check_polled(Instant::now());
        Ok(())
    }

    /// Notes the repository whose work tree is `top` (see `nested`), once.
    fn repository_at(&mut self, top: &Path) {
        let tuning = (
            self.tuning.vcs_hold_max,
            self.tuning.vcs_stall,
            self.tuning.vcs_run_max,
        );
        if let Some(git) = Git::find(top, tuning, Instant::now()) {
            let known = self.git.iter().chain(&self.nested).any(|g| g.same(&git));
            if !known {
                self.nested.push(git);
            }
        }
    }

    fn tracked(&self, rel: &Path) -> bool {
        self.scope.tracked(rel)
    }

    /// Notes a walk's links and tells what it left out (the walk read the ignore rules of
    /// every directory it went through itself).
    fn absorb(&mut self, found: &Found) {
        for (link, target) in &found.links {
            self.links.add(link.clone(), target.clone());
        }
        for dir in &found.unreadable {
            self.reports.unreadable(&self.root, dir);
        }
        for dir in &found.too_long {
            self.reports.too_long(&self.root, dir);
        }
        for top in &found.repos {
            self.repository_at(top);
        }
        for (link, target) in &found.too_big {
            self.reports.too_big(&self.root, link, target);
        }
        for (link, target) in &found.scout {
            if let Err(e) = self.scouts.scout(link, target) {
                self.reports.warn(&e);
            }
        }
    }

    /// A count came back: a small tree is walked as a new directory is (its files are new,
    /// so an edit made while it was counted is one of them); a big one is told about.
    fn scouted(&mut self, now: Instant, link: PathBuf, target: PathBuf, fits: bool) {
        self.scouts.scouted(&link, &target, fits);
        if fits {
            self.on_path(now, &link, Kind::Placed, false);
        } else {
            self.reports.too_big(&self.root, &link, &target);
        }
    }

    /// A walk of the whole tree that records tracked files as `Pending` in `table`, but for
    /// those under `theirs` (relative: trees walked in slices, whose files are new); returns
    /// how many files (tracked or not) it saw. `strict`: a watch failure is an error
    /// (start-up) rather than a warning.
    pub(super) fn walk_root(
        &mut self,
        strict: bool,
        table: &mut FileTable,
        theirs: &[PathBuf],
    ) -> Result<usize, WatchError> {
        let mut found = self.with_walk(strict, |watches, walk| watches.walk_root(walk));
        table.add_pending(
            found
                .files()
                .filter(|rel| !theirs.iter().any(|t| rel.starts_with(t))),
        );
        for rel in &found.special {
            table.set(rel, Slot::Known(FileState::Special));
        }
        self.absorb(&found);
        if let Some(e) = found.err.take() {
            return Err(e);
        }
        if let Some(w) = found.warn.take() {
            self.reports.warn(&w);
        }
        Ok(found.seen)
    }

    /// Runs `f` on the watches with this tree's walk settings. `strict` (start-up): a watch
    /// failure is an error, and links out of the tree are walked at once rather than deferred.
    fn with_walk<R>(&mut self, strict: bool, f: impl FnOnce(&mut Watches, &Walk) -> R) -> R {
        let scope = &self.scope;
        let tracked = |rel: &Path| scope.tracked(rel);
        let walk = Walk {
            root: &self.root,
            tracked: &tracked,
            ignore: scope.ignore(),
            rules: &self.rules,
            cancel: &self.cancel,
            strict,
            defer: !strict,
            approved: self.scouts.approved(),
        };
        f(&mut self.watches, &walk)
    }

    /// After anything that adds watches: reports the poll fallback once when it begins and
    /// once when it ends, and keeps the retry timer while directories are polled.
    fn check_polled(&mut self, now: Instant) {
        let polled = self.watches.polled();
        if polled == 0 {
            self.retry_at = None;
        } else {
            self.retry_at
                .get_or_insert(now + self.tuning.fallback_retry);
        }
        let every = self.tuning.fallback_poll;
        self.reports.polled(polled, self.watches.count(), every);
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
                self.on_path(now, &entry.path(), Kind::Placed, false);
            }
        }
        self.check_polled(now);
    }

    /// When the thread must wake up with no message: the burst's close, its next look whether
    /// anything else is at work, or the next retry.
    fn wake_at(&self) -> Option<Instant> {
        // A cut's marks wake the thread themselves.
        let close = self.debouncer.deadline().filter(|_| !self.cutting());
        [close, self.debouncer.peek_at(), self.retry_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next message. Waits are filled with work, a piece at a time, a queued message
    /// always first: while a burst waits for quiet, the reads of the files it touched (an
    /// event that arrives drops what was read of its file) and the times of those it only
    /// touched the metadata of; then the slices of big new directories.
    fn next_message(&mut self, rx: &mpsc::Receiver<Msg>) -> Result<Msg, RecvTimeoutError> {
        loop {
            let now = Instant::now();
            if self.wake_at().is_some_and(|d| d <= now) {
                break;
            }
            let reading = self.debouncer.deadline().is_some();
            if !reading && self.subtrees.is_empty() {
                break;
            }
            match rx.try_recv() {
                Ok(msg) => return Ok(msg),
                Err(mpsc::TryRecvError::Disconnected) => {
                    return Err(RecvTimeoutError::Disconnected);
                }
                Err(mpsc::TryRecvError::Empty) => {}
            }
            if reading
                && (self
                    .reads
                    .read_one(&self.root, &self.shared.files(), &self.debouncer)
                    || self.reads.stat_one(&self.root, &self.debouncer))
            {
                continue;
            }
            if self.subtrees.is_empty() {
                break;
            }
            self.subtree_slice();
        }
        match self.wake_at() {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
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
        // Newly ignored trees keep their watches until the next rescan; the filter drops
        // their events from now on.
        self.scope.set(relevant, ignore);
        // Walks under way go on in slices, from their start, with the new scope.
        let theirs = self.restart_subtrees();
        // What was read ahead was compared with the table as it was: read it again.
        self.reads.drop_early();
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
            let scope = &self.scope;
            table.retain(|rel| scope.tracked(rel));
            // A rescan under way walks the whole tree: the files it finds newly tracked are
            // in its wave (events were lost: what they hold is not known to be old).
            if !theirs.iter().any(|r| r.as_os_str().is_empty())
                && let Ok(n) = self.walk_root(false, table, &theirs)
            {
                self.walked_files = n;
            }
        }
        if let Err(e) = self.baseline.run(request, (!sync).then_some(asked)) {
            // Unhashed files stay `Pending`: reported on their next event, never lost.
            self.reports.warn(&e);
        }
        let _ = done.send(());
    }

    /// Whether the open burst may close at `now`: its deadline has passed and no git
    /// operation holds it. While one does (the index lock, or a sequence such as a rebase
    /// between two steps), the burst is held and git looked at again every [`RECHECK`]; when
    /// it ends, or stops for the user, the burst waits one more window for its last events.
    fn due(&mut self, now: Instant) -> bool {
        if self.debouncer.peek_at().is_some_and(|p| p <= now) {
            // A lone save closes at once when no writer is between two files (see `idle`).
            let idle = !self.watches.backlog() && self.idle.quiet();
            self.debouncer.peeked(now, idle);
        }
        if self.debouncer.deadline().is_none_or(|d| now < d) || self.cutting() {
            return false;
        }
        // Events still in the kernel's queue (a reader the machine did not run yet) belong
        // to this burst: look again shortly. Past `max_delay` (a writer that never stops
        // still gets a wave that often) the burst is cut instead, below.
        let capped = self.debouncer.over_cap(now);
        if !capped && self.watches.backlog() {
            self.debouncer.defer(now + BACKLOG_RECHECK);
            return false;
        }
        self.nested.retain(Git::still_there);
        if self.git.is_some() || !self.nested.is_empty() {
            // Each looks (its progress is measured at every look); any one busy holds.
            let quiet_for = self.debouncer.held_quiet_for(now);
            let mut lock = Lock::Free;
            for git in self.git.iter_mut().chain(&mut self.nested) {
                let (this, warning) = git.look(now, quiet_for);
                if let Some(warning) = warning {
                    self.reports.notify(Notice::Warning(warning));
                }
                if lock == Lock::Free {
                    lock = this;
                }
            }
            let held = self.debouncer.is_held();
            match lock {
                Lock::Held | Lock::Sequence => self.debouncer.hold(now, now + RECHECK),
                Lock::Free if held => {
                    let window = self.debouncer.window();
                    self.debouncer.release(now, window);
                }
                Lock::Free => {}
            }
            if lock != Lock::Free || held {
                self.cut = None;
                return false;
            }
        }
        // The cap closes what happened until it, never less: what the kernel holds now (its
        // reader starved by the machine's load) is the burst's too, however late it is read.
        if capped && self.cut.is_none() {
            self.cut = Some(self.watches.cut());
            return false;
        }
        self.cut = None;
        true
    }

    /// Whether the open burst waits for the marks of its cut.
    fn cutting(&self) -> bool {
        self.cut.is_some_and(|owed| owed > 0)
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
        let Batch { paths, rescan } = batch;
        if rescan {
            // Its own wave, once walked and read in slices; this one's paths go now.
            self.start_rescan();
        }
        let (paths, modified, learnt) = self.changed(paths);
        // The wave starts first; the table learns the new states while it does.
        let sent = paths.is_empty()
            || self.reports.send(ChangeSet {
                paths,
                modified,
                rescanned: false,
                notices: Vec::new(),
            });
        self.record(learnt);
        self.reads.clear();
        sent
    }

    pub(super) fn run(mut self, rx: mpsc::Receiver<Msg>) {
        loop {
            match self.next_message(&rx) {
                Ok(Msg::Event { at, closes, ev }) => {
                    self.on_event(at, closes, ev);
                    self.check_polled(Instant::now());
                    // A backlog never lets the channel run dry; the cap still closes the burst.
                    // By the event's own time, not by when this thread took it: a burst taken
                    // late (a loaded machine, a reload) lasted no longer for that.
                    if self.debouncer.capped(at) && !self.flush(Instant::now()) {
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
                Ok(Msg::Cut) => {
                    if let Some(owed) = &mut self.cut {
                        *owed = owed.saturating_sub(1);
                    }
                    if !self.flush(Instant::now()) {
                        return;
                    }
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
