//! Crash restarts: a service left with no instance comes back by itself after a backoff, and
//! one whose shared socket was shut down comes back on a fresh one.
//!
//! The engine has no clock: a restart is a time in `restart_at`, an [`Action::Wake`] for the
//! driver, and an [`Event::Tick`](crate::engine::Event::Tick) back.

use std::time::{Duration, Instant};

use super::{Engine, Instance, Outcome, Settled};
use crate::engine::{Action, Exit, Report};
use crate::model::{NodeId, Restart};

/// The first delay before a crashed service is started again; it doubles with each crash in a
/// row, up to [`BACKOFF_MAX`], and starts over once an instance has stayed up [`STABLE`].
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const STABLE: Duration = Duration::from_secs(30);

impl Engine {
    /// After the only instance of `node` exited on its own (`ran` after its start, with
    /// `exit`): when it starts again (its backoff), or `None` when it waits for a change.
    pub(super) fn plan_restart(
        &mut self,
        node: NodeId,
        now: Instant,
        ran: Duration,
        exit: &Exit,
    ) -> Option<Duration> {
        let wanted = match self.project.node(node).restart {
            Restart::Always => true,
            Restart::OnFailure => !exit.success(),
            Restart::Never => false,
        };
        // A command that cannot start does not fix itself; the next change retries. One the
        // system refused (`Exit::Refused`) may start once the limit eases: it backs off.
        if !wanted || self.shutdown.is_some() || matches!(exit, Exit::SpawnFailed(_)) {
            return None;
        }
        let state = &mut self.nodes[node.0];
        let delay = match state.backoff {
            Some(last) if ran < STABLE => (last * 2).min(BACKOFF_MAX),
            _ => BACKOFF_FIRST,
        };
        state.backoff = Some(delay);
        state.restart_at = Some(now + delay);
        Some(delay)
    }

    /// The serving instance's socket is dead (it accepts nothing any more): start a new one on
    /// the fresh socket, handed off as for any restart. Without a serving instance there is
    /// nothing to do: the next start gets the fresh socket.
    pub(super) fn socket_renewed(
        &mut self,
        now: Instant,
        node: NodeId,
        socket: String,
        actions: &mut Vec<Action>,
    ) {
        if node.0 >= self.nodes.len() {
            return;
        }
        actions.push(Action::Report(Report::SocketRenewed { node, socket }));
        let state = &self.nodes[node.0];
        if state.current.is_some()
            && state.pending.is_none()
            && !state.stale
            && self.shutdown.is_none()
            && self.scope.contains(&node)
        {
            self.start_service(now, node, actions);
        }
    }

    /// Starts the crashed services whose backoff is over; asks for the next wake-up.
    pub(super) fn tick(&mut self, now: Instant, actions: &mut Vec<Action>) {
        for node in (0..self.nodes.len()).map(NodeId) {
            let state = &mut self.nodes[node.0];
            if state.restart_at.is_none_or(|at| at > now) {
                continue;
            }
            state.restart_at = None;
            // A predecessor that is still stopping serves nobody: the restart goes ahead beside
            // it (skipping it here would leave the service down for good, as nothing plans
            // another restart when that predecessor exits).
            let serving = state.current.is_some() || state.pending.is_some();
            if serving || self.shutdown.is_some() || !self.scope.contains(&node) {
                continue;
            }
            let has_ready = self.project.node(node).ready.is_some();
            // A crashed early instance's successor waits for the same gates.
            let gated = self.may_start_early(node)
                && matches!(self.dependencies_settled(node), Settled::Wait);
            let instance = self.start_instance(now, node, actions);
            let state = &mut self.nodes[node.0];
            if has_ready {
                state.pending = Some(Instance { gated, ..instance });
            } else {
                state.current = Some(instance);
                state.outcome = Outcome::Ok;
            }
        }
        if let Some(at) = self.nodes.iter().filter_map(|s| s.restart_at).min() {
            actions.push(Action::Wake { at });
        }
    }
}
