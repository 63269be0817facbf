//! The scheduler: a pure state machine, events in, actions out.
//!
//! The engine owns every policy (what is stale, what may start, what waits, what is blocked,
//! what gets stopped) and performs no I/O: no processes, no files, no clock. Time arrives inside
//! the events, so the whole policy is unit-tested with scripted event sequences.

mod state;

pub use state::{Engine, Mode, Options, scope_of};

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::model::NodeId;

/// Names one instance (one start) of any node. Generations are unique across all nodes and
/// never reused, so a late exit of a stopped instance is never mistaken for a current one, even
/// after a reload renumbered the nodes.
pub type Generation = u64;

/// How a process ended, as the supervisor observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this status code.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
    /// Never started: the command was not found, not executable, ...
    SpawnFailed(String),
    /// Never started because the system refused a process for now: a limit on processes or
    /// open files was reached. Unlike [`Exit::SpawnFailed`] it fixes itself once the limit
    /// eases, so a service comes back by itself, as after a crash.
    Refused(String),
}

impl Exit {
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }
}

/// What the engine reacts to.
#[derive(Debug, Clone)]
pub enum Event {
    /// A debounced burst of file changes.
    Changed(Vec<Change>),
    /// An instance exited (on its own, or because it was stopped).
    Exited {
        node: NodeId,
        generation: Generation,
        exit: Exit,
        /// The instance's own last lines of output (a few), oldest first.
        last_lines: Vec<String>,
        /// How long the command ran, as its keeper measured it. The keeper runs while hot is
        /// stopped (SIGSTOP), so this excludes the time hot took to hear of the exit; `None`
        /// (no keeper: it could not start) falls back to hot's own clock.
        ran: Option<Duration>,
    },
    /// A service instance is serving (its `ready` condition held).
    Ready {
        node: NodeId,
        generation: Generation,
    },
    /// A service instance did not become ready in time.
    ReadyTimedOut {
        node: NodeId,
        generation: Generation,
    },
    /// The user asked for a rerun (a key in the status view): handled like a change to the
    /// nodes it names, so their dependents come along and a service hands off as usual.
    Rerun(Rerun),
    /// The instance's command was stopped by `signal` (SIGSTOP, SIGTTIN, ...): it will not go
    /// on until continued.
    Suspended {
        node: NodeId,
        generation: Generation,
        signal: i32,
        /// The stopped process.
        pid: u32,
    },
    /// A socket of the service no longer accepted (an instance called `shutdown()` on it) and
    /// was replaced by a fresh one at the same address; a running instance holds the dead one.
    SocketRenewed { node: NodeId, socket: String },
    /// Stop everything, then exit with `code` (an [`crate::exit`] status). A second one, while
    /// stopping, kills everything at once ([`Action::KillAll`]).
    Shutdown { code: u8 },
    /// The time asked for by an [`Action::Wake`] has come (or passed).
    Tick,
}

/// Which nodes a rerun asks for. Which nodes failed is the engine's to know, not the asker's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerun {
    /// Every node in scope.
    All,
    /// The nodes whose last run failed (tasks that failed, services that exited or never got
    /// ready); what they blocked comes along as their dependents.
    Failed,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Relative to the project root.
    pub path: PathBuf,
    /// When the file was last modified (its mtime, on the engine's clock); `None` when it is
    /// gone or unknown. Tells a node's own writes (made while it ran) from anyone else's.
    pub modified: Option<Instant>,
}

impl Change {
    /// A change with no known modification time.
    pub fn path(path: impl Into<PathBuf>) -> Change {
        Change {
            path: path.into(),
            modified: None,
        }
    }
}

/// What the engine asks the outside world to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start an instance of the node. For a service with `ready`, the supervisor reports
    /// [`Event::Ready`] or [`Event::ReadyTimedOut`] afterwards.
    Start {
        node: NodeId,
        generation: Generation,
    },
    /// Stop this instance (its process group: stop signal, timeout, SIGKILL); an
    /// [`Event::Exited`] follows.
    Stop {
        node: NodeId,
        generation: Generation,
    },
    /// Send [`Event::Tick`] at `at` (the engine has no clock). Only the earliest pending
    /// wake matters: every tick asks again for the next one still due.
    Wake { at: Instant },
    /// No instance of this service (one with `reload` and a socket) is alive or starting: hot
    /// answers its first socket itself, with a `503` page that says why, until
    /// [`Action::Release`]. Policy kept here so the driver only carries it out.
    Answer { node: NodeId },
    /// Stop answering the service's socket, at once: an instance is about to start (this comes
    /// before its `Start`), so every connection from now on waits in the backlog for it.
    Release { node: NodeId },
    /// Tell the user.
    Report(Report),
    /// The user asked twice to stop: SIGKILL every instance's group now, without waiting for
    /// the stop timeouts (their exits still come back as [`Event::Exited`]).
    KillAll,
    /// Nothing is left to do: exit with this status (an [`crate::exit`] status).
    Exit(u8),
}

/// What the engine has to say; `report` turns it into text or JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A wave begins: these nodes are stale.
    WaveStarted {
        wave: u64,
        trigger: Trigger,
        nodes: Vec<NodeId>,
    },
    NodeStarted {
        node: NodeId,
        generation: Generation,
    },
    /// A task finished, or a service instance exited.
    NodeFinished {
        node: NodeId,
        /// Which instance: a service may have two alive (the serving one and its successor).
        generation: Generation,
        exit: Exit,
        duration: Duration,
        /// The instance's own last lines of output.
        last_lines: Vec<String>,
    },
    /// A service instance is serving: `generation` took over, `duration` after its start.
    /// `gates`: the `gate` nodes its build passed before it took over (why it serves now and
    /// not at its ready: an early instance waits for them); empty for a service without gates.
    ServiceReady {
        node: NodeId,
        generation: Generation,
        duration: Duration,
        gates: Vec<NodeId>,
    },
    /// Instance `generation` gets the connections though its build has not passed `gates`,
    /// because no other instance is alive: the serving one exited on its own while this early
    /// one waited (there is no older build to restart), or this one, kept as the only
    /// instance when a new wave began, got ready. `ready`: it is ready (else connections wait
    /// for it in the backlog). A later `ServiceReady` or `ServiceKept`/`Blocked` settles it.
    ServingUnchecked {
        node: NodeId,
        generation: Generation,
        gates: Vec<NodeId>,
        ready: bool,
    },
    /// An early instance (`gate`) is ready and waits for `gates` before it takes over.
    /// `serving`: an older instance serves meanwhile; otherwise this one is all there is and
    /// gets the connections already.
    AwaitingGates {
        node: NodeId,
        duration: Duration,
        gates: Vec<NodeId>,
        serving: bool,
    },
    /// The node did not run: `by` failed in this wave.
    Blocked { node: NodeId, by: NodeId },
    /// A running instance went stale and is being stopped to start afresh.
    Restarting { node: NodeId },
    /// A service keeps its running instance because `failed` failed upstream.
    ServiceKept {
        node: NodeId,
        since: Instant,
        failed: NodeId,
    },
    /// A new instance did not become ready within its timeout. `kept`: there was no other
    /// instance, so it keeps running (it is all there is); otherwise it is stopped and the
    /// previous one keeps serving.
    ReadyTimedOut { node: NodeId, kept: bool },
    /// No instance of the service is running any more (it exited on its own). `restart_in`:
    /// when it is started again (backoff), or `None` when it waits for the next change.
    ServiceDown {
        node: NodeId,
        restart_in: Option<Duration>,
    },
    /// An instance of the service shut the shared listening `socket` down; hot bound a fresh
    /// one at the same address and restarts the service on it.
    SocketRenewed { node: NodeId, socket: String },
    /// A running instance was stopped by a signal and waits to be continued.
    Suspended { node: NodeId, signal: i32, pid: u32 },
    /// hot was asked to stop (a signal, the quit key): every instance is being stopped; a
    /// second request kills them at once.
    Stopping,
    /// A node keeps retriggering itself: its own run changes its inputs.
    LoopDetected { node: NodeId, paths: Vec<PathBuf> },
    /// The wave is over: every stale node finished, failed or was blocked. `failed` counts this
    /// wave's failures; `graph` is how every node in scope stands now, so "all ok" can speak for
    /// the whole graph rather than the last wave; `crashed`: the service instances that exited
    /// on their own during the wave, which a graph that is ok again no longer shows.
    WaveFinished {
        wave: u64,
        failed: usize,
        graph: Vec<Standing>,
        crashed: Vec<Crash>,
    },
}

/// A service instance that exited on its own during a wave, and what serves after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    pub node: NodeId,
    pub generation: Generation,
    pub exit: Exit,
    /// The instance of the service that serves when the wave ends, if any.
    pub serving: Option<Generation>,
}

/// How one node stands: its last result, not only this wave's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub node: NodeId,
    pub result: NodeResult,
    /// How long its last run that ended on its own took (start to exit: the node's own time).
    pub duration: Option<Duration>,
    /// A service: when the instance that serves now started, or `None` when none serves. A
    /// failed service with one serves an older build: its latest edit is not live.
    pub serving_since: Option<Instant>,
}

/// A node's last result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeResult {
    /// It has not run (yet).
    NotRun,
    /// A task succeeded; a service is serving.
    Ok,
    /// A task failed; a service's latest instance exited or never got ready (an older one may
    /// still serve: [`Standing::serving_since`]).
    Failed,
    /// It did not run because `by` failed upstream (a service may still serve an older build).
    Blocked { by: NodeId },
}

impl NodeResult {
    pub fn ok(self) -> bool {
        self == NodeResult::Ok
    }
}

/// What set a wave off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The first run after start.
    Start,
    /// Changed files (a few of them, and how many in all).
    Paths { first: Vec<PathBuf>, count: usize },
    /// The user asked for it.
    Rerun(Rerun),
}
