//! A spare keeper: the shim started before hot knows what it will run, so that a start costs
//! hot only a write to a process already running (no exec, loader, runtime start-up or fork
//! on the path from a save to the command).
//!
//! Theory of operation. hot spawns `hot __shim --spare` with the status socket as standard
//! input, as any shim. The spare does what needs no instance (a session of its own, the
//! status socket lifted above every number a socket can take, `/dev/null` on standard input,
//! the keeper's subreaper and signal set-up: `keeper::prepare`) and then forks the command's
//! process ahead of need (`keeper::prefork`): the child, in the keeper's group with the caught
//! signals still blocked, blocks reading the status socket; the parent, the keeper, waits
//! until the child has exec'd (the end of file of a close-on-exec pipe) before it reads that
//! socket itself. When the supervisor starts an instance it writes
//! the spare a `protocol::Launch`: the working directory, the whole environment and the
//! shim's arguments, all taken at that moment, so nothing the spare was started with reaches
//! the command. The child then does what a shim does before the keeper forks (the sockets'
//! message, placing) and execs the command itself, so `LISTEN_PID` is its own pid; the child
//! tells hot the pid its command will run as before it waits for the launch (hot reads it
//! after the launch: nothing wakes hot between the launch and the exec), and the keeper keeps
//! it like any other (`keeper::adopt`). End of file before the
//! launch is hot gone: the child has started nothing, so it just exits, and the keeper ends
//! with it; the keeper's group is what hot kills, the child in it (and, on Linux, the child
//! dies with the keeper while it waits).

use std::ffi::OsString;
use std::io;
use std::os::fd::RawFd;

use super::keeper::{Forked, Prepared};
use super::pass;
use super::protocol::Launch;

/// The spare's entry point (`hot __shim --spare`). Never returns.
pub(super) fn main() -> ! {
    super::new_session();
    // Above 3..3+n for the most sockets a service may have (their count is not known yet),
    // or as high as a low limit on open files lets it: `launched` lifts it past the sockets.
    let status = match super::lift(0, (3 + pass::MAX as RawFd).min(super::highest_fd())) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("hot: internal error: cannot keep hot's status socket: {e}");
            std::process::exit(127)
        }
    };
    super::null_stdin();
    let prepared = super::keeper::prepare(true);
    match super::keeper::prefork() {
        Ok(Forked::Command) => {
            super::keeper::announce(status);
            launched(status, prepared, true)
        }
        Ok(Forked::Keeper { child, handoff }) => {
            super::keeper::adopt(child, handoff, status, prepared)
        }
        // No second process: this one reads the launch and forks at the start, as a shim
        // spawned for it would.
        Err(_) => launched(status, prepared, false),
    }
}

/// Reads the launch, enters its directory and places its sockets; then execs the command
/// (`exec`: this is the command's own process) or becomes its keeper.
fn launched(status: RawFd, prepared: Prepared, exec: bool) -> ! {
    let launch = match read(status) {
        Ok(Some(launch)) => launch,
        // hot is gone, or dropped its spare: nothing was started, nothing is left to end.
        // SAFETY: _exit has no preconditions.
        Ok(None) => unsafe { libc::_exit(0) },
        Err(e) => {
            eprintln!("hot: internal error: the spare keeper's orders: {e}");
            std::process::exit(2)
        }
    };
    // The status socket is the one the spare holds, whatever number hot may think it has.
    let mut args: Vec<OsString> = vec!["--status".into(), status.to_string().into()];
    args.extend(launch.args);
    let mut args = match super::parse(&args) {
        Ok(args) if args.status == Some(status) => args,
        Ok(_) => super::bad_arguments("a launch names its own `--status`"),
        Err(e) => super::bad_arguments(&e),
    };
    // Under a low limit on open files the status socket may sit where a socket goes.
    let count = args.sockets.len() as RawFd;
    let status = if status < 3 + count {
        match super::lift(status, 3 + count) {
            Ok(lifted) => lifted,
            Err(e) => {
                eprintln!(
                    "hot: cannot run `{}`: no room for its {} sockets: {}",
                    super::show(&args.command[0]),
                    count,
                    super::why(&e)
                );
                std::process::exit(127)
            }
        }
    } else {
        status
    };
    args.status = Some(status);
    if let Err(e) = std::env::set_current_dir(&launch.dir) {
        eprintln!(
            "hot: cannot run `{}`: cannot enter its directory {}: {e}",
            super::show(&args.command[0]),
            std::path::Path::new(&launch.dir).display()
        );
        std::process::exit(127)
    }
    let keep = super::placed(args, Some(status), Some(launch.env));
    if exec {
        super::keeper::exec_launched(keep, prepared)
    }
    super::keeper::run(keep, prepared)
}

/// Reads the launch; `None` at end of file (before or within it: hot is gone).
fn read(status: RawFd) -> io::Result<Option<Launch>> {
    let mut header = [0u8; Launch::HEADER];
    if !read_exact(status, &mut header)? {
        return Ok(None);
    }
    let len = Launch::body_len(&header).map_err(invalid)?;
    let mut body = vec![0u8; len];
    if !read_exact(status, &mut body)? {
        return Ok(None);
    }
    Launch::parse(&body).map(Some).map_err(invalid)
}

fn invalid(e: super::protocol::ParseError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Fills `buf` from the (blocking) socket, no byte past it: what follows is the sockets'
/// message, whose descriptors a plain read would drop. False at end of file.
fn read_exact(socket: RawFd, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        let rest = &mut buf[got..];
        // SAFETY: a read into the unfilled part of a live buffer.
        let n = unsafe { libc::recv(socket, rest.as_mut_ptr().cast(), rest.len(), 0) };
        match n {
            0 => return Ok(false),
            n if n > 0 => got += n as usize,
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(true)
}
