//! The terminal itself: whether the view may be shown, its size, keys without echo, and
//! putting everything back however hot ends.
//!
//! Keys are read in cbreak mode (no line buffering, no echo), not raw mode: the terminal still
//! turns Ctrl-C into SIGINT and `\n` into a new line, so hot's signal handling and every line
//! written by anyone (a child that opens `/dev/tty`, a panic message) stay as they are.

use std::io::{ErrorKind, IsTerminal, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::mpsc::UnboundedSender;

use super::screen;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    RerunAll,
    RerunFailed,
    ShowFailed,
    Clear,
    Quit,
}

/// The keys in `bytes` as read from the terminal; escape sequences (arrows, function keys) are
/// skipped whole, so their letters are not taken for keys.
pub(crate) fn keys(bytes: &[u8]) -> Vec<Key> {
    let mut keys = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        i += 1;
        match byte {
            0x1b => match bytes.get(i) {
                // CSI: parameters, then one final byte in 0x40..=0x7e.
                Some(b'[') => {
                    i += 1;
                    while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                        i += 1;
                    }
                    i += 1;
                }
                // SS3 (F1-F4, arrows in application mode): one more byte.
                Some(b'O') => i += 2,
                Some(_) => i += 1,
                None => {}
            },
            b'r' | b'R' => keys.push(Key::RerunAll),
            b'f' | b'F' => keys.push(Key::RerunFailed),
            b'o' | b'O' => keys.push(Key::ShowFailed),
            // Ctrl-L clears, as in a shell.
            b'c' | b'C' | 0x0c => keys.push(Key::Clear),
            b'q' | b'Q' => keys.push(Key::Quit),
            _ => {}
        }
    }
    keys
}

/// Whether the view may be drawn: stdout and stderr are a terminal that understands cursor
/// movement. Anything else (a pipe, a file, `TERM=dumb`) gets plain lines.
pub(crate) fn wanted() -> bool {
    let term = std::env::var("TERM").unwrap_or_default();
    std::io::stdout().is_terminal()
        && std::io::stderr().is_terminal()
        && !term.is_empty()
        && term != "dumb"
}

/// Columns and rows of the terminal on stderr (where the view is drawn).
pub(crate) fn size() -> (usize, usize) {
    terminal_size::terminal_size_of(std::io::stderr())
        .map_or((80, 24), |(w, h)| (usize::from(w.0), usize::from(h.0)))
}

/// The panel's rows on screen, for the panic hook: it must not wait for the view's lock.
static PANEL_ROWS: AtomicUsize = AtomicUsize::new(0);
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Records what the terminal shows, so a panic can erase it.
pub(crate) fn shown(rows: usize) {
    PANEL_ROWS.store(rows, Ordering::SeqCst);
    ACTIVE.store(true, Ordering::SeqCst);
}

/// Writes `bytes` to stderr in one write (one frame).
pub(crate) fn write(bytes: &str) {
    if bytes.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(bytes.as_bytes());
    let _ = err.flush();
}

/// For the panic hook: erases the panel, shows the cursor and gives the terminal its modes
/// back, so the panic message lands on a usable terminal.
pub(crate) fn restore_after_panic() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        write(&screen::erase_rows(PANEL_ROWS.load(Ordering::SeqCst)));
    }
    #[cfg(unix)]
    cbreak::restore();
}

/// Reads keys from stdin on a thread of its own and sends them to `tx`. Returns the guard
/// that restores the terminal's modes, or `None` when stdin is not a terminal hot may read
/// (not a terminal, or hot runs in the background, where reading would stop it).
///
/// The thread waits in `poll` and reads only while hot is in the terminal's foreground: after
/// Ctrl-Z and `bg` the shell owns the input, and a read would steal it (or stop hot with
/// SIGTTIN). stdin's file description is the shell's too, so it is never made non-blocking.
#[cfg(unix)]
pub(crate) fn read_keys(tx: UnboundedSender<Key>) -> Option<cbreak::Guard> {
    let guard = cbreak::enter()?;
    let spawned = std::thread::Builder::new()
        .name("hot-keys".into())
        .spawn(move || {
            let mut buf = [0u8; 64];
            while !tx.is_closed() {
                let mut fds = [libc::pollfd {
                    fd: 0,
                    events: libc::POLLIN,
                    revents: 0,
                }];
                // SAFETY: poll on one valid pollfd.
                let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, 250) };
                if ready < 0 && std::io::Error::last_os_error().kind() != ErrorKind::Interrupted {
                    return;
                }
                if ready <= 0 {
                    continue;
                }
                if fds[0].revents & libc::POLLIN == 0 {
                    // Hung up or invalid: no more keys will come.
                    return;
                }
                if !cbreak::foreground() {
                    std::thread::sleep(std::time::Duration::from_millis(250));
                    continue;
                }
                // SAFETY: read into a buffer of that length.
                let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                match n {
                    0 => return,
                    n if n < 0 => {
                        if std::io::Error::last_os_error().kind() != ErrorKind::Interrupted {
                            return;
                        }
                    }
                    n => {
                        let n = usize::try_from(n).unwrap_or(0);
                        for key in keys(&buf[..n]) {
                            if tx.send(key).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
    spawned.ok()?;
    Some(guard)
}

#[cfg(not(unix))]
pub fn read_keys(_tx: UnboundedSender<Key>) -> Option<Guard> {
    None
}

/// Whether hot may use the terminal (it is in its foreground process group).
pub(crate) fn foreground() -> bool {
    #[cfg(unix)]
    return cbreak::foreground();
    #[cfg(not(unix))]
    false
}

/// What gives the terminal its modes back when dropped.
#[cfg(unix)]
pub(crate) type Guard = cbreak::Guard;
#[cfg(not(unix))]
pub type Guard = ();

/// Ctrl-Z under the view (the caller has erased the panel): gives the terminal its modes back,
/// stops hot as the default action would have, and once continued takes the terminal again if
/// hot is back in the foreground.
#[cfg(unix)]
pub(crate) fn stop_and_continue(guard: Option<Guard>) -> Option<Guard> {
    drop(guard);
    // SAFETY: raising a signal at ourselves; SIGSTOP cannot be caught, so this returns once
    // hot is continued.
    unsafe {
        libc::raise(libc::SIGSTOP);
    }
    cbreak::enter()
}

#[cfg(unix)]
pub(crate) mod cbreak {
    use super::OnceLock;

    /// The modes the terminal had before hot changed them.
    static SAVED: OnceLock<libc::termios> = OnceLock::new();

    /// Gives the terminal its modes back when dropped.
    #[derive(Debug)]
    pub(crate) struct Guard(());

    impl Drop for Guard {
        fn drop(&mut self) {
            restore();
        }
    }

    /// Whether hot's process group is the terminal's foreground (only then may it read the
    /// terminal or change its modes without being stopped).
    pub(crate) fn foreground() -> bool {
        // SAFETY: plain libc queries on fd 0.
        unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) == libc::getpgrp() }
    }

    /// Turns off line buffering and echo on stdin, if it is the terminal hot runs in the
    /// foreground of.
    pub(crate) fn enter() -> Option<Guard> {
        if !foreground() {
            return None;
        }
        // SAFETY: plain libc calls on fd 0 with a zeroed, then filled, termios.
        unsafe {
            let mut modes: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut modes) != 0 {
                return None;
            }
            let saved = *SAVED.get_or_init(|| modes);
            let mut cbreak = saved;
            cbreak.c_lflag &= !(libc::ICANON | libc::ECHO);
            cbreak.c_cc[libc::VMIN] = 1;
            cbreak.c_cc[libc::VTIME] = 0;
            if libc::tcsetattr(0, libc::TCSANOW, &cbreak) != 0 {
                return None;
            }
        }
        Some(Guard(()))
    }

    /// Puts back the saved modes (a no-op when hot never changed them).
    pub(crate) fn restore() {
        if let Some(saved) = SAVED.get() {
            // SAFETY: tcsetattr with a termios that tcgetattr filled.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, saved);
            }
        }
    }
}
