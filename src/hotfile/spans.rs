//! Where each node's parts are written in the Hotfile: the loader's span table, for the
//! warnings of `hot check` (`lint`). The model keeps no spans (the engine never needs them),
//! so the loader hands them beside the project ([`super::Loaded`]) when asked.

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use miette::{NamedSource, SourceSpan};

use super::Snippets;
use super::tree::{NodeRef, Tree, Value};
use crate::model::Project;

/// The spans of every node, in the project's order, and the text they point into.
#[derive(Debug, Clone)]
pub struct Spans {
    name: String,
    text: Arc<String>,
    nodes: Vec<Entry>,
    /// Every node's `watch` spans, node after node: one list, not a `Vec` per node (500
    /// allocations for a 500-node Hotfile).
    watch: Vec<SourceSpan>,
}

/// Where one node's parts are written.
#[derive(Debug, Default, Clone, Copy)]
pub struct NodeSpans<'s> {
    /// The node's name after its keyword.
    pub name: Option<SourceSpan>,
    /// Each `watch` glob, in order.
    pub watch: &'s [SourceSpan],
    /// The first word of `run`.
    pub run: Option<SourceSpan>,
    pub dir: Option<SourceSpan>,
}

/// A node's row of the table: [`NodeSpans`] with its `watch` spans a range of [`Spans::watch`].
#[derive(Debug, Default, Clone)]
struct Entry {
    name: Option<SourceSpan>,
    watch: std::ops::Range<usize>,
    run: Option<SourceSpan>,
    dir: Option<SourceSpan>,
}

impl Spans {
    /// Reads the spans of `project`'s nodes from the document it was built from. Linear: each
    /// declaration is found by its keyword and name in one map.
    pub(super) fn of(doc: &Tree<'_>, project: &Project, name: String, text: Arc<String>) -> Spans {
        let mut declarations: HashMap<(&str, &str), NodeRef<'_, '_>> =
            HashMap::with_capacity(project.nodes.len());
        for declaration in doc.top() {
            if let Some(node) = first_string(declaration) {
                declarations
                    .entry((declaration.name(), node))
                    .or_insert(declaration);
            }
        }
        let mut watch =
            Vec::with_capacity(project.nodes.iter().map(|n| n.inputs.watch.len()).sum());
        let nodes = project
            .nodes
            .iter()
            .map(|node| {
                declarations
                    .get(&(node.kind.as_str(), node.name.as_str()))
                    .map(|d| node_spans(*d, &mut watch))
                    .unwrap_or_default()
            })
            .collect();
        Spans {
            name,
            text,
            nodes,
            watch,
        }
    }

    /// A table that knows no node's spans.
    pub(super) fn none(name: String, text: Arc<String>) -> Spans {
        Spans {
            name,
            text,
            nodes: Vec::new(),
            watch: Vec::new(),
        }
    }

    /// The spans of the node at `index` in the project (none for a node not found).
    pub fn node(&self, index: usize) -> NodeSpans<'_> {
        self.nodes
            .get(index)
            .map(|entry| NodeSpans {
                name: entry.name,
                watch: &self.watch[entry.watch.clone()],
                run: entry.run,
                dir: entry.dir,
            })
            .unwrap_or_default()
    }

    /// The Hotfile's text, named as diagnostics show it.
    pub fn source(&self) -> NamedSource<Snippets> {
        NamedSource::new(self.name.clone(), Snippets::new(self.text.clone()))
    }

    pub fn text(&self) -> &Arc<String> {
        &self.text
    }
}

fn first_string<'t>(node: NodeRef<'_, 't>) -> Option<&'t str> {
    node.entries()
        .iter()
        .find(|e| e.key.is_none())
        .and_then(|e| match e.value {
            Value::String(s) => Some(s),
            Value::Other(..) => None,
        })
}

/// A declaration's row, its `watch` spans appended to `watch`.
fn node_spans(declaration: NodeRef<'_, '_>, watch: &mut Vec<SourceSpan>) -> Entry {
    let start = watch.len();
    let mut spans = Entry {
        name: declaration
            .entries()
            .iter()
            .find(|e| e.key.is_none())
            .map(|e| e.span.into()),
        ..Entry::default()
    };
    // Read in place: a `Vec` per `run` and `dir` otherwise.
    fn args<'a>(child: NodeRef<'a, '_>) -> impl Iterator<Item = SourceSpan> + 'a {
        child
            .entries()
            .iter()
            .filter(|e| e.key.is_none() && matches!(e.value, Value::String(_)))
            .map(|e| SourceSpan::from(e.span))
    }
    for child in declaration.children() {
        match child.name() {
            "watch" => watch.extend(args(child)),
            "run" => spans.run = spans.run.or_else(|| args(child).next()),
            "dir" => spans.dir = spans.dir.or_else(|| args(child).next()),
            _ => {}
        }
    }
    spans.watch = start..watch.len();
    spans
}
