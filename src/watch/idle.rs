//! Whether anything but the watcher is at work: how a lone save is told from the first file of
//! a burst without waiting out the whole settle (`debounce::SETTLE`).
//!
//! A burst's writer is at work between two of its files: running, waiting for a CPU, or waiting
//! for the disk (a copy reading its next source file). A save is over once the editor went back
//! to waiting for its user. So when nothing but the caller is running or runnable and nothing
//! waits for the disk, no writer is between two files, and a lone save may close at once. Linux
//! counts both in `/proc/stat` (`procs_running`, `procs_blocked`: every CPU, read in a few
//! microseconds). Elsewhere there is no cheap count: the settle is waited out.
//!
//! A busy machine (a build beside the editor, a second watcher) never looks idle, so it keeps the
//! whole settle, as does a writer that sleeps between two files (a paced generator).

#[cfg(target_os = "linux")]
use std::os::unix::fs::FileExt;

/// The machine's run queue, looked at by the watcher thread.
#[derive(Default)]
pub(super) struct Idle {
    /// `/proc/stat`, kept open (each read regenerates it); `None` where unreadable.
    #[cfg(target_os = "linux")]
    stat: Option<std::fs::File>,
    #[cfg(target_os = "linux")]
    buf: Vec<u8>,
    #[cfg(target_os = "linux")]
    opened: bool,
}

impl Idle {
    /// True when the calling thread is the only task running or waiting for a CPU, and no task
    /// waits for the disk. False when that cannot be known.
    pub(super) fn quiet(&mut self) -> bool {
        #[cfg(target_os = "linux")]
        return self
            .counts()
            .is_some_and(|(running, blocked)| running <= 1 && blocked == 0);
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// `procs_running` (the caller included) and `procs_blocked`.
    #[cfg(target_os = "linux")]
    fn counts(&mut self) -> Option<(u64, u64)> {
        if !self.opened {
            self.opened = true;
            self.stat = std::fs::File::open("/proc/stat").ok();
            // The looks are `PEEK` apart only with a precise timer: the default slack (50 us)
            // let each wait of the calling thread (the watcher's) end up to 50 us late.
            // SAFETY: prctl with integer arguments, on the calling thread.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        }
        let stat = self.stat.as_ref()?;
        if self.buf.is_empty() {
            self.buf.resize(8 * 1024, 0);
        }
        loop {
            let n = stat.read_at(&mut self.buf, 0).ok()?;
            // A machine with many CPUs or interrupts: read it whole (the counts are at its end).
            if n == self.buf.len() && self.buf.len() < 1 << 20 {
                let doubled = self.buf.len() * 2;
                self.buf.resize(doubled, 0);
                continue;
            }
            return parse(&self.buf[..n]);
        }
    }
}

/// The two counts of `/proc/stat`'s text.
#[cfg(any(target_os = "linux", test))]
fn parse(stat: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(stat).ok()?;
    let count = |key: &str| {
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
    };
    Some((count("procs_running ")?, count("procs_blocked ")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counts_are_read_from_the_end_of_proc_stat() {
        let stat = b"cpu  1 2 3 4 5 6 7 0 0 0\ncpu0 1 2 3 4 5 6 7 0 0 0\nintr 9 0 1\nctxt 77\n\
            btime 1\nprocesses 42\nprocs_running 3\nprocs_blocked 1\nsoftirq 5 0 1\n";
        assert_eq!(parse(stat), Some((3, 1)));
        assert_eq!(parse(b"cpu 1 2\nprocs_running 1\n"), None);
    }

    /// A thread that spins is always running or runnable: the machine is not quiet while it
    /// does, whatever else runs.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_spinning_thread_is_never_idle() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = Arc::new(AtomicBool::new(false));
        let spinning = Arc::new(AtomicBool::new(false));
        let spinner = {
            let (stop, spinning) = (stop.clone(), spinning.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    spinning.store(true, Ordering::Relaxed);
                    std::hint::spin_loop();
                }
            })
        };
        while !spinning.load(Ordering::Relaxed) {
            std::thread::yield_now();
        }
        let mut idle = Idle::default();
        let seen: Vec<bool> = (0..50).map(|_| idle.quiet()).collect();
        stop.store(true, Ordering::Relaxed);
        spinner.join().unwrap();
        assert!(seen.iter().all(|q| !q), "{seen:?}");
        assert!(idle.counts().is_some(), "/proc/stat is read");
    }
}
