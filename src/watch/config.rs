//! How a project is watched: the public [`WatchConfig`] and the internal tuning constants.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Up to this many tracked files are hashed synchronously, before [`super::Watcher::start`] (or
/// [`super::Watcher::set_relevant`]) returns: ordinary projects get an exact baseline at once
/// (~10 µs a file, so ~40 ms at most). Bigger trees are hashed in the background.
pub(super) const SYNC_HASH_MAX: usize = 4096;

/// A background baseline is only taken from a file whose ctime is this much older than the
/// request: covers coarse kernel timestamps (a jiffy; 2 s on FAT) and small clock steps.
pub(super) const CTIME_MARGIN: Duration = Duration::from_secs(3);

/// From this many tracked files on, the baseline takes old contents from git's index (see
/// `gitindex`): asking git for its configuration costs a few milliseconds, the reads it saves
/// ~10 µs each.
pub(super) const INDEX_MIN: usize = 1024;

/// Full walks read the tree down to this depth on one thread, then split the subtrees below it
/// between the native watcher instances (one thread each; see `watches::Watches::walk_root`).
pub(super) const SPLIT_DEPTH: usize = 2;

/// Native watcher instances, each with its own event thread, and one walker thread each in a
/// full walk: reading directories on two cores halves the walk. (With notify 8's own inotify
/// watcher, which adds a watch by a round trip to its thread, a single walker took ~0.5 s for
/// 11,000 directories on a 2-core VM and two took ~0.05 s; `native` adds watches directly.)
pub(super) const NATIVE_INSTANCES: usize = 2;

/// Directories past the kernel's inotify watch limit are polled this often.
pub(super) const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// While directories are polled, a native watch is tried again this often: raising the limit
/// while hot runs moves them back to inotify.
pub(super) const FALLBACK_RETRY: Duration = Duration::from_secs(2);

/// Knobs the tests turn; production uses [`Tuning::default`].
#[derive(Debug, Clone)]
pub(super) struct Tuning {
    pub sync_hash_max: usize,
    pub ctime_margin: Duration,
    pub index_min: usize,
    pub fallback_poll: Duration,
    pub fallback_retry: Duration,
    /// While true, native watches fail as if the kernel's watch limit were reached.
    pub refuse_watches: Option<Arc<AtomicBool>>,
    /// The longest git's index lock holds a burst (see `vcs`).
    pub vcs_hold_max: Duration,
    /// How long a git sequence (a rebase, ...) may show no progress and still hold a burst.
    pub vcs_stall: Duration,
    /// The longest a burst is held past those for a git that still runs (see `vcs`).
    pub vcs_run_max: Duration,
    /// Stops the native readers after a hand-off while armed (see `native::Pause`).
    #[cfg(target_os = "linux")]
    pub pause_readers: Option<Arc<super::native::Pause>>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            sync_hash_max: SYNC_HASH_MAX,
            ctime_margin: CTIME_MARGIN,
            index_min: INDEX_MIN,
            fallback_poll: FALLBACK_POLL,
            fallback_retry: FALLBACK_RETRY,
            refuse_watches: None,
            vcs_hold_max: super::vcs::HOLD_MAX,
            vcs_stall: super::vcs::STALL,
            vcs_run_max: super::vcs::RUN_MAX,
            #[cfg(target_os = "linux")]
            pause_readers: None,
        }
    }
}

/// Relative path (with `/` separators) → some node watches it.
pub type Relevance = Arc<dyn Fn(&Path) -> bool + Send + Sync>;

/// What hot never walks, watches or reads, as `.gitignore` does: the Hotfile's `ignore`
/// globs that apply to every node. A file is left out when a glob matches it; a directory
/// when a glob matches it or one ending in `/**` matches it without that ending (`dbdata/**`
/// leaves out `dbdata` itself, so it is never even opened).
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    files: Option<globset::GlobSet>,
    dirs: Option<globset::GlobSet>,
}

impl Ignore {
    /// Globs as the Hotfile writes them (validated there; one that fails here is skipped,
    /// which only watches more).
    pub(crate) fn new(globs: &[String]) -> Ignore {
        let build = |texts: &mut dyn Iterator<Item = &str>| {
            let mut set = globset::GlobSetBuilder::new();
            let mut any = false;
            for text in texts {
                if let Ok(g) = globset::GlobBuilder::new(text)
                    .literal_separator(true)
                    .build()
                {
                    set.add(g);
                    any = true;
                }
            }
            any.then(|| set.build().ok()).flatten()
        };
        Ignore {
            files: build(&mut globs.iter().map(String::as_str)),
            dirs: build(&mut globs.iter().filter_map(|g| g.strip_suffix("/**"))),
        }
    }

    /// True when it leaves nothing out (the Hotfile has no common `ignore`).
    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_none() && self.dirs.is_none()
    }

    /// True when hot leaves `rel` (relative, `/` separators) out; `dir`: it is a directory.
    pub(crate) fn is_ignored(&self, rel: &Path, dir: bool) -> bool {
        self.files.as_ref().is_some_and(|s| s.is_match(rel))
            || (dir && self.dirs.as_ref().is_some_and(|s| s.is_match(rel)))
    }
}

/// How to watch a project.
#[derive(Clone)]
pub struct WatchConfig {
    /// Project root (absolute; a relative one is taken from the current directory).
    pub root: PathBuf,
    /// Quiet window that closes a burst.
    pub debounce: Duration,
    /// A continuous stream of events still yields a wave at least this often.
    pub max_delay: Duration,
    /// `Some(interval)`: poll instead of using the OS notification API (NFS, WSL `/mnt`,
    /// Docker bind mounts).
    pub poll: Option<Duration>,
    /// Relative path → some node watches it. Only relevant files are hashed and reported.
    pub relevant: Relevance,
    /// Relative paths reported whenever their content changes, relevant or not (the Hotfile).
    pub always: Vec<PathBuf>,
    /// What is never walked, watched or read (see [`Ignore`]).
    pub ignore: Ignore,
}

impl WatchConfig {
    /// The defaults: 10 ms debounce, 2 s cap, native notifications, nothing relevant.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WatchConfig {
            root: root.into(),
            debounce: Duration::from_millis(10),
            max_delay: Duration::from_secs(2),
            poll: None,
            relevant: Arc::new(|_: &Path| false),
            always: Vec::new(),
            ignore: Ignore::default(),
        }
    }
}

impl std::fmt::Debug for WatchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchConfig")
            .field("root", &self.root)
            .field("debounce", &self.debounce)
            .field("max_delay", &self.max_delay)
            .field("poll", &self.poll)
            .field("always", &self.always)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::Ignore;
    use std::path::Path;

    #[test]
    fn ignore_prunes_the_directory_of_a_glob_ending_in_double_star() {
        let ignore = Ignore::new(&["dbdata/**".into(), "**/*.tmp".into()]);
        let is = |p: &str, dir| ignore.is_ignored(Path::new(p), dir);
        assert!(is("dbdata", true));
        assert!(is("dbdata/x/y", false));
        assert!(!is("dbdata", false), "a file named dbdata is not under it");
        assert!(is("src/a.tmp", false));
        assert!(!is("src", true));
        assert!(!is("src/dbdata", true), "globs are anchored at the root");
        assert!(!Ignore::default().is_ignored(Path::new("x"), true));
    }
}
