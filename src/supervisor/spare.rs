//! The warm spare keeper: one keeper (`hot __shim --spare`, see `crate::shim`) started and
//! set up ahead of need, waiting on its status socket, so that a start costs a write instead
//! of a spawn, an exec and the keeper's start-up (BENCHMARKS.md, "The spawn path").
//!
//! Theory of operation. There is at most one spare. A start takes it if it is there and
//! alive, and writes it the instance's [`Launch`] (directory, whole environment, the shim's
//! arguments) and then its sockets; with none (the first start, two starts at once) or a
//! write that fails, the start spawns a keeper as ever. The monitor of an instance refills
//! the slot a little after the keeper reports its command started, or when the command ends
//! if sooner: after the command's own start-up, never on its path. A spare costs two
//! processes of hot's binary (the keeper and the command's process it forks ahead of the
//! launch, see `shim::spare`), blocked (their pages mostly hot's, shared). It ends with hot
//! however hot ends: its status socket reaches end of file, and a spare that has not been
//! given a launch then just exits. Its group is in the supervisor's live groups (for the
//! panic hook) from its spawn; dropping the supervisor SIGKILLs the group.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::process::Child;

use super::program::Recheck;
use super::unix::live_groups;
use crate::shim::protocol::Launch;
use crate::sockets::RawFd;

/// How long a write to a spare may block (a spare stopped by someone else does not read):
/// then the start spawns a keeper of its own.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// A keeper waiting for its launch.
pub(super) struct Spare {
    child: Child,
    /// hot's end of its status socket (blocking until launched).
    status: UnixStream,
    pid: libc::pid_t,
}

/// What a start takes from a spare: the keeper (pid = group id), and hot's end of its
/// status socket.
pub(super) type Launched = (Child, UnixStream);

impl Spare {
    /// Spawns one, running `exe` (hot itself) with an empty environment and nothing of the
    /// instance: all of that comes with the launch.
    fn spawn(exe: &Path) -> std::io::Result<Spare> {
        let (status, keeper_end) = UnixStream::pair()?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg(crate::shim::ARG)
            .arg(crate::shim::SPARE)
            .env_clear()
            .stdin(Stdio::from(OwnedFd::from(keeper_end)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawned = cmd.spawn();
        // Holds the keeper's end of the status socket: closed now (see `unix::spawn`).
        drop(cmd);
        let child = spawned?;
        // Set now, not on the path of the start that takes it.
        status.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let pid = child.id().ok_or_else(|| std::io::Error::other("no pid"))? as libc::pid_t;
        live_groups().insert(pid);
        Ok(Spare { child, status, pid })
    }

    /// Hands it `launch` and then `sockets` (in one `SCM_RIGHTS` message, see `shim::pass`).
    /// On failure it is killed, and the start spawns a keeper of its own.
    pub(super) fn launch(self, launch: &Launch, sockets: &[RawFd]) -> Option<Launched> {
        let sent = (&self.status)
            .write_all(&launch.encode())
            .and_then(|()| match sockets {
                [] => Ok(()),
                fds => crate::shim::pass::send(self.status.as_raw_fd(), fds),
            });
        match sent {
            Ok(()) => Some((self.child, self.status)),
            Err(_) => {
                self.discard();
                None
            }
        }
    }

    fn discard(mut self) {
        // The group: the keeper and its command's process, forked ahead of its launch (see
        // `shim::spare`). A spare that has no group yet (before its `setsid`) has no child.
        // SAFETY: killpg/kill on our own unreaped child's group and pid: not reused.
        unsafe {
            if libc::killpg(self.pid, libc::SIGKILL) != 0 {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
        live_groups().remove(&self.pid);
        // Reaped now if it is already gone, else by tokio's orphan reaper once it is.
        let _ = self.child.try_wait();
    }
}

/// hot's one spare, shared by the supervisor (which takes it) and the monitors (which refill
/// it).
#[derive(Clone, Default)]
pub(super) struct Spares(Arc<Mutex<Slot>>);

#[derive(Default)]
struct Slot {
    /// Off: no spare is started (one-shot runs, which start each node once, and after the
    /// supervisor's end).
    on: bool,
    spare: Option<Spare>,
}

impl Spares {
    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Turns spares on or off; off ends the one waiting.
    pub(super) fn set_on(&self, on: bool) {
        let spare = {
            let mut slot = self.slot();
            slot.on = on;
            if on { None } else { slot.spare.take() }
        };
        if let Some(spare) = spare {
            spare.discard();
        }
    }

    /// The spare, if there is one and it is alive.
    pub(super) fn take(&self) -> Option<Spare> {
        let mut spare = self.slot().spare.take()?;
        if matches!(spare.child.try_wait(), Ok(None)) {
            return Some(spare);
        }
        spare.discard();
        None
    }

    /// The waiting spare's pid.
    pub(super) fn pid(&self) -> Option<u32> {
        self.slot().spare.as_ref().map(|s| s.pid as u32)
    }

    /// Starts a spare if spares are on and none is waiting. A failure is left for the next
    /// start to meet (and report) when it spawns its keeper itself.
    pub(super) fn refill(&self, exe: &Path) {
        let mut slot = self.slot();
        if slot.on && slot.spare.is_none() {
            slot.spare = Spare::spawn(exe).ok();
        }
    }
}

/// What a monitor needs to refill the spare once its own command has started, and the PATH
/// search its start skipped (see `program`), done at the same time, off the start's path.
pub(super) struct Refill {
    pub spares: Spares,
    pub exe: PathBuf,
    pub recheck: Option<Recheck>,
}

impl Refill {
    pub(super) fn run(&self) {
        self.spares.refill(&self.exe);
    }

    /// The program's PATH search, once.
    pub(super) fn recheck(&mut self) {
        if let Some(recheck) = self.recheck.take() {
            recheck.run();
        }
    }
}
