//! `hot check`'s warnings: a sound Hotfile that probably does not do what its author meant.
//!
//! Each warning is a miette diagnostic of severity warning, pointing into the Hotfile like a
//! mistake does, but it never changes the exit status: the file is valid, and only its author
//! knows whether, say, a glob that matches nothing yet is fine. The checks:
//!
//! - a `watch` glob that matches no file (and, when the node has a `dir` under which the glob
//!   would match, saying that globs are relative to the Hotfile);
//! - a `run` program that is neither on PATH nor a file relative to `dir`, and is not a binary
//!   cargo would build into its target directory (`./target/debug/app` when no package
//!   builds `app`), as `cargo metadata` tells (the crate's `cargo` module; run once per
//!   directory, and only for a missing path inside a cargo project);
//! - a node with neither `watch` nor `after`, which runs once and never again.
//!
//! The model keeps no spans: the loader's span table ([`hotfile::Spans`]) says where each part
//! is written. A walk of the tree (of the part of it a `watch` glob can reach) is the cost, and
//! only `hot check` pays it.

mod program;

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use miette::{Diagnostic, LabeledSpan, NamedSource, Severity, SourceSpan};
use serde_json::json;

use crate::hotfile;
use crate::model::{Kind, Node, Project, Text};

/// A label's text, span and whether it is the primary one.
type Label = (Cow<'static, str>, SourceSpan, bool);

/// One warning about a sound Hotfile.
#[derive(Debug)]
pub(crate) struct Warning<'p> {
    code: &'static str,
    message: Message<'p>,
    /// Mostly one of a few fixed texts: borrowed, not copied into each of 1,000 warnings.
    help: Option<Cow<'static, str>>,
    /// Its labels, at most two (a glob and its node's `dir`): held in place, not a `Vec`
    /// allocated for each of 1,000 warnings; made miette labels only when shown (most
    /// warnings are only counted).
    labels: [Option<Label>; 2],
    /// Shared: a `NamedSource` per warning copied the file's name into each.
    source: Arc<NamedSource<hotfile::Snippets>>,
    text: Arc<String>,
}

/// Each warning as one JSON object: code, message, help, file, line and column (1-based).
/// The warnings come in file order, so one walk through the text places them all (placing
/// each from the start of the text was quadratic: 1,000 warnings on a 500-node Hotfile read
/// 75 MB).
pub(crate) fn to_json(warnings: &[Warning<'_>]) -> Vec<serde_json::Value> {
    let mut cursor = Cursor::default();
    warnings.iter().map(|w| w.to_json(&mut cursor)).collect()
}

/// How far [`to_json`] has read: the line (1-based) holding byte `at`, and where it starts.
struct Cursor {
    at: usize,
    line: usize,
    line_start: usize,
}

impl Default for Cursor {
    fn default() -> Cursor {
        Cursor {
            at: 0,
            line: 1,
            line_start: 0,
        }
    }
}

impl Cursor {
    /// [`line_column`] of `offset`, reading on from the last offset asked.
    fn place(&mut self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        if offset < self.at || !text.is_char_boundary(offset) {
            return line_column(text, offset);
        }
        let between = &text[self.at..offset];
        self.line += between.bytes().filter(|&b| b == b'\n').count();
        if let Some(newline) = between.rfind('\n') {
            self.line_start = self.at + newline + 1;
        }
        self.at = offset;
        (self.line, text[self.line_start..offset].chars().count() + 1)
    }
}

/// A warning's message, written when shown: a `glob_matches_nothing` one for each of 1,000
/// unmatched globs was a `format!` each, for the 20 that `hot check` shows.
#[derive(Debug)]
enum Message<'p> {
    Text(String),
    /// "`task `NAME`: `GLOB` matches no file".
    Unmatched {
        node: &'p Node,
        glob: &'p str,
    },
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Text(text) => f.write_str(text),
            Message::Unmatched { node, glob } => write!(
                f,
                "{} `{}`: `{glob}` matches no file",
                node.kind.as_str(),
                node.name
            ),
        }
    }
}

impl Warning<'_> {
    /// Where its first label starts: warnings are listed in that order.
    fn offset(&self) -> usize {
        self.labels[0]
            .as_ref()
            .map_or(0, |(_, span, _)| span.offset())
    }

    fn to_json(&self, cursor: &mut Cursor) -> serde_json::Value {
        let (line, column) = cursor.place(&self.text, self.offset());
        json!({
            "code": self.code,
            "severity": "warning",
            "message": self.message.to_string(),
            "help": self.help,
            "file": self.source.name(),
            "line": line,
            "column": column,
        })
    }
}

impl fmt::Display for Warning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.message.fmt(f)
    }
}

impl std::error::Error for Warning<'_> {}

impl Diagnostic for Warning<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<Severity> {
        Some(Severity::Warning)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().flatten().map(
            |(text, span, primary)| {
                let text = Some(text.clone().into_owned());
                if *primary {
                    LabeledSpan::new_primary_with_span(text, *span)
                } else {
                    LabeledSpan::new_with_span(text, *span)
                }
            },
        )))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&*self.source)
    }
}

/// Every warning for `project`, in file order; `spans` says where its parts are written (the
/// loader's table, [`hotfile::load_spanned`]).
pub(crate) fn lint<'p>(project: &'p Project, spans: &hotfile::Spans) -> Vec<Warning<'p>> {
    let text = spans.text().clone();
    let source = Arc::new(spans.source());
    let spans = (0..project.nodes.len()).map(|i| spans.node(i));
    let warn = |code,
                message: Message<'p>,
                help: Option<Cow<'static, str>>,
                labels: [Option<Label>; 2]| Warning {
        code,
        message,
        help,
        labels,
        source: source.clone(),
        text: text.clone(),
    };
    let mut warnings = Vec::new();
    let (files, specials) = tree(&project.root, reachable(project));
    let mut cargo = program::Cargo::default();
    let mut programs = program::Programs::default();
    let matched = Matched::of(&project.nodes, &files);
    let mut missing = foldhash::HashMap::default();
    for (node, spans) in project.nodes.iter().zip(spans) {
        let mut matching = specials.iter().filter(|(p, _)| node.inputs.matches(p));
        if let Some((path, kind)) = matching.next() {
            let more = match matching.count() {
                0 => String::new(),
                1 => " (and 1 more file that is not a regular one)".to_owned(),
                n => format!(" (and {n} more files that are not regular ones)"),
            };
            // The first `watch` glob that matches it carries the label.
            let index = globset(node.inputs.watch.iter().map(Text::to_string))
                .and_then(|set| set.matches(path).first().copied())
                .unwrap_or(0);
            let label = spans
                .watch
                .get(index)
                .map(|span| (format!("matches {kind}").into(), *span, true));
            // A file name may hold a newline or an escape sequence: shown escaped.
            let path = crate::report::printable(&path.to_string_lossy()).into_owned();
            warnings.push(warn(
                "hot::not_a_regular_file",
                Message::Text(format!(
                    "{} `{}`: `{path}` is {kind}{more}; hot never opens it, so only its \
                     appearing or going reruns this node, never what passes through it",
                    node.kind.as_str(),
                    node.name
                )),
                Some(
                    format!(
                        "fine as it is; to have it make no change at all, add `ignore \"{path}\"`"
                    )
                    .into(),
                ),
                [label, None],
            ));
        }
        for (index, glob) in matched.unmatched(node) {
            let span = spans.watch.get(index).copied().unwrap_or((0, 0).into());
            let mut labels = [Some((Cow::Borrowed("matches no file"), span, true)), None];
            let mut help = Some(Cow::Borrowed(
                "globs are relative to the Hotfile's directory, and .gitignored files are \
                 never watched; check the spelling, or ignore this if the files do not exist yet",
            ));
            if let Some((dir, count)) = under_dir(node, &project.root, glob, &files) {
                if let Some(dir_span) = spans.dir {
                    labels[1] = Some((
                        format!(
                            "relative to this `dir` it would match {count} file{}",
                            if count == 1 { "" } else { "s" }
                        )
                        .into(),
                        dir_span,
                        false,
                    ));
                }
                let glob = glob.strip_prefix("./").unwrap_or(glob);
                help = Some(Cow::Owned(format!(
                    "globs are relative to the Hotfile, not to `dir`: write \"{dir}/{glob}\""
                )));
            }
            warnings.push(warn(
                "hot::glob_matches_nothing",
                Message::Unmatched { node, glob },
                help,
                labels,
            ));
        }
        // The answer depends on the command, `dir` and PATH alone: 500 nodes running a few
        // commands split each shell line a few times, not 500.
        let missing = missing
            .entry((
                &node.run,
                // By bytes: a `Path` hashes its components one by one.
                node.dir.as_os_str(),
                crate::program::path_in(&node.env),
            ))
            .or_insert_with(|| program::missing(node, &mut cargo, &mut programs))
            .clone();
        if let Some((message, help)) = missing {
            let label = spans
                .run
                .map(|span| (Cow::Borrowed("not found"), span, true));
            warnings.push(warn(
                "hot::program_not_found",
                Message::Text(format!("{} `{}`: {message}", node.kind.as_str(), node.name)),
                Some(help.into()),
                [label, None],
            ));
        }
        if node.inputs.watch.is_empty() && node.after.is_empty() {
            let label = spans
                .name
                .map(|span| (Cow::Borrowed("no `watch` and no `after`"), span, true));
            let (verb, fine) = match node.kind {
                Kind::Task => ("runs", "a one-off setup step"),
                Kind::Service => ("starts", "a database or another server you do not edit"),
            };
            warnings.push(warn(
                "hot::never_reruns",
                Message::Text(format!(
                    "{} `{}` {verb} once and never again",
                    node.kind.as_str(),
                    node.name
                )),
                Some(
                    format!(
                        "add `watch \"GLOB\"` for the files it reads, or `after \"NODE\"` to \
                         rerun it after another node; fine as it is for {fine}"
                    )
                    .into(),
                ),
                [label, None],
            ));
        }
    }
    // Mostly in order already (a node's warnings of one kind, in the order written): the
    // merge sort would first allocate a scratch copy of every warning (1,000: ~170 KB).
    if !warnings.is_sorted_by_key(Warning::offset) {
        warnings.sort_by_key(Warning::offset);
    }
    warnings
}

/// The literal start of every `watch` glob, as written and as [`under_dir`] joins it to its
/// node's `dir`: only a path that starts with one can match, so nothing else needs walking.
fn reachable(project: &Project) -> Vec<String> {
    // 1,000 globs repeat a few dozen texts: each distinct one is looked at once (finding a
    // literal start in all of them cost as much as the global gitignore that this saves).
    let mut starts: foldhash::HashSet<Cow<'_, str>> = foldhash::HashSet::default();
    let mut seen: foldhash::HashSet<&str> = foldhash::HashSet::default();
    for node in &project.nodes {
        // Most nodes run in the root: the bytes compared before the path's components.
        let dir = (node.dir.as_os_str() != project.root.as_os_str())
            .then(|| node.dir.strip_prefix(&project.root).ok())
            .flatten()
            .and_then(Path::to_str)
            .map(|dir| dir.trim_end_matches('/'))
            .filter(|dir| !dir.is_empty());
        for glob in &node.inputs.watch {
            if dir.is_none() && !seen.insert(glob) {
                continue;
            }
            let glob = glob.strip_prefix("./").unwrap_or(glob);
            starts.insert(Cow::Borrowed(literal_start(glob)));
            if let Some(dir) = dir {
                starts.insert(Cow::Owned(
                    literal_start(&format!("{dir}/{glob}")).to_owned(),
                ));
            }
        }
    }
    starts.into_iter().map(Cow::into_owned).collect()
}

/// A glob's text up to its first special character: what every path it matches starts with.
fn literal_start(glob: &str) -> &str {
    glob.find(['*', '?', '[', '{', '\\'])
        .map_or(glob, |at| &glob[..at])
}

/// Every file and directory below `root` that the watcher would see and that could start one
/// of `starts` (a directory on the way to one, or a path starting with one), relative to
/// `root`, and those of them that are named pipes, sockets or devices (links followed), with
/// what each is. Entries judged by `starts` are not judged by the ignore rules.
pub(crate) fn tree(
    root: &Path,
    starts: Vec<String>,
) -> (Vec<PathBuf>, Vec<(PathBuf, &'static str)>) {
    let mut specials = Vec::new();
    let base = root.to_path_buf();
    let keep = move |entry: &ignore::DirEntry| {
        let Ok(rel) = entry.path().strip_prefix(&base) else {
            return true;
        };
        let rel = rel.as_os_str().as_encoded_bytes();
        rel.is_empty()
            || starts.iter().any(|start| {
                let start = start.as_bytes();
                rel.starts_with(start)
                    || (start.starts_with(rel) && start.get(rel.len()) == Some(&b'/'))
            })
    };
    let files = crate::watch::walker(root, keep)
        .build()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let rel = entry
                .path()
                .strip_prefix(root)
                .ok()
                .filter(|p| !p.as_os_str().is_empty())?
                .to_path_buf();
            let kind = match entry.file_type() {
                Some(t) if t.is_symlink() => std::fs::metadata(entry.path())
                    .ok()
                    .and_then(|m| crate::watch::special_kind(m.file_type())),
                Some(t) => crate::watch::special_kind(t),
                None => None,
            };
            if let Some(kind) = kind {
                specials.push((rel.clone(), kind));
            }
            Some(rel)
        })
        .collect();
    (files, specials)
}

/// A glob compiled as the Hotfile's are (`./` dropped, `*` stays within a directory).
fn globset(globs: impl IntoIterator<Item = String>) -> Option<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        let text = glob.strip_prefix("./").unwrap_or(&glob);
        set.add(
            GlobBuilder::new(text)
                .literal_separator(true)
                .build()
                .ok()?,
        );
    }
    set.build().ok()
}

/// Which `watch` globs, as written, match a file: each distinct glob of the Hotfile compiled
/// once, in one set, and each file matched once against it (500 nodes repeating 80 globs
/// compiled 80, not 1,000).
struct Matched<'a> {
    /// Hashed with foldhash: SipHash of 1,000 globs was a fifth of the lint.
    matched: foldhash::HashMap<&'a str, bool>,
}

impl<'a> Matched<'a> {
    fn of(nodes: &'a [Node], files: &[PathBuf]) -> Matched<'a> {
        let mut matched = foldhash::HashMap::default();
        for glob in nodes.iter().flat_map(|n| &n.inputs.watch) {
            matched.entry(glob.as_str()).or_insert(false);
        }
        // A glob matches only paths that start with its text up to its first special
        // character, so one no file starts that way matches nothing, and is never compiled:
        // globset spends ~70,000 instructions building each into a set.
        let globs: Vec<&str> = matched
            .keys()
            .copied()
            .filter(|glob| {
                let literal = literal_start(glob.strip_prefix("./").unwrap_or(glob));
                files.iter().any(|f| {
                    f.as_os_str()
                        .as_encoded_bytes()
                        .starts_with(literal.as_bytes())
                })
            })
            .collect();
        if globs.is_empty() {
            return Matched { matched };
        }
        // Every glob was compiled when the Hotfile was read; should the set fail anyway, no
        // glob is said to match nothing.
        let Some(set) = globset(globs.iter().map(|g| (*g).to_owned())) else {
            return Matched {
                matched: matched.into_keys().map(|g| (g, true)).collect(),
            };
        };
        let mut left = globs.len();
        for file in files {
            for index in set.matches(file) {
                if let Some(seen) = matched.get_mut(globs[index])
                    && !*seen
                {
                    *seen = true;
                    left -= 1;
                }
            }
            if left == 0 {
                break;
            }
        }
        Matched { matched }
    }

    /// The `watch` globs of `node` (index, text) that match no file.
    fn unmatched<'n>(&self, node: &'n Node) -> impl Iterator<Item = (usize, &'n str)> {
        node.inputs
            .watch
            .iter()
            .enumerate()
            .filter(|(_, glob)| self.matched.get(glob.as_str()) == Some(&false))
            .map(|(index, glob)| (index, glob.as_str()))
    }
}

/// When `node` has a `dir` below the root and `glob`, taken relative to that `dir`, matches
/// files: the `dir` (relative to the root) and how many it matches.
fn under_dir(node: &Node, root: &Path, glob: &str, files: &[PathBuf]) -> Option<(String, usize)> {
    // Most nodes run in the root: their bytes compared, not both paths walked component by
    // component (1,000 unmatched globs on a 500-node Hotfile: 1.3 M instructions).
    if node.dir.as_os_str() == root.as_os_str() {
        return None;
    }
    let dir = node.dir.strip_prefix(root).ok()?;
    if dir.as_os_str().is_empty() {
        return None;
    }
    let dir = dir.to_str()?.trim_end_matches('/').to_owned();
    let glob = glob.strip_prefix("./").unwrap_or(glob);
    let set = globset([format!("{dir}/{glob}")])?;
    let count = files.iter().filter(|f| set.is_match(f)).count();
    (count > 0).then_some((dir, count))
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |at| at + 1);
    (line, before[start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_holds_what_a_literal_start_reaches_and_nothing_else() {
        let root = tempfile::tempdir().expect("a temp dir");
        for file in [
            "crate0/src/a.rs",
            "crate0/srcs/b.rs",
            "crate01/src/c.rs",
            "docs/x.md",
            "Hotfile",
        ] {
            let path = root.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let listed = |starts: &[&str]| {
            let (mut files, _) = tree(
                root.path(),
                starts.iter().map(|s| (*s).to_owned()).collect(),
            );
            files.sort();
            files
                .iter()
                .map(|f| f.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        // The directories on the way to a start, and everything below it; `srcs` starts with
        // `src`, so a glob `crate0/src*/**` could match it.
        assert_eq!(
            listed(&["crate0/src"]),
            [
                "crate0",
                "crate0/src",
                "crate0/src/a.rs",
                "crate0/srcs",
                "crate0/srcs/b.rs"
            ]
        );
        assert_eq!(
            listed(&["crate0/src/"]),
            ["crate0", "crate0/src", "crate0/src/a.rs"]
        );
        assert_eq!(
            listed(&["Hotfile", "docs/"]),
            ["Hotfile", "docs", "docs/x.md"]
        );
        // A glob starting with a wildcard reaches everything.
        assert_eq!(listed(&[""]).len(), 11);
        assert!(listed(&["nothing/"]).is_empty());
    }

    #[test]
    fn lines_and_columns_count_characters() {
        let text = "task \"é\" {\n    watch \"x\"\n}";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, text.find("\"x").unwrap()), (2, 11));
        assert_eq!(line_column(text, text.len() + 5), (3, 2));
    }

    #[test]
    fn the_cursor_places_offsets_as_line_column_does() {
        let text = "task \"é\" {\n    watch \"x\"\n\n  é run \"y\"\n}";
        let mut cursor = Cursor::default();
        for offset in [
            0,
            3,
            8,
            12,
            12,
            20,
            27,
            28,
            33,
            2,
            text.len(),
            text.len() + 3,
        ] {
            if text.is_char_boundary(offset.min(text.len())) {
                assert_eq!(
                    cursor.place(text, offset),
                    line_column(text, offset),
                    "{offset}"
                );
            }
        }
    }
}
