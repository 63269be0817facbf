//! The debouncer: a pure state machine over `(time, event)` inputs, so its policy is unit-tested
//! without sleeps. The watcher thread feeds it and sleeps until [`Debouncer::deadline`].
//!
//! Policy: trailing-edge quiet window. The window opens at the first event of a burst (no fixed
//! tick, so a lone save is reported `quiet` after it) and restarts on every event; a burst
//! closes once `quiet` passes without events, or at the latest `max_delay` after its first
//! event, so a continuous stream still produces a wave at least that often.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Rescans are never closer together than this, so a watcher that keeps overflowing (or a
/// directory that keeps failing) cannot pin a core with back-to-back re-walks.
const RESCAN_COOLDOWN_MIN: Duration = Duration::from_millis(500);

/// One closed burst.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Candidate paths (relative to the root), sorted and deduplicated. Candidates only: the
    /// caller still checks whether their content changed.
    pub paths: BTreeSet<PathBuf>,
    /// Events were lost (overflow, watcher error, changed ignore rules): re-walk everything.
    pub rescan: bool,
}

#[derive(Debug)]
pub struct Debouncer {
    quiet: Duration,
    max_delay: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
    pending: Batch,
    rescan_not_before: Option<Instant>,
}

impl Debouncer {
    pub fn new(quiet: Duration, max_delay: Duration) -> Self {
        Debouncer {
            quiet,
            // A cap below the quiet window would make the window meaningless.
            max_delay: max_delay.max(quiet),
            first: None,
            last: None,
            pending: Batch::default(),
            rescan_not_before: None,
        }
    }

    fn touch(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        // Events stamped on another thread can arrive slightly out of order.
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
    }

    /// A candidate path changed at `now`.
    pub fn push(&mut self, now: Instant, path: PathBuf) {
        self.touch(now);
        self.pending.paths.insert(path);
    }

    /// Events were lost at `now`: the next batch must rescan.
    pub fn push_rescan(&mut self, now: Instant) {
        self.touch(now);
        self.pending.rescan = true;
    }

    /// True when something is waiting.
    pub fn is_pending(&self) -> bool {
        self.first.is_some()
    }

    /// When the pending burst closes; `None` when nothing is pending.
    pub fn deadline(&self) -> Option<Instant> {
        let first = self.first?;
        let last = self.last.unwrap_or(first);
        let close = (last + self.quiet).min(first + self.max_delay);
        Some(match (self.pending.rescan, self.rescan_not_before) {
            (true, Some(not_before)) => close.max(not_before),
            _ => close,
        })
    }

    /// True when the pending burst has been open for `max_delay`: it must close even if events
    /// are still queued.
    pub fn capped(&self, now: Instant) -> bool {
        self.first.is_some_and(|f| now >= f + self.max_delay) && !self.cooling_down(now)
    }

    fn cooling_down(&self, now: Instant) -> bool {
        self.pending.rescan && self.rescan_not_before.is_some_and(|nb| now < nb)
    }

    /// The pending burst, if its deadline has passed.
    pub fn take(&mut self, now: Instant) -> Option<Batch> {
        if now < self.deadline()? {
            return None;
        }
        self.first = None;
        self.last = None;
        Some(std::mem::take(&mut self.pending))
    }

    /// A rescan finished at `now` after taking `took`: hold the next one off for a while
    /// (proportional to its cost, so a huge tree cannot spend most of its time rescanning).
    pub fn rescanned(&mut self, now: Instant, took: Duration) {
        self.rescan_not_before = Some(now + (took * 4).max(RESCAN_COOLDOWN_MIN));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Duration = Duration::from_millis(10);
    const CAP: Duration = Duration::from_secs(2);

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    fn paths(b: &Batch) -> Vec<&str> {
        b.paths.iter().map(|p| p.to_str().unwrap()).collect()
    }

    #[test]
    fn idle_has_no_deadline() {
        let mut d = Debouncer::new(Q, CAP);
        assert_eq!(d.deadline(), None);
        assert_eq!(d.take(Instant::now()), None);
        assert!(!d.is_pending());
    }

    #[test]
    fn single_event_closes_one_quiet_window_after_it() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        d.push(t0, "a.rs".into());
        assert_eq!(d.deadline(), Some(ms(t0, 10)));
        assert_eq!(d.take(ms(t0, 9)), None);
        let b = d.take(ms(t0, 10)).unwrap();
        assert_eq!(paths(&b), ["a.rs"]);
        assert!(!b.rescan);
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn events_inside_the_window_extend_it_and_dedupe() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        d.push(t0, "b.rs".into());
        d.push(ms(t0, 5), "a.rs".into());
        d.push(ms(t0, 12), "b.rs".into());
        assert_eq!(d.deadline(), Some(ms(t0, 22)));
        assert_eq!(d.take(ms(t0, 21)), None);
        let b = d.take(ms(t0, 22)).unwrap();
        assert_eq!(paths(&b), ["a.rs", "b.rs"]);
    }

    #[test]
    fn continuous_stream_is_capped_at_max_delay() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, Duration::from_millis(100));
        // One event every 5 ms for 300 ms: never quiet.
        let mut waves = vec![];
        for i in 0..60u64 {
            let now = ms(t0, i * 5);
            if let Some(b) = d.take(now) {
                waves.push((i * 5, b.paths.len()));
            }
            d.push(now, format!("f{i}").into());
            assert!(d.deadline().unwrap() <= now + Q);
        }
        assert_eq!(waves, [(100, 20), (200, 20)]);
    }

    #[test]
    fn cap_is_reported_for_a_backlog() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, Duration::from_millis(50));
        d.push(t0, "a".into());
        assert!(!d.capped(ms(t0, 49)));
        assert!(d.capped(ms(t0, 50)));
    }

    #[test]
    fn burst_of_thousands_is_one_batch() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        for i in 0..5000u64 {
            // 5,000 events in one second, ~0.2 ms apart.
            let now = t0 + Duration::from_micros(i * 200);
            assert_eq!(d.take(now), None);
            d.push(now, format!("f{i}").into());
        }
        let end = t0 + Duration::from_micros(4999 * 200);
        assert_eq!(d.deadline(), Some(end + Q));
        assert_eq!(d.take(end + Q).unwrap().paths.len(), 5000);
    }

    #[test]
    fn rescan_flag_travels_and_cools_down() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        d.push_rescan(t0);
        let b = d.take(ms(t0, 10)).unwrap();
        assert!(b.rescan && b.paths.is_empty());
        d.rescanned(ms(t0, 20), Duration::from_millis(10));
        // The next rescan waits for the cool-down (500 ms minimum).
        d.push_rescan(ms(t0, 30));
        assert_eq!(d.deadline(), Some(ms(t0, 520)));
        assert!(!d.capped(ms(t0, 100)));
        assert_eq!(d.take(ms(t0, 100)), None);
        assert!(d.take(ms(t0, 520)).unwrap().rescan);
        // Plain paths are not held back by the cool-down.
        d.push(ms(t0, 600), "x".into());
        assert_eq!(d.deadline(), Some(ms(t0, 610)));
    }

    #[test]
    fn out_of_order_stamps_do_not_shrink_the_window() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        d.push(ms(t0, 5), "a".into());
        d.push(ms(t0, 3), "b".into());
        assert_eq!(d.deadline(), Some(ms(t0, 15)));
    }
}
