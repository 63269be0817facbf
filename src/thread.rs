//! Blocking work off the event loop, on a thread of its own.
//!
//! tokio's `spawn_blocking` panics when the system refuses a new thread while none of its
//! pool runs (a process limit reached: `ulimit -u`, a container's pids limit), and a panic
//! ends hot with everything it runs. [`spawn`] hands the refusal back instead, for the caller
//! to say what failed or to do without the work.

use std::io;

use tokio::sync::oneshot;

/// Runs `work` on a new thread named `name`; its result arrives on the receiver (an error
/// there means the work panicked).
pub(crate) fn spawn<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> io::Result<oneshot::Receiver<T>> {
    let (done, result) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let _ = done.send(work());
        })?;
    Ok(result)
}
