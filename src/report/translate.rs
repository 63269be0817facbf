//! The one place where the engine's vocabulary (node ids, instants, [`Report`]) becomes the
//! user's ([`EventKind`]: names, wall-clock times, milliseconds).

use std::collections::BTreeSet;
use std::time::Duration;

use super::Clock;
use super::event::{Crashed, EventKind, NodeInfo, NodeResult, Rerun};
use crate::engine::{self, Exit, Report, Standing, Trigger};
use crate::model::{Kind, NodeId, Project, Text};

/// The event for one engine report.
pub(super) fn report(project: &Project, report: &Report, clock: &Clock) -> EventKind {
    let name = |node: &NodeId| project.node(*node).name.to_string();
    match report {
        Report::WaveStarted {
            wave,
            trigger,
            nodes,
        } => {
            let (paths, changed) = match trigger {
                Trigger::Start | Trigger::Rerun(_) => (Vec::new(), 0),
                Trigger::Paths { first, count } => (first.clone(), *count),
            };
            let rerun = match trigger {
                Trigger::Rerun(engine::Rerun::All) => Some(Rerun::All),
                Trigger::Rerun(engine::Rerun::Failed) => Some(Rerun::Failed),
                _ => None,
            };
            EventKind::WaveStarted {
                wave: *wave,
                start: *trigger == Trigger::Start,
                paths: paths.iter().map(|p| p.display().to_string()).collect(),
                changed,
                nodes: nodes.iter().map(name).collect(),
                rerun,
            }
        }
        Report::NodeStarted { node, generation } => {
            let n = project.node(*node);
            EventKind::NodeStarted {
                node: name(node),
                generation: *generation,
                kind: n.kind.into(),
                ready: n.ready.is_some(),
            }
        }
        Report::NodeFinished {
            node,
            generation,
            exit,
            duration,
            last_lines,
        } => {
            let (code, signal, error) = match exit {
                Exit::Code(code) => (Some(*code), None, None),
                Exit::Signal(signal) => (None, Some(*signal), None),
                Exit::SpawnFailed(why) | Exit::Refused(why) => (None, None, Some(why.clone())),
            };
            let kind = project.node(*node).kind;
            let last_lines = match kind {
                Kind::Service => last_lines.clone(),
                Kind::Task => Vec::new(),
            };
            EventKind::NodeFinished {
                node: name(node),
                generation: *generation,
                kind: kind.into(),
                ok: exit.success(),
                code,
                signal,
                error,
                duration_ms: millis(*duration),
                last_lines,
            }
        }
        Report::ServiceReady {
            node,
            generation,
            duration,
            gates,
        } => EventKind::ServiceReady {
            node: name(node),
            generation: *generation,
            duration_ms: millis(*duration),
            gates: gates.iter().map(name).collect(),
        },
        Report::ServingUnchecked {
            node,
            generation,
            gates,
            ready,
        } => EventKind::ServiceServingUnchecked {
            node: name(node),
            generation: *generation,
            gates: gates.iter().map(name).collect(),
            ready: *ready,
        },
        Report::AwaitingGates {
            node,
            duration,
            gates,
            serving,
        } => EventKind::ServiceAwaitingGates {
            node: name(node),
            duration_ms: millis(*duration),
            gates: gates.iter().map(name).collect(),
            serving: *serving,
        },
        Report::Blocked { node, by } => EventKind::NodeBlocked {
            node: name(node),
            by: name(by),
        },
        Report::Restarting { node } => EventKind::NodeRestarting { node: name(node) },
        Report::ServiceKept {
            node,
            since,
            failed,
        } => EventKind::ServiceKept {
            node: name(node),
            since: super::event::format_rfc3339(&clock.at(*since)),
            failed: name(failed),
        },
        Report::ReadyTimedOut { node, kept } => {
            let spec = project.node(*node);
            EventKind::ReadyTimedOut {
                node: name(node),
                kept: *kept,
                timeout_ms: millis(spec.ready_timeout),
                unseen: unseen_ready(spec.ready.as_ref(), spec.ready_timeout),
            }
        }
        Report::ServiceDown { node, restart_in } => EventKind::ServiceDown {
            node: name(node),
            restart_in_ms: restart_in.map(millis),
        },
        Report::SocketRenewed { node, socket } => EventKind::SocketRenewed {
            node: name(node),
            socket: socket.clone(),
        },
        Report::Suspended { node, signal, pid } => EventKind::NodeSuspended {
            node: name(node),
            signal: *signal,
            pid: *pid,
        },
        Report::Stopping => EventKind::Stopping {
            message: "stopping (press Ctrl-C again to kill at once)".to_owned(),
        },
        Report::LoopDetected { node, paths } => EventKind::LoopDetected {
            node: name(node),
            paths: paths.iter().map(|p| p.display().to_string()).collect(),
        },
        Report::WaveFinished {
            wave,
            failed,
            graph,
            crashed,
        } => {
            let (ok, failed_nodes, nodes) = standings(project, graph, clock);
            EventKind::WaveFinished {
                wave: *wave,
                failed: *failed,
                ok,
                failed_nodes,
                nodes,
                crashed: crashed
                    .iter()
                    .map(|crash| Crashed {
                        node: name(&crash.node),
                        generation: crash.generation,
                        how: super::describe_exit(&crash.exit),
                        serving: crash.serving,
                    })
                    .collect(),
            }
        }
    }
}

/// `hot ci`'s closing summary.
pub(super) fn summary(project: &Project, graph: &[Standing], clock: &Clock) -> EventKind {
    let (ok, failed_nodes, nodes) = standings(project, graph, clock);
    EventKind::Summary {
        ok,
        failed_nodes,
        nodes,
    }
}

/// The nodes in `scope`, for the sinks that lay out per-node output.
pub(super) fn scope(project: &Project, scope: &BTreeSet<NodeId>) -> EventKind {
    let nodes = scope
        .iter()
        .map(|id| {
            let node = project.node(*id);
            NodeInfo {
                name: node.name.to_string(),
                kind: node.kind.into(),
                after: node
                    .after
                    .iter()
                    .map(|a| project.node(*a).name.to_string())
                    .collect(),
                sockets: node.sockets.iter().map(|s| s.addr.to_string()).collect(),
                locks: node.locks.iter().map(Text::to_string).collect(),
            }
        })
        .collect();
    EventKind::Scope { nodes }
}

fn standings(
    project: &Project,
    graph: &[Standing],
    clock: &Clock,
) -> (bool, Vec<String>, Vec<NodeResult>) {
    let name = |node: &NodeId| project.node(*node).name.to_string();
    let nodes: Vec<NodeResult> = graph
        .iter()
        .map(|standing| {
            let (result, by) = match standing.result {
                engine::NodeResult::NotRun => ("not run", None),
                engine::NodeResult::Ok => ("ok", None),
                engine::NodeResult::Failed => ("failed", None),
                engine::NodeResult::Blocked { by } => ("blocked", Some(name(&by))),
            };
            NodeResult {
                node: name(&standing.node),
                result: result.to_owned(),
                by,
                duration: standing
                    .duration
                    .map_or_else(|| "-".to_owned(), super::seconds),
                duration_ms: standing.duration.map(millis),
                serving_since: standing
                    .serving_since
                    .map(|since| super::event::format_rfc3339(&clock.at(since))),
            }
        })
        .collect();
    let ok = nodes.iter().all(NodeResult::ok);
    let failed = nodes
        .iter()
        .filter(|n| n.result == "failed")
        .map(|n| n.node.clone())
        .collect();
    (ok, failed, nodes)
}

/// What a `ready` that timed out did not see, e.g. "no line matched `^listening on` in 60s".
fn unseen_ready(ready: Option<&crate::model::Ready>, timeout: Duration) -> String {
    use crate::model::Ready;
    // "60s" rather than "60.00s": timeouts are written in whole seconds.
    let waited = if timeout.subsec_nanos() == 0 && timeout.as_secs() > 0 {
        format!("{}s", timeout.as_secs())
    } else {
        super::seconds(timeout)
    };
    match ready {
        Some(Ready::Log(regex)) => format!("no line matched `{}` in {waited}", regex.as_str()),
        Some(Ready::Notify) => format!("no READY=1 came on its NOTIFY_SOCKET in {waited}"),
        Some(Ready::Delay(delay)) => format!(
            "its `ready delay` of {} is longer than the timeout of {waited}",
            super::seconds(*delay)
        ),
        None => format!("it was not ready in {waited}"),
    }
}

/// Milliseconds to the microsecond: `78.826`, not the float noise of `78.82568900000001`.
fn millis(duration: Duration) -> f64 {
    // Exact below 2^53 µs (285 years); the division then gives the closest f64, which prints
    // with at most three decimals.
    ((duration.as_nanos() + 500) / 1000) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn duration_ms_has_no_float_noise() {
        // A run that took this long once printed as `78.82568900000001`.
        let ms = super::millis(Duration::from_nanos(78_825_689));
        assert_eq!(serde_json::json!(ms).to_string(), "78.826");
        let ms = super::millis(Duration::from_nanos(1_520_000_400));
        assert_eq!(serde_json::json!(ms).to_string(), "1520.0");
    }
}
