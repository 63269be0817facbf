//! Processes: spawning nodes in their own process groups, stopping them, reporting exits.
//!
//! Theory of operation. [`Supervisor::start`] spawns one *instance* of a node and hands it to a
//! monitor task that owns the child: it waits for the leader, arms the stop timeout, fires the
//! `ready` delay and timeout, and finally sends exactly one [`Event::Exited`]. The supervisor
//! itself only keeps, per instance, the process group id, the stop settings and a channel to
//! the monitor. Nothing here decides policy: the engine says start and stop, and hears back
//! through [`Event`]s.
//!
//! * **Process groups.** Every child leads its own session, hence its own group (the keeper's
//!   first call is `setsid`), so a stop reaches `sh -c` children, `cargo run`'s server and other
//!   grandchildren. A stop is systemd's `KillMode=mixed`: the stop signal to the command alone
//!   (its keeper is told over the status socket and signals it, then SIGCONT), so a master
//!   drains its own workers; the rest of the group gets it once the command has exited, and
//!   SIGKILL whatever is left after `stop.timeout`. Each child has stdin null and no controlling terminal (a
//!   command that asks the terminal fails at once instead of being stopped by SIGTTIN), and its
//!   stdout and stderr piped to the reporter in bounded pieces ([`output`]: lines split past
//!   64 KiB, a `\r` update or a partial line shown at once or after a short wait).
//! * **After the leader exits** the group gets SIGKILL at once, in the same poll that reaped the
//!   leader: a finished task must not leave stragglers (a forgotten `&`, a test server) holding
//!   files, ports or the output pipe, and doing it before anything else runs means the group id
//!   cannot have been reused yet (a pid stays reserved while it names a live group).
//! * **The keeper.** Every child is hot's own executable as the shim and keeper (see
//!   [`crate::shim`]), posix_spawned (no code runs between fork and exec, so std uses a vfork
//!   and hot's address space is never copied): it places the sockets at 3, 4, ..., forks the command (which sets
//!   `LISTEN_*` and execs), stays its parent, and ends with its status. Each instance has a
//!   status socket to its keeper: hot's end closing (hot is gone, however it ended) makes the
//!   keeper SIGKILL the command's group and every descendant it adopted; the keeper reports a
//!   stop of the command (SIGSTOP, SIGTTIN) over it as [`Event::Suspended`].
//! * **The spare.** With [`Supervisor::keep_spare`] (watch mode) one keeper waits, started and
//!   set up, and the next start hands it the instance over its status socket instead of
//!   spawning one; the next spare is spawned once that start's command runs (see `spare`).
//! * **Sockets** are passed through the shim, over its status socket (`SCM_RIGHTS`); during a `ready` overlap (another live instance
//!   has the same fds) it is told `--shared` and leaves their mode (`O_NONBLOCK`) alone. The
//!   same number is the same socket: hot keeps a socket open while an instance given it lives
//!   (see `sockets`), so its number is not handed out again meanwhile.
//!   A shell line that is a simple command runs as `sh -c "exec LINE"` so the server keeps the
//!   shim's pid and `LISTEN_PID` is right; any other shell line runs as `sh -c LINE` with
//!   `LISTEN_PID` *empty*, which listenfd accepts but strict consumers (`sd_listen_fds` with
//!   its pid check) do not: those need an argv `run "prog" "arg"`.
//! * **No orphans.** The keeper's status socket covers every way hot ends, also before the
//!   keeper runs (hot's end is then already closed when it looks). Until the keeper's `setsid`
//!   its group does not exist: a signal for an unreaped keeper whose group is missing goes to
//!   the keeper alone, which has started nothing yet. Reaping and signalling happen on one
//!   thread (a `current_thread` tokio runtime), so a keeper seen unreaped stays so until the
//!   signal is sent. Dropping the supervisor SIGKILLs every group it still runs.
//! * **Readiness.** `ready delay` fires after the delay if the leader is still alive, `ready
//!   log` on the first output line that matches, `ready "notify"` on a `READY=1` datagram on a
//!   private `NOTIFY_SOCKET`. One of `Ready` or `ReadyTimedOut` is sent per instance, never
//!   after its `Exited`; a timed-out instance keeps running (the engine decides).

#[cfg(unix)]
mod clock;
#[cfg(unix)]
mod ctx;
#[cfg(target_os = "linux")]
mod drain;
#[cfg(unix)]
mod excerpt;
#[cfg(target_os = "linux")]
mod holds;
#[cfg(unix)]
mod notify;
#[cfg(unix)]
mod output;
mod plan;
#[cfg(unix)]
mod program;
#[cfg(unix)]
mod ready;
#[cfg(unix)]
mod spare;
#[cfg(unix)]
mod spawn_error;
#[cfg(unix)]
mod unix;

pub use plan::exec_form;
#[cfg(unix)]
pub use unix::{kill_all_groups, signal_number};

use std::collections::HashMap;
#[cfg(not(unix))]
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use crate::engine::{Event, Generation};
#[cfg(not(unix))]
use crate::model::NodeId;
use crate::model::Project;
use crate::report::Reporter;
#[cfg(not(unix))]
use crate::sockets::RawFd;

#[cfg(unix)]
use unix::Instance;
#[cfg(not(unix))]
struct Instance;

/// Runs the instances of a project's nodes.
pub struct Supervisor {
    project: Arc<Project>,
    events: UnboundedSender<Event>,
    reporter: Reporter,
    /// This run's hints from the children's output, rebuilt with the project on a reload.
    hints: crate::hint::Hints,
    /// The executable run as the exec shim for services with sockets: hot itself
    /// (`/proc/self/exe` on Linux, which works even after the binary was replaced on disk).
    /// Tests point it at the built `hot` binary.
    pub shim_exe: PathBuf,
    /// Keyed by generation alone: generations are unique across nodes, and node ids change
    /// when a reload adds or removes nodes while instances keep running.
    instances: HashMap<Generation, Instance>,
    /// The keeper started ahead of the next start (see `spare`).
    #[cfg(unix)]
    spares: spare::Spares,
    /// What each program's last PATH search found (see `program`).
    #[cfg(unix)]
    programs: program::Programs,
}

impl Supervisor {
    pub fn new(project: Arc<Project>, events: UnboundedSender<Event>, reporter: Reporter) -> Self {
        let shim_exe = if cfg!(target_os = "linux") {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("hot"))
        };
        Supervisor {
            hints: crate::hint::Hints::new(&project),
            project,
            events,
            reporter,
            shim_exe,
            instances: HashMap::new(),
            #[cfg(unix)]
            spares: spare::Spares::default(),
            #[cfg(unix)]
            programs: program::Programs::default(),
        }
    }

    /// Whether to keep a spare keeper waiting for the next start (off by default: a run
    /// that starts each node once has no use for one). See `spare`.
    pub fn keep_spare(&mut self, on: bool) {
        #[cfg(unix)]
        self.spares.set_on(on);
        #[cfg(not(unix))]
        let _ = on;
    }

    /// The pid of the spare keeper waiting for the next start, if one is (for tests and
    /// diagnostics).
    pub fn spare_pid(&self) -> Option<u32> {
        #[cfg(unix)]
        return self.spares.pid();
        #[cfg(not(unix))]
        None
    }

    /// After a reload: later starts use the new definitions; running instances keep theirs.
    pub fn set_project(&mut self, project: Arc<Project>) {
        self.hints.set_project(&project);
        self.project = project;
    }
}

#[cfg(not(unix))]
impl Supervisor {
    /// Not supported off Unix: reports a spawn failure.
    pub fn start(
        &mut self,
        node: NodeId,
        generation: Generation,
        _sockets: &[(String, RawFd, SocketAddr)],
        _own: bool,
    ) {
        let _ = (&self.reporter, &self.instances, &self.hints);
        let _ = self.events.send(Event::Exited {
            node,
            generation,
            exit: crate::engine::Exit::SpawnFailed(
                "hot runs processes only on Unix for now".into(),
            ),
            last_lines: Vec::new(),
            ran: None,
        });
    }

    pub fn stop(&mut self, _node: NodeId, _generation: Generation) {}

    pub fn running(&self) -> usize {
        0
    }

    pub async fn shutdown(&mut self) {}

    pub fn kill_all(&mut self) {}
}
