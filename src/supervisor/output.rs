//! Reading a child's output pipe into pieces the reporter can show, in bounded memory.
//!
//! A child may write anything: gigabytes without a newline (`cat /dev/zero`), a progress bar
//! that redraws itself with `\r`, a prompt that waits on the same line. Reading up to each
//! `\n` grew a buffer without bound (hot peaked at 1.58 GB under `timeout 1 cat /dev/zero`)
//! and showed a `\r` progress bar only when the task ended. So a line ends at `\n`, or is
//! split once it reaches [`MAX_LINE`]; a `\r` (not part of `\r\n`) ends an update, shown at
//! once as a line of its own; and text that waits without a newline is shown after
//! [`PARTIAL_AFTER`], the rest of its line following when it comes. What waits is offered at
//! once to a second callback (for `ready log`: a server that prints its ready line without a
//! newline must not be seen as ready only [`PARTIAL_AFTER`] later). Before its pieces are
//! handed on, each batch of a read awaits a third (`room`), with at most how many pieces and
//! bytes it makes: the reporter's pace, so a flood waits in the child rather than being dropped.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

/// The longest line kept whole; a longer one is shown in pieces of at most this size.
pub(super) const MAX_LINE: usize = 64 * 1024;

/// How long text without a newline waits before it is shown anyway.
pub(super) const PARTIAL_AFTER: Duration = Duration::from_millis(150);

/// Bytes read from the pipe at a time.
const CHUNK: usize = 8 * 1024;

/// Line ends handed on at a time, at most: what [`read`]'s `room` is asked for.
const BATCH: usize = 256;

/// What [`read`] hands on: the text to show now, and the whole line so far (for `ready log`
/// matching, which must see a line whole even when it was shown in parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Piece<'a> {
    /// Not shown before: a whole line, the rest of one, or a partial one.
    pub text: &'a str,
    /// The line from its start (at most [`MAX_LINE`] bytes), `text` included.
    pub line: &'a str,
}

/// Calls `f` with each piece of `pipe`'s output until end of file or a read error. Line ends
/// (`\n`, `\r\n`, a lone `\r`) are not part of the text; invalid UTF-8 is replaced.
/// After each read that leaves a line without its end, `waiting` gets that line so far (its
/// bytes from its start, at most [`MAX_LINE`]), before it is shown. Each read is first passed
/// to `room`, [`BATCH`] line ends at a time, as at most how many pieces and bytes it makes, to
/// await.
pub(super) async fn read<Room: Future<Output = ()>>(
    mut pipe: impl AsyncRead + Unpin,
    mut f: impl FnMut(Piece<'_>),
    mut waiting: impl FnMut(&[u8]),
    mut room: impl FnMut(usize, usize) -> Room,
) {
    let mut lines = Lines::default();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match lines.due() {
            Some(due) => match tokio::time::timeout_at(due, pipe.read(&mut chunk)).await {
                Ok(read) => read,
                Err(_) => {
                    lines.waited(&mut f);
                    continue;
                }
            },
            None => pipe.read(&mut chunk).await,
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                // Handed on [`BATCH`] line ends at a time, each batch once the reporter has
                // room for it: a read of short lines (`seq`) makes more pieces than the
                // reporter's queue lets output hold.
                let mut rest = &chunk[..n];
                while !rest.is_empty() {
                    let mut ends = memchr::memchr2_iter(b'\n', b'\r', rest);
                    let cut = ends.nth(BATCH - 1).map_or(rest.len(), |at| at + 1);
                    let (now, later) = rest.split_at(cut);
                    // A piece per line end, one for a split at the cap, one for the rest.
                    room(BATCH + 2, now.len()).await;
                    lines.push(now, Instant::now(), &mut f);
                    rest = later;
                }
                if let Some(line) = lines.unended() {
                    waiting(line);
                }
            }
        }
    }
    lines.finish(&mut f);
}

/// The line being read, and how much of it is shown already.
#[derive(Default)]
struct Lines {
    buf: Vec<u8>,
    shown: usize,
    /// A `\r` ended the last read and its line was shown: a `\n` right after it belongs to it.
    /// True if that line was empty (so `\r\n` makes an empty line).
    cr: Option<bool>,
    /// When the oldest text not yet shown arrived.
    waiting_since: Option<Instant>,
}

impl Lines {
    /// When the text waiting without a line end is to be shown.
    fn due(&self) -> Option<Instant> {
        self.waiting_since.map(|since| since + PARTIAL_AFTER)
    }

    /// The line read so far, if it has text and no end yet.
    fn unended(&self) -> Option<&[u8]> {
        (!self.buf.is_empty() && self.cr.is_none()).then_some(&self.buf[..])
    }

    fn push(&mut self, bytes: &[u8], now: Instant, f: &mut impl FnMut(Piece<'_>)) {
        let mut rest = bytes;
        if let Some(empty) = self.cr.take()
            && rest.first() == Some(&b'\n')
        {
            rest = &rest[1..];
            if empty {
                // `\r\n` split between reads: an empty line after all.
                show(b"", 0, f);
            }
        }
        while let Some(at) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.append(&rest[..at], f);
            let cr = rest[at] == b'\r';
            rest = &rest[at + 1..];
            // A `\r` ending this read is shown at once; a `\n` starting the next is its.
            self.cr = (cr && rest.is_empty()).then_some(self.buf.is_empty());
            let newline = !cr || rest.first() == Some(&b'\n');
            if cr && newline {
                rest = &rest[1..];
            }
            self.end(newline, f);
        }
        self.append(rest, f);
        if self.shown < self.buf.len() {
            self.waiting_since.get_or_insert(now);
        }
    }

    /// Adds text to the current line, splitting it at [`MAX_LINE`] (never inside a
    /// character). The buffer holds at most `MAX_LINE` plus one read.
    fn append(&mut self, bytes: &[u8], f: &mut impl FnMut(Piece<'_>)) {
        self.buf.extend_from_slice(bytes);
        while self.buf.len() > MAX_LINE {
            let cut = match char_boundary(&self.buf[..MAX_LINE]) {
                0 => MAX_LINE,
                cut => cut.max(self.shown),
            };
            if cut > self.shown {
                show(&self.buf[..cut], self.shown, f);
            }
            self.buf.drain(..cut);
            self.shown = 0;
            self.waiting_since = None;
        }
    }

    /// The line is over: shows what is not shown yet (an empty line too, for a `\n` that
    /// ends a line not shown in parts) and starts the next.
    fn end(&mut self, newline: bool, f: &mut impl FnMut(Piece<'_>)) {
        if self.shown < self.buf.len() || (newline && self.shown == 0) {
            show(&self.buf, self.shown, f);
        }
        self.buf.clear();
        self.shown = 0;
        self.waiting_since = None;
    }

    /// [`PARTIAL_AFTER`] passed with text and no line end: show it, up to its last whole
    /// character.
    fn waited(&mut self, f: &mut impl FnMut(Piece<'_>)) {
        self.waiting_since = None;
        let upto = self.shown + char_boundary(&self.buf[self.shown..]);
        if upto > self.shown {
            show(&self.buf[..upto], self.shown, f);
            self.shown = upto;
        }
    }

    fn finish(&mut self, f: &mut impl FnMut(Piece<'_>)) {
        self.end(false, f);
    }
}

fn show(line: &[u8], shown: usize, f: &mut impl FnMut(Piece<'_>)) {
    let whole = String::from_utf8_lossy(line);
    // `shown` is a char boundary of the bytes, so the lossy text splits there too, unless a
    // replacement changed lengths before it: then convert the new part on its own.
    let text = match whole.get(shown..) {
        Some(text) if whole.len() == line.len() => std::borrow::Cow::Borrowed(text),
        _ => String::from_utf8_lossy(&line[shown..]),
    };
    f(Piece {
        text: &text,
        line: &whole,
    });
}

/// How much of `bytes` can be taken without cutting a UTF-8 character in two: all of it,
/// unless it ends inside a character that may still complete (then up to before it).
fn char_boundary(bytes: &[u8]) -> usize {
    for i in (bytes.len().saturating_sub(3)..bytes.len()).rev() {
        let width = match bytes[i] {
            0x80..=0xBF => continue, // a continuation byte: its lead is further back
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if i + width > bytes.len() {
            i
        } else {
            bytes.len()
        };
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pieces(input: impl AsyncRead + Unpin) -> Vec<(String, String)> {
        let mut got = Vec::new();
        read(
            input,
            |p| got.push((p.text.to_string(), p.line.to_string())),
            |_| {},
            |_, _| async {},
        )
        .await;
        got
    }

    fn texts(pieces: &[(String, String)]) -> Vec<&str> {
        pieces.iter().map(|(t, _)| t.as_str()).collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn output_lines() {
        let got = pieces(&b"one\ntwo\r\n\nbad \xff byte\nlast without newline"[..]).await;
        assert_eq!(
            texts(&got),
            [
                "one",
                "two",
                "",
                "bad \u{fffd} byte",
                "last without newline"
            ]
        );
        assert!(pieces(&b""[..]).await.is_empty());
    }

    /// A `\r` progress bar showed nothing until the task ended; now each update is a line.
    #[tokio::test(flavor = "current_thread")]
    async fn carriage_return_updates_are_shown_as_they_come() {
        let got = pieces(&b"10%\r20%\r30%\rdone\r\nnext\n\r"[..]).await;
        assert_eq!(texts(&got), ["10%", "20%", "30%", "done", "next"]);
        // Split between reads, `\r\n` is still one line end.
        let (mut tx, rx) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            read(
                rx,
                |p| got.push(p.text.to_string()),
                |_| {},
                |_, _| async {},
            )
            .await;
            got
        });
        use tokio::io::AsyncWriteExt;
        for part in [&b"a\r"[..], b"\nb\r", b"c\r", b"\n\r", b"\n"] {
            tx.write_all(part).await.unwrap();
            tokio::task::yield_now().await;
        }
        drop(tx);
        assert_eq!(reader.await.unwrap(), ["a", "b", "c", ""]);
    }

    /// Output without a newline grew one buffer without bound (1.58 GB for a second of
    /// `cat /dev/zero`); lines are now split at MAX_LINE.
    #[tokio::test(flavor = "current_thread")]
    async fn lines_without_newline_are_split_at_the_cap() {
        let input = vec![b'a'; 3 * MAX_LINE + 10];
        let got = pieces(&input[..]).await;
        let lens: Vec<usize> = got.iter().map(|(t, _)| t.len()).collect();
        assert_eq!(lens, [MAX_LINE, MAX_LINE, MAX_LINE, 10]);
        // A split never cuts a character in two.
        let mut input = vec![b'a'; MAX_LINE - 1];
        input.extend_from_slice("é\n".as_bytes());
        let got = pieces(&input[..]).await;
        assert_eq!(texts(&got)[1], "é");
        assert!(got.iter().all(|(t, _)| !t.contains('\u{fffd}')));
    }

    /// `seq` into `hot ci > ci.log` lost most of its lines: a read of short lines makes more
    /// pieces than the reporter lets output queue. Each batch of them now awaits its room first,
    /// asking for at least as many pieces as it makes, and for every byte.
    #[tokio::test(flavor = "current_thread")]
    async fn short_lines_are_handed_on_in_batches_each_after_its_room() {
        let input: Vec<u8> = (0..3000)
            .flat_map(|n| format!("{n}\n").into_bytes())
            .collect();
        // `None` for a piece, `Some((pieces, bytes))` for a wait for room.
        let log = std::cell::RefCell::new(Vec::new());
        read(
            &input[..],
            |_| log.borrow_mut().push(None),
            |_| {},
            |pieces, bytes| {
                log.borrow_mut().push(Some((pieces, bytes)));
                async {}
            },
        )
        .await;
        let log = log.into_inner();
        assert_eq!(log.iter().filter(|e| e.is_none()).count(), 3000);
        let asked: usize = log.iter().flatten().map(|(_, bytes)| bytes).sum();
        assert_eq!(asked, input.len());
        let waits: Vec<usize> = log.iter().flatten().map(|(pieces, _)| *pieces).collect();
        assert!(waits.len() >= 3000 / BATCH, "{} waits", waits.len());
        // The pieces made after each wait, up to the next.
        let made = log.split(Option::is_some).skip(1).map(<[_]>::len);
        assert!(waits.iter().zip(made).all(|(asked, made)| made <= *asked));
    }

    /// A prompt or a `Compiling...` that waits on its line is shown after a short wait,
    /// and the rest of its line follows when it comes; `line` is always the whole line.
    #[tokio::test(flavor = "current_thread")]
    async fn partial_line_is_shown_after_a_short_wait() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let reader = tokio::spawn(pieces(rx));
        use tokio::io::AsyncWriteExt;
        tx.write_all("waiting é".as_bytes()).await.unwrap();
        // Half of a two-byte character, then nothing for a while: shown up to before it.
        tx.write_all(&"é".as_bytes()[..1]).await.unwrap();
        tokio::time::sleep(PARTIAL_AFTER * 3).await;
        tx.write_all(&"é".as_bytes()[1..]).await.unwrap();
        tx.write_all(b" done\n").await.unwrap();
        drop(tx);
        let got = reader.await.unwrap();
        assert_eq!(
            got,
            [
                ("waiting é".to_string(), "waiting é".to_string()),
                ("é done".to_string(), "waiting éé done".to_string()),
            ]
        );
    }

    /// `ready log` saw a line only once it was shown, so a ready line printed without a
    /// newline (`process.stdout.write("ready")`) made the server ready PARTIAL_AFTER late.
    /// The waiting line is now offered as soon as it is read, before it is shown.
    #[tokio::test(flavor = "current_thread")]
    async fn ready_line_without_newline_is_offered_before_it_is_shown() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (shown, offered) = (order.clone(), order.clone());
        let reader = tokio::spawn(async move {
            read(
                rx,
                |p| shown.lock().unwrap().push(format!("shown {}", p.text)),
                |line| {
                    let line = String::from_utf8_lossy(line).into_owned();
                    offered.lock().unwrap().push(format!("waiting {line}"))
                },
                |_, _| async {},
            )
            .await;
        });
        use tokio::io::AsyncWriteExt;
        tx.write_all(b"ready").await.unwrap();
        tokio::time::sleep(PARTIAL_AFTER * 3).await;
        tx.write_all(b" now\nnext\r").await.unwrap();
        drop(tx);
        reader.await.unwrap();
        assert_eq!(
            *order.lock().unwrap(),
            ["waiting ready", "shown ready", "shown  now", "shown next"]
        );
    }
}
