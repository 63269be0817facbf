//! Everything hot tells the user, as one typed event stream.
//!
//! Callers (the driver, the supervisor, the command line) hand the [`Reporter`] what happened
//! in their own terms; it stamps each [`Event`] with the local wall-clock time and passes it to
//! every [`Sink`]: plain lines for a terminal or a log ([`plain`], drawn by [`lines`]), JSON lines for `--json`
//! ([`json`], schema in `docs/json.md`), and whatever else is added (a status view, a browser
//! stream) without touching the engine or the other sinks. The engine's own vocabulary
//! ([`Report`]) is translated once, in [`translate`].

pub mod event;
pub mod json;
pub mod lines;
pub mod plain;
pub mod sink;
mod translate;
mod writer;

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime as Zoned};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

use crate::engine::{Exit, Report, Standing};
use crate::model::{NodeId, Project};
pub use event::{Event, EventKind, Stream};
pub use sink::Sink;

/// The one writer of hot's output. Cheap to clone; every clone feeds the same sinks, one event
/// at a time, so lines from parallel children never interleave mid-line and every sink sees the
/// events in the same order. In the event loop the sinks run on a writer thread of their own
/// ([`Reporter::spawn_writer`]), so no sink can stall the loop.
#[derive(Clone)]
pub struct Reporter {
    json: bool,
    outlet: Arc<writer::Outlet>,
    /// Whether any sink may show a diagnostic's coloured rendering ([`Sink::colors_diagnostics`]).
    color_diagnostics: Arc<AtomicBool>,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter").finish_non_exhaustive()
    }
}

/// Maps the engine's monotonic instants to local wall-clock time.
#[derive(Clone)]
pub(crate) struct Clock {
    /// Read on the first stamp: finding it can walk the whole time zone database (3.3 M
    /// instructions, a tenth of `hot ci --dry-run` on a 500-node Hotfile, which stamps nothing).
    zone: std::sync::OnceLock<TimeZone>,
    epoch: (Instant, Timestamp),
}

impl Clock {
    /// The system's time zone, read once. jiff reads `TZ` and `/etc/localtime` itself rather
    /// than calling `localtime_r`, so this is sound in a multi-threaded process.
    fn system() -> Clock {
        Clock {
            zone: std::sync::OnceLock::new(),
            epoch: (Instant::now(), Timestamp::now()),
        }
    }

    fn zone(&self) -> TimeZone {
        self.zone.get_or_init(system_zone).clone()
    }

    fn now(&self) -> Zoned {
        Timestamp::now().to_zoned_datetime(self.zone())
    }

    /// The wall-clock time of an engine instant.
    pub(crate) fn at(&self, at: Instant) -> Zoned {
        let (instant, wall) = self.epoch;
        // Out of jiff's range (centuries away) cannot happen for a process's instants; the
        // epoch itself is the least wrong answer if it did.
        let shifted = if at >= instant {
            wall.checked_add(at - instant)
        } else {
            wall.checked_sub(instant - at)
        };
        shifted.unwrap_or(wall).to_zoned_datetime(self.zone())
    }
}

/// The system's time zone. jiff finds it by its name, in an index of the whole time zone
/// database that it builds first (3.2 M instructions and a directory walk, a tenth of
/// `hot check`); in the usual case, no `TZ` and `/etc/localtime` a link into the database,
/// the linked file is that zone, and is read alone under the same name. Anything else is
/// jiff's.
fn system_zone() -> TimeZone {
    #[cfg(unix)]
    if std::env::var_os("TZ").is_none()
        && let Ok(target) = std::fs::read_link("/etc/localtime")
        && let Some(target) = target.to_str()
        && let Some(at) = target.rfind("zoneinfo/")
        && let Ok(data) = std::fs::read("/etc/localtime")
        && let Ok(zone) = TimeZone::tzif(&target[at + "zoneinfo/".len()..], &data)
    {
        return zone;
    }
    TimeZone::system()
}

/// Whether to colour output, as the user asked (`--color`); [`ColorChoice::Auto`] is decided
/// per stream, so `hot ci > ci.log` on a terminal colours the terminal and not the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour what goes to hot's stdout or stderr.
    pub fn enabled(self, to: lines::To) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => match to {
                lines::To::Stdout => auto_color(std::io::stdout().is_terminal()),
                lines::To::Stderr => auto_color(std::io::stderr().is_terminal()),
            },
        }
    }
}

/// `true` forces colour, `false` turns it off: what callers that decided for themselves pass.
impl From<bool> for ColorChoice {
    fn from(color: bool) -> ColorChoice {
        if color {
            ColorChoice::Always
        } else {
            ColorChoice::Never
        }
    }
}

/// The one place that decides "auto": `NO_COLOR` (any non-empty value) turns colour off,
/// `CLICOLOR_FORCE` (any value but empty and `0`) on, `CLICOLOR=0` off; otherwise a terminal
/// that is not `TERM=dumb` gets colour.
fn auto_color(is_terminal: bool) -> bool {
    if anstyle_query::no_color() {
        false
    } else if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
        true
    } else if anstyle_query::clicolor() == Some(false) {
        false
    } else {
        is_terminal && anstyle_query::term_supports_color()
    }
}

/// Whether hot's terminal output (stderr) is coloured under `--color auto`; children are told
/// the same (`CARGO_TERM_COLOR`).
pub fn color_wanted() -> bool {
    ColorChoice::Auto.enabled(lines::To::Stderr)
}

impl Reporter {
    /// The usual reporter: JSON lines on stdout with `json`, plain lines otherwise, coloured
    /// as `color` says (a [`ColorChoice`], or a bool already decided).
    pub fn new(json: bool, color: impl Into<ColorChoice>) -> Self {
        let sink: Box<dyn Sink> = if json {
            Box::new(json::JsonSink::stdout())
        } else {
            Box::new(plain::PlainSink::terminal(color.into()))
        };
        Reporter::with_sinks(json, vec![sink])
    }

    /// [`Reporter::new`] for a run that a summary closes (`hot ci`): where stdout and stderr
    /// are both a terminal, the verdict is printed once, under the summary's table; where they
    /// part (`hot ci > ci.log`), each keeps its own.
    pub fn closed_by_summary(json: bool, color: impl Into<ColorChoice>) -> Self {
        let together = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        if json || !together {
            return Reporter::new(json, color);
        }
        let sink = plain::PlainSink::terminal(color.into()).verdict_in_summary();
        Reporter::with_sinks(json, vec![Box::new(sink)])
    }

    /// A reporter feeding exactly these sinks. `json` only answers [`Reporter::is_json`].
    pub fn with_sinks(json: bool, sinks: Vec<Box<dyn Sink>>) -> Self {
        let color = sinks.iter().any(|s| s.colors_diagnostics());
        Reporter {
            json,
            outlet: Arc::new(writer::Outlet::new(sinks, Clock::system())),
            color_diagnostics: Arc::new(AtomicBool::new(color)),
        }
    }

    /// Adds a sink; it sees every event from now on.
    pub fn add_sink(&self, sink: Box<dyn Sink>) {
        if sink.colors_diagnostics() {
            self.color_diagnostics.store(true, Ordering::Relaxed);
        }
        self.outlet.add_sink(sink);
    }

    /// From now on the sinks run on a thread of their own behind a bounded queue: a sink that
    /// blocks (a reader of `--json` that stopped reading) holds up only that thread, and what a
    /// full queue drops is counted and said. `patience` bounds how long the summary waits for
    /// room and [`Reporter::finish`] for the writer (the driver passes the stop timeout).
    pub fn spawn_writer(&self, patience: Duration) -> std::io::Result<()> {
        self.outlet.spawn_writer(patience)
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Stamps `kind` with the time and hands it to every sink.
    pub fn emit(&self, kind: EventKind) {
        let urgency = match kind {
            EventKind::Output { .. } => writer::Urgency::Output,
            EventKind::Summary { .. } => writer::Urgency::Vital,
            _ => writer::Urgency::Event,
        };
        self.outlet.send(kind, urgency);
    }

    /// Lets every sink flush and restore what it changed; call once, before exiting.
    pub fn finish(&self) {
        self.outlet.finish();
    }

    /// Asks every sink to draw what it holds ([`Sink::frame`]), after the events sent so far.
    /// Never blocks: with a writer thread, the frame is drawn there.
    pub fn frame(&self) {
        self.outlet.frame();
    }

    /// [`Reporter::frame`], then waits until it is drawn, at most the writer's patience;
    /// returns whether it was (Ctrl-Z: the panel must be gone before hot stops itself).
    pub fn frame_and_wait(&self) -> bool {
        self.outlet.frame_and_wait()
    }

    /// An instance's command runs as `pid`.
    pub fn command_started(&self, node: &str, generation: u64, pid: u32) {
        self.emit(EventKind::CommandStarted {
            node: node.to_owned(),
            generation,
            pid,
        });
    }

    /// One line of a child's output.
    pub fn output(&self, node: &str, stream: Stream, line: &str) {
        self.emit(EventKind::Output {
            node: node.to_owned(),
            stream,
            line: line.to_owned(),
        });
    }

    /// Waits until the queue has room for `lines` more output lines of `bytes` bytes, while the
    /// writer keeps taking events: a child's forwarder calls it before each batch, so a flood
    /// is paced by the sinks rather than dropped (see `writer`).
    pub(crate) async fn output_room(&self, lines: usize, bytes: usize) {
        self.outlet.output_room(lines, bytes).await;
    }

    /// One of hot's own lines (`hot: ...`).
    pub fn note(&self, text: &str) {
        self.emit(EventKind::Note {
            message: text.to_owned(),
        });
    }

    /// Something that works, but not as the user may think.
    pub fn warning(&self, text: &str) {
        self.emit(EventKind::Warning {
            message: text.to_owned(),
        });
    }

    /// Service `node` listens on `listening` itself and does not take `socket` (hot's fd in
    /// it, its address): it `closed` it, or nothing of it waits on it.
    pub fn socket_unused(
        &self,
        node: &str,
        socket: (&str, i32, SocketAddr),
        listening: &[SocketAddr],
        closed: bool,
    ) {
        let (name, fd, addr) = socket;
        let own: Vec<String> = listening.iter().map(ToString::to_string).collect();
        let how = if closed {
            format!("closed the socket hot passed it (fd {fd}, {addr}) and listens on")
        } else {
            format!("does not wait on the socket hot passed it (fd {fd}, {addr}); it listens on")
        };
        let message = format!(
            "{node} {how} {} itself, so requests to {addr} never reach it: make it serve on \
             fd {fd} (`LISTEN_FDS`; docs/recipes.md shows how for common servers)",
            own.join(", ")
        );
        self.emit(EventKind::SocketUnused {
            node: node.to_owned(),
            socket: name.to_owned(),
            fd,
            addr: addr.to_string(),
            listening: own,
            closed,
            message,
        });
    }

    /// A runtime problem (not a node's failure): what failed and what to do.
    pub fn error(&self, text: &str) {
        self.emit(EventKind::Error {
            message: text.to_owned(),
        });
    }

    /// A Hotfile diagnostic (on reload: the previous graph keeps running).
    pub fn diagnostic(&self, diagnostic: &dyn Diagnostic) {
        self.emit(EventKind::Diagnostic {
            message: diagnostic.to_string(),
            rendered: render_plain(diagnostic, 100),
            rendered_color: self
                .color_diagnostics
                .load(Ordering::Relaxed)
                .then(|| render(diagnostic, true)),
        });
    }

    /// The address a socket really listens on (port 0 resolved).
    pub fn listening(&self, node: &str, socket: &str, addr: SocketAddr) {
        self.emit(EventKind::Listening {
            node: node.to_owned(),
            socket: socket.to_owned(),
            addr: addr.to_string(),
        });
    }

    /// Watches are in place: from here on no edit is lost.
    pub fn watching(&self, directories: usize) {
        self.emit(EventKind::Watching { directories });
    }

    /// What the watcher has to say.
    pub fn watch_notice(&self, notice: &crate::watch::Notice) {
        use crate::watch::Notice;
        self.emit(match notice {
            // Its file names are anyone's choice (see `printable`).
            Notice::Warning(message) => EventKind::Warning {
                message: printable(message).into_owned(),
            },
            Notice::WatchLimit {
                polled,
                limit,
                suggested,
                every,
            } => EventKind::WatchFallback {
                polled: *polled,
                limit: *limit,
                suggested: *suggested,
                fix: notice.fix(),
                interval_ms: every.as_secs_f64() * 1000.0,
                message: notice.to_string(),
            },
            Notice::WatchRestored { directories } => EventKind::WatchRestored {
                directories: *directories,
                message: notice.to_string(),
            },
            Notice::Note(message) => EventKind::Note {
                message: printable(message).into_owned(),
            },
        });
    }

    /// The Hotfile was reloaded.
    pub fn reloaded(&self, path: &Path) {
        self.emit(EventKind::Reloaded {
            hotfile: path.display().to_string(),
        });
    }

    /// The nodes this run covers (at start and after a reload).
    pub fn scope(&self, project: &Project, scope: &BTreeSet<NodeId>) {
        self.emit(translate::scope(project, scope));
    }

    /// Something the engine decided.
    pub fn report(&self, project: &Project, report: &Report) {
        self.emit(translate::report(project, report, self.outlet.clock()));
    }

    /// `hot ci`'s closing table: how every node in scope stands.
    pub fn summary(&self, project: &Project, graph: &[Standing]) {
        self.emit(translate::summary(project, graph, self.outlet.clock()));
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
        Exit::Signal(signal) => describe_signal(*signal),
        Exit::SpawnFailed(why) | Exit::Refused(why) => why.clone(),
    }
}

/// Why a wave started, told the same way by every sink: "start", "src/a.rs changed",
/// "3 files changed", "rerun asked"; `None` for any other event.
pub fn wave_cause(event: &EventKind) -> Option<String> {
    let EventKind::WaveStarted {
        start,
        paths,
        changed,
        rerun,
        ..
    } = event
    else {
        return None;
    };
    Some(match (rerun, paths.first()) {
        (Some(event::Rerun::All), _) => "rerun asked".to_owned(),
        (Some(event::Rerun::Failed), _) => "rerun of the failed asked".to_owned(),
        (None, Some(path)) if !start && *changed == 1 => format!("{} changed", printable(path)),
        (None, Some(_)) if !start => format!("{changed} files changed"),
        _ => "start".to_owned(),
    })
}

/// `text` (a file name: anyone may choose one) with its control characters escaped (`\n`,
/// `\u{1b}`), so a name cannot break hot's line in two or send the terminal an escape
/// sequence (a title, colours, a hyperlink) of its own.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect::<String>()
        .into()
}

/// How a finished node ended, told the same way by every sink: "could not start: …",
/// "exit status 1", "killed by signal 9 (SIGKILL)"; `None` for any other event, or when the
/// event names neither a status nor a signal.
pub fn how_it_ended(event: &EventKind) -> Option<String> {
    let EventKind::NodeFinished {
        code,
        signal,
        error,
        ..
    } = event
    else {
        return None;
    };
    match (code, signal, error) {
        (_, _, Some(why)) => Some(format!("could not start: {why}")),
        (Some(code), _, _) => Some(describe_exit(&Exit::Code(*code))),
        (None, Some(signal), _) => Some(describe_signal(*signal)),
        (None, None, None) => None,
    }
}

/// "killed by signal 9 (SIGKILL)".
pub fn describe_signal(signal: i32) -> String {
    format!("killed by signal {signal}{}", signal_name(signal))
}

/// " (SIGKILL)" for 9, or nothing for a signal without a well-known number.
pub fn signal_name(signal: i32) -> &'static str {
    // Job-control signals differ between Unixes: libc knows their numbers.
    #[cfg(unix)]
    match signal {
        libc::SIGSTOP => return " (SIGSTOP)",
        libc::SIGTSTP => return " (SIGTSTP)",
        libc::SIGTTIN => return " (SIGTTIN)",
        libc::SIGTTOU => return " (SIGTTOU)",
        _ => {}
    }
    common_signal_name(signal)
}

/// The names of the signals whose numbers are the same on every Unix.
fn common_signal_name(signal: i32) -> &'static str {
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
    // Room for a warning's ~600 bytes at once: grown from empty it was reallocated 8 times.
    let mut out = String::with_capacity(1024);
    // Words end at ASCII spaces only: textwrap's default, the Unicode line-breaking algorithm,
    // was half of rendering `hot check`'s warnings (3.3 M instructions for 20), and hot's
    // messages are words and paths between spaces; a word longer than the width is still cut.
    handler
        .with_word_separator(textwrap::WordSeparator::AsciiSpace)
        .with_width(width)
        .render_report(&mut out, diagnostic)
        .expect("rendering into a String cannot fail");
    out
}

#[cfg(test)]
mod tests;
