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
    name_span: Span,
    /// Indices into `Tree::entries` (a Hotfile is at most `MAX_BYTES`, so `u32` holds them).
    entries: Range<u32>,
    /// The `{ … }` block, when the node has one. Only a mistake (`UnexpectedBlock`) shows its
    /// span, and that mistake is reported from kdl's reading (`super::parse_in`), so the quick
    /// reader's span (the braces) need not be kdl's (its first to its last child).
    block: Option<Span>,
    /// Index just past this node's children, its next sibling's.
    end: u32,
}

/// A span of the text, half the size of a `SourceSpan`: the table of a 500-node Hotfile is
/// touched page by page as it fills, and each fresh page is a page fault.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Span {
    offset: u32,
    len: u32,
}

impl Span {
    /// `start..end` of the text (a Hotfile is at most `MAX_BYTES`).
    pub(super) fn between(start: usize, end: usize) -> Span {
        Span {
            offset: index(start),
            len: index(end - start),
        }
    }
}

impl From<SourceSpan> for Span {
    /// Spans of a Hotfile, at most `MAX_BYTES` long (`Span::MAX` past anything larger).
    fn from(span: SourceSpan) -> Span {
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span {
            offset: narrow(span.offset()),
            len: narrow(span.len()),
        }
    }
}

impl From<Span> for SourceSpan {
    fn from(span: Span) -> SourceSpan {
        (span.offset as usize, span.len as usize).into()
    }
}

/// An argument or a property.
#[derive(Debug, PartialEq)]
pub(super) struct Entry<'t> {
    /// A property's key and its span.
    pub key: Option<(&'t str, Span)>,
    pub value: Value<'t>,
    /// The whole entry (a property's key too).
    pub span: Span,
    /// The value alone.
    pub value_span: Span,
}

#[derive(Debug, PartialEq)]
pub(super) enum Value<'t> {
    String(&'t str),
    /// Anything else: what it is ("a number") and how it is written. Boxed: only kdl's
    /// reading makes one, and the table's every entry is as large as its largest value.
    Other(Box<(&'static str, Cow<'t, str>)>),
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
        self.node().name_span.into()
    }

    pub(super) fn entries(&self) -> &'a [Entry<'t>] {
        let range = &self.node().entries;
        &self.tree.entries[range.start as usize..range.end as usize]
    }

    /// The span of its `{ … }` block, if it has one.
    pub(super) fn block(&self) -> Option<SourceSpan> {
        self.node().block.map(SourceSpan::from)
    }

    pub(super) fn children(&self) -> Siblings<'a, 't> {
        Siblings {
            tree: self.tree,
            next: self.index + 1,
            end: self.node().end as usize,
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
        self.next = self.tree.nodes[self.next].end as usize;
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

    /// How many arguments and properties the document holds.
    pub(super) fn entry_count(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn with_capacity(nodes: usize, entries: usize) -> Tree<'t> {
        Tree {
            nodes: Vec::with_capacity(nodes),
            entries: Vec::with_capacity(entries),
        }
    }

    /// Starts a node; its entries are those pushed until [`Tree::close`].
    pub(super) fn open(&mut self, name: &'t str, name_span: impl Into<Span>) -> usize {
        let at = index(self.entries.len());
        self.nodes.push(Node {
            name,
            name_span: name_span.into(),
            entries: at..at,
            block: None,
            end: 0,
        });
        self.nodes.len() - 1
    }

    pub(super) fn entry(&mut self, node: usize, entry: Entry<'t>) {
        self.entries.push(entry);
        self.nodes[node].entries.end = index(self.entries.len());
    }

    /// Ends node `node` after its children (pushed since it was opened).
    pub(super) fn close(&mut self, node: usize, block: Option<impl Into<Span>>) {
        let end = index(self.nodes.len());
        let node = &mut self.nodes[node];
        node.block = block.map(Into::into);
        node.end = end;
    }
}

/// A table index: a Hotfile of at most `MAX_BYTES` has fewer nodes and entries than bytes.
fn index(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

#[cfg(test)]
impl Tree<'_> {
    /// The tree with every block's span forgotten, its presence kept (see `Node::block`).
    pub(super) fn blocks_unspanned(mut self) -> Self {
        for node in &mut self.nodes {
            node.block = node.block.map(|_| Span { offset: 0, len: 0 });
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
            Value::Other(Box::new((found, repr)))
        }
    };
    Entry {
        key: entry.name().map(|key| (key.value(), key.span().into())),
        value,
        span: entry.span().into(),
        value_span: value_span(entry).into(),
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
