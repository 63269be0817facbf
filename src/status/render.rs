//! The status panel as text: a rule naming the wave, one line per node, the keys. Lines are cut
//! to the terminal's width, so the panel's height on screen is its number of lines.

use std::time::Instant;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::board::{Board, Down, Row, State, elapsed, uptime};
use crate::model::Kind;
use crate::report::seconds;

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/// A name longer than this is cut, so one long name cannot push every state off screen.
const NAME_COLUMN: usize = 20;

const DIM: &str = "2";
const BOLD: &str = "1";
const RED: &str = "31";
const GREEN: &str = "32";
const YELLOW: &str = "33";
const CYAN: &str = "36";

/// How to draw.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    pub now: Instant,
    /// The terminal's size in columns and rows.
    pub width: usize,
    pub height: usize,
    pub color: bool,
    /// Whether keys are read (the line that lists them is shown).
    pub keys: bool,
    /// A short answer to the last key ("nothing failed").
    pub flash: Option<&'a str>,
}

/// One line as written, and how many columns it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Painted {
    pub text: String,
    pub width: usize,
}

/// The panel for `board`, at most half the terminal high (and at least three lines).
pub(crate) fn panel(board: &Board, view: &View) -> Vec<Painted> {
    // One column is left free: a line that fills the last column leaves some terminals in a
    // pending wrap, which makes cursor arithmetic guesswork.
    let width = view.width.saturating_sub(1).max(20);
    let max_lines = (view.height / 2).max(3);
    let mut lines = vec![header(board, view).paint(width, view.color, Some('─'))];

    let name_width = board
        .rows()
        .iter()
        .map(|r| r.name.width())
        .max()
        .unwrap_or(0)
        .min(NAME_COLUMN);
    let room = max_lines.saturating_sub(1 + usize::from(view.keys || view.flash.is_some()));
    let shown = pick(board.rows(), room);
    let hidden = board.rows().len() - shown.len();
    for row in &shown {
        let line = node_line(row, board.lock_wait(row), name_width, view);
        lines.push(line.paint(width, view.color, None));
    }
    if hidden > 0 {
        let uneasy = board.rows().iter().filter(|r| !calm(r)).count()
            - shown.iter().filter(|r| !calm(r)).count();
        let mut line = Line::default();
        if uneasy == 0 {
            line.push(Some(DIM), format!("  … {hidden} more, all ok or idle"));
        } else {
            line.push(
                Some(YELLOW),
                format!("  … {hidden} more, {uneasy} of them not ok"),
            );
        }
        lines.push(line.paint(width, view.color, None));
    }
    if let Some(flash) = view.flash {
        let mut line = Line::default();
        line.push(Some(YELLOW), format!("  {flash}"));
        lines.push(line.paint(width, view.color, None));
    } else if view.keys {
        let mut line = Line::default();
        for (key, what) in [
            ("r", "rerun all"),
            ("f", "rerun failed"),
            ("o", "output of a failure"),
            ("c", "clear"),
            ("q", "quit"),
        ] {
            line.push(None, "  ".to_owned());
            line.push(Some(BOLD), key.to_owned());
            line.push(Some(DIM), format!(" {what}"));
        }
        lines.push(line.paint(width, view.color, None));
    }
    lines
}

/// The rows that fit in `room` lines: all of them, or (keeping their order) those that need
/// attention first, then the others, with one line left to say how many were left out.
fn pick(rows: &[Row], room: usize) -> Vec<&Row> {
    if rows.len() <= room {
        return rows.iter().collect();
    }
    let room = room.saturating_sub(1);
    let mut keep: Vec<bool> = rows.iter().map(|r| !calm(r)).collect();
    let mut kept = keep.iter().filter(|k| **k).count();
    for (i, row) in rows.iter().enumerate() {
        if kept >= room {
            break;
        }
        if calm(row) {
            keep[i] = true;
            kept += 1;
        }
    }
    rows.iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(r, _)| r)
        .take(room)
        .collect()
}

/// A row that needs no attention: it may be left out when the panel is short of room.
fn calm(row: &Row) -> bool {
    matches!(row.state, State::Ok { .. } | State::Idle) && row.note.is_none()
}

fn header(board: &Board, view: &View) -> Line {
    let mut line = Line::default();
    line.push(Some(DIM), "── ".to_owned());
    line.push(Some(BOLD), "hot".to_owned());
    if board.stopping() {
        line.push(Some(YELLOW), " · stopping…".to_owned());
        line.push(None, " ".to_owned());
        return line;
    }
    let Some(wave) = board.wave() else {
        line.push(Some(DIM), " · starting ".to_owned());
        return line;
    };
    // The state of the whole graph first (it is what a glance is for), then the wave.
    let failed = board.failed();
    let blocked = board
        .rows()
        .iter()
        .filter(|r| matches!(r.state, State::Blocked { .. }))
        .count();
    match wave.finished {
        None => line.push(
            Some(CYAN),
            format!(
                " · running {}",
                elapsed(view.now.saturating_duration_since(wave.started))
            ),
        ),
        // A graph that is ok again must not hide that a server went down during the wave.
        Some(_) if failed.is_empty() && blocked == 0 && !wave.crashed.is_empty() => {
            line.push(Some(YELLOW), format!(" · ok now, but {}", wave.crashed));
        }
        Some(_) if failed.is_empty() && blocked == 0 => {
            line.push(Some(GREEN), " · all ok".to_owned());
        }
        Some(_) if !wave.crashed.is_empty() => {
            line.push(Some(YELLOW), format!(" · {}", wave.crashed));
        }
        Some(_) => {}
    }
    if !failed.is_empty() {
        line.push(
            Some(RED),
            format!(" · {} failed: {}", failed.len(), failed.join(", ")),
        );
    }
    if blocked > 0 {
        line.push(Some(YELLOW), format!(" · {blocked} blocked"));
    }
    if board.polled() > 0 {
        line.push(
            Some(YELLOW),
            format!(" · polling {} dirs (inotify limit full)", board.polled()),
        );
    }
    line.push(None, format!(" · wave {}: {}", wave.number, wave.cause));
    if let Some(at) = wave.finished {
        line.push(None, format!(", {}", seconds(at - wave.started)));
    }
    line.push(None, " ".to_owned());
    line
}

/// One node's line; `lock_wait` is a lock it waits for and the node that holds it.
fn node_line(row: &Row, lock_wait: Option<(&str, &str)>, name_width: usize, view: &View) -> Line {
    let mut line = Line::default();
    let spinner = |since: Instant| {
        let ticks = view.now.saturating_duration_since(since).as_millis() / 100;
        SPINNER[(ticks % SPINNER.len() as u128) as usize].to_string()
    };
    let running = |since: Instant| elapsed(view.now.saturating_duration_since(since));
    let up = |since: Instant| uptime(view.now.saturating_duration_since(since));
    let (icon, style) = match (&row.state, &row.serving) {
        (State::Blocked { .. }, Some(_)) => ("!".to_owned(), YELLOW),
        (State::Failed { .. }, Some(_)) => ("!".to_owned(), YELLOW),
        (_, Some(serving)) if !serving.unchecked.is_empty() => ("!".to_owned(), YELLOW),
        (_, Some(_)) => ("●".to_owned(), GREEN),
        (State::Idle, None) => (" ".to_owned(), DIM),
        (State::Queued, None) => ("·".to_owned(), DIM),
        (State::Running { since }, None) => (spinner(*since), CYAN),
        (State::Gated { .. }, None) => ("◌".to_owned(), CYAN),
        (State::Ok { .. }, None) => ("✓".to_owned(), GREEN),
        (State::Failed { .. }, None) => ("✗".to_owned(), RED),
        (State::Blocked { .. }, None) => ("-".to_owned(), YELLOW),
    };
    line.push(None, "  ".to_owned());
    line.push(Some(style), icon);
    line.push(None, " ".to_owned());
    line.push(Some(BOLD), pad(&row.name, name_width));
    line.push(None, "  ".to_owned());

    let addrs = row.addrs().join(", ");
    if let Some(serving) = &row.serving {
        line.push(Some(GREEN), "serving".to_owned());
        if !addrs.is_empty() {
            line.push(None, format!(" {addrs}"));
        }
        if let Some(pid) = serving.pid {
            line.push(None, format!(" · pid {pid}"));
        }
        line.push(
            None,
            format!(
                " · up {} · build of wave {}",
                up(serving.since),
                serving.wave
            ),
        );
        if !serving.unchecked.is_empty() {
            let starting = if serving.ready {
                ""
            } else {
                "starting (connections wait for it), "
            };
            line.push(
                Some(YELLOW),
                format!(
                    " · unchecked: {starting}serves before {} passed, as no other instance runs",
                    serving.unchecked.join(", ")
                ),
            );
        }
        match &row.state {
            // The state describes the serving instance itself, said above.
            State::Running { .. } | State::Gated { .. } if row.starting_serves() => {}
            State::Running { since } => line.push(
                Some(CYAN),
                format!(
                    " · new build starting {} {}",
                    spinner(*since),
                    running(*since)
                ),
            ),
            State::Queued => line.push(Some(DIM), " · new build queued".to_owned()),
            State::Gated { gates } => line.push(
                Some(CYAN),
                format!(" · new build ready, waits for {} to pass", gates.join(", ")),
            ),
            State::Failed { why, .. } => {
                // The build this row serves is older than the edit.
                line.push(Some(RED), format!(" · new build failed, not live: {why}"));
            }
            State::Blocked { by } => line.push(
                Some(YELLOW),
                format!(" · stale: not restarted, {by} failed"),
            ),
            State::Idle | State::Ok { .. } => {}
        }
    } else {
        let nothing = |line: &mut Line| {
            if row.kind == Kind::Service && !addrs.is_empty() {
                line.push(Some(DIM), format!(" · nothing serves {addrs}"));
            }
        };
        match &row.state {
            State::Idle => {
                line.push(Some(DIM), "idle".to_owned());
                nothing(&mut line);
            }
            State::Queued => {
                line.push(Some(DIM), "queued".to_owned());
                if let Some((lock, holder)) = lock_wait {
                    line.push(
                        Some(DIM),
                        format!(" · waits for lock {lock} ({holder} holds it)"),
                    );
                }
                nothing(&mut line);
            }
            State::Running { since } => {
                let verb = match row.kind {
                    Kind::Task => "running",
                    Kind::Service => "starting",
                };
                line.push(Some(CYAN), format!("{verb} {}", running(*since)));
                nothing(&mut line);
            }
            State::Gated { gates } => line.push(
                Some(CYAN),
                format!("ready, waits for {} to pass", gates.join(", ")),
            ),
            State::Ok { took } => line.push(Some(GREEN), format!("ok {}", seconds(*took))),
            State::Failed { why, took } => {
                let verb = match row.kind {
                    Kind::Task => "failed",
                    Kind::Service => "exited",
                };
                let took = took.map_or_else(String::new, |t| format!(" ({})", seconds(t)));
                line.push(Some(RED), format!("{verb}: {why}{took}"));
                match row.down {
                    Some(Down::RestartAt(at)) => match at.checked_duration_since(view.now) {
                        Some(left) if !left.is_zero() => {
                            line.push(
                                Some(YELLOW),
                                format!("; down, restarting in {}", elapsed(left)),
                            );
                        }
                        _ => line.push(Some(YELLOW), "; down, restarting".to_owned()),
                    },
                    Some(Down::NextChange) => {
                        line.push(None, "; down, restarts at the next change".to_owned());
                    }
                    None if row.kind == Kind::Service => {
                        line.push(None, "; restarts at the next change".to_owned());
                    }
                    None => {}
                }
                nothing(&mut line);
            }
            State::Blocked { by } => {
                line.push(Some(YELLOW), format!("blocked: {by} failed"));
                nothing(&mut line);
            }
        }
    }
    if let Some(note) = &row.note {
        line.push(Some(YELLOW), format!(" · {note}"));
    }
    line
}

/// `name` cut or padded to `width` columns.
fn pad(name: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in name.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.extend(std::iter::repeat_n(' ', width - used));
    out
}

/// A line as styled pieces, cut to a width before colour codes go in.
#[derive(Debug, Default)]
struct Line {
    pieces: Vec<(Option<&'static str>, String)>,
}

impl Line {
    fn push(&mut self, style: Option<&'static str>, text: String) {
        self.pieces.push((style, text));
    }

    /// The line cut to `width` columns (with `…` where it was cut), or filled up to it with
    /// `fill`.
    fn paint(self, width: usize, color: bool, fill: Option<char>) -> Painted {
        let mut text = String::new();
        let mut used = 0;
        let total: usize = self.pieces.iter().map(|(_, t)| t.width()).sum();
        let cut = total > width;
        let budget = if cut { width - 1 } else { width };
        'pieces: for (style, piece) in &self.pieces {
            let mut part = String::new();
            let mut full = false;
            for c in piece.chars() {
                let w = c.width().unwrap_or(0);
                if used + w > budget {
                    full = true;
                    break;
                }
                part.push(c);
                used += w;
            }
            push_styled(&mut text, color, *style, &part);
            if full {
                break 'pieces;
            }
        }
        if cut {
            text.push('…');
            used += 1;
        } else if let Some(fill) = fill {
            let rest: String = std::iter::repeat_n(fill, width - used).collect();
            push_styled(&mut text, color, Some(DIM), &rest);
            used = width;
        }
        Painted { text, width: used }
    }
}

fn push_styled(out: &mut String, color: bool, style: Option<&str>, text: &str) {
    match style {
        Some(code) if color && !text.is_empty() => {
            out.push_str(&format!("\x1b[{code}m{text}\x1b[0m"));
        }
        _ => out.push_str(text),
    }
}
