//! The mistakes a Hotfile can contain, and [`Diagnostics`], all of them for one file.
//!
//! Each [`Mistake`] has a stable code (`hot::...`) and labels pointing into the file; the
//! source text and file name live once in [`Diagnostics`], which miette's renderer lends to
//! every related diagnostic.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};

use super::Snippets;

/// One mistake in a Hotfile.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Mistake {
    #[error("cannot read {path}: {reason}")]
    #[diagnostic(code(hot::io))]
    Io { path: String, reason: String },

    /// `size` is the file's size, or "at least N bytes" for what is read from a pipe. The file
    /// is named in the message: nothing of it is shown.
    #[error("the Hotfile {file} is too large: {size} (the limit is {limit})")]
    #[diagnostic(
        code(hot::too_large),
        help(
            "a Hotfile lists tasks and services and is a few kilobytes: check that `-f` names \
             the Hotfile, or split what generates this one"
        )
    )]
    TooLarge {
        file: String,
        size: String,
        limit: usize,
    },

    /// A Hotfile without a task or service: running it would do nothing and say "all ok".
    #[error("the Hotfile declares no task or service: there is nothing to run")]
    #[diagnostic(
        code(hot::empty),
        help(
            "declare a `task` or `service` (see docs/hotfile.md), or run `hot init` to write a \
             Hotfile for this project (`hot init --force` replaces an existing one)"
        )
    )]
    Empty {
        #[label("no `task` or `service` in this file")]
        span: SourceSpan,
    },

    #[error("{what} are nested too deeply (the limit is {limit} levels)")]
    #[diagnostic(code(hot::too_deep))]
    TooDeep {
        what: &'static str,
        limit: usize,
        #[label("too deep")]
        span: SourceSpan,
    },

    /// A KDL syntax error, re-wrapped so that it renders with the file's name.
    #[error("{message}")]
    #[diagnostic(code(hot::syntax))]
    Syntax {
        message: String,
        label: String,
        #[label("{label}")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    /// An unquoted path or glob: KDL stops the word at `/` (see the module doc).
    #[error("{message}")]
    #[diagnostic(code(hot::unquoted_path))]
    UnquotedPath {
        message: String,
        #[label("quote this")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("unknown node `{name}` {place}")]
    #[diagnostic(code(hot::unknown_node))]
    UnknownNode {
        name: String,
        place: &'static str,
        #[label("unknown")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("{message}")]
    #[diagnostic(code(hot::misplaced))]
    Misplaced {
        message: String,
        #[label("not allowed here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("unknown property `{name}` on `{node}`")]
    #[diagnostic(code(hot::unknown_property))]
    UnknownProperty {
        name: String,
        node: String,
        #[label("unknown")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("unexpected argument to `{node}`")]
    #[diagnostic(code(hot::unexpected_argument))]
    UnexpectedArgument {
        node: String,
        #[label("unexpected")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`{node}` needs {what}")]
    #[diagnostic(code(hot::missing_argument))]
    MissingArgument {
        node: String,
        what: &'static str,
        #[label("missing {what}")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`{node}` expects a string, found {found}")]
    #[diagnostic(code(hot::wrong_type))]
    WrongType {
        node: String,
        found: String,
        #[label("not a string")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`{node}` takes no block")]
    #[diagnostic(code(hot::unexpected_block), help("remove the `{{ … }}` block"))]
    UnexpectedBlock {
        node: String,
        #[label("unexpected block")]
        span: SourceSpan,
    },

    #[error("{kind} `{name}` has no `run`")]
    #[diagnostic(
        code(hot::missing_run),
        help("add a command, e.g. `run \"cargo build\"`")
    )]
    MissingRun {
        kind: &'static str,
        name: String,
        #[label("this {kind} needs a `run`")]
        span: SourceSpan,
    },

    #[error("two nodes are named `{name}`")]
    #[diagnostic(code(hot::duplicate_name), help("node names must be unique"))]
    DuplicateName {
        name: String,
        #[label("first defined here")]
        first: SourceSpan,
        #[label("defined again here")]
        second: SourceSpan,
    },

    #[error("`{node}` is given twice in {parent}")]
    #[diagnostic(
        code(hot::duplicate_child),
        help("`{node}` takes one value; remove one")
    )]
    DuplicateChild {
        node: String,
        parent: String,
        #[label("first here")]
        first: SourceSpan,
        #[label("again here")]
        second: SourceSpan,
    },

    #[error("`{key}` is set twice in {parent}")]
    #[diagnostic(code(hot::duplicate_key), help("remove one of them"))]
    DuplicateKey {
        key: String,
        parent: String,
        #[label("first here")]
        first: SourceSpan,
        #[label("again here")]
        second: SourceSpan,
    },

    #[error("`after` names no node called `{name}`")]
    #[diagnostic(code(hot::unknown_after))]
    UnknownAfter {
        name: String,
        #[label("no such task or service")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`after` forms a cycle: {path}")]
    #[diagnostic(
        code(hot::cycle),
        help("tasks and services must form a DAG: remove one of these `after` entries")
    )]
    Cycle {
        path: String,
        /// Nodes in the loop, for listing the shortest cycles first.
        length: usize,
        #[label(collection)]
        labels: Vec<LabeledSpan>,
    },

    #[error("invalid glob `{glob}`: {reason}")]
    #[diagnostic(code(hot::bad_glob))]
    BadGlob {
        glob: String,
        reason: String,
        #[label("invalid glob")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("invalid socket address `{addr}`")]
    #[diagnostic(code(hot::bad_socket))]
    BadSocket {
        addr: String,
        #[label("invalid address")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("two sockets are named `{name}` in service `{service}`")]
    #[diagnostic(
        code(hot::duplicate_socket),
        help("socket names must be unique within a service")
    )]
    DuplicateSocket {
        name: String,
        service: String,
        #[label("first here")]
        first: SourceSpan,
        #[label("again here")]
        second: SourceSpan,
    },

    #[error("address {addr} is used by two sockets")]
    #[diagnostic(
        code(hot::socket_in_use),
        help("hot binds every socket itself, so each address can be listened on once")
    )]
    SocketInUse {
        addr: String,
        first_node: String,
        #[label("first used by `{first_node}`")]
        first: SourceSpan,
        #[label("used again here")]
        second: SourceSpan,
    },

    #[error("invalid duration `{text}`")]
    #[diagnostic(
        code(hot::bad_duration),
        help("write a number and a unit: \"300ms\", \"5s\", \"1.5m\" or \"1h\"")
    )]
    BadDuration {
        text: String,
        #[label("not a duration")]
        span: SourceSpan,
    },

    #[error("duration `{text}` is longer than a day")]
    #[diagnostic(
        code(hot::duration_too_long),
        help("durations are at most \"24h\"; write a shorter one")
    )]
    DurationTooLong {
        text: String,
        #[label("longer than 24h")]
        span: SourceSpan,
    },

    #[error("invalid regular expression for `ready log`")]
    #[diagnostic(code(hot::bad_regex))]
    BadRegex {
        #[label("invalid regex")]
        span: SourceSpan,
        #[help]
        reason: String,
    },

    #[error("unknown signal `{text}`")]
    #[diagnostic(code(hot::bad_signal))]
    BadSignal {
        text: String,
        #[label("unknown signal")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("{message}")]
    #[diagnostic(
        code(hot::bad_ready),
        help("write one of `ready delay=\"300ms\"`, `ready log=\"REGEX\"` or `ready \"notify\"`")
    )]
    BadReady {
        message: String,
        #[label("here")]
        span: SourceSpan,
    },

    /// A value that is a string but not an acceptable one (an empty command, an env key
    /// with `=`, ...).
    #[error("{message}")]
    #[diagnostic(code(hot::bad_value))]
    BadValue {
        message: String,
        #[label("here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },
}

impl Mistake {
    /// Where the first label starts, for ordering mistakes as they appear in the file.
    fn offset(&self) -> usize {
        self.labels()
            .and_then(|mut labels| labels.next())
            .map_or(0, |label| label.offset())
    }

    /// Mistakes in file order, then cycles (a mistake of the whole graph), shortest first.
    fn order(&self) -> (bool, usize, usize) {
        match self {
            Mistake::Cycle { length, .. } => (true, *length, self.offset()),
            _ => (false, self.offset(), 0),
        }
    }
}

/// How many mistakes (and `hot check`'s warnings) are rendered. Each one shows its lines of the
/// file, so rendering them all would grow with the square of the file's size (thousands of
/// mistakes on one long line), and a screenful past twenty is not read anyway.
pub const SHOWN: usize = 20;

/// Every mistake of one Hotfile, in the order they appear in it (cycles last, shortest first).
///
/// Renders as one diagnostic when there is a single mistake, otherwise as a summary with each
/// mistake as a `related()` diagnostic. The source carries the file's name, so each caret
/// is shown under `file:line:col`.
#[derive(Debug)]
pub struct Diagnostics {
    source: NamedSource<Snippets>,
    mistakes: Vec<Mistake>,
    /// The first [`SHOWN`] mistakes as they are rendered.
    shown: Vec<Shown>,
}

/// miette writes columns and underline lengths as format widths, and a width past `u16::MAX`
/// panics ("Formatting argument out of range"). A mistake further right on its line than
/// this is told by line and column without a snippet; a longer underline is cut.
const MAX_COLUMN: usize = 10_000;

/// One mistake as it is rendered: its labels made safe for miette (see [`MAX_COLUMN`]).
#[derive(Debug)]
struct Shown {
    message: String,
    code: Option<String>,
    help: Option<String>,
    labels: Vec<LabeledSpan>,
}

impl Shown {
    fn new(mistake: &Mistake, text: &str) -> Shown {
        let mut message = mistake.to_string();
        let mut labels: Vec<LabeledSpan> = mistake.labels().into_iter().flatten().collect();
        let column = |offset: usize| {
            let offset = offset.min(text.len());
            let start = text.as_bytes()[..offset]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            (start, offset - start)
        };
        if let Some((start, col)) = labels
            .iter()
            .map(|l| column(l.offset()))
            .find(|&(_, col)| col > MAX_COLUMN)
        {
            let line = text.as_bytes()[..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            message.push_str(&format!(
                " (at line {line}, column {}; too far right to show)",
                col + 1
            ));
            labels.clear();
        }
        for label in &mut labels {
            if label.len() > MAX_COLUMN {
                *label =
                    LabeledSpan::new(label.label().map(str::to_owned), label.offset(), MAX_COLUMN);
            }
        }
        Shown {
            message,
            code: mistake.code().map(|c| c.to_string()),
            help: mistake.help().map(|h| h.to_string()),
            labels,
        }
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Shown {}

impl Diagnostic for Shown {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
}

impl Diagnostics {
    /// `name` is the file name as it should be shown to the user.
    pub(crate) fn new(name: String, text: Arc<String>, mut mistakes: Vec<Mistake>) -> Self {
        mistakes.sort_by_key(Mistake::order);
        let shown = mistakes
            .iter()
            .take(SHOWN)
            .map(|m| Shown::new(m, &text))
            .collect();
        Diagnostics {
            source: NamedSource::new(name, Snippets::new(text)),
            mistakes,
            shown,
        }
    }

    /// The file's name as shown in the diagnostics.
    pub fn file_name(&self) -> &str {
        self.source.name()
    }

    pub fn len(&self) -> usize {
        self.mistakes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mistakes.is_empty()
    }

    /// Every mistake, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Mistake> {
        self.mistakes.iter()
    }

    /// The one-line message of every mistake, in file order (handy in tests).
    pub fn messages(&self) -> Vec<String> {
        self.mistakes.iter().map(ToString::to_string).collect()
    }

    /// The mistake this diagnostic stands for when there is exactly one.
    fn single(&self) -> Option<&Shown> {
        match self.shown.as_slice() {
            [only] if self.mistakes.len() == 1 => Some(only),
            _ => None,
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.single() {
            Some(only) => only.fmt(f),
            None if self.mistakes.len() > SHOWN => write!(
                f,
                "{} has {} mistakes (the first {SHOWN} are shown)",
                self.source.name(),
                self.mistakes.len()
            ),
            None => write!(
                f,
                "{} has {} mistakes",
                self.source.name(),
                self.mistakes.len()
            ),
        }
    }
}

impl std::error::Error for Diagnostics {}

impl Diagnostic for Diagnostics {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self.single() {
            Some(only) => only.code(),
            None => Some(Box::new("hot::invalid_hotfile")),
        }
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.single().and_then(Diagnostic::help)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.single().and_then(Diagnostic::labels)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.single().is_some() {
            return None;
        }
        Some(Box::new(self.shown.iter().map(|m| m as &dyn Diagnostic)))
    }
}
