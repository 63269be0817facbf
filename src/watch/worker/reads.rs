//! The reads made while a burst waits for quiet, and the modification times that tell a
//! `touch` from a `chmod`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::watch::debounce::Kind;
use crate::watch::hash::{self, Observed};

/// What a file held when read, and its modification time then.
type Read = (Observed, Option<SystemTime>);

#[derive(Default)]
pub(super) struct Reads {
    /// Files the open burst touched that are not read yet, and those read while the burst
    /// waited for quiet: at its close only files touched since need reading, so a burst of
    /// thousands of files still closes one quiet period after its last event.
    unread: Vec<PathBuf>,
    early: HashMap<PathBuf, Read>,
    /// The modification time each file had when a change set last looked at it, so a
    /// metadata-only event counts as a change only when the time moved (see `touch_moved`).
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
        self.early.remove(rel);
        // A metadata-only event needs no read (see `Worker::changed`); after a close the
        // bytes are final, the best time to read them.
        if kind != Kind::Metadata {
            self.unread.push(rel.to_path_buf());
        }
    }

    /// Reads one touched file ahead of the burst's close; false when none is left.
    pub(super) fn read_one(&mut self, root: &Path) -> bool {
        while let Some(rel) = self.unread.pop() {
            if self.early.contains_key(&rel) {
                continue;
            }
            let observed = hash::observe_modified(&root.join(&rel), &mut self.buf);
            self.early.insert(rel, observed);
            return true;
        }
        false
    }

    /// What `rel` holds: read ahead of the close, or now.
    pub(super) fn observe(&mut self, root: &Path, rel: &Path) -> Read {
        match self.early.remove(rel) {
            Some(observed) => observed,
            None => hash::observe_modified(&root.join(rel), &mut self.buf),
        }
    }

    /// `rel` needs no read after all (its content is known): drops what was read of it.
    pub(super) fn forget(&mut self, rel: &Path) {
        self.early.remove(rel);
    }

    /// The burst closed: nothing read of it is kept.
    pub(super) fn clear(&mut self) {
        self.unread.clear();
        self.early.clear();
    }

    pub(super) fn mtime(&self, rel: &Path) -> Option<&SystemTime> {
        self.mtimes.get(rel)
    }

    pub(super) fn remember_mtime(&mut self, rel: &Path, modified: Option<SystemTime>) {
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
}
