//! The reads made while a burst waits for quiet, and the modification times that tell a
//! `touch` from a `chmod`.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::watch::debounce::{Debouncer, Id, Kind};
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

/// The times of a file whose last event was metadata-only, and what the table held for it
/// at that event when the filter looked it up (see [`Early`] for why that holds until the
/// close).
#[derive(Clone, Copy)]
struct Touched {
    times: Option<Times>,
    known: Option<Slot>,
}

/// What is kept of the open burst's files is indexed by their number in the burst
/// ([`Id`]): an event or the close finds it without hashing a path.
#[derive(Default)]
pub(super) struct Reads {
    /// Files the open burst touched that are not read yet, and those read while the burst
    /// waited for quiet: at its close only files touched since need reading, so a burst of
    /// thousands of files still closes one quiet period after its last event.
    unread: Vec<Id>,
    early: Vec<Option<Early>>,
    /// Files whose last event was metadata-only and whose times are not looked at yet: they
    /// are while the burst waits for quiet, one `lstat` each, off the event path.
    unstat: Vec<Id>,
    /// Files whose last event in the open burst was metadata-only: their times (from the
    /// `lstat` the filter made of that event, or one made while the burst waited), so a burst
    /// of touches is judged at its close without a `stat` or a table look-up per file.
    touched: Vec<Option<Touched>>,
    /// The modification time each file had when a change set last looked at it, so a
    /// metadata-only event counts as a change only when the time moved (see [`Times::moved_since`]).
    /// Only files events touched are here, at most as many as the table holds (or [`MTIMES_MIN`]).
    mtimes: foldhash::HashMap<Arc<Path>, SystemTime>,
    buf: Vec<u8>,
}

/// Remembered modification times are kept for at least this many files, and for as many as
/// the table tracks: a burst over every file of a tree keeps them all (a map smaller than the
/// burst was emptied and refilled at every close).
const MTIMES_MIN: usize = 4096;

/// `v[id]`, made room for.
fn at<T>(v: &mut Vec<Option<T>>, id: Id) -> &mut Option<T> {
    if v.len() <= id {
        v.resize_with(id + 1, || None);
    }
    &mut v[id]
}

impl Reads {
    /// A file the open burst touched: anything read of it before is stale.
    pub(super) fn touched(&mut self, id: Id, kind: Kind) {
        if let Some(e) = self.early.get_mut(id) {
            *e = None;
        }
        // A metadata-only event needs no read (see `Worker::changed`); after a close the
        // bytes are final, the best time to read them.
        if kind != Kind::Metadata {
            self.unread.push(id);
            if let Some(t) = self.touched.get_mut(id) {
                *t = None;
            }
        }
    }

    /// Reads one touched file of `burst` ahead of its close, and looks up what `files` holds
    /// for it; false when none is left.
    pub(super) fn read_one(&mut self, root: &Path, files: &FileTable, burst: &Debouncer) -> bool {
        while let Some(id) = self.unread.pop() {
            if self.early.get(id).is_some_and(Option::is_some) {
                continue;
            }
            let rel = burst.path(id);
            let read = hash::observe_modified(&root.join(rel), &mut self.buf);
            let known = files.get(rel);
            *at(&mut self.early, id) = Some(Early { read, known });
            return true;
        }
        false
    }

    /// Looks at the times of one file of `burst` whose last event was metadata-only; false
    /// when none is left.
    pub(super) fn stat_one(&mut self, root: &Path, burst: &Debouncer) -> bool {
        let Some(id) = self.unstat.pop() else {
            return false;
        };
        if let Some(Some(t)) = self.touched.get_mut(id)
            && t.times.is_none()
            && let Ok(meta) = std::fs::symlink_metadata(root.join(burst.path(id)))
            && meta.is_file()
        {
            t.times = Some(Times::of(&meta));
        }
        true
    }

    /// A metadata-only event on `id`, a file the table holds as `known`, with no `lstat` made:
    /// its times are looked at after it (what was seen before it is stale).
    pub(super) fn stat_later(&mut self, id: Id, known: Slot) {
        *at(&mut self.touched, id) = Some(Touched {
            times: None,
            known: Some(known),
        });
        self.unstat.push(id);
    }

    /// A metadata-only event on the regular file `id`, and what an `lstat` made after it saw.
    pub(super) fn stat_early(&mut self, id: Id, meta: &std::fs::Metadata) {
        *at(&mut self.touched, id) = Some(Touched {
            times: Some(Times::of(meta)),
            known: None,
        });
    }

    /// What was read of `id` ahead of the close, if anything (taken).
    pub(super) fn take_early(&mut self, id: Id) -> Option<Early> {
        self.early.get_mut(id)?.take()
    }

    /// What the table held for `id` at its last (metadata-only) event, if the filter looked
    /// it up and found it.
    pub(super) fn known(&self, id: Id) -> Option<Slot> {
        self.touched.get(id)?.as_ref()?.known
    }

    /// What `rel` holds now.
    pub(super) fn observe(&mut self, root: &Path, rel: &Path) -> Read {
        hash::observe_modified(&root.join(rel), &mut self.buf)
    }

    /// What is tracked changed: what was read ahead is read again at the close, against the
    /// table as it is then, and the table is asked again for touched files.
    pub(super) fn drop_early(&mut self) {
        for (id, e) in self.early.iter_mut().enumerate() {
            if e.take().is_some() {
                self.unread.push(id);
            }
        }
        for t in self.touched.iter_mut().flatten() {
            t.known = None;
        }
    }

    /// The times of the regular file `rel` (numbered `id` in the burst): seen after its last
    /// metadata event, or now; `None` when it is not a regular file (any more).
    pub(super) fn times(&mut self, root: &Path, id: Id, rel: &Path) -> Option<Times> {
        let seen = self
            .touched
            .get_mut(id)
            .and_then(|t| t.as_mut()?.times.take());
        seen.or_else(|| {
            std::fs::metadata(root.join(rel))
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|meta| Times::of(&meta))
        })
    }

    /// The burst closed: nothing read of it is kept (nor, past a big burst, its room).
    pub(super) fn clear(&mut self) {
        fn empty<T>(v: &mut Vec<T>) {
            if v.capacity() > KEEP {
                *v = Vec::new();
            } else {
                v.clear();
            }
        }
        empty(&mut self.unread);
        empty(&mut self.unstat);
        empty(&mut self.early);
        empty(&mut self.touched);
    }

    pub(super) fn mtime(&self, rel: &Path) -> Option<&SystemTime> {
        if self.mtimes.is_empty() {
            return None;
        }
        self.mtimes.get(rel)
    }

    /// Remembers `rel`'s modification time, for at most `tracked` files (the table's size) or
    /// [`MTIMES_MIN`].
    pub(super) fn remember_mtime(
        &mut self,
        rel: Arc<Path>,
        modified: Option<SystemTime>,
        tracked: usize,
    ) {
        match modified {
            Some(m) => {
                if self.mtimes.len() >= tracked.max(MTIMES_MIN) && !self.mtimes.contains_key(&rel) {
                    // Forgetting only falls back to the ctime rule of `Times::moved_since`.
                    self.mtimes.clear();
                }
                self.mtimes.insert(rel, m);
            }
            None => {
                self.mtimes.remove(&rel);
            }
        }
    }
}

/// Past this many entries a closed burst's room is given back.
const KEEP: usize = 8192;

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
