//! Everything hot writes to the terminal: child output prefixed with the node's name, hot's own
//! status lines, diagnostics, and the `--json` event stream.
//!
//! In JSON mode stdout carries one event per line and nothing else (see `docs/json.md` for the
//! schema); human-readable status goes to stderr, so a child's stdout stays pipeable.

use std::collections::{BTreeMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use serde_json::json;

use crate::engine::{Exit, Report, Rerun, Trigger};
use crate::model::{Kind, NodeId, Project};

/// Which of a child's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The one writer of hot's output. Cheap to clone; every clone writes through the same lock,
/// so lines from parallel children never interleave mid-line.
#[derive(Debug, Clone)]
pub struct Reporter {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    json: bool,
    color: bool,
    /// Maps the engine's monotonic instants to wall-clock time for "serving since 12:04:31".
    epoch: (Instant, SystemTime),
    /// How each node last finished, for `hot ci`'s summary.
    results: BTreeMap<NodeId, (String, Option<Duration>)>,
    /// The last lines of each node's output, shown again when a service exits on its own.
    tails: BTreeMap<String, VecDeque<String>>,
}

/// How many lines of a crashed service's output are shown again.
const TAIL: usize = 5;

/// Decides whether to colour output: only on a terminal, and never under `NO_COLOR`.
pub fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

impl Reporter {
    pub fn new(json: bool, color: bool) -> Self {
        Reporter {
            inner: Arc::new(Mutex::new(Inner {
                json,
                color,
                epoch: (Instant::now(), SystemTime::now()),
                results: BTreeMap::new(),
                tails: BTreeMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while printing must not silence every later line.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_json(&self) -> bool {
        self.lock().json
    }

    /// One line of a child's output.
    pub fn output(&self, node: &str, stream: Stream, line: &str) {
        let mut inner = self.lock();
        let tail = inner.tails.entry(node.to_owned()).or_default();
        if tail.len() == TAIL {
            tail.pop_front();
        }
        tail.push_back(line.to_owned());
        if inner.json {
            let stream = match stream {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            };
            emit(&json!({"event": "output", "node": node, "stream": stream, "line": line}));
        } else {
            let prefix = paint(inner.color, CYAN, &format!("[{node}]"));
            let _ = writeln!(std::io::stderr().lock(), "{prefix} {line}");
        }
    }

    /// One of hot's own lines (`hot: ...`); in JSON mode, an `{"event": "note"}`.
    pub fn note(&self, text: &str) {
        let inner = self.lock();
        if inner.json {
            emit(&json!({"event": "note", "message": text}));
        } else {
            status(inner.color, text);
        }
    }

    /// A runtime problem (not a node's failure): what failed and what to do.
    pub fn error(&self, text: &str) {
        let inner = self.lock();
        if inner.json {
            emit(&json!({"event": "error", "message": text}));
        } else {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{} {text}",
                paint(inner.color, RED, "hot: error:")
            );
        }
    }

    /// A Hotfile diagnostic (on reload: the previous graph keeps running).
    pub fn diagnostic(&self, diagnostic: &dyn Diagnostic) {
        let inner = self.lock();
        let text = render(diagnostic, inner.color);
        if inner.json {
            emit(
                &json!({"event": "diagnostic", "message": diagnostic.to_string(), "rendered": render_plain(diagnostic, 100)}),
            );
        } else {
            let _ = write!(std::io::stderr().lock(), "{text}");
        }
    }

    /// The address a socket really listens on (port 0 resolved).
    pub fn listening(&self, node: &str, socket: &str, addr: SocketAddr) {
        let inner = self.lock();
        if inner.json {
            emit(
                &json!({"event": "listening", "node": node, "socket": socket, "addr": addr.to_string()}),
            );
        } else {
            status(
                inner.color,
                &format!("{node}: `{socket}` listening on {addr}"),
            );
        }
    }

    /// Watches are in place: from here on no edit is lost.
    pub fn watching(&self, directories: usize) {
        let inner = self.lock();
        if inner.json {
            emit(&json!({"event": "watching", "directories": directories}));
        } else {
            status(
                inner.color,
                &format!("watching {directories} directories for changes"),
            );
        }
    }

    /// The Hotfile was reloaded.
    pub fn reloaded(&self, path: &Path) {
        let inner = self.lock();
        if inner.json {
            emit(&json!({"event": "reloaded", "hotfile": path}));
        } else {
            status(inner.color, &format!("reloaded {}", path.display()));
        }
    }

    /// Something the engine decided.
    pub fn report(&self, project: &Project, report: &Report) {
        let mut inner = self.lock();
        let name = |node: &NodeId| project.node(*node).name.as_str();
        if let Report::NodeFinished {
            node,
            exit,
            duration,
        } = report
        {
            let result = if exit.success() { "ok" } else { "failed" };
            inner
                .results
                .insert(*node, (result.to_owned(), Some(*duration)));
        }
        if let Report::Blocked { node, .. } = report {
            inner.results.insert(*node, ("blocked".to_owned(), None));
        }
        if inner.json {
            emit(&json_report(project, report, &inner));
            return;
        }
        let color = inner.color;
        let line = match report {
            Report::WaveStarted { trigger, nodes, .. } => {
                let nodes: Vec<&str> = nodes.iter().map(name).collect();
                let cause = match trigger {
                    Trigger::Start => "start".to_owned(),
                    Trigger::Paths { first, count } if *count == 1 => {
                        format!("{} changed", first[0].display())
                    }
                    Trigger::Paths { count, .. } => format!("{count} files changed"),
                    Trigger::Rerun(Rerun::All) => "rerun asked".to_owned(),
                    Trigger::Rerun(Rerun::Failed) => "rerun of the failed asked".to_owned(),
                };
                paint(
                    color,
                    BOLD,
                    &format!("{cause}: running {}", nodes.join(", ")),
                )
            }
            Report::NodeStarted { .. } => return,
            Report::NodeFinished {
                node,
                exit,
                duration,
            } => {
                let kind = project.node(*node).kind;
                match (exit, kind) {
                    (Exit::Code(0), Kind::Task) => format!(
                        "{} {} ({})",
                        paint(color, GREEN, "✓"),
                        name(node),
                        seconds(*duration)
                    ),
                    (Exit::SpawnFailed(why), _) => {
                        format!(
                            "{} {} could not start: {why}",
                            paint(color, RED, "✗"),
                            name(node)
                        )
                    }
                    (exit, Kind::Task) => format!(
                        "{} {} failed: {} ({})",
                        paint(color, RED, "✗"),
                        name(node),
                        describe_exit(exit),
                        seconds(*duration)
                    ),
                    (exit, Kind::Service) => {
                        let mut text = format!(
                            "{} {} exited: {} after {}; it restarts at the next change",
                            paint(color, RED, "✗"),
                            name(node),
                            describe_exit(exit),
                            seconds(*duration)
                        );
                        if let Some(tail) = inner.tails.get(name(node)).filter(|t| !t.is_empty()) {
                            text.push_str("; its last lines:");
                            for line in tail {
                                text.push_str("\n    ");
                                text.push_str(line);
                            }
                        }
                        text
                    }
                }
            }
            Report::ServiceReady { node, duration } => {
                let addrs: Vec<String> = project
                    .node(*node)
                    .sockets
                    .iter()
                    .map(|s| s.addr.to_string())
                    .collect();
                let serving = if addrs.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", addrs.join(", "))
                };
                format!(
                    "{} {} serving{serving} (ready in {})",
                    paint(color, GREEN, "✓"),
                    name(node),
                    seconds(*duration)
                )
            }
            Report::Blocked { node, by } => format!(
                "{} {} blocked: {} failed",
                paint(color, YELLOW, "-"),
                name(node),
                name(by)
            ),
            Report::Restarting { node } => format!(
                "{} {} restarted: its inputs changed while it ran",
                paint(color, YELLOW, "↻"),
                name(node)
            ),
            Report::ServiceKept {
                node,
                since,
                failed,
            } => format!(
                "{} {}: serving the build from {}; not restarted: {} failed",
                paint(color, YELLOW, "!"),
                name(node),
                clock(inner.epoch, *since),
                name(failed)
            ),
            Report::ReadyTimedOut { node } => format!(
                "{} {}: the new instance did not get ready in time; the previous one keeps serving",
                paint(color, RED, "✗"),
                name(node)
            ),
            Report::LoopDetected { node, paths } => {
                let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                format!(
                    "{} {} keeps retriggering itself: its run changes {}; ignoring those changes until you edit something else (add them to `ignore`)",
                    paint(color, RED, "⟳"),
                    name(node),
                    paths.join(", ")
                )
            }
            Report::WaveFinished { failed, .. } => match failed {
                0 => paint(color, GREEN, "all ok"),
                n => paint(color, RED, &format!("{n} failed")),
            },
        };
        status(color, &line);
    }

    /// `hot ci`'s closing table: node, result, duration.
    pub fn summary(&self, project: &Project, nodes: &[NodeId]) {
        let inner = self.lock();
        let rows: Vec<(&str, String, String)> = nodes
            .iter()
            .map(|node| {
                let (result, duration) = inner
                    .results
                    .get(node)
                    .cloned()
                    .unwrap_or_else(|| ("not run".to_owned(), None));
                (
                    project.node(*node).name.as_str(),
                    result,
                    duration.map_or_else(|| "-".to_owned(), seconds),
                )
            })
            .collect();
        if inner.json {
            let rows: Vec<_> = rows
                .iter()
                .map(|(node, result, duration)| json!({"node": node, "result": result, "duration": duration}))
                .collect();
            emit(&json!({"event": "summary", "nodes": rows}));
            return;
        }
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
        let mut out = std::io::stderr().lock();
        let _ = writeln!(out, "\n{:width$}  {:8}  duration", "node", "result");
        for (node, result, duration) in rows {
            let _ = writeln!(out, "{node:width$}  {result:8}  {duration}");
        }
    }
}

fn json_report(project: &Project, report: &Report, inner: &Inner) -> serde_json::Value {
    let name = |node: &NodeId| project.node(*node).name.clone();
    match report {
        Report::WaveStarted {
            wave,
            trigger,
            nodes,
        } => {
            let (paths, count) = match trigger {
                Trigger::Start | Trigger::Rerun(_) => (Vec::new(), 0),
                Trigger::Paths { first, count } => (first.clone(), *count),
            };
            let mut event = json!({"event": "wave_started", "wave": wave, "start": *trigger == Trigger::Start,
                   "paths": paths, "changed": count, "nodes": nodes.iter().map(name).collect::<Vec<_>>()});
            // Only rerun waves carry the key, so every other event keeps its exact shape.
            if let Trigger::Rerun(which) = trigger {
                event["rerun"] = json!(match which {
                    Rerun::All => "all",
                    Rerun::Failed => "failed",
                });
            }
            event
        }
        Report::NodeStarted { node, generation } => {
            json!({"event": "node_started", "node": name(node), "generation": generation})
        }
        Report::NodeFinished {
            node,
            exit,
            duration,
        } => {
            let (code, signal, error) = match exit {
                Exit::Code(code) => (Some(*code), None, None),
                Exit::Signal(signal) => (None, Some(*signal), None),
                Exit::SpawnFailed(why) => (None, None, Some(why.clone())),
            };
            let kind = project.node(*node).kind;
            let last_lines: Vec<&String> = match kind {
                Kind::Service => inner.tails.get(&name(node)).into_iter().flatten().collect(),
                Kind::Task => Vec::new(),
            };
            json!({"event": "node_finished", "node": name(node), "kind": kind.as_str(),
                   "ok": exit.success(), "code": code, "signal": signal, "error": error,
                   "duration_ms": duration.as_secs_f64() * 1000.0, "last_lines": last_lines})
        }
        Report::ServiceReady { node, duration } => {
            json!({"event": "service_ready", "node": name(node), "duration_ms": duration.as_secs_f64() * 1000.0})
        }
        Report::Blocked { node, by } => {
            json!({"event": "node_blocked", "node": name(node), "by": name(by)})
        }
        Report::Restarting { node } => json!({"event": "node_restarting", "node": name(node)}),
        Report::ServiceKept {
            node,
            since,
            failed,
        } => {
            json!({"event": "service_kept", "node": name(node), "since": clock(inner.epoch, *since), "failed": name(failed)})
        }
        Report::ReadyTimedOut { node } => json!({"event": "ready_timed_out", "node": name(node)}),
        Report::LoopDetected { node, paths } => {
            json!({"event": "loop_detected", "node": name(node), "paths": paths})
        }
        Report::WaveFinished { wave, failed } => {
            json!({"event": "wave_finished", "wave": wave, "failed": failed})
        }
    }
}

fn emit(event: &serde_json::Value) {
    let _ = writeln!(std::io::stdout().lock(), "{event}");
}

fn status(color: bool, text: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "{} {text}",
        paint(color, DIM, "hot:")
    );
}

const BOLD: &str = "1";
const DIM: &str = "2";
const RED: &str = "31";
const GREEN: &str = "32";
const YELLOW: &str = "33";
const CYAN: &str = "36";

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// `1.23s`, or `45ms` below a second.
pub fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{:.2}s", duration.as_secs_f64())
    }
}

/// "exit status 101", "killed by SIGKILL".
pub fn describe_exit(exit: &Exit) -> String {
    match exit {
        Exit::Code(code) => format!("exit status {code}"),
        Exit::Signal(signal) => format!("killed by signal {signal}{}", signal_name(*signal)),
        Exit::SpawnFailed(why) => why.clone(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => " (SIGHUP)",
        2 => " (SIGINT)",
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

/// Wall-clock `HH:MM:SS` (UTC, to stay free of time-zone databases) of an engine instant.
fn clock(epoch: (Instant, SystemTime), at: Instant) -> String {
    let wall = if at >= epoch.0 {
        epoch.1 + (at - epoch.0)
    } else {
        epoch.1 - (epoch.0 - at)
    };
    let secs = wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{:02}:{:02}:{:02} UTC",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Renders a diagnostic for the terminal.
pub fn render(diagnostic: &dyn Diagnostic, color: bool) -> String {
    if color {
        render_with(
            GraphicalReportHandler::new_themed(GraphicalTheme::unicode()),
            diagnostic,
            100,
        )
    } else {
        render_plain(diagnostic, 100)
    }
}

/// Renders a diagnostic without colour at a fixed width: the form used under `NO_COLOR`, when
/// piped, and in snapshot tests.
pub fn render_plain(diagnostic: &dyn Diagnostic, width: usize) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .without_syntax_highlighting();
    render_with(handler, diagnostic, width)
}

fn render_with(
    handler: GraphicalReportHandler,
    diagnostic: &dyn Diagnostic,
    width: usize,
) -> String {
    let mut out = String::new();
    handler
        .with_width(width)
        .render_report(&mut out, diagnostic)
        .expect("rendering into a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(seconds(Duration::from_millis(45)), "45ms");
        assert_eq!(seconds(Duration::from_millis(1234)), "1.23s");
    }

    #[test]
    fn exits_read_naturally() {
        assert_eq!(describe_exit(&Exit::Code(101)), "exit status 101");
        assert_eq!(
            describe_exit(&Exit::Signal(9)),
            "killed by signal 9 (SIGKILL)"
        );
    }

    #[test]
    fn clock_formats_wall_time() {
        let now = Instant::now();
        let epoch = (
            now,
            SystemTime::UNIX_EPOCH + Duration::from_secs(3600 + 120 + 5),
        );
        assert_eq!(clock(epoch, now), "01:02:05 UTC");
        assert_eq!(clock(epoch, now + Duration::from_secs(60)), "01:03:05 UTC");
    }
}
