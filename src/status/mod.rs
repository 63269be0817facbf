//! The live status view: on a terminal, a panel pinned below the scrolling output with one line
//! per node (queued, running with a spinner and its time, ok, failed, blocked, and each
//! service's address, pid, uptime and build), the wave and what set it off, and keys to rerun
//! everything or the failed, show a failure's full output, clear and quit.
//!
//! The pieces: [`board`] keeps the state (pure), [`render`] draws it as lines for a width,
//! [`screen`] turns frames into as few bytes as possible, [`term`] owns the terminal (modes,
//! keys, restoring it). [`Status`] ties them together as one more consumer of hot's events.
//! Events only queue; the terminal is written in frames, one write each: every [`FRAME`] from
//! the driver's loop, and at once for a key, a full queue, Ctrl-Z and the end. So a flood of
//! output costs one write per frame, not one per line.

pub mod board;
pub mod render;
pub mod screen;
pub mod term;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::engine::{Event, Rerun};
use crate::report::event::EventKind;
use crate::report::plain::PlainSink;
use crate::report::{self, Sink};
use board::Board;
use render::View;
use screen::Screen;
pub use term::Key;

/// The time between frames: 20 per second at most.
pub const FRAME: Duration = Duration::from_millis(50);
/// Lines waiting for the next frame beyond which they are written at once (memory stays
/// bounded whatever a child prints).
const QUEUE_LIMIT: usize = 2_000;
/// How long an answer to a key stays on the panel.
const FLASH: Duration = Duration::from_secs(3);

/// The view, shared by whoever reports to it and the driver that draws frames.
#[derive(Debug)]
pub struct Status {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    board: Board,
    screen: Screen,
    /// Lines for the scrolling output, written with the next frame.
    queue: Vec<String>,
    color: bool,
    keys: bool,
    flash: Option<(String, Instant)>,
    /// The failed node whose output was shown last: the next press shows the next one.
    last_shown: Option<String>,
    /// Set once the panel was erased for good: later lines are written plainly.
    closed: bool,
}

impl Status {
    pub fn new(color: bool) -> Arc<Status> {
        Arc::new(Status {
            inner: Mutex::new(Inner {
                board: Board::new(),
                screen: Screen::default(),
                queue: Vec::new(),
                color,
                keys: false,
                flash: None,
                last_shown: None,
                closed: false,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while drawing must not stop every later line.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keys are read: the panel lists them.
    pub fn set_keys(&self, keys: bool) {
        self.lock().keys = keys;
    }

    /// One event of hot's stream, and the lines the plain sink made of it (they scroll above
    /// the panel).
    pub fn event(&self, now: Instant, event: &EventKind, lines: &[String]) {
        let mut inner = self.lock();
        inner.board.event(now, event);
        for line in lines {
            inner.line(line);
        }
    }

    /// Draws what changed since the last frame.
    pub fn frame(&self, now: Instant) {
        self.lock().draw(now);
    }

    /// Ctrl-Z: writes what waits and erases the panel, so the shell gets a clean terminal
    /// while hot is stopped. The next frame draws the panel anew.
    pub fn suspend(&self) {
        self.lock().take_down();
    }

    /// hot was continued: in the foreground the view goes on (with keys if it has them
    /// again); in the background the shell owns the screen, so the view stops for good and
    /// later lines are written plainly.
    pub fn resume(&self, foreground: bool, keys: bool) {
        if foreground {
            self.set_keys(keys);
        } else {
            self.close();
        }
    }

    /// Erases the panel for good (hot is done); later lines are written plainly.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.take_down();
        inner.closed = true;
    }

    /// Acts on a key: what only the view does is done here; a rerun or quit comes back as the
    /// engine event it stands for.
    pub fn key(&self, key: Key, now: Instant) -> Option<Event> {
        let mut inner = self.lock();
        match key {
            Key::RerunAll => Some(Event::Rerun(Rerun::All)),
            Key::RerunFailed => {
                if inner.board.failed().is_empty() {
                    inner.flash = Some(("nothing failed: nothing to rerun".to_owned(), now));
                }
                Some(Event::Rerun(Rerun::Failed))
            }
            Key::ShowFailed => {
                inner.show_failed(now);
                None
            }
            Key::Clear => {
                let mut out = String::new();
                inner.screen.clear(&mut out);
                term::write(&out);
                inner.draw(now);
                None
            }
            Key::Quit => Some(Event::Shutdown {
                code: crate::exit::OK,
            }),
        }
    }
}

impl Inner {
    /// Erases the panel and writes the lines that wait where it was, in one write.
    fn take_down(&mut self) {
        let mut out = String::new();
        self.screen.erase(&mut out);
        for line in std::mem::take(&mut self.queue) {
            out.push_str(&line);
            out.push('\n');
        }
        term::write(&out);
        term::shown(0);
    }

    fn line(&mut self, text: &str) {
        if self.closed {
            term::write(&format!("{text}\n"));
            return;
        }
        self.queue
            .extend(text.trim_end_matches('\n').split('\n').map(str::to_owned));
        if self.queue.len() >= QUEUE_LIMIT {
            self.draw(Instant::now());
        }
    }

    fn draw(&mut self, now: Instant) {
        if self.closed {
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
        term::write(&out);
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
        self.draw(now);
    }
}

/// The view as a sink of hot's event stream: each event updates the board, and the lines the
/// plain sink would print scroll above the panel instead of being printed directly.
pub struct StatusSink {
    status: Arc<Status>,
    plain: PlainSink,
}

impl StatusSink {
    pub fn new(status: Arc<Status>, color: bool) -> StatusSink {
        StatusSink {
            status,
            plain: PlainSink::new(color, Box::new(std::io::sink()), Box::new(std::io::sink())),
        }
    }
}

impl Sink for StatusSink {
    fn event(&mut self, event: &report::Event) {
        let lines: Vec<String> = self
            .plain
            .lines(event)
            .into_iter()
            .map(|(_, line)| line)
            .collect();
        self.status.event(Instant::now(), &event.kind, &lines);
    }

    fn finish(&mut self) {
        self.status.close();
    }
}
