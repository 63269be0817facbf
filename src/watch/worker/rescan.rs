//! A rescan (events were lost: an inotify queue overflow, a watcher error, a changed ignore
//! file): the rules read again and the whole tree walked and read again, a slice at a time
//! as a big new directory is (`subtrees`), so an edit elsewhere meanwhile makes its own wave
//! and a stop is read within one slice. Its changes are one wave, `rescanned`, once all is
//! read; the known files it did not find are gone (a change) or covered by a new ignore rule
//! (dropped from the table: an edit to one is no change, as the filter says).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Worker;
use super::compare::differs;
use super::subtrees::Changed;
use crate::watch::files::Slot;
use crate::watch::hash::{self, Observed};
use crate::watch::rules::{self, IgnoreRules};
use crate::watch::walk::Names;
use crate::watch::watches::Before;

/// What a rescan under way keeps beside its walk and reads (see `subtrees::Subtree`).
pub(super) struct Rescanning {
    /// The watches before it: each directory is watched again by the instance it had, and
    /// those not found again are unwatched at the end.
    pub(super) before: Before,
    pub(super) started: Instant,
    /// Files (tracked or not) its walk saw so far.
    pub(super) seen: usize,
}

impl Worker {
    /// Starts a rescan, walked and read in slices. One under way walks again from its start
    /// with the rules read again (finishing it first would hold up every edit and a stop
    /// until all was read), keeping its watches from before and what it found changed.
    pub(super) fn start_rescan(&mut self) {
        let under_way = self.take_rescan();
        // The re-walk covers the big new directories under way.
        self.abandon_subtrees(None);
        *self.rules.write() = IgnoreRules::new(&self.root);
        let (rescan, changed) = match under_way {
            Some((rescan, changed)) => (Rescanning { seen: 0, ..rescan }, changed),
            None => {
                // Re-watching a watched directory (on the same instance) is harmless (inotify
                // merges) and restores a watch the kernel dropped, so start from empty, on
                // this thread.
                let before = self.watches.take();
                self.links = Default::default();
                let rescan = Rescanning {
                    before,
                    started: Instant::now(),
                    seen: 0,
                };
                (rescan, Vec::new())
            }
        };
        let root = self.root.clone();
        self.queue_subtree(&root, Some(rescan), changed);
    }

    /// The rescan's walk and reads are done: the known files it did not find are gone or
    /// newly ignored; the stale watches go; `changed` gets what those add.
    pub(super) fn end_rescan(&mut self, rescan: Rescanning, names: &Names, changed: &mut Changed) {
        self.watches.drop_stale(&rescan.before);
        self.check_polled(Instant::now());
        let mut found: HashSet<&Path> = HashSet::new();
        let mut at = 0;
        while let Some((rel, next)) = names.at(at) {
            found.insert(rel);
            at = next;
        }
        self.walked_files = rescan.seen;
        let rules = self.rules.read();
        let shared = self.shared.clone();
        let mut files = shared.files();
        // What the open burst holds, its wave reports.
        let missed: Vec<PathBuf> = files
            .paths()
            .filter(|p| !found.contains(p.as_path()) && !self.debouncer.holds(p))
            .collect();
        let left_out = |rel: &Path| {
            let ignored = rules.is_ignored(&self.root.join(rel), false)
                || self.scope.ignore().is_ignored(rel, false);
            rules::left_out(ignored, rel, self.scope.always())
        };
        // What a walk of it before new rules found changed (see `start_rescan`).
        changed.retain(|(rel, _)| !left_out(rel));
        let mut buf = Vec::new();
        for rel in missed {
            if left_out(&rel) {
                files.remove(&rel);
                continue;
            }
            let (now, modified) = hash::observe_modified(&self.root.join(&rel), &mut buf);
            if differs(files.get(&rel), now) {
                changed.push((rel.clone(), modified));
            }
            match now {
                Observed::File(s) => files.set(&rel, Slot::Known(s)),
                Observed::Absent => files.remove(&rel),
            }
        }
        drop(files);
        drop(rules);
        self.debouncer
            .rescanned(Instant::now(), rescan.started.elapsed());
    }
}
