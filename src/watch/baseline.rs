//! The content baseline: the table of tracked files and what each held, and the hashing that
//! fills it, here and now on small trees, on a background thread on big ones.
//!
//! The rules that keep every edit (see the module docs of `watch`): an event on a `Pending`
//! file is reported; the hasher only fills a slot that is still `Pending`; a background hash is
//! only taken from a file whose ctime proves it predates the request.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::error::WatchError;
use super::files::FileTable;
#[cfg(unix)]
use super::gitindex::GitIndex;
use super::hash::{self, FileState, Observed};

/// A poisoned lock still guards consistent data here (every critical section is a few
/// assignments), so it is used as is.
pub(super) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by the watcher thread and the background hasher.
#[derive(Debug, Default)]
pub(super) struct Shared {
    files: Mutex<FileTable>,
    /// Bumped (under the `files` lock) to cancel the running baseline job.
    generation: AtomicU64,
    /// Baseline requests made (start counts as one) and the last one completed.
    pub requested: AtomicU64,
    pub completed: AtomicU64,
}

impl Shared {
    pub(super) fn files(&self) -> MutexGuard<'_, FileTable> {
        lock(&self.files)
    }

    /// Cancels the running job; returns the new generation.
    fn bump(&self) -> u64 {
        let _files = self.files();
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// Hashes every `Pending` file, one directory at a time, without holding the lock while
/// reading. `before`: `None` when no edit can race the read (inside `start`, or while the
/// caller waits); otherwise the ctime bound of [`hash::baseline_in`]. A result only fills a
/// slot that is still `Pending`, so it never overwrites what an event established.
///
/// With `use_index`, git's index (when the project is in a repository) gives the hash of each
/// file it proves unchanged, without a read (see `gitindex`).
fn hash_pending(
    shared: &Shared,
    root: &Path,
    generation: u64,
    request: u64,
    before: Option<SystemTime>,
    use_index: bool,
) {
    let current = || shared.generation.load(Ordering::SeqCst) == generation;
    let mut buf = Vec::new();
    let mut cursor: Option<PathBuf> = None;
    // A directory's pending names, each ended by a NUL (see `FileTable::next_pending`).
    let mut names = Vec::new();
    #[cfg(unix)]
    let mut index = use_index.then(|| GitIndex::load(root)).flatten();
    #[cfg(not(unix))]
    let _ = use_index;
    loop {
        let Some(dir) = shared.files().next_pending(cursor.as_deref(), &mut names) else {
            break;
        };
        let mut results = Vec::with_capacity(memchr::memchr_iter(0, &names).count());
        #[cfg(unix)]
        let opened = before.is_some() || index.is_some();
        #[cfg(not(unix))]
        let opened = before.is_some();
        let handle = opened.then(|| hash::DirHandle::open(root.join(&dir)));
        for name in names.split_inclusive(|&b| b == 0) {
            if !current() {
                return;
            }
            let Ok(c_name) = CStr::from_bytes_with_nul(name) else {
                continue;
            };
            let name = c_name.to_bytes();
            #[cfg(unix)]
            if let (Some(index), Some(handle)) = (&mut index, &handle)
                && let Some(h) = index.hash_of(&dir, c_name, handle, before)
            {
                results.push((name, FileState::Hash(h)));
                continue;
            }
            let state = match (before, &handle) {
                (Some(before), Some(handle)) => hash::baseline_in(handle, c_name, &mut buf, before),
                _ => {
                    // SAFETY: stored from `OsStr::as_encoded_bytes` (a NUL appended).
                    let os = unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(name) };
                    match hash::observe(&root.join(&dir).join(os), &mut buf) {
                        Observed::File(s) => Some(s),
                        Observed::Absent => None,
                    }
                }
            };
            if let Some(state) = state {
                results.push((name, state));
            }
        }
        let mut files = shared.files();
        if !current() {
            return;
        }
        files.fill_pending(&dir, &results);
        cursor = Some(dir);
    }
    #[cfg(unix)]
    drop(index);
    {
        let _files = shared.files();
        if current() {
            shared.completed.fetch_max(request, Ordering::SeqCst);
        }
    }
    release_free_memory();
}

/// Gives the heap's free pages back to the kernel. A big walk and its baseline leave
/// megabytes of freed temporaries (paths, listings) spread through glibc's heaps, which stay
/// resident otherwise; on a 100,000-file tree this is a third of the process's memory.
pub(super) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory no allocation uses.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Owns the background hasher (at most one job at a time).
pub(super) struct Baseline {
    shared: Arc<Shared>,
    root: PathBuf,
    ctime_margin: Duration,
    /// From this many tracked files on, git's index is consulted (`Tuning::index_min`).
    index_min: usize,
    hasher: Option<JoinHandle<()>>,
}

impl Baseline {
    pub(super) fn new(
        shared: Arc<Shared>,
        root: PathBuf,
        ctime_margin: Duration,
        index_min: usize,
    ) -> Self {
        Baseline {
            shared,
            root,
            ctime_margin,
            index_min,
            hasher: None,
        }
    }

    /// Cancels the running job and waits for it; returns the generation of the next one.
    pub(super) fn stop(&mut self) -> u64 {
        let generation = self.shared.bump();
        if let Some(h) = self.hasher.take() {
            let _ = h.join();
        }
        generation
    }

    /// Hashes every `Pending` file for baseline request `request`: here and now when `before`
    /// is `None`, else on a background thread with the ctime bound `before` (less the margin).
    pub(super) fn run(
        &mut self,
        request: u64,
        before: Option<SystemTime>,
    ) -> Result<(), WatchError> {
        let generation = self.stop();
        let use_index = self.shared.files().len() >= self.index_min;
        match before {
            None => hash_pending(
                &self.shared,
                &self.root,
                generation,
                request,
                None,
                use_index,
            ),
            Some(before) => {
                let bound = before.checked_sub(self.ctime_margin);
                let (shared, root) = (self.shared.clone(), self.root.clone());
                let hasher = std::thread::Builder::new()
                    .name("hot-watch-hash".into())
                    .spawn(move || {
                        // A clock this close to the epoch proves nothing: hash nothing.
                        let bound = bound.unwrap_or(SystemTime::UNIX_EPOCH);
                        hash_pending(&shared, &root, generation, request, Some(bound), use_index);
                    })
                    .map_err(WatchError::Thread)?;
                self.hasher = Some(hasher);
            }
        }
        Ok(())
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        self.stop();
    }
}
