//! What the status view knows of each node, kept up to date from hot's events.
//!
//! Pure: it reads hot's event stream (the same events every sink gets), time arrives as `now`,
//! nothing is drawn or written here, so every transition is unit-tested by feeding the board
//! what a real engine reports, translated as hot translates it.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::engine::Generation;
use crate::model::Kind;
use crate::report::event::{self, EventKind, NodeInfo, Rerun};
use crate::report::{how_it_ended, printable, signal_name, wave_cause};

/// How much of a node's last run is kept for "show the output": the newest lines win.
const KEEP_LINES: usize = 2_000;
const KEEP_BYTES: usize = 512 * 1024;

/// Every node in scope, in dependency order, and the wave that is (or was last) running.
#[derive(Debug)]
pub(crate) struct Board {
    rows: Vec<Row>,
    wave: Option<Wave>,
    /// Set once hot is shutting down.
    stopping: bool,
    /// Directories the watcher polls because the inotify limit is full (0: none).
    polled: usize,
}

/// The latest wave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wave {
    pub number: u64,
    /// What set it off, in words ("src/main.rs changed").
    pub cause: String,
    pub started: Instant,
    /// When it finished.
    pub finished: Option<Instant>,
    /// The service instances that exited on their own during it, in words; empty if none.
    pub crashed: String,
}

/// One node's line.
#[derive(Debug)]
pub(crate) struct Row {
    pub name: String,
    pub kind: Kind,
    /// The latest run (for a service: the latest instance hot started).
    pub state: State,
    /// A service's addresses as the Hotfile gives them.
    addrs: Vec<String>,
    /// The address hot reported bound for each socket (port 0 resolved), by socket name.
    bound: BTreeMap<String, String>,
    /// A service's instance that serves now.
    pub serving: Option<Serving>,
    /// Something to add to the line (a loop hot ignores).
    pub note: Option<String>,
    /// The note says the instance is stopped by a signal. No event says it was continued (the
    /// keeper reports stops only), so what proves it runs again clears the note: output it
    /// prints, or its end.
    suspended: bool,
    /// The current or last run's output.
    pub output: Output,
    /// A service's instance started and not ready yet.
    starting: Option<Generation>,
    /// A service's latest instances, newest last: their pids and builds, by generation.
    instances: VecDeque<Instance>,
    /// No instance of the service runs: when hot starts it again.
    pub down: Option<Down>,
    /// The `lock` names the node holds while it runs.
    locks: Vec<String>,
}

/// When a service that is down comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Down {
    /// After its crash backoff, at this time.
    RestartAt(Instant),
    /// At the next change (its `restart` policy, or a command that cannot start).
    NextChange,
}

/// How a node's latest run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// Has not run yet.
    Idle,
    /// Stale: waits for its dependencies or a free job slot.
    Queued,
    /// A task runs; a service's new instance is starting (not ready yet).
    Running {
        since: Instant,
    },
    /// A service's early instance (`gate`) is ready and waits for these gates to pass.
    Gated {
        gates: Vec<String>,
    },
    /// A task succeeded; a service's latest instance is serving.
    Ok {
        took: Duration,
    },
    Failed {
        why: String,
        took: Option<Duration>,
    },
    /// Did not run because `by` failed.
    Blocked {
        by: String,
    },
}

/// A serving service instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Serving {
    pub generation: Generation,
    pub pid: Option<u32>,
    /// Serving since (ready, or started for a service without `ready`).
    pub since: Instant,
    /// The wave whose build it serves.
    pub wave: u64,
    /// Set when a newer build was not started because this node failed upstream.
    pub stale_by: Option<String>,
    /// The gates its build has not passed: it serves unchecked, as no other instance runs
    /// (`service_serving_unchecked`); empty once they passed, or for a service without gates.
    pub unchecked: Vec<String>,
    /// It is ready; if not, connections wait for it in the backlog.
    pub ready: bool,
}

/// A service instance hot started and has not heard the end of, as its events named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Instance {
    generation: Generation,
    pid: Option<u32>,
    /// The wave whose build it runs: the one it started in.
    wave: u64,
}

/// How many of a service's latest instances are remembered (an instance hot stops is never
/// reported ended, so the list is cut rather than emptied).
const KEEP_INSTANCES: usize = 4;

/// A run's output, bounded: the newest lines, and how many older ones were dropped.
#[derive(Debug, Default, Clone)]
pub(crate) struct Output {
    pub lines: VecDeque<String>,
    pub dropped: usize,
    bytes: usize,
}

impl Row {
    /// Whether the instance the row's state describes (the one starting) is the serving one:
    /// an early instance that serves unchecked.
    pub(crate) fn starting_serves(&self) -> bool {
        self.starting
            .is_some_and(|g| self.serving.as_ref().is_some_and(|s| s.generation == g))
    }

    fn instance(&self, generation: Generation) -> Option<Instance> {
        self.instances
            .iter()
            .find(|i| i.generation == generation)
            .copied()
    }

    /// Instance `generation` serves from `now` (as it did already, if it did), `unchecked`
    /// before these gates passed.
    fn serves(&mut self, generation: Generation, now: Instant, unchecked: &[String], ready: bool) {
        let since = self
            .serving
            .as_ref()
            .filter(|s| s.generation == generation)
            .map_or(now, |s| s.since);
        let known = self.instance(generation);
        self.serving = Some(Serving {
            generation,
            pid: known.and_then(|i| i.pid),
            since,
            wave: known.map_or(0, |i| i.wave),
            stale_by: None,
            unchecked: unchecked.to_vec(),
            ready,
        });
    }

    /// The instance runs again (or is gone): a note that it is stopped no longer holds.
    fn resumed(&mut self) {
        if self.suspended {
            self.note = None;
            self.suspended = false;
        }
    }

    /// The service's addresses: as bound once hot reported them (port 0 resolved), as the
    /// Hotfile gives them before.
    pub(crate) fn addrs(&self) -> Vec<String> {
        if self.bound.is_empty() {
            self.addrs.clone()
        } else {
            self.bound.values().cloned().collect()
        }
    }
}

impl Output {
    fn push(&mut self, line: &str) {
        self.bytes += line.len();
        self.lines.push_back(line.to_owned());
        while self.lines.len() > KEEP_LINES || (self.bytes > KEEP_BYTES && self.lines.len() > 1) {
            let old = self.lines.pop_front().expect("more than one line");
            self.bytes -= old.len();
            self.dropped += 1;
        }
    }
}

impl Board {
    /// An empty board: rows come with the first `scope` event.
    pub(crate) fn new() -> Board {
        Board {
            rows: Vec::new(),
            wave: None,
            stopping: false,
            polled: 0,
        }
    }

    /// The nodes in scope (at start and after a reload): nodes that stay keep their state,
    /// new ones are idle, removed ones go.
    fn scope(&mut self, nodes: &[NodeInfo]) {
        let mut old = std::mem::take(&mut self.rows);
        for node in nodes {
            let kind = match node.kind {
                event::Kind::Task => Kind::Task,
                event::Kind::Service => Kind::Service,
            };
            let row = match old.iter().position(|r| r.name == node.name) {
                Some(i) => {
                    let mut row = old.swap_remove(i);
                    row.kind = kind;
                    row.addrs = node.sockets.clone();
                    row.locks = node.locks.clone();
                    row
                }
                None => Row {
                    name: node.name.clone(),
                    kind,
                    state: State::Idle,
                    addrs: node.sockets.clone(),
                    bound: BTreeMap::new(),
                    serving: None,
                    note: None,
                    suspended: false,
                    output: Output::default(),
                    starting: None,
                    instances: VecDeque::new(),
                    down: None,
                    locks: node.locks.clone(),
                },
            };
            self.rows.push(row);
        }
    }

    pub(crate) fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub(crate) fn wave(&self) -> Option<&Wave> {
        self.wave.as_ref()
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping
    }

    /// How many directories are polled because the inotify watch limit is full.
    pub(crate) fn polled(&self) -> usize {
        self.polled
    }

    /// For a queued row: a lock it needs and the running node that holds it.
    pub(crate) fn lock_wait<'a>(&'a self, row: &'a Row) -> Option<(&'a str, &'a str)> {
        if row.state != State::Queued {
            return None;
        }
        self.rows.iter().find_map(|other| {
            if other.name == row.name || !matches!(other.state, State::Running { .. }) {
                return None;
            }
            let lock = row.locks.iter().find(|l| other.locks.contains(l))?;
            Some((lock.as_str(), other.name.as_str()))
        })
    }

    fn row(&mut self, name: &str) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.name == name)
    }

    /// The names of the nodes whose latest run failed, in scope order.
    pub(crate) fn failed(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| matches!(r.state, State::Failed { .. }))
            .map(|r| r.name.as_str())
            .collect()
    }

    pub(crate) fn output_of(&self, name: &str) -> Option<&Output> {
        self.rows.iter().find(|r| r.name == name).map(|r| &r.output)
    }

    /// Takes one event of hot's stream; `now` is when it arrived.
    pub(crate) fn event(&mut self, now: Instant, event: &EventKind) {
        let wave = self.wave.as_ref().map_or(0, |w| w.number);
        match event {
            EventKind::Scope { nodes } => self.scope(nodes),
            EventKind::Listening { node, socket, addr } => {
                if let Some(row) = self.row(node) {
                    row.bound.insert(socket.clone(), addr.clone());
                }
            }
            EventKind::WaveStarted { wave, nodes, .. } => {
                self.wave = Some(Wave {
                    number: *wave,
                    cause: cause(event),
                    started: now,
                    finished: None,
                    crashed: String::new(),
                });
                for node in nodes {
                    if let Some(row) = self.row(node)
                        && !matches!(row.state, State::Running { .. } | State::Gated { .. })
                    {
                        row.state = State::Queued;
                    }
                }
            }
            EventKind::NodeStarted {
                node,
                generation,
                kind,
                ready,
            } => {
                let Some(row) = self.row(node) else {
                    return;
                };
                row.output = Output::default();
                row.note = None;
                row.suspended = false;
                row.down = None;
                row.state = State::Running { since: now };
                if *kind == event::Kind::Service {
                    if row.instances.len() == KEEP_INSTANCES {
                        row.instances.pop_front();
                    }
                    row.instances.push_back(Instance {
                        generation: *generation,
                        pid: None,
                        wave,
                    });
                    if *ready {
                        row.starting = Some(*generation);
                    } else {
                        // Without `ready` it serves from its start (the old one went first).
                        row.state = State::Ok {
                            took: Duration::ZERO,
                        };
                        row.serves(*generation, now, &[], true);
                    }
                }
            }
            EventKind::CommandStarted {
                node,
                generation,
                pid,
            } => {
                let Some(row) = self.row(node) else {
                    return;
                };
                if let Some(instance) = row
                    .instances
                    .iter_mut()
                    .find(|i| i.generation == *generation)
                {
                    instance.pid = Some(*pid);
                }
                if let Some(serving) = row.serving.as_mut().filter(|s| s.generation == *generation)
                {
                    serving.pid = Some(*pid);
                }
            }
            EventKind::NodeFinished {
                node,
                generation,
                kind,
                ok,
                duration_ms,
                ..
            } => {
                let Some(row) = self.row(node) else {
                    return;
                };
                row.resumed();
                let took = millis(*duration_ms);
                let why = how_it_ended(event).unwrap_or_else(|| "ended".to_owned());
                match kind {
                    event::Kind::Task => {
                        row.state = if *ok {
                            State::Ok { took }
                        } else {
                            State::Failed {
                                why,
                                took: Some(took),
                            }
                        };
                    }
                    event::Kind::Service => {
                        let ended = row.instance(*generation);
                        row.instances.retain(|i| i.generation != *generation);
                        if row
                            .serving
                            .as_ref()
                            .is_some_and(|s| s.generation == *generation)
                        {
                            row.serving = None;
                        }
                        if row.starting == Some(*generation) {
                            row.starting = None;
                            row.state = State::Failed {
                                why: format!("{why} before it was ready"),
                                took: Some(took),
                            };
                        } else if row.starting.is_some() {
                            // The serving instance crashed while its successor starts or waits
                            // for its gates: the row goes on describing the successor.
                            let build = ended.map_or_else(String::new, |i| {
                                format!(" (build of wave {})", i.wave)
                            });
                            row.note = Some(format!(
                                "instance {generation}{build} crashed: {why} after {}",
                                elapsed(took)
                            ));
                        } else {
                            row.state = State::Failed {
                                why: format!("{why} after {}", elapsed(took)),
                                took: None,
                            };
                        }
                    }
                }
            }
            EventKind::ServiceAwaitingGates {
                node,
                gates,
                serving,
                ..
            } => {
                if let Some(row) = self.row(node) {
                    row.state = State::Gated {
                        gates: gates.clone(),
                    };
                    // Not `serving`: it is all there is, and gets the connections already.
                    if let Some(generation) = row.starting.filter(|_| !serving) {
                        row.serves(generation, now, gates, true);
                    }
                }
            }
            EventKind::ServiceServingUnchecked {
                node,
                generation,
                gates,
                ready,
            } => {
                if let Some(row) = self.row(node) {
                    row.serves(*generation, now, gates, *ready);
                }
            }
            EventKind::ServiceReady {
                node,
                generation,
                duration_ms,
                ..
            } => {
                let Some(row) = self.row(node) else {
                    return;
                };
                if row.starting == Some(*generation) {
                    row.starting = None;
                }
                row.state = State::Ok {
                    took: millis(*duration_ms),
                };
                row.serves(*generation, now, &[], true);
            }
            EventKind::NodeBlocked { node, by } => {
                if let Some(row) = self.row(node) {
                    row.state = State::Blocked { by: by.clone() };
                    // A service is `blocked` (not `kept`) only when nothing serves: an
                    // unchecked instance whose gate failed was stopped.
                    if row.kind == Kind::Service {
                        row.serving = None;
                        row.starting = None;
                    }
                }
            }
            EventKind::ServiceKept { node, failed, .. } => {
                if let Some(row) = self.row(node) {
                    row.state = State::Blocked { by: failed.clone() };
                    if let Some(serving) = &mut row.serving {
                        serving.stale_by = Some(failed.clone());
                    }
                }
            }
            EventKind::NodeRestarting { node } => {
                if let Some(row) = self.row(node) {
                    row.state = State::Queued;
                    row.starting = None;
                }
            }
            EventKind::ReadyTimedOut {
                node,
                kept,
                timeout_ms,
                ..
            } => {
                if let Some(row) = self.row(node) {
                    row.starting = None;
                    // Kept: the only instance runs on, though hot cannot tell it serves.
                    let then = if *kept { "left running" } else { "stopped" };
                    row.state = State::Failed {
                        why: format!("not ready after {}; {then}", elapsed(millis(*timeout_ms))),
                        took: None,
                    };
                }
            }
            EventKind::ServiceDown {
                node,
                restart_in_ms,
            } => {
                if let Some(row) = self.row(node) {
                    // Nothing runs any more, whichever instance the exit was.
                    row.serving = None;
                    row.starting = None;
                    row.down = Some(match restart_in_ms {
                        Some(ms) => Down::RestartAt(now + millis(*ms)),
                        None => Down::NextChange,
                    });
                    if !matches!(row.state, State::Failed { .. }) {
                        row.state = State::Failed {
                            why: "no instance runs".to_owned(),
                            took: None,
                        };
                    }
                }
            }
            EventKind::NodeSuspended { node, signal, pid } => {
                if let Some(row) = self.row(node) {
                    row.note = Some(format!(
                        "pid {pid} stopped by {}: `kill -CONT {pid}` resumes it",
                        signal_label(*signal)
                    ));
                    row.suspended = true;
                }
            }
            EventKind::SocketRenewed { node, socket } => {
                if let Some(row) = self.row(node) {
                    row.note = Some(format!(
                        "socket `{socket}` was shut down by an instance; bound afresh"
                    ));
                    row.suspended = false;
                }
            }
            EventKind::WatchFallback { polled, .. } => self.polled = *polled,
            EventKind::WatchRestored { .. } => self.polled = 0,
            EventKind::Stopping { .. } => self.stopping = true,
            EventKind::SocketUnused {
                node,
                fd,
                listening,
                ..
            } => {
                if let Some(row) = self.row(node) {
                    row.note = Some(format!(
                        "listens on {} itself, not on fd {fd}",
                        listening.join(", ")
                    ));
                    row.suspended = false;
                }
            }
            EventKind::LoopDetected { node, paths } => {
                if let Some(row) = self.row(node) {
                    let first = printable(paths.first().map_or("", |p| p.as_str())).into_owned();
                    row.note = Some(format!("loop: ignoring its own writes to {first}"));
                    row.suspended = false;
                }
            }
            EventKind::WaveFinished { crashed, .. } => {
                if let Some(wave) = &mut self.wave {
                    wave.finished = Some(now);
                    wave.crashed = crate::report::lines::crashes(crashed);
                }
            }
            EventKind::Output { node, line, .. } => {
                if let Some(row) = self.row(node) {
                    // A stopped process prints nothing: a line is read only once it runs again
                    // (or, at the very moment of the stop, one it wrote just before).
                    row.resumed();
                    row.output.push(line);
                }
            }
            _ => {}
        }
    }
}

impl Default for Board {
    fn default() -> Board {
        Board::new()
    }
}

/// `SIGSTOP`, or `signal 42` for one without a name.
fn signal_label(signal: i32) -> String {
    let name = signal_name(signal).trim();
    if name.is_empty() {
        format!("signal {signal}")
    } else {
        name.trim_matches(|c| c == '(' || c == ')').to_owned()
    }
}

fn millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or_default()
}

/// What set a wave off, in words.
fn cause(event: &EventKind) -> String {
    let text = wave_cause(event).unwrap_or_default();
    // The panel adds the key that asks for a rerun, and a name to a count of files.
    match event {
        EventKind::WaveStarted {
            rerun: Some(Rerun::All),
            ..
        } => format!("{text} (r)"),
        EventKind::WaveStarted {
            rerun: Some(Rerun::Failed),
            ..
        } => format!("{text} (f)"),
        EventKind::WaveStarted {
            start: false,
            paths,
            changed,
            rerun: None,
            ..
        } if *changed != 1 => match paths.first() {
            Some(path) => format!("{text} ({}, …)", printable(path)),
            None => text,
        },
        _ => text,
    }
}

/// `4.2s`, `3m07s`, `2h05m`: how long something has been running, at a glance.
pub(crate) fn elapsed(duration: Duration) -> String {
    if duration < Duration::from_secs(60) {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        uptime(duration)
    }
}

/// `4s`, `3m07s`, `2h05m`: whole seconds, so an idle panel changes once a second at most.
pub(crate) fn uptime(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs / 60) % 60)
    }
}
