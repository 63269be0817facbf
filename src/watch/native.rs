//! The native watcher on Linux: inotify itself, behind notify's `Watcher` trait.
//!
//! notify 8's inotify watcher adds every watch by a synchronous round trip to its event thread
//! (two context switches per directory: on a loaded 2-core machine that was most of the time
//! until `watching` on a 100,000-file tree), and it watches `IN_OPEN` too, so hot's own reads
//! (the content baseline opens every tracked file) woke its thread once per file. This one
//! adds a watch by a plain `inotify_add_watch` on the caller's thread, asks for no open or
//! read events, and gives the events the same kinds and paths notify's backend gives (a rename
//! as `Name(From)`, `Name(To)`, then `Name(Both)`; an overflow as a `Rescan` flag), so the
//! rest of the watcher cannot tell them apart.

use std::ffi::c_int;
use std::hash::BuildHasher;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use inotify::{EventMask, Inotify, WatchMask, Watches};
use notify::event::{
    AccessKind, AccessMode, CreateKind, DataChange, MetadataKind, ModifyKind, RemoveKind,
    RenameMode,
};
use notify::{Error, ErrorKind, Event, EventHandler, EventKind, RecursiveMode};

use super::baseline::lock;
use super::dirkey;
use super::msg::Msg;

/// What every directory is watched for: changes, never opens or reads.
fn mask() -> WatchMask {
    WatchMask::ATTRIB
        | WatchMask::CREATE
        | WatchMask::DELETE
        | WatchMask::CLOSE_WRITE
        | WatchMask::MODIFY
        | WatchMask::MOVED_FROM
        | WatchMask::MOVED_TO
        | WatchMask::DELETE_SELF
        | WatchMask::MOVE_SELF
}

/// Watch descriptors and the directories they watch, both ways, each path kept once: `by_wd`
/// holds it (shared with the watch registry, see [`super::instances::Shared`]), `by_path`
/// holds only descriptors, found by the path's hash and compared through
/// `by_wd` (a 100,000-file tree has 11,111 directories; two maps of shared paths cost ~60 bytes
/// a directory more). foldhash: a path is hashed part by part, each part a hasher call, which
/// SipHash makes several times dearer.
struct Paths {
    /// The root the keys are below (see `dirkey`).
    root: Arc<Path>,
    by_wd: ByWd,
    by_path: hashbrown::HashTable<c_int>,
    hasher: foldhash::fast::RandomState,
}

/// Descriptor → path, as two arrays in descriptor order, searched by halves. The kernel hands
/// out an instance's descriptors in increasing order, so a new watch is appended; a forgotten
/// one leaves an empty slot until half of them are empty. 20 bytes a watch, with at most a
/// quarter more spare: a hash map of the same pairs took 37 bytes a watch on the
/// 100,000-file tree (25 a bucket, a third of its buckets empty), ~0.4 MB of its RSS for the
/// two instances.
#[derive(Default)]
struct ByWd {
    wds: Vec<c_int>,
    dirs: Vec<Option<Arc<Path>>>,
    len: usize,
}

impl ByWd {
    fn get(&self, id: &c_int) -> Option<&Arc<Path>> {
        let i = self.wds.binary_search(id).ok()?;
        self.dirs[i].as_ref()
    }

    fn insert(&mut self, id: c_int, path: Arc<Path>) -> Option<Arc<Path>> {
        let i = match self.wds.binary_search(&id) {
            Ok(i) => {
                let old = self.dirs[i].replace(path);
                self.len += usize::from(old.is_none());
                return old;
            }
            Err(i) => i,
        };
        // Growth by a quarter, not the double `Vec` would take: the arrays are most of what a
        // big tree's watches cost, and they grow while the walk runs, not per event.
        if self.wds.len() == self.wds.capacity() {
            let more = (self.wds.len() / 4).max(16);
            self.wds.reserve_exact(more);
            self.dirs.reserve_exact(more);
        }
        self.wds.insert(i, id);
        self.dirs.insert(i, Some(path));
        self.len += 1;
        None
    }

    fn remove(&mut self, id: &c_int) -> Option<Arc<Path>> {
        let i = self.wds.binary_search(id).ok()?;
        let old = self.dirs[i].take()?;
        self.len -= 1;
        if self.len < self.wds.len() / 2 {
            let mut live = self.dirs.iter().map(Option::is_some);
            self.wds.retain(|_| live.next().unwrap_or(false));
            self.dirs.retain(Option::is_some);
        }
        Some(old)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[cfg(test)]
    fn values(&self) -> impl Iterator<Item = &Arc<Path>> {
        self.dirs.iter().flatten()
    }
}

impl Paths {
    fn new(root: Arc<Path>) -> Paths {
        Paths {
            root,
            by_wd: ByWd::default(),
            by_path: hashbrown::HashTable::default(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn hash(&self, path: &Path) -> u64 {
        self.hasher.hash_one(path)
    }

    /// `id` watches `path` now. The same inode under a new name (a watched directory renamed):
    /// the new name wins; the same name on a new inode (a directory made again): the new
    /// descriptor wins.
    fn insert(&mut self, id: c_int, path: &Arc<Path>) {
        if self.by_wd.get(&id).is_some_and(|p| **p == **path) {
            return;
        }
        self.forget_wd(id);
        let hash = self.hash(path);
        let Paths {
            by_wd,
            by_path,
            hasher,
            ..
        } = self;
        match by_path.find_mut(hash, |wd| by_wd.get(wd).is_some_and(|p| **p == **path)) {
            // The old descriptor keeps its name for its own last events (until `IGNORED`).
            Some(wd) => *wd = id,
            None => {
                // Every descriptor in `by_path` is in `by_wd`; were one not, it would only be
                // lost from the index, never a panic.
                by_path.insert_unique(hash, id, |wd| {
                    by_wd.get(wd).map_or(0, |p| hasher.hash_one(p))
                });
            }
        }
        self.by_wd.insert(id, path.clone());
    }

    /// Forgets `path`'s watch; returns its descriptor.
    fn remove_path(&mut self, path: &Path) -> Option<c_int> {
        let hash = self.hash(path);
        let by_wd = &self.by_wd;
        let (id, _) = self
            .by_path
            .find_entry(hash, |wd| by_wd.get(wd).is_some_and(|p| **p == *path))
            .ok()?
            .remove();
        self.by_wd.remove(&id);
        Some(id)
    }

    fn forget_wd(&mut self, id: c_int) {
        if let Some(path) = self.by_wd.remove(&id)
            && let Ok(entry) = self
                .by_path
                .find_entry(self.hasher.hash_one(&path), |&wd| wd == id)
        {
            entry.remove();
        }
    }
}

/// The events of a watcher's instances not handed on yet: what the kernel holds for them
/// (`FIONREAD` on their inotify descriptors) and what a reader has read and not sent. A burst
/// closes only once this is empty, so a reader that a loaded machine did not run for a while
/// cannot split a burst (the rest of the events still in the kernel's queue); at `max_delay`
/// a [`Backlog::cut`] bounds the wait to what the kernel holds at that moment.
#[derive(Default)]
pub(super) struct Backlog {
    readers: Mutex<Vec<Arc<Reader>>>,
    busy: AtomicUsize,
    /// Where a reader says it has handed on everything up to a cut ([`Msg::Cut`]).
    marks: Option<mpsc::Sender<Msg>>,
    /// Tests: stops the readers after a hand-off.
    pause: Option<Arc<Pause>>,
}

/// One instance's reader, as the backlog sees it.
struct Reader {
    fd: c_int,
    /// The write end of a pipe the instance watches: a byte written to it puts an event in
    /// the instance's queue behind every event already there. `None` where the kernel makes
    /// no event for it (checked at start).
    sentinel: Option<io::PipeWriter>,
    /// A cut asked for this reader's mark, not sent yet.
    owes: AtomicBool,
}

impl Backlog {
    /// A backlog whose readers tell cuts on `marks`; `pause`: see [`Pause`].
    pub(super) fn new(marks: mpsc::Sender<Msg>, pause: Option<Arc<Pause>>) -> Backlog {
        Backlog {
            marks: Some(marks),
            pause,
            ..Backlog::default()
        }
    }

    pub(super) fn pending(&self) -> bool {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return true;
        }
        lock(&self.readers).iter().any(|r| {
            let mut queued: c_int = 0;
            // SAFETY: a descriptor listed only while its reader (which closes it) runs, and an
            // int for FIONREAD to fill.
            let rc = unsafe { libc::ioctl(r.fd, libc::FIONREAD, &mut queued) };
            rc == 0 && queued > 0
        })
    }

    /// Marks the end of what every instance's queue holds now: each reader sends one
    /// [`Msg::Cut`] once it has handed on every event queued before the mark (or when it ends).
    /// Returns how many marks will come.
    pub(super) fn cut(&self) -> usize {
        if self.marks.is_none() {
            return 0;
        }
        let readers = lock(&self.readers);
        let mut owed = 0;
        for reader in readers.iter() {
            let Some(mut sentinel) = reader.sentinel.as_ref() else {
                continue;
            };
            reader.owes.store(true, Ordering::SeqCst);
            if io::Write::write(&mut sentinel, &[0]).is_ok_and(|n| n == 1) {
                owed += 1;
            } else {
                // A full pipe (its reader far behind): that reader is not waited for.
                reader.owes.store(false, Ordering::SeqCst);
            }
        }
        owed
    }

    /// A reader saw its mark, or ends: its owed mark goes out.
    fn settle(&self, reader: &Reader) {
        if reader.owes.swap(false, Ordering::SeqCst)
            && let Some(marks) = &self.marks
        {
            let _ = marks.send(Msg::Cut);
        }
    }
}

/// Tests: a reader pauses after handing on a read's events while this is armed, until it is
/// released, so a test can hold events in the kernel's queue at a moment it chooses.
#[derive(Debug, Default)]
pub(super) struct Pause {
    /// (armed, a reader is paused)
    state: Mutex<(bool, bool)>,
    changed: std::sync::Condvar,
}

impl Pause {
    #[cfg(test)]
    pub(super) fn arm(&self) {
        lock(&self.state).0 = true;
    }

    /// Waits (at most `within`) for a reader to pause; true when one did.
    #[cfg(test)]
    pub(super) fn paused(&self, within: std::time::Duration) -> bool {
        let state = lock(&self.state);
        let (state, _) = self
            .changed
            .wait_timeout_while(state, within, |s| !s.1)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.1
    }

    #[cfg(test)]
    pub(super) fn release(&self) {
        *lock(&self.state) = (false, false);
        self.changed.notify_all();
    }

    fn check(&self) {
        let mut state = lock(&self.state);
        if !state.0 {
            return;
        }
        state.1 = true;
        self.changed.notify_all();
        while state.0 {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// A pipe whose writes make events in `inotify`'s queue (its watch descriptor, and both
/// ends), or `None` where the kernel makes none (some make no events for pseudo files). The
/// test event is read away, so no stale mark is ever queued.
fn sentinel(inotify: &mut Inotify) -> Option<(c_int, io::PipeReader, io::PipeWriter)> {
    let (reader, mut writer) = io::pipe().ok()?;
    let path = format!("/proc/self/fd/{}", writer.as_raw_fd());
    let wd = inotify.watches().add(&path, WatchMask::MODIFY).ok()?;
    // Neither end may block: the writer is the watcher thread, the reader drains it.
    for fd in [reader.as_raw_fd(), writer.as_raw_fd()] {
        // SAFETY: fcntl on a descriptor owned here.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
    io::Write::write(&mut writer, &[0]).ok()?;
    let mut buffer = [0u8; 256];
    let made = inotify
        .read_events(&mut buffer)
        .ok()?
        .any(|e| e.wd.get_watch_descriptor_id() == wd.get_watch_descriptor_id());
    drain(&reader);
    made.then(|| (wd.get_watch_descriptor_id(), reader, writer))
}

fn drain(mut pipe: &io::PipeReader) {
    let mut bytes = [0u8; 64];
    while io::Read::read(&mut pipe, &mut bytes).is_ok_and(|n| n > 0) {}
}

pub(super) struct Native {
    watches: Watches,
    /// The instance's descriptor, held open by `watches`.
    fd: c_int,
    /// Taken while adding a watch, so the reader never sees an event of a descriptor it cannot
    /// name yet.
    paths: Arc<Mutex<Paths>>,
    /// Dropping it wakes the reader (its end hangs up), which then ends.
    stop: Option<io::PipeWriter>,
    reader: Option<JoinHandle<()>>,
}

impl Native {
    /// `root`: the keys [`Shared::watch_dir`] is handed are below it (see `dirkey`).
    ///
    /// [`Shared::watch_dir`]: super::instances::Shared::watch_dir
    pub(super) fn start(
        handler: impl EventHandler,
        backlog: Arc<Backlog>,
        root: Arc<Path>,
    ) -> notify::Result<Native> {
        let mut inotify = Inotify::init().map_err(Error::io)?;
        let fd = inotify.as_raw_fd();
        let (mark, reader) = match sentinel(&mut inotify) {
            Some((wd, drained, writer)) => (Some((wd, drained)), Some(writer)),
            None => (None, None),
        };
        let me = Arc::new(Reader {
            fd,
            sentinel: reader,
            owes: AtomicBool::new(false),
        });
        lock(&backlog.readers).push(me.clone());
        let (wake, stop) = io::pipe().map_err(Error::io)?;
        let paths = Arc::new(Mutex::new(Paths::new(root)));
        let watches = inotify.watches();
        let shared = paths.clone();
        let reader = std::thread::Builder::new()
            .name("hot-inotify".into())
            // It only translates events; a small stack keeps each instance's footprint small.
            .stack_size(256 * 1024)
            .spawn(move || {
                read_loop(inotify, wake, &shared, handler, &backlog, &me, mark);
                lock(&backlog.readers).retain(|r| !Arc::ptr_eq(r, &me));
                // A cut made before it left waits for nothing more from it.
                backlog.settle(&me);
            })
            .map_err(Error::io)?;
        Ok(Native {
            watches,
            fd,
            paths,
            stop: Some(stop),
            reader: Some(reader),
        })
    }
}

impl super::instances::Shared for Native {
    fn watch_dir(&mut self, path: &Path, key: &Arc<Path>) -> notify::Result<()> {
        let mut paths = lock(&self.paths);
        debug_assert_eq!(dirkey::key(&paths.root, path), &**key);
        let wd = self.watches.add(path, mask()).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOSPC) {
                Error::new(ErrorKind::MaxFilesWatch)
            } else if e.kind() == io::ErrorKind::NotFound {
                Error::new(ErrorKind::PathNotFound)
            } else {
                Error::io(e)
            }
            .add_path(path.to_path_buf())
        })?;
        paths.insert(wd.get_watch_descriptor_id(), key);
        Ok(())
    }
}

impl notify::Watcher for Native {
    fn new<F: EventHandler>(event_handler: F, _config: notify::Config) -> notify::Result<Self> {
        // Every key below `/` is the path without its leading separator.
        Native::start(event_handler, Arc::default(), Path::new("/").into())
    }

    fn watch(&mut self, path: &Path, _recursive_mode: RecursiveMode) -> notify::Result<()> {
        let key = dirkey::key(&lock(&self.paths).root, path).into();
        super::instances::Shared::watch_dir(self, path, &key)
    }

    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        let mut paths = lock(&self.paths);
        let root = paths.root.clone();
        let Some(id) = paths.remove_path(dirkey::key(&root, path)) else {
            return Err(Error::watch_not_found().add_path(path.to_path_buf()));
        };
        // By its number: `paths` keeps no `WatchDescriptor` (a weak reference more per
        // directory). Gone already (the directory was deleted): nothing left to remove.
        // SAFETY: `fd` stays open while `self.watches` (which holds it) lives.
        unsafe { libc::inotify_rm_watch(self.fd, id) };
        Ok(())
    }

    fn kind() -> notify::WatcherKind {
        notify::WatcherKind::Inotify
    }
}

impl Drop for Native {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// Waits for events (or the stop pipe's hang-up) and hands them on, translated.
fn read_loop(
    mut inotify: Inotify,
    wake: io::PipeReader,
    paths: &Mutex<Paths>,
    mut handler: impl EventHandler,
    backlog: &Backlog,
    me: &Reader,
    mark: Option<(c_int, io::PipeReader)>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    // A `MOVED_FROM` waiting for its `MOVED_TO` (same cookie): the pair becomes `Name(Both)`.
    let mut moved_from: Option<(u32, PathBuf)> = None;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: inotify.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds, owned by this frame.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[1].revents != 0 {
            return;
        }
        backlog.busy.fetch_add(1, Ordering::SeqCst);
        loop {
            let events = match inotify.read_events(&mut buffer) {
                Ok(events) => events,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    handler.handle_event(Err(Error::io(e)));
                    break;
                }
            };
            let mut out = Vec::new();
            let mut marked = false;
            {
                let mut paths = lock(paths);
                for event in events {
                    if let Some((wd, pipe)) = &mark
                        && event.wd.get_watch_descriptor_id() == *wd
                    {
                        drain(pipe);
                        marked = true;
                        continue;
                    }
                    if event.mask.contains(EventMask::Q_OVERFLOW) {
                        out.push(
                            Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan),
                        );
                        continue;
                    }
                    let id = event.wd.get_watch_descriptor_id();
                    let Some(dir) = paths.by_wd.get(&id) else {
                        continue;
                    };
                    let path = dirkey::join(&paths.root, dir, event.name);
                    translate(event.mask, event.cookie, path, &mut moved_from, &mut out);
                    if event.mask.contains(EventMask::IGNORED) {
                        paths.forget_wd(id);
                    }
                }
            }
            for ev in out {
                handler.handle_event(Ok(ev));
            }
            // Behind every event queued before the cut's mark.
            if marked {
                backlog.settle(me);
            }
            if let Some(pause) = &backlog.pause {
                pause.check();
            }
        }
        backlog.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One inotify event as the events notify's inotify backend makes of it, in its order.
fn translate(
    mask: EventMask,
    cookie: u32,
    path: PathBuf,
    moved_from: &mut Option<(u32, PathBuf)>,
    out: &mut Vec<Event>,
) {
    let dir = mask.contains(EventMask::ISDIR);
    let one = |kind| Event::new(kind).add_path(path.clone());
    if mask.contains(EventMask::MOVED_FROM) {
        out.push(
            one(EventKind::Modify(ModifyKind::Name(RenameMode::From))).set_tracker(cookie as usize),
        );
        *moved_from = Some((cookie, path.clone()));
    } else if mask.contains(EventMask::MOVED_TO) {
        out.push(
            one(EventKind::Modify(ModifyKind::Name(RenameMode::To))).set_tracker(cookie as usize),
        );
        if let Some((c, from)) = moved_from.take_if(|(c, _)| *c == cookie) {
            out.push(
                Event::new(EventKind::Modify(ModifyKind::Name(RenameMode::Both)))
                    .set_tracker(c as usize)
                    .add_path(from)
                    .add_path(path.clone()),
            );
        }
    }
    if mask.contains(EventMask::MOVE_SELF) {
        out.push(one(EventKind::Modify(ModifyKind::Name(RenameMode::From))));
    }
    if mask.contains(EventMask::CREATE) {
        let kind = if dir {
            CreateKind::Folder
        } else {
            CreateKind::File
        };
        out.push(one(EventKind::Create(kind)));
    }
    if mask.contains(EventMask::DELETE) {
        let kind = if dir {
            RemoveKind::Folder
        } else {
            RemoveKind::File
        };
        out.push(one(EventKind::Remove(kind)));
    }
    if mask.contains(EventMask::DELETE_SELF) {
        out.push(one(EventKind::Remove(RemoveKind::Folder)));
    }
    if mask.contains(EventMask::MODIFY) {
        out.push(one(EventKind::Modify(ModifyKind::Data(DataChange::Any))));
    }
    if mask.contains(EventMask::CLOSE_WRITE) {
        out.push(one(EventKind::Access(AccessKind::Close(AccessMode::Write))));
    }
    if mask.contains(EventMask::ATTRIB) {
        out.push(one(EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::Any,
        ))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::Watcher;
    use std::sync::mpsc;
    use std::time::Duration;

    fn next(rx: &mpsc::Receiver<notify::Result<Event>>, want: EventKind) -> Event {
        loop {
            let ev = rx
                .recv_timeout(Duration::from_secs(20))
                .expect("an event within 20 s")
                .expect("no error");
            if ev.kind == want {
                return ev;
            }
        }
    }

    /// The descriptor index keeps no path of its own: each lookup goes through `by_wd`, so
    /// a rename, a directory made again under an old name, and `IGNORED` must leave both ways
    /// in step.
    #[test]
    fn paths_are_kept_once_and_both_ways_agree() {
        let mut p = Paths::new(Path::new("/").into());
        let (a, b): (Arc<Path>, Arc<Path>) = (Path::new("/t/a").into(), Path::new("/t/b").into());
        p.insert(1, &a);
        p.insert(2, &b);
        assert_eq!(p.by_wd.len(), 2);
        assert_eq!(p.by_path.len(), 2);
        // Renamed: wd 1 now names /t/c; /t/a is no longer watched.
        let c: Arc<Path> = Path::new("/t/c").into();
        p.insert(1, &c);
        assert_eq!(p.remove_path(&a), None);
        assert_eq!(p.by_wd.get(&1).map(|p| &**p), Some(&*c));
        // /t/b made again (new inode, wd 3) before wd 2's IGNORED: the new one wins, and the
        // old one's late IGNORED does not drop it.
        p.insert(3, &b);
        assert_eq!(
            p.by_wd.get(&2).map(|p| &**p),
            Some(&*b),
            "old events still named"
        );
        p.forget_wd(2);
        assert_eq!(p.remove_path(&b), Some(3));
        assert_eq!(p.remove_path(&b), None);
        // Watching again under the same descriptor changes nothing.
        p.insert(1, &c);
        assert_eq!(p.by_path.len(), 1);
        assert_eq!(p.remove_path(&c), Some(1));
        assert!(p.by_wd.is_empty() && p.by_path.is_empty());
        // Enough paths to grow the index several times (its rehash hashes through `by_wd`).
        for i in 0..1000 {
            p.insert(i, &Path::new(&format!("/t/{i}")).into());
        }
        for i in (0..1000).rev() {
            assert_eq!(p.remove_path(&PathBuf::from(format!("/t/{i}"))), Some(i));
        }
        assert!(p.by_wd.is_empty() && p.by_path.is_empty());
    }

    /// Forgotten descriptors leave empty slots until half are empty, then the arrays are
    /// compacted: every descriptor still watched is found after it, none forgotten is, and a
    /// descriptor below the last one (the kernel's numbers wrapped) goes in its place.
    #[test]
    fn the_descriptor_map_finds_every_watch_after_compacting() {
        let path = |i: c_int| -> Arc<Path> { Path::new(&format!("/t/{i}")).into() };
        let mut m = ByWd::default();
        for i in 1..=100 {
            assert!(m.insert(i, path(i)).is_none());
        }
        for i in (2..=100).step_by(2) {
            assert_eq!(m.remove(&i).as_deref(), Some(&*path(i)));
            assert!(m.remove(&i).is_none());
        }
        m.remove(&1);
        assert!(m.wds.len() < 100, "compacted");
        assert_eq!(m.len(), 49);
        for i in 1..=100 {
            let want = (i % 2 == 1 && i != 1).then(|| path(i));
            assert_eq!(m.get(&i), want.as_ref(), "{i}");
        }
        for i in [1, 2, 50] {
            assert!(m.insert(i, path(i)).is_none());
        }
        assert_eq!(m.insert(50, path(500)).as_deref(), Some(&*path(50)));
        assert!(m.wds.is_sorted());
        assert_eq!(m.get(&2), Some(&path(2)));
        assert_eq!(m.get(&50), Some(&path(500)));
        assert_eq!(m.values().count(), 52);
    }

    /// The registry's key of a watched directory is the descriptor map's too: a second copy
    /// per directory was ~30 bytes of the 100,000-file tree's RSS each (BENCHMARKS.md).
    #[test]
    fn a_watched_path_is_shared_not_copied() {
        use crate::watch::instances::Shared;
        let dir = tempfile::tempdir().unwrap();
        let (tx, _rx) = mpsc::channel();
        let mut w = Native::start(tx, Arc::default(), dir.path().into()).unwrap();
        let key: Arc<Path> = Path::new("").into();
        w.watch_dir(dir.path(), &key).unwrap();
        assert_eq!(
            Arc::strong_count(&key),
            2,
            "the map holds the same allocation"
        );
        let kept = lock(&w.paths).by_wd.values().next().cloned().unwrap();
        assert!(Arc::ptr_eq(&kept, &key));
        drop(kept);
        w.unwatch(dir.path()).unwrap();
        assert_eq!(Arc::strong_count(&key), 1, "unwatching lets it go");
    }

    /// The map keeps a directory's path below the root (`dirkey`); its events still name the
    /// whole path, for a nested directory, a non-UTF-8 name, and a directory outside the root
    /// (a link's target), which keeps its whole path as its key.
    #[test]
    fn an_event_under_a_key_below_the_root_names_the_whole_path() {
        use crate::watch::instances::Shared;
        use std::os::unix::ffi::OsStrExt;
        let (dir, outside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let root: Arc<Path> = dir.path().into();
        let odd = root
            .join("a")
            .join(std::ffi::OsStr::from_bytes(b"\xff\xfe"));
        std::fs::create_dir_all(&odd).unwrap();
        let (tx, rx) = mpsc::channel();
        let mut w = Native::start(tx, Arc::default(), root.clone()).unwrap();
        for d in [odd.as_path(), outside.path()] {
            let key: Arc<Path> = dirkey::key(&root, d).into();
            assert_eq!(key.is_relative(), d == odd, "{}", d.display());
            w.watch_dir(d, &key).unwrap();
            std::fs::write(d.join("f"), "x").unwrap();
            let closed = next(&rx, EventKind::Access(AccessKind::Close(AccessMode::Write)));
            assert_eq!(closed.paths, [d.join("f")]);
        }
        // Unwatched by its whole path, as the registry and the poller name it.
        w.unwatch(&odd).unwrap();
        w.unwatch(outside.path()).unwrap();
        assert_eq!(lock(&w.paths).by_wd.len(), 0);
    }

    /// The kinds and paths notify's own backend gives, which the filter and the debouncer
    /// read: a rename's pair in one event, old path first; no event for a read.
    #[test]
    fn events_have_notify_kinds_and_reads_make_none() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::write(root.join("a"), "x").unwrap();
        let (tx, rx) = mpsc::channel();
        let mut w = Native::start(tx, Arc::default(), Path::new("/").into()).unwrap();
        w.watch(&root, RecursiveMode::NonRecursive).unwrap();
        let _ = std::fs::read(root.join("a")).unwrap();
        std::fs::write(root.join("a"), "y").unwrap();
        let closed = next(&rx, EventKind::Access(AccessKind::Close(AccessMode::Write)));
        assert_eq!(closed.paths, [root.join("a")]);
        std::fs::rename(root.join("a"), root.join("b")).unwrap();
        let both = next(&rx, EventKind::Modify(ModifyKind::Name(RenameMode::Both)));
        assert_eq!(both.paths, [root.join("a"), root.join("b")]);
        std::fs::create_dir(root.join("d")).unwrap();
        let made = next(&rx, EventKind::Create(CreateKind::Folder));
        assert_eq!(made.paths, [root.join("d")]);
        w.unwatch(&root).unwrap();
        assert!(w.unwatch(&root).is_err());
        let missing = w.watch(&root.join("nope"), RecursiveMode::NonRecursive);
        assert!(matches!(missing, Err(e) if matches!(e.kind, ErrorKind::PathNotFound)));
        // Only changes were asked for: the read above made no access event.
        drop(w);
        while let Ok(ev) = rx.try_recv() {
            let ev = ev.unwrap();
            assert!(
                !matches!(
                    ev.kind,
                    EventKind::Access(AccessKind::Open(_) | AccessKind::Close(AccessMode::Read))
                ),
                "{ev:?}"
            );
        }
    }
}
