//! What the watcher thread is sent: notify's events, and requests from the handle and from
//! its own helper threads.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Instant, SystemTime};

use super::config::{Ignore, Relevance};

/// One message on the watcher thread's channel.
pub(super) enum Msg {
    /// An event, when it came, and whether its source reports a close after each write
    /// (inotify does: `debounce` then waits for a file being written to be closed).
    Event {
        at: Instant,
        closes: bool,
        ev: notify::Result<notify::Event>,
    },
    SetRelevant {
        relevant: Relevance,
        /// The new common `ignore`, if it changed with the Hotfile.
        ignore: Option<Ignore>,
        /// When the caller asked: the ctime bound of a background baseline.
        asked: SystemTime,
        request: u64,
        done: mpsc::Sender<()>,
    },
    /// A link's tree outside the project was counted off this thread: follow it or warn.
    Scouted {
        link: PathBuf,
        target: PathBuf,
        fits: bool,
    },
    /// Everything sent before a cut has come, from one sender (see `Watches::cut`).
    Cut,
    Stop,
}
