//! `gate "NAME"…` in a service: upstream checks that gate the promotion of a new instance, not
//! its start (early start). Kept apart so the rest of `check` knows only that a gate is one
//! more edge of the graph.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use miette::SourceSpan;

use super::{Checker, Edges};
use crate::hotfile::suggest;
use crate::hotfile::syntax::RawNode;

impl Checker<'_> {
    /// Resolves `node`'s `gate` names to indices, given its resolved `after`: each an upstream
    /// of its own, on a service that can hold an early instance apart (a socket to steer and a
    /// `ready` to promote it on).
    pub(super) fn gates(
        &mut self,
        node: &RawNode,
        ids: &HashMap<&str, usize>,
        after: &[(usize, SourceSpan)],
    ) -> Vec<(usize, SourceSpan)> {
        let mut out: Vec<(usize, SourceSpan)> = Vec::new();
        let mut seen = HashSet::new();
        for gate in &self.lists[node.gate] {
            let Some(&i) = ids.get(gate.value) else {
                let help = match suggest(gate.value, ids.keys().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => "`gate` names tasks this service comes after, such as tests".into(),
                };
                self.bad_value(
                    gate.span(),
                    &format!("`gate` names no node called `{}`", gate.value),
                    Some(&help),
                );
                continue;
            };
            if after.iter().any(|&(j, _)| j == i) {
                self.bad_value(
                    gate.span(),
                    &format!("`{}` is named by both `after` and `gate`", gate.value),
                    Some(
                        "`after` holds the start back until it succeeded, `gate` only the \
                         connections: name it in one of them",
                    ),
                );
            } else if seen.insert(i) {
                out.push((i, gate.span()));
            }
        }
        let Some(keyword) = node.gate_keyword else {
            return out;
        };
        if node.sockets.is_empty() {
            self.bad_value(
                keyword,
                "`gate` needs a `socket` in the same service",
                Some(
                    "an instance started before its gates passed gets no connection: hot steers \
                     the service's socket to it only once they did",
                ),
            );
        }
        if node.ready.is_none() {
            self.bad_value(
                keyword,
                "`gate` needs `ready` in the same service",
                Some(
                    "hot hands over to the early instance once it is ready and its gates \
                     passed: add `ready log=\"REGEX\"`, `ready delay=\"DURATION\"` or \
                     `ready \"notify\"`",
                ),
            );
        }
        out
    }

    /// A gate that a start dependency comes after holds the start back anyway: it gates
    /// nothing, which is a mistake of the file (the user meant an early start).
    pub(super) fn idle_gates(&mut self, nodes: &[RawNode], edges: &Edges) {
        let name = |i: usize| nodes[i].name.as_ref().map_or("?", |n| n.value);
        for node in 0..nodes.len() {
            let gates = edges.gates(node);
            if gates.is_empty() {
                continue;
            }
            // Everything the start waits for, and which start dependency leads to it.
            let mut reached: HashMap<usize, usize> = HashMap::new();
            let after = edges.after(node);
            let mut stack: Vec<(usize, usize)> = after.iter().map(|&(j, _)| (j, j)).collect();
            while let Some((at, via)) = stack.pop() {
                if reached.insert(at, via).is_some() {
                    continue;
                }
                stack.extend(edges[at].iter().map(|&(j, _)| (j, via)));
            }
            for &(gate, span) in gates {
                if let Some(&via) = reached.get(&gate) {
                    self.bad_value(
                        span,
                        &format!(
                            "`{}` gates nothing: `{}` comes after it, and `{}` starts after `{}`",
                            name(gate),
                            name(via),
                            name(node),
                            name(via)
                        ),
                        Some(
                            "a gate must be a check the start does not wait for anyway; move it \
                             to `after`, or take it out of the start's way",
                        ),
                    );
                }
            }
        }
    }
}
