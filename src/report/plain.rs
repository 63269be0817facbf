//! Plain lines for a terminal or a log: [`Lines`] written to two streams as they come.

use std::io::Write;

use super::ColorChoice;
use super::event::Event;
use super::lines::{Lines, To};
use super::sink::Sink;

/// The plain-lines sink.
pub struct PlainSink {
    lines: Lines,
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
}

impl PlainSink {
    /// Lines on hot's own stdout and stderr, each coloured as `color` decides for it.
    pub fn terminal(color: ColorChoice) -> PlainSink {
        PlainSink::new(
            Lines::terminal(color),
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
        )
    }

    /// `lines` on `out` and `err`.
    pub fn new(lines: Lines, out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) -> PlainSink {
        PlainSink { lines, out, err }
    }

    /// See [`Lines::verdict_in_summary`].
    pub fn verdict_in_summary(mut self) -> PlainSink {
        self.lines = self.lines.verdict_in_summary();
        self
    }
}

impl Sink for PlainSink {
    fn event(&mut self, event: &Event) {
        for (to, mut line) in self.lines.lines(event) {
            // One write per line: stderr is unbuffered, and `writeln!` wrote the line and its
            // newline apart, two system calls for each line of a flood on stderr.
            line.push('\n');
            // A closed pipe (`hot ci | head`) is the reader's choice, not hot's failure.
            let _ = match to {
                To::Stdout => self.out.write_all(line.as_bytes()),
                To::Stderr => self.err.write_all(line.as_bytes()),
            };
        }
        let _ = self.out.flush();
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
        let _ = self.err.flush();
    }

    fn colors_diagnostics(&self) -> bool {
        self.lines.colors_stderr()
    }
}
