//! Where each node's parts are written in the Hotfile: the loader's span table, for the
//! warnings of `hot check` (`lint`). The model keeps no spans (the engine never needs them),
//! so the loader hands them beside the project ([`super::Loaded`]) when asked.

use std::collections::HashMap;
use std::sync::Arc;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use miette::{NamedSource, SourceSpan};

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
    pub(super) fn of(
        doc: &KdlDocument,
        project: &Project,
        name: String,
        text: Arc<String>,
    ) -> Spans {
        let mut declarations: HashMap<(&str, &str), &KdlNode> = HashMap::new();
        for declaration in doc.nodes() {
            if let Some(node) = first_string(declaration) {
                declarations
                    .entry((declaration.name().value(), node))
                    .or_insert(declaration);
            }
        }
        let nodes = project
            .nodes
            .iter()
            .map(|node| {
                declarations
                    .get(&(node.kind.as_str(), node.name.as_str()))
                    .map(|d| node_spans(d))
                    .unwrap_or_default()
            })
            .collect();
        Spans { name, text, nodes }
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

fn first_string(node: &KdlNode) -> Option<&str> {
    node.entries()
        .iter()
        .find(|e| e.name().is_none())
        .and_then(|e| e.value().as_string())
}

fn node_spans(declaration: &KdlNode) -> NodeSpans {
    let mut spans = NodeSpans {
        name: declaration
            .entries()
            .iter()
            .find(|e| e.name().is_none())
            .map(KdlEntry::span),
        ..NodeSpans::default()
    };
    let children = declaration
        .children()
        .map(KdlDocument::nodes)
        .unwrap_or_default();
    let args = |child: &KdlNode| -> Vec<SourceSpan> {
        child
            .entries()
            .iter()
            .filter(|e| e.name().is_none() && matches!(e.value(), KdlValue::String(_)))
            .map(KdlEntry::span)
            .collect()
    };
    for child in children {
        match child.name().value() {
            "watch" => spans.watch.extend(args(child)),
            "run" => spans.run = spans.run.or_else(|| args(child).first().copied()),
            "dir" => spans.dir = spans.dir.or_else(|| args(child).first().copied()),
            _ => {}
        }
    }
    spans
}
