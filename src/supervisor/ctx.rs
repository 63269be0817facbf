//! What an instance's watchers (the monitor, the output readers, the `ready` kinds and the
//! `NOTIFY_SOCKET` reader) share: who to tell about it, and the [`Gate`] that lets exactly one
//! `Ready` or `ReadyTimedOut` through, never after its reap.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use tokio::sync::{Notify, mpsc};

use super::excerpt::Excerpt;
use crate::engine::{Event, Generation};
use crate::model::NodeId;
use crate::report::Reporter;

/// Who to tell about an instance.
#[derive(Clone)]
pub(super) struct Ctx {
    pub(super) node: NodeId,
    pub(super) generation: Generation,
    pub(super) name: String,
    pub(super) events: mpsc::UnboundedSender<Event>,
    pub(super) reporter: Reporter,
    pub(super) hints: crate::hint::Hints,
    /// A service's pid is told (the status view shows it); a task's is not, so a task's
    /// events do not depend on when its keeper's report is read.
    pub(super) service: bool,
    pub(super) gate: Arc<Gate>,
    /// This instance's own output as its exit report shows it (errors and last lines).
    pub(super) excerpt: Arc<std::sync::Mutex<Excerpt>>,
}

impl Ctx {
    pub(super) fn remember(&self, line: &str) {
        let mut excerpt = self.excerpt.lock().unwrap_or_else(|e| e.into_inner());
        excerpt.push(line);
    }

    pub(super) fn last_lines(&self) -> Vec<String> {
        let excerpt = self.excerpt.lock().unwrap_or_else(|e| e.into_inner());
        excerpt.lines()
    }

    /// The instance is ready: `Event::Ready`, unless it was already settled or reaped.
    pub(super) fn ready(&self) {
        if self.gate.settle() {
            let _ = self.events.send(Event::Ready {
                node: self.node,
                generation: self.generation,
            });
        }
    }

    /// No readiness came in time: `Event::ReadyTimedOut`, unless already settled or reaped.
    pub(super) fn ready_timed_out(&self) {
        if self.gate.settle() {
            let _ = self.events.send(Event::ReadyTimedOut {
                node: self.node,
                generation: self.generation,
            });
        }
    }
}

/// One instance's readiness and liveness, decided once; and whether its output readers must
/// hurry (see [`Gate::hurry`]).
pub(super) struct Gate {
    /// `PENDING`, `SETTLED` or `REAPED`.
    state: AtomicU8,
    hurried: AtomicBool,
    hurry: Notify,
}

const PENDING: u8 = 0;
const SETTLED: u8 = 1;
const REAPED: u8 = 2;

impl Gate {
    pub(super) fn new() -> Gate {
        Gate {
            state: AtomicU8::new(PENDING),
            hurried: AtomicBool::new(false),
            hurry: Notify::new(),
        }
    }
    /// Claims the one `Ready`/`ReadyTimedOut` event; false if already sent or reaped.
    fn settle(&self) -> bool {
        self.state
            .compare_exchange(PENDING, SETTLED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
    pub(super) fn pending(&self) -> bool {
        self.state.load(Ordering::SeqCst) == PENDING
    }
    pub(super) fn reap(&self) {
        self.state.store(REAPED, Ordering::SeqCst);
    }
    pub(super) fn reaped(&self) -> bool {
        self.state.load(Ordering::SeqCst) == REAPED
    }

    /// The readers' time to read what is left is up: they wait for the reporter no more.
    pub(super) fn hurry(&self) {
        self.hurried.store(true, Ordering::SeqCst);
        self.hurry.notify_waiters();
    }

    /// Runs `wait` until it ends or [`Gate::hurry`] is called, whichever comes first.
    pub(super) async fn unless_hurried(&self, wait: impl Future<Output = ()>) {
        let hurried = self.hurry.notified();
        tokio::pin!(hurried);
        // Registered before the check, so a hurry between the two is not missed.
        hurried.as_mut().enable();
        if !self.hurried.load(Ordering::SeqCst) {
            tokio::select! {
                () = wait => {}
                () = hurried => {}
            }
        }
    }
}
