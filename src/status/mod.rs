//! The live status view: on a terminal, a panel pinned below the scrolling output with one line
//! per node (queued, running with a spinner and its time, ok, failed, blocked, and each
//! service's address, pid, uptime and build), the wave and what set it off, and keys to rerun
//! everything or the failed, show a failure's full output, clear and quit.
//!
//! The pieces: [`board`] keeps the state (pure), [`render`] draws it as lines for a width,
//! [`screen`] turns frames into as few bytes as possible, [`term`] owns the terminal (modes,
//! keys, restoring it). [`StatusSink`] ties them together as one more consumer of hot's events,
//! and [`Control`] is what the driver holds: it asks (a key, Ctrl-Z), the sink does.
//! The sink lives on the reporter's writer thread and writes the terminal only there, in
//! frames, one write each: at every [`FRAME`] the driver asks for ([`Reporter::frame`]), at
//! once for a key, a full queue, Ctrl-Z and the end. So a flood of output costs one write per
//! frame, and a terminal that stops taking bytes (Ctrl-S) stalls the writer, never the loop.
//!
//! [`Reporter::frame`]: crate::report::Reporter::frame

pub(crate) mod board;
pub(crate) mod render;
pub(crate) mod screen;
pub(crate) mod term;

#[cfg(test)]
mod tests;

use std::io::Write;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use crate::engine::{Event, Rerun};
use crate::report::lines::Lines;
use crate::report::{self, Sink};
use board::Board;
use render::View;
use screen::Screen;
pub(crate) use term::Key;

/// The time between frames: 20 per second at most.
pub(crate) const FRAME: Duration = Duration::from_millis(50);
/// Lines waiting for the next frame beyond which they are written at once (memory stays
/// bounded whatever a child prints).
const QUEUE_LIMIT: usize = 2_000;
/// How long an answer to a key stays on the panel.
const FLASH: Duration = Duration::from_secs(3);

/// The driver's side of the view. Nothing here writes: each call leaves a request that the
/// sink carries out at its next frame, on the writer thread (the caller asks for that frame).
#[derive(Debug, Clone)]
pub(crate) struct Control {
    requests: Sender<Request>,
}

#[derive(Debug)]
enum Request {
    /// Whether keys are read (the panel lists them).
    Keys(bool),
    /// A key only the view acts on, and when it was pressed.
    Key(Key, Instant),
    /// Ctrl-Z: erase the panel and draw nothing until [`Request::Resume`].
    Suspend,
    /// hot was continued, in the foreground or not, and reads keys or not.
    Resume { foreground: bool, keys: bool },
}

impl Control {
    fn ask(&self, request: Request) {
        // Gone only once the sink is: nothing is left to draw.
        let _ = self.requests.send(request);
    }

    /// Keys are read: the panel lists them.
    pub(crate) fn set_keys(&self, keys: bool) {
        self.ask(Request::Keys(keys));
    }

    /// Ctrl-Z: the next frame writes what waits and erases the panel, so the shell gets a
    /// clean terminal while hot is stopped; the caller waits for that frame before stopping.
    pub(crate) fn suspend(&self) {
        self.ask(Request::Suspend);
    }

    /// hot was continued: in the foreground the view goes on (with keys if it has them
    /// again); in the background the shell owns the screen, so the view stops for good and
    /// later lines are written plainly.
    pub(crate) fn resume(&self, foreground: bool, keys: bool) {
        self.ask(Request::Resume { foreground, keys });
    }

    /// A key: a rerun or quit comes back as the engine event it stands for; what only the
    /// view does (show a failure's output, clear, say that nothing failed) is left for its
    /// next frame.
    pub(crate) fn key(&self, key: Key, now: Instant) -> Option<Event> {
        match key {
            Key::RerunAll => Some(Event::Rerun(Rerun::All)),
            Key::RerunFailed => {
                self.ask(Request::Key(key, now));
                Some(Event::Rerun(Rerun::Failed))
            }
            Key::ShowFailed | Key::Clear => {
                self.ask(Request::Key(key, now));
                None
            }
            Key::Quit => Some(Event::Shutdown {
                code: crate::exit::OK,
            }),
        }
    }
}

/// The view as a sink of hot's event stream: each event updates the board, and its lines (the
/// plain sink's, drawn by the same [`Lines`]) scroll above the panel.
pub(crate) struct StatusSink {
    board: Board,
    screen: Screen,
    lines: Lines,
    /// The terminal (stderr), written only in frames.
    out: Box<dyn Write + Send>,
    requests: Receiver<Request>,
    /// Lines for the scrolling output, written with the next frame.
    queue: Vec<String>,
    color: bool,
    keys: bool,
    flash: Option<(String, Instant)>,
    /// The failed node whose output was shown last: the next press shows the next one.
    last_shown: Option<String>,
    /// Ctrl-Z erased the panel: nothing is drawn until hot is continued.
    suspended: bool,
    /// Set once the panel was erased for good: later lines are written plainly.
    closed: bool,
}

impl StatusSink {
    /// The view drawn on `out` (stderr, a terminal), and the driver's control of it.
    pub(crate) fn new(color: bool, out: Box<dyn Write + Send>) -> (StatusSink, Control) {
        let (requests, received) = channel();
        let sink = StatusSink {
            board: Board::new(),
            screen: Screen::default(),
            lines: Lines::new(color),
            out,
            requests: received,
            queue: Vec::new(),
            color,
            keys: false,
            flash: None,
            last_shown: None,
            suspended: false,
            closed: false,
        };
        (sink, Control { requests })
    }

    /// Writes `bytes` to the terminal in one write.
    fn write(&mut self, bytes: &str) {
        if bytes.is_empty() {
            return;
        }
        let _ = self.out.write_all(bytes.as_bytes());
        let _ = self.out.flush();
    }

    /// Carries out what the driver asked since the last frame.
    fn answer(&mut self) {
        while let Ok(request) = self.requests.try_recv() {
            match request {
                Request::Keys(keys) => self.keys = keys,
                Request::Key(key, at) => self.key(key, at),
                Request::Suspend => {
                    self.take_down();
                    self.suspended = true;
                }
                Request::Resume { foreground, keys } => {
                    self.suspended = false;
                    if foreground {
                        self.keys = keys;
                    } else {
                        self.close();
                    }
                }
            }
        }
    }

    fn key(&mut self, key: Key, now: Instant) {
        match key {
            Key::RerunFailed if self.board.failed().is_empty() => {
                self.flash = Some(("nothing failed: nothing to rerun".to_owned(), now));
            }
            Key::ShowFailed => self.show_failed(now),
            Key::Clear => {
                let mut out = String::new();
                self.screen.clear(&mut out);
                self.write(&out);
            }
            _ => {}
        }
    }

    /// Erases the panel for good (hot is done); later lines are written plainly.
    fn close(&mut self) {
        self.take_down();
        self.closed = true;
    }

    /// Erases the panel and writes the lines that wait where it was, in one write.
    fn take_down(&mut self) {
        let mut out = String::new();
        self.screen.erase(&mut out);
        for line in std::mem::take(&mut self.queue) {
            out.push_str(&line);
            out.push('\n');
        }
        self.write(&out);
        term::shown(0);
    }

    fn line(&mut self, text: &str) {
        if self.closed || self.suspended {
            self.write(&format!("{text}\n"));
            return;
        }
        self.queue
            .extend(text.trim_end_matches('\n').split('\n').map(str::to_owned));
        if self.queue.len() >= QUEUE_LIMIT {
            self.draw(Instant::now());
        }
    }

    fn draw(&mut self, now: Instant) {
        if self.closed || self.suspended {
            return;
        }
        if self.flash.as_ref().is_some_and(|(_, at)| now - *at > FLASH) {
            self.flash = None;
        }
        let (width, height) = term::size();
        let view = View {
            now,
            width,
            height,
            color: self.color,
            keys: self.keys,
            flash: self.flash.as_ref().map(|(text, _)| text.as_str()),
        };
        let panel = render::panel(&self.board, &view);
        let mut out = String::new();
        let queue = std::mem::take(&mut self.queue);
        self.screen.frame(&queue, panel, width, &mut out);
        self.write(&out);
        term::shown(self.screen.rows());
    }

    /// Puts the full output of the next failed node's last run into the scrolling output.
    fn show_failed(&mut self, now: Instant) {
        let failed: Vec<String> = self.board.failed().into_iter().map(str::to_owned).collect();
        if failed.is_empty() {
            self.flash = Some(("nothing failed: no output to show".to_owned(), now));
            return;
        }
        let next = self
            .last_shown
            .as_ref()
            .and_then(|last| failed.iter().position(|n| n == last))
            .map_or(0, |i| (i + 1) % failed.len());
        let name = failed[next].clone();
        let output = self.board.output_of(&name).cloned().unwrap_or_default();
        let mut lines = vec![format!(
            "── output of {name}'s last run ({} lines{}) ──",
            output.lines.len(),
            if output.dropped > 0 {
                format!(", {} earlier ones dropped", output.dropped)
            } else {
                String::new()
            }
        )];
        lines.extend(output.lines.iter().cloned());
        lines.push(format!("── end of {name}'s output ──"));
        self.queue.extend(lines);
        if failed.len() > 1 {
            self.flash = Some((
                format!(
                    "{name} ({} of {}): press o for the next",
                    next + 1,
                    failed.len()
                ),
                now,
            ));
        }
        self.last_shown = Some(name);
    }
}

impl Sink for StatusSink {
    fn event(&mut self, event: &report::Event) {
        self.board.event(Instant::now(), &event.kind);
        for (_, line) in self.lines.lines(event) {
            self.line(&line);
        }
    }

    fn frame(&mut self) {
        self.answer();
        self.draw(Instant::now());
    }

    fn finish(&mut self) {
        self.answer();
        if !self.closed {
            self.close();
        }
    }
}
