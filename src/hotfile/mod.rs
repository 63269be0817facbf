//! Reading a Hotfile: KDL text to a validated [`crate::model::Project`], or every mistake in it
//! as miette diagnostics.
//!
//! # The language
//!
//! A Hotfile is a KDL 2 document (`docs/hotfile.md` is the reference):
//!
//! ```kdl
//! defaults {
//!     ignore "target/**"          // appended to every node's ignore globs
//!     env RUST_BACKTRACE="1"      // every node's env starts with these; a node's own win
//!     debounce "10ms"             // quiet period closing a burst of changes (default 10ms)
//! }
//! task "build" {
//!     watch "src/**/*.rs" "Cargo.toml"   // globset syntax; `*` does not cross `/`
//!     ignore "src/generated/**"
//!     run "cargo build"                  // one argument: `sh -c`; several: an argv
//!     dir "crates/app"                   // relative to the Hotfile (default: its directory)
//!     env RUSTFLAGS="-Dwarnings"
//!     stop signal="SIGTERM" timeout="5s" // both optional; these are the defaults
//! }
//! service "serve" {
//!     after "build"
//!     socket "http" "127.0.0.1:3000"     // IPv4 `HOST:PORT` or `[IPv6]:PORT`; port 0 = any
//!     run "./target/debug/app"
//!     ready log="listening" timeout="30s" // or delay="300ms", or "notify"; timeout default 60s
//! }
//! ```
//!
//! `socket` and `ready` are only allowed in a `service`; `debounce` only in `defaults`. A node
//! without `watch` runs at start and whenever something it comes `after` reruns.
//! Socket addresses must be IP addresses: `localhost` is refused (with a hint to write
//! `127.0.0.1`), because it may resolve to either loopback address.
//!
//! # The unquoted-glob trap
//!
//! KDL 2 accepts bare identifiers as strings, so `watch src` means `watch "src"`, and hot
//! accepts that. But an identifier stops at `/`, and `/*` opens a comment: KDL reads
//! `watch src/**/*.rs` as `watch src *.rs` with a `/**/` comment in between, silently. So before
//! parsing, a lexical pass ([`lex`]) refuses any bare word directly followed by `/` ("glob must
//! be quoted ...", with the corrected line as help). It also refuses nesting deeper than
//! [`lex::MAX_DEPTH`] blocks or comments, since the KDL parser recurses on both, and files over
//! [`MAX_BYTES`]. Those are reported alone, as are KDL syntax errors: the tree after them
//! cannot be trusted.
//!
//! # Diagnostics
//!
//! Otherwise every mistake in the file is collected ([`syntax`] checks the shape of the tree,
//! [`check`] its meaning) and returned together as [`Diagnostics`], each with a stable code
//! (`hot::unknown_node`, `hot::cycle`, ...), a label under the offending text and, where it
//! helps, a "did you mean" suggestion. The file is named as the caller gave it, or relative to
//! the current directory when it lies below it.

mod check;
mod error;
mod lex;
mod quick;
mod snippet;
mod spans;
mod syntax;
#[cfg(test)]
mod tests;
mod tree;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kdl::KdlDocument;

pub use error::{Diagnostics, Mistake, SHOWN};

use crate::model::Project;
pub use snippet::Snippets;
pub use spans::{NodeSpans, Spans};

/// The largest Hotfile hot reads.
pub const MAX_BYTES: usize = 1 << 20;

/// The longest duration a Hotfile or the command line may give. Longer ones are almost always
/// a slip, and bounding them keeps every `Instant + Duration` far from overflowing.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The Hotfile's name.
pub const FILE_NAME: &str = "Hotfile";

/// Upward search from `start` for a file named `Hotfile` (like git/just).
pub fn find(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).ok()?;
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

/// `-f -`: the Hotfile is read from standard input.
pub const STDIN: &str = "-";

/// Reads and validates the Hotfile at `path` (absolute or relative; made absolute), or standard
/// input for [`STDIN`]. The root is the Hotfile's directory (or the one its `root` names above
/// it), or the current directory when the Hotfile is not a regular file (standard input, `/dev/stdin`, a named pipe): a pipe's
/// directory (`/dev`) is not the project.
pub fn load(path: &Path) -> Result<Project, Diagnostics> {
    load_with(path, false).map(|loaded| loaded.project)
}

/// A project and where its parts are written: what [`load_spanned`] gives.
#[derive(Debug)]
pub struct Loaded {
    pub project: Project,
    pub spans: Spans,
}

/// [`load`], with the span table of the nodes (for `hot check`'s warnings), so nothing reads
/// or parses the Hotfile a second time (standard input cannot be read twice).
pub fn load_spanned(path: &Path) -> Result<Loaded, Diagnostics> {
    load_with(path, true)
}

/// [`load_spanned`] when `spans`, else [`load`] (with an empty span table: only `hot check`
/// reads it, and building it is 6% of `hot ci --dry-run` on a 500-node Hotfile).
pub fn load_with(path: &Path, spans: bool) -> Result<Loaded, Diagnostics> {
    let io_error = |reason: String| {
        Diagnostics::new(
            display_name(path),
            Arc::default(),
            vec![Mistake::Io {
                path: display_name(path),
                reason,
            }],
        )
    };
    let cwd = || std::env::current_dir().map_err(|e| io_error(e.to_string()));
    let (bytes, root) = if path == Path::new(STDIN) {
        (read_limited(std::io::stdin().lock(), None, path)?, cwd()?)
    } else {
        let file = std::fs::File::open(path).map_err(|e| io_error(e.to_string()))?;
        let size = file
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len());
        let root = match size {
            Some(_) => hotfile_dir(path),
            None => cwd()?,
        };
        (read_limited(file, size, path)?, root)
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        io_error(format!(
            "it is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse_in(path, text, root, spans)
}

/// Reads at most [`MAX_BYTES`]. `size` is a regular file's size: one too large is refused with
/// it, unread; anything else is read one byte past the limit, so a pipe's size is "at least".
fn read_limited(reader: impl Read, size: Option<u64>, path: &Path) -> Result<Vec<u8>, Diagnostics> {
    let fail = |mistake| Diagnostics::new(display_name(path), Arc::default(), vec![mistake]);
    let too_large = |size: String| {
        fail(Mistake::TooLarge {
            file: display_name(path),
            size,
            limit: MAX_BYTES,
        })
    };
    if let Some(size) = size.filter(|&s| s > MAX_BYTES as u64) {
        return Err(too_large(format!("{size} bytes")));
    }
    // A regular file's size up front (and one byte to find its end): no growing and copying
    // the buffer, read by read.
    let mut bytes = Vec::with_capacity(size.map_or(0, |s| s as usize + 1));
    reader
        .take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            fail(Mistake::Io {
                path: display_name(path),
                reason: e.to_string(),
            })
        })?;
    if bytes.len() > MAX_BYTES {
        // A regular file that grew while it was read, or a pipe: what was read is a minimum.
        return Err(too_large(format!("at least {} bytes", bytes.len())));
    }
    Ok(bytes)
}

/// The directory holding the Hotfile at `path`.
fn hotfile_dir(path: &Path) -> PathBuf {
    let hotfile = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    hotfile
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

/// Validates `text` as if read from `path` (used by tests and by reload).
pub fn parse(path: &Path, text: &str) -> Result<Project, Diagnostics> {
    parse_in(path, text.to_owned(), hotfile_dir(path), false).map(|loaded| loaded.project)
}

/// Validates `text` as if read from `path`, with `root` as the project root.
fn parse_in(path: &Path, text: String, root: PathBuf, spans: bool) -> Result<Loaded, Diagnostics> {
    let name = display_name(path);
    if text.len() > MAX_BYTES {
        let mistake = Mistake::TooLarge {
            file: name.clone(),
            size: format!("{} bytes", text.len()),
            limit: MAX_BYTES,
        };
        return Err(Diagnostics::new(name, Arc::default(), vec![mistake]));
    }
    // The text itself becomes the diagnostics' source: no copy.
    let source = Arc::new(text);
    let text = source.as_str();
    let fail = |mistakes| Err(Diagnostics::new(name.clone(), source.clone(), mistakes));

    // Standard input keeps its name: no file of that name is the Hotfile (or reloaded).
    let hotfile = if path == Path::new(STDIN) {
        path.to_path_buf()
    } else {
        std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
    };
    // A Hotfile in the quick reader's subset is read quickly (the quick reader bounds its own
    // nesting, and refuses whatever the prescan would); anything else is prescanned, then read
    // with kdl, whose reading every syntax error comes from (quick.rs).
    if let Some(tree) = quick::parse(text) {
        match build(
            &tree,
            hotfile.clone(),
            root.clone(),
            (&name, &source),
            spans,
        ) {
            Ok(loaded) => return Ok(loaded),
            // The quick tree is kdl's (the tests hold them equal) but for a block's span,
            // which only `UnexpectedBlock` shows: any other mistake reads as kdl's tree gives
            // it, without kdl's parser (~290 M instructions for a typo in a 500-node Hotfile).
            Err(mistakes)
                if !mistakes
                    .iter()
                    .any(|m| matches!(m, Mistake::UnexpectedBlock { .. })) =>
            {
                return fail(mistakes);
            }
            Err(_) => {}
        }
    }
    let scan = lex::prescan(text);
    if !scan.mistakes.is_empty() {
        return fail(scan.mistakes);
    }
    let doc = match parse_kdl(text, &scan.node_ends) {
        Ok(doc) => doc,
        Err(error) => return fail(syntax_mistakes(error.diagnostics)),
    };
    build(
        &tree::from_kdl(&doc),
        hotfile,
        root,
        (&name, &source),
        spans,
    )
    .map_err(fail_with(&name, &source))
}

/// The project of a parsed document, or its mistakes.
fn build(
    doc: &tree::Tree<'_>,
    hotfile: PathBuf,
    root: PathBuf,
    (name, source): (&str, &Arc<String>),
    spans: bool,
) -> Result<Loaded, Vec<Mistake>> {
    let mut mistakes = Vec::new();
    let raw = syntax::read(doc, &mut mistakes);
    match check::build(raw, hotfile, root, source, &mut mistakes) {
        Some(project) if mistakes.is_empty() && project.nodes.is_empty() => {
            // A zero-length label: the caret at the top, however long the comments are.
            Err(vec![Mistake::Empty {
                span: (0, 0).into(),
            }])
        }
        Some(project) if mistakes.is_empty() => {
            // Linear, beside the parse: the table costs far less than reading the file again.
            let spans = if spans {
                Spans::of(doc, &project, name.to_owned(), source.clone())
            } else {
                Spans::none(name.to_owned(), source.clone())
            };
            Ok(Loaded { project, spans })
        }
        _ if mistakes.is_empty() => Err(vec![Mistake::BadValue {
            message: "hot could not build this Hotfile (an internal limit was hit)".into(),
            span: (0, 0).into(),
            help: None,
        }]),
        _ => Err(mistakes),
    }
}

/// Mistakes as the diagnostics of the file `name` with text `source`.
fn fail_with(name: &str, source: &Arc<String>) -> impl FnOnce(Vec<Mistake>) -> Diagnostics {
    move |mistakes| Diagnostics::new(name.to_owned(), source.clone(), mistakes)
}

/// The stack of each parsing thread: like a main thread's.
const PARSE_STACK: usize = 8 << 20;

/// Below this size a Hotfile is parsed on one thread: threads cost more than they save.
const PARALLEL_FROM: usize = 16 * 1024;

/// Parses the KDL document. A large file is cut at top-level node ends into one piece per
/// CPU, parsed side by side (kdl parses about 2 MB/s, so a 75 KB Hotfile takes ~25 ms on one
/// thread). Should any piece fail, the whole text is parsed again in one go, so syntax errors
/// read exactly as kdl reports them for the file.
fn parse_kdl(text: &str, node_ends: &[usize]) -> Result<KdlDocument, kdl::KdlError> {
    #[cfg(test)]
    tests::KDL_READS.with(|reads| reads.set(reads.get() + 1));
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if text.len() < PARALLEL_FROM || threads < 2 {
        return KdlDocument::parse(text);
    }
    let mut cuts = vec![0];
    for piece in 1..threads {
        let target = text.len() * piece / threads;
        if let Some(&end) = node_ends.iter().find(|&&end| end >= target)
            && end > *cuts.last().unwrap_or(&0)
            && end < text.len()
        {
            cuts.push(end);
        }
    }
    cuts.push(text.len());
    let pieces: Vec<Option<KdlDocument>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|w| {
                let (start, end) = (w[0], w[1]);
                // The parser recurses per nesting level: the same stack as the main thread,
                // not a spawned thread's 2 MB default.
                std::thread::Builder::new()
                    .stack_size(PARSE_STACK)
                    .spawn_scoped(scope, move || {
                        KdlDocument::parse(&text[start..end]).map(|mut doc| {
                            shift_document(&mut doc, start);
                            doc
                        })
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.ok()?.join().ok()?.ok())
            .collect()
    });
    let mut whole = KdlDocument::new();
    for piece in pieces {
        match piece {
            Some(doc) => whole.nodes_mut().extend(doc),
            None => return KdlDocument::parse(text),
        }
    }
    Ok(whole)
}

/// Moves every span in `doc` by `offset`: a piece's spans count from the piece's start.
fn shift_document(doc: &mut KdlDocument, offset: usize) {
    let shift = |span: miette::SourceSpan| (span.offset() + offset, span.len());
    doc.set_span(shift(doc.span()));
    for node in doc.nodes_mut() {
        node.set_span(shift(node.span()));
        let name = node.name_mut();
        name.set_span(shift(name.span()));
        if let Some(ty) = node.ty_mut() {
            ty.set_span(shift(ty.span()));
        }
        for entry in node.entries_mut() {
            entry.set_span(shift(entry.span()));
            if let Some(name) = entry.name_mut() {
                name.set_span(shift(name.span()));
            }
            if let Some(ty) = entry.ty_mut() {
                ty.set_span(shift(ty.span()));
            }
        }
        if let Some(children) = node.children_mut() {
            shift_document(children, offset);
        }
    }
}

/// kdl reports each unclosed `{` twice: "No closing '}' for child block" at the brace, then
/// "Closing '}' was not found after nodes" from just past it. One brace, one mistake: the
/// second is dropped (the pin is the check test of a missing `}`, should kdl's wording change).
fn syntax_mistakes(diagnostics: Vec<kdl::KdlDiagnostic>) -> Vec<Mistake> {
    let unclosed: Vec<usize> = diagnostics
        .iter()
        .filter(|d| d.message.as_deref() == Some("No closing '}' for child block"))
        .map(|d| d.span.offset() + d.span.len())
        .collect();
    diagnostics
        .into_iter()
        .filter(|d| {
            d.message.as_deref() != Some("Closing '}' was not found after nodes")
                || !unclosed.contains(&d.span.offset())
        })
        .map(syntax_mistake)
        .collect()
}

/// A KDL parser diagnostic, re-wrapped: kdl's own carries an anonymous source, so it would
/// render without the file's name.
fn syntax_mistake(d: kdl::KdlDiagnostic) -> Mistake {
    Mistake::Syntax {
        message: d.message.unwrap_or_else(|| "invalid KDL".into()),
        label: d.label.unwrap_or_else(|| "here".into()),
        span: d.span,
        help: d.help,
    }
}

/// The path as the user should see it: relative to the current directory when it lies below
/// it, else as given.
pub fn display_name(path: &Path) -> String {
    if path == Path::new(STDIN) {
        return "<stdin>".to_owned();
    }
    if path.is_absolute()
        && let Ok(cwd) = std::env::current_dir()
        && let Ok(relative) = path.strip_prefix(&cwd)
    {
        return relative.display().to_string();
    }
    path.display().to_string()
}

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            let distance = if c.eq_ignore_ascii_case(name) {
                0
            } else {
                strsim::damerau_levenshtein(name, c)
            };
            (distance, c)
        })
        .filter(|&(distance, _)| distance <= limit)
        .min()
        .map(|(_, c)| c)
}
