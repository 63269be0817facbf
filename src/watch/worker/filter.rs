//! Event filtering: from a notify event to the relative paths that may have changed.
//!
//! Paths outside the root, under a VCS directory, ignored, editor temporaries or not tracked
//! are dropped. A directory that appears is walked and watched at once (its files become
//! candidates); one that disappears loses its watches (its known files become candidates).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use notify::EventKind;
use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind, RenameMode};

use super::Worker;
use crate::watch::Notice;
use crate::watch::debounce::{Id, Kind};
use crate::watch::files::Slot;
use crate::watch::rules;

impl Worker {
    /// An event at `now`, from a source that reports closes after writing or not (`closes`).
    pub(super) fn on_event(
        &mut self,
        now: Instant,
        closes: bool,
        ev: notify::Result<notify::Event>,
    ) {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                // A path-specific error in poll mode (a directory we may not read) would recur
                // on every poll; the rest mean events may have been lost.
                let benign = matches!(&e.kind, notify::ErrorKind::PathNotFound)
                    || matches!(&e.kind, notify::ErrorKind::Io(io) if io.kind() == io::ErrorKind::PermissionDenied || io.kind() == io::ErrorKind::NotFound);
                if !benign {
                    self.debouncer.push_rescan(now);
                }
                return;
            }
        };
        if ev.need_rescan() {
            self.debouncer.push_rescan(now);
        }
        // Access events other than a close after writing were dropped by the handler
        // (`instances::handler`), before they took the channel.
        let both = ev.kind == EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        for (i, path) in ev.paths.iter().enumerate() {
            // A rename's pair names the old path first.
            let kind = match kind_of(ev.kind) {
                Kind::Placed if both && i == 0 => Kind::Gone,
                kind => kind,
            };
            self.on_path(now, path, kind, closes);
            // The same file under the names links give it.
            if !self.links.is_empty() {
                for name in self.links.names(path) {
                    self.on_path(now, &name, kind, closes);
                }
            }
        }
    }

    /// The root itself had an event: it may be gone (renamed or deleted) or back. The watches
    /// follow the directories, wherever they went, and name them by their old paths: what
    /// hot would run on their events would run where nothing is, so nothing runs while the
    /// root is gone, and its return is a rescan (what changed while it was away).
    fn root_moved(&mut self, now: Instant) {
        let root = self.root.display();
        match (self.gone.is_some(), self.root.is_dir()) {
            (false, false) => {
                self.gone = Some(false);
                self.reports.notify(Notice::Warning(format!(
                    "the project root `{root}` is gone (moved or deleted): nothing runs until \
                     it is back; to work on the project in its new place, stop hot and start \
                     it there"
                )));
            }
            (true, true) => {
                self.gone = None;
                self.reports.notify(Notice::Note(format!(
                    "the project root `{root}` is back: hot looks at what changed meanwhile"
                )));
                self.debouncer.push_rescan(now);
            }
            _ => {}
        }
    }

    /// While the root is gone, whether it still is (a `stat` per event then only); the first
    /// edit made meanwhile is told once, since nothing runs for it.
    fn root_gone(&mut self, now: Instant) -> bool {
        if self.root.is_dir() {
            // Back without an event on the root itself.
            self.root_moved(now);
            return false;
        }
        if self.gone == Some(false) {
            self.gone = Some(true);
            self.reports.notify(Notice::Warning(format!(
                "a change in the project while its root `{}` is gone: nothing runs for it; \
                 stop hot and start it in the project's new place",
                self.root.display()
            )));
        }
        true
    }

    pub(super) fn on_path(&mut self, now: Instant, abs: &Path, kind: Kind, closes: bool) {
        let Some(rel) = relative(abs, &self.root) else {
            return;
        };
        if rel.as_os_str().is_empty() {
            self.root_moved(now);
            return;
        }
        if self.gone.is_some() && self.root_gone(now) {
            return;
        }
        // A further write to a file the open burst holds already, or a write to an editor's
        // temporary: only files have their content written, and what the checks below found
        // at the path's first event holds for the whole burst (a rule change is a rescan). A
        // burst of thousands of files is two to five events per file: most cost this only.
        if matches!(kind, Kind::Written | Kind::Closed) {
            if let Some(id) = self.debouncer.id(rel) {
                self.debouncer.push_id(now, id, kind, closes);
                self.reads.touched(id, kind);
                return;
            }
            if rel.file_name().is_some_and(rules::is_editor_temp) {
                return;
            }
        }
        // No syscall for a `touch` of a known file: its times are looked at while the burst
        // waits for quiet (or at its close), and what the table holds is kept for the close.
        if kind == Kind::Metadata
            && let Some(known) = self.known_file(abs, rel)
        {
            let id = self.touched(now, rel.to_path_buf(), kind, closes);
            self.reads.stat_later(id, known);
            return;
        }
        let rel = rel.to_path_buf();
        if rel.components().any(|c| rules::is_vcs_dir(c.as_os_str())) {
            // A repository made here while hot runs (`git clone`, `git init`, a submodule
            // added): its walk may have listed the directory before its `.git` was there.
            if matches!(kind, Kind::Created | Kind::Placed)
                && rel.file_name() == Some(std::ffi::OsStr::new(".git"))
                && let Some(top) = abs.parent()
            {
                self.repository_at(top);
            }
            return;
        }
        // One lstat for plain paths; a link is followed (to a directory: walked like one). Not
        // for a path an event says is gone: anything new at that name brings an event of its
        // own, and looking up a name a rename has just moved away waits for that rename to
        // finish (an editor's atomic save: 0.2 ms, milliseconds on a busy disk), on the path
        // from the save to its command.
        let meta = if kind == Kind::Gone { None } else { look(abs) };
        let is_link = meta.as_ref().is_some_and(|m| m.file_type().is_symlink());
        let is_dir = if is_link {
            std::fs::metadata(abs).is_ok_and(|m| m.is_dir())
        } else {
            meta.as_ref().is_some_and(|m| m.is_dir())
        };
        let was_watched = self.watches.contains(abs);
        let parent_watched = abs.parent().is_some_and(|p| self.watches.contains(p));
        let ignored = if parent_watched {
            self.rules.read().leaf_ignored(abs, is_dir || was_watched)
        } else {
            self.rules.read().is_ignored(abs, is_dir || was_watched)
        };
        let ignored = ignored
            || self
                .scope
                .ignore()
                .is_ignored(&rel, is_dir || was_watched || is_link);
        if rules::left_out(ignored, &rel, self.scope.always()) {
            return;
        }
        let name = rel.file_name().unwrap_or_default();
        if name == ".gitignore" || name == ".ignore" {
            // New rules can un-ignore (or ignore) whole trees: re-walk.
            self.debouncer.push_rescan(now);
        }
        if is_dir {
            if !was_watched {
                self.debouncer.push_dir(now);
                self.walk_new(now, abs);
            }
        } else if was_watched {
            self.forget_dir(now, abs);
        } else if is_link {
            self.link_file(abs);
        }
        if !is_dir && rules::is_editor_temp(name) {
            return;
        }
        if (!is_dir && self.tracked(&rel)) || self.shared.files().contains(&rel) {
            // What was a directory and is a file now (or the reverse) is a new file there.
            let kind = if is_dir || was_watched {
                Kind::Placed
            } else {
                kind
            };
            // A link, a FIFO or a device is made whole: no close will come.
            let closes =
                closes && (kind != Kind::Created || meta.as_ref().is_some_and(|m| m.is_file()));
            // The `lstat` above came after the event: the times a metadata-only change is
            // judged by, unless a later event replaces them.
            let id = self.touched(now, rel, kind, closes);
            if kind == Kind::Metadata
                && let Some(meta) = meta.as_ref().filter(|m| m.is_file())
            {
                self.reads.stat_early(id, meta);
            }
        }
    }

    /// Whether a metadata event on `rel` is one on a file the table knows and the rules still
    /// let in: the whole check of a `touch` (a burst of them is one such event per file). What
    /// else the path takes is settled already: it was judged when it joined the table
    /// (tracked, under a watched directory, no VCS directory, a file); a file that became a
    /// directory or a link, or the reverse, did so by a removal, creation or rename, whose
    /// event came first and took the full path. Only the rules are asked again (a rescan
    /// re-reads them, and the table may still hold a file they came to ignore). An ignore
    /// file's own events rescan, an editor's temporary is never reported: both take the full
    /// path.
    fn known_file(&self, abs: &Path, rel: &Path) -> Option<Slot> {
        let name = rel.file_name()?;
        if name == ".gitignore" || name == ".ignore" || rules::is_editor_temp(name) {
            return None;
        }
        let known = self.shared.files().get(rel)?;
        let ignored = self.rules.read().leaf_ignored(abs, false)
            || self.scope.ignore().is_ignored(rel, false);
        (!rules::left_out(ignored, rel, self.scope.always())).then_some(known)
    }

    /// A link to a file appeared (or changed): its target's directory is watched, and events
    /// there are mapped back to the link.
    fn link_file(&mut self, link: &Path) {
        let Ok(target) = std::fs::canonicalize(link) else {
            return;
        };
        if let Some(parent) = target.parent() {
            self.watches.link_file(link, parent);
        }
        self.links.remove_under(link);
        self.links.add(link.to_path_buf(), target);
    }

    /// Drops the watches of `dir` and everything under it; their known files become candidates.
    fn forget_dir(&mut self, now: Instant, dir: &Path) {
        self.abandon_subtrees(Some(dir));
        self.watches.forget(dir);
        self.links.remove_under(dir);
        if let Ok(rel) = dir.strip_prefix(&self.root) {
            let known = self.shared.files().subtree(rel);
            for k in known {
                // Through `touched`: what was read of it ahead is stale.
                self.touched(now, k, Kind::Gone, false);
            }
        }
    }

    /// A file the open burst touched (by an event from a source that reports closes or not):
    /// anything read of it before is stale. Returns its number in the burst.
    pub(super) fn touched(&mut self, now: Instant, rel: PathBuf, kind: Kind, closes: bool) -> Id {
        let id = self.debouncer.push(now, rel, kind, closes);
        self.reads.touched(id, kind);
        id
    }
}

/// `lstat` of a path an event names; in tests, the paths looked at are kept (see `looked`).
fn look(abs: &Path) -> Option<std::fs::Metadata> {
    #[cfg(test)]
    looked::record(abs);
    std::fs::symlink_metadata(abs).ok()
}

/// `abs` relative to `root`. The paths of events spell the root out (it joined with names):
/// one byte comparison then, where `Path::strip_prefix` parses both paths into components
/// (on every event of a burst).
fn relative<'a>(abs: &'a Path, root: &Path) -> Option<&'a Path> {
    let (a, r) = (
        abs.as_os_str().as_encoded_bytes(),
        root.as_os_str().as_encoded_bytes(),
    );
    if !r.ends_with(b"/")
        && let Some(rest) = a.strip_prefix(r).and_then(|rest| rest.strip_prefix(b"/"))
        && !rest.is_empty()
        && !rest.starts_with(b"/")
    {
        // SAFETY: `rest` is what follows an ASCII `/` in bytes from `as_encoded_bytes`, a
        // split `OsStr::from_encoded_bytes_unchecked` allows.
        return Some(Path::new(unsafe {
            std::ffi::OsStr::from_encoded_bytes_unchecked(rest)
        }));
    }
    abs.strip_prefix(root).ok()
}

/// What a notify event says about the write to its paths (see [`Kind`]). inotify gives
/// `IN_CLOSE_WRITE` as `Access(Close(Write))`, `IN_ATTRIB` as `Modify(Metadata)`, a rename as
/// `Name(From)`, `Name(To)` and then `Name(Both)` with both paths. Kinds other backends (the
/// poller) give, or that carry no detail, count as a write still going on: the quiet window
/// applies, as it did to every event before.
fn kind_of(kind: EventKind) -> Kind {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Kind::Closed,
        EventKind::Create(_) => Kind::Created,
        EventKind::Remove(_) => Kind::Gone,
        // The poller's only word for an edit (it checks the mtime before the bytes): a write,
        // whose bytes must be read, or the table keeps the old hash and the next look at the
        // file (a directory going back to inotify re-reads it) reports it again.
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::WriteTime)) => Kind::Written,
        EventKind::Modify(ModifyKind::Metadata(_)) => Kind::Metadata,
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) => Kind::Gone,
        EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both)) => Kind::Placed,
        _ => Kind::Written,
    }
}

/// The paths the event path has looked at (`lstat`), for tests: which events cost a look-up.
#[cfg(test)]
pub(crate) mod looked {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static LOOKED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    pub(super) fn record(abs: &Path) {
        LOOKED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(abs.to_path_buf());
    }

    /// How many times `abs` was looked at (tests run at once: each asks of its own paths).
    pub(crate) fn count(abs: &Path) -> usize {
        let looked = LOOKED.lock().unwrap_or_else(|e| e.into_inner());
        looked.iter().filter(|p| *p == abs).count()
    }
}
