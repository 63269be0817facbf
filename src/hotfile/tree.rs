//! The document as `syntax` and `spans` read it: nodes, their entries and blocks, with spans,
//! in one flat table (no allocation per node). Built by the quick reader from the text
//! (`quick.rs`) or from kdl's document (`from_kdl`), to the same table.

use std::borrow::Cow;
use std::ops::Range;

use kdl::{KdlDocument, KdlEntry, KdlValue};
use miette::SourceSpan;

/// Every node, depth first; the top-level ones are the siblings from index 0.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Tree<'t> {
    nodes: Vec<Node<'t>>,
    entries: Vec<Entry<'t>>,
}

#[derive(Debug, PartialEq)]
struct Node<'t> {
    name: &'t str,
    name_span: SourceSpan,
    entries: Range<usize>,
    /// The `{ … }` block, when the node has one. Only a mistake (`UnexpectedBlock`) shows its
    /// span, and every mistake is reported from kdl's reading, so the quick reader's span
    /// (the braces) need not be kdl's (its first to its last child).
    block: Option<SourceSpan>,
    /// Index just past this node's children, its next sibling's.
    end: usize,
}

/// An argument or a property.
#[derive(Debug, PartialEq)]
pub(super) struct Entry<'t> {
    /// A property's key and its span.
    pub key: Option<(&'t str, SourceSpan)>,
    pub value: Value<'t>,
    /// The whole entry (a property's key too).
    pub span: SourceSpan,
    /// The value alone.
    pub value_span: SourceSpan,
}

#[derive(Debug, PartialEq)]
pub(super) enum Value<'t> {
    String(&'t str),
    /// Anything else: what it is ("a number") and how it is written.
    Other(&'static str, Cow<'t, str>),
}

/// One node of a [`Tree`].
#[derive(Clone, Copy)]
pub(super) struct NodeRef<'a, 't> {
    tree: &'a Tree<'t>,
    index: usize,
}

impl<'a, 't> NodeRef<'a, 't> {
    fn node(&self) -> &'a Node<'t> {
        &self.tree.nodes[self.index]
    }

    pub(super) fn name(&self) -> &'t str {
        self.node().name
    }

    pub(super) fn name_span(&self) -> SourceSpan {
        self.node().name_span
    }

    pub(super) fn entries(&self) -> &'a [Entry<'t>] {
        &self.tree.entries[self.node().entries.clone()]
    }

    /// The span of its `{ … }` block, if it has one.
    pub(super) fn block(&self) -> Option<SourceSpan> {
        self.node().block
    }

    pub(super) fn children(&self) -> Siblings<'a, 't> {
        Siblings {
            tree: self.tree,
            next: self.index + 1,
            end: self.node().end,
        }
    }
}

/// The nodes of one block (or of the top level), in order.
pub(super) struct Siblings<'a, 't> {
    tree: &'a Tree<'t>,
    next: usize,
    end: usize,
}

impl<'a, 't> Iterator for Siblings<'a, 't> {
    type Item = NodeRef<'a, 't>;

    fn next(&mut self) -> Option<NodeRef<'a, 't>> {
        if self.next >= self.end {
            return None;
        }
        let node = NodeRef {
            tree: self.tree,
            index: self.next,
        };
        self.next = self.tree.nodes[self.next].end;
        Some(node)
    }
}

impl<'t> Tree<'t> {
    pub(super) fn top(&self) -> Siblings<'_, 't> {
        Siblings {
            tree: self,
            next: 0,
            end: self.nodes.len(),
        }
    }

    pub(super) fn with_capacity(nodes: usize, entries: usize) -> Tree<'t> {
        Tree {
            nodes: Vec::with_capacity(nodes),
            entries: Vec::with_capacity(entries),
        }
    }

    /// Starts a node; its entries are those pushed until [`Tree::close`].
    pub(super) fn open(&mut self, name: &'t str, name_span: SourceSpan) -> usize {
        let at = self.entries.len();
        self.nodes.push(Node {
            name,
            name_span,
            entries: at..at,
            block: None,
            end: 0,
        });
        self.nodes.len() - 1
    }

    pub(super) fn entry(&mut self, node: usize, entry: Entry<'t>) {
        self.entries.push(entry);
        self.nodes[node].entries.end = self.entries.len();
    }

    /// Ends node `node` after its children (pushed since it was opened).
    pub(super) fn close(&mut self, node: usize, block: Option<SourceSpan>) {
        let end = self.nodes.len();
        let node = &mut self.nodes[node];
        node.block = block;
        node.end = end;
    }
}

#[cfg(test)]
impl Tree<'_> {
    /// The tree with every block's span forgotten, its presence kept (see `Node::block`).
    pub(super) fn blocks_unspanned(mut self) -> Self {
        for node in &mut self.nodes {
            node.block = node.block.map(|_| (0, 0).into());
        }
        self
    }
}

/// The tree of kdl's document: how a Hotfile the quick reader leaves is read.
pub(super) fn from_kdl(doc: &KdlDocument) -> Tree<'_> {
    fn add<'t>(tree: &mut Tree<'t>, doc: &'t KdlDocument) {
        for node in doc.nodes() {
            let at = tree.open(node.name().value(), node.name().span());
            for entry in node.entries() {
                tree.entry(at, self::entry(entry));
            }
            if let Some(children) = node.children() {
                add(tree, children);
            }
            tree.close(at, node.children().map(KdlDocument::span));
        }
    }
    let mut tree = Tree::default();
    add(&mut tree, doc);
    tree
}

fn entry(entry: &KdlEntry) -> Entry<'_> {
    let value = match entry.value() {
        KdlValue::String(s) => Value::String(s),
        other => {
            let found = match other {
                KdlValue::Bool(_) => "a boolean",
                KdlValue::Null => "#null",
                _ => "a number",
            };
            let repr = match entry.format() {
                Some(format) => Cow::Borrowed(format.value_repr.as_str()),
                None => Cow::Owned(other.to_string()),
            };
            Value::Other(found, repr)
        }
    };
    Entry {
        key: entry.name().map(|key| (key.value(), key.span())),
        value,
        span: entry.span(),
        value_span: value_span(entry),
    }
}

/// The span of an entry's value alone (for a property, after the `=`).
fn value_span(entry: &KdlEntry) -> SourceSpan {
    let span = entry.span();
    match (entry.name(), entry.format()) {
        (Some(_), Some(format)) => {
            let len = format.value_repr.len().min(span.len());
            (span.offset() + span.len() - len, len).into()
        }
        _ => span,
    }
}
