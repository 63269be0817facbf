//! The debouncer: a pure state machine over `(time, event)` inputs, so its policy is unit-tested
//! without sleeps. The watcher thread feeds it and sleeps until [`Debouncer::deadline`].
//!
//! Policy: a write is complete once its file is closed after writing, renamed into place,
//! deleted, or had its metadata set; only a burst needs a quiet window. So a burst closes
//! [`SETTLE`] after its last event while it is one *settled* file: a single path (files created
//! and gone again within the burst, an editor's temporary, do not count) whose last event
//! completed a write. The short settle lets the events of one save (an atomic save's rename
//! pair, a close followed by a `chmod`) land in one batch, and tells a lone save from the first
//! file of a burst. Anything else (a second path, a write not closed yet, a batch that begins
//! within the quiet window after the previous one, as the next files of a slow burst do)
//! waits for the quiet window, which restarts on every event. Either way a burst closes at the latest `max_delay`
//! after its first event, so a continuous stream still produces a wave at least that often.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Rescans are never closer together than this, so a watcher that keeps overflowing (or a
/// directory that keeps failing) cannot pin a core with back-to-back re-walks.
const RESCAN_COOLDOWN_MIN: Duration = Duration::from_millis(500);

/// How long a settled lone save waits for more events (capped by the quiet window): long
/// enough for the events of one save to arrive together (microseconds apart), short beside
/// the run it starts. A writer of a burst that pauses longer than this right after its first
/// file makes that file a wave of its own.
pub const SETTLE: Duration = Duration::from_millis(1);

/// What an event says about its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The file was created: its content is probably still being written.
    Created,
    /// Its content was modified, and the write may go on (no close yet).
    Written,
    /// It was closed after writing: that write is complete (the content may be unchanged,
    /// `touch` opens for writing too).
    Closed,
    /// Its content was put in place at once: renamed to this name, or found by a walk.
    Placed,
    /// It went away: deleted, or renamed to another name.
    Gone,
    /// Only its metadata changed (times, permissions): complete.
    Metadata,
}

impl Kind {
    fn completes(self) -> bool {
        !matches!(self, Kind::Created | Kind::Written)
    }

    fn content(self) -> bool {
        !matches!(self, Kind::Closed | Kind::Metadata)
    }
}

/// What the open burst saw of one path.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// Its first event in the burst created it.
    born: bool,
    /// Some event may have changed its content (not only metadata, not only a close).
    content: bool,
    last: Kind,
}

impl Seen {
    /// Created and gone again within the burst: an editor's temporary, not a file the burst
    /// is about.
    fn transient(&self) -> bool {
        self.born && self.last == Kind::Gone
    }
}

/// One closed burst.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Candidate paths (relative to the root), sorted and deduplicated. Candidates only: the
    /// caller still checks whether their content changed.
    pub paths: BTreeSet<PathBuf>,
    /// The candidates whose events in this burst were all metadata-only (a `touch`, a
    /// `chmod`, a close without a write): the caller counts one as changed when its content
    /// changed or its modification time moved.
    pub metadata_only: BTreeSet<PathBuf>,
    /// Events were lost (overflow, watcher error, changed ignore rules): re-walk everything.
    pub rescan: bool,
}

#[derive(Debug)]
pub struct Debouncer {
    quiet: Duration,
    settle: Duration,
    max_delay: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
    seen: BTreeMap<PathBuf, Seen>,
    /// The last event of the previous batch: a batch that begins less than `quiet` after it
    /// continues a burst (a writer slower than `SETTLE` per file), so it is not settled.
    prev_last: Option<Instant>,
    rescan: bool,
    rescan_not_before: Option<Instant>,
}

/// `at + d`; `None` past what an `Instant` can hold (a window that long never ends).
fn after(at: Instant, d: Duration) -> Option<Instant> {
    at.checked_add(d)
}

impl Debouncer {
    pub fn new(quiet: Duration, max_delay: Duration) -> Self {
        Debouncer {
            quiet,
            settle: SETTLE.min(quiet),
            // A cap below the quiet window would make the window meaningless.
            max_delay: max_delay.max(quiet),
            first: None,
            last: None,
            seen: BTreeMap::new(),
            prev_last: None,
            rescan: false,
            rescan_not_before: None,
        }
    }

    fn touch(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        // Events stamped on another thread can arrive slightly out of order.
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
    }

    /// An event of `kind` on a candidate path at `now`.
    pub fn push(&mut self, now: Instant, path: PathBuf, kind: Kind) {
        self.touch(now);
        let seen = self.seen.entry(path).or_insert(Seen {
            born: kind == Kind::Created,
            content: false,
            last: kind,
        });
        seen.content |= kind.content();
        seen.last = kind;
    }

    /// Events were lost at `now`: the next batch must rescan.
    pub fn push_rescan(&mut self, now: Instant) {
        self.touch(now);
        self.rescan = true;
    }

    /// True when something is waiting.
    pub fn is_pending(&self) -> bool {
        self.first.is_some()
    }

    /// One path (transients aside) whose last event completed its write, and nothing else,
    /// begun a quiet window after the previous batch.
    fn settled(&self) -> bool {
        if self.rescan {
            return false;
        }
        if let (Some(prev), Some(first)) = (self.prev_last, self.first)
            && after(prev, self.quiet).is_none_or(|end| first < end)
        {
            return false;
        }
        let mut lasting = self.seen.values().filter(|s| !s.transient());
        match (lasting.next(), lasting.next()) {
            (Some(one), None) => one.last.completes(),
            // Only transients: nothing the burst is about is still being written.
            (None, _) => true,
            (Some(_), Some(_)) => false,
        }
    }

    /// When the pending burst closes; `None` when nothing is pending.
    pub fn deadline(&self) -> Option<Instant> {
        let first = self.first?;
        let last = self.last.unwrap_or(first);
        let window = if self.settled() {
            self.settle
        } else {
            self.quiet
        };
        let close = match (after(last, window), after(first, self.max_delay)) {
            (Some(a), Some(b)) => a.min(b),
            // Both past the representable: close now rather than never (a close loses no
            // event; it only splits a burst).
            (a, b) => a.or(b).unwrap_or(last),
        };
        Some(match (self.rescan, self.rescan_not_before) {
            (true, Some(not_before)) => close.max(not_before),
            _ => close,
        })
    }

    /// True when the pending burst has been open for `max_delay`: it must close even if events
    /// are still queued.
    pub fn capped(&self, now: Instant) -> bool {
        self.first
            .and_then(|f| after(f, self.max_delay))
            .is_some_and(|cap| now >= cap)
            && !self.cooling_down(now)
    }

    fn cooling_down(&self, now: Instant) -> bool {
        self.rescan && self.rescan_not_before.is_some_and(|nb| now < nb)
    }

    /// The pending burst, if its deadline has passed.
    pub fn take(&mut self, now: Instant) -> Option<Batch> {
        if now < self.deadline()? {
            return None;
        }
        self.first = None;
        self.prev_last = self.last.take();
        let mut batch = Batch {
            rescan: std::mem::take(&mut self.rescan),
            ..Batch::default()
        };
        for (path, seen) in std::mem::take(&mut self.seen) {
            if !seen.content {
                batch.metadata_only.insert(path.clone());
            }
            batch.paths.insert(path);
        }
        Some(batch)
    }

    /// A rescan finished at `now` after taking `took`: hold the next one off for a while
    /// (proportional to its cost, so a huge tree cannot spend most of its time rescanning).
    pub fn rescanned(&mut self, now: Instant, took: Duration) {
        let hold = took.saturating_mul(4).max(RESCAN_COOLDOWN_MIN);
        self.rescan_not_before = after(now, hold);
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

    fn us(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_micros(n)
    }

    fn paths(b: &BTreeSet<PathBuf>) -> Vec<&str> {
        b.iter().map(|p| p.to_str().unwrap()).collect()
    }

    #[test]
    fn idle_has_no_deadline() {
        let mut d = Debouncer::new(Q, CAP);
        assert_eq!(d.deadline(), None);
        assert_eq!(d.take(Instant::now()), None);
        assert!(!d.is_pending());
    }

    #[test]
    fn a_write_not_closed_waits_one_quiet_window() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        d.push(t0, "a.rs".into(), Kind::Written);
        assert_eq!(d.deadline(), Some(ms(t0, 10)));
        assert_eq!(d.take(ms(t0, 9)), None);
        let b = d.take(ms(t0, 10)).unwrap();
        assert_eq!(paths(&b.paths), ["a.rs"]);
        assert!(!b.rescan);
        assert!(b.metadata_only.is_empty());
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn a_plain_save_closes_one_settle_after_its_close() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        // open(O_TRUNC), write, close.
        d.push(t0, "a.rs".into(), Kind::Written);
        d.push(us(t0, 50), "a.rs".into(), Kind::Written);
        assert_eq!(d.deadline(), Some(us(t0, 10_050)));
        d.push(us(t0, 80), "a.rs".into(), Kind::Closed);
        assert_eq!(d.deadline(), Some(us(t0, 1_080)));
        assert_eq!(d.take(us(t0, 1_079)), None);
        let b = d.take(us(t0, 1_080)).unwrap();
        assert_eq!(paths(&b.paths), ["a.rs"]);
        assert!(b.metadata_only.is_empty(), "a rewrite is a content event");
    }

    #[test]
    fn an_atomic_save_settles_on_the_rename_and_its_temporary_does_not_count() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        d.push(t0, "a.rs.tmp".into(), Kind::Created);
        d.push(us(t0, 10), "a.rs.tmp".into(), Kind::Written);
        d.push(us(t0, 20), "a.rs.tmp".into(), Kind::Closed);
        // Two paths, one of them still the write's: a burst so far.
        d.push(us(t0, 30), "a.rs.tmp".into(), Kind::Gone);
        d.push(us(t0, 30), "a.rs".into(), Kind::Placed);
        assert_eq!(d.deadline(), Some(us(t0, 1_030)));
        let b = d.take(us(t0, 1_030)).unwrap();
        assert_eq!(paths(&b.paths), ["a.rs", "a.rs.tmp"]);
    }

    #[test]
    fn a_second_file_makes_it_a_burst_with_the_quiet_window() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        d.push(t0, "a.rs".into(), Kind::Written);
        d.push(us(t0, 10), "a.rs".into(), Kind::Closed);
        assert_eq!(d.deadline(), Some(us(t0, 1_010)));
        d.push(us(t0, 200), "b.rs".into(), Kind::Written);
        d.push(us(t0, 210), "b.rs".into(), Kind::Closed);
        assert_eq!(d.deadline(), Some(us(t0, 10_210)));
        assert_eq!(d.take(us(t0, 1_500)), None);
        assert_eq!(d.take(us(t0, 10_210)).unwrap().paths.len(), 2);
    }

    #[test]
    fn a_created_file_waits_for_its_close() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        d.push(t0, "new.rs".into(), Kind::Created);
        assert_eq!(d.deadline(), Some(ms(t0, 10)));
        d.push(ms(t0, 3), "new.rs".into(), Kind::Closed);
        assert_eq!(d.deadline(), Some(ms(t0, 4)));
    }

    #[test]
    fn deletions_and_walked_files_are_complete() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        d.push(t0, "gone.rs".into(), Kind::Gone);
        assert_eq!(d.deadline(), Some(ms(t0, 1)));
        d.take(ms(t0, 1)).unwrap();
        d.push(ms(t0, 20), "found.rs".into(), Kind::Placed);
        assert_eq!(d.deadline(), Some(ms(t0, 21)));
    }

    #[test]
    fn touches_are_metadata_only_and_a_rewrite_is_not() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        // `touch` (GNU): open for writing, set the times, close; `os.utime`: the times only.
        d.push(t0, "touched.rs".into(), Kind::Metadata);
        d.push(us(t0, 5), "touched.rs".into(), Kind::Closed);
        assert_eq!(d.deadline(), Some(us(t0, 1_005)));
        d.push(us(t0, 10), "utimed.rs".into(), Kind::Metadata);
        d.push(us(t0, 20), "rewritten.rs".into(), Kind::Written);
        d.push(us(t0, 30), "rewritten.rs".into(), Kind::Closed);
        d.push(us(t0, 40), "rewritten.rs".into(), Kind::Metadata);
        let b = d.take(us(t0, 10_040)).unwrap();
        assert_eq!(paths(&b.paths), ["rewritten.rs", "touched.rs", "utimed.rs"]);
        assert_eq!(paths(&b.metadata_only), ["touched.rs", "utimed.rs"]);
    }

    #[test]
    fn settle_is_capped_by_the_quiet_window() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::ZERO, CAP);
        d.push(t0, "a.rs".into(), Kind::Closed);
        assert_eq!(d.deadline(), Some(t0));
        let mut d = Debouncer::new(Duration::from_micros(300), CAP);
        d.push(t0, "a.rs".into(), Kind::Written);
        d.push(t0, "a.rs".into(), Kind::Closed);
        assert_eq!(d.deadline(), Some(us(t0, 300)));
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
            d.push(now, format!("f{i}").into(), Kind::Written);
            assert!(d.deadline().unwrap() <= now + Q);
        }
        assert_eq!(waves, [(100, 20), (200, 20)]);
    }

    #[test]
    fn cap_is_reported_for_a_backlog() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, Duration::from_millis(50));
        d.push(t0, "a".into(), Kind::Written);
        assert!(!d.capped(ms(t0, 49)));
        assert!(d.capped(ms(t0, 50)));
    }

    #[test]
    fn burst_of_thousands_of_closed_writes_is_one_batch() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        for i in 0..5000u64 {
            // 5,000 files rewritten in one second, each closed ~0.2 ms after the last.
            let now = us(t0, i * 200);
            assert_eq!(d.take(now), None);
            d.push(now, format!("f{i}").into(), Kind::Written);
            d.push(now, format!("f{i}").into(), Kind::Closed);
        }
        let end = us(t0, 4999 * 200);
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
        // The next rescan waits for the cool-down (500 ms minimum), settled save or not.
        d.push_rescan(ms(t0, 30));
        d.push(ms(t0, 30), "a".into(), Kind::Closed);
        assert_eq!(d.deadline(), Some(ms(t0, 520)));
        assert!(!d.capped(ms(t0, 100)));
        assert_eq!(d.take(ms(t0, 100)), None);
        assert!(d.take(ms(t0, 520)).unwrap().rescan);
        // Plain paths are not held back by the cool-down.
        d.push(ms(t0, 600), "x".into(), Kind::Written);
        assert_eq!(d.deadline(), Some(ms(t0, 610)));
    }

    #[test]
    fn out_of_order_stamps_do_not_shrink_the_window() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        d.push(ms(t0, 5), "a".into(), Kind::Written);
        d.push(ms(t0, 3), "b".into(), Kind::Written);
        assert_eq!(d.deadline(), Some(ms(t0, 15)));
    }

    #[test]
    fn windows_past_what_an_instant_holds_do_not_panic() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::MAX, Duration::MAX);
        d.push(t0, "a".into(), Kind::Written);
        assert_eq!(d.deadline(), Some(t0));
        assert!(!d.capped(t0));
        d.rescanned(t0, Duration::MAX);
        assert!(d.take(t0).is_some());
    }

    #[test]
    fn a_burst_that_goes_on_after_a_wave_keeps_the_quiet_window() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Q, CAP);
        // A writer slower than the settle per file: its first file is a wave of its own...
        d.push(t0, "f0".into(), Kind::Written);
        d.push(t0, "f0".into(), Kind::Closed);
        assert_eq!(paths(&d.take(ms(t0, 1)).unwrap().paths), ["f0"]);
        // ...the next ones, within the quiet window of it, wait for quiet.
        for i in 1..50u64 {
            let now = ms(t0, 2 * i);
            assert_eq!(d.take(now), None);
            d.push(now, format!("f{i:02}").into(), Kind::Written);
            d.push(now, format!("f{i:02}").into(), Kind::Closed);
        }
        assert_eq!(d.deadline(), Some(ms(t0, 108)));
        assert_eq!(d.take(ms(t0, 108)).unwrap().paths.len(), 49);
        // A save a quiet window after the burst settles again.
        d.push(ms(t0, 200), "a".into(), Kind::Closed);
        assert_eq!(d.deadline(), Some(ms(t0, 201)));
    }
}
