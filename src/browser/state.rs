//! What a service's pages should know, kept from hot's reports: whether an instance serves,
//! since when, and why the build it serves is stale. Pure: time comes in as wall-clock
//! milliseconds, so the translation is unit-tested.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::engine::{Exit, Report};
use crate::model::{Kind, NodeId, Project};

/// Why the build a page sees is not the newest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    pub node: String,
    /// `running`, `failed`, `crashed`, `was not ready in time`, ...
    pub status: String,
    /// The node's last lines of output (for a failure).
    pub lines: Vec<String>,
    /// When it began (wall-clock ms).
    pub since_ms: u64,
}

/// One service's view, as the pages get it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// An instance is serving.
    pub serving: bool,
    /// The serving instance (pages from an older one reload).
    pub generation: u64,
    /// When the serving build became ready (wall-clock ms).
    pub since_ms: u64,
    pub stale: Option<Stale>,
}

impl View {
    pub fn to_json(&self) -> Value {
        json!({
            "serving": self.serving,
            "generation": self.generation,
            "since_ms": self.since_ms,
            "stale": self.stale.as_ref().map(|s| json!({
                "node": s.node,
                "status": s.status,
                "lines": s.lines,
                "since_ms": s.since_ms,
            })),
        })
    }
}

/// What a report means for the pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The view changed: send it.
    View,
    /// A new instance serves: reload (only the stylesheets, when `css` is not empty).
    Reload { css: Vec<PathBuf> },
}

/// A service's view, fed with reports.
#[derive(Debug)]
pub struct Tracker {
    service: NodeId,
    /// The service and everything it runs after.
    upstream: BTreeSet<NodeId>,
    pub view: View,
    /// Last lines of the nodes that finished, for a later `Blocked` or `ServiceDown`.
    lines: BTreeMap<NodeId, Vec<String>>,
    /// Paths of the waves since the last reload; `None` once one was not a stylesheet.
    css: Option<Vec<PathBuf>>,
    pending: Option<u64>,
}

impl Tracker {
    pub fn new(project: &Project, service: NodeId) -> Tracker {
        Tracker {
            service,
            upstream: crate::graph::Graph::new(project).with_dependencies([service]),
            view: View::default(),
            lines: BTreeMap::new(),
            css: Some(Vec::new()),
            pending: None,
        }
    }

    /// Takes one report at wall-clock `now_ms`.
    pub fn report(&mut self, project: &Project, report: &Report, now_ms: u64) -> Option<Change> {
        let name = |node: &NodeId| project.node(*node).name.clone();
        let stale = |node: &NodeId, status: &str, lines: Vec<String>| Stale {
            node: name(node),
            status: status.into(),
            lines,
            since_ms: now_ms,
        };
        match report {
            Report::WaveStarted { trigger, nodes, .. }
                if nodes.iter().any(|n| self.upstream.contains(n)) =>
            {
                let paths = match trigger {
                    crate::engine::Trigger::Paths { first, count } if first.len() == *count => {
                        first.clone()
                    }
                    _ => vec![PathBuf::new()],
                };
                let all_css = paths
                    .iter()
                    .all(|p| p.extension().is_some_and(|e| e == "css"));
                match (&mut self.css, all_css) {
                    (Some(css), true) => css.extend(paths),
                    _ => self.css = None,
                }
                None
            }
            Report::NodeStarted { node, generation } if *node == self.service => {
                self.pending = Some(*generation);
                if project.node(*node).ready.is_none() {
                    // Without `ready` an instance counts as serving once started.
                    return Some(self.ready(*generation, now_ms));
                }
                self.set(Some(stale(node, "is starting", Vec::new())))
            }
            Report::NodeStarted { node, .. } if self.upstream.contains(node) => {
                self.set(Some(stale(node, "running", Vec::new())))
            }
            Report::ServiceReady { node, .. } if *node == self.service => {
                let generation = self.pending.take().unwrap_or(self.view.generation + 1);
                Some(self.ready(generation, now_ms))
            }
            Report::NodeFinished {
                node,
                exit,
                last_lines,
                ..
            } if self.upstream.contains(node) => {
                self.lines.insert(*node, last_lines.clone());
                let task = project.node(*node).kind == Kind::Task;
                if task && !exit.success() {
                    return self.set(Some(stale(node, &failed(exit), last_lines.clone())));
                }
                None
            }
            Report::ServiceDown { node, .. } if *node == self.service => {
                self.view.serving = false;
                let lines = self.lines.get(node).cloned().unwrap_or_default();
                self.set(Some(stale(node, "crashed", lines)))
            }
            Report::Blocked { node, by }
            | Report::ServiceKept {
                node, failed: by, ..
            } if *node == self.service => {
                let lines = self.lines.get(by).cloned().unwrap_or_default();
                let status = self
                    .view
                    .stale
                    .as_ref()
                    .filter(|s| s.node == name(by))
                    .map_or_else(|| "failed".to_owned(), |s| s.status.clone());
                self.set(Some(stale(by, &status, lines)))
            }
            Report::ReadyTimedOut { node, kept: false } if *node == self.service => {
                self.set(Some(stale(node, "was not ready in time", Vec::new())))
            }
            _ => None,
        }
    }

    fn ready(&mut self, generation: u64, now_ms: u64) -> Change {
        self.view = View {
            serving: true,
            generation,
            since_ms: now_ms,
            stale: None,
        };
        let css = self.css.take().unwrap_or_default();
        self.css = Some(Vec::new());
        Change::Reload { css }
    }

    fn set(&mut self, stale: Option<Stale>) -> Option<Change> {
        let same = |a: &Option<Stale>, b: &Option<Stale>| match (a, b) {
            (Some(a), Some(b)) => a.node == b.node && a.status == b.status && a.lines == b.lines,
            (None, None) => true,
            _ => false,
        };
        if same(&self.view.stale, &stale) {
            return None;
        }
        self.view.stale = stale;
        Some(Change::View)
    }
}

fn failed(exit: &Exit) -> String {
    match exit {
        Exit::Code(code) => format!("failed (exit status {code})"),
        Exit::Signal(signal) => format!("failed (signal {signal})"),
        Exit::SpawnFailed(why) => format!("could not start: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::Trigger;
    use crate::model::testing::project;

    const WEB: &[(&str, &[&str], &[&str])] = &[
        ("test", &["src/**"], &[]),
        ("other", &["docs/**"], &[]),
        ("serve", &["static/**"], &["test"]),
    ];

    fn wave(paths: &[&str], nodes: &[usize]) -> Report {
        Report::WaveStarted {
            wave: 1,
            trigger: Trigger::Paths {
                first: paths.iter().map(PathBuf::from).collect(),
                count: paths.len(),
            },
            nodes: nodes.iter().map(|&n| NodeId(n)).collect(),
        }
    }

    #[test]
    fn a_failed_check_makes_the_served_build_stale_until_a_new_instance_is_ready() {
        let project = project(WEB);
        let mut tracker = Tracker::new(&project, NodeId(2));
        let (test, serve) = (NodeId(0), NodeId(2));
        let started = |node, generation| Report::NodeStarted { node, generation };
        let steps = [
            (started(serve, 1), Some(Change::View)),
            (
                Report::ServiceReady {
                    node: serve,
                    duration: Duration::ZERO,
                },
                Some(Change::Reload { css: Vec::new() }),
            ),
            (wave(&["src/a.rs"], &[0, 2]), None),
            (started(test, 2), Some(Change::View)),
            (
                Report::NodeFinished {
                    node: test,
                    exit: Exit::Code(101),
                    duration: Duration::ZERO,
                    last_lines: vec!["<b>panicked</b>".into()],
                },
                Some(Change::View),
            ),
            // Names the failed node, already said: no news.
            (
                Report::ServiceKept {
                    node: serve,
                    since: std::time::Instant::now(),
                    failed: test,
                },
                None,
            ),
        ];
        for (report, expected) in steps {
            assert_eq!(
                tracker.report(&project, &report, 1000),
                expected,
                "{report:?}"
            );
        }
        let stale = tracker.view.stale.clone().expect("stale");
        assert_eq!(
            (stale.node.as_str(), stale.status.as_str()),
            ("test", "failed (exit status 101)")
        );
        assert_eq!(stale.lines, ["<b>panicked</b>"]);
        assert!(tracker.view.serving);
        // Another node's failure is not this service's business.
        let other = Report::NodeFinished {
            node: NodeId(1),
            exit: Exit::Code(1),
            duration: Duration::ZERO,
            last_lines: Vec::new(),
        };
        assert_eq!(tracker.report(&project, &other, 2000), None);
        let ready = Report::ServiceReady {
            node: serve,
            duration: Duration::ZERO,
        };
        // The fix: the source changed since the page loaded, so the whole page reloads.
        tracker.report(&project, &started(serve, 3), 2500);
        let full = tracker.report(&project, &ready, 2600);
        assert_eq!(full, Some(Change::Reload { css: Vec::new() }));
        // Then only stylesheets change: the reload says which.
        tracker.report(&project, &wave(&["static/site.css"], &[2]), 3000);
        tracker.report(&project, &started(serve, 4), 3000);
        assert_eq!(
            tracker.report(&project, &ready, 3100),
            Some(Change::Reload {
                css: vec![PathBuf::from("static/site.css")]
            })
        );
        assert_eq!(tracker.view.stale, None);
        assert_eq!((tracker.view.generation, tracker.view.since_ms), (4, 3100));
    }

    #[test]
    fn a_crash_leaves_nothing_serving_with_the_instance_last_lines() {
        let project = project(WEB);
        let serve = NodeId(2);
        let mut tracker = Tracker::new(&project, serve);
        let finished = Report::NodeFinished {
            node: serve,
            exit: Exit::Signal(11),
            duration: Duration::ZERO,
            last_lines: vec!["segfault".into()],
        };
        tracker.report(&project, &finished, 10);
        let down = Report::ServiceDown {
            node: serve,
            restart_in: Some(Duration::from_millis(500)),
        };
        assert_eq!(tracker.report(&project, &down, 10), Some(Change::View));
        assert!(!tracker.view.serving);
        let stale = tracker.view.stale.clone().expect("stale");
        assert_eq!((stale.status.as_str(), stale.lines.len()), ("crashed", 1));
    }
}
