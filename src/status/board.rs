//! What the status view knows of each node, kept up to date from hot's events.
//!
//! Pure: time arrives as `now`, nothing is drawn or written here, so every transition is
//! unit-tested by feeding the board what a real engine reports.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::engine::{Exit, Generation, Report, Rerun, Trigger};
use crate::graph::Graph;
use crate::model::{Kind, NodeId, Project};
use crate::report::describe_exit;

/// How much of a node's last run is kept for "show the output": the newest lines win.
const KEEP_LINES: usize = 2_000;
const KEEP_BYTES: usize = 512 * 1024;

/// Every node in scope, in dependency order, and the wave that is (or was last) running.
#[derive(Debug)]
pub struct Board {
    rows: Vec<Row>,
    wave: Option<Wave>,
    /// Set once hot is shutting down.
    stopping: bool,
}

/// The latest wave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    pub number: u64,
    /// What set it off, in words ("src/main.rs changed").
    pub cause: String,
    pub started: Instant,
    /// When it finished.
    pub finished: Option<Instant>,
}

/// One node's line.
#[derive(Debug)]
pub struct Row {
    pub name: String,
    pub kind: Kind,
    /// The latest run (for a service: the latest instance hot started).
    pub state: State,
    /// A service's addresses (as bound: port 0 resolved once hot reports it).
    pub addrs: Vec<SocketAddr>,
    /// A service's instance that serves now.
    pub serving: Option<Serving>,
    /// Something to add to the line (a loop hot ignores).
    pub note: Option<String>,
    /// The current or last run's output.
    pub output: Output,
    has_ready: bool,
    /// A service's instance started and not ready yet, with its pid once known.
    starting: Option<(Generation, Option<u32>)>,
}

/// How a node's latest run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Has not run yet.
    Idle,
    /// Stale: waits for its dependencies or a free job slot.
    Queued,
    /// A task runs; a service's new instance is starting (not ready yet).
    Running {
        since: Instant,
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
pub struct Serving {
    pub generation: Generation,
    pub pid: Option<u32>,
    /// Serving since (ready, or started for a service without `ready`).
    pub since: Instant,
    /// The wave whose build it serves.
    pub wave: u64,
    /// Set when a newer build was not started because this node failed upstream.
    pub stale_by: Option<String>,
}

/// A run's output, bounded: the newest lines, and how many older ones were dropped.
#[derive(Debug, Default, Clone)]
pub struct Output {
    pub lines: VecDeque<String>,
    pub dropped: usize,
    bytes: usize,
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
    /// A board for the nodes of `project` in `scope`, all idle.
    pub fn new(project: &Project, scope: &BTreeSet<NodeId>) -> Board {
        let mut board = Board {
            rows: Vec::new(),
            wave: None,
            stopping: false,
        };
        board.reload(project, scope);
        board
    }

    /// Takes a reloaded Hotfile: nodes that stay keep their state, new ones are idle.
    pub fn reload(&mut self, project: &Project, scope: &BTreeSet<NodeId>) {
        let mut old = std::mem::take(&mut self.rows);
        for id in Graph::new(project).order() {
            if !scope.contains(id) {
                continue;
            }
            let node = project.node(*id);
            let addrs: Vec<SocketAddr> = node.sockets.iter().map(|s| s.addr).collect();
            let row = match old.iter().position(|r| r.name == node.name) {
                Some(i) => {
                    let mut row = old.swap_remove(i);
                    row.kind = node.kind;
                    row.has_ready = node.ready.is_some();
                    // An address hot reported (port 0 resolved) stays while the socket does.
                    if row.addrs.len() != addrs.len()
                        || row.addrs.iter().zip(&addrs).any(|(a, b)| a.ip() != b.ip())
                    {
                        row.addrs = addrs;
                    }
                    row
                }
                None => Row {
                    name: node.name.clone(),
                    kind: node.kind,
                    state: State::Idle,
                    addrs,
                    serving: None,
                    note: None,
                    output: Output::default(),
                    has_ready: node.ready.is_some(),
                    starting: None,
                },
            };
            self.rows.push(row);
        }
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn wave(&self) -> Option<&Wave> {
        self.wave.as_ref()
    }

    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// Hot is shutting down: the view says so until it is gone.
    pub fn set_stopping(&mut self) {
        self.stopping = true;
    }

    fn row(&mut self, name: &str) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.name == name)
    }

    /// The names of the nodes whose latest run failed, in dependency order.
    pub fn failed(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| matches!(r.state, State::Failed { .. }))
            .map(|r| r.name.as_str())
            .collect()
    }

    /// Whether anything runs or starts (the spinner and elapsed times move).
    pub fn busy(&self) -> bool {
        self.rows
            .iter()
            .any(|r| matches!(r.state, State::Running { .. }))
    }

    pub fn output_of(&self, name: &str) -> Option<&Output> {
        self.rows.iter().find(|r| r.name == name).map(|r| &r.output)
    }

    /// One line of a node's output.
    pub fn output(&mut self, node: &str, line: &str) {
        if let Some(row) = self.row(node) {
            row.output.push(line);
        }
    }

    /// The address a service's socket really listens on.
    pub fn listening(&mut self, node: &str, index: usize, addr: SocketAddr) {
        if let Some(row) = self.row(node) {
            match row.addrs.get_mut(index) {
                Some(slot) => *slot = addr,
                None => row.addrs.push(addr),
            }
        }
    }

    /// The pid of a service instance, once known.
    pub fn pid(&mut self, node: &str, generation: Generation, pid: u32) {
        let Some(row) = self.row(node) else {
            return;
        };
        if let Some(starting) = row.starting.as_mut().filter(|s| s.0 == generation) {
            starting.1 = Some(pid);
        }
        if let Some(serving) = row.serving.as_mut().filter(|s| s.generation == generation) {
            serving.pid = Some(pid);
        }
    }

    /// Something the engine decided.
    pub fn report(&mut self, now: Instant, project: &Project, report: &Report) {
        let name = |node: &NodeId| project.node(*node).name.clone();
        let wave = self.wave.as_ref().map_or(0, |w| w.number);
        match report {
            Report::WaveStarted {
                wave,
                trigger,
                nodes,
            } => {
                self.wave = Some(Wave {
                    number: *wave,
                    cause: cause(trigger),
                    started: now,
                    finished: None,
                });
                for node in nodes {
                    if let Some(row) = self.row(&name(node))
                        && !matches!(row.state, State::Running { .. })
                    {
                        row.state = State::Queued;
                    }
                }
            }
            Report::NodeStarted { node, generation } => {
                let Some(row) = self.row(&name(node)) else {
                    return;
                };
                row.output = Output::default();
                row.note = None;
                row.state = State::Running { since: now };
                if row.kind == Kind::Service {
                    if row.has_ready {
                        row.starting = Some((*generation, None));
                    } else {
                        // Without `ready` it serves from its start (the old one went first).
                        row.state = State::Ok {
                            took: Duration::ZERO,
                        };
                        row.serving = Some(Serving {
                            generation: *generation,
                            pid: None,
                            since: now,
                            wave,
                            stale_by: None,
                        });
                    }
                }
            }
            Report::NodeFinished {
                node,
                exit,
                duration,
            } => {
                let Some(row) = self.row(&name(node)) else {
                    return;
                };
                match row.kind {
                    Kind::Task => {
                        row.state = match exit {
                            Exit::Code(0) => State::Ok { took: *duration },
                            exit => State::Failed {
                                why: describe(exit),
                                took: Some(*duration),
                            },
                        };
                    }
                    Kind::Service => {
                        // The report does not say which instance: a new one that is not ready
                        // yet is the likelier to die (a bad start), the serving one goes on.
                        let why = describe(exit);
                        if row.starting.take().is_some() {
                            row.state = State::Failed {
                                why: format!("{why} before it was ready"),
                                took: Some(*duration),
                            };
                        } else {
                            row.serving = None;
                            row.state = State::Failed {
                                why: format!("{why} after {}", uptime(*duration)),
                                took: None,
                            };
                        }
                    }
                }
            }
            Report::ServiceReady { node, duration } => {
                let Some(row) = self.row(&name(node)) else {
                    return;
                };
                let (generation, pid) = row.starting.take().unwrap_or_default();
                row.state = State::Ok { took: *duration };
                row.serving = Some(Serving {
                    generation,
                    pid,
                    since: now,
                    wave,
                    stale_by: None,
                });
            }
            Report::Blocked { node, by } => {
                if let Some(row) = self.row(&name(node)) {
                    row.state = State::Blocked { by: name(by) };
                }
            }
            Report::ServiceKept { node, failed, .. } => {
                if let Some(row) = self.row(&name(node)) {
                    row.state = State::Blocked { by: name(failed) };
                    if let Some(serving) = &mut row.serving {
                        serving.stale_by = Some(name(failed));
                    }
                }
            }
            Report::Restarting { node } => {
                if let Some(row) = self.row(&name(node)) {
                    row.state = State::Queued;
                    row.starting = None;
                }
            }
            Report::ReadyTimedOut { node } => {
                if let Some(row) = self.row(&name(node)) {
                    row.starting = None;
                    row.state = State::Failed {
                        why: "did not get ready in time".to_owned(),
                        took: None,
                    };
                }
            }
            Report::LoopDetected { node, paths } => {
                if let Some(row) = self.row(&name(node)) {
                    let first = paths
                        .first()
                        .map_or_else(String::new, |p| p.display().to_string());
                    row.note = Some(format!("loop: ignoring its own writes to {first}"));
                }
            }
            Report::WaveFinished { .. } => {
                if let Some(wave) = &mut self.wave {
                    wave.finished = Some(now);
                }
            }
        }
    }
}

/// A trigger in words.
pub fn cause(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Start => "start".to_owned(),
        Trigger::Paths { first, count } if *count == 1 => {
            format!("{} changed", first[0].display())
        }
        Trigger::Paths { first, count } => {
            format!("{count} files changed ({}, …)", first[0].display())
        }
        Trigger::Rerun(Rerun::All) => "rerun asked (r)".to_owned(),
        Trigger::Rerun(Rerun::Failed) => "rerun of the failed asked (f)".to_owned(),
    }
}

fn describe(exit: &Exit) -> String {
    match exit {
        Exit::SpawnFailed(why) => format!("could not start: {why}"),
        exit => describe_exit(exit),
    }
}

/// `4.2s`, `3m07s`, `2h05m`: elapsed and up times at a glance.
pub fn uptime(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs < 60 {
        format!("{:.1}s", duration.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs / 60) % 60)
    }
}
