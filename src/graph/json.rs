//! `hot graph --format json`: one line, fields in alphabetical order (as the
//! `serde_json::Value` it was once built from printed them).
//!
//! Written by hand into one buffer: through serde, each of a 500-node graph's 100 KB went
//! through serde_json's per-byte escaping and a call per key, comma and bracket (2 M
//! instructions, as much as the rest of `hot graph` after reading the Hotfile). Strings
//! that need escaping still go through serde_json, so every byte is what it would write.

use std::fmt::Write as _;

use super::{Graph, own_after};
use crate::model::{NodeId, Project, Text};

pub(super) fn render(project: &Project, graph: &Graph) -> String {
    // Sized up front (about 200 bytes a node): grown from a small buffer, that of a 500-node
    // graph was copied a dozen times into fresh pages.
    let mut out = Json(String::with_capacity(256 * project.nodes.len() + 64));
    let name = |id: NodeId| project.node(id).name.as_str();
    out.raw("{\"levels\":[");
    for (i, level) in graph.levels().iter().enumerate() {
        out.comma(i);
        out.list(level.iter().map(|&id| name(id)));
    }
    out.raw("],\"nodes\":[");
    // `run` and `dir` are written into this first when they are not plain text already.
    let mut scratch = String::new();
    for (i, node) in project.nodes.iter().enumerate() {
        out.comma(i);
        out.raw("{\"after\":");
        out.list(own_after(node).map(name));
        out.raw(",\"dir\":");
        out.string(&project.shown_dir(node));
        out.raw(",\"gates\":");
        out.list(node.gates.iter().map(|&id| name(id)));
        out.raw(",\"ignore\":");
        out.list(node.inputs.ignore.iter().map(Text::as_str));
        out.raw(",\"kind\":");
        out.string(node.kind.as_str());
        out.raw(",\"name\":");
        out.string(&node.name);
        out.raw(",\"run\":");
        match &node.run {
            crate::model::Command::Shell(line) => out.string(line),
            argv => {
                scratch.clear();
                let _ = write!(scratch, "{argv}");
                out.string(&scratch);
            }
        }
        out.raw(",\"sockets\":[");
        for (i, socket) in node.sockets.iter().enumerate() {
            out.comma(i);
            scratch.clear();
            let _ = write!(scratch, "{}", socket.addr);
            out.raw("{\"addr\":");
            out.string(&scratch);
            out.raw(",\"name\":");
            out.string(&socket.name);
            out.raw("}");
        }
        out.raw("],\"watch\":");
        out.list(node.inputs.watch.iter().map(Text::as_str));
        out.raw("}");
    }
    out.raw("],\"order\":");
    out.list(graph.order().iter().map(|&id| name(id)));
    out.raw("}\n");
    out.0
}

/// A JSON document being written.
struct Json(String);

impl Json {
    fn raw(&mut self, text: &str) {
        self.0.push_str(text);
    }

    /// The separator before the `i`th item of a list.
    fn comma(&mut self, i: usize) {
        if i > 0 {
            self.0.push(',');
        }
    }

    fn list<'a>(&mut self, items: impl Iterator<Item = &'a str>) {
        self.0.push('[');
        for (i, item) in items.enumerate() {
            self.comma(i);
            self.string(item);
        }
        self.0.push(']');
    }

    /// A JSON string: verbatim between quotes when serde_json would escape none of its bytes
    /// (a control character, `"` or `\`), else as serde_json writes it.
    fn string(&mut self, text: &str) {
        // One pass without an early exit, which the compiler vectorises.
        let plain = text.bytes().fold(true, |plain, b| {
            plain & (b >= b' ') & (b != b'"') & (b != b'\\')
        });
        if plain {
            self.0.push('"');
            self.0.push_str(text);
            self.0.push('"');
        } else {
            // A `&str` always serialises.
            self.0
                .push_str(&serde_json::to_string(text).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path must write what serde_json writes, for every byte it lets through and
    /// every byte it hands to serde_json.
    #[test]
    fn graph_json_strings_are_written_as_serde_json_writes_them() {
        let mut texts: Vec<String> = (0u8..=0x7f).map(|b| format!("a{}b", b as char)).collect();
        texts.extend(
            [
                "",
                "plain",
                "é ü ∑ 🦀",
                "\u{7f}",
                "\u{2028}",
                "tab\there",
                "q\"\\",
            ]
            .map(String::from),
        );
        for text in texts {
            let mut out = Json(String::new());
            out.string(&text);
            assert_eq!(out.0, serde_json::to_string(&text).unwrap(), "{text:?}");
        }
    }
}
