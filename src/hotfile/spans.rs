//! Where each node's parts are written in the Hotfile: the loader's span table, for the
//! warnings of `hot check` (`lint`). The model keeps no spans (the engine never needs them),
//! so the loader hands them beside the project ([`super::Loaded`]) when asked.

use std::collections::HashMap;
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

use super::tree::{NodeRef, Tree, Value};
use crate::model::Project;

/// The spans of every node, in the project's order, and the text they point into.
#[derive(Debug, Clone)]
pub struct Spans {
    name: String,
    text: Arc<String>,
    nodes: Vec<NodeSpans>,
}

/// Where one node's parts are written.
#[derive(Debug, Default, Clone)]
pub struct NodeSpans {
    /// The node's name after its keyword.
    pub name: Option<SourceSpan>,
    /// Each `watch` glob, in order.
    pub watch: Vec<SourceSpan>,
    /// The first word of `run`.
    pub run: Option<SourceSpan>,
    pub dir: Option<SourceSpan>,
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
        let nodes = project
            .nodes
            .iter()
            .map(|node| {
                declarations
                    .get(&(node.kind.as_str(), node.name.as_str()))
                    .map(|d| node_spans(*d))
                    .unwrap_or_default()
            })
            .collect();
        Spans { name, text, nodes }
    }

    /// A table that knows no node's spans.
    pub(super) fn none(name: String, text: Arc<String>) -> Spans {
        Spans {
            name,
            text,
            nodes: Vec::new(),
        }
    }

    /// The spans of the node at `index` in the project (none for a node not found).
    pub fn node(&self, index: usize) -> NodeSpans {
        self.nodes.get(index).cloned().unwrap_or_default()
    }

    /// The Hotfile's text, named as diagnostics show it.
    pub fn source(&self) -> NamedSource<Arc<String>> {
        NamedSource::new(self.name.clone(), self.text.clone())
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

fn node_spans(declaration: NodeRef<'_, '_>) -> NodeSpans {
    let mut spans = NodeSpans {
        name: declaration
            .entries()
            .iter()
            .find(|e| e.key.is_none())
            .map(|e| e.span.into()),
        ..NodeSpans::default()
    };
    let args = |child: NodeRef<'_, '_>| -> Vec<SourceSpan> {
        child
            .entries()
            .iter()
            .filter(|e| e.key.is_none() && matches!(e.value, Value::String(_)))
            .map(|e| e.span.into())
            .collect()
    };
    for child in declaration.children() {
        match child.name() {
            "watch" => spans.watch.extend(args(child)),
            "run" => spans.run = spans.run.or_else(|| args(child).first().copied()),
            "dir" => spans.dir = spans.dir.or_else(|| args(child).first().copied()),
            _ => {}
        }
    }
    spans
}
