//! A rough lexical pass run before the KDL parser.
//!
//! It exists for two reasons: kdl's parser recurses on `{` blocks and on nested `/* */`
//! comments, so absurd nesting would overflow the stack; and an unquoted path such as
//! `src/**/*.rs` is silently misread by KDL (the trap described in the module doc). The pass
//! skips strings and comments the way KDL 2 does, closely enough for both purposes.

use miette::SourceSpan;

use super::error::Mistake;

/// Deeper `{` blocks or `/* */` comments than this are refused before parsing.
pub(super) const MAX_DEPTH: usize = 32;

/// The same limit for braces counted everywhere, strings and comments included. After a
/// syntax error the KDL parser resumes where this pass's view of strings may not hold (found
/// by fuzzing: `a "task "n" { task "n" { …` recursed once per `{`, and a 55 KB file overflowed
/// the stack); no sane Hotfile leaves this many `{` open, in strings or not.
pub(super) const MAX_BRACES: usize = 4 * MAX_DEPTH;

/// What the pass found.
pub(super) struct Prescan {
    pub(super) mistakes: Vec<Mistake>,
    /// Offsets just past each `}` that closes a top-level node: the text can be cut there
    /// into pieces that parse on their own.
    pub(super) node_ends: Vec<usize>,
}

/// Ends the pass at nesting deeper than `limit`: what follows cannot be trusted.
fn too_deep(
    mut mistakes: Vec<Mistake>,
    node_ends: Vec<usize>,
    what: &'static str,
    limit: usize,
    (at, len): (usize, usize),
) -> Prescan {
    mistakes.push(Mistake::TooDeep {
        what,
        limit,
        span: (at, len).into(),
    });
    Prescan {
        mistakes,
        node_ends,
    }
}

/// Finds nesting that is too deep (then stops: the rest cannot be trusted), unquoted paths,
/// and where top-level nodes end.
pub(super) fn prescan(text: &str) -> Prescan {
    let b = text.as_bytes();
    let mut mistakes = Vec::new();
    let mut node_ends = Vec::new();
    let mut depth = 0usize;
    // End of the last unquoted word reported, so `src/a/b.rs` is reported once.
    let mut reported_until = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => i = skip_string(b, i, 0),
            b'#' => {
                let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
                i = if b.get(i + hashes) == Some(&b'"') {
                    skip_string(b, i + hashes, hashes)
                } else {
                    i + hashes
                };
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
            }
            b'/' => {
                let comment = b.get(i + 1) == Some(&b'*');
                if i >= reported_until
                    && i > 0
                    && is_word_byte(b[i - 1])
                    && (comment || b.get(i + 1) != Some(&b'-'))
                {
                    let (mistake, end) = unquoted(text, i, comment);
                    mistakes.push(mistake);
                    reported_until = end;
                }
                if comment {
                    match skip_block_comment(b, i) {
                        Ok(next) => i = next,
                        Err(at) => {
                            return too_deep(mistakes, node_ends, "comments", MAX_DEPTH, (at, 2));
                        }
                    }
                } else {
                    i += 1;
                }
            }
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return too_deep(mistakes, node_ends, "blocks", MAX_DEPTH, (i, 1));
                }
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
                if depth == 0 {
                    node_ends.push(i);
                }
            }
            _ => i += 1,
        }
    }
    // Checked after the pass above, whose message is the more precise one.
    let mut open = 0usize;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'{' => open += 1,
            b'}' => open = open.saturating_sub(1),
            _ => continue,
        }
        if open > MAX_BRACES {
            return too_deep(
                mistakes,
                node_ends,
                "braces (counted in strings too)",
                MAX_BRACES,
                (i, 1),
            );
        }
    }
    Prescan {
        mistakes,
        node_ends,
    }
}

/// A byte that can be part of a bare KDL identifier (any non-ASCII byte counts: only ASCII
/// bytes matter for where words stop).
fn is_word_byte(c: u8) -> bool {
    c >= 0x80 || (c.is_ascii_graphic() && !b"\\/(){};[]\"#=".contains(&c))
}

/// Skips a string starting at the `"` at `start` (raw when `hashes > 0`); returns the index
/// just past it, or the end of the text when it is not closed (the parser reports that).
fn skip_string(b: &[u8], start: usize, hashes: usize) -> usize {
    let multi = b[start..].starts_with(b"\"\"\"");
    let quotes = if multi { 3 } else { 1 };
    let mut i = start + quotes;
    while i < b.len() {
        if hashes == 0 && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i..].starts_with(&b"\"\"\""[..quotes])
            && b[i + quotes..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == b'#')
                .count()
                == hashes
        {
            return i + quotes + hashes;
        }
        i += 1;
    }
    b.len()
}

/// Skips a (nested) block comment starting at `start`. `Err(offset)` of the opening that
/// nests too deeply.
fn skip_block_comment(b: &[u8], start: usize) -> Result<usize, usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(i);
            }
            i += 2;
        } else if b[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Ok(i);
            }
        } else {
            i += 1;
        }
    }
    Ok(b.len())
}

/// The mistake for an unquoted word containing the `/` at `slash`, and where the word ends.
fn unquoted(text: &str, slash: usize, comment: bool) -> (Mistake, usize) {
    let b = text.as_bytes();
    let start = b[..slash]
        .iter()
        .rposition(|&c| !is_word_byte(c))
        .map_or(0, |p| p + 1);
    let end = b[slash..]
        .iter()
        .position(|&c| c.is_ascii_whitespace() || b";{}\"=".contains(&c))
        .map_or(b.len(), |p| slash + p);
    // Start and end sit next to ASCII bytes (or the text's ends), so they are char boundaries.
    let word = &text[start..end];
    let head = &text[start..slash];
    // What precedes the word in its statement, to show the whole corrected line.
    let line_start = b[..start]
        .iter()
        .rposition(|&c| b"\n;{".contains(&c))
        .map_or(0, |p| p + 1);
    let prefix = text[line_start..start].trim_start();
    let message = if comment {
        format!("glob must be quoted: KDL reads `{word}` unquoted as `{head}` plus a comment")
    } else {
        format!("path must be quoted: KDL cannot read `{word}` unquoted")
    };
    let span = SourceSpan::from((start, end - start));
    let help = format!("write {prefix}\"{word}\"");
    (
        Mistake::UnquotedPath {
            message,
            span,
            help,
        },
        end,
    )
}
