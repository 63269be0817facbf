//! The reads made while a burst waits for quiet, and the modification times that tell a
//! `touch` from a `chmod`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::watch::debounce::Kind;
use crate::watch::files::{FileTable, Slot};
use crate::watch::hash::{self, Observed};

/// What a file held when read, and its modification time then.
pub(super) type Read = (Observed, Option<SystemTime>);

/// A file read ahead of the close, and what the table held for it then: the close compares
/// the two without a look-up of its own (the table changes only at a close, or when what is
/// tracked changes, which drops these; a background hash can only turn `Pending` into a hash,
/// and `Pending` counts as changed either way).
pub(super) struct Early {
    pub(super) read: Read,
    pub(super) known: Option<Slot>,
}

#[derive(Default)]
pub(super) struct Reads {
    /// Files the open burst touched that are not read yet, and those read while the burst
    /// waited for quiet: at its close only files touched since need reading, so a burst of
    /// thousands of files still closes one quiet period after its last event.
    unread: Vec<PathBuf>,
    early: HashMap<PathBuf, Early>,
    /// Files whose last event was metadata-only and whose times are not looked at yet: they
    /// are while the burst waits for quiet, one `lstat` each, off the event path.
    unstat: Vec<PathBuf>,
    /// The times of files whose last event in the open burst was metadata-only, from the
    /// `lstat` the filter made of that event: a burst of touches is judged at its close
    /// without a `stat` per file then.
    times: HashMap<PathBuf, Times>,
    /// The modification time each file had when a change set last looked at it, so a
    /// metadata-only event counts as a change only when the time moved (see [`Times::moved_since`]).
    /// Only files events touched are here, and at most [`MTIMES_MAX`] of them.
    mtimes: HashMap<PathBuf, SystemTime>,
    buf: Vec<u8>,
}

/// Remembered modification times are dropped past this many files (a burst of thousands):
/// they only sharpen the touch rule.
const MTIMES_MAX: usize = 4096;

impl Reads {
    /// A file the open burst touched: anything read of it before is stale.
    pub(super) fn touched(&mut self, rel: &Path, kind: Kind) {
        if !self.early.is_empty() {
            self.early.remove(rel);
        }
        // A metadata-only event needs no read (see `Worker::changed`); after a close the
        // bytes are final, the best time to read them.
        if kind != Kind::Metadata {
            self.unread.push(rel.to_path_buf());
        }
    }

    /// Reads one touched file ahead of the burst's close, and looks up what `files` holds for
    /// it; false when none is left.
    pub(super) fn read_one(&mut self, root: &Path, files: &FileTable) -> bool {
        while let Some(rel) = self.unread.pop() {
            if self.early.contains_key(&rel) {
                continue;
            }
            let read = hash::observe_modified(&root.join(&rel), &mut self.buf);
            let known = files.get(&rel);
            self.early.insert(rel, Early { read, known });
            return true;
        }
        false
    }

    /// Looks at the times of one file whose last event was metadata-only; false when none is
    /// left.
    pub(super) fn stat_one(&mut self, root: &Path) -> bool {
        let Some(rel) = self.unstat.pop() else {
            return false;
        };
        if let Ok(meta) = std::fs::symlink_metadata(root.join(&rel))
            && meta.is_file()
        {
            self.times.insert(rel, Times::of(&meta));
        }
        true
    }

    /// A metadata-only event on `rel`, with no `lstat` made: its times are looked at after it
    /// (what was seen before it is stale).
    pub(super) fn stat_later(&mut self, rel: &Path) {
        if !self.times.is_empty() {
            self.times.remove(rel);
        }
        self.unstat.push(rel.to_path_buf());
    }

    /// What was read of `rel` ahead of the close, if anything (taken).
    pub(super) fn take_early(&mut self, rel: &Path) -> Option<Early> {
        if self.early.is_empty() {
            return None;
        }
        self.early.remove(rel)
    }

    /// What `rel` holds now.
    pub(super) fn observe(&mut self, root: &Path, rel: &Path) -> Read {
        hash::observe_modified(&root.join(rel), &mut self.buf)
    }

    /// What is tracked changed: what was read ahead is read again at the close, against the
    /// table as it is then.
    pub(super) fn drop_early(&mut self) {
        self.unread.extend(self.early.drain().map(|(rel, _)| rel));
    }

    /// A metadata-only event on the regular file `rel`, and what an `lstat` made after it saw.
    pub(super) fn stat_early(&mut self, rel: &Path, meta: &std::fs::Metadata) {
        self.times.insert(rel.to_path_buf(), Times::of(meta));
    }

    /// The times of the regular file `rel`: seen after its last metadata event, or now;
    /// `None` when it is not a regular file (any more).
    pub(super) fn times(&mut self, root: &Path, rel: &Path) -> Option<Times> {
        let seen = if self.times.is_empty() {
            None
        } else {
            self.times.remove(rel)
        };
        seen.or_else(|| {
            std::fs::metadata(root.join(rel))
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|meta| Times::of(&meta))
        })
    }

    /// The burst closed: nothing read of it is kept.
    pub(super) fn clear(&mut self) {
        self.unread.clear();
        self.unstat.clear();
        self.early.clear();
        self.times.clear();
    }

    pub(super) fn mtime(&self, rel: &Path) -> Option<&SystemTime> {
        self.mtimes.get(rel)
    }

    pub(super) fn remember_mtime(&mut self, rel: &Path, modified: Option<SystemTime>) {
        match modified {
            Some(m) => {
                if self.mtimes.len() >= MTIMES_MAX && !self.mtimes.contains_key(rel) {
                    // Forgetting only falls back to the ctime rule of `Times::moved_since`.
                    self.mtimes.clear();
                }
                self.mtimes.insert(rel.to_path_buf(), m);
            }
            None => {
                self.mtimes.remove(rel);
            }
        }
    }
}

/// What a metadata-only change is judged by, from one `stat` (or `lstat`) of a regular file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Times {
    pub modified: Option<SystemTime>,
    /// The mark a `touch` leaves: the modification time equal to the change time.
    touched: bool,
}

impl Times {
    fn of(meta: &std::fs::Metadata) -> Times {
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
    pub(super) fn moved_since(&self, before: Option<&SystemTime>) -> bool {
        let Some(modified) = self.modified else {
            return false;
        };
        match before {
            Some(before) => *before != modified,
            None => self.touched,
        }
    }
}
