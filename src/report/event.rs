//! The typed event stream: everything hot tells the user, as data.
//!
//! The engine speaks its own vocabulary ([`crate::engine::Report`], node ids, instants); the
//! reporter translates it once into these events (names, wall-clock times, milliseconds), and
//! every sink (plain lines, JSON lines, the status view, ...) reads only these. The JSON form
//! of an event is exactly its serde form; `docs/json.md` documents it and a test checks the two
//! against each other.

use jiff::ZonedDateTime as Zoned;
use serde::{Deserialize, Serialize};

/// One thing hot tells the user, and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(flatten)]
    pub kind: EventKind,
    /// Wall-clock time in the local time zone; RFC 3339 with offset, to the millisecond.
    #[serde(serialize_with = "rfc3339")]
    pub time: Zoned,
}

/// What happened. The serde tag (`event`) and field names are the JSON schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The nodes this run covers, in declaration order; at start and after a reload.
    Scope { nodes: Vec<NodeInfo> },
    /// A service's socket is bound (port 0 resolved to the real port).
    Listening {
        node: String,
        socket: String,
        addr: String,
    },
    /// Watch mode: every watch is in place; no edit after this is lost.
    Watching { directories: usize },
    /// The kernel refused more inotify watches: `polled` directories are polled instead.
    WatchFallback {
        polled: usize,
        /// The limit in force, if it could be read.
        limit: Option<u64>,
        /// A limit that fits the tree with room to grow.
        suggested: u64,
        /// The command that raises the limit.
        fix: Option<String>,
        interval_ms: f64,
        message: String,
    },
    /// Every polled directory has an inotify watch again.
    WatchRestored { directories: usize, message: String },
    /// A change (or the start, or a reload) made these nodes stale.
    WaveStarted {
        wave: u64,
        start: bool,
        /// Up to 3 changed paths, relative to the project root.
        paths: Vec<String>,
        /// How many paths changed.
        changed: usize,
        nodes: Vec<String>,
        /// Set when the user asked for the wave (a key of the status view); absent otherwise,
        /// so every other wave keeps its exact shape.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rerun: Option<Rerun>,
    },
    /// An instance starts.
    NodeStarted {
        node: String,
        generation: u64,
        kind: Kind,
        /// Whether hot waits for a `ready` condition (services) before calling it serving.
        ready: bool,
    },
    /// A service instance's command runs as `pid` (its keeper reports it a moment after the
    /// start).
    CommandStarted {
        node: String,
        generation: u64,
        pid: u32,
    },
    /// A task finished, or a service instance exited on its own.
    NodeFinished {
        node: String,
        /// The instance that ended (as in its `node_started`): a service may run two.
        generation: u64,
        kind: Kind,
        ok: bool,
        code: Option<i32>,
        signal: Option<i32>,
        /// Why it could not start.
        error: Option<String>,
        duration_ms: f64,
        /// A service's last lines of output; empty for tasks.
        last_lines: Vec<String>,
    },
    /// A new service instance is serving.
    ServiceReady {
        node: String,
        /// The instance that serves now (as in its `node_started`).
        generation: u64,
        duration_ms: f64,
        /// The `gate` nodes its build passed: why it serves only now, after its ready.
        gates: Vec<String>,
    },
    /// An early instance gets the connections before its build passed its gates, because no
    /// other instance is alive.
    ServiceServingUnchecked {
        node: String,
        generation: u64,
        /// The gates its build has not passed.
        gates: Vec<String>,
        /// Ready already; otherwise connections wait for it.
        ready: bool,
    },
    /// An early instance (`gate`) is ready and waits for its gates before it takes over.
    ServiceAwaitingGates {
        node: String,
        /// Start to ready.
        duration_ms: f64,
        /// The gates still to pass, in declaration order.
        gates: Vec<String>,
        /// An older instance serves meanwhile (this one gets no connection until it takes
        /// over); false: this one is all there is and gets the connections already.
        serving: bool,
    },
    /// A service was not restarted because `failed` failed upstream; the old instance serves.
    ServiceKept {
        node: String,
        /// When the serving instance started (RFC 3339, local time).
        since: String,
        failed: String,
    },
    /// The node did not run: `by` failed upstream.
    NodeBlocked { node: String, by: String },
    /// A running instance went stale and is stopped to start afresh.
    NodeRestarting { node: String },
    /// A new service instance did not get ready in time. `kept`: there was no other instance,
    /// so it keeps running; otherwise it is stopped and the previous one keeps serving.
    ReadyTimedOut {
        node: String,
        kept: bool,
        timeout_ms: f64,
        /// What hot waited for and did not see ("no line matched `^listening on` in 60s").
        unseen: String,
    },
    /// No instance of the service runs any more (it exited on its own).
    ServiceDown {
        node: String,
        /// When hot starts it again (backoff); `None`: at the next change.
        restart_in_ms: Option<f64>,
    },
    /// An instance shut the shared listening socket down; hot bound a fresh one.
    SocketRenewed { node: String, socket: String },
    /// A running instance was stopped by a signal and waits to be continued.
    NodeSuspended { node: String, signal: i32, pid: u32 },
    /// hot was asked to stop (a signal, the quit key) and stops every instance; asked again, it
    /// kills them at once.
    Stopping { message: String },
    /// The node's own runs keep changing these inputs.
    LoopDetected { node: String, paths: Vec<String> },
    /// A service listens on a port of its own and does not take the socket hot passed it, so
    /// requests to hot's address never reach it (Linux only).
    SocketUnused {
        node: String,
        /// The socket hot passed: its name, its fd in the service, its address.
        socket: String,
        fd: i32,
        addr: String,
        /// What the service listens on itself.
        listening: Vec<String>,
        /// Whether it closed hot's socket (else it holds it and nothing waits on it).
        closed: bool,
        message: String,
    },
    /// Nothing is stale or running any more.
    WaveFinished {
        wave: u64,
        /// How many nodes failed in this wave.
        failed: usize,
        /// Whether every node in scope is ok now (not only this wave's).
        ok: bool,
        /// The nodes in scope whose last run failed, in declaration order.
        failed_nodes: Vec<String>,
        /// How every node in scope stands.
        nodes: Vec<NodeResult>,
        /// The service instances that exited on their own during the wave: a graph that is ok
        /// again does not show them.
        #[serde(default)]
        crashed: Vec<Crashed>,
    },
    /// The edited Hotfile was read and took effect.
    Reloaded { hotfile: String },
    /// A Hotfile mistake.
    Diagnostic {
        message: String,
        /// Rendered without colour: file, line, column and caret.
        rendered: String,
        /// The coloured rendering, for a terminal; not part of the JSON.
        #[serde(skip)]
        rendered_color: Option<String>,
    },
    /// One line of a child's output.
    Output {
        node: String,
        stream: Stream,
        line: String,
    },
    /// hot's own remark.
    Note { message: String },
    /// Something that works, but not as the user may think (a watch that failed, ...).
    Warning { message: String },
    /// A runtime problem: what failed and what to do.
    Error { message: String },
    /// The sinks fell behind (a reader of `--json` that stopped reading): this many events
    /// just before this one were dropped.
    Dropped { events: u64, message: String },
    /// `hot ci` ends: how every node stands.
    Summary {
        ok: bool,
        failed_nodes: Vec<String>,
        nodes: Vec<NodeResult>,
    },
}

/// A node as the sinks need to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    pub kind: Kind,
    /// The nodes it runs after.
    pub after: Vec<String>,
    /// The addresses of its sockets as the Hotfile gives them.
    pub sockets: Vec<String>,
    /// The locks it holds while it runs (`lock "NAME"`): no two nodes holding one run at once.
    pub locks: Vec<String>,
}

/// A service instance that exited on its own during a wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crashed {
    pub node: String,
    /// The instance that exited (as in its `node_started`).
    pub generation: u64,
    /// How it ended: "exit status 1", "killed by signal 9 (SIGKILL)".
    pub how: String,
    /// The instance of the service that serves when the wave ends, or `None`: nothing does.
    pub serving: Option<u64>,
}

/// How one node stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeResult {
    pub node: String,
    /// `ok`, `failed`, `blocked` or `not run`.
    pub result: String,
    /// The upstream node that failed, for `blocked`.
    pub by: Option<String>,
    /// The duration as shown to people (`1.23s`, `45ms`), or `-`.
    pub duration: String,
    pub duration_ms: Option<f64>,
    /// A service: when the instance that serves started (RFC 3339, local time), or `None` when
    /// none serves. `failed` with this set: an older build serves and the edit is not live.
    #[serde(default)]
    pub serving_since: Option<String>,
}

impl NodeResult {
    pub fn ok(&self) -> bool {
        self.result == "ok"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Task,
    Service,
}

/// What a rerun the user asked for covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rerun {
    All,
    Failed,
}

/// Which of a child's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl From<crate::model::Kind> for Kind {
    fn from(kind: crate::model::Kind) -> Kind {
        match kind {
            crate::model::Kind::Task => Kind::Task,
            crate::model::Kind::Service => Kind::Service,
        }
    }
}

/// `2026-12-01T10:31:05.123+01:00`. Written out by hand: every event (every output line under
/// `--json`) is stamped, and `strftime` parses its format string each time.
pub fn format_rfc3339(time: &Zoned) -> String {
    let offset = time.offset().seconds();
    let (sign, offset) = if offset < 0 {
        ('-', -offset)
    } else {
        ('+', offset)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
        time.millisecond(),
        offset / 3600,
        offset / 60 % 60
    )
}

fn rfc3339<S: serde::Serializer>(time: &Zoned, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_rfc3339(time))
}
