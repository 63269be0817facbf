//! Directories that appear while hot runs (moved or copied in, linked, cloned). A small one is
//! walked in its event's turn and its files join the open burst; a big one is walked and read a
//! slice at a time whenever no message is queued, so an edit elsewhere meanwhile makes its wave
//! as usual, and the new tree's files make one wave of their own once all are read.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use super::Worker;
use super::compare::differs;
use super::rescan::Rescanning;
use crate::watch::ChangeSet;
use crate::watch::baseline::release_free_memory;
use crate::watch::debounce::Kind;
use crate::watch::files::Slot;
use crate::watch::hash::{self, FileState, Observed};
use crate::watch::walk::{Found, Names, Step, Walking};

/// Entries of a new directory walked in its event's turn (~1-3 ms): a tree this small joins
/// the open burst, as the files of `mkdir -p a/b && echo > a/b/c` must, and a directory
/// copied in file by file (`cp -r`, `git clone`) is many such small ones.
const AT_ONCE: usize = 1024;

/// Entries walked per slice of a bigger one (~0.1-0.3 ms), and files read: between slices
/// every queued message is taken first.
const WALK_SLICE: usize = 64;
const READ_SLICE: usize = 16;

/// Files a walk found changed (new, mostly), with their modification times: its wave.
pub(super) type Changed = Vec<(PathBuf, Option<SystemTime>)>;

/// One big new directory, walked, then read, in slices.
struct Subtree {
    /// Where it appeared (absolute).
    root: PathBuf,
    /// The walk, until it is done.
    walking: Option<Walking>,
    /// The tracked entries it found (relative), read once the walk is done.
    names: Names,
    /// Where in `names` the reads stand.
    cursor: usize,
    /// What the reads found changed (new, mostly), with their modification times: the wave
    /// sent when all are read. Their new contents are in the table already.
    changed: Changed,
    /// This is the walk of the whole tree that a rescan makes (see `rescan`).
    rescan: Option<Rescanning>,
}

/// The big new directories, oldest first: one is walked and read at a time.
#[derive(Default)]
pub(super) struct Subtrees {
    queue: VecDeque<Subtree>,
    buf: Vec<u8>,
}

impl Subtrees {
    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

impl Worker {
    /// A directory appeared at `abs` (not watched yet): walked at once when small (its files
    /// join the open burst), else queued for slices.
    pub(super) fn walk_new(&mut self, now: Instant, abs: &Path) {
        if self.subtrees.queue.iter().any(|s| s.root == abs) {
            return;
        }
        let mut walking = self.with_walk(false, |watches, walk| watches.walking(walk, abs, None));
        let (found, step) = self.walk_step(&mut walking, AT_ONCE);
        if step != Step::More {
            let files: Vec<PathBuf> = found.files().map(Path::to_path_buf).collect();
            for f in files.into_iter().chain(found.special) {
                self.touched(now, f, Kind::Placed, false);
            }
            return;
        }
        let mut names = Names::default();
        names.take(found);
        self.subtrees.queue.push_back(Subtree {
            root: abs.to_path_buf(),
            walking: Some(walking),
            names,
            cursor: 0,
            changed: Vec::new(),
            rescan: None,
        });
    }

    /// Queues the walk of `abs` as a whole, for slices from its first entry on. `changed`:
    /// what an earlier walk of it found changed and did not report yet.
    pub(super) fn queue_subtree(
        &mut self,
        abs: &Path,
        rescan: Option<Rescanning>,
        changed: Changed,
    ) {
        let walking = self.with_walk(false, |watches, walk| watches.walking(walk, abs, None));
        self.subtrees.queue.push_back(Subtree {
            root: abs.to_path_buf(),
            walking: Some(walking),
            names: Names::default(),
            cursor: 0,
            changed,
            rescan,
        });
    }

    /// Takes the rescan under way out of the queue, with what it found changed so far.
    pub(super) fn take_rescan(&mut self) -> Option<(Rescanning, Changed)> {
        if !self.rescanning() {
            return None;
        }
        let sub = self.subtrees.queue.pop_front()?;
        Some((sub.rescan?, sub.changed))
    }

    /// True while a rescan is walked or read (it is the oldest: see `start_rescan`).
    pub(super) fn rescanning(&self) -> bool {
        self.subtrees
            .queue
            .front()
            .is_some_and(|s| s.rescan.is_some())
    }

    fn walk_step(&mut self, walking: &mut Walking, budget: usize) -> (Found, Step) {
        self.walk_step_before(walking, None, budget)
    }

    fn walk_step_before(
        &mut self,
        walking: &mut Walking,
        before: Option<&Rescanning>,
        budget: usize,
    ) -> (Found, Step) {
        let before = before.map(|r| &r.before.watched);
        let (mut found, step) = self.with_walk(false, |watches, walk| {
            watches.resume(walk, walking, before, budget)
        });
        self.absorb(&found);
        if let Some(w) = found.warn.take() {
            self.reports.warn(&w);
        }
        self.check_polled(Instant::now());
        (found, step)
    }

    /// One slice of the oldest big new directory: a piece of its walk, or of its reads; its
    /// wave once all are read.
    pub(super) fn subtree_slice(&mut self) {
        let Some(mut sub) = self.subtrees.queue.pop_front() else {
            return;
        };
        if let Some(walking) = &mut sub.walking {
            let (found, step) = self.walk_step_before(walking, sub.rescan.as_ref(), WALK_SLICE);
            if let Some(rescan) = &mut sub.rescan {
                rescan.seen += found.seen;
            }
            sub.names.take(found);
            if step != Step::More {
                sub.walking = None;
            }
        } else if self.read_slice(&mut sub) {
            self.subtree_done(sub);
            return;
        }
        self.subtrees.queue.push_front(sub);
    }

    /// Reads the next files of `sub` and records what they hold, as a burst's close does;
    /// true when all are read.
    fn read_slice(&mut self, sub: &mut Subtree) -> bool {
        let mut read = Vec::with_capacity(READ_SLICE);
        while read.len() < READ_SLICE {
            let Some((rel, next)) = sub.names.at(sub.cursor) else {
                break;
            };
            sub.cursor = next;
            // The open burst holds it: its wave reports it, compared with what the table held.
            if self.debouncer.holds(rel) {
                continue;
            }
            let observed = hash::observe_modified(&self.root.join(rel), &mut self.subtrees.buf);
            read.push((rel.to_path_buf(), observed));
        }
        let shared = self.shared.clone();
        let mut files = shared.files();
        for (rel, (now, modified)) in read {
            let known = files.get(&rel);
            // A Hotfile reload in between made it untracked.
            if known.is_none() && !self.tracked(&rel) {
                continue;
            }
            if now == Observed::File(FileState::Unreadable) {
                self.reports.unreadable_file(&self.root, &rel);
            }
            // An event on it may have been compared already (its wave reported it): then
            // only what changed since counts.
            let changed = differs(known, now);
            match now {
                Observed::File(s) => files.set(&rel, Slot::Known(s)),
                Observed::Absent => files.remove(&rel),
            }
            if changed {
                sub.changed.push((rel, modified));
            }
        }
        sub.names.at(sub.cursor).is_none()
    }

    /// All of `sub` is read: its changes are one wave.
    fn subtree_done(&mut self, sub: Subtree) {
        let mut changed = sub.changed;
        let rescanned = sub.rescan.is_some();
        if let Some(rescan) = sub.rescan {
            self.end_rescan(rescan, &sub.names, &mut changed);
        }
        changed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        changed.dedup_by(|a, b| a.0 == b.0);
        drop(sub.names);
        if !changed.is_empty() {
            let (paths, modified) = changed.into_iter().unzip();
            self.reports.send(ChangeSet {
                paths,
                modified,
                rescanned,
                notices: Vec::new(),
            });
        }
        release_free_memory();
    }

    /// Calls off the big new directories at or under `dir` (all of them: `None`), gone or
    /// about to be walked again by a rescan. What they read and did not report yet leaves
    /// the table: a rescan then finds it new, and a deleted tree does not report it gone.
    pub(super) fn abandon_subtrees(&mut self, dir: Option<&Path>) {
        if self.subtrees.queue.is_empty() {
            return;
        }
        let (gone, kept): (VecDeque<Subtree>, VecDeque<Subtree>) = self
            .subtrees
            .queue
            .drain(..)
            .partition(|s| dir.is_none_or(|d| s.root.starts_with(d)));
        self.subtrees.queue = kept;
        let mut files = self.shared.files();
        for sub in gone {
            for (rel, _) in sub.changed {
                files.remove(&rel);
            }
        }
    }

    /// A Hotfile reload changed what is tracked: the big new directories and the rescan under
    /// way walk again from their start with the new scope, in slices as before (finishing
    /// them here would hold up every edit and a stop until all were read). What they found
    /// changed so far stays theirs to report, less what is no longer tracked; the rescan keeps
    /// its watches from before. Returns their roots (relative): the reload's walk leaves the
    /// files under them to them, as it would take them for old ones.
    pub(super) fn restart_subtrees(&mut self) -> Vec<PathBuf> {
        let queue = std::mem::take(&mut self.subtrees.queue);
        let mut roots = Vec::with_capacity(queue.len());
        for sub in queue {
            let mut changed = sub.changed;
            changed.retain(|(rel, _)| self.tracked(rel));
            let rescan = sub.rescan.map(|r| Rescanning { seen: 0, ..r });
            self.queue_subtree(&sub.root, rescan, changed);
            let rel = sub.root.strip_prefix(&self.root).unwrap_or(Path::new(""));
            roots.push(rel.to_path_buf());
        }
        roots
    }
}
