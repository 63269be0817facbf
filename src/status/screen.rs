//! Turns frames into bytes for the terminal: new output lines scroll above the panel, the panel
//! stays pinned below them, and a frame rewrites only the lines that changed.
//!
//! The panel is drawn inline (no alternate screen, no scroll region), so the output stays in the
//! terminal's own scrollback and nothing of the panel is left once it is erased. Every frame is
//! one write wrapped in a synchronized update (DEC mode 2026; terminals that lack it ignore it),
//! so a terminal never shows a half-drawn panel.

use super::render::Painted;

pub(crate) const SYNC_BEGIN: &str = "\x1b[?2026h";
pub(crate) const SYNC_END: &str = "\x1b[?2026l";
pub(crate) const HIDE_CURSOR: &str = "\x1b[?25l";
pub(crate) const SHOW_CURSOR: &str = "\x1b[?25h";
/// Clears from the cursor to the end of the screen.
const CLEAR_BELOW: &str = "\x1b[J";
/// Clears from the cursor to the end of the line.
const CLEAR_RIGHT: &str = "\x1b[K";
const RESET_STYLE: &str = "\x1b[0m";
/// Clears the screen and its scrollback, cursor to the top left.
const CLEAR_ALL: &str = "\x1b[H\x1b[2J\x1b[3J";

/// What the terminal shows of the panel, as last written.
#[derive(Debug, Default)]
pub(crate) struct Screen {
    shown: Vec<Painted>,
    /// The width the panel was drawn for.
    width: usize,
}

impl Screen {
    /// How many terminal rows the panel takes now.
    pub(crate) fn rows(&self) -> usize {
        rows(&self.shown, self.width)
    }

    /// Appends to `out` what puts `output` above the panel and makes the panel show `panel`
    /// on a terminal `width` columns wide. Appends nothing when nothing changed.
    pub(crate) fn frame(
        &mut self,
        output: &[String],
        panel: Vec<Painted>,
        width: usize,
        out: &mut String,
    ) {
        if output.is_empty() && panel == self.shown && width == self.width {
            return;
        }
        out.push_str(SYNC_BEGIN);
        if self.shown.is_empty() {
            out.push_str(HIDE_CURSOR);
        }
        if output.is_empty() && panel.len() == self.shown.len() && width == self.width {
            self.patch(&panel, out);
        } else {
            self.to_top(width, out);
            out.push_str(CLEAR_BELOW);
            for line in output {
                out.push_str(line);
                out.push('\n');
            }
            if !output.is_empty() {
                // A child's colour that was never reset must not bleed into the panel.
                out.push_str(RESET_STYLE);
            }
            let texts: Vec<&str> = panel.iter().map(|p| p.text.as_str()).collect();
            out.push_str(&texts.join("\n"));
        }
        out.push_str(SYNC_END);
        self.shown = panel;
        self.width = width;
    }

    /// Rewrites only the changed lines of a panel of unchanged height; the cursor starts and
    /// ends on its last line.
    fn patch(&self, panel: &[Painted], out: &mut String) {
        let last = panel.len() - 1;
        let mut at = last;
        for (i, (new, old)) in panel.iter().zip(&self.shown).enumerate() {
            if new == old {
                continue;
            }
            move_rows(at, i, out);
            at = i;
            out.push('\r');
            out.push_str(&new.text);
            out.push_str(CLEAR_RIGHT);
        }
        move_rows(at, last, out);
    }

    /// Moves the cursor to the first column of the panel's first row.
    fn to_top(&self, width: usize, out: &mut String) {
        out.push('\r');
        // If the terminal narrowed, it may have rewrapped the panel's lines (most do).
        let up = rows(&self.shown, width).saturating_sub(1);
        if up > 0 {
            out.push_str(&format!("\x1b[{up}A"));
        }
    }

    /// Appends what erases the panel and shows the cursor, leaving it where the panel began.
    pub(crate) fn erase(&mut self, out: &mut String) {
        if self.shown.is_empty() {
            return;
        }
        out.push_str(SYNC_BEGIN);
        self.to_top(self.width, out);
        out.push_str(CLEAR_BELOW);
        out.push_str(SHOW_CURSOR);
        out.push_str(SYNC_END);
        self.shown.clear();
    }

    /// Appends what clears the screen and its scrollback; the next frame draws the panel anew.
    pub(crate) fn clear(&mut self, out: &mut String) {
        out.push_str(CLEAR_ALL);
        self.shown.clear();
    }
}

/// The terminal rows `lines` take at `width` columns (a line wider than that wraps).
fn rows(lines: &[Painted], width: usize) -> usize {
    lines
        .iter()
        .map(|l| l.width.max(1).div_ceil(width.max(1)))
        .sum()
}

fn move_rows(from: usize, to: usize, out: &mut String) {
    if to < from {
        out.push_str(&format!("\x1b[{}A", from - to));
    } else if to > from {
        out.push_str(&format!("\x1b[{}B", to - from));
    }
}

/// The escape sequences that erase a panel of `rows` rows and show the cursor again, for the
/// panic hook (which must not wait for the view's lock).
pub(crate) fn erase_rows(rows: usize) -> String {
    let mut out = String::from(SYNC_END);
    if rows > 0 {
        out.push('\r');
        if rows > 1 {
            out.push_str(&format!("\x1b[{}A", rows - 1));
        }
        out.push_str(CLEAR_BELOW);
    }
    out.push_str(RESET_STYLE);
    out.push_str(SHOW_CURSOR);
    out
}
