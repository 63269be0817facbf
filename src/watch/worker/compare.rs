//! The comparison at a burst's close: which candidates changed.
//!
//! The close is on the path from a burst's end to its wave, so it does as little as it can:
//! files read while the burst waited for quiet were looked up in the table then (see
//! `Reads::read_one`), and what the table and the remembered times learn is written only after
//! the change set has gone ([`Worker::record`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::Worker;
use super::reads::Early;
use crate::watch::debounce::Candidate;
use crate::watch::files::Slot;
use crate::watch::hash::{FileState, Observed};

/// What a close learnt, to write down once its change set has gone.
#[derive(Default)]
pub(super) struct Learnt {
    /// Each compared file and what it holds now (`None`: it is gone).
    states: Vec<(Arc<Path>, Option<FileState>)>,
    /// Each compared file's modification time now.
    mtimes: Vec<(Arc<Path>, Option<SystemTime>)>,
}

impl Worker {
    /// Compares candidates with their remembered content; returns those that changed (with
    /// their modification times) and what the table must learn. A candidate whose events were
    /// all metadata-only also changed when its modification time moved with the same content
    /// (a `touch`: the Unix way to ask for a rebuild).
    pub(super) fn changed(
        &mut self,
        candidates: Vec<Candidate>,
    ) -> (Vec<PathBuf>, Vec<Option<SystemTime>>, Learnt) {
        let (mut out, mut times) = (Vec::new(), Vec::new());
        let mut learnt = Learnt::default();
        let shared = self.shared.clone();
        let files = shared.files();
        // What the burst's files held was looked up when they were read ahead or touched:
        // found by their number in the burst, not searched for again.
        for Candidate {
            path: rel,
            id,
            metadata_only: only_metadata,
        } in candidates
        {
            let early = self.reads.take_early(id);
            let known = match &early {
                Some(e) => e.known,
                None => self.reads.known(id).or_else(|| files.get(&rel)),
            };
            if known.is_none() && !self.tracked(&rel) {
                continue;
            }
            // No content event: the bytes are those last hashed, only the times can have
            // moved, and one stat tells (a 5,000-file `touch` is 5,000 stats, not reads).
            // The times come from the filter's `lstat` of the last event when it made one.
            if only_metadata
                && let Some(Slot::Known(FileState::Hash(_))) = known
                && let Some(now) = self.reads.times(&self.root, id, &rel)
            {
                if now.moved_since(self.reads.mtime(&rel)) {
                    out.push(rel.to_path_buf());
                    times.push(now.modified);
                }
                learnt.mtimes.push((rel, now.modified));
                continue;
            }
            let (now, modified) = match early {
                Some(Early { read, .. }) => read,
                None => self.reads.observe(&self.root, &rel),
            };
            if now == Observed::File(FileState::Unreadable) {
                self.reports.unreadable_file(&self.root, &rel);
            }
            let changed = differs(known, now);
            let state = match now {
                Observed::File(s) => Some(s),
                Observed::Absent => None,
            };
            // Unchanged and known: the table holds it already.
            if changed || known != state.map(Slot::Known) {
                learnt.states.push((rel.clone(), state));
            }
            learnt.mtimes.push((rel.clone(), modified));
            if changed {
                out.push(rel.to_path_buf());
                times.push(modified);
            }
        }
        (out, times, learnt)
    }

    /// Writes down what a close learnt: the table's states and the remembered times.
    pub(super) fn record(&mut self, learnt: Learnt) {
        let tracked = {
            let mut files = self.shared.files();
            for (rel, state) in &learnt.states {
                match state {
                    Some(s) => files.set(rel, Slot::Known(*s)),
                    None => files.remove(rel),
                }
            }
            files.len()
        };
        for (rel, modified) in learnt.mtimes {
            self.reads.remember_mtime(rel, modified, tracked);
        }
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
