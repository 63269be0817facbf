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
