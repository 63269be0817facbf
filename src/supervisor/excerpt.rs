//! What an instance's exit report shows of its output: the lines that look like an error and
//! its last lines, in bounded memory.
//!
//! The last few lines alone miss the error where a runtime prints a stack after it: Node's
//! `SyntaxError: …` comes before ten `at Module._load …` frames and `Node.js v20`, a Python
//! `Traceback` starts far above its last line. So the excerpt keeps, besides the last
//! [`TAIL`] lines, the last [`ERRORS`] earlier lines that match [`LOOKS_LIKE_AN_ERROR`], each
//! cut to [`WIDTH`] bytes; `…` marks where lines were left out.

use std::collections::VecDeque;
use std::sync::LazyLock;

use regex::Regex;

/// How many of the last lines an excerpt shows.
const TAIL: usize = 5;
/// How many earlier error-looking lines it keeps (the latest ones).
const ERRORS: usize = 5;
/// The longest line kept whole in an excerpt, in bytes; a longer one is cut and ends in `…`.
const WIDTH: usize = 1024;

/// Words that start or name an error in the usual runtimes' output: Node/Deno/JS
/// (`SyntaxError:`, `Uncaught`), Rust (`error[E…]`, `error:`, `panicked at`), Python
/// (`Traceback`, `…Error:`, `…Exception`), Java and Go (`Exception`, `panic:`, `FATAL`).
static LOOKS_LIKE_AN_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"Error\b|Error:|\berror(\[|:)|\bERROR\b|panicked at|^panic:|Traceback|Exception|\bFATAL\b|\b[Ff]atal\b|Uncaught|Caused by",
    )
    .expect("a valid regex")
});

/// One instance's output as its exit report will show it.
#[derive(Debug, Default)]
pub(super) struct Excerpt {
    /// How many lines were seen.
    seen: u64,
    /// The last lines, with their numbers.
    tail: VecDeque<(u64, String)>,
    /// Error-looking lines that left the tail, with their numbers.
    errors: VecDeque<(u64, String)>,
}

impl Excerpt {
    /// Takes the next line (or piece of one) of output.
    pub(super) fn push(&mut self, line: &str) {
        let number = self.seen;
        self.seen += 1;
        if self.tail.len() == TAIL
            && let Some((old, text)) = self.tail.pop_front()
            && LOOKS_LIKE_AN_ERROR.is_match(&text)
        {
            if self.errors.len() == ERRORS {
                self.errors.pop_front();
            }
            self.errors.push_back((old, text));
        }
        self.tail.push_back((number, cut(line)));
    }

    /// The error-looking lines, then the last lines, oldest first; `…` where lines are left out.
    pub(super) fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut next = 0;
        for (number, text) in self.errors.iter().chain(&self.tail) {
            if *number != next {
                lines.push("…".to_owned());
            }
            lines.push(text.clone());
            next = number + 1;
        }
        lines
    }
}

fn cut(line: &str) -> String {
    if line.len() <= WIDTH {
        return line.to_owned();
    }
    let mut end = WIDTH;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excerpt(output: &str) -> Vec<String> {
        let mut excerpt = Excerpt::default();
        for line in output.lines() {
            excerpt.push(line);
        }
        excerpt.lines()
    }

    #[test]
    fn a_short_output_is_shown_whole() {
        assert_eq!(excerpt("a\nb\nc"), ["a", "b", "c"]);
    }

    #[test]
    fn the_error_above_a_node_stack_is_kept() {
        let node = "\
/tmp/app/server.js:3
  listen(;
         ^

SyntaxError: Unexpected token ';'
    at wrapSafe (node:internal/modules/cjs/loader:1378:20)
    at Module._compile (node:internal/modules/cjs/loader:1428:41)
    at Module._extensions..js (node:internal/modules/cjs/loader:1548:10)
    at Module.load (node:internal/modules/cjs/loader:1288:32)
    at Module._load (node:internal/modules/cjs/loader:1104:12)
    at TracingChannel.traceSync (node:diagnostics_channel:315:14)

Node.js v20.20.2";
        assert_eq!(
            excerpt(node),
            [
                "…",
                "SyntaxError: Unexpected token ';'",
                "…",
                "    at Module.load (node:internal/modules/cjs/loader:1288:32)",
                "    at Module._load (node:internal/modules/cjs/loader:1104:12)",
                "    at TracingChannel.traceSync (node:diagnostics_channel:315:14)",
                "",
                "Node.js v20.20.2",
            ]
        );
    }

    #[test]
    fn a_python_traceback_keeps_its_first_line_and_its_error() {
        let mut output = String::from("starting\nTraceback (most recent call last):\n");
        for i in 0..20 {
            output.push_str(&format!("  File \"app.py\", line {i}, in f\n    f()\n"));
        }
        output.push_str("RecursionError: maximum recursion depth exceeded");
        let lines = excerpt(&output);
        assert_eq!(lines[..3], ["…", "Traceback (most recent call last):", "…"]);
        assert_eq!(
            lines.last().map(String::as_str),
            Some("RecursionError: maximum recursion depth exceeded")
        );
        assert_eq!(lines.len(), 3 + TAIL);
    }

    #[test]
    fn memory_is_bounded_by_the_line_counts_and_the_width() {
        let mut excerpt = Excerpt::default();
        let long = "Error: ".to_owned() + &"é".repeat(100_000);
        for _ in 0..10_000 {
            excerpt.push(&long);
            excerpt.push("plain");
        }
        assert_eq!((excerpt.tail.len(), excerpt.errors.len()), (TAIL, ERRORS));
        assert!(
            excerpt
                .tail
                .iter()
                .chain(&excerpt.errors)
                .all(|(_, l)| l.len() <= WIDTH + '…'.len_utf8())
        );
    }

    #[test]
    fn ordinary_lines_are_not_errors() {
        for line in [
            "listening on 127.0.0.1:8080",
            "GET /errors.html 200",
            "terror",
        ] {
            assert!(!LOOKS_LIKE_AN_ERROR.is_match(line), "{line}");
        }
        for line in [
            "SyntaxError: Unexpected token ';'",
            "error[E0425]: cannot find value `x`",
            "thread 'main' panicked at src/main.rs:2:5:",
            "Exception in thread \"main\" java.lang.NullPointerException",
            "panic: runtime error: index out of range",
            "FATAL: database \"app\" does not exist",
            "error: could not compile `app`",
        ] {
            assert!(LOOKS_LIKE_AN_ERROR.is_match(line), "{line}");
        }
    }
}
