//! Events as lines of text: each child's output behind an aligned, coloured `[node]` prefix on
//! the stream it came from, hot's own `hot: ...` lines on stderr, and results (`hot ci`'s
//! table) on stdout, so `hot ci > ci.log` keeps what matters.

use std::collections::BTreeMap;

use anstyle::{AnsiColor, Style};

use super::ColorChoice;
use super::event::{Crashed, Event, EventKind, Kind, NodeResult, Stream};

/// Which of hot's streams a line goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    /// Results: what the user asked for (a child's stdout, `hot ci`'s table).
    Stdout,
    /// Progress and diagnostics.
    Stderr,
}

/// Node prefixes cycle through these; red is kept for failures, and yellow and green (the
/// status colours) come last.
const PALETTE: [AnsiColor; 8] = [
    AnsiColor::Cyan,
    AnsiColor::Magenta,
    AnsiColor::Blue,
    AnsiColor::BrightCyan,
    AnsiColor::BrightMagenta,
    AnsiColor::BrightBlue,
    AnsiColor::Yellow,
    AnsiColor::Green,
];

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const RED: Style = AnsiColor::Red.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();

/// What each event looks like as lines of text, and which stream each goes to: the one
/// rendering that the plain sink prints and the status view scrolls above its panel.
pub struct Lines {
    /// Whether to colour hot's stdout, and its stderr.
    color: (bool, bool),
    /// Each node's colour, as an index into [`PALETTE`]: its position when first seen.
    nodes: BTreeMap<String, usize>,
    /// The longest node name in scope: prefixes are padded to it.
    width: usize,
    /// Resolved addresses per service, from `listening`.
    addrs: BTreeMap<String, Vec<String>>,
    /// `hot ci` with stdout and stderr on one terminal: the summary's table closes the run
    /// with the verdict, so the wave's verdict line on stderr would say it twice.
    verdict_in_summary: bool,
    /// Whether a child wrote to stdout: only then does a blank line set the table apart (so
    /// `hot ci > ci.log` does not start with one).
    child_stdout: bool,
}

impl Lines {
    /// Lines for hot's own stdout and stderr, each coloured as `color` decides for it.
    pub fn terminal(color: ColorChoice) -> Lines {
        let mut lines = Lines::new(false);
        lines.color = (color.enabled(To::Stdout), color.enabled(To::Stderr));
        lines
    }

    /// Whether hot's stderr, where diagnostics go, is coloured.
    pub(crate) fn colors_stderr(&self) -> bool {
        self.color.1
    }

    /// Lines for two streams, both coloured or neither.
    pub fn new(color: bool) -> Lines {
        Lines {
            color: (color, color),
            nodes: BTreeMap::new(),
            width: 0,
            addrs: BTreeMap::new(),
            verdict_in_summary: false,
            child_stdout: false,
        }
    }

    /// Leaves the verdict of a wave to the summary that closes the run (`hot ci` where both
    /// streams reach the same reader): it is said once, under the table.
    pub fn verdict_in_summary(mut self) -> Lines {
        self.verdict_in_summary = true;
        self
    }

    /// `text` in `style`, for stderr (where hot's own lines go).
    fn paint(&self, style: Style, text: &str) -> String {
        self.paint_on(To::Stderr, style, text)
    }

    fn paint_on(&self, to: To, style: Style, text: &str) -> String {
        let color = match to {
            To::Stdout => self.color.0,
            To::Stderr => self.color.1,
        };
        if color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    /// `[name]` in the node's colour, padded to the longest name in scope.
    fn prefix(&self, to: To, node: &str) -> String {
        let style = match self.nodes.get(node) {
            Some(i) => PALETTE[i % PALETTE.len()].on_default(),
            None => PALETTE[0].on_default(),
        };
        let pad = self.width.saturating_sub(node.chars().count());
        format!(
            "{}{:pad$}",
            self.paint_on(to, style, &format!("[{node}]")),
            ""
        )
    }

    fn status(&self, text: &str) -> (To, String) {
        (To::Stderr, format!("{} {text}", self.paint(DIM, "hot:")))
    }

    /// The lines one event becomes, and where each goes.
    pub fn lines(&mut self, event: &Event) -> Vec<(To, String)> {
        let line = match &event.kind {
            EventKind::Scope { nodes } => {
                // A node keeps its colour across reloads; new ones take the next.
                for node in nodes {
                    let next = self.nodes.len();
                    self.nodes.entry(node.name.clone()).or_insert(next);
                }
                self.width = nodes
                    .iter()
                    .map(|n| n.name.chars().count())
                    .max()
                    .unwrap_or(0);
                return Vec::new();
            }
            EventKind::Listening { node, socket, addr } => {
                let addrs = self.addrs.entry(node.clone()).or_default();
                if !addrs.contains(addr) {
                    addrs.push(addr.clone());
                }
                format!("{node}: `{socket}` listening on {addr}")
            }
            EventKind::Watching { directories } => {
                format!("watching {directories} directories for changes")
            }
            EventKind::WatchFallback { message, .. } => {
                format!("{} {message}", self.paint(YELLOW, "warning:"))
            }
            EventKind::WatchRestored { message, .. } => message.clone(),
            wave @ EventKind::WaveStarted { nodes, .. } => {
                let cause = super::wave_cause(wave).unwrap_or_default();
                let clock = event.time.strftime("%H:%M:%S").to_string();
                format!(
                    "{} {}",
                    self.paint(DIM, &clock),
                    self.paint(BOLD, &format!("{cause}: running {}", nodes.join(", ")))
                )
            }
            EventKind::NodeStarted {
                node,
                kind: Kind::Service,
                ready: false,
                ..
            } => format!(
                "{} {node} started{}; with no `ready` condition it counts as serving now",
                self.paint(GREEN, "▶"),
                self.on(node)
            ),
            EventKind::NodeStarted { .. } | EventKind::CommandStarted { .. } => return Vec::new(),
            finished @ EventKind::NodeFinished {
                node,
                kind,
                ok,
                error,
                duration_ms,
                last_lines,
                ..
            } => {
                let took = super::seconds(std::time::Duration::from_secs_f64(duration_ms / 1000.0));
                let how = super::how_it_ended(finished).unwrap_or_default();
                match (error, kind, ok) {
                    (Some(_), _, _) => format!("{} {node} {how}", self.paint(RED, "✗")),
                    (None, Kind::Task, true) => {
                        format!("{} {node} ({took})", self.paint(GREEN, "✓"))
                    }
                    (None, Kind::Task, false) => {
                        format!("{} {node} failed: {how} ({took})", self.paint(RED, "✗"))
                    }
                    (None, Kind::Service, _) => {
                        let mut text =
                            format!("{} {node} exited: {how} after {took}", self.paint(RED, "✗"));
                        if !last_lines.is_empty() {
                            text.push_str("; its last lines:");
                            for line in last_lines {
                                text.push_str("\n    ");
                                text.push_str(line);
                            }
                        }
                        text
                    }
                }
            }
            EventKind::ServiceReady {
                node,
                duration_ms,
                gates,
                ..
            } => format!(
                "{} {node} serving{} (ready in {}{})",
                self.paint(GREEN, "✓"),
                self.on(node),
                super::seconds(std::time::Duration::from_secs_f64(duration_ms / 1000.0)),
                if gates.is_empty() {
                    String::new()
                } else {
                    format!("; its build passed {}", gates.join(", "))
                }
            ),
            EventKind::ServiceServingUnchecked {
                node, gates, ready, ..
            } if *ready => format!(
                "{} {node} serving{} before its build passed {}, as no other instance runs",
                self.paint(YELLOW, "!"),
                self.on(node),
                gates.join(", ")
            ),
            EventKind::ServiceServingUnchecked { node, gates, .. } => format!(
                "{} {node}: its starting instance will serve before its build passed {}, as no \
                 other instance runs",
                self.paint(YELLOW, "!"),
                gates.join(", ")
            ),
            EventKind::ServiceAwaitingGates {
                node,
                duration_ms,
                gates,
                serving,
            } => format!(
                "{} {node} ready (in {}), waiting for {} to pass; {}",
                self.paint(CYAN, "◌"),
                super::seconds(std::time::Duration::from_secs_f64(duration_ms / 1000.0)),
                gates.join(", "),
                if *serving {
                    "the old instance serves until then"
                } else {
                    "it serves meanwhile, as nothing else does"
                }
            ),
            EventKind::NodeBlocked { node, by } => {
                format!("{} {node} blocked: {by} failed", self.paint(YELLOW, "-"))
            }
            EventKind::NodeRestarting { node } => format!(
                "{} {node} restarted: its inputs changed while it ran",
                self.paint(YELLOW, "↻")
            ),
            EventKind::ServiceKept {
                node,
                since,
                failed,
            } => format!(
                "{} {node}: serving the build from {}; not restarted: {failed} failed",
                self.paint(YELLOW, "!"),
                // `since` is RFC 3339 in local time: its clock part.
                since.get(11..19).unwrap_or(since)
            ),
            EventKind::ReadyTimedOut {
                node,
                kept: true,
                unseen,
                ..
            } => format!(
                "{} {node}: {unseen}; it is running, but hot cannot tell when it is ready",
                self.paint(YELLOW, "!")
            ),
            EventKind::ReadyTimedOut { node, unseen, .. } => format!(
                "{} {node}: the new instance: {unseen}; it is stopped, and the previous one keeps serving",
                self.paint(RED, "✗")
            ),
            EventKind::ServiceDown {
                node,
                restart_in_ms: Some(ms),
            } => format!(
                "{} {node}: no instance serves; restarting it in {}",
                self.paint(YELLOW, "!"),
                super::seconds(std::time::Duration::from_secs_f64(ms / 1000.0))
            ),
            EventKind::ServiceDown {
                node,
                restart_in_ms: None,
            } => format!(
                "{} {node}: no instance serves; it starts again at the next change",
                self.paint(RED, "!")
            ),
            EventKind::SocketRenewed { node, socket } => format!(
                "{} {node}: an instance shut the listening socket `{socket}` down as it exited \
                 (`shutdown()` on the listener), which breaks it for every instance; hot bound a \
                 fresh one at the same address and restarts {node} on it. Closing the listener is \
                 enough: `close()` leaves hot's copy working",
                self.paint(YELLOW, "!")
            ),
            EventKind::NodeSuspended { node, signal, pid } => format!(
                "{} {node} stopped by signal {signal}{} (pid {pid}) and waits to be continued: \
                 resume it with `kill -CONT {pid}`, or save a file to restart it",
                self.paint(YELLOW, "⏸"),
                super::signal_name(*signal)
            ),
            EventKind::LoopDetected { node, paths } => format!(
                "{} {node} keeps retriggering itself: its run changes {}; ignoring those changes until you edit something else (add them to `ignore`)",
                self.paint(RED, "⟳"),
                super::printable(&paths.join(", "))
            ),
            EventKind::WaveFinished { .. } if self.verdict_in_summary => return Vec::new(),
            EventKind::WaveFinished {
                ok, nodes, crashed, ..
            } if !crashed.is_empty() => {
                // A graph that is ok again must not hide that a server went down meanwhile.
                let crashes = self.paint(YELLOW, &crashes(crashed));
                if *ok {
                    format!("{} {crashes}", self.paint(YELLOW, "ok now, but"))
                } else {
                    format!("{}; {crashes}", self.verdict(To::Stderr, false, nodes))
                }
            }
            EventKind::WaveFinished { ok, nodes, .. } => self.verdict(To::Stderr, *ok, nodes),
            EventKind::Reloaded { hotfile } => format!("reloaded {hotfile}"),
            EventKind::Diagnostic {
                rendered,
                rendered_color,
                ..
            } => {
                let text = match (self.color.1, rendered_color) {
                    (true, Some(colored)) => colored,
                    _ => rendered,
                };
                return vec![(To::Stderr, text.trim_end_matches('\n').to_owned())];
            }
            EventKind::Output { node, stream, line } => {
                let to = match stream {
                    Stream::Stdout => To::Stdout,
                    Stream::Stderr => To::Stderr,
                };
                self.child_stdout |= to == To::Stdout;
                return vec![(to, format!("{} {line}", self.prefix(to, node)))];
            }
            EventKind::Note { message } | EventKind::Stopping { message } => message.clone(),
            EventKind::SocketUnused { message, .. }
            | EventKind::Warning { message }
            | EventKind::Dropped { message, .. } => {
                format!("{} {message}", self.paint(YELLOW, "warning:"))
            }
            EventKind::Error { message } => {
                // The one error style: rendered like a Hotfile diagnostic.
                let diagnostic =
                    miette::MietteDiagnostic::new(message.clone()).with_code("hot::error");
                let text = super::render(&diagnostic, self.color.1);
                return vec![(To::Stderr, text.trim_end_matches('\n').to_owned())];
            }
            EventKind::Summary { ok, nodes, .. } => return self.table(*ok, nodes),
        };
        vec![self.status(&line)]
    }

    /// " on 127.0.0.1:8080", or nothing for a service without sockets.
    fn on(&self, node: &str) -> String {
        match self.addrs.get(node) {
            Some(addrs) if !addrs.is_empty() => format!(" on {}", addrs.join(", ")),
            _ => String::new(),
        }
    }

    /// "all ok", or what is not: "2 failed: test, clippy; 1 blocked: serve". A failed service
    /// that an older instance serves says so: "web (not live: the build from 10:31:05 serves)".
    fn verdict(&self, to: To, ok: bool, nodes: &[NodeResult]) -> String {
        if ok {
            return self.paint_on(to, GREEN, "all ok");
        }
        let mut parts = Vec::new();
        for result in ["failed", "blocked", "not run"] {
            let names: Vec<String> = nodes
                .iter()
                .filter(|n| n.result == result)
                .map(|n| match &n.serving_since {
                    Some(since) if result == "failed" => format!(
                        "{} (not live: the build from {} serves)",
                        n.node,
                        // RFC 3339 in local time: its clock part.
                        since.get(11..19).unwrap_or(since)
                    ),
                    _ => n.node.clone(),
                })
                .collect();
            if !names.is_empty() {
                parts.push(format!("{} {result}: {}", names.len(), names.join(", ")));
            }
        }
        self.paint_on(to, RED, &parts.join("; "))
    }

    /// `hot ci`'s table and verdict, on stdout: the run's result.
    fn table(&self, ok: bool, nodes: &[NodeResult]) -> Vec<(To, String)> {
        let width = nodes
            .iter()
            .map(|r| r.node.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut lines = Vec::new();
        if self.child_stdout {
            lines.push((To::Stdout, String::new()));
        }
        lines.push((
            To::Stdout,
            format!("{:width$}  {:8}  duration", "node", "result"),
        ));
        for row in nodes {
            let result = match (&row.by, row.ok()) {
                (_, true) => self.paint_on(To::Stdout, GREEN, &format!("{:8}", row.result)),
                (Some(_), false) => self.paint_on(To::Stdout, YELLOW, &format!("{:8}", row.result)),
                (None, false) => self.paint_on(To::Stdout, RED, &format!("{:8}", row.result)),
            };
            lines.push((
                To::Stdout,
                format!("{:width$}  {result}  {}", row.node, row.duration),
            ));
        }
        lines.push((To::Stdout, self.verdict(To::Stdout, ok, nodes)));
        lines
    }
}

/// "serve's instance 3 crashed in this wave (exit status 1): instance 7 serves now".
pub(crate) fn crashes(crashed: &[Crashed]) -> String {
    crashed
        .iter()
        .map(|c| {
            let now = match c.serving {
                Some(serving) => format!("instance {serving} serves now"),
                None => "nothing serves it now".to_owned(),
            };
            format!(
                "{}'s instance {} crashed in this wave ({}): {now}",
                c.node, c.generation, c.how
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
