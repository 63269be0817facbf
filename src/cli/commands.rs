//! The one-shot commands that answer from the Hotfile alone: `check`, `graph`, `why` and
//! `ci --dry-run`. Results go to stdout (text, or one JSON document with `--json`);
//! diagnostics and remarks go to stderr.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use serde_json::json;

use super::args::GraphFormat;
use crate::exit;
use crate::graph::{self, Graph};
use crate::hotfile;
use crate::lint;
use crate::model::{Kind, NodeId, Project, Text};
use crate::report::Reporter;
use crate::watch::Seen;

/// `hot check`: the verdict, and the warnings of [`lint`] (which never change the status).
pub(super) fn check(project: &Project, spans: &hotfile::Spans, reporter: &Reporter) -> u8 {
    // Left to the exit, like the project (`cli::run`): freeing 1,000 warnings one by one was
    // 0.4 M instructions.
    let warnings = std::mem::ManuallyDrop::new(lint::lint(project, spans));
    let tasks = project
        .nodes
        .iter()
        .filter(|n| n.kind == Kind::Task)
        .count();
    let services = project.nodes.len() - tasks;
    let name = hotfile::display_name(&project.hotfile);
    if reporter.is_json() {
        let document = json!({
            "hotfile": name,
            "sound": true,
            "tasks": tasks,
            "services": services,
            "warnings": lint::to_json(&warnings),
        });
        return print(&format!("{document}\n"));
    }
    // Capped like mistakes: rendering one costs its lines of the file (1,000 warnings took
    // ~0.2 s to render and filled 30,000 lines); `--json` lists them all.
    for warning in warnings.iter().take(hotfile::SHOWN) {
        reporter.diagnostic(warning);
    }
    if let Some(more) = warnings
        .len()
        .checked_sub(hotfile::SHOWN)
        .filter(|&n| n > 0)
    {
        reporter.note(&format!(
            "... and {more} more warning{} (`hot check --json` lists them all)",
            plural(more)
        ));
    }
    let warned = match warnings.len() {
        0 => String::new(),
        1 => "; 1 warning".to_owned(),
        n => format!("; {n} warnings"),
    };
    reporter.note(&format!(
        "{name} is sound: {tasks} task{}, {services} service{}{warned}",
        plural(tasks),
        plural(services)
    ));
    exit::OK
}

/// `hot check --json` for a Hotfile with mistakes: the same document, `sound` false, and each
/// mistake with its code, message, help, line and column.
pub(super) fn unsound(diagnostics: &hotfile::Diagnostics) -> String {
    let source = diagnostics.source_code();
    let errors: Vec<_> = diagnostics
        .iter()
        .map(|mistake| {
            let span = mistake.labels().and_then(|mut labels| labels.next());
            let place = span
                .zip(source)
                .and_then(|(span, source)| source.read_span(span.inner(), 0, 0).ok())
                .map(|contents| (contents.line() + 1, contents.column() + 1));
            json!({
                "code": mistake.code().map(|c| c.to_string()),
                "severity": "error",
                "message": mistake.to_string(),
                "help": mistake.help().map(|h| h.to_string()),
                "file": diagnostics.file_name(),
                "line": place.map(|p| p.0),
                "column": place.map(|p| p.1),
            })
        })
        .collect();
    format!(
        "{}\n",
        json!({"hotfile": diagnostics.file_name(), "sound": false, "errors": errors})
    )
}

/// `hot graph`.
pub(super) fn graph(project: &Project, format: GraphFormat) -> u8 {
    let format = match format {
        GraphFormat::Text => graph::Format::Text,
        GraphFormat::Dot => graph::Format::Dot,
        GraphFormat::Mermaid => graph::Format::Mermaid,
        GraphFormat::Json => graph::Format::Json,
    };
    print(&graph::render(project, &Graph::new(project), format))
}

/// What a change to one path reruns.
struct Why {
    shown: String,
    outside: bool,
    watched_by: Vec<NodeId>,
    then: Vec<NodeId>,
    /// A link is watched through its target: which, or that it resolves nowhere.
    link: Option<String>,
    /// A named pipe, socket or device: never opened, only its presence counts.
    special: Option<String>,
    /// `.gitignore`, `.ignore` or git's excludes cover it: the watcher never reports it.
    ignored: bool,
}

/// `hot why PATH...`: the nodes a change would rerun, direct matches first.
pub(super) fn why(project: &Project, paths: &[PathBuf], json: bool) -> u8 {
    let graph = Graph::new(project);
    let cwd = std::env::current_dir().unwrap_or_default();
    // The Hotfile is reported whatever the ignore files say, as the watcher does.
    let always = crate::watch::always_reported(&project.root, &project.hotfile)
        .into_iter()
        .collect();
    let answers: Vec<Why> = paths
        .iter()
        .map(|path| {
            let absolute = if path.is_absolute() {
                path.clone()
            } else {
                cwd.join(path)
            };
            let Some(relative) = relative_to(&absolute, &project.root) else {
                return Why {
                    shown: path.display().to_string(),
                    outside: true,
                    watched_by: Vec::new(),
                    then: Vec::new(),
                    link: None,
                    special: None,
                    ignored: false,
                };
            };
            // Asked under the name the watcher reports an edit to it with.
            let link = crate::watch::describe_link(&project.root, &relative);
            let seen = match link.as_ref().map(|l| &l.seen) {
                Some(Seen::As(real)) => Some(real.clone()),
                Some(Seen::Unseen) => None,
                Some(Seen::AsAsked) | None => Some(relative.clone()),
            };
            let ignored = seen
                .as_ref()
                .is_some_and(|seen| crate::watch::ignored_by_rules(&project.root, seen, &always));
            let (watched_by, then) = match &seen {
                Some(seen) if !ignored => {
                    let watched_by: Vec<NodeId> = graph.matching(project, &[seen]).collect();
                    let then = graph
                        .stale(project, &[seen])
                        .into_iter()
                        .filter(|n| !watched_by.contains(n))
                        .collect();
                    (watched_by, then)
                }
                _ => (Vec::new(), Vec::new()),
            };
            Why {
                ignored,
                link: link.map(|l| l.note),
                special: crate::watch::describe_special(&project.root, &relative),
                shown: relative.display().to_string(),
                outside: seen.is_none(),
                watched_by,
                then,
            }
        })
        .collect();
    let names = |ids: &[NodeId]| -> Vec<&str> {
        ids.iter().map(|n| project.node(*n).name.as_str()).collect()
    };
    if json {
        let paths: Vec<_> = answers
            .iter()
            .map(|a| {
                json!({"path": a.shown, "outside": a.outside,
                       "watched_by": names(&a.watched_by), "then": names(&a.then),
                       "link": a.link, "special": a.special, "ignored": a.ignored})
            })
            .collect();
        return print(&format!("{}\n", json!({ "paths": paths })));
    }
    let mut out = String::new();
    for answer in &answers {
        let shown = crate::report::printable(&answer.shown);
        let line = if answer.outside {
            format!(
                "{}: outside the project ({}): nothing reruns",
                shown,
                project.root.display()
            )
        } else if answer.ignored {
            format!(
                "{}: ignored (.gitignore, .ignore or git's excludes): nothing reruns",
                shown
            )
        } else if answer.watched_by.is_empty() {
            format!("{}: no node watches it: nothing reruns", shown)
        } else if answer.then.is_empty() {
            format!(
                "{}: watched by {}",
                shown,
                names(&answer.watched_by).join(", ")
            )
        } else {
            format!(
                "{}: watched by {}; then reruns {}",
                shown,
                names(&answer.watched_by).join(", "),
                names(&answer.then).join(", ")
            )
        };
        out.push_str(&line);
        if let Some(link) = &answer.link {
            out.push_str(&format!("\n  {link}"));
        }
        if let Some(special) = &answer.special {
            out.push_str(&format!("\n  {special}"));
        }
        out.push('\n');
    }
    print(&out)
}

/// Makes `path` relative to `root`, resolving `.` and `..` lexically.
fn relative_to(path: &Path, root: &Path) -> Option<PathBuf> {
    let mut normal = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                normal.pop();
            }
            std::path::Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal.strip_prefix(root).ok().map(Path::to_path_buf)
}

/// `hot ci --dry-run`: the steps, each a set of tasks that may run side by side.
pub(super) fn dry_run(project: &Project, json: bool) -> String {
    let graph = Graph::new(project);
    let steps: Vec<Vec<&crate::model::Node>> = graph
        .levels()
        .iter()
        .map(|level| {
            level
                .iter()
                .map(|n| project.node(*n))
                .filter(|n| n.kind == Kind::Task)
                .collect::<Vec<_>>()
        })
        .filter(|tasks| !tasks.is_empty())
        .collect();
    let dir = |task: &crate::model::Node| project.shown_dir(task);
    let services: Vec<&str> = project
        .nodes
        .iter()
        .filter(|n| n.kind == Kind::Service)
        .map(|n| n.name.as_str())
        .collect();
    if json {
        let steps: Vec<_> = steps
            .iter()
            .map(|tasks| {
                let tasks: Vec<_> = tasks
                    .iter()
                    .map(|t| {
                        json!({"node": t.name, "run": t.run.to_string(), "dir": dir(t), "locks": t.locks})
                    })
                    .collect();
                json!({ "tasks": tasks })
            })
            .collect();
        return format!("{}\n", json!({"steps": steps, "not_run": services}));
    }
    // About 40 bytes a task: sized up front, not grown (and copied) a dozen times.
    let mut out = String::with_capacity(48 * project.nodes.len());
    for (step, tasks) in steps.iter().enumerate() {
        let turns = match (tasks.len(), lock_groups(tasks)) {
            (1, _) => "",
            (n, groups) if groups == n => " (in parallel)",
            (_, 1) => " (one at a time: they share a lock)",
            _ => " (in parallel, but tasks that share a lock take turns)",
        };
        // Written into `out` as they come: a `format!` per line was a sixth of the command.
        let _ = writeln!(out, "step {}{turns}:", step + 1);
        for task in tasks {
            // Pieces pushed, not formatted: `write!` of each line was a third of the output's
            // instructions.
            out.push_str("  ");
            out.push_str(&task.name);
            out.push_str(": ");
            match &task.run {
                crate::model::Command::Shell(line) => out.push_str(line),
                argv => {
                    let _ = write!(out, "{argv}");
                }
            }
            out.push_str("  (in ");
            out.push_str(&dir(task));
            out.push(')');
            if !task.locks.is_empty() {
                let _ = write!(out, "  [lock {}]", task.locks.join(", "));
            }
            out.push('\n');
        }
    }
    if !services.is_empty() {
        let _ = writeln!(out, "not run (services): {}", services.join(", "));
    }
    out
}

/// How many groups of `tasks` may run side by side: tasks that share a lock, directly or
/// through another, take turns (as the engine runs them), so each such chain is one group.
fn lock_groups(tasks: &[&crate::model::Node]) -> usize {
    // A task without a lock is a group of its own; only lock holders are merged (each merge
    // rebuilds the list of groups, so counting the others there was quadratic in the step).
    let unlocked = tasks.iter().filter(|t| t.locks.is_empty()).count();
    let mut groups: Vec<BTreeSet<&str>> = Vec::new();
    for task in tasks.iter().filter(|t| !t.locks.is_empty()) {
        let mine: BTreeSet<&str> = task.locks.iter().map(Text::as_str).collect();
        let (joined, apart): (Vec<_>, Vec<_>) = groups
            .into_iter()
            .partition(|group| !mine.is_empty() && !group.is_disjoint(&mine));
        groups = apart;
        groups.push(joined.into_iter().flatten().chain(mine).collect());
    }
    unlocked + groups.len()
}

/// Writes a command's result to stdout.
pub(super) fn print(text: &str) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => exit::OK,
        // A closed pipe (`hot graph | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(_) => exit::FAILED,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
