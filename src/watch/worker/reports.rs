//! What the watcher thread tells: change sets and notices, each warning once.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use crate::watch::error::{WatchError, read_limit};
use crate::watch::walk::LINKED_TREE_MAX;
use crate::watch::{ChangeSet, Notice};

pub(super) struct Reports {
    tx: UnboundedSender<ChangeSet>,
    /// A runtime watch failure has been reported (once is enough).
    warned: bool,
    /// Unreadable directories and links to big trees already told about (each once; at
    /// most [`DENIED_MAX`]).
    denied: HashSet<PathBuf>,
    /// The watch limit fallback has been reported (once until every directory is back).
    fallback_reported: bool,
}

/// Unreadable directories told about one by one; past this many, the rest are left out
/// silently (the first ones name the fix).
const DENIED_MAX: usize = 64;

impl Reports {
    pub(super) fn new(tx: UnboundedSender<ChangeSet>) -> Reports {
        Reports {
            tx,
            warned: false,
            denied: HashSet::new(),
            fallback_reported: false,
        }
    }

    /// Sends a change set; false when the receiver is gone.
    pub(super) fn send(&self, set: ChangeSet) -> bool {
        self.tx.send(set).is_ok()
    }

    /// Sends a notice at once, ahead of the changes of the open burst.
    pub(super) fn notify(&self, notice: Notice) {
        let _ = self.tx.send(ChangeSet {
            notices: vec![notice],
            ..ChangeSet::default()
        });
    }

    pub(super) fn warn(&mut self, err: &WatchError) {
        if !self.warned {
            self.warned = true;
            self.notify(Notice::Warning(format!(
                "{err}; changes there will be noticed only at the next rescan"
            )));
        }
    }

    /// A link to a big tree outside the project, not followed: told once, with the line
    /// that silences it.
    pub(super) fn too_big(&mut self, root: &Path, link: &Path, target: &Path) {
        if self.denied.len() >= DENIED_MAX || !self.denied.insert(link.to_path_buf()) {
            return;
        }
        let rel = link.strip_prefix(root).unwrap_or(link);
        let rel = rel.to_string_lossy();
        self.notify(Notice::Warning(format!(
            "`{rel}` links to `{}`, a tree outside the project of more than {} entries: hot \
             does not watch it (edits there run nothing). Link a smaller directory to have it \
             watched; to silence this, add `ignore \"{rel}/**\"` to the Hotfile's `defaults`",
            target.display(),
            LINKED_TREE_MAX
        )));
    }

    /// A directory hot may not read: told once, with the line that silences it.
    pub(super) fn unreadable(&mut self, root: &Path, dir: &Path) {
        self.left_out(root, dir, |rel| {
            format!(
                "cannot read `{rel}`: permission denied; hot leaves it and everything under it \
                 out (edits there run nothing). To silence this, add `ignore \"{rel}/**\"` to \
                 the Hotfile's `defaults`, or make it readable"
            )
        });
    }

    /// A directory whose path is too long to watch: told once, with the line that silences it.
    pub(super) fn too_long(&mut self, root: &Path, dir: &Path) {
        let bytes = dir.as_os_str().len();
        self.left_out(root, dir, |rel| {
            format!(
                "cannot watch `{rel}`: its path is longer than the system allows ({bytes} \
                 bytes); hot leaves it and everything under it out (edits there run nothing). \
                 To silence this, add `ignore \"{rel}/**\"` to the Hotfile's `defaults`, or \
                 shorten the path"
            )
        });
    }

    /// A directory left out with its subtree, told once (at most [`DENIED_MAX`] of them) in
    /// the words `say` makes of its path relative to `root`.
    fn left_out(&mut self, root: &Path, dir: &Path, say: impl FnOnce(&str) -> String) {
        if self.denied.len() >= DENIED_MAX || !self.denied.insert(dir.to_path_buf()) {
            return;
        }
        let rel = dir.strip_prefix(root).unwrap_or(dir);
        self.notify(Notice::Warning(say(&rel.to_string_lossy())));
    }

    /// A tracked file hot may not read (`rel`, relative): told once, with the line that
    /// silences it. It stays tracked: every event on it counts, as nothing proves otherwise.
    pub(super) fn unreadable_file(&mut self, root: &Path, rel: &Path) {
        let abs = root.join(rel);
        if self.denied.len() >= DENIED_MAX || !self.denied.insert(abs) {
            return;
        }
        let rel = rel.to_string_lossy();
        self.notify(Notice::Warning(format!(
            "cannot read `{rel}`: hot cannot tell a save of the same bytes from a change \
             there, so every event on it reruns what watches it. To silence this, add \
             `ignore \"{rel}\"` to the Hotfile's `defaults`, or make it readable"
        )));
    }

    /// Reports the poll fallback once when it begins (`polled` directories, polled `every`)
    /// and once when it ends (`directories` watched then).
    pub(super) fn polled(&mut self, polled: usize, directories: usize, every: Duration) {
        if polled == 0 {
            if self.fallback_reported {
                self.fallback_reported = false;
                self.notify(Notice::WatchRestored { directories });
            }
            return;
        }
        if !self.fallback_reported {
            self.fallback_reported = true;
            let limit = watch_limit();
            // Room for what is polled, twice over, above what is already in use.
            let need = limit.unwrap_or(0) + 2 * polled as u64;
            let suggested = need.max(524_288).next_power_of_two();
            self.notify(Notice::WatchLimit {
                polled,
                limit,
                suggested,
                every,
            });
        }
    }
}

/// The inotify watch limit that applies: the system's, or a user namespace's if lower (the
/// kernel counts watches per user namespace, up the chain).
fn watch_limit() -> Option<u64> {
    let system = read_limit("max_user_watches");
    let namespace = std::fs::read_to_string("/proc/sys/user/max_inotify_watches")
        .ok()
        .and_then(|s| s.trim().parse().ok());
    match (system, namespace) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
