//! What can go wrong while watching, with the fix in each message.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(
        "cannot watch `{}`: inotify watch limit reached (fs.inotify.max_user_watches = {}, \
         {watched} directories watched by hot so far); raise it with sysctl \
         (`sudo sysctl fs.inotify.max_user_watches=524288`) or add ignores",
        dir.display(),
        limit.map_or_else(|| "?".to_string(), |l| l.to_string())
    )]
    WatchLimit {
        dir: PathBuf,
        limit: Option<u64>,
        watched: usize,
    },
    #[error(
        "cannot start the file watcher: too many inotify instances \
         (fs.inotify.max_user_instances = {}) or open files; close other watchers, raise the \
         limit with sysctl, or use polling",
        limit.map_or_else(|| "?".to_string(), |l| l.to_string())
    )]
    InstanceLimit { limit: Option<u64> },
    #[error("cannot start the file watcher: {}", notify_why(.0))]
    Init(#[source] notify::Error),
    #[error("cannot watch `{}`: {source}", dir.display())]
    Watch {
        dir: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("cannot watch the project root `{}`: {source}", root.display())]
    Root {
        root: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the watcher thread: {}", crate::shim::why(.0))]
    Thread(#[source] io::Error),
    /// The start-up walk was called off (hot is stopping): nothing to tell the user.
    #[error("the start-up walk was called off")]
    Cancelled,
}

/// notify's error, in words a user can act on where the system refused a thread.
fn notify_why(error: &notify::Error) -> String {
    match &error.kind {
        notify::ErrorKind::Io(io) => crate::shim::why(io),
        _ => error.to_string(),
    }
}

pub(super) fn read_limit(name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/fs/inotify/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub(super) fn watch_error(dir: &Path, err: notify::Error, watched: usize) -> WatchError {
    match err.kind {
        notify::ErrorKind::MaxFilesWatch => WatchError::WatchLimit {
            dir: dir.to_path_buf(),
            limit: read_limit("max_user_watches"),
            watched,
        },
        _ => WatchError::Watch {
            dir: dir.to_path_buf(),
            source: err,
        },
    }
}

#[cfg(unix)]
pub(super) const EMFILE: i32 = libc::EMFILE;
#[cfg(not(unix))]
pub(super) const EMFILE: i32 = 24;
