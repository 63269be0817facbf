//! The quick reading of a sound Hotfile: just-kdl's streaming parser (about 20 times fewer
//! instructions than kdl's, which keeps every byte of formatting for editing), its events built
//! into the same [`KdlDocument`] kdl would give, with the same spans.
//!
//! It only ever answers for a Hotfile that needs nothing kdl alone knows: any syntax error, any
//! type annotation, any value other than a string, and any string whose value is not its text
//! as written (escapes, raw and multi-line strings) give `None`, and the caller reads the file
//! with kdl as before. A Hotfile with a mistake is read again with kdl too (`super::parse_in`),
//! so every diagnostic, kdl's syntax errors above all, is as kdl reports it.

use std::ops::Range;

use just_kdl::dom::{Event, Value};
use just_kdl::reader::Reader;
use kdl::{KdlDocument, KdlEntry, KdlEntryFormat, KdlIdentifier, KdlNode};
use miette::SourceSpan;

/// The document of `text`, or `None` when kdl must read it (see the module's doc).
pub(super) fn parse(text: &str) -> Option<KdlDocument> {
    // Each open node, and the start of its children block once it has one.
    let mut open: Vec<(KdlNode, Option<(KdlDocument, usize)>)> = Vec::new();
    let mut top = KdlDocument::new();
    for event in Reader::new(text.as_bytes()) {
        let (event, range) = event.ok()?;
        match event {
            Event::Node { r#type: None, name } => {
                let mut ident = KdlIdentifier::from(as_written(text, range.clone(), &name)?);
                ident.set_span(span(range.start, range.end));
                let mut node = KdlNode::new(ident);
                node.set_span(span(range.start, range.end));
                open.push((node, None));
            }
            Event::Entry(entry) if entry.r#type.is_none() => {
                let Value::String(value) = &entry.value else {
                    return None;
                };
                let (node, None) = open.last_mut()? else {
                    return None;
                };
                node.entries_mut()
                    .push(self::entry(text, range, entry.name.as_deref(), value)?);
            }
            Event::Children => {
                let (_, children) = open.last_mut()?;
                *children = Some((KdlDocument::new(), range.end));
            }
            Event::End => {
                let (mut node, children) = open.pop()?;
                // kdl's node ends with its block's `}`, or before its `;` or newline.
                let end = if children.is_some() {
                    range.end
                } else {
                    range.start
                };
                node.set_span(span(node.span().offset(), end));
                if let Some((mut doc, from)) = children {
                    // The block's inside, as kdl spans it only matters in mistakes, which kdl
                    // reports itself: the text between the braces.
                    doc.set_span(span(from, range.start.max(from)));
                    node.set_children(doc);
                }
                match open.last_mut() {
                    Some((_, Some((doc, _)))) => doc.nodes_mut().push(node),
                    Some((_, None)) => return None,
                    None => top.nodes_mut().push(node),
                }
            }
            _ => return None,
        }
    }
    if !open.is_empty() {
        return None;
    }
    top.set_span(span(0, text.len()));
    Some(top)
}

/// An entry as kdl gives it: the whole entry's span, the key's span and the value's text.
fn entry(text: &str, range: Range<usize>, key: Option<&str>, value: &str) -> Option<KdlEntry> {
    let (mut entry, value_range) = match key {
        None => (KdlEntry::new(value), range.clone()),
        Some(key) => {
            // A bare key, then spaces, `=` and spaces, then the value.
            let rest = text.get(range.clone())?.strip_prefix(key)?;
            let after = rest.trim_start_matches([' ', '\t']).strip_prefix('=')?;
            let written = after.trim_start_matches([' ', '\t']);
            let mut ident = KdlIdentifier::from(key);
            ident.set_span(span(range.start, range.start + key.len()));
            let value_range = range.end - written.len()..range.end;
            (KdlEntry::new_prop(ident, value), value_range)
        }
    };
    let repr = as_written(text, value_range, value)?;
    entry.set_span(span(range.start, range.end));
    entry.set_format(KdlEntryFormat {
        value_repr: repr.to_owned(),
        ..KdlEntryFormat::default()
    });
    Some(entry)
}

/// The text of `range` when it is `value` as written, bare or in plain quotes: no escape, raw
/// or multi-line string, whose value only kdl's reading is trusted for.
fn as_written<'t>(text: &'t str, range: Range<usize>, value: &str) -> Option<&'t str> {
    let written = text.get(range)?;
    let quoted = written
        .strip_prefix('"')
        .and_then(|w| w.strip_suffix('"'))
        .is_some_and(|inner| inner == value && !value.contains(['"', '\\']));
    (written == value || quoted).then_some(written)
}

fn span(start: usize, end: usize) -> SourceSpan {
    (start, end - start).into()
}
