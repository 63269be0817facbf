//! The quick reading of a plain Hotfile: the KDL a Hotfile is written in, read straight into the
//! [`Tree`] in one pass over the bytes (kdl's parser keeps every byte of formatting for editing,
//! ~4,000 instructions a byte; this is a few dozen).
//!
//! It reads a subset of KDL 2, and only ever answers for a text kdl reads to the same tree:
//! nodes named by a bare word, arguments and properties that are bare words or quoted strings
//! without escapes, `{ … }` blocks, `;`, newlines and comments. Anything else (a type
//! annotation, a number, a raw, multi-line or escaped string, `/-`, a line continuation, a
//! character KDL gives a meaning of its own, any doubt at all) gives `None`, and the caller
//! reads the file with kdl, so every syntax error is as kdl reports it. A Hotfile it takes
//! whose mistakes include an unexpected block (whose span is kdl's, see `tree::Node::block`)
//! is read again with kdl too (`super::parse_in`); any other mistake reads the same from
//! either tree. The tests compare both readings, field by field, and the diagnostics of files
//! with mistakes, on generated files.

use super::lex::{MAX_BRACES, MAX_DEPTH};
use super::tree::{Entry, Span, Tree, Value};

/// The tree of `text`, or `None` when kdl must read it (see the module's doc).
///
/// It also answers `None` wherever `lex::prescan` would find a mistake (nesting past its
/// limits, a word glued to a `/`), so a text it reads needs no prescan: that pass runs only
/// before kdl's reading.
pub(super) fn parse(text: &str) -> Option<Tree<'_>> {
    let mut reader = Reader {
        text,
        b: text.as_bytes(),
        at: 0,
        depth: 0,
        braces: 0,
        // About one node a line and one entry for every 15 bytes in a Hotfile.
        tree: Tree::with_capacity(text.len() / 20, text.len() / 15),
    };
    reader.nodes(false)?;
    Some(reader.tree)
}

struct Reader<'t> {
    text: &'t str,
    b: &'t [u8],
    at: usize,
    /// `{ … }` blocks open around `at`: the quick reading recurses on each.
    depth: usize,
    /// Braces open, counted in strings and comments too, as the prescan counts them.
    braces: usize,
    tree: Tree<'t>,
}

impl<'t> Reader<'t> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    /// The nodes of a block (`inside`) up to its `}`, or of the document up to its end.
    fn nodes(&mut self, inside: bool) -> Option<()> {
        loop {
            self.line_space()?;
            match self.peek() {
                None => return (!inside).then_some(()),
                Some(b'}') => return inside.then_some(()),
                Some(_) => self.node()?,
            }
        }
    }

    /// One node, from its name to its terminator (not consumed when it is the parent's `}`).
    fn node(&mut self) -> Option<()> {
        let start = self.at;
        let name = self.bare()?;
        // `name/* … */` or `name/…`: the prescan's unquoted-path mistake.
        if self.peek() == Some(b'/') {
            return None;
        }
        let node = self.tree.open(name, span(start, self.at));
        let mut block = None;
        loop {
            let spaced = self.node_space()?;
            match self.peek() {
                None | Some(b'\n' | b';' | b'}') => break,
                Some(b'\r') if self.b.get(self.at + 1) == Some(&b'\n') => break,
                Some(b'/') if self.b.get(self.at + 1) == Some(&b'/') && spaced => break,
                Some(b'{') if spaced => {
                    self.at += 1;
                    let from = self.at;
                    self.depth += 1;
                    self.count_braces("{")?;
                    if self.depth > MAX_DEPTH {
                        return None;
                    }
                    self.nodes(true)?;
                    self.depth -= 1;
                    self.count_braces("}")?;
                    // Its braces; kdl's differs, and is the one shown (see `tree::Node::block`).
                    block = Some(span(from - 1, self.at + 1));
                    self.at += 1;
                    // Only a terminator may follow a block.
                    self.node_space()?;
                    match self.peek() {
                        None | Some(b'\n' | b';' | b'}') => break,
                        Some(b'\r') if self.b.get(self.at + 1) == Some(&b'\n') => break,
                        Some(b'/') if self.b.get(self.at + 1) == Some(&b'/') => break,
                        _ => return None,
                    }
                }
                Some(_) if spaced => {
                    let entry = self.entry()?;
                    self.tree.entry(node, entry);
                }
                Some(_) => return None,
            }
        }
        match self.peek() {
            Some(b';') => self.at += 1,
            Some(b'\r') => self.at += 2,
            Some(b'\n') => self.at += 1,
            _ => {}
        }
        self.tree.close(node, block);
        Some(())
    }

    /// An argument (a bare word or a plain string) or a property (`key=value`, no spaces).
    fn entry(&mut self) -> Option<Entry<'t>> {
        let start = self.at;
        let quoted = self.peek() == Some(b'"');
        let word = if quoted { self.string()? } else { self.bare()? };
        // A string is always an argument; a bare word is a property's key when `=` follows.
        if quoted || self.peek() != Some(b'=') {
            self.delimited()?;
            let here = span(start, self.at);
            return Some(Entry {
                key: None,
                value: Value::String(word),
                span: here,
                value_span: here,
            });
        }
        let key = (word, span(start, self.at));
        self.at += 1;
        let from = self.at;
        let value = match self.peek()? {
            b'"' => self.string()?,
            _ => self.bare()?,
        };
        self.delimited()?;
        Some(Entry {
            key: Some(key),
            value: Value::String(value),
            span: span(start, self.at),
            value_span: span(from, self.at),
        })
    }

    /// A bare word: a letter or `_`, then letters, digits, `_`, `-` and `.`; never one of
    /// KDL's keywords, which are no strings.
    fn bare(&mut self) -> Option<&'t str> {
        let start = self.at;
        if CLASS[self.peek()? as usize] & WORD_START == 0 {
            return None;
        }
        self.at += 1;
        while self.peek().is_some_and(|c| CLASS[c as usize] & WORD != 0) {
            self.at += 1;
        }
        let word = &self.text[start..self.at];
        (!matches!(word, "true" | "false" | "null" | "inf" | "nan")).then_some(word)
    }

    /// A quoted string without escapes, on one line: its value.
    fn string(&mut self) -> Option<&'t str> {
        let start = self.at + 1;
        // The closing quote found a vector at a time, then the bytes before it judged in one
        // pass without early exit, a table look-up each (three comparisons a byte were a
        // sixth of reading a 500-node Hotfile): an escape, a newline or any other control
        // character refuses the string, and only one with a brace or a character past ASCII
        // needs a second look.
        let end = start + memchr::memchr(b'"', self.b.get(start..)?)?;
        let seen = self.b[start..end]
            .iter()
            .fold(0, |seen, &c| seen | CLASS[c as usize]);
        if seen & REFUSED != 0 {
            return None;
        }
        let value = &self.text[start..end];
        if seen & NOT_ASCII != 0 && !value.chars().all(|c| plain(c) && c != '\\') {
            return None;
        }
        if seen & BRACE != 0 {
            self.count_braces(value)?;
        }
        self.at = end + 1;
        Some(value)
    }

    /// After a value: space, a newline, `;`, `}` or the end, nothing glued to it.
    fn delimited(&self) -> Option<()> {
        match self.peek() {
            None | Some(b' ' | b'\t' | b'\n' | b';' | b'}') => Some(()),
            Some(b'\r') if self.b.get(self.at + 1) == Some(&b'\n') => Some(()),
            _ => None,
        }
    }

    /// Spaces, tabs and block comments within a node; whether there were any.
    fn node_space(&mut self) -> Option<bool> {
        let start = self.at;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.at += 1,
                Some(b'/') if self.b.get(self.at + 1) == Some(&b'*') => self.block_comment()?,
                _ => return Some(self.at > start),
            }
        }
    }

    /// Spaces, newlines and comments between nodes.
    fn line_space(&mut self) -> Option<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n') => self.at += 1,
                Some(b'\r') if self.b.get(self.at + 1) == Some(&b'\n') => self.at += 2,
                Some(b'/') if self.b.get(self.at + 1) == Some(&b'*') => self.block_comment()?,
                Some(b'/') if self.b.get(self.at + 1) == Some(&b'/') => self.line_comment()?,
                _ => return Some(()),
            }
        }
    }

    /// `// …` and its newline.
    fn line_comment(&mut self) -> Option<()> {
        let rest = &self.text[self.at..];
        let len = rest.find('\n').map_or(rest.len(), |at| at + 1);
        let comment = &rest[..len];
        let comment = comment.strip_suffix('\n').unwrap_or(comment);
        if !comment
            .strip_suffix('\r')
            .unwrap_or(comment)
            .chars()
            .all(plain)
        {
            return None;
        }
        self.count_braces(comment)?;
        self.at += len;
        Some(())
    }

    /// `/* … */`, nested ones included.
    fn block_comment(&mut self) -> Option<()> {
        let start = self.at;
        let mut depth = 0usize;
        loop {
            match (self.peek()?, self.b.get(self.at + 1)) {
                (b'/', Some(b'*')) => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                    self.at += 2;
                }
                (b'*', Some(b'/')) => {
                    depth -= 1;
                    self.at += 2;
                    if depth == 0 {
                        break;
                    }
                }
                _ => self.at += 1,
            }
        }
        let inside = &self.text[start..self.at];
        self.count_braces(inside)?;
        inside.chars().all(|c| plain(c) || c == '\n').then_some(())
    }

    /// Counts the braces of `text` as the prescan does (`None` past its limit).
    fn count_braces(&mut self, text: &str) -> Option<()> {
        // By bytes: a `char` pattern decodes every character first.
        if !text.bytes().any(|b| b == b'{' || b == b'}') {
            return Some(());
        }
        for c in text.bytes() {
            match c {
                b'{' => self.braces += 1,
                b'}' => self.braces = self.braces.saturating_sub(1),
                _ => continue,
            }
            if self.braces > MAX_BRACES {
                return None;
            }
        }
        Some(())
    }
}

// What a byte is to the quick reader: the bits of [`CLASS`].

/// In a quoted string: a control character (a tab aside), DEL or `\`, which it leaves to kdl.
const REFUSED: u8 = 1;
/// In a quoted string: `{` or `}`, counted as the prescan counts them.
const BRACE: u8 = 2;
/// Part of a character past ASCII, judged by [`plain`].
const NOT_ASCII: u8 = 4;
/// The first byte of a bare word: a letter or `_`.
const WORD_START: u8 = 8;
/// A bare word's other bytes: letters, digits, `_`, `-` and `.`.
const WORD: u8 = 16;

/// Each byte's class bits, one look-up a byte.
const CLASS: [u8; 256] = {
    let mut class = [0; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        class[c] = if (b < b' ' && b != b'\t') || b == 0x7f || b == b'\\' {
            REFUSED
        } else if b == b'{' || b == b'}' {
            BRACE
        } else if b >= 0x80 {
            NOT_ASCII
        } else if b.is_ascii_alphabetic() || b == b'_' {
            WORD_START | WORD
        } else if b.is_ascii_digit() || b == b'-' || b == b'.' {
            WORD
        } else {
            0
        };
        c += 1;
    }
    class
};

/// A character with no meaning of its own to KDL inside a comment (a string refuses `\` too):
/// none of its newlines, no control character, nothing KDL forbids in a document.
fn plain(c: char) -> bool {
    match c {
        '\t' | ' '..='~' => true,
        '\u{0}'..='\u{9f}' => false,
        '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{feff}' => false,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => false,
        _ => true,
    }
}

fn span(start: usize, end: usize) -> Span {
    Span::between(start, end)
}
