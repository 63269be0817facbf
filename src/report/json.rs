//! `--json`: one event per line on stdout, and nothing else there (schema in `docs/json.md`).

use std::io::Write;

use super::event::Event;
use super::sink::Sink;

/// Writes each event as one line of JSON.
pub struct JsonSink {
    out: Box<dyn Write + Send>,
}

impl JsonSink {
    /// JSON lines on hot's stdout.
    pub fn stdout() -> JsonSink {
        JsonSink::new(Box::new(std::io::stdout()))
    }

    pub fn new(out: Box<dyn Write + Send>) -> JsonSink {
        JsonSink { out }
    }
}

/// The JSON line of one event.
pub fn line(event: &Event) -> String {
    serde_json::to_string(event).expect("events serialize: string keys, finite numbers")
}

impl Sink for JsonSink {
    fn event(&mut self, event: &Event) {
        // A closed pipe (`hot --json | head`) is the reader's choice; nothing to report it to.
        let _ = writeln!(self.out, "{}", line(event));
        let _ = self.out.flush();
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
    }

    fn colors_diagnostics(&self) -> bool {
        false
    }
}
