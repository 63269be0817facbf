//! Links to trees outside the project, counted on threads of their own before they are
//! followed, so the edits of others never wait for a link to `/usr`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::watch::error::WatchError;
use crate::watch::msg::Msg;
use crate::watch::walk::{LINKED_TREE_MAX, fits};

pub(super) struct Scouts {
    /// Link targets outside the project counted and small enough to follow.
    approved: HashSet<PathBuf>,
    /// Links whose target is being counted, each on a thread of its own.
    scouting: HashSet<PathBuf>,
    /// The watcher thread's own channel, for the counting threads' answers.
    msgs: mpsc::Sender<Msg>,
}

/// Linked trees counted at once, each on its own thread; a link met past this many is
/// counted when it is met again (an event on it, a rescan).
const SCOUTS_MAX: usize = 4;

impl Scouts {
    pub(super) fn new(msgs: mpsc::Sender<Msg>) -> Scouts {
        Scouts {
            approved: HashSet::new(),
            scouting: HashSet::new(),
            msgs,
        }
    }

    pub(super) fn approved(&self) -> &HashSet<PathBuf> {
        &self.approved
    }

    /// Counts a linked tree outside the project on a thread of its own; the answer comes back
    /// as [`Msg::Scouted`]. Meanwhile the link is not followed, and every other edit runs.
    pub(super) fn scout(&mut self, link: &Path, target: &Path) -> Result<(), WatchError> {
        if self.scouting.len() >= SCOUTS_MAX || !self.scouting.insert(link.to_path_buf()) {
            return Ok(());
        }
        let (msgs, link, target) = (self.msgs.clone(), link.to_path_buf(), target.to_path_buf());
        std::thread::Builder::new()
            .name("hot-watch-count".into())
            .spawn(move || {
                let fits = fits(&target, LINKED_TREE_MAX);
                let _ = msgs.send(Msg::Scouted { link, target, fits });
            })
            .map(drop)
            .map_err(WatchError::Thread)
    }

    /// A count came back: the link is counted no more, and a tree that fits is approved.
    pub(super) fn scouted(&mut self, link: &Path, target: &Path, fits: bool) {
        self.scouting.remove(link);
        if fits {
            self.approved.insert(target.to_path_buf());
        }
    }
}
