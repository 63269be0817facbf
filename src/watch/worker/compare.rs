//! The comparison at a burst's close: which candidates changed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::SystemTime;

use super::Worker;
use crate::watch::files::Slot;
use crate::watch::hash::{FileState, Observed};

impl Worker {
    /// Compares candidates with their remembered content; returns those that changed. A
    /// candidate whose events were all metadata-only also changed when its modification time
    /// moved with the same content (a `touch`: the Unix way to ask for a rebuild).
    pub(super) fn changed(
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
            // The times come from the filter's `lstat` of the last event when it made one.
            if metadata_only.contains(&rel)
                && let Some(Slot::Known(FileState::Hash(_))) = known
                && let Some(now) = self.reads.times(&self.root, &rel)
            {
                self.reads.forget(&rel);
                if now.moved_since(self.reads.mtime(&rel)) {
                    out.push(rel.clone());
                    times.push(now.modified);
                }
                self.reads.remember_mtime(&rel, now.modified);
                continue;
            }
            let (now, modified) = self.reads.observe(&self.root, &rel);
            if now == Observed::File(FileState::Unreadable) {
                self.reports.unreadable_file(&self.root, &rel);
            }
            let changed = differs(known, now);
            self.reads.remember_mtime(&rel, modified);
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
}

/// Whether a file that was `known` (`None`: not in the table) and holds `now` changed.
pub(super) fn differs(known: Option<Slot>, now: Observed) -> bool {
    match (known, now) {
        (None, Observed::Absent) => false,
        (_, Observed::File(FileState::Unreadable)) => true,
        (Some(Slot::Known(old)), Observed::File(new)) => old != new,
        // Not hashed yet: it may have changed (conservative).
        (Some(Slot::Pending), _) => true,
        (None, Observed::File(_)) | (Some(_), Observed::Absent) => true,
    }
}
