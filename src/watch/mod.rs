//! Watching the project: notify events, filtered and debounced into change sets.
//!
//! # Theory of operation
//!
//! **Sources.** [`Watcher::start`] walks the root (`dirwalk`, judging with `ignore`'s matcher,
//! honouring `.gitignore`, `.ignore`, `.git/info/exclude` and the global excludes file, hidden
//! entries allowed, VCS directories never) and watches every directory it finds *non-recursively*, one
//! inotify watch per directory, always before reading its entries. A full walk reads the top
//! two levels on one thread, then splits the subtrees below between two threads, each adding
//! watches through its own instance (the events of both feed the same channel). On Linux an
//! instance is `native::Native`, inotify itself behind notify's `Watcher` trait: a watch is one
//! `inotify_add_watch` on the walker's thread (notify 8's own watcher makes a round trip to its
//! event thread for each), and no open or read events are asked for, so the baseline's reads
//! of every tracked file wake nobody. The walker filters with `rules::SharedRules`, reading a
//! directory's ignore files (regular files only: a FIFO named `.gitignore` would block an open
//! forever) from the listing it reads anyway, before judging its entries (no look-up of
//! `.gitignore`, `.ignore` and `.git` in the many directories that hold none), so walks and
//! events share one set of rules. The start-up walk can be called off ([`Watcher::start_until`]: a signal
//! came), every walking thread then ending within a directory's listing. Ignored
//! trees (`target/`, `node_modules/`) get no watch at all, which keeps start-up time and the
//! kernel's watch budget small. Watching directories rather than files is what makes editors that
//! save by renaming a temporary over the original work. Poll mode uses notify's `PollWatcher` with
//! the same per-directory watches, so it never stats ignored trees either.
//!
//! **Past the watch limit.** A directory the kernel refuses to watch (ENOSPC: the inotify
//! watch limit) is watched by a fallback `PollWatcher` instead (1 s, comparing contents), whose
//! events take the same path, so no edit is lost there, only seen later. The fallback is reported
//! once as a [`Notice::WatchLimit`] with a `sysctl` line that fits the tree; while it lasts a
//! native watch is tried again every 2 s, and a directory that gets one is re-read (an edit
//! the poller had not seen yet still counts). [`Notice::WatchRestored`] says when all are back.
//!
//! **Filter.** notify's callback thread drops access events (except close-after-write) and
//! forwards the rest, time-stamped, to the watcher thread. There every path is made relative
//! (events outside the root are dropped), and dropped again when it is under a VCS directory,
//! matched by the ignore rules ([`rules::IgnoreRules`]), an editor temporary, or not tracked:
//! tracked means `relevant(path)`, listed in `always`, or already known. A directory that
//! appears (created, or renamed into the tree) is walked and watched in its event's turn, and
//! the files already in it become candidates, so `mkdir -p a/b && echo > a/b/c.rs` loses
//! nothing: every directory is watched before it is read. A new tree of more than 1,024 entries
//! (`mv`, a link) goes on in slices (`worker::subtrees`: 64 entries walked, or 16 files read,
//! between two looks at the channel), so events elsewhere meanwhile make their waves as usual;
//! once all its files are read, what they hold is their baseline and they are one wave of their
//! own (a file of it an event reported meanwhile is not repeated). A directory that disappears
//! loses its watches and its known files become candidates (they will be reported deleted).
//!
//! **Hash.** The start-up walk records every tracked file as `Pending` in a compact table
//! (`files::FileTable`: names packed per directory, state packed in a `u64`). Up to 4,096
//! tracked files are then hashed before `start` returns (an exact baseline at once, as
//! ordinary projects always had). A bigger tree is hashed by a background thread, so `start`
//! returns as soon as the watches are in place; the rules that keep every edit after `start`
//! returns are: (1) an event on a `Pending` file is reported (conservative: it may be a no-op
//! save, it is never a lost edit); (2) the hasher only fills a slot that is still `Pending`, so
//! it never overwrites what an event established nor revives a deleted file; (3) it only takes
//! a hash whose inode ctime (read after the bytes) is 3 s older than `start`, which proves the
//! bytes are the content at `start`, even when the edit's event is still in flight (see
//! `hash::baseline_in`); a fresher file stays `Pending`. [`Watcher::set_relevant`] uses
//! the same scheme on big trees, so a Hotfile reload does not block on a walk and a rehash.
//! Poll mode (network and VM mounts, whose ctimes come from another machine's clock) always
//! hashes synchronously.
//! Each candidate is read and compared with its remembered hash: only real content changes are
//! reported, so a save of identical bytes is not; a deletion is. One exception: a file whose
//! events in the burst were all metadata-only (`IN_ATTRIB`, a close without a write) counts
//! when its mtime moved, since `touch` is how one asks for a rebuild (cargo honours it too);
//! "moved" is against the mtime last read (kept for files events touched, up to 4,096), else
//! mtime = ctime, the mark `touch` leaves and `chmod` does not. A file that
//! cannot be read counts as changed every time (conservative). The reading happens while the
//! burst waits for quiet (a file at a time, whenever no event is queued, looked up in the table
//! as it is read; a later event on the file discards what was read), so when the burst closes
//! only files touched since are read, and the table learns the new contents after the change
//! set has gone: a burst of thousands of files still becomes a change set one quiet period
//! after its end.
//!
//! **Debounce.** Candidates feed a [`debounce::Debouncer`] with what each event says of its
//! write (`worker::filter::kind_of`: inotify's `IN_CLOSE_WRITE` is `Access(Close(Write))`, a rename
//! `Name(From/To/Both)`, `IN_ATTRIB` `Modify(Metadata)`). A burst that is one file whose write
//! is complete (closed after writing, renamed into place, deleted; an editor's temporary
//! created and renamed away within it does not count) closes 1 ms after its last event: a
//! lone save does not wait out the quiet window. Otherwise the quiet window opens at the first
//! event and restarts with each one; `max_delay` caps a burst that never goes quiet (its
//! events' span, by the times they came: a thread that takes them late does not cut it). A burst
//! that goes on after closing on its window doubles the window (up to 16 times). Where the
//! instance reports closes (inotify; its handler says so with each event), a file created or
//! written and not closed yet holds the burst until its close, for at most `debounce::STREAM`
//! (a file open longer, a log's, holds nothing until it is closed). A burst due
//! to close while git holds its index lock is held (`vcs`: one stat of `index.lock` every
//! 5 ms, no watch on `.git/`), so a checkout is one wave on its final tree. With
//! nothing pending the watcher thread blocks on its channel without a timeout: no wakeups when
//! idle.
//!
//! **ChangeSet.** The changed paths, relative, sorted and deduplicated, go to the channel as one
//! [`ChangeSet`]. Warnings go the same way, as [`Notice`]s (a set with notices may have no
//! paths); a set with neither is never sent.
//!
//! **Overflow.** A queue overflow (`Flag::Rescan`), any error from the event stream, and any
//! change to a `.gitignore`/`.ignore` file trigger a full rescan: re-read the ignore rules,
//! re-walk, add missing watches, drop watches of vanished or newly ignored directories (and
//! newly ignored files from the table), rehash, and report every path whose content changed
//! with `rescanned: true`, in a wave of its own: the walk and the reads go in slices between
//! messages (`worker::rescan`). Rescans are rate limited (at least 500 ms apart, more for
//! trees whose rescan is slow).
//!
//! **The root gone.** Renamed or deleted under hot, the root's watches follow its directories
//! and name them by their old paths: nothing runs on their events (a task would run where
//! nothing is) until the root is back, and its return is a rescan (`worker::filter`).
//!
//! **Rooms.** `config` (what to watch, tuning), `error` (what can fail, with the fix),
//! `instances` (the notify instances and the poll fallback), `walk` (the one walker),
//! `watches` (the watched directories, by instance), `msg` (the watcher thread's messages),
//! `native` (the Linux instance), `baseline` (the table of tracked files and its background
//! hashing), `worker` (the thread: bursts, comparison, change sets; `worker::filter` turns
//! events into candidate paths, `worker::subtrees` walks big new directories in slices),
//! `vcs` (git's index lock),
//! with `debounce`, `files`,
//! `hash` and `rules` below them. This file holds the public handle.
//!
//! **Links.** An edit reaches a symbolic link's target, never the link, so links are followed
//! (files and directories, inside the tree or out of it): each target's directory is watched by
//! its canonical path on an instance of its own, and `links::Links` maps every event under a
//! target back to the links' names. Under a link the walker follows links and stops at cycles;
//! a link to a directory that contains it is not walked (its tree is walked already).
//! A link to a tree outside the project is counted first (up to `walk::LINKED_TREE_MAX`
//! entries; while hot runs on a thread of its own, so edits elsewhere never wait): a bigger
//! one is not followed, and a warning names the `ignore` line that silences it.
//!
//! **Faults of the tree.** Only regular files are opened: FIFOs, sockets and devices are
//! recorded by presence (`hash::FileState::Special`), the type is checked before the open and
//! again on the (non-blocking) descriptor before the read. A directory hot may not read is
//! left out with one warning. The Hotfile's common `ignore` ([`Ignore`]) prunes walks and
//! events as an ignore file does.
//!
//! Known limits: a link whose target is missing is only followed once hot restarts (or the
//! tree is rescanned); directories under links are not moved back from polling past the watch
//! limit; a change to `.git/info/exclude` or the
//! global excludes file is only seen at the next rescan; hard-linked files written through
//! another link are not seen. Poll mode (notify 8.2's `PollWatcher`, whose mtimes have whole-second
//! resolution) compares file contents, so each interval reads every file in watched directories.

mod baseline;
mod config;
#[cfg(any(target_os = "macos", test))]
mod covering;
mod debounce;
mod dirkey;
mod dirwalk;
mod error;
mod files;
mod fstype;
#[cfg(unix)]
mod gitindex;
mod hash;
mod idle;
mod instances;
mod links;
mod msg;
#[cfg(target_os = "linux")]
mod native;
mod rules;
#[cfg(test)]
mod tests;
mod vcs;
mod walk;
mod watches;
mod worker;

pub use config::{Ignore, Relevance, WatchConfig};
pub use error::WatchError;
pub(crate) use hash::{describe_special, special_kind};
pub(crate) use links::{Seen, describe as describe_link};
pub(crate) use rules::{always_reported, ignored as ignored_by_rules, walker};

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::SystemTime;

use tokio::sync::mpsc::UnboundedSender;

use baseline::Shared;
use config::Tuning;
use msg::Msg;
use watches::Watches;
use worker::Worker;

/// One wave: the files whose content changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeSet {
    /// Relative to the root, sorted, deduplicated.
    pub paths: Vec<PathBuf>,
    /// Each path's modification time, in the order of `paths`; `None` for a deleted or
    /// unreadable file. The engine uses it to tell a task's own writes from anyone else's.
    pub modified: Vec<Option<SystemTime>>,
    /// Events were lost and the whole tree was re-walked to compute `paths`.
    pub rescanned: bool,
    /// What the watcher has to tell the user (a set may carry only these, with no paths).
    pub notices: Vec<Notice>,
}

/// Something the watcher has to tell the user. It travels in the change channel, so it reaches
/// the reporter (and `--json`) in order with the changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A problem that loses no edit but deserves a look (a directory that could not be
    /// watched, the root gone).
    Warning(String),
    /// The kernel refused more inotify watches: `polled` directories are polled instead (every
    /// `every`) until the limit is raised; `suggested` fits the tree with room to grow.
    WatchLimit {
        polled: usize,
        limit: Option<u64>,
        suggested: u64,
        every: std::time::Duration,
    },
    /// Every polled directory has an inotify watch again.
    WatchRestored { directories: usize },
    /// Something the user should know that is no problem (the root back in its place).
    Note(String),
}

impl Notice {
    /// The command that fixes a [`Notice::WatchLimit`].
    pub fn fix(&self) -> Option<String> {
        match self {
            Notice::WatchLimit { suggested, .. } => Some(format!(
                "sudo sysctl fs.inotify.max_user_watches={suggested}"
            )),
            _ => None,
        }
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::Warning(message) | Notice::Note(message) => f.write_str(message),
            Notice::WatchLimit {
                polled,
                limit,
                every,
                ..
            } => {
                let limit = limit.map_or_else(|| "?".to_owned(), |l| l.to_string());
                write!(
                    f,
                    "inotify watch limit reached (fs.inotify.max_user_watches = {limit}): \
                     {polled} directories are polled every {}s instead, so edits there show \
                     up late; raise the limit with `{}` (hot moves them back to inotify by \
                     itself; add it to /etc/sysctl.d/ to keep it), or ignore big trees",
                    every.as_secs_f64(),
                    self.fix().unwrap_or_default()
                )
            }
            Notice::WatchRestored { directories } => write!(
                f,
                "the inotify watch limit has room again: {directories} polled directories are \
                 watched by inotify again"
            ),
        }
    }
}

/// A running watcher. Dropping it stops watching; its threads end.
pub struct Watcher {
    msgs: mpsc::Sender<Msg>,
    /// Told when the watcher thread has ended (or dropped if it panicked).
    ended: mpsc::Receiver<()>,
    worker: Option<JoinHandle<()>>,
    watched: Arc<AtomicUsize>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("watched_dirs", &self.watched_dirs())
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Walks and watches the tree, then returns: every watch is in place, so no edit after
    /// `start` returns is lost. Every tracked file has a baseline hash by then on trees of up
    /// to 4,096 tracked files; bigger trees are hashed in the background (see
    /// [`Watcher::baseline_ready`]), and until a file is hashed any event on it is reported.
    pub fn start(
        config: WatchConfig,
        tx: UnboundedSender<ChangeSet>,
    ) -> Result<Watcher, WatchError> {
        Self::start_until(config, tx, Arc::default())
    }

    /// [`Watcher::start`], called off when `cancel` is set (hot stops during the walk of a
    /// big tree): the walk ends within a directory's listing and [`WatchError::Cancelled`]
    /// comes back, so a signal is never kept waiting for the walk.
    pub(crate) fn start_until(
        config: WatchConfig,
        tx: UnboundedSender<ChangeSet>,
        cancel: Arc<AtomicBool>,
    ) -> Result<Watcher, WatchError> {
        Self::start_tuned(config, tx, Tuning::default(), cancel)
    }

    fn start_tuned(
        config: WatchConfig,
        tx: UnboundedSender<ChangeSet>,
        tuning: Tuning,
        cancel: Arc<AtomicBool>,
    ) -> Result<Watcher, WatchError> {
        // Before the walk: a file changed after this cannot get a background baseline.
        let started = SystemTime::now();
        let root = if config.root.is_absolute() {
            config.root.clone()
        } else {
            std::env::current_dir()
                .map_err(|source| WatchError::Root {
                    root: config.root.clone(),
                    source,
                })?
                .join(&config.root)
        };
        match std::fs::metadata(&root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(WatchError::Root {
                    root,
                    source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
                });
            }
            Err(source) => return Err(WatchError::Root { root, source }),
        }

        let (msgs, rx) = mpsc::channel();
        let watched = Arc::new(AtomicUsize::new(0));
        // The registry's keys and inotify's paths are below the root (see `dirkey`).
        let below: Arc<Path> = root.as_path().into();
        let watches = Watches::new(config.poll, &msgs, watched.clone(), &tuning, &below)?;
        let shared = Arc::new(Shared::default());
        shared.requested.store(1, Ordering::SeqCst);
        let mut worker = Worker::new(
            config,
            root,
            watches,
            shared.clone(),
            tuning,
            tx,
            msgs.clone(),
        );
        worker.begin(started, cancel)?;

        let (ended_tx, ended) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("hot-watch".into())
            .spawn(move || {
                worker.run(rx);
                let _ = ended_tx.send(());
            })
            .map_err(WatchError::Thread)?;
        Ok(Watcher {
            msgs,
            ended,
            worker: Some(handle),
            watched,
            shared,
        })
    }

    /// After a Hotfile reload. Files no longer tracked are forgotten at once; files that became
    /// tracked are found by a walk and baselined (their current content is not a change). On a
    /// tree of up to 4,096 files this is done before returning, exactly as at start. On a
    /// bigger tree it returns as soon as the watcher thread takes the request, and the walk and
    /// hashing run after it, with the background rule: a newly tracked file edited after
    /// (or within seconds before) this call is reported on its next event, never lost.
    #[cfg(test)]
    pub(crate) fn set_relevant(&self, relevant: Relevance) {
        self.reselect(relevant, None);
    }

    /// [`Watcher::set_relevant`], with the Hotfile's new common `ignore` when it has one:
    /// walks from then on leave it out (trees it newly covers lose their watches at the next
    /// rescan; their events are dropped at once).
    pub(crate) fn reselect(&self, relevant: Relevance, ignore: Option<config::Ignore>) {
        let asked = SystemTime::now();
        let request = self.shared.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let (done, wait) = mpsc::channel();
        let msg = Msg::SetRelevant {
            relevant,
            ignore,
            asked,
            request,
            done,
        };
        if self.msgs.send(msg).is_ok() {
            let _ = wait.recv();
        }
    }

    /// True once every file tracked at start (or at the last [`Watcher::set_relevant`]) has been
    /// hashed or found changed. Until then, events on unhashed files are reported even when
    /// their content turns out unchanged.
    pub fn baseline_ready(&self) -> bool {
        self.shared.completed.load(Ordering::SeqCst) >= self.shared.requested.load(Ordering::SeqCst)
    }

    /// Number of directories watched.
    pub fn watched_dirs(&self) -> usize {
        self.watched.load(Ordering::Relaxed)
    }
}

/// How long dropping a [`Watcher`] waits for its thread. The thread reads its messages
/// between walks and reads (and between the slices of a rescan or a big new directory's), so
/// one in the middle of a Hotfile reload's walk of a huge tree may take longer: it is then
/// left to end with the process, and hot stops on time.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.msgs.send(Msg::Stop);
        if let Some(worker) = self.worker.take() {
            match self.ended.recv_timeout(STOP_WAIT) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = worker.join();
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }
}
