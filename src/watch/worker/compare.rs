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
            if metadata_only.contains(&rel)
                && let Some(Slot::Known(FileState::Hash(_))) = known
                && let Ok(meta) = std::fs::metadata(self.root.join(&rel))
                && meta.is_file()
            {
                self.reads.forget(&rel);
                let modified = meta.modified().ok();
                if touch_moved(&meta, self.reads.mtime(&rel), modified) {
                    out.push(rel.clone());
                    times.push(modified);
                }
                self.reads.remember_mtime(&rel, modified);
                continue;
            }
            let (now, modified) = self.reads.observe(&self.root, &rel);
            if now == Observed::File(FileState::Unreadable) {
                self.reports.unreadable_file(&self.root, &rel);
            }
            let changed = match (known, now) {
                (None, Observed::Absent) => false,
                (_, Observed::File(FileState::Unreadable)) => true,
                (Some(Slot::Known(old)), Observed::File(new)) => old != new,
                // Not hashed yet: it may have changed (conservative).
                (Some(Slot::Pending), _) => true,
                (None, Observed::File(_)) | (Some(_), Observed::Absent) => true,
            };
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

/// Whether a file whose events were metadata-only had its modification time moved: against
/// the time remembered from the last look when there is one, else by the mark a `touch`
/// leaves, an mtime equal to the ctime (setting the times to now sets both to one instant;
/// `chmod` moves the ctime only). So `touch` runs once, and the metadata events that follow a
/// save (a `chmod` after the close, a `touch` split over two batches) do not run again.
fn touch_moved(
    meta: &std::fs::Metadata,
    before: Option<&SystemTime>,
    modified: Option<SystemTime>,
) -> bool {
    let Some(modified) = modified else {
        return false;
    };
    if let Some(before) = before {
        return *before != modified;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.mtime() == meta.ctime() && meta.mtime_nsec() == meta.ctime_nsec()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        true
    }
}
