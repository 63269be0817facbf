//! When nothing serves: hot answers a `reload` service's socket itself while no instance of it
//! is alive (its first build runs or failed, it crashed and waits for its backoff), and stops
//! answering before any instance starts, so no connection meant for the server reaches hot.

use super::Engine;
use crate::engine::Action;
use crate::model::{Kind, NodeId};

impl Engine {
    /// Whether hot should answer `node`'s socket now: a service with `reload` and a socket,
    /// in scope, with no instance alive (current, pending or stopping), and hot not stopping.
    /// A stopping instance still counts: it may yet accept, and a service without `ready` is
    /// restarted only after its old instance has exited.
    fn should_answer(&self, node: NodeId) -> bool {
        let spec = self.project.node(node);
        spec.kind == Kind::Service
            && spec.reload.is_some()
            && !spec.sockets.is_empty()
            && self.scope.contains(&node)
            && self.shutdown.is_none()
            && !self.nodes[node.0].alive()
    }

    /// Brings every node's answering in line with [`Engine::should_answer`].
    pub(super) fn answer(&mut self, actions: &mut Vec<Action>) {
        for node in (0..self.nodes.len()).map(NodeId) {
            let want = self.should_answer(node);
            let state = &mut self.nodes[node.0];
            if want && !state.answering {
                state.answering = true;
                actions.push(Action::Answer { node });
            } else if !want && state.answering {
                self.release(node, actions);
            }
        }
    }

    /// Stops answering `node`'s socket (before an instance of it starts).
    pub(super) fn release(&mut self, node: NodeId, actions: &mut Vec<Action>) {
        let state = &mut self.nodes[node.0];
        if state.answering {
            state.answering = false;
            actions.push(Action::Release { node });
        }
    }
}
