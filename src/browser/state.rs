//! What a service's pages should know, kept from hot's event stream: whether an instance serves,
//! since when, and why the build it serves is stale. Pure: time comes in as wall-clock
//! milliseconds, so the translation is unit-tested.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::report::event::{Kind, NodeInfo};
use crate::report::{EventKind, how_it_ended};

/// Why the build a page sees is not the newest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stale {
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
pub(super) struct View {
    /// An instance is serving.
    pub serving: bool,
    /// The serving instance (pages from an older one reload).
    pub generation: u64,
    /// When the serving build became ready (wall-clock ms).
    pub since_ms: u64,
    pub stale: Option<Stale>,
}

impl View {
    pub(super) fn to_json(&self) -> Value {
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
pub(super) enum Change {
    /// The view changed: send it.
    View,
    /// A new instance serves: reload (only the stylesheets, when `css` is not empty).
    Reload { css: Vec<PathBuf> },
}

/// How many lines of a node's output a failure shows.
const LINES: usize = 12;

/// A service's view, fed with hot's events.
#[derive(Debug)]
pub(super) struct Tracker {
    service: String,
    /// The service and everything it runs after, by name, as the last `scope` event said.
    upstream: BTreeSet<String>,
    /// Whether a `scope` event set `upstream` yet.
    scoped: bool,
    pub view: View,
    /// Each upstream node's output since its last start (the last [`LINES`]).
    output: BTreeMap<String, VecDeque<String>>,
    /// Last lines of the nodes that finished, for a later `NodeBlocked` or `ServiceDown`.
    lines: BTreeMap<String, Vec<String>>,
    /// Paths of the waves since the last reload; `None` once one was not a stylesheet.
    css: Option<Vec<PathBuf>>,
    pending: Option<u64>,
}

impl Tracker {
    /// The view of `service`; it knows what runs before the service from the next `scope`
    /// event ([`Tracker::scope`]).
    pub(super) fn new(service: &str) -> Tracker {
        Tracker {
            service: service.to_owned(),
            upstream: BTreeSet::from([service.to_owned()]),
            scoped: false,
            view: View::default(),
            output: BTreeMap::new(),
            lines: BTreeMap::new(),
            css: Some(Vec::new()),
            pending: None,
        }
    }

    /// Whether [`Tracker::scope`] was called.
    pub(super) fn scoped(&self) -> bool {
        self.scoped
    }

    /// The nodes of a `scope` event: the service's upstream is what it runs after, and what
    /// those run after, by the events' `after` names.
    pub(super) fn scope(&mut self, nodes: &[NodeInfo]) {
        let after: BTreeMap<&str, &[String]> = nodes
            .iter()
            .map(|n| (n.name.as_str(), n.after.as_slice()))
            .collect();
        let mut upstream = BTreeSet::from([self.service.clone()]);
        let mut next = vec![self.service.as_str()];
        while let Some(node) = next.pop() {
            for before in after.get(node).copied().unwrap_or_default() {
                if upstream.insert(before.clone()) {
                    next.push(before);
                }
            }
        }
        self.upstream = upstream;
        self.scoped = true;
    }

    /// Takes one event at wall-clock `now_ms`.
    pub(super) fn event(&mut self, event: &EventKind, now_ms: u64) -> Option<Change> {
        let stale = |node: &str, status: &str, lines: Vec<String>| Stale {
            node: node.to_owned(),
            status: status.into(),
            lines,
            since_ms: now_ms,
        };
        let ours = |node: &String| *node == self.service;
        match event {
            EventKind::WaveStarted {
                start,
                paths,
                changed,
                nodes,
                ..
            } if nodes.iter().any(|n| self.upstream.contains(n)) => {
                let all_css =
                    !start && paths.len() == *changed && paths.iter().all(|p| p.ends_with(".css"));
                match (&mut self.css, all_css) {
                    (Some(css), true) => css.extend(paths.iter().map(PathBuf::from)),
                    _ => self.css = None,
                }
                None
            }
            EventKind::Output { node, line, .. } if self.upstream.contains(node) => {
                let lines = self.output.entry(node.clone()).or_default();
                if lines.len() == LINES {
                    lines.pop_front();
                }
                lines.push_back(line.clone());
                None
            }
            EventKind::NodeStarted {
                node,
                generation,
                ready,
                ..
            } if ours(node) => {
                self.pending = Some(*generation);
                self.output.remove(node);
                if !ready {
                    // Without `ready` an instance counts as serving once started.
                    return Some(self.ready(*generation, now_ms));
                }
                self.set(Some(stale(node, "is starting", Vec::new())))
            }
            EventKind::NodeStarted { node, .. } if self.upstream.contains(node) => {
                self.output.remove(node);
                self.set(Some(stale(node, "running", Vec::new())))
            }
            EventKind::ServiceReady {
                node, generation, ..
            } if ours(node) => {
                self.pending = None;
                if self.view.serving && self.view.generation == *generation {
                    // It served already, unchecked: its gates passed, the pages have it.
                    return self.set(None);
                }
                Some(self.ready(*generation, now_ms))
            }
            EventKind::ServiceAwaitingGates {
                node,
                gates,
                serving: false,
                ..
            } if ours(node) => {
                // All there is: it gets the connections before its gates passed.
                let generation = self.pending.unwrap_or(self.view.generation + 1);
                Some(self.unchecked(node, generation, gates, now_ms))
            }
            EventKind::ServiceAwaitingGates { node, gates, .. } if ours(node) => {
                let status = format!("is ready, waiting for {} to pass", gates.join(", "));
                self.set(Some(stale(node, &status, Vec::new())))
            }
            EventKind::ServiceServingUnchecked {
                node,
                generation,
                gates,
                ready: true,
            } if ours(node) => Some(self.unchecked(node, *generation, gates, now_ms)),
            EventKind::ServiceServingUnchecked {
                node,
                gates,
                ready: false,
                ..
            } if ours(node) => {
                let status = format!(
                    "is starting, and will serve before {} passed: no other instance runs",
                    gates.join(", ")
                );
                self.set(Some(stale(node, &status, Vec::new())))
            }
            EventKind::NodeFinished {
                node,
                generation,
                kind,
                ok,
                last_lines,
                ..
            } if self.upstream.contains(node) => {
                let lines = if last_lines.is_empty() {
                    self.output.remove(node).unwrap_or_default().into()
                } else {
                    last_lines.clone()
                };
                self.lines.insert(node.clone(), lines.clone());
                if *kind == Kind::Task && !ok {
                    let status = failed(event);
                    return self.set(Some(stale(node, &status, lines)));
                }
                // Our new instance (by its generation) died before it was ready while the older
                // one serves on (the engine fails the node for it); a crash of the serving one
                // is told by `service_down` or `service_serving_unchecked`.
                if ours(node) && self.view.serving && self.pending == Some(*generation) {
                    self.pending = None;
                    let status = format!(
                        "{} before it was ready: the edit is not live",
                        failed(event)
                    );
                    return self.set(Some(stale(node, &status, lines)));
                }
                None
            }
            EventKind::ServiceDown { node, .. } if ours(node) => {
                self.view.serving = false;
                let lines = self.lines.get(node).cloned().unwrap_or_default();
                self.set(Some(stale(node, "crashed", lines)))
            }
            EventKind::NodeBlocked { node, by }
            | EventKind::ServiceKept {
                node, failed: by, ..
            } if ours(node) => {
                let lines = self.lines.get(by).cloned().unwrap_or_default();
                let status = self
                    .view
                    .stale
                    .as_ref()
                    .filter(|s| s.node == *by)
                    .map_or_else(|| "failed".to_owned(), |s| s.status.clone());
                self.set(Some(stale(by, &status, lines)))
            }
            EventKind::ReadyTimedOut {
                node, kept: false, ..
            } if ours(node) => {
                self.pending = None;
                let status = "was not ready in time: the edit is not live";
                self.set(Some(stale(node, status, Vec::new())))
            }
            _ => None,
        }
    }

    /// Instance `generation` serves, ready, before its build passed `gates`: the pages reload
    /// to it, and the banner says so until its gates pass.
    fn unchecked(&mut self, node: &str, generation: u64, gates: &[String], now_ms: u64) -> Change {
        let change = self.ready(generation, now_ms);
        self.view.stale = Some(Stale {
            node: node.to_owned(),
            status: format!(
                "serves before {} passed: no other instance runs",
                gates.join(", ")
            ),
            lines: Vec::new(),
            since_ms: now_ms,
        });
        change
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

/// "failed (exit status 1)", "could not start: …": the overlay's words for a finished node.
fn failed(event: &EventKind) -> String {
    let could_not_start = matches!(event, EventKind::NodeFinished { error: Some(_), .. });
    match how_it_ended(event) {
        Some(why) if could_not_start => why,
        Some(how) => format!("failed ({how})"),
        None => "failed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Stream;

    /// `serve` runs after `test`, which runs after `lint`; `other` stands apart.
    fn tracker() -> Tracker {
        let node = |name: &str, after: &[&str]| NodeInfo {
            name: name.into(),
            kind: if name == "serve" {
                Kind::Service
            } else {
                Kind::Task
            },
            after: after.iter().map(|a| a.to_string()).collect(),
            sockets: Vec::new(),
            locks: Vec::new(),
        };
        let mut tracker = Tracker::new("serve");
        tracker.scope(&[
            node("lint", &[]),
            node("test", &["lint"]),
            node("other", &[]),
            node("serve", &["test"]),
        ]);
        tracker
    }

    fn wave(paths: &[&str], nodes: &[&str]) -> EventKind {
        EventKind::WaveStarted {
            wave: 1,
            start: false,
            paths: paths.iter().map(|p| p.to_string()).collect(),
            changed: paths.len(),
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            rerun: None,
        }
    }

    fn started(node: &str, generation: u64) -> EventKind {
        EventKind::NodeStarted {
            node: node.into(),
            generation,
            kind: if node == "serve" {
                Kind::Service
            } else {
                Kind::Task
            },
            ready: node == "serve",
        }
    }

    fn finished(node: &str, code: i32, last_lines: &[&str]) -> EventKind {
        EventKind::NodeFinished {
            node: node.into(),
            generation: 1,
            kind: if node == "serve" {
                Kind::Service
            } else {
                Kind::Task
            },
            ok: code == 0,
            code: Some(code),
            signal: None,
            error: None,
            duration_ms: 1.0,
            last_lines: last_lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    /// `finished` of instance `generation`.
    fn ended(generation: u64, code: i32, last_lines: &[&str]) -> EventKind {
        let mut event = finished("serve", code, last_lines);
        if let EventKind::NodeFinished { generation: g, .. } = &mut event {
            *g = generation;
        }
        event
    }

    fn ready(generation: u64) -> EventKind {
        EventKind::ServiceReady {
            node: "serve".into(),
            generation,
            duration_ms: 1.0,
            gates: Vec::new(),
        }
    }

    #[test]
    fn an_early_instance_waiting_for_its_gate_says_so_in_the_banner() {
        let mut tracker = tracker();
        let awaiting = EventKind::ServiceAwaitingGates {
            node: "serve".into(),
            duration_ms: 1.0,
            gates: vec!["test".into()],
            serving: true,
        };
        let steps = [
            (started("serve", 1), Some(Change::View)),
            (ready(1), Some(Change::Reload { css: Vec::new() })),
            (wave(&["src/a.rs"], &["test", "serve"]), None),
            (started("serve", 2), Some(Change::View)),
            (awaiting, Some(Change::View)),
            (started("test", 3), Some(Change::View)),
            (finished("test", 0, &[]), None),
            (ready(2), Some(Change::Reload { css: Vec::new() })),
        ];
        for (event, expected) in steps {
            let before = tracker.view.stale.clone();
            assert_eq!(
                tracker.event(&event, 1000),
                expected,
                "{event:?} after {before:?}"
            );
            if matches!(event, EventKind::ServiceAwaitingGates { .. }) {
                let stale = tracker.view.stale.clone().expect("a banner");
                assert_eq!(
                    (stale.node.as_str(), stale.status.as_str()),
                    ("serve", "is ready, waiting for test to pass")
                );
            }
        }
    }

    /// The crash of the serving instance was taken for the new one's ("failed before it was
    /// ready: the edit is not live") while the new one was still starting: `node_finished`
    /// did not say which instance ended. It does now, and the banner names the right one.
    #[test]
    fn a_crash_of_the_serving_instance_was_blamed_on_the_new_one_starting_beside_it() {
        let mut tracker = tracker();
        tracker.event(&started("serve", 1), 1000);
        tracker.event(&ready(1), 1000);
        tracker.event(&started("serve", 2), 1000);
        tracker.event(&ended(1, 1, &["boom"]), 1000);
        let stale = tracker.view.stale.clone().expect("a banner");
        assert_eq!(
            (stale.node.as_str(), stale.status.as_str()),
            ("serve", "is starting")
        );
        assert_eq!(tracker.pending, Some(2));
        // Its own death before it was ready is the new build's failure.
        tracker.event(&ended(2, 1, &["bad"]), 1000);
        let stale = tracker.view.stale.clone().expect("a banner");
        assert!(
            stale
                .status
                .ends_with("before it was ready: the edit is not live"),
            "{stale:?}"
        );
    }

    #[test]
    fn an_early_build_serving_after_the_serving_instance_crashed_is_named_in_the_banner() {
        // The crash of instance 1 while 2 waits for `test`: the pages go to 2, the banner says
        // its build is unchecked; the gate passing clears it without another reload.
        let mut tracker = tracker();
        let unchecked = EventKind::ServiceServingUnchecked {
            node: "serve".into(),
            generation: 2,
            gates: vec!["test".into()],
            ready: true,
        };
        let passed = EventKind::ServiceReady {
            node: "serve".into(),
            generation: 2,
            duration_ms: 1.0,
            gates: vec!["test".into()],
        };
        tracker.event(&started("serve", 1), 10);
        tracker.event(&ready(1), 20);
        tracker.event(&wave(&["src/a.rs"], &["test", "serve"]), 30);
        tracker.event(&started("serve", 2), 40);
        tracker.event(&finished("serve", 1, &["boom"]), 50);
        assert_eq!(
            tracker.event(&unchecked, 60),
            Some(Change::Reload { css: Vec::new() })
        );
        assert!(tracker.view.serving);
        assert_eq!(tracker.view.generation, 2);
        let stale = tracker.view.stale.clone().expect("a banner");
        assert_eq!(
            (stale.node.as_str(), stale.status.as_str()),
            ("serve", "serves before test passed: no other instance runs")
        );
        assert_eq!(tracker.event(&passed, 70), Some(Change::View));
        assert_eq!(
            (tracker.view.generation, tracker.view.stale.clone()),
            (2, None)
        );
    }

    #[test]
    fn a_failed_check_makes_the_served_build_stale_until_a_new_instance_is_ready() {
        let mut tracker = tracker();
        let output = EventKind::Output {
            node: "test".into(),
            stream: Stream::Stdout,
            line: "<b>panicked</b>".into(),
        };
        let kept = EventKind::ServiceKept {
            node: "serve".into(),
            since: "12:00:00".into(),
            failed: "test".into(),
        };
        let steps = [
            (started("serve", 1), Some(Change::View)),
            (ready(1), Some(Change::Reload { css: Vec::new() })),
            (wave(&["src/a.rs"], &["test", "serve"]), None),
            (started("test", 2), Some(Change::View)),
            (output, None),
            (finished("test", 101, &[]), Some(Change::View)),
            // Names the failed node, already said: no news.
            (kept, None),
        ];
        for (event, expected) in steps {
            assert_eq!(tracker.event(&event, 1000), expected, "{event:?}");
        }
        let stale = tracker.view.stale.clone().expect("stale");
        assert_eq!(
            (stale.node.as_str(), stale.status.as_str()),
            ("test", "failed (exit status 101)")
        );
        assert_eq!(stale.lines, ["<b>panicked</b>"]);
        assert!(tracker.view.serving);
        // Another node's failure is not this service's business.
        assert_eq!(tracker.event(&finished("other", 1, &[]), 2000), None);
        // The fix: the source changed since the page loaded, so the whole page reloads.
        tracker.event(&started("serve", 3), 2500);
        let full = tracker.event(&ready(3), 2600);
        assert_eq!(full, Some(Change::Reload { css: Vec::new() }));
        // Then only stylesheets change: the reload says which.
        tracker.event(&wave(&["static/site.css"], &["serve"]), 3000);
        tracker.event(&started("serve", 4), 3000);
        assert_eq!(
            tracker.event(&ready(4), 3100),
            Some(Change::Reload {
                css: vec![PathBuf::from("static/site.css")]
            })
        );
        assert_eq!(tracker.view.stale, None);
        assert_eq!((tracker.view.generation, tracker.view.since_ms), (4, 3100));
    }

    #[test]
    fn a_crash_leaves_nothing_serving_with_the_instance_last_lines() {
        let mut tracker = tracker();
        tracker.event(&finished("serve", 139, &["segfault"]), 10);
        let down = EventKind::ServiceDown {
            node: "serve".into(),
            restart_in_ms: Some(500.0),
        };
        assert_eq!(tracker.event(&down, 10), Some(Change::View));
        assert!(!tracker.view.serving);
        let stale = tracker.view.stale.clone().expect("stale");
        assert_eq!((stale.status.as_str(), stale.lines.len()), ("crashed", 1));
    }

    #[test]
    fn a_replacement_that_crashes_at_start_says_the_edit_is_not_live() {
        let mut tracker = tracker();
        tracker.event(&started("serve", 1), 10);
        tracker.event(&ready(1), 20);
        tracker.event(&wave(&["static/a.html"], &["serve"]), 1000);
        tracker.event(&started("serve", 2), 1000);
        let crashed = ended(2, 1, &["SyntaxError: Unexpected token"]);
        assert_eq!(tracker.event(&crashed, 1100), Some(Change::View));
        assert!(tracker.view.serving, "the older build serves on");
        assert_eq!((tracker.view.generation, tracker.view.since_ms), (1, 20));
        let stale = tracker.view.stale.clone().expect("stale");
        assert_eq!(
            (stale.node.as_str(), stale.status.as_str()),
            (
                "serve",
                "failed (exit status 1) before it was ready: the edit is not live"
            )
        );
        assert_eq!(stale.lines, ["SyntaxError: Unexpected token"]);
    }

    #[test]
    fn a_replacement_that_never_gets_ready_says_the_edit_is_not_live() {
        let mut tracker = tracker();
        tracker.event(&started("serve", 1), 10);
        tracker.event(&ready(1), 20);
        tracker.event(&started("serve", 2), 1000);
        let timed_out = EventKind::ReadyTimedOut {
            node: "serve".into(),
            kept: false,
            timeout_ms: 1000.0,
            unseen: "no line matched `ready` in 1s".into(),
        };
        assert_eq!(tracker.event(&timed_out, 2000), Some(Change::View));
        assert!(tracker.view.serving);
        let stale = tracker.view.stale.clone().expect("stale");
        assert_eq!(stale.status, "was not ready in time: the edit is not live");
    }
}
