//! Readiness: when an instance counts as ready. One function per `ready` kind (`delay`, `log`,
//! `notify`), the timeout, and the [`Gate`] that lets exactly one `Ready` or `ReadyTimedOut`
//! through per instance, never after its reap. The monitor and the output readers in `unix`
//! call these; `notify` holds the `NOTIFY_SOCKET` itself.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::notify::NotifySocket;
use super::spawn_error::SpawnError;
use super::unix::{Ctx, later};
use crate::engine::{Event, Generation};
use crate::model::{NodeId, Ready};

/// One instance's readiness and liveness, decided once.
pub(super) struct Gate(AtomicU8);

const PENDING: u8 = 0;
const SETTLED: u8 = 1;
const REAPED: u8 = 2;

impl Gate {
    pub(super) fn new() -> Gate {
        Gate(AtomicU8::new(PENDING))
    }
    /// Claims the one `Ready`/`ReadyTimedOut` event; false if already sent or reaped.
    fn settle(&self) -> bool {
        self.0
            .compare_exchange(PENDING, SETTLED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
    pub(super) fn pending(&self) -> bool {
        self.0.load(Ordering::SeqCst) == PENDING
    }
    pub(super) fn reap(&self) {
        self.0.store(REAPED, Ordering::SeqCst);
    }
    pub(super) fn reaped(&self) -> bool {
        self.0.load(Ordering::SeqCst) == REAPED
    }
}

impl Ctx {
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

/// `ready delay`: when the instance started at `started` counts as ready (the monitor fires
/// it if the leader is still alive then).
pub(super) fn delay(ready: Option<&Ready>, started: Instant) -> Option<Instant> {
    match ready {
        Some(Ready::Delay(d)) => Some(later(started, *d)),
        _ => None,
    }
}

/// Any `ready`: when the instance counts as timed out.
pub(super) fn deadline(
    ready: Option<&Ready>,
    started: Instant,
    timeout: Duration,
) -> Option<Instant> {
    ready.is_some().then(|| later(started, timeout))
}

/// `ready log`: the pattern each output line is matched against (see [`log_line`]).
pub(super) fn log(ready: Option<&Ready>) -> Option<regex::Regex> {
    match ready {
        Some(Ready::Log(regex)) => Some(regex.clone()),
        _ => None,
    }
}

/// `ready log`: one line of output, whole or the part so far; ready on the first match.
pub(super) fn log_line(ctx: &Ctx, log: Option<&regex::Regex>, line: &str) {
    if let Some(regex) = log
        && ctx.gate.pending()
        && regex.is_match(line)
    {
        ctx.ready();
    }
}

/// `ready "notify"`: the instance's private `NOTIFY_SOCKET`, before the spawn, its path set in
/// the command's environment. Once spawned, `NotifySocket::listen` waits for `READY=1`.
pub(super) fn notify(
    ready: Option<&Ready>,
    node: NodeId,
    generation: Generation,
    cmd: &mut tokio::process::Command,
) -> Result<Option<NotifySocket>, SpawnError> {
    if !matches!(ready, Some(Ready::Notify)) {
        return Ok(None);
    }
    let socket =
        NotifySocket::create(node, generation).map_err(|error| SpawnError::NotifySocket {
            dir: std::env::temp_dir(),
            error,
        })?;
    cmd.env("NOTIFY_SOCKET", &socket.path);
    Ok(Some(socket))
}
