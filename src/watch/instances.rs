//! The notify instances: the native watcher of each platform, and the poll fallback for
//! directories the kernel refused to watch (which also holds the instance for link targets).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode};

use super::baseline::lock;
use super::msg::Msg;
use super::walk::Target;

pub(super) type Instance = Box<dyn Shared>;

/// A notify watcher handed the watch registry's own key of a directory (its path below the
/// root, see `dirkey`), so that a watcher that keeps paths (inotify's descriptor map, see
/// `native`) shares it rather than keeping a second one (~30 bytes a directory: 0.35 MB on the
/// 100,000-file tree).
pub(super) trait Shared: notify::Watcher + Send {
    /// Watches `dir` alone (not recursively); `key` is `dirkey::key` of it under the root the
    /// instance was made with.
    fn watch_dir(&mut self, dir: &Path, key: &Arc<Path>) -> notify::Result<()> {
        let _ = key;
        self.watch(dir, RecursiveMode::NonRecursive)
    }
}

impl Shared for notify::PollWatcher {}

#[cfg(target_os = "macos")]
impl Shared for super::covering::Covering<notify::FsEventWatcher> {}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
impl Shared for notify::RecommendedWatcher {}

/// Which instance watches a directory: an index into the native instances (a few), or
/// [`POLLED`] or [`LINKED`]. A byte, since the registry keeps one per watched directory.
pub(super) type InstanceId = u8;

/// The instance index of directories watched by the poll fallback.
pub(super) const POLLED: InstanceId = InstanceId::MAX;

/// Whether the native instance reports a close after each write: inotify does
/// (`IN_CLOSE_WRITE`); kqueue and FSEvents do not.
const NATIVE_CLOSES: bool = cfg!(target_os = "linux");

/// Forwards a native instance's events to the watcher thread, time-stamped.
pub(super) fn handler(events: mpsc::Sender<Msg>) -> impl notify::EventHandler {
    forward(events, NATIVE_CLOSES)
}

/// Forwards a poller's events: it reports no closes.
pub(super) fn poller(events: mpsc::Sender<Msg>) -> impl notify::EventHandler {
    forward(events, false)
}

fn forward(events: mpsc::Sender<Msg>, closes: bool) -> impl notify::EventHandler {
    move |ev: notify::Result<notify::Event>| {
        // Reads (ours included: hashing opens files) are noise; a close after writing is the
        // best signal that a file is complete.
        if let Ok(e) = &ev
            && let EventKind::Access(kind) = e.kind
            && kind != AccessKind::Close(AccessMode::Write)
        {
            return;
        }
        let at = Instant::now();
        let _ = events.send(Msg::Event { at, closes, ev });
    }
}

/// A native instance: inotify itself on Linux (see `native`: no round trip per watch, no
/// events for reads), FSEvents a tree at a time on macOS (see `covering`), notify's
/// recommended watcher elsewhere (kqueue on the BSDs).
/// `root`: the project root, which the keys it is handed are below.
pub(super) fn native(
    msgs: &mpsc::Sender<Msg>,
    #[cfg(target_os = "linux")] backlog: &Arc<super::native::Backlog>,
    #[cfg(target_os = "linux")] root: &Arc<Path>,
) -> notify::Result<Instance> {
    #[cfg(target_os = "linux")]
    let instance: Instance = Box::new(super::native::Native::start(
        handler(msgs.clone()),
        backlog.clone(),
        root.clone(),
    )?);
    #[cfg(target_os = "macos")]
    let instance: Instance = Box::new(
        <super::covering::Covering<notify::FsEventWatcher> as notify::Watcher>::new(
            handler(msgs.clone()),
            notify::Config::default(),
        )?,
    );
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    let instance: Instance = Box::new(<notify::RecommendedWatcher as notify::Watcher>::new(
        handler(msgs.clone()),
        notify::Config::default(),
    )?);
    Ok(instance)
}

/// A poller for directories the kernel refused to watch (the inotify watch limit), made on
/// first need. Its events feed the same channel, so a polled directory behaves like a watched
/// one, only slower.
pub(super) struct Fallback {
    poller: Option<notify::PollWatcher>,
    msgs: mpsc::Sender<Msg>,
    interval: Duration,
    /// The instance that watches link targets (made on first need), of the main kind: native,
    /// or a poller in poll mode.
    links: Option<Instance>,
    poll: Option<Duration>,
    /// Canonical directories watched for links → how many links need each.
    refs: std::collections::HashMap<PathBuf, usize>,
    #[cfg(target_os = "linux")]
    backlog: Arc<super::native::Backlog>,
    /// The project root, for the links' native instance.
    #[cfg(target_os = "linux")]
    root: Arc<Path>,
}

impl Fallback {
    /// `interval`: how often refused directories are polled; `poll`: poll mode's interval
    /// (link targets are then polled too).
    pub(super) fn new(
        msgs: &mpsc::Sender<Msg>,
        interval: Duration,
        poll: Option<Duration>,
        #[cfg(target_os = "linux")] backlog: &Arc<super::native::Backlog>,
        #[cfg(target_os = "linux")] root: &Arc<Path>,
    ) -> Fallback {
        Fallback {
            poller: None,
            msgs: msgs.clone(),
            interval,
            links: None,
            poll,
            refs: std::collections::HashMap::new(),
            #[cfg(target_os = "linux")]
            backlog: backlog.clone(),
            #[cfg(target_os = "linux")]
            root: root.clone(),
        }
    }

    /// Watches a link target's directory by its canonical path, once however many links
    /// lead there. Past the watch limit it is polled.
    pub(super) fn link(&mut self, canonical: &Path) -> notify::Result<()> {
        if let Some(n) = self.refs.get_mut(canonical) {
            *n += 1;
            return Ok(());
        }
        let instance = match &mut self.links {
            Some(i) => i,
            None => {
                let made: Instance = match self.poll {
                    Some(interval) => Box::new(notify::PollWatcher::new(
                        poller(self.msgs.clone()),
                        notify::Config::default()
                            .with_poll_interval(interval)
                            .with_compare_contents(true),
                    )?),
                    #[cfg(target_os = "linux")]
                    None => native(&self.msgs, &self.backlog, &self.root)?,
                    #[cfg(not(target_os = "linux"))]
                    None => native(&self.msgs)?,
                };
                self.links.insert(made)
            }
        };
        match instance.watch(canonical, RecursiveMode::NonRecursive) {
            Ok(()) => {}
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                self.watch(canonical)?
            }
            Err(e) => return Err(e),
        }
        self.refs.insert(canonical.to_path_buf(), 1);
        Ok(())
    }

    /// One link fewer needs `canonical`.
    pub(super) fn unlink(&mut self, canonical: &Path) {
        let Some(n) = self.refs.get_mut(canonical) else {
            return;
        };
        *n -= 1;
        if *n == 0 {
            self.refs.remove(canonical);
            if let Some(i) = &mut self.links {
                let _ = i.unwatch(canonical);
            }
            self.unwatch(canonical);
        }
    }

    pub(super) fn watch(&mut self, dir: &Path) -> notify::Result<()> {
        let poller = match &mut self.poller {
            Some(p) => p,
            None => self.poller.insert(notify::PollWatcher::new(
                poller(self.msgs.clone()),
                // Whole-second mtimes would miss a second write within a second: compare bytes.
                notify::Config::default()
                    .with_poll_interval(self.interval)
                    .with_compare_contents(true),
            )?),
        };
        // The poller lists the directory now, before the walk reads it: nothing falls between.
        notify::Watcher::watch(poller, dir, RecursiveMode::NonRecursive)
    }

    pub(super) fn unwatch(&mut self, dir: &Path) {
        if let Some(p) = &mut self.poller {
            let _ = notify::Watcher::unwatch(p, dir);
        }
    }
}

/// The instance index of directories watched through a link (by their canonical path).
pub(super) const LINKED: InstanceId = InstanceId::MAX - 1;

/// Adds a native watch on instance `k`; past the kernel's watch limit the directory is polled
/// instead (and [`POLLED`] returned). A linked directory goes to the links' instance
/// ([`LINKED`]). `refuse`: tests stand in for the limit.
pub(super) fn add(
    native: &mut Instance,
    k: InstanceId,
    target: Target<'_>,
    refuse: Option<&AtomicBool>,
    fallback: &Mutex<Fallback>,
) -> notify::Result<InstanceId> {
    let (dir, key) = match target {
        Target::Linked(canonical) => return lock(fallback).link(canonical).map(|()| LINKED),
        Target::Dir { path, key } => (path, key),
    };
    let result = if refuse.is_some_and(|r| r.load(Ordering::Relaxed)) {
        Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch))
    } else {
        native.watch_dir(dir, key)
    };
    match result {
        Ok(()) => Ok(k),
        Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
            lock(fallback).watch(dir).map(|()| POLLED)
        }
        Err(e) => Err(e),
    }
}
