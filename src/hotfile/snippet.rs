//! The Hotfile's text as miette reads a snippet of it for a diagnostic.
//!
//! miette finds a span's lines by reading the text from its start, for every label and
//! every snippet: `hot check`'s 20 shown warnings on a 500-node Hotfile read ~1.5 MB that
//! way (0.9 M instructions). [`Snippets`] hands miette's own reading only the text from a
//! few lines above the span, and adds the lines and bytes it skipped, so the result is the
//! same. Whether the text holds a `\r` (then it is read whole) is asked once, not for every
//! label: scanning the whole text each time was most of that reading again (~0.45 M
//! instructions for 20 warnings).

use std::sync::Arc;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// A Hotfile's text, read by miette from near each span.
#[derive(Debug, Clone)]
pub struct Snippets {
    text: Arc<String>,
    /// miette also ends a line at a lone `\r`: such a text is read whole, as miette would.
    whole: bool,
}

impl Snippets {
    pub fn new(text: Arc<String>) -> Snippets {
        let whole = memchr::memchr(b'\r', text.as_bytes()).is_some();
        Snippets { text, whole }
    }
}

impl SourceCode for Snippets {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let text = self.text.as_bytes();
        let from = if self.whole {
            0
        } else {
            // An empty span at a line's start ends, to miette, on the newline before it.
            let first = span
                .offset()
                .min((span.offset() + span.len()).saturating_sub(1));
            window_start(text, first, context_lines_before)
        };
        if from == 0 {
            return text.read_span(span, context_lines_before, context_lines_after);
        }
        let lines_skipped = text[..from].iter().filter(|&&b| b == b'\n').count();
        let window = &text[from..];
        let inner = (span.offset() - from, span.len()).into();
        let read = window.read_span(&inner, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new(
            read.data(),
            (read.span().offset() + from, read.span().len()).into(),
            read.line() + lines_skipped,
            read.column(),
            read.line_count() + lines_skipped,
        )))
    }
}

/// Where the line `before` lines above the one holding `offset` starts (0 when the text
/// starts first): read from there, miette keeps the same context lines, and counts its
/// lines and bytes from there.
fn window_start(text: &[u8], offset: usize, before: usize) -> usize {
    let line_start = |end: usize| memchr::memrchr(b'\n', &text[..end]).map_or(0, |nl| nl + 1);
    let mut start = line_start(offset.min(text.len()));
    for _ in 0..before {
        if start == 0 {
            break;
        }
        start = line_start(start - 1);
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of a reading, to compare two.
    fn fields(read: &dyn SpanContents<'_>) -> (Vec<u8>, SourceSpan, usize, usize, usize) {
        (
            read.data().to_vec(),
            *read.span(),
            read.line(),
            read.column(),
            read.line_count(),
        )
    }

    #[test]
    fn a_snippet_read_from_near_its_span_reads_as_miette_reads_the_whole_text() {
        let texts = [
            "task \"a\" {\n    run \"x\"\n}\n\n// é\ntask \"b\" {\n    watch \"src/**\"\n}",
            "\n\n\none\n\ntwo three\n\n",
            "no newline at all",
            "ends\nwith\nnewline\n",
            // Read whole: miette ends a line at a lone `\r` too.
            "crlf\r\nline\r\n\rlone\rend\n",
        ];
        for text in texts {
            let snippets = Snippets::new(Arc::new(text.to_owned()));
            for offset in 0..=text.len() {
                for len in [0, 1, 3, 12] {
                    for before in 0..4 {
                        for after in 0..3 {
                            let span = (offset, len).into();
                            let ours = snippets.read_span(&span, before, after);
                            let miette = text.as_bytes().read_span(&span, before, after);
                            match (ours, miette) {
                                (Ok(ours), Ok(miette)) => assert_eq!(
                                    fields(&*ours),
                                    fields(&*miette),
                                    "{text:?} at {offset}+{len}, {before} before, {after} after"
                                ),
                                (Err(_), Err(_)) => {}
                                (ours, miette) => panic!(
                                    "{text:?} at {offset}+{len}: {:?} against {:?}",
                                    ours.is_ok(),
                                    miette.is_ok()
                                ),
                            }
                        }
                    }
                }
            }
        }
    }
}
