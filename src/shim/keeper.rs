//! The keeper: the shim's process, which stays as the parent of the command it starts so that
//! nothing the command started outlives hot, however hot ends.
//!
//! Theory of operation. The supervisor spawns the shim, which starts a new session (so a new
//! process group, whose id is the shim's pid, and no controlling terminal). After placing the
//! sockets, the shim, now the *keeper*:
//! 1. becomes a child subreaper (Linux; a reaper on FreeBSD; macOS and NetBSD have none, see
//!    `kill_round`), so descendants orphaned by their parents (a `sh -c` whose command
//!    forked, a daemonising server) are re-parented to it rather than to pid 1;
//! 2. forks the command, which stays in the keeper's group (the child sets `LISTEN_PID` to its
//!    own pid before `exec`, so a server sees exactly its pid); a spare forked the command's
//!    process before its launch instead ([`prefork`], [`adopt`]);
//! 3. tells hot the command's pid, waits for it, and reports a stop (SIGSTOP, SIGTTIN, ...) of
//!    it, over the status socket (the messages are `protocol`'s), a stream socket whose other end only hot holds;
//! 4. when the command exits, SIGKILLs its remaining descendants (orphans re-parented to it,
//!    even those that left the group) and exits with the command's status (the same code, or dies of the same signal), so
//!    the supervisor sees the real status; hot then SIGKILLs the group as before;
//! 5. when the status socket reaches end of file, hot is gone (SIGKILL, OOM kill, abort): it
//!    SIGKILLs its descendants, level by level, and then the whole group, itself included.
//!
//! Stopping is systemd's `KillMode=mixed`: hot writes `stop SIGNAL TIMEOUT_MS` on the status
//! socket, and the keeper sends that signal to the command alone (then SIGCONT), so a master
//! (gunicorn, Hypercorn) drains its workers itself. Only once the command has exited do the
//! rest of its descendants get the signal; whatever is left at the timeout is SIGKILLed, and the
//! keeper ends with the command's status. The keeper also catches the stop signals sent to its
//! group by anyone (so only the command acts on them); SIGKILL of the group, hot's backstop,
//! ends everything.
//!
//! The keeper is single-threaded, so it may allocate and use `std` after `fork`.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};

use super::protocol::{Order, Report};

/// The write end of the self-pipe that wakes the loop on SIGCHLD.
static WAKE: AtomicI32 = AtomicI32::new(-1);

/// A spare's record of the stop signals its keeper got while it waited, a bit each, in memory
/// it shares with the command's process it forked (see [`prefork`]); null elsewhere.
static RECORD: AtomicPtr<AtomicU64> = AtomicPtr::new(std::ptr::null_mut());

/// In [`RECORD`] once the command's process has taken what it holds, just before its exec.
const CLOSED: u64 = 1 << 63;

/// SIGCHLD, and the signals hot sends the group to stop it (the Hotfile's `stop` signals
/// but SIGKILL): caught, so that they reach the command and not the keeper.
const CAUGHT: [libc::c_int; 7] = [
    libc::SIGCHLD,
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// What the keeper runs.
pub(super) struct Keep {
    /// The program's resolved path, if hot found it (else `command[0]` is looked up on PATH).
    pub exe: Option<OsString>,
    pub command: Vec<OsString>,
    /// `LISTEN_FDS`, `LISTEN_FDNAMES` and whether `LISTEN_PID` is the command's pid (else
    /// empty); `None` without sockets (no `LISTEN_*` at all).
    pub listen: Option<(usize, String, bool)>,
    /// The socket back to hot (close-on-exec); `None` when run by hand.
    pub status: Option<RawFd>,
    /// The command's whole environment; `None`: the keeper's own (a spare's is not).
    pub env: Option<Vec<(OsString, OsString)>>,
}

extern "C" fn on_signal(signal: libc::c_int) {
    if signal == libc::SIGCHLD {
        let fd = WAKE.load(Ordering::Relaxed);
        if fd >= 0 {
            let byte = 1u8;
            // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking, so a full pipe
            // (a wake-up already pending) only fails with EAGAIN.
            unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
        }
    } else {
        let record = RECORD.load(Ordering::SeqCst);
        if !record.is_null() {
            // SAFETY: the page mapped by `prefork`, never unmapped; an atomic is
            // async-signal-safe. A bit set once it is closed is never read.
            unsafe { (*record).fetch_or(1 << signal, Ordering::SeqCst) };
        }
    }
}

/// What the keeper sets up before it knows its command. A spare does it while it waits (see
/// `spare`), so that after its launch it only places the sockets and spawns.
pub(super) struct Prepared {
    /// The signal mask from before the keeper blocked the signals it catches.
    old: libc::sigset_t,
}

/// Becomes a subreaper (when `held`: run by hot, not by hand) and catches [`CAUGHT`], blocked
/// until the command is spawned.
pub(super) fn prepare(held: bool) -> Prepared {
    #[cfg(target_os = "linux")]
    if held {
        // SAFETY: prctl with integer arguments. No parent-death signal: the status socket
        // tells of hot's death (it is already at end of file if hot died before this line),
        // and the keeper must live to end the group.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong);
        }
    }
    #[cfg(target_os = "freebsd")]
    if held {
        // FreeBSD's subreaper: orphaned descendants are re-parented to the keeper. A failure
        // leaves the group kill, as on macOS.
        // SAFETY: procctl on our own pid; PROC_REAP_ACQUIRE takes no data.
        unsafe {
            libc::procctl(
                libc::P_PID,
                libc::getpid() as libc::id_t,
                libc::PROC_REAP_ACQUIRE,
                std::ptr::null_mut(),
            );
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    let _ = held;

    // Blocked across the fork: the child must not run the keeper's handlers, and a stop
    // signal arriving before its exec must not be lost to them (it stays pending, and
    // lands with the default action once `exec` has reset the mask). Blocked in a waiting
    // spare too, until it forks its command's process: then its keeper records them for that
    // process (see `prefork`); one that cannot fork passes them on once spawned (`pending`).
    // SAFETY: plain sigset and sigaction calls on local, initialised structures.
    let old = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in CAUGHT {
            libc::sigaddset(&mut set, signal);
        }
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in CAUGHT {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
        old
    };
    Prepared { old }
}

/// Runs `keep` (see the module doc), set up by [`prepare`]. Never returns.
pub(super) fn run(keep: Keep, prepared: Prepared) -> ! {
    let program = keep.command[0].clone();
    let Prepared { old } = prepared;
    // Made after the sockets were placed at 3, 4, ..., so it cannot be in their way.
    let (wake_read, wake_write) = match self_pipe() {
        Ok(pipe) => pipe,
        Err(e) => fail(&program, &format!("cannot create a pipe: {e}")),
    };
    WAKE.store(wake_write, Ordering::Relaxed);

    // Only a `LISTEN_PID` that must be the child's own pid needs code between fork and exec.
    // Without one, std's spawn is a posix_spawn (a vfork: no page tables copied, and the
    // keeper waits while the child execs instead of competing with it for a loaded CPU).
    // posix_spawn resets the keeper's handlers in the child but keeps the caller's mask, so
    // the mask is restored first: a stop signal arriving now runs the keeper's handler (it
    // would have reached only the keeper before the fork too) or, once in the child, its
    // default action.
    // The command's run time is measured here, not by hot: the keeper runs while hot is
    // stopped (SIGSTOP), so a late reap by hot does not lengthen it.
    let begun = std::time::Instant::now();
    let early = pending();
    let child = if matches!(keep.listen, Some((_, _, true))) {
        // SAFETY: the keeper is single-threaded, so the child may go on using std.
        let child = unsafe { libc::fork() };
        if child < 0 {
            fail(
                &program,
                &format!("fork failed: {}", std::io::Error::last_os_error()),
            );
        }
        if child == 0 {
            exec(keep, &old);
        }
        child
    } else {
        // SAFETY: restores the mask saved above.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        match command(&keep, String::new()).spawn() {
            // Dropping the `Child` neither waits for it nor kills it: `reap` does the waiting.
            Ok(child) => child.id() as libc::pid_t,
            Err(error) => {
                eprintln!(
                    "hot: cannot run `{}`: {}",
                    super::show(&program),
                    super::why(&error)
                );
                std::process::exit(127)
            }
        }
    };
    // The command has the sockets; the keeper holds none (hot does).
    if let Some((count, _, _)) = keep.listen {
        for fd in 3..3 + count as RawFd {
            // SAFETY: closing the keeper's own copies of the placed sockets.
            unsafe { libc::close(fd) };
        }
    }
    started(child, keep.status, early, &old);
    watch(child, keep.status, wake_read, begun)
}

/// The keeper's side of a spare's command, forked before the launch (see [`prefork`]):
/// waits until the command has taken its launch (the handoff pipe reaches end of file at its
/// exec, or at its exit), then keeps it as [`run`] keeps the command it spawns. Never returns.
pub(super) fn adopt(child: libc::pid_t, handoff: RawFd, status: RawFd, prepared: Prepared) -> ! {
    let Prepared { old } = prepared;
    let mut handoff_fd = [libc::pollfd {
        fd: handoff,
        events: libc::POLLIN,
        revents: 0,
    }];
    let mut byte = [0u8; 1];
    // SAFETY: poll on a local pollfd and a read into a local buffer, on the keeper's own
    // (non-blocking) end of the pipe, closed after. Nothing is ever written to it: a read
    // ends the wait only at end of file (or on an error, which no wait would end either).
    unsafe {
        loop {
            libc::poll(handoff_fd.as_mut_ptr(), 1, -1);
            let n = libc::read(handoff, byte.as_mut_ptr().cast(), 1);
            if n == 0
                || (n < 0
                    && !matches!(
                        std::io::Error::last_os_error().raw_os_error(),
                        Some(libc::EAGAIN | libc::EINTR)
                    ))
            {
                break;
            }
        }
        libc::close(handoff);
    }
    let begun = std::time::Instant::now();
    let program: OsString = "the command".into();
    let (wake_read, wake_write) = match self_pipe() {
        Ok(pipe) => pipe,
        Err(e) => fail(&program, &format!("cannot create a pipe: {e}")),
    };
    WAKE.store(wake_write, Ordering::Relaxed);
    // The signals sent to the keeper or its group while the spare waited are the command's
    // already (see [`prefork`]): nothing is passed on. Its start was told by the command's
    // process itself, before its launch (see `announce`).
    started(child, None, Vec::new(), &old);
    watch(child, Some(status), wake_read, begun)
}

/// Tells hot the command's pid (the group's leader is the keeper, not it; `status` is `None`
/// where the command's process told it), passes on the signals that arrived before it
/// existed, and unblocks the keeper's own.
fn started(
    child: libc::pid_t,
    status: Option<RawFd>,
    early: Vec<libc::c_int>,
    old: &libc::sigset_t,
) {
    tell(status, Report::Started { pid: child as u32 });
    for signal in early {
        // SAFETY: kill on the keeper's own unreaped child.
        unsafe { libc::kill(child, signal) };
    }
    // SAFETY: restores the mask: pending SIGCHLDs now run the handler.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

/// The spare's process split in two before its launch: the keeper, and the command's process,
/// which reads the launch itself and then only has to exec (no fork or spawn on the path from
/// the launch to the command; `LISTEN_PID` is its own pid, which the exec keeps).
pub(super) enum Forked {
    /// In the child: it holds the write end of the handoff pipe, close-on-exec, so the
    /// keeper hears of its exec (or its exit) as end of file.
    Command,
    /// In the keeper: the child's pid and the read end of the handoff pipe.
    Keeper { child: libc::pid_t, handoff: RawFd },
}

/// Forks the command's process ahead of its launch (see [`Forked`]). Called by the spare once
/// [`prepare`]d: the child is in the keeper's group, with the caught signals blocked.
///
/// Each stop signal sent to the keeper or its group while the spare waits reaches the command
/// once. The keeper takes them as they come, from before the fork (what was pending then
/// included), into [`RECORD`]; just before its exec the command's process closes the record
/// and raises what it holds in itself, while its own signals are still blocked, so a group's
/// signal it has a copy of already merges with that copy (a blocked signal is pending once).
/// What the keeper gets after that is the command's already, or was sent to the keeper alone,
/// which it ignores as it does while the command runs. (The keeper passing on what it had
/// pending once it saw the exec sent a group's signal twice when it came between the two.)
pub(super) fn prefork() -> std::io::Result<Forked> {
    let record = shared_record()?;
    let (read, write) = match self_pipe() {
        Ok(pipe) => pipe,
        Err(e) => {
            // SAFETY: the page just mapped, not yet published.
            unsafe { libc::munmap(record.cast(), std::mem::size_of::<AtomicU64>()) };
            return Err(e);
        }
    };
    RECORD.store(record, Ordering::SeqCst);
    stop_signals(libc::SIG_UNBLOCK);
    // SAFETY: getpid has no preconditions; the spare is single-threaded, so the child may go
    // on using std.
    let (parent, child) = unsafe { (libc::getpid(), libc::fork()) };
    if child < 0 {
        let e = std::io::Error::last_os_error();
        // The spare reads the launch and forks at the start as any keeper (see `run`): what
        // was recorded is pending again, for `run` to pass on.
        stop_signals(libc::SIG_BLOCK);
        RECORD.store(std::ptr::null_mut(), Ordering::SeqCst);
        // SAFETY: the page mapped above, unpublished again; raise on the keeper itself; the
        // pipe just created.
        unsafe {
            let recorded = (*record).swap(CLOSED, Ordering::SeqCst);
            raise_recorded(recorded);
            libc::close(read);
            libc::close(write);
        }
        return Err(e);
    }
    if child == 0 {
        // Blocked until its exec; one that came before this ran the handler, into the record.
        stop_signals(libc::SIG_BLOCK);
        // The record's page mapped writable now, not by the write just before the exec.
        // SAFETY: the page mapped above, never unmapped.
        unsafe { (*record).fetch_or(0, Ordering::SeqCst) };
        // SAFETY: closing the keeper's end in the child.
        unsafe { libc::close(read) };
        // The keeper killed while this waits (hot kills the group, but not everyone does):
        // this goes too. Cleared before the exec (see `exec_launched`).
        #[cfg(target_os = "linux")]
        // SAFETY: prctl with integer arguments; getppid has no preconditions; _exit, if the
        // keeper died before the prctl.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            if libc::getppid() != parent {
                libc::_exit(0);
            }
        }
        // Off the path: what the launch will touch is mapped while nothing is asked of it.
        #[cfg(target_os = "linux")]
        super::prefault::prefault();
        #[cfg(not(target_os = "linux"))]
        let _ = parent;
        return Ok(Forked::Command);
    }
    // SAFETY: the child's end, closed in the keeper.
    unsafe { libc::close(write) };
    Ok(Forked::Keeper {
        child,
        handoff: read,
    })
}

/// The page [`RECORD`] points to: shared with the processes forked after, so the keeper's
/// handler and the command's process see one record.
fn shared_record() -> std::io::Result<*mut AtomicU64> {
    // SAFETY: a fresh anonymous mapping, zeroed by the kernel (an `AtomicU64` of 0: nothing
    // recorded, not closed); `mmap` aligns it to a page.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            std::mem::size_of::<AtomicU64>(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANON,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(page.cast())
}

/// Blocks or unblocks ([`libc::SIG_BLOCK`], [`libc::SIG_UNBLOCK`]) the caught signals but
/// SIGCHLD.
fn stop_signals(how: libc::c_int) {
    // SAFETY: plain sigset calls on a local, initialised set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in CAUGHT.into_iter().filter(|&s| s != libc::SIGCHLD) {
            libc::sigaddset(&mut set, signal);
        }
        libc::sigprocmask(how, &set, std::ptr::null_mut());
    }
}

/// Raises in this process each stop signal set in `recorded`.
fn raise_recorded(recorded: u64) {
    for signal in CAUGHT.into_iter().filter(|&s| s != libc::SIGCHLD) {
        if recorded & (1 << signal) != 0 {
            // SAFETY: kill on this process.
            unsafe { libc::kill(libc::getpid(), signal) };
        }
    }
}

/// In the spare's forked command process, once it has its launch: `keep`'s command over it,
/// with the mask from before [`prepare`]. Never returns.
pub(super) fn exec_launched(keep: Keep, prepared: Prepared) -> ! {
    // The command outlives the keeper's death no more than it would have outlived it before
    // (hot and the keeper's group kill end it); no signal of a parent's death for it.
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, 0 as libc::c_ulong);
    }
    // What the keeper took while the spare waited (see [`prefork`]): pending here now, with
    // this process's own copies, until the exec's mask lets them land.
    let record = RECORD.load(Ordering::SeqCst);
    if !record.is_null() {
        // SAFETY: the page mapped by `prefork`, never unmapped.
        raise_recorded(unsafe { (*record).swap(CLOSED, Ordering::SeqCst) });
    }
    // Its start was told ahead of the launch ([`announce`]).
    exec(keep, &prepared.old)
}

/// In the spare's forked command process, before it waits for its launch: tells hot the pid
/// its command will run as (the exec keeps it). Told here, not once the launch has come: a
/// report sent between the launch and the exec woke hot's main thread, which then took the
/// CPU the exec was about to use; sent now, the line waits in the socket and hot reads it
/// right after its launch, before any of the command's output. Not by the keeper once it
/// sees the exec either: on a loaded machine it runs late. The keeper writes nothing until
/// the exec, so the lines cannot interleave.
pub(super) fn announce(status: RawFd) {
    tell(
        Some(status),
        Report::Started {
            pid: std::process::id(),
        },
    );
}

/// The keeper's loop once its command runs: reaps, reports, and carries out hot's orders.
/// Never returns.
fn watch(
    child: libc::pid_t,
    status_socket: Option<RawFd>,
    wake_read: RawFd,
    begun: std::time::Instant,
) -> ! {
    let mut fds = vec![libc::pollfd {
        fd: wake_read,
        events: libc::POLLIN,
        revents: 0,
    }];
    if let Some(status) = status_socket {
        fds.push(libc::pollfd {
            fd: status,
            events: libc::POLLIN,
            revents: 0,
        });
    }
    // The stop hot asked for: its signal and when whatever is left gets SIGKILL.
    let mut stop: Option<(libc::c_int, std::time::Instant)> = None;
    // The command's wait status, once it has ended during a stop while descendants remain.
    let mut ended: Option<libc::c_int> = None;
    let mut inbox = Vec::new();
    loop {
        if let Some((status, orphans)) = reap(child, status_socket) {
            let ran = begun.elapsed();
            tell(status_socket, Report::Ended { ran });
            match stop {
                // Stopped: the rest gets the same signal now, and the time left to go.
                Some((signal, _)) if orphans => {
                    signal_rest(signal);
                    ended = Some(status);
                }
                // Ended on its own: leftovers of a crash are not left running.
                _ => {
                    if orphans {
                        kill_descendants();
                    }
                    mirror(status);
                }
            }
        }
        if let Some(status) = ended {
            // Reaped as they go: once no child is left, no descendant is.
            let mut wait = 0;
            // SAFETY: waitpid with a local status word; WNOHANG never blocks.
            while unsafe { libc::waitpid(-1, &mut wait, libc::WNOHANG) } > 0 {}
            if children().is_empty() {
                mirror(status);
            }
        }
        let timeout = match stop {
            Some((_, deadline)) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    // The timeout: SIGKILL to everything left.
                    if let Some(status) = ended {
                        kill_descendants();
                        mirror(status);
                    }
                    // The command first, reaped above as a crash is: its leftovers follow.
                    // SAFETY: kill on the keeper's own unreaped child.
                    unsafe { libc::kill(child, libc::SIGKILL) };
                    stop = None;
                    continue;
                }
                // Polled while descendants drain: some of them are not the keeper's children
                // and raise no SIGCHLD here.
                let cap = if ended.is_some() {
                    20
                } else {
                    i32::MAX as u128
                };
                left.as_millis().min(cap) as libc::c_int + 1
            }
            None => -1,
        };
        // SAFETY: poll on a live array of pollfds; EINTR (a caught signal) just loops.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if ready <= 0 {
            continue;
        }
        if fds[0].revents != 0 {
            let mut buf = [0u8; 64];
            // SAFETY: reading the non-blocking self-pipe into a local buffer.
            while unsafe { libc::read(wake_read, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        }
        let Some(status) = status_socket else {
            continue;
        };
        if fds.get(1).is_none_or(|p| p.revents == 0) {
            continue;
        }
        match read_status(status, &mut inbox) {
            Heard::Nothing => {}
            Heard::Order(Order::Stop { signal, timeout }) => {
                if stop.is_none() {
                    let deadline = std::time::Instant::now() + timeout;
                    stop = Some((signal, deadline));
                    // SAFETY: kill on the keeper's own unreaped child (its pid cannot have
                    // been reused); a stopped command acts on the signal once continued.
                    unsafe {
                        libc::kill(child, signal);
                        libc::kill(child, libc::SIGCONT);
                    }
                }
            }
            Heard::Gone => {
                kill_descendants();
                // SAFETY: getpgrp/getpid have no preconditions; SIGKILL to the keeper's own
                // group (the command, its descendants in the group, and the keeper itself),
                // but only when the group is the keeper's: run by hand in someone else's
                // group, the keeper must not kill its caller.
                unsafe {
                    if libc::getpgrp() == libc::getpid() {
                        libc::killpg(0, libc::SIGKILL);
                    }
                }
                // SAFETY: only reached if the signal could not be sent.
                unsafe { libc::_exit(137) };
            }
        }
    }
}

/// The stop signal to every descendant left once the command has exited: the keeper's group
/// (the keeper catches it) and the orphans it adopted, wherever their group is. Once each: to
/// many servers a second stop signal means "now, without draining".
fn signal_rest(signal: libc::c_int) {
    // SAFETY: getpgrp/getpid/getpgid have no preconditions; killpg only on the keeper's own
    // group (run by hand in someone else's group, it must not signal its caller), kill on its
    // children.
    unsafe {
        let group = libc::getpgrp();
        let own = group == libc::getpid();
        if own {
            libc::killpg(0, signal);
            libc::killpg(0, libc::SIGCONT);
        }
        for pid in children() {
            if own && libc::getpgid(pid) == group {
                continue;
            }
            libc::kill(pid, signal);
            libc::kill(pid, libc::SIGCONT);
        }
    }
}

/// The signals of [`CAUGHT`] but SIGCHLD sent to the keeper while they were blocked, before
/// its command existed (a spare waits with them blocked, see `prepare`): they are the
/// command's, which gets them once spawned, as it gets any sent to the group after.
fn pending() -> Vec<libc::c_int> {
    // SAFETY: sigpending fills a local, initialised set; sigismember reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        if libc::sigpending(&mut set) != 0 {
            return Vec::new();
        }
        CAUGHT
            .into_iter()
            .filter(|&s| s != libc::SIGCHLD && libc::sigismember(&set, s) == 1)
            .collect()
    }
}

/// In the forked child: default signal handling, `LISTEN_*`, exec. Never returns.
fn exec(keep: Keep, mask: &libc::sigset_t) -> ! {
    // SAFETY: resetting dispositions and the mask of this (single-threaded) child.
    unsafe {
        // Pending ones stay (see `prepare`, and a spare's in `prefork`): they land now, with
        // the default action.
        for signal in CAUGHT {
            libc::signal(signal, libc::SIG_DFL);
        }
        libc::sigprocmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
    }
    // The child's own pid, which `exec` keeps: what `sd_listen_fds` checks.
    let error = command(&keep, std::process::id().to_string()).exec();
    let program = &keep.command[0];
    eprintln!(
        "hot: cannot run `{}`: {}",
        super::show(program),
        super::why(&error)
    );
    // SAFETY: _exit skips the keeper's atexit state inherited across fork.
    unsafe { libc::_exit(127) }
}

/// The command to run: the resolved program (argv[0] as written), and the `LISTEN_*`
/// variables when there are sockets, `LISTEN_PID` being `pid` unless hot asked for it empty.
fn command(keep: &Keep, pid: String) -> std::process::Command {
    let program = &keep.command[0];
    let mut command = std::process::Command::new(keep.exe.as_ref().unwrap_or(program));
    command.arg0(program).args(&keep.command[1..]);
    if let Some(env) = &keep.env {
        command.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    }
    if let Some((count, names, with_pid)) = &keep.listen {
        command
            .env("LISTEN_FDS", count.to_string())
            .env("LISTEN_FDNAMES", names)
            .env("LISTEN_PID", if *with_pid { pid } else { String::new() });
    }
    command
}

/// Reaps every child that changed state; once the command has ended, its wait status and
/// whether other children (orphans) remain. Reports a stop of the command to hot.
fn reap(child: libc::pid_t, status_socket: Option<RawFd>) -> Option<(libc::c_int, bool)> {
    let mut ended = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a local status word.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::WUNTRACED) };
        if pid <= 0 {
            // 0: children left that have not ended; -1 (ECHILD): none.
            return ended.map(|status| (status, pid == 0));
        }
        if pid != child {
            continue; // an orphan re-parented to the keeper
        }
        if libc::WIFSTOPPED(status) {
            let signal = libc::WSTOPSIG(status);
            let pid = child as u32;
            tell(status_socket, Report::Stopped { signal, pid });
        } else {
            ended = Some(status);
        }
    }
}

/// Sends one report to hot, if there is a hot to tell (not when run by hand).
fn tell(socket: Option<RawFd>, report: Report) {
    let Some(socket) = socket else { return };
    let line = report.encode();
    // SAFETY: send on the status socket; MSG_NOSIGNAL: a gone hot is no SIGPIPE.
    unsafe { libc::send(socket, line.as_ptr().cast(), line.len(), NO_SIGNAL) };
}

/// What hot said on the status socket.
enum Heard {
    Nothing,
    /// An order (see `protocol`).
    Order(Order),
    /// End of file: hot has exited or was killed.
    Gone,
}

/// Reads what hot wrote (lines gather in `inbox`); a closed socket means hot is gone.
fn read_status(socket: RawFd, inbox: &mut Vec<u8>) -> Heard {
    let mut buf = [0u8; 64];
    // SAFETY: a read into a local buffer.
    let n = unsafe {
        libc::recv(
            socket,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n == 0 {
        return Heard::Gone;
    }
    if n < 0 {
        let error = std::io::Error::last_os_error().raw_os_error();
        return if matches!(error, Some(libc::EINTR) | Some(libc::EAGAIN)) {
            Heard::Nothing
        } else {
            Heard::Gone
        };
    }
    inbox.extend_from_slice(&buf[..n as usize]);
    // Bounded: hot writes one short line per stop; anything else is dropped.
    if inbox.len() > 256 {
        inbox.clear();
    }
    while let Some(end) = inbox.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = inbox.drain(..=end).collect();
        // A line that is no order (a newer hot's) is ignored: the keeper has nobody to tell.
        if let Ok(order) = Order::parse(&String::from_utf8_lossy(&line)) {
            return Heard::Order(order);
        }
    }
    Heard::Nothing
}

/// SIGKILLs every descendant of the keeper, round by round: each killed child's own children
/// are re-parented to the keeper (a subreaper), so the next round reaches them, even those
/// that left the group with `setsid`. A killed process cannot fork any more, so this ends;
/// it is bounded all the same (a process in uninterruptible sleep dies only when it wakes,
/// and must not hold up the report of the command's exit).
fn kill_descendants() {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    while std::time::Instant::now() < deadline {
        if !kill_round() {
            return;
        }
        // Reaped once dead, so that a zombie is not listed again; their orphans arrive.
        let mut status = 0;
        // SAFETY: waitpid with a local status word; WNOHANG never blocks.
        while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// One round on Linux: SIGKILL to the keeper's live children. False when it has none.
#[cfg(target_os = "linux")]
fn kill_round() -> bool {
    let children = children();
    for &child in &children {
        // SAFETY: kill on our own unreaped children: their pids cannot have been reused.
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
    !children.is_empty()
}

/// The keeper's live children (zombies already reaped are not listed).
#[cfg(target_os = "linux")]
fn children() -> Vec<libc::pid_t> {
    let pid = std::process::id();
    let list =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    list.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The reaper's live descendants on FreeBSD (`PROC_REAP_GETPIDS`; zombies not listed).
#[cfg(target_os = "freebsd")]
fn children() -> Vec<libc::pid_t> {
    /// `struct procctl_reaper_pidinfo` (sys/procctl.h; libc does not declare it).
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Info {
        pid: libc::pid_t,
        subtree: libc::pid_t,
        flags: libc::c_uint,
        pad: [libc::c_uint; 15],
    }
    /// `struct procctl_reaper_pids`.
    #[repr(C)]
    struct Pids {
        count: libc::c_uint,
        pad: [libc::c_uint; 15],
        pids: *mut Info,
    }
    const VALID: libc::c_uint = 0x1;
    const ZOMBIE: libc::c_uint = 0x8;
    let mut infos = [Info {
        pid: 0,
        subtree: 0,
        flags: 0,
        pad: [0; 15],
    }; 256];
    let mut pids = Pids {
        count: infos.len() as libc::c_uint,
        pad: [0; 15],
        pids: infos.as_mut_ptr(),
    };
    // SAFETY: getpid has no preconditions; procctl fills at most `count` entries of `infos`.
    let ok = unsafe {
        libc::procctl(
            libc::P_PID,
            libc::getpid() as libc::id_t,
            libc::PROC_REAP_GETPIDS,
            (&mut pids as *mut Pids).cast(),
        )
    } == 0;
    if !ok {
        return Vec::new();
    }
    infos
        .iter()
        .filter(|i| i.flags & VALID != 0 && i.flags & ZOMBIE == 0)
        .map(|i| i.pid)
        .collect()
}

/// Elsewhere no orphan is the keeper's: it knows only the command, reaped already.
#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
fn children() -> Vec<libc::pid_t> {
    Vec::new()
}

/// One round on FreeBSD: the reaper's own call, SIGKILL to every descendant at once
/// (`PROC_REAP_KILL`). False when none is left (`PROC_REAP_STATUS`) or the keeper is no reaper.
#[cfg(target_os = "freebsd")]
fn kill_round() -> bool {
    /// `struct procctl_reaper_status` (sys/procctl.h; libc does not declare it).
    #[repr(C)]
    struct Status {
        flags: libc::c_uint,
        children: libc::c_uint,
        descendants: libc::c_uint,
        reaper: libc::pid_t,
        pid: libc::pid_t,
        pad: [libc::c_uint; 15],
    }
    /// `struct procctl_reaper_kill`; flags 0: every descendant.
    #[repr(C)]
    struct Kill {
        sig: libc::c_int,
        flags: libc::c_uint,
        subtree: libc::pid_t,
        killed: libc::c_uint,
        first_failed: libc::pid_t,
        pad: [libc::c_uint; 15],
    }
    // SAFETY: both structures are plain integers, zero is a valid value of each.
    let (mut status, mut kill): (Status, Kill) = unsafe { std::mem::zeroed() };
    kill.sig = libc::SIGKILL;
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() } as libc::id_t;
    // SAFETY: procctl on our own pid, each with the structure its command reads or fills.
    unsafe {
        let (status, kill) = (&mut status as *mut Status, &mut kill as *mut Kill);
        if libc::procctl(libc::P_PID, me, libc::PROC_REAP_STATUS, status.cast()) != 0
            || (*status).descendants == 0
        {
            return false;
        }
        libc::procctl(libc::P_PID, me, libc::PROC_REAP_KILL, kill.cast());
    }
    true
}

/// Elsewhere (macOS, the other BSDs) there is no subreaper: an orphan goes to pid 1, out of
/// the keeper's reach. The command's group is still killed whole, by the keeper when hot is
/// gone and by hot on every stop; only a descendant that left the group with `setsid` escapes.
#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
fn kill_round() -> bool {
    false
}

/// Ends the keeper the way the command ended. Never returns.
fn mirror(status: libc::c_int) -> ! {
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        // SAFETY: no core file of the keeper for the command's crash; then the default
        // action of that signal, unblocked, on ourselves.
        unsafe {
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong);
            libc::signal(signal, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), signal);
            libc::_exit(128 + signal)
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        1
    };
    // SAFETY: _exit with the command's status.
    unsafe { libc::_exit(code) }
}

/// A send to a closed socket fails instead of raising SIGPIPE (ignored anyway by Rust's
/// runtime where the flag is missing).
#[cfg(any(target_os = "linux", target_os = "android"))]
const NO_SIGNAL: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const NO_SIGNAL: libc::c_int = 0;

/// A non-blocking, close-on-exec pipe.
/// The self-pipe, both ends close-on-exec and non-blocking: one call where there is one.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn self_pipe() -> std::io::Result<(RawFd, RawFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((fds[0], fds[1]))
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
fn self_pipe() -> std::io::Result<(RawFd, RawFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe fills the local array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    for fd in fds {
        // SAFETY: fcntl on the fds just created.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
    Ok((fds[0], fds[1]))
}

fn fail(program: &OsString, why: &str) -> ! {
    eprintln!("hot: cannot start `{}`: {why}", super::show(program));
    std::process::exit(127)
}
