//! Time arithmetic for the supervisor's timers, which must never panic.

use std::time::Duration;

use tokio::time::Instant;

/// Never: a timer that is not armed sleeps until then.
pub(super) const FAR: Duration = Duration::from_secs(86400 * 365);

/// `at + d`, or as late as representable: time arithmetic must never panic, whatever
/// durations reach it.
pub(super) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}
