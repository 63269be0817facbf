//! Readiness: when an instance counts as ready. One function per `ready` kind (`delay`, `log`,
//! `notify`) and the timeout; the [`super::ctx::Gate`] lets exactly one `Ready` or
//! `ReadyTimedOut` through per instance, never after its reap. The monitor and the output
//! readers in `unix` call these; `notify` holds the `NOTIFY_SOCKET` itself.

use std::time::Duration;

use tokio::time::Instant;

use super::clock::later;
use super::ctx::Ctx;
use super::notify::NotifySocket;
use super::spawn_error::SpawnError;
use crate::engine::Generation;
use crate::model::{NodeId, Ready};

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

/// `ready "notify"`: the instance's private `NOTIFY_SOCKET`, before the spawn; its path goes
/// into the command's environment. Once spawned, `NotifySocket::listen` waits for `READY=1`.
pub(super) fn notify(
    ready: Option<&Ready>,
    node: NodeId,
    generation: Generation,
) -> Result<Option<NotifySocket>, SpawnError> {
    if !matches!(ready, Some(Ready::Notify)) {
        return Ok(None);
    }
    let socket =
        NotifySocket::create(node, generation).map_err(|error| SpawnError::NotifySocket {
            dir: std::env::temp_dir(),
            error,
        })?;
    Ok(Some(socket))
}
