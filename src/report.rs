//! Everything hot writes to the terminal: child output prefixed with the node's name, hot's own
//! status lines, diagnostics, and the `--json` event stream.

use std::io::Write;
use std::sync::{Arc, Mutex};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

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
}

impl Reporter {
    pub fn new(json: bool, color: bool) -> Self {
        Reporter {
            inner: Arc::new(Mutex::new(Inner { json, color })),
        }
    }

    /// One line of a child's output.
    pub fn output(&self, node: &str, stream: Stream, line: &str) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.json {
            let event = serde_json::json!({
                "event": "output",
                "node": node,
                "stream": match stream { Stream::Stdout => "stdout", Stream::Stderr => "stderr" },
                "line": line,
            });
            let _ = writeln!(std::io::stdout().lock(), "{event}");
        } else {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{} {line}",
                prefix(node, inner.color)
            );
        }
    }

    /// One of hot's own lines about a node (`hot: ...` style status), never in JSON mode.
    pub fn note(&self, text: &str) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !inner.json {
            let _ = writeln!(std::io::stderr().lock(), "hot: {text}");
        }
    }
}

fn prefix(node: &str, color: bool) -> String {
    if color {
        format!("\x1b[36m[{node}]\x1b[0m")
    } else {
        format!("[{node}]")
    }
}

/// Renders a diagnostic without colour at a fixed width: the form used under `NO_COLOR`, when
/// piped, and in snapshot tests.
pub fn render_plain(diagnostic: &dyn Diagnostic, width: usize) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .without_syntax_highlighting()
        .with_width(width)
        .render_report(&mut out, diagnostic)
        .expect("rendering into a String cannot fail");
    out
}
