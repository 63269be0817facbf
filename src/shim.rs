//! The exec step between hot and every node it runs: places the sockets, then keeps the
//! command (see `keeper`).
//!
//! Theory of operation: no node is spawned directly. The supervisor spawns hot's own
//! executable (`/proc/self/exe` on Linux) as
//!
//! ```text
//! hot __shim [--no-pid] [--shared] [--status <rawfd>] [--exe <path>] [--socket <name> ...] -- <program> <args>...
//! ```
//!
//! with a posix_spawn (std's `Command` with no `pre_exec`: a vfork, so hot's large address
//! space is not copied for every start), so nothing may need to run between fork and exec.
//! The status socket is the shim's standard input (`--status 0`), the one descriptor std
//! hands over; the listening sockets travel over it (`SCM_RIGHTS`, sent by hot before the
//! spawn, one message, in the order of the `--socket` names), so hot never makes a
//! descriptor inheritable. The shim, a fresh single-threaded process with no runtime, no std
//! pipes and no env lock:
//! 1. starts a session of its own (so a process group whose id is its pid, and no controlling
//!    terminal), before anything else: the command it starts joins that group;
//! 2. moves the status socket above the range 3.. where the sockets go, close-on-exec, and
//!    puts `/dev/null` on standard input for the command; receives the sockets;
//! 3. moves the sockets to 3, 4, ... in two phases: first each one is duplicated with
//!    `F_DUPFD_CLOEXEC` *above* the target range and the original closed, then each is `dup2`ed
//!    onto its target (which clears close-on-exec there). A one-phase `dup2` could overwrite a
//!    socket still waiting to be moved (stack-notes P7);
//! 4. clears `O_NONBLOCK` on each, unless `--shared`: the flag lives on the open file
//!    description that hot and every instance share, so a previous instance that made it
//!    non-blocking would otherwise hand that to the next (P3). With `--shared` (another live
//!    instance holds the sockets: a `ready` overlap) the mode is left alone, since clearing it
//!    would turn the *serving* instance's sockets blocking under its event loop, which then
//!    blocks in `accept()` instead of seeing `EAGAIN`;
//! 5. becomes the keeper: forks the program, whose child sets `LISTEN_FDS`, `LISTEN_FDNAMES`
//!    (names joined by `:`) and `LISTEN_PID` to its own pid (empty with `--no-pid`; none of
//!    them without sockets) and `exec`s it, which keeps that pid (with no pid to set, it
//!    posix_spawns the command instead; `--exe` is the program's path hot already resolved,
//!    exec'd with the command's own argv[0]). This cannot be done in hot's
//!    `pre_exec`, where std has already built the child's environment (P1). On failure the
//!    child prints `hot: cannot run `prog`: <why>` and exits 127.
//!
//! `hot __shim --spare` is the same shim started ahead of need: the command's process it
//! forks ahead of need reads everything above (and the directory and environment) from the
//! status socket once hot has it, and execs the command itself (see `spare`).
//!
//! **Dispatch:** the cli must call [`main`] with the arguments after `__shim` when
//! `argv[1] == "__shim"`, before any other parsing (no clap, no runtime, no threads: the
//! keeper forks and its child calls `setenv`, which is only sound with one thread).

use std::ffi::{OsStr, OsString};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;

mod keeper;
pub(crate) mod pass;
#[cfg(target_os = "linux")]
mod prefault;
pub(crate) mod protocol;
mod spare;

/// The shim's first argument, after hot's own path.
pub(crate) const ARG: &str = "__shim";

/// What the supervisor asks the shim to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShimArgs {
    /// The sockets' names, in the order they go to 3, 4, ...; the sockets themselves come
    /// over the status socket, in one message, in the same order.
    pub sockets: Vec<String>,
    /// Leave `LISTEN_PID` empty: the program is a shell that forks the server.
    pub no_pid: bool,
    /// Another live instance uses these sockets: leave their file status flags alone.
    pub shared: bool,
    /// hot's end of the keeper's status socket (see `keeper`).
    pub status: Option<RawFd>,
    /// The program's path as hot already resolved it, so that the exec needs no PATH search
    /// (`command[0]` stays the program's argv[0]).
    pub exe: Option<OsString>,
    /// The program and its arguments.
    pub command: Vec<OsString>,
}

impl ShimArgs {
    /// The arguments after `__shim`, as [`parse`] reads them.
    pub(crate) fn to_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        if self.no_pid {
            args.push("--no-pid".into());
        }
        if self.shared {
            args.push("--shared".into());
        }
        if let Some(fd) = self.status {
            args.push("--status".into());
            args.push(fd.to_string().into());
        }
        if let Some(exe) = &self.exe {
            args.push("--exe".into());
            args.push(exe.clone());
        }
        for name in &self.sockets {
            args.push("--socket".into());
            args.push(name.into());
        }
        args.push("--".into());
        args.extend(self.command.iter().cloned());
        args
    }
}

/// Reads the arguments after `__shim`.
pub(crate) fn parse(args: &[OsString]) -> Result<ShimArgs, String> {
    let mut parsed = ShimArgs {
        sockets: Vec::new(),
        no_pid: false,
        shared: false,
        status: None,
        exe: None,
        command: Vec::new(),
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.to_str() {
            Some("--") => {
                parsed.command = rest.cloned().collect();
                if parsed.command.is_empty() {
                    return Err("no command after `--`".into());
                }
                if !parsed.sockets.is_empty() && parsed.status.is_none() {
                    return Err("`--socket` needs `--status`, which carries the sockets".into());
                }
                return Ok(parsed);
            }
            Some("--no-pid") => parsed.no_pid = true,
            Some("--shared") => parsed.shared = true,
            Some("--status") => {
                let value = rest.next().ok_or("`--status` needs FD")?;
                let fd = value
                    .to_str()
                    .and_then(|v| v.parse().ok())
                    .filter(|fd: &RawFd| *fd >= 0)
                    .ok_or("`--status` needs a file descriptor")?;
                parsed.status = Some(fd);
            }
            Some("--exe") => parsed.exe = Some(rest.next().ok_or("`--exe` needs PATH")?.clone()),
            Some("--socket") => {
                let name = rest.next().ok_or("`--socket` needs NAME")?;
                let name = name.to_str().ok_or("`--socket` name is not UTF-8")?;
                if name.contains(':') {
                    return Err(format!("`--socket {name}`: a name cannot contain `:`"));
                }
                parsed.sockets.push(name.to_string());
            }
            _ => return Err(format!("unexpected argument `{}`", arg.to_string_lossy())),
        }
    }
    Err("missing `--` before the command".into())
}

/// The argument that makes the shim a spare (`hot __shim --spare`): what to run comes over
/// its status socket, standard input, as a `protocol::Launch`.
pub(crate) const SPARE: &str = "--spare";

/// The shim's entry point: `args` are the arguments after `__shim`. Never returns: it
/// becomes the keeper of the program (see `keeper`), or exits 127 (could not run it) or 2
/// (bad arguments, a hot bug).
pub(crate) fn main(args: &[OsString]) -> ! {
    if let [only] = args
        && only == SPARE
    {
        spare::main()
    }
    let args = match parse(args) {
        Ok(args) => args,
        Err(e) => bad_arguments(&e),
    };
    if args.status.is_some() {
        new_session();
    }
    let count = args.sockets.len();
    // Out of the way of 3, 4, ... first, where the sockets go.
    let status = match args.status.map(|fd| lift(fd, 3 + count as RawFd)) {
        Some(Err(e)) => {
            eprintln!("hot: internal error: cannot keep hot's status socket: {e}");
            std::process::exit(127)
        }
        Some(Ok(fd)) => Some(fd),
        None => None,
    };
    // The status socket came as standard input: the command's is /dev/null, as it was hot's.
    if args.status == Some(0) {
        null_stdin();
    }
    let prepared = keeper::prepare(status.is_some());
    keep(args, status, None, prepared)
}

fn bad_arguments(e: &str) -> ! {
    eprintln!("hot: internal error: bad `hot {ARG}` arguments: {e}");
    std::process::exit(2)
}

/// First: the command joins this group, and hot signals the group by this pid. Started by
/// hot's posix_spawn, the shim is never a group leader, so this cannot fail with EPERM; by
/// hand (no status socket) it keeps the caller's session.
fn new_session() {
    // SAFETY: setsid has no preconditions.
    if unsafe { libc::setsid() } < 0 {
        let e = std::io::Error::last_os_error();
        eprintln!("hot: internal error: cannot start a session for the command: {e}");
        std::process::exit(127)
    }
}

/// Receives and places the sockets, then becomes the keeper (`status`: the status socket,
/// already lifted above where the sockets go; `env`: the command's whole environment, when
/// it is not the shim's own).
fn keep(
    args: ShimArgs,
    status: Option<RawFd>,
    env: Option<Vec<(OsString, OsString)>>,
    prepared: keeper::Prepared,
) -> ! {
    keeper::run(placed(args, status, env), prepared)
}

/// Receives and places the sockets (or exits 127 saying why): what the keeper runs.
fn placed(
    args: ShimArgs,
    status: Option<RawFd>,
    env: Option<Vec<(OsString, OsString)>>,
) -> keeper::Keep {
    let count = args.sockets.len();
    let received = match status {
        Some(status) if count > 0 => pass::receive(status, count),
        _ => Ok(Vec::new()),
    };
    let placed = received.and_then(|fds| {
        let fds: Vec<(RawFd, &str)> = fds
            .into_iter()
            .zip(args.sockets.iter().map(String::as_str))
            .collect();
        place(&fds, !args.shared)
    });
    if let Err(e) = placed {
        eprintln!("hot: cannot pass the listening sockets to the service: {e}");
        std::process::exit(127)
    }
    let listen = (count > 0).then(|| (count, args.sockets.join(":"), !args.no_pid));
    keeper::Keep {
        exe: args.exe,
        command: args.command,
        listen,
        status,
        env,
    }
}

/// Puts `/dev/null` on standard input (read-only, inherited by the command). Called once fd 0
/// is free, so the open may land there itself.
fn null_stdin() {
    if let Err(e) = open_null_stdin() {
        eprintln!("hot: internal error: cannot open /dev/null for the command's input: {e}");
        std::process::exit(127)
    }
}

fn open_null_stdin() -> std::io::Result<()> {
    use std::os::fd::IntoRawFd;
    let null = std::fs::File::open("/dev/null")?.into_raw_fd();
    // SAFETY: fcntl/dup2/close on the descriptor just opened; dup2 onto 0, which is free or
    // already this one; either way 0 ends up inheritable (std opened it close-on-exec).
    let done = unsafe {
        if null == 0 {
            libc::fcntl(0, libc::F_SETFD, 0)
        } else {
            let placed = libc::dup2(null, 0);
            libc::close(null);
            placed
        }
    };
    if done < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The highest descriptor number the limit on open files allows.
fn highest_fd() -> RawFd {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return RawFd::MAX;
    }
    RawFd::try_from(limit.rlim_cur.saturating_sub(1)).unwrap_or(RawFd::MAX)
}

/// Moves `fd` to a number at or above `at`, close-on-exec.
fn lift(fd: RawFd, at: RawFd) -> std::io::Result<RawFd> {
    // SAFETY: plain fcntl/close on an fd number handed to us; an invalid one fails with EBADF.
    let high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, at) };
    if high < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the original is ours and has just been duplicated.
    unsafe { libc::close(fd) };
    Ok(high)
}

fn show(program: &OsStr) -> String {
    String::from_utf8_lossy(program.as_bytes()).into_owned()
}

/// An error starting a program or a thread, in words a user can act on.
pub(crate) fn why(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        // What fork, clone and exec say at the process limit, which counts threads too.
        Some(libc::EAGAIN) => {
            return format!(
                "{error}: the limit on processes is reached (`ulimit -u`, or a container's \
                 pids limit); end some processes or raise the limit"
            );
        }
        Some(libc::EMFILE) => {
            return format!("{error}: the limit on open files is reached; raise it (`ulimit -n`)");
        }
        Some(libc::ENFILE) => {
            return format!(
                "{error}: the system's limit on open files is reached (fs.file-max); close \
                 other programs or raise it"
            );
        }
        _ => {}
    }
    match error.kind() {
        std::io::ErrorKind::NotFound => "not found: is it installed and on PATH?".into(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied: is it an executable file (chmod +x)?".into()
        }
        _ => error.to_string(),
    }
}

/// Moves `fds` to 3, 4, ... (two phases, see the module doc) and, when `blocking`, makes each
/// blocking.
fn place(fds: &[(RawFd, &str)], blocking: bool) -> std::io::Result<()> {
    let first: RawFd = 3;
    let above = first + fds.len() as RawFd;
    let mut moved = Vec::with_capacity(fds.len());
    for (fd, name) in fds {
        // SAFETY: plain fcntl on an fd number; an invalid one fails with EBADF.
        let high = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, above) };
        if high < 0 {
            let e = std::io::Error::last_os_error();
            return Err(std::io::Error::new(
                e.kind(),
                format!("socket `{name}` (fd {fd}): {e}"),
            ));
        }
        moved.push(high);
    }
    for (fd, _) in fds {
        // The original would otherwise leak into the server without close-on-exec (P8).
        // SAFETY: the fd was handed to us to move; it has just been duplicated.
        unsafe { libc::close(*fd) };
    }
    for (i, high) in moved.into_iter().enumerate() {
        let target = first + i as RawFd;
        // SAFETY: dup2 onto a number in 3..3+n, all of which we own after the first phase.
        if unsafe { libc::dup2(high, target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `high` is our own duplicate, no longer needed.
        unsafe { libc::close(high) };
        if !blocking {
            continue;
        }
        // SAFETY: reading and writing the file status flags of an fd we own.
        let flags = unsafe { libc::fcntl(target, libc::F_GETFL) };
        if flags < 0
            || (flags & libc::O_NONBLOCK != 0
                // SAFETY: as above.
                && unsafe { libc::fcntl(target, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0)
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn round_trip() {
        let shim = ShimArgs {
            sockets: vec!["http".into(), "admin".into()],
            no_pid: true,
            shared: true,
            status: Some(0),
            exe: Some("/bin/sh".into()),
            command: args(&["sh", "-c", "exec ./app --fd 3"]),
        };
        assert_eq!(parse(&shim.to_args()), Ok(shim.clone()));
        let plain = ShimArgs {
            sockets: vec![],
            no_pid: false,
            shared: false,
            status: None,
            exe: None,
            command: args(&["./app", "--", "--no-pid"]),
        };
        assert_eq!(parse(&plain.to_args()), Ok(plain));
    }

    #[test]
    fn bad_arguments() {
        for (input, expected) in [
            (&["--status", "0", "--socket", "http"][..], "missing `--`"),
            (&["--status", "0", "--socket", "http", "--"], "no command"),
            (&["--socket"], "needs NAME"),
            (
                &["--status", "0", "--socket", "a:b", "--", "x"],
                "cannot contain",
            ),
            (&["--socket", "http", "--", "x"], "needs `--status`"),
            (&["--bogus", "--", "x"], "unexpected argument"),
            (&["--status", "x", "--", "x"], "needs a file descriptor"),
            (&["--exe"], "needs PATH"),
        ] {
            let err = parse(&args(input)).unwrap_err();
            assert!(err.contains(expected), "{input:?}: {err}");
        }
    }
}
