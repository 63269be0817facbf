//! The engine's state and transitions.
//!
//! # Theory of operation
//!
//! Every node in scope has a `stale` flag. A wave marks nodes stale (all of them at start; the
//! matching nodes and their dependents on a change), then [`Engine::schedule`] walks the graph
//! in dependency order and, for each stale node whose dependencies are settled, either starts
//! it or, when a dependency failed, marks it blocked. Exits and readiness settle nodes and
//! schedule again. The invariants:
//!
//! - A task has at most one live instance: a stale running task is stopped, and its fresh run
//!   starts only after the stopped one has exited.
//! - A service with `ready` starts its new instance beside the serving one and stops the old
//!   one only when the new one is ready; without `ready` the old one is stopped first.
//! - A service whose upstream failed keeps its running instance, also one that serves alone
//!   before it was ready (hot's first, a crash restart): a new wave never stops it.
//! - A service with gates (`gate`) may start once its other dependencies succeeded; that
//!   instance stays pending, getting no connection while another serves, until it is ready
//!   and its gates succeeded in the same wave; a failed gate stops it. One that serves alone
//!   (nothing else was alive) is not stopped by a new wave: it serves on until a successor is
//!   promoted. One left alone by the serving instance's crash serves too, and says so: there
//!   is no older build to restart.
//! - A service left with no instance (its only one exited on its own) is started again after
//!   a backoff, unless its `restart` policy says otherwise; a new instance that never gets
//!   ready is kept when there is no other.
//! - Nothing here reads a clock: `now` comes with every call.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    Action, Change, Crash, Event, Exit, Generation, NodeResult, Report, Rerun, Standing, Trigger,
};
use crate::exit;
use crate::graph::Graph;
use crate::model::{Kind, Node, NodeId, Project};

/// How many runs in a row must rewrite the same path (and nothing else change) before hot calls
/// it a loop.
const LOOP_LIMIT: u32 = 4;

/// File modification times come from a coarse kernel clock (one tick, up to 4 ms, behind).
const MTIME_SLACK: Duration = Duration::from_millis(5);

/// What the engine is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run everything in scope once, then react to changes until shut down.
    Watch,
    /// Run everything in scope once; exit when nothing is left running (a running service
    /// keeps hot in the foreground until shut down).
    Once,
}

/// How an [`Engine`] is set up.
#[derive(Debug, Clone)]
pub struct Options {
    pub mode: Mode,
    /// The nodes asked for by name (with everything they depend on); `None` for all.
    pub targets: Option<Vec<String>>,
    /// Whether services run at all (`hot ci` runs tasks only).
    pub services: bool,
    /// How many tasks may run at once.
    pub jobs: usize,
}

/// How a node last settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    NotRun,
    Ok,
    Failed,
    /// Did not run because this node failed upstream.
    Blocked(NodeId),
}

#[derive(Debug, Clone, Copy)]
struct Instance {
    generation: Generation,
    started: Instant,
    /// A service's instance started before its gates passed (early start): it is promoted
    /// only once they did, in the same wave.
    gated: bool,
    /// When it got ready: a gated one waits for its gates; `None` on a serving instance is one
    /// kept before it was ready (see `make_stale`), or a service without `ready`.
    ready: Option<Instant>,
}

#[derive(Debug, Clone)]
struct NodeState {
    stale: bool,
    outcome: Outcome,
    /// A task's running instance, or a service's serving one.
    current: Option<Instance>,
    /// A service's new instance, started beside `current` and not ready yet.
    pending: Option<Instance>,
    /// Instances told to stop that have not exited yet.
    stopping: BTreeSet<Generation>,
    /// When the last run that ended on its own started and was reaped (not one hot stopped),
    /// and how long it ran (the keeper's measure: the reap may come late if hot was stopped).
    last_run: Option<(Instant, Instant, Duration)>,
    /// Paths that looked like this node's own writes, with how many of the waves that
    /// triggered it in a row each one came back in.
    self_writes: BTreeMap<PathBuf, u32>,
    /// Paths found to loop: changes to them right after a run are ignored for this node.
    loop_paths: BTreeSet<PathBuf>,
    /// When a crashed service is to be started again.
    restart_at: Option<Instant>,
    /// The delay before the last crash restart, for the next one's doubling.
    backoff: Option<Duration>,
    /// hot answers the service's socket itself (an [`Action::Answer`] is in force).
    answering: bool,
}

impl NodeState {
    fn new() -> Self {
        NodeState {
            stale: false,
            outcome: Outcome::NotRun,
            current: None,
            pending: None,
            stopping: BTreeSet::new(),
            last_run: None,
            self_writes: BTreeMap::new(),
            loop_paths: BTreeSet::new(),
            restart_at: None,
            backoff: None,
            answering: false,
        }
    }

    fn alive(&self) -> bool {
        self.current.is_some() || self.pending.is_some() || !self.stopping.is_empty()
    }

    /// Asks for `instance` of `node` to stop; its exit will then be expected, not reported.
    fn stop(&mut self, node: NodeId, instance: Instance, actions: &mut Vec<Action>) {
        self.stopping.insert(instance.generation);
        actions.push(Action::Stop {
            node,
            generation: instance.generation,
        });
    }

    /// Takes the pending (not yet ready) instance if it is `generation`.
    fn take_pending(&mut self, generation: Generation) -> Option<Instance> {
        let pending = self.pending.filter(|i| i.generation == generation)?;
        self.pending = None;
        Some(pending)
    }
}

/// The scheduler: feed it events, carry out the actions it returns.
#[derive(Debug)]
pub struct Engine {
    project: Arc<Project>,
    graph: Graph,
    options: Options,
    scope: BTreeSet<NodeId>,
    nodes: Vec<NodeState>,
    next_generation: Generation,
    /// Instances of nodes removed by a reload, still being stopped.
    retired: BTreeSet<Generation>,
    wave: u64,
    wave_open: bool,
    wave_failed: usize,
    /// The service instances that exited on their own in the open wave (see `Crash`).
    wave_crashes: Vec<(NodeId, Generation, Exit)>,
    shutdown: Option<u8>,
    exited: bool,
    /// Changes that may be a running task's own writes, waiting for it (see `hold`).
    held: Vec<Change>,
    held_until: Option<Instant>,
    /// Whether a service's instance can be kept from every connection while it waits for its
    /// gates (the world steers connections per instance); if not, gates count as `after`.
    early_start: bool,
}

impl Engine {
    /// An engine over `project`. Unknown target names are the caller's to reject beforehand.
    pub fn new(project: Arc<Project>, options: Options) -> Engine {
        let graph = Graph::new(&project);
        let scope = scope(&project, &graph, &options);
        let nodes = vec![NodeState::new(); project.nodes.len()];
        Engine {
            project,
            graph,
            options,
            scope,
            nodes,
            next_generation: 1,
            retired: BTreeSet::new(),
            wave: 0,
            wave_open: false,
            wave_failed: 0,
            wave_crashes: Vec::new(),
            shutdown: None,
            exited: false,
            held: Vec::new(),
            held_until: None,
            early_start: true,
        }
    }

    /// Whether a gated service may start before its gates passed: only where an instance can
    /// be kept from connections until it is promoted (see `sockets`). Where it cannot, the
    /// gates count as `after`: the normal order.
    pub fn set_early_start(&mut self, early_start: bool) {
        self.early_start = early_start;
    }

    /// The project the engine currently works from.
    pub fn project(&self) -> &Arc<Project> {
        &self.project
    }

    /// How this engine was set up.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The nodes this engine runs.
    pub fn scope(&self) -> &BTreeSet<NodeId> {
        &self.scope
    }

    /// The first wave: everything in scope.
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        let nodes: Vec<NodeId> = self.scope.iter().copied().collect();
        self.begin_wave(Trigger::Start, &nodes, &mut actions);
        for node in nodes {
            self.nodes[node.0].stale = true;
        }
        self.schedule(now, &mut actions);
        actions
    }

    /// Reacts to one event.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut actions = Vec::new();
        match event {
            Event::Changed(changes) => self.changed_at(now, changes, &mut actions),
            Event::Exited {
                generation,
                exit,
                last_lines,
                ran,
                ..
            } => self.exited(now, generation, exit, last_lines, ran, &mut actions),
            Event::Ready { generation, .. } => self.ready(now, generation, &mut actions),
            Event::ReadyTimedOut { generation, .. } => {
                self.ready_timed_out(generation, &mut actions)
            }
            Event::Rerun(which) => self.rerun(which, &mut actions),
            Event::Suspended {
                generation,
                signal,
                pid,
                ..
            } => {
                // Only a live instance's stop is news; one being stopped is hot's own doing.
                if let Some(node) = self.owner(generation)
                    && !self.nodes[node.0].stopping.contains(&generation)
                {
                    actions.push(Action::Report(Report::Suspended { node, signal, pid }));
                }
            }
            Event::SocketRenewed { node, socket } => {
                self.socket_renewed(now, node, socket, &mut actions)
            }
            Event::Shutdown { code } => self.begin_shutdown(code, &mut actions),
            Event::Tick => self.tick(now, &mut actions),
        }
        self.release_held(now, &mut actions);
        self.schedule(now, &mut actions);
        actions
    }

    /// Takes a reloaded Hotfile: new and changed nodes (and their dependents) become stale,
    /// removed nodes are stopped, unchanged nodes keep their state and instances.
    pub fn reload(&mut self, now: Instant, project: Arc<Project>) -> Vec<Action> {
        let mut actions = Vec::new();
        let graph = Graph::new(&project);
        let mut nodes = vec![NodeState::new(); project.nodes.len()];
        let mut changed = Vec::new();
        let mut kept = vec![false; self.nodes.len()];
        for (new_id, node) in project.ids().zip(&project.nodes) {
            match self.project.find(&node.name) {
                Some(old_id) => {
                    kept[old_id.0] = true;
                    let mut state = std::mem::replace(&mut self.nodes[old_id.0], NodeState::new());
                    if let Outcome::Blocked(by) = state.outcome {
                        // The blocking node may have been renumbered or removed; a stale
                        // outcome is recomputed on the next run anyway.
                        state.outcome = match project.find(&self.project.node(by).name) {
                            Some(by) => Outcome::Blocked(by),
                            None => Outcome::NotRun,
                        };
                    }
                    if !same_definition(self.project.node(old_id), node, &self.project, &project) {
                        changed.push(new_id);
                    }
                    nodes[new_id.0] = state;
                }
                None => changed.push(new_id),
            }
        }
        for (old_id, state) in self.nodes.iter_mut().enumerate() {
            if kept[old_id] {
                continue;
            }
            for instance in [state.current.take(), state.pending.take()]
                .into_iter()
                .flatten()
            {
                actions.push(Action::Stop {
                    node: NodeId(old_id),
                    generation: instance.generation,
                });
                self.retired.insert(instance.generation);
            }
            self.retired.extend(state.stopping.iter().copied());
        }
        // Ids change with a reload: a crash of a node that stays is still this wave's news.
        let old = &self.project;
        self.wave_crashes.retain_mut(|(node, _, _)| {
            let renamed = project.find(&old.node(*node).name);
            *node = renamed.unwrap_or(*node);
            renamed.is_some()
        });
        self.project = project;
        self.graph = graph;
        self.nodes = nodes;
        self.scope = scope(&self.project, &self.graph, &self.options);
        let trigger = Trigger::Paths {
            first: vec![PathBuf::from(
                self.project.hotfile.file_name().unwrap_or_default(),
            )],
            count: 1,
        };
        self.wave_from(trigger, changed, &mut actions);
        self.schedule(now, &mut actions);
        actions
    }

    fn begin_wave(&mut self, trigger: Trigger, nodes: &[NodeId], actions: &mut Vec<Action>) {
        if !self.wave_open {
            self.wave_failed = 0;
            self.wave_crashes.clear();
        }
        self.wave += 1;
        self.wave_open = true;
        actions.push(Action::Report(Report::WaveStarted {
            wave: self.wave,
            trigger,
            nodes: nodes.to_vec(),
        }));
    }

    fn changed(&mut self, changes: Vec<Change>, actions: &mut Vec<Action>) {
        if self.shutdown.is_some() || changes.is_empty() {
            return;
        }
        let paths: Vec<PathBuf> = changes.iter().map(|c| c.path.clone()).collect();
        let matching: Vec<NodeId> = self
            .graph
            .matching(&self.project, &paths)
            .filter(|n| self.scope.contains(n))
            .collect();
        let mut triggered = Vec::new();
        for node in matching {
            if !self.loop_check(node, &changes, actions) {
                triggered.push(node);
            }
        }
        let trigger = Trigger::Paths {
            first: paths.iter().take(3).cloned().collect(),
            count: paths.len(),
        };
        self.wave_from(trigger, triggered, actions);
    }

    /// Begins a wave for `trigger` that reruns `roots` and what depends on them in scope;
    /// nothing when none of that is in scope.
    fn wave_from(
        &mut self,
        trigger: Trigger,
        roots: impl IntoIterator<Item = NodeId>,
        actions: &mut Vec<Action>,
    ) {
        let stale: Vec<NodeId> = self
            .graph
            .with_dependents(roots)
            .into_iter()
            .filter(|n| self.scope.contains(n))
            .collect();
        if stale.is_empty() {
            return;
        }
        self.begin_wave(trigger, &stale, actions);
        for node in stale {
            self.make_stale(node, actions);
        }
    }

    /// A rerun the user asked for: like a change to the asked nodes, without loop detection
    /// (nothing was written).
    fn rerun(&mut self, which: Rerun, actions: &mut Vec<Action>) {
        if self.shutdown.is_some() {
            return;
        }
        let asked: Vec<NodeId> = self
            .scope
            .iter()
            .copied()
            .filter(|n| which == Rerun::All || self.nodes[n.0].outcome == Outcome::Failed)
            .collect();
        self.wave_from(Trigger::Rerun(which), asked, actions);
    }

    /// Decides whether a change to `node`'s inputs is its own run feeding back into itself, and
    /// returns true when the change must be ignored for this node.
    ///
    /// A write counts as the node's own when its mtime falls inside a run of a task (`node`,
    /// one after it, or any other: two tasks that each watch what the other writes feed each
    /// other) that then ended on its own. That alone proves little: a file someone
    /// else wrote during a fast run and that was seen after it ended looks the same. So a loop
    /// needs the same paths rewritten by [`LOOP_LIMIT`] such runs in a row, with nothing else
    /// changed. Any change that cannot be the node's own (written outside its runs) resets the
    /// count, and so does a change that is new: when in doubt, run. A change that arrives while
    /// the task still runs restarts it instead and is not counted.
    fn loop_check(&mut self, node: NodeId, changes: &[Change], actions: &mut Vec<Action>) -> bool {
        let inputs = &self.project.node(node).inputs;
        let own: Vec<&Change> = changes.iter().filter(|c| inputs.matches(&c.path)).collect();
        let written_by_a_run = |modified: Instant| {
            self.project.ids().any(|m| {
                let state = &self.nodes[m.0];
                self.project.node(m).kind == Kind::Task
                    && state.current.is_none()
                    && state.last_run.is_some_and(|(start, end, _)| {
                        // `modified` comes from a file's mtime: compared by distance, since
                        // `Instant + Duration` panics past the clock's range.
                        start.saturating_duration_since(modified) <= MTIME_SLACK
                            && modified.saturating_duration_since(end) <= MTIME_SLACK
                    })
            })
        };
        let all_suspect = own.iter().all(|c| c.modified.is_some_and(written_by_a_run));
        let state = &mut self.nodes[node.0];
        if own.is_empty() || !all_suspect {
            state.self_writes.clear();
            state.loop_paths.clear();
            return false;
        }
        if own.iter().all(|c| state.loop_paths.contains(&c.path)) {
            return true;
        }
        // Only paths that come back wave after wave keep counting.
        let counts: BTreeMap<PathBuf, u32> = own
            .iter()
            .map(|c| {
                let before = state.self_writes.get(&c.path).copied().unwrap_or(0);
                (c.path.clone(), before + 1)
            })
            .collect();
        state.self_writes = counts;
        if state.self_writes.values().any(|&n| n < LOOP_LIMIT) {
            return false;
        }
        let paths: Vec<PathBuf> = std::mem::take(&mut state.self_writes).into_keys().collect();
        state.loop_paths.extend(paths.iter().cloned());
        actions.push(Action::Report(Report::LoopDetected { node, paths }));
        true
    }

    /// Marks `node` stale and stops whatever of it must not go on running.
    fn make_stale(&mut self, node: NodeId, actions: &mut Vec<Action>) {
        let kind = self.project.node(node).kind;
        let state = &mut self.nodes[node.0];
        state.stale = true;
        let stop = match kind {
            // A task's results would be stale: stop it now, rerun once it has exited.
            Kind::Task => state.current.take(),
            // A service's instance with none beside it gets every connection (hot's first, a
            // crash restart, the replacement left when the serving one crashed): it serves on,
            // unpromoted, until a new instance takes over (an early one: passes its gates), so
            // a wave whose checks fail cannot leave nothing serving and no restart planned.
            Kind::Service if state.current.is_none() => {
                state.current = state.pending.take();
                None
            }
            // The serving instance keeps serving; only a not-yet-ready replacement goes.
            Kind::Service => state.pending.take(),
        };
        if let Some(instance) = stop {
            state.stop(node, instance, actions);
            actions.push(Action::Report(Report::Restarting { node }));
        }
    }

    fn exited(
        &mut self,
        now: Instant,
        generation: Generation,
        exit: Exit,
        last_lines: Vec<String>,
        ran: Option<Duration>,
        actions: &mut Vec<Action>,
    ) {
        if self.retired.remove(&generation) {
            return;
        }
        let Some(node) = self.owner(generation) else {
            return;
        };
        let kind = self.project.node(node).kind;
        let state = &mut self.nodes[node.0];
        if state.stopping.remove(&generation) {
            // Stopped on purpose: neither a success nor a failure.
            return;
        }
        let instance = if state.current.is_some_and(|i| i.generation == generation) {
            state.current.take()
        } else {
            state.pending.take()
        }
        .expect("owner() found the generation in current or pending");
        let duration = ran.unwrap_or_else(|| now.saturating_duration_since(instance.started));
        let ok = exit.success();
        // A command that never started has no run: no duration, and no writes of its own.
        state.last_run = (!matches!(exit, Exit::SpawnFailed(_) | Exit::Refused(_))).then_some((
            instance.started,
            now,
            duration,
        ));
        let mut down = None;
        let mut unchecked = None;
        match kind {
            Kind::Task => {
                state.outcome = if ok { Outcome::Ok } else { Outcome::Failed };
            }
            // A service that ends on its own (even with status 0) is not serving. When it
            // leaves nobody (it was serving, or had no predecessor) it comes back after a
            // backoff that grows while it keeps crashing, so a broken server cannot spin.
            Kind::Service => {
                // A replacement that dies before it is ready fails too: the older instance
                // serves on, but the build the wave made is not live.
                state.outcome = Outcome::Failed;
                match state.pending {
                    None if state.current.is_none() => {
                        down = Some(self.plan_restart(node, now, duration, &exit));
                    }
                    // The serving instance is gone while an early one waits for its gates: that
                    // one gets the connections, as nothing else can (restarting the crashed
                    // one would start the same unchecked build), and hot says so.
                    Some(early) if early.gated && state.current.is_none() => {
                        unchecked = Some(early);
                    }
                    _ => {}
                }
            }
        }
        if !ok || kind == Kind::Service {
            self.wave_failed += usize::from(self.wave_open);
        }
        if kind == Kind::Service && self.wave_open {
            self.wave_crashes.push((node, generation, exit.clone()));
        }
        actions.push(Action::Report(Report::NodeFinished {
            node,
            generation,
            exit,
            duration,
            last_lines,
        }));
        if let Some(early) = unchecked {
            let gates = self.unsettled_gates(node);
            actions.push(Action::Report(Report::ServingUnchecked {
                node,
                generation: early.generation,
                gates,
                ready: early.ready.is_some(),
            }));
        }
        if let Some(restart_in) = down {
            actions.push(Action::Report(Report::ServiceDown { node, restart_in }));
            if let Some(delay) = restart_in {
                actions.push(Action::Wake { at: now + delay });
            }
        }
    }

    fn ready(&mut self, now: Instant, generation: Generation, actions: &mut Vec<Action>) {
        let Some(node) = self.owner(generation) else {
            return;
        };
        let gates = self.unsettled_gates(node);
        let state = &mut self.nodes[node.0];
        let serving = state.current.is_some();
        match &mut state.pending {
            Some(pending) if pending.generation == generation && pending.gated => {
                // Early: it waits for its gates (see `promote_gated`), and the user is told so.
                pending.ready = Some(now);
                let duration = now.saturating_duration_since(pending.started);
                actions.push(Action::Report(Report::AwaitingGates {
                    node,
                    duration,
                    gates,
                    serving,
                }));
            }
            Some(pending) if pending.generation == generation => {
                pending.ready = Some(now);
                self.promote(now, node, actions);
            }
            // An early instance kept as the only one when a new wave began (see `make_stale`)
            // serves now, its gates not passed: the user must hear which build that is.
            _ if state
                .current
                .is_some_and(|c| c.generation == generation && c.gated) =>
            {
                let gates = self.gates_in_scope(node);
                actions.push(Action::Report(Report::ServingUnchecked {
                    node,
                    generation,
                    gates,
                    ready: true,
                }));
            }
            // Any other instance kept as the only one before it was ready (see `make_stale`,
            // `ready_timed_out`) is ready now: it serves, as a promoted one would.
            _ if state
                .current
                .is_some_and(|c| c.generation == generation && c.ready.is_none()) =>
            {
                let kept = state.current.as_mut().expect("matched above");
                kept.ready = Some(now);
                let duration = now.saturating_duration_since(kept.started);
                let gates = self.gates_in_scope(node);
                actions.push(Action::Report(Report::ServiceReady {
                    node,
                    generation,
                    duration,
                    gates,
                }));
            }
            _ => {}
        }
    }

    /// The pending instance of `node`, ready, replaces the serving one.
    fn promote(&mut self, now: Instant, node: NodeId, actions: &mut Vec<Action>) {
        let state = &mut self.nodes[node.0];
        let Some(pending) = state.pending.take() else {
            return;
        };
        if let Some(old) = state.current.replace(pending) {
            state.stop(node, old, actions);
        }
        state.outcome = Outcome::Ok;
        let ready = pending.ready.unwrap_or(now);
        let gates = self.gates_in_scope(node);
        actions.push(Action::Report(Report::ServiceReady {
            node,
            generation: pending.generation,
            duration: ready.saturating_duration_since(pending.started),
            gates,
        }));
    }

    /// The gates of `node` that run (in scope): what a build of it must pass to serve.
    fn gates_in_scope(&self, node: NodeId) -> Vec<NodeId> {
        let spec = self.project.node(node);
        spec.gates
            .iter()
            .copied()
            .filter(|g| self.scope.contains(g))
            .collect()
    }

    /// Settles the gated instances: promoted once their gates passed (and they are ready),
    /// stopped when one failed (the serving instance, if any, keeps serving).
    fn promote_gated(&mut self, now: Instant, actions: &mut Vec<Action>) {
        for node in (0..self.nodes.len()).map(NodeId) {
            let Some(pending) = self.nodes[node.0].pending.filter(|p| p.gated) else {
                continue;
            };
            match self.dependencies_settled(node) {
                Settled::Wait => {}
                Settled::Ok => {
                    let state = &mut self.nodes[node.0];
                    if let Some(pending) = &mut state.pending {
                        pending.gated = false;
                    }
                    if pending.ready.is_some() {
                        self.promote(now, node, actions);
                    }
                }
                Settled::Blocked(by) => {
                    let state = &mut self.nodes[node.0];
                    state.pending = None;
                    state.stop(node, pending, actions);
                    self.block(node, by, actions);
                }
            }
        }
    }

    /// Whether stale service `node` may start now, before its gates passed: it has gates,
    /// hot can keep it from connections until then, and its other dependencies succeeded.
    fn may_start_early(&self, node: NodeId) -> bool {
        let spec = self.project.node(node);
        self.starts_early(node)
            && matches!(
                self.settled(node, |d| !spec.gates.contains(&d)),
                Settled::Ok
            )
    }

    /// Whether `node` is a service whose instances start before its gates passed.
    fn starts_early(&self, node: NodeId) -> bool {
        let spec = self.project.node(node);
        self.early_start
            && spec.kind == Kind::Service
            && !spec.gates.is_empty()
            && spec.ready.is_some()
    }

    /// The gates of `node` that have not settled in this wave.
    fn unsettled_gates(&self, node: NodeId) -> Vec<NodeId> {
        let spec = self.project.node(node);
        spec.gates
            .iter()
            .copied()
            .filter(|g| self.scope.contains(g) && self.unsettled(*g))
            .collect()
    }

    fn ready_timed_out(&mut self, generation: Generation, actions: &mut Vec<Action>) {
        let Some(node) = self.owner(generation) else {
            return;
        };
        let state = &mut self.nodes[node.0];
        let Some(pending) = state.take_pending(generation) else {
            // An instance kept as the only one when a new wave began (see `make_stale`): still
            // all there is, so kept, but the user must hear that it never got ready.
            if state
                .current
                .is_some_and(|c| c.generation == generation && (c.gated || c.ready.is_none()))
            {
                actions.push(Action::Report(Report::ReadyTimedOut { node, kept: true }));
            }
            return;
        };
        if state.current.is_none() && pending.gated {
            // All there is, yet its gates have not passed: it waits for them as if ready.
            state.pending = Some(Instance {
                ready: Some(pending.started),
                ..pending
            });
            actions.push(Action::Report(Report::ReadyTimedOut { node, kept: true }));
            return;
        }
        if state.current.is_none() {
            // It is all there is, and may well be serving: stopping it would leave nobody.
            state.current = Some(pending);
            state.outcome = Outcome::Ok;
            actions.push(Action::Report(Report::ReadyTimedOut { node, kept: true }));
            return;
        }
        state.stop(node, pending, actions);
        // The older instance serves on; the build this wave made is not live.
        state.outcome = Outcome::Failed;
        self.wave_failed += usize::from(self.wave_open);
        actions.push(Action::Report(Report::ReadyTimedOut { node, kept: false }));
    }

    fn begin_shutdown(&mut self, code: u8, actions: &mut Vec<Action>) {
        if self.shutdown.is_some() {
            // Asked again while stopping: the user will not wait for the stop timeouts.
            actions.push(Action::KillAll);
            return;
        }
        self.shutdown = Some(code);
        actions.push(Action::Report(Report::Stopping));
        for (i, state) in self.nodes.iter_mut().enumerate() {
            state.stale = false;
            state.restart_at = None;
            for instance in [state.current.take(), state.pending.take()]
                .into_iter()
                .flatten()
            {
                state.stop(NodeId(i), instance, actions);
            }
        }
    }

    /// The instance of service `node` that new connections are for: the serving one, else the
    /// one starting (a first start, a crash restart); `None` while none is alive or starting.
    /// With `Some`, what is left queued on hot's spare socket (a crashed instance's queue) goes
    /// to that instance too: the sockets relay it while it is the target.
    pub fn serving(&self, node: NodeId) -> Option<Generation> {
        let state = self.nodes.get(node.0)?;
        state.current.or(state.pending).map(|i| i.generation)
    }

    /// The node that has `generation` as its current or pending instance.
    fn owner(&self, generation: Generation) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|s| {
                s.current.is_some_and(|i| i.generation == generation)
                    || s.pending.is_some_and(|i| i.generation == generation)
                    || s.stopping.contains(&generation)
            })
            .map(NodeId)
    }

    fn start_instance(
        &mut self,
        now: Instant,
        node: NodeId,
        actions: &mut Vec<Action>,
    ) -> Instance {
        let instance = Instance {
            generation: self.next_generation,
            started: now,
            gated: false,
            ready: None,
        };
        self.next_generation += 1;
        self.release(node, actions);
        actions.push(Action::Start {
            node,
            generation: instance.generation,
        });
        actions.push(Action::Report(Report::NodeStarted {
            node,
            generation: instance.generation,
        }));
        instance
    }

    /// Starts or blocks every stale node whose dependencies have settled.
    fn schedule(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.shutdown.is_none() {
            let order: Vec<NodeId> = self.graph.order().to_vec();
            let mut running = self.running_tasks();
            for node in order {
                if !self.scope.contains(&node) || !self.nodes[node.0].stale {
                    continue;
                }
                match self.dependencies_settled(node) {
                    Settled::Wait if self.may_start_early(node) => {
                        self.start_service(now, node, actions);
                        if let Some(pending) = &mut self.nodes[node.0].pending {
                            pending.gated = true;
                        }
                    }
                    Settled::Wait => continue,
                    Settled::Blocked(by) => self.block(node, by, actions),
                    Settled::Ok => {
                        let spec = self.project.node(node);
                        match spec.kind {
                            Kind::Task => {
                                if running >= self.options.jobs
                                    || self.nodes[node.0].alive()
                                    || self.lock_taken(node)
                                {
                                    continue;
                                }
                                running += 1;
                                let instance = self.start_instance(now, node, actions);
                                let state = &mut self.nodes[node.0];
                                state.current = Some(instance);
                                state.stale = false;
                            }
                            Kind::Service => self.start_service(now, node, actions),
                        }
                    }
                }
            }
        }
        self.promote_gated(now, actions);
        self.answer(actions);
        self.settle(actions);
    }

    /// Whether another live task holds one of `node`'s locks. A stopping instance still holds
    /// them: its process may be inside cargo until it has exited. A waiting node has not
    /// started, so its duration never includes the wait. Only tasks hold locks (the Hotfile
    /// allows none on a service, which would hold it for good).
    fn lock_taken(&self, node: NodeId) -> bool {
        let locks = &self.project.node(node).locks;
        !locks.is_empty()
            && self.project.ids().any(|other| {
                other != node
                    && self.project.node(other).kind == Kind::Task
                    && self.nodes[other.0].alive()
                    && self
                        .project
                        .node(other)
                        .locks
                        .iter()
                        .any(|l| locks.contains(l))
            })
    }

    fn start_service(&mut self, now: Instant, node: NodeId, actions: &mut Vec<Action>) {
        let has_ready = self.project.node(node).ready.is_some();
        let state = &mut self.nodes[node.0];
        // This start replaces any crash restart: one pending instance at a time.
        state.restart_at = None;
        if let Some(restarting) = state.pending.take() {
            state.stop(node, restarting, actions);
        }
        if !has_ready {
            // Without a readiness signal hot cannot tell when a new instance serves, so the
            // old one goes first; clients wait in the listen backlog meanwhile.
            if let Some(old) = state.current.take() {
                state.stop(node, old, actions);
            }
            if !state.stopping.is_empty() {
                return;
            }
        }
        let instance = self.start_instance(now, node, actions);
        let state = &mut self.nodes[node.0];
        state.stale = false;
        if has_ready {
            state.pending = Some(instance);
        } else {
            state.current = Some(instance);
            state.outcome = Outcome::Ok;
        }
    }

    fn block(&mut self, node: NodeId, by: NodeId, actions: &mut Vec<Action>) {
        let state = &mut self.nodes[node.0];
        state.stale = false;
        state.outcome = Outcome::Blocked(by);
        match state.current {
            Some(serving) if self.project.node(node).kind == Kind::Service => {
                actions.push(Action::Report(Report::ServiceKept {
                    node,
                    since: serving.started,
                    failed: by,
                }));
            }
            _ => actions.push(Action::Report(Report::Blocked { node, by })),
        }
    }

    fn dependencies_settled(&self, node: NodeId) -> Settled {
        self.settled(node, |_| true)
    }

    /// How `node`'s dependencies that pass `which` stand.
    fn settled(&self, node: NodeId, which: impl Fn(NodeId) -> bool) -> Settled {
        let mut blocked = None;
        for dependency in &self.project.node(node).after {
            if !self.scope.contains(dependency) || !which(*dependency) {
                continue;
            }
            if self.unsettled(*dependency) {
                return Settled::Wait;
            }
            match self.nodes[dependency.0].outcome {
                Outcome::Ok => {}
                Outcome::Failed | Outcome::NotRun => {
                    blocked.get_or_insert(*dependency);
                }
                Outcome::Blocked(by) => {
                    blocked.get_or_insert(by);
                }
            }
        }
        match blocked {
            Some(by) => Settled::Blocked(by),
            None => Settled::Ok,
        }
    }

    /// Whether `node` is yet to run or still running in this wave (as a dependency).
    fn unsettled(&self, node: NodeId) -> bool {
        let state = &self.nodes[node.0];
        let busy = match self.project.node(node).kind {
            Kind::Task => state.current.is_some(),
            Kind::Service => state.pending.is_some(),
        };
        state.stale || busy
    }

    fn running_tasks(&self) -> usize {
        self.nodes
            .iter()
            .zip(&self.project.nodes)
            .filter(|(state, node)| node.kind == Kind::Task && state.current.is_some())
            .count()
    }

    /// Closes the wave when nothing is left to do, and decides when to exit.
    fn settle(&mut self, actions: &mut Vec<Action>) {
        let busy = self.nodes.iter().zip(&self.project.nodes).any(|(s, n)| {
            s.stale
                || s.pending.is_some()
                || !s.stopping.is_empty()
                || (n.kind == Kind::Task && s.current.is_some())
        }) || !self.retired.is_empty();
        if busy || self.exited {
            return;
        }
        if self.wave_open && self.shutdown.is_none() {
            self.wave_open = false;
            let crashed = std::mem::take(&mut self.wave_crashes)
                .into_iter()
                .map(|(node, generation, exit)| Crash {
                    node,
                    generation,
                    exit,
                    serving: self.nodes[node.0].current.map(|i| i.generation),
                })
                .collect();
            actions.push(Action::Report(Report::WaveFinished {
                wave: self.wave,
                failed: self.wave_failed,
                graph: self.standings(),
                crashed,
            }));
        }
        let serving = self
            .nodes
            .iter()
            .any(|s| s.current.is_some() || s.restart_at.is_some());
        let code = match self.shutdown {
            Some(code) => code,
            None if self.options.mode == Mode::Once && !serving => self.failure_code(),
            None => return,
        };
        self.exited = true;
        actions.push(Action::Exit(code));
    }

    /// How every node in scope stands, in dependency order (level by level, declaration order
    /// within a level; one order for `wave_finished`, `summary` and the table): the whole
    /// graph's state, for "all ok" and `hot ci`'s table.
    pub fn standings(&self) -> Vec<Standing> {
        self.graph
            .order()
            .iter()
            .filter(|node| self.scope.contains(node))
            .map(|&node| {
                let state = &self.nodes[node.0];
                let result = match state.outcome {
                    Outcome::NotRun => NodeResult::NotRun,
                    Outcome::Ok => NodeResult::Ok,
                    Outcome::Failed => NodeResult::Failed,
                    Outcome::Blocked(by) => NodeResult::Blocked { by },
                };
                // A blocked node's last run, or a serving service's predecessor's, is not what
                // its result describes.
                let described = match result {
                    NodeResult::Failed => true,
                    NodeResult::Ok => self.project.node(node).kind == Kind::Task,
                    NodeResult::NotRun | NodeResult::Blocked { .. } => false,
                };
                let duration = state.last_run.filter(|_| described).map(|(_, _, ran)| ran);
                let serving_since = state
                    .current
                    .filter(|_| self.project.node(node).kind == Kind::Service)
                    .map(|serving| serving.started);
                Standing {
                    node,
                    result,
                    duration,
                    serving_since,
                }
            })
            .collect()
    }

    fn failure_code(&self) -> u8 {
        let failed = self.scope.iter().any(|n| {
            matches!(
                self.nodes[n.0].outcome,
                Outcome::Failed | Outcome::Blocked(_)
            )
        });
        if failed { exit::FAILED } else { exit::OK }
    }
}

enum Settled {
    Ok,
    Wait,
    Blocked(NodeId),
}

/// The nodes an engine with `options` runs in `project`: the targets (or every node) with what
/// they depend on, services only when they run at all.
pub fn scope_of(project: &Project, options: &Options) -> BTreeSet<NodeId> {
    scope(project, &Graph::new(project), options)
}

fn scope(project: &Project, graph: &Graph, options: &Options) -> BTreeSet<NodeId> {
    let roots: Vec<NodeId> = match &options.targets {
        Some(names) => names.iter().filter_map(|n| project.find(n)).collect(),
        None => project.ids().collect(),
    };
    graph
        .with_dependencies(roots)
        .into_iter()
        .filter(|n| options.services || project.node(*n).kind == Kind::Task)
        .collect()
}

/// Whether a reloaded node is the same as before (so it need not rerun). Dependencies are
/// compared by name, since ids change when nodes are added or removed. `lock` is left out:
/// it decides when a node may run, not what its run produces.
fn same_definition(old: &Node, new: &Node, old_project: &Project, new_project: &Project) -> bool {
    let names = |node: &Node, project: &Project| -> Vec<String> {
        node.after
            .iter()
            .map(|d| project.node(*d).name.to_string())
            .collect()
    };
    let ready = |node: &Node| format!("{:?}", node.ready);
    old.kind == new.kind
        && old.run == new.run
        && old.inputs.watch == new.inputs.watch
        && old.inputs.ignore == new.inputs.ignore
        && old.env == new.env
        && old.dir == new.dir
        && old.sockets == new.sockets
        && ready(old) == ready(new)
        && old.ready_timeout == new.ready_timeout
        && old.stop == new.stop
        && old.restart == new.restart
        && names(old, old_project) == names(new, new_project)
}

mod answer;
mod hold;
mod restart;
#[cfg(test)]
mod tests;
