//! Listening sockets that hot binds once and hands to every service instance.
//!
//! Theory of operation: hot binds each declared `socket` itself, at start, and holds the
//! listener for its whole life. Every instance of the service inherits a duplicate of it (see
//! `shim`), so a restart never closes the port: connections that arrive while no instance
//! accepts wait in the kernel backlog instead of being refused.
//!
//! On Linux each instance gets a listening socket of its own at the address instead, and the
//! kernel steers every new connection to the serving instance's socket alone (see `steer`): an
//! old instance gets no new connection once its successor is ready, and is stopped once it has
//! answered what it holds. Where the kernel cannot steer (another system, an old kernel) every
//! instance shares the one held socket, as described here.
//!
//! The listeners are created the way the supervisor needs them:
//! * `SO_REUSEADDR` on, so a restart of hot itself is not refused by lingering `TIME_WAIT`s;
//! * **not** `SO_REUSEPORT` at bind: with it, a second process binding the same port would
//!   silently share the traffic instead of failing (stack-notes §3). A steered group sets it
//!   only after its first socket is bound, so a port someone holds still fails to bind;
//! * `IPV6_V6ONLY` for IPv6, so `[::1]:3000` and `127.0.0.1:3000` are separate sockets;
//! * backlog 1024, since std's 128 overflows during a long rebuild under load (P15);
//! * blocking and close-on-exec in hot: only the shim's child gets them, on purpose.
//!
//! A socket hot lets go of (a reload drops or moves it, a broken one is renewed) stays open in
//! hot while a live instance has it (`Sockets::kept`): the supervisor tells that a new
//! instance shares a live one's socket by hot's fd number, which a closed socket would free
//! for the next socket hot makes.

use std::net::SocketAddr;

use miette::Diagnostic;
use thiserror::Error;

use crate::engine::Generation;
use crate::model::{Kind, Project};

#[cfg(target_os = "linux")]
mod relay;
#[cfg(target_os = "linux")]
mod steer;

/// The listen backlog: std's 128 overflows during a long rebuild under load (P15).
#[cfg(unix)]
const BACKLOG: i32 = 1024;

#[cfg(unix)]
pub use std::os::fd::RawFd;
/// Stand-in so the signatures exist off Unix; nothing there produces one.
#[cfg(not(unix))]
pub type RawFd = i32;

/// Why a declared socket could not be bound.
#[derive(Debug, Error, Diagnostic)]
pub enum SocketError {
    #[error("cannot listen on {addr}: {}", reason(.source))]
    #[diagnostic(code(hot::socket::bind), help("{help}"))]
    Bind {
        /// The node that declares the socket.
        node: String,
        /// The socket's name.
        name: String,
        addr: SocketAddr,
        /// What to do about it (names the process holding the port when it can be found).
        help: String,
        #[source]
        source: std::io::Error,
    },
    #[error("listening sockets are only supported on Unix")]
    #[diagnostic(
        code(hot::socket::unsupported),
        help("remove the `socket` lines from service `{node}`, or run hot on Linux or macOS")
    )]
    Unsupported { node: String },
}

/// The short form of a bind error, e.g. "address in use".
fn reason(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::AddrInUse => "address in use".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::AddrNotAvailable => "address not available".into(),
        _ => error.to_string(),
    }
}

/// The bound listeners, keyed by (node name, socket name, declared address).
#[derive(Debug, Default)]
pub struct Sockets {
    held: Vec<Held>,
    /// Why the kernel cannot steer, until it has been said (once).
    unsteered: Option<String>,
    said: bool,
    /// Sockets hot no longer uses, open until the instances that have them have exited.
    #[cfg(unix)]
    kept: Vec<Kept>,
    /// Tests: no fresh spare can be made (as when hot is out of file descriptors).
    #[cfg(all(test, target_os = "linux"))]
    refuse_spares: bool,
}

#[derive(Debug)]
#[cfg_attr(not(unix), allow(dead_code))]
struct Held {
    node: String,
    name: String,
    /// As declared (the port may be 0).
    declared: SocketAddr,
    /// As bound (port 0 resolved).
    local: SocketAddr,
    /// The held listener: shared by every instance, or where the kernel steers, the spare
    /// (the next instance's own socket, and the one hot answers while nothing serves).
    #[cfg(unix)]
    socket: socket2::Socket,
    /// The reuseport group, where the kernel steers.
    #[cfg(target_os = "linux")]
    group: Option<steer::Group>,
    /// The spare's relay to the serving instance, while the group steers to one (see `relay`).
    #[cfg(target_os = "linux")]
    relay: Option<relay::Relay>,
    /// The local ports of the relay's own connections to this address, kept across relays of
    /// this socket: one that comes back to the spare is the relay's own.
    #[cfg(target_os = "linux")]
    ours: relay::Ours,
    /// Live instances given the held socket itself: every instance where the kernel does not
    /// steer; where it does, those whose own socket could not be made, which share the spare.
    /// While there are any, nothing relays from the spare, since the relay's non-blocking mode
    /// would be theirs too (one open file description), and they accept from it anyway; and the
    /// spare is nobody's to take: a later instance gets a fresh socket beside it (`steer::Group::join`).
    sharers: Vec<Generation>,
}

/// A socket hot has let go of, held open for the live instances that have it (`users`):
/// closed, its number would be free for the next socket hot makes, and an instance given that
/// one would look like it shared a live instance's socket (see the module doc).
#[cfg(unix)]
#[derive(Debug)]
struct Kept {
    /// Held, never read: closed when the last user has exited.
    _socket: socket2::Socket,
    users: Vec<Generation>,
}

impl Sockets {
    /// No sockets.
    pub fn new() -> Self {
        Sockets::default()
    }

    /// Binds every socket of every service in `project` that is not bound yet and drops the
    /// ones no longer declared (for a reload). All or nothing: on error, the sockets held
    /// before the call are all still held and nothing new is.
    pub fn bind_for(&mut self, project: &Project) -> Result<(), SocketError> {
        // Each declared socket is either one already held (its index in `self.held`) or a
        // fresh one; `self.held` is only rearranged once every bind has succeeded.
        enum Slot {
            Kept(usize, String, String),
            Fresh(Held),
        }
        let mut claimed = vec![false; self.held.len()];
        let mut slots = Vec::new();
        for node in project.nodes.iter().filter(|n| n.kind == Kind::Service) {
            for spec in &node.sockets {
                let unclaimed = |i: &usize| !claimed[*i];
                let exact = (0..self.held.len()).filter(unclaimed).find(|&i| {
                    let h = &self.held[i];
                    h.node == node.name && h.name == spec.name && h.declared == spec.addr
                });
                // A renamed node or socket keeps its fixed port (as does a port 0 rewritten as
                // the port it got): rebinding it while the old listener is still held would
                // fail with "address in use".
                let found = exact.or_else(|| {
                    (0..self.held.len()).filter(unclaimed).find(|&i| {
                        let h = &self.held[i];
                        spec.addr.port() != 0 && (h.declared == spec.addr || h.local == spec.addr)
                    })
                });
                match found {
                    Some(i) => {
                        claimed[i] = true;
                        slots.push(Slot::Kept(i, node.name.to_string(), spec.name.clone()));
                    }
                    // On error the fresh ones bound so far are dropped (closed) with `slots`.
                    None => {
                        let (held, why) = bind_held(&node.name, &spec.name, spec.addr)?;
                        if let Some(why) = why {
                            self.unsteered.get_or_insert(why);
                        }
                        slots.push(Slot::Fresh(held));
                    }
                }
            }
        }
        let mut old: Vec<Option<Held>> = std::mem::take(&mut self.held)
            .into_iter()
            .map(Some)
            .collect();
        self.held = slots
            .into_iter()
            .filter_map(|slot| match slot {
                Slot::Kept(i, node, name) => old[i].take().map(|mut h| {
                    h.node = node;
                    h.name = name;
                    h
                }),
                Slot::Fresh(h) => Some(h),
            })
            .collect();
        #[cfg(unix)]
        for dropped in old.into_iter().flatten() {
            self.kept.extend(dropped.let_go());
        }
        Ok(())
    }

    /// Finds the held sockets that no longer accept (a server called `shutdown()` on the
    /// listener it shares with hot, which breaks it for every later instance) and binds a
    /// fresh one at the same address in place of each. Returns (node, socket name, address,
    /// the bind error if the fresh one could not be bound).
    #[cfg(unix)]
    pub fn renew_broken(&mut self) -> Vec<(String, String, SocketAddr, Option<SocketError>)> {
        let mut renewed = Vec::new();
        for held in &mut self.held {
            // An error (hot's own fd is fine by construction) counts as still accepting.
            if listens(&held.socket).unwrap_or(true) {
                continue;
            }
            #[cfg(target_os = "linux")]
            if let Some(group) = &mut held.group {
                // The instances' own sockets listen in the group: the fresh spare joins it.
                held.relay = None;
                let error = match group.renew_spare(&mut held.socket, held.local) {
                    Ok(broken) => {
                        // Its sharers keep the broken one; the fresh one is nobody's yet.
                        let users = std::mem::take(&mut held.sharers);
                        if !users.is_empty() {
                            self.kept.push(Kept {
                                _socket: broken,
                                users,
                            });
                        }
                        None
                    }
                    Err(e) => Some(bind_error(&held.node, &held.name, held.local, e)),
                };
                renewed.push((held.node.clone(), held.name.clone(), held.local, error));
                continue;
            }
            // SO_REUSEADDR lets the fresh socket bind while the broken one, no longer
            // listening, still exists in hot and in any instance holding it.
            let error = match bind_held(&held.node, &held.name, held.local) {
                Ok((mut fresh, _)) => {
                    fresh.declared = held.declared;
                    #[cfg(target_os = "linux")]
                    {
                        fresh.ours = std::mem::take(&mut held.ours);
                    }
                    // No instance has the fresh socket yet; those that had the old keep it.
                    let old = std::mem::replace(held, fresh);
                    self.kept.extend(old.let_go());
                    None
                }
                Err(e) => Some(e),
            };
            renewed.push((held.node.clone(), held.name.clone(), held.local, error));
        }
        renewed
    }

    /// Off Unix nothing is ever bound.
    #[cfg(not(unix))]
    pub fn renew_broken(&mut self) -> Vec<(String, String, SocketAddr, Option<SocketError>)> {
        Vec::new()
    }

    /// Why the kernel cannot steer connections to each instance's own socket, the first time
    /// it is asked after that was found (hot then shares one socket between instances).
    pub fn unsteered(&mut self) -> Option<String> {
        if self.said {
            return None;
        }
        let why = self.unsteered.clone()?;
        self.said = true;
        Some(why)
    }

    /// Whether the kernel steers every held socket: each instance can be kept from new
    /// connections until hot steers them to it.
    pub fn steers(&self) -> bool {
        self.unsteered.is_none()
    }

    /// The sockets for a new instance `generation` of node `name`, as [`Sockets::for_node`]
    /// lists them, and whether they are its own (steered; else shared by every instance).
    /// Where the kernel steers, the instance takes the spare, with the connections queued on
    /// it, and a fresh spare joins the group.
    pub fn for_instance(
        &mut self,
        name: &str,
        generation: Generation,
    ) -> (Vec<(String, RawFd, SocketAddr)>, bool) {
        let mut own = true;
        #[cfg(all(test, target_os = "linux"))]
        let refused = self.refuse_spares;
        #[cfg(not(all(test, target_os = "linux")))]
        let refused = false;
        for held in self.held.iter_mut().filter(|h| h.node == name) {
            if !held.take_spare(generation, refused) {
                own = false;
                held.sharers.push(generation);
            }
        }
        let fds = self
            .held
            .iter()
            .filter(|h| h.node == name)
            .map(|h| (h.name.clone(), h.raw_fd_of(generation), h.local))
            .collect::<Vec<_>>();
        own &= !fds.is_empty() && cfg!(target_os = "linux");
        (fds, own)
    }

    /// Steers new connections to node `name`'s instance `target` (`None`: to the spare, for
    /// the next instance or hot's own answer). While an instance's socket is the target, what
    /// still lands on the spare (a crashed target's queue) is relayed to it. A no-op where the
    /// kernel does not steer.
    pub fn steer(&mut self, name: &str, target: Option<Generation>) {
        #[cfg(target_os = "linux")]
        for held in self.held.iter_mut().filter(|h| h.node == name) {
            if let Some(group) = &mut held.group {
                group.steer(&held.socket, target);
                // Dropped the moment the spare is the target: hot would connect to itself.
                held.relay = match held.relay.take() {
                    _ if !group.steers_to_instance() || !held.sharers.is_empty() => None,
                    Some(relay) if !relay.is_finished() => Some(relay),
                    _ => relay::Relay::start(&held.socket, held.local, &held.ours),
                };
            }
        }
        let _ = (name, target);
    }

    /// Instance `generation` has exited: its own sockets leave their groups (closing them in
    /// hot), and steering follows the order's change. What it left queued on them is passed
    /// on to the service's address (see `relay`), not reset. The sockets hot let go of that
    /// only it still had are closed.
    pub fn retire(&mut self, generation: Generation) {
        #[cfg(unix)]
        self.kept.retain_mut(|kept| {
            kept.users.retain(|g| *g != generation);
            !kept.users.is_empty()
        });
        for held in &mut self.held {
            held.sharers.retain(|g| *g != generation);
            #[cfg(target_os = "linux")]
            if let Some(group) = &mut held.group {
                // The spare may change (a crashed target's socket takes its place) and steering
                // with it: the next steer relays from the right one, if any.
                held.relay = None;
                let queued = group.retire(&mut held.socket, generation, !held.sharers.is_empty());
                relay::pass_on(queued, held.local);
            }
        }
    }

    /// The sockets of node `name` in declared order: (socket name, raw fd, actual local
    /// address with port 0 resolved). The fds stay owned by `self`.
    pub fn for_node(&self, name: &str) -> Vec<(String, RawFd, SocketAddr)> {
        self.held
            .iter()
            .filter(|h| h.node == name)
            .map(|h| (h.name.clone(), h.raw_fd(), h.local))
            .collect()
    }
}

/// Whether `socket` still listens: `SO_ACCEPTCONN`, a POSIX option that macOS and the BSDs
/// answer too (socket2's `is_listener` reads it only on Linux and FreeBSD). Asking steals
/// nothing from the backlog, unlike an accept probe would.
#[cfg(unix)]
fn listens(socket: &socket2::Socket) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into the local `value`.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if result != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(value != 0)
}

impl Held {
    /// Gives the spare to instance `generation` as its own socket, where the kernel steers
    /// (see `steer`); `false`: it shares the held socket instead. `refused`: tests, no fresh
    /// spare can be made.
    #[cfg(target_os = "linux")]
    fn take_spare(&mut self, generation: Generation, refused: bool) -> bool {
        let Some(group) = &mut self.group else {
            return false;
        };
        // Before the instance takes the spare: from now on its queue is the instance's.
        self.relay = None;
        // Out of fds or ports: this instance shares the spare instead. Its shim clears the
        // mode the relay set (no other live instance holds the spare, or it is a sharer too,
        // for whom nothing relayed since), and nothing sets it again while it lives.
        !refused
            && if self.sharers.is_empty() {
                group.take_spare(&mut self.socket, self.local, generation)
            } else {
                // Given away, the spare would leave the group with its taker's exit, and
                // its sharers' `accept` would end with it.
                group.join(self.local, generation)
            }
            .is_ok()
    }

    #[cfg(not(target_os = "linux"))]
    fn take_spare(&mut self, _generation: Generation, _refused: bool) -> bool {
        false
    }

    /// What live instances still have of this socket, hot letting go of it: the held socket
    /// (its sharers') and the instances' own (their group's members).
    #[cfg(unix)]
    fn let_go(self) -> Vec<Kept> {
        #[cfg(target_os = "linux")]
        let members = self
            .group
            .map(steer::Group::into_members)
            .unwrap_or_default();
        #[cfg(not(target_os = "linux"))]
        let members: Vec<(Generation, socket2::Socket)> = Vec::new();
        // The sharers have the held socket alone: a spare they share is never given away.
        let mut kept: Vec<Kept> = members
            .into_iter()
            .map(|(generation, socket)| Kept {
                _socket: socket,
                users: vec![generation],
            })
            .collect();
        if !self.sharers.is_empty() {
            kept.push(Kept {
                _socket: self.socket,
                users: self.sharers,
            });
        }
        kept
    }

    /// The socket instance `generation` owns here, else the held one.
    #[cfg(target_os = "linux")]
    fn raw_fd_of(&self, generation: Generation) -> RawFd {
        self.group
            .as_ref()
            .and_then(|g| g.fd_of(generation))
            .unwrap_or_else(|| self.raw_fd())
    }

    #[cfg(not(target_os = "linux"))]
    fn raw_fd_of(&self, _generation: Generation) -> RawFd {
        self.raw_fd()
    }

    #[cfg(unix)]
    fn raw_fd(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.socket.as_raw_fd()
    }

    #[cfg(not(unix))]
    fn raw_fd(&self) -> RawFd {
        -1
    }
}

#[cfg(not(unix))]
fn bind_held(
    node: &str,
    _name: &str,
    _addr: SocketAddr,
) -> Result<(Held, Option<String>), SocketError> {
    Err(SocketError::Unsupported {
        node: node.to_string(),
    })
}

/// Binds one declared socket; with it, why the kernel cannot steer (when it cannot).
#[cfg(unix)]
fn bind_held(
    node: &str,
    name: &str,
    addr: SocketAddr,
) -> Result<(Held, Option<String>), SocketError> {
    let fail = |source| bind_error(node, name, addr, source);
    #[cfg(target_os = "linux")]
    let (socket, group, why) = steer::first(addr).map_err(fail)?;
    #[cfg(not(target_os = "linux"))]
    let (socket, why) = (
        bind(addr).map_err(fail)?,
        Some("only Linux steers connections to each instance's own socket".to_owned()),
    );
    let local = socket
        .local_addr()
        .map_err(fail)?
        .as_socket()
        .unwrap_or(addr);
    Ok((
        Held {
            node: node.to_string(),
            name: name.to_string(),
            declared: addr,
            local,
            socket,
            #[cfg(target_os = "linux")]
            group,
            #[cfg(target_os = "linux")]
            relay: None,
            #[cfg(target_os = "linux")]
            ours: relay::Ours::default(),
            sharers: Vec::new(),
        },
        why,
    ))
}

/// Why `node`'s socket `name` could not be bound at `addr`, with what to do about it.
#[cfg(unix)]
fn bind_error(node: &str, name: &str, addr: SocketAddr, source: std::io::Error) -> SocketError {
    SocketError::Bind {
        node: node.to_string(),
        name: name.to_string(),
        addr,
        help: explain(addr, &source),
        source,
    }
}

/// Creates one listener with the options described in the module doc.
#[cfg(unix)]
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    // socket2 creates it close-on-exec (SOCK_CLOEXEC, or fcntl where that flag is missing).
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_cloexec(true)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket)
}

/// The advice for a failed bind.
#[cfg(unix)]
fn explain(addr: SocketAddr, error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::AddrInUse => {
            let port = addr.port();
            match holder::find(addr) {
                Some(holder) if holder.pid == std::process::id() => {
                    format!("hot itself already listens on {addr}: is the address declared twice?")
                }
                Some(holder) => format!(
                    "`{}` (pid {}) is listening on it: stop it, or give this socket another port",
                    holder.command, holder.pid
                ),
                None => format!(
                    "another process is listening on it (see `ss -ltnp 'sport = :{port}'` or \
                     `lsof -iTCP:{port} -sTCP:LISTEN`): stop it, or give this socket another port"
                ),
            }
        }
        ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges: choose a port of 1024 or above".into()
        }
        ErrorKind::AddrNotAvailable => {
            "no network interface of this machine has that address: use 127.0.0.1 or [::1]".into()
        }
        _ => "check the address in the Hotfile's `socket` line".into(),
    }
}

/// Best-effort lookup of the process listening on an address: `/proc` on Linux, the
/// `listeners` crate on macOS (libproc) and on FreeBSD, NetBSD and OpenBSD (the kernel's PCB
/// and file tables through `sysctl`, read by C of its own); elsewhere nobody is named.
///
/// That C is compiled by `listeners`' build script only when the build runs on a BSD host (the
/// script's `cfg` is the host's): a native BSD build has the real lookup, while
/// `cargo check`/`clippy --target x86_64-unknown-freebsd` on another system type-checks this
/// path and the crate's Rust side of it, compiling no C, and a cross `cargo build` would not
/// link. Build hot for a BSD on a BSD.
#[cfg(unix)]
mod holder {
    use std::net::SocketAddr;

    pub(super) struct Holder {
        pub pid: u32,
        pub command: String,
    }

    #[cfg(not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    )))]
    pub(super) fn find(_addr: SocketAddr) -> Option<Holder> {
        None
    }

    #[cfg(any(
        target_os = "macos",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    ))]
    pub(super) fn find(addr: SocketAddr) -> Option<Holder> {
        use listeners::{Protocol, SocketState};
        // Other users' processes may be hidden from us: hence "best effort".
        let all = listeners::get_all().ok()?;
        let listener = all.into_iter().find(|l| {
            l.protocol == Protocol::TCP
                && l.state == SocketState::Listen
                && conflicts(l.socket, addr)
        })?;
        Some(Holder {
            pid: listener.process.pid,
            command: listener.process.name,
        })
    }

    /// Whether a socket listening on `listening` keeps `addr` from being bound: the same port
    /// and family, on the same address or the wildcard one.
    pub(super) fn conflicts(listening: SocketAddr, addr: SocketAddr) -> bool {
        listening.port() == addr.port()
            && listening.is_ipv4() == addr.is_ipv4()
            && (listening.ip() == addr.ip() || listening.ip().is_unspecified())
    }

    #[cfg(target_os = "linux")]
    pub(super) fn find(addr: SocketAddr) -> Option<Holder> {
        let table = if addr.is_ipv4() {
            "/proc/net/tcp"
        } else {
            "/proc/net/tcp6"
        };
        let text = std::fs::read_to_string(table).ok()?;
        let inodes: Vec<String> = text
            .lines()
            .skip(1)
            .filter_map(|line| listening_inode(line, addr))
            .collect();
        if inodes.is_empty() {
            return None;
        }
        let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            // Other users' fd directories are unreadable: skipped, hence "best effort".
            let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                let Ok(target) = std::fs::read_link(fd.path()) else {
                    continue;
                };
                if wanted.iter().any(|w| target.as_os_str() == w.as_str()) {
                    let command = std::fs::read_to_string(entry.path().join("comm"))
                        .map(|c| c.trim().to_string())
                        .unwrap_or_else(|_| "?".into());
                    return Some(Holder { pid, command });
                }
            }
        }
        None
    }

    /// The inode of a `/proc/net/tcp{,6}` row that listens on `addr` (or on the wildcard
    /// address of its port).
    #[cfg(target_os = "linux")]
    pub(super) fn listening_inode(line: &str, addr: SocketAddr) -> Option<String> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
        if *state != "0A" {
            return None; // not LISTEN
        }
        let (ip_hex, port_hex) = local.split_once(':')?;
        let port = u16::from_str_radix(port_hex, 16).ok()?;
        let listening = SocketAddr::new(parse_ip(ip_hex)?, port);
        conflicts(listening, addr).then(|| inode.to_string())
    }

    /// The kernel prints each 32-bit word of the address as a native-endian number.
    #[cfg(target_os = "linux")]
    fn parse_ip(hex: &str) -> Option<std::net::IpAddr> {
        let words: Option<Vec<[u8; 4]>> = (0..hex.len() / 8)
            .map(|i| {
                u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16)
                    .ok()
                    .map(u32::to_ne_bytes)
            })
            .collect();
        let bytes: Vec<u8> = words?.concat();
        match bytes.len() {
            4 => Some(<[u8; 4]>::try_from(bytes).ok()?.into()),
            16 => Some(<[u8; 16]>::try_from(bytes).ok()?.into()),
            _ => None,
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::model::{Command, Inputs, Node, SocketSpec, Stop};
    use std::path::PathBuf;
    use std::time::Duration;

    fn service(name: &str, sockets: &[(&str, &str)]) -> Node {
        Node {
            name: name.into(),
            kind: Kind::Service,
            run: Command::Shell("true".into()),
            inputs: Inputs::new(Vec::new(), Vec::new()),
            after: vec![],
            gates: Vec::new(),
            env: vec![],
            dir: std::path::Path::new("/").into(),
            sockets: sockets
                .iter()
                .map(|(n, a)| SocketSpec {
                    name: n.to_string(),
                    addr: a.parse().unwrap(),
                })
                .collect(),
            ready: None,
            ready_timeout: Duration::from_secs(60),
            restart: crate::model::Restart::default(),
            reload: None,
            stop: Stop::default(),
            locks: Vec::new(),
        }
    }

    fn project(nodes: Vec<Node>) -> Project {
        Project {
            hotfile: PathBuf::from("/Hotfile"),
            root: PathBuf::from("/"),
            nodes,
            debounce: Duration::from_millis(50),
        }
    }

    #[test]
    fn port_zero_gets_a_real_port_in_declared_order() {
        let mut sockets = Sockets::new();
        let p = project(vec![service(
            "web",
            &[("http", "127.0.0.1:0"), ("admin", "127.0.0.1:0")],
        )]);
        sockets.bind_for(&p).unwrap();
        let got = sockets.for_node("web");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "http");
        assert_eq!(got[1].0, "admin");
        for (_, fd, addr) in &got {
            assert_ne!(addr.port(), 0);
            assert!(*fd >= 0);
            // Close-on-exec in hot: only the shim's child gets them.
            // SAFETY: fcntl(F_GETFD) on an fd we own only reads its flags.
            let flags = unsafe { libc::fcntl(*fd, libc::F_GETFD) };
            assert_ne!(flags & libc::FD_CLOEXEC, 0);
        }
        std::net::TcpStream::connect(got[0].2).unwrap();
        assert!(sockets.for_node("other").is_empty());
    }

    /// Linux ends listening on a `shutdown()` of the listener; the BSDs keep it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_socket_shut_down_by_a_server_is_renewed_at_the_same_address() {
        let mut sockets = Sockets::new();
        let p = project(vec![service("web", &[("http", "127.0.0.1:0")])]);
        sockets.bind_for(&p).unwrap();
        assert!(sockets.renew_broken().is_empty(), "a healthy socket stays");
        let (_, fd, addr) = sockets.for_node("web").remove(0);
        // What a server does with its copy (fd 3) on a graceful stop.
        // SAFETY: shutdown on a socket `sockets` owns.
        assert_eq!(unsafe { libc::shutdown(fd, libc::SHUT_RDWR) }, 0);
        assert!(std::net::TcpStream::connect(addr).is_err(), "broken");
        let renewed = sockets.renew_broken();
        assert_eq!(renewed.len(), 1);
        let (node, name, at, error) = &renewed[0];
        assert_eq!((node.as_str(), name.as_str(), *at), ("web", "http", addr));
        assert!(error.is_none(), "{error:?}");
        let (_, fresh, again) = sockets.for_node("web").remove(0);
        assert_eq!(again, addr, "the same address");
        assert_ne!(fresh, fd);
        std::net::TcpStream::connect(addr).expect("the fresh socket accepts");
    }

    /// `SO_ACCEPTCONN` read by hand (socket2 reads it only on Linux and FreeBSD): a listener
    /// listens, a socket merely bound does not.
    #[test]
    fn listens_tells_a_listener_from_a_bound_socket() {
        use socket2::{Domain, Socket, Type};
        let bound = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        bound
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        assert!(!listens(&bound).unwrap());
        bound.listen(1).unwrap();
        assert!(listens(&bound).unwrap());
    }

    /// Whether `fd`'s open file description is in non-blocking mode.
    #[cfg(target_os = "linux")]
    fn non_blocking(fd: RawFd) -> bool {
        // SAFETY: fcntl(F_GETFL) on an fd `sockets` owns only reads its flags.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        assert!(flags >= 0);
        flags & libc::O_NONBLOCK != 0
    }

    /// Sockets held for one service `web` on a loopback port, if this kernel can steer them
    /// (a test that needs steering is skipped otherwise, and says so).
    #[cfg(target_os = "linux")]
    fn steered_web() -> Option<Sockets> {
        let mut sockets = Sockets::new();
        let p = project(vec![service("web", &[("http", "127.0.0.1:0")])]);
        sockets.bind_for(&p).unwrap();
        if !sockets.steers() {
            eprintln!("skipped: this kernel cannot steer");
            return None;
        }
        Some(sockets)
    }

    /// The defect: an instance that shares the spare (no socket of its own could be made, hot
    /// out of file descriptors) while another instance's socket is the steering target got
    /// the relay started again on the spare, and with it the relay's non-blocking mode (one
    /// open file description): its server's blocking `accept` failed with `EAGAIN`. Nothing
    /// relays from a spare an instance shares.
    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "current_thread")]
    async fn an_instance_sharing_the_spare_got_the_relays_non_blocking_mode() {
        let Some(mut sockets) = steered_web() else {
            return;
        };
        let (first, own) = sockets.for_instance("web", 1);
        assert!(own);
        sockets.steer("web", Some(1));
        let spare = sockets.for_node("web")[0].1;
        assert_ne!(first[0].1, spare);
        assert!(non_blocking(spare), "the relay accepts from the spare");
        sockets.refuse_spares = true;
        let (second, own) = sockets.for_instance("web", 2);
        assert!(!own, "it shares the spare");
        assert_eq!(second[0].1, spare);
        // What its shim does, no other live instance holding the spare.
        // SAFETY: fcntl on an fd `sockets` owns.
        unsafe { libc::fcntl(spare, libc::F_SETFL, 0) };
        // The batch's steer (the first still serves), then the second serving.
        sockets.steer("web", Some(1));
        assert!(!non_blocking(spare), "the sharer's socket stays blocking");
        sockets.steer("web", Some(2));
        sockets.retire(1);
        sockets.steer("web", Some(2));
        assert!(!non_blocking(spare), "the sharer's socket stays blocking");
    }

    /// The defect (the soak's lone connection reset): an instance already steered away from
    /// (its successor serves) died before accepting what was queued on its own socket, a
    /// crash during its drain, and the shutdown that took that socket out of the group reset
    /// those connections. hot accepts them first and passes them on to the serving instance.
    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "current_thread")]
    async fn a_connection_queued_on_an_instance_that_died_while_draining_was_reset() {
        use std::os::fd::{BorrowedFd, FromRawFd};
        let Some(mut sockets) = steered_web() else {
            return;
        };
        let (first, own) = sockets.for_instance("web", 1);
        assert!(own);
        sockets.steer("web", Some(1));
        // Queued on the first instance's socket, which its server never accepts.
        let mut client = tokio::net::TcpStream::connect(first[0].2).await.unwrap();
        // The hand-off, then the first instance's exit, as the driver carries them out.
        let (second, _) = sockets.for_instance("web", 2);
        sockets.steer("web", Some(2));
        sockets.retire(1);
        sockets.steer("web", Some(2));
        // The second instance's server: its socket, blocking as its shim leaves it.
        // SAFETY: a duplicate of a socket `sockets` owns and keeps open meanwhile.
        let fd = unsafe { BorrowedFd::borrow_raw(second[0].1) }
            .try_clone_to_owned()
            .unwrap();
        // SAFETY: `fd` is a fresh duplicate, owned by the listener from here.
        let server =
            unsafe { std::net::TcpListener::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(fd)) };
        server.set_nonblocking(false).unwrap();
        let serving = std::thread::spawn(move || {
            let (mut connection, _) = server.accept().unwrap();
            std::io::Write::write_all(&mut connection, b"hello").unwrap();
        });
        let mut got = Vec::new();
        let read = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::io::AsyncReadExt::read_to_end(&mut client, &mut got),
        )
        .await;
        assert!(matches!(read, Ok(Ok(_))), "the queued request: {read:?}");
        assert_eq!(got, b"hello");
        serving.join().unwrap();
    }

    /// The defect: the serving instance crashed while another shared the spare (its own
    /// socket could not be made): its socket, queue and all, became the spare and the old
    /// spare was shut down, which was the sharer's listening socket. The spare stays now.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_crash_of_the_target_shut_down_the_socket_another_instance_shared() {
        let Some(mut sockets) = steered_web() else {
            return;
        };
        assert!(sockets.for_instance("web", 1).1);
        sockets.steer("web", Some(1));
        sockets.refuse_spares = true;
        let (shared, own) = sockets.for_instance("web", 2);
        assert!(!own);
        sockets.steer("web", Some(1));
        // The first crashes while it is the target; the second still starts.
        sockets.retire(1);
        let fd = shared[0].1;
        // SAFETY: fcntl(F_GETFD) on the fd the second instance holds a copy of.
        assert!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0,
            "still hot's"
        );
        let socket = std::mem::ManuallyDrop::new(unsafe {
            // SAFETY: borrowed for a look, never closed here (ManuallyDrop).
            <socket2::Socket as std::os::fd::FromRawFd>::from_raw_fd(fd)
        });
        assert!(
            listens(&socket).unwrap(),
            "the sharer's socket still listens"
        );
        assert_eq!(sockets.for_node("web")[0].1, fd, "and it is the spare");
    }

    /// The socket open at `fd` (its inode: sockets have one on Linux), if any.
    #[cfg(target_os = "linux")]
    fn socket_at(fd: RawFd) -> Option<libc::ino_t> {
        // SAFETY: fstat writes into the local `stat` only.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        (unsafe { libc::fstat(fd, &mut stat) } == 0).then_some(stat.st_ino)
    }

    /// The defect: a reload that moved a socket closed hot's copies of it while instances
    /// still ran with it (one stopping, one sharing the spare), so the next socket hot made
    /// could take the number, and the instance given it looked like it shared theirs. They
    /// stay open until those instances have exited.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_reload_freed_the_numbers_of_sockets_live_instances_had() {
        let Some(mut sockets) = steered_web() else {
            return;
        };
        let (own, _) = sockets.for_instance("web", 1);
        sockets.refuse_spares = true;
        let (shared, _) = sockets.for_instance("web", 2);
        let had = [own[0].1, shared[0].1].map(|fd| (fd, socket_at(fd).unwrap()));
        sockets
            .bind_for(&project(vec![service("web", &[("api", "127.0.0.1:0")])]))
            .unwrap();
        for (fd, socket) in had {
            assert_eq!(socket_at(fd), Some(socket), "fd {fd} still theirs");
        }
        sockets.retire(1);
        sockets.retire(2);
        for (fd, socket) in had {
            assert_ne!(socket_at(fd), Some(socket), "fd {fd} closed");
        }
    }

    /// The defect: a broken socket's renewal closed hot's copy of it while an instance still
    /// ran with it (one sharing it, stopping after it shut the socket down), freeing its number
    /// (see the reload's case above).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_renewal_freed_the_number_of_a_socket_a_live_instance_had() {
        let Some(mut sockets) = steered_web() else {
            return;
        };
        let (fd, _) = share_the_spare(&mut sockets, 1);
        let socket = socket_at(fd).unwrap();
        // What its server does with its copy on a graceful stop.
        // SAFETY: shutdown on a socket `sockets` owns.
        assert_eq!(unsafe { libc::shutdown(fd, libc::SHUT_RDWR) }, 0);
        let renewed = sockets.renew_broken();
        assert!(
            matches!(renewed.as_slice(), [(_, _, _, None)]),
            "{renewed:?}"
        );
        assert_ne!(sockets.for_node("web")[0].1, fd, "renewed");
        assert_eq!(socket_at(fd), Some(socket), "still the instance's");
        sockets.retire(1);
        assert_ne!(socket_at(fd), Some(socket), "closed");
    }

    /// Starts instance `generation` as one whose own socket could not be made (spares refused
    /// from here on): it shares the spare; its number and address.
    #[cfg(target_os = "linux")]
    fn share_the_spare(sockets: &mut Sockets, generation: Generation) -> (RawFd, SocketAddr) {
        sockets.refuse_spares = true;
        let (shared, own) = sockets.for_instance("web", generation);
        assert!(!own, "it shares the spare");
        (shared[0].1, shared[0].2)
    }

    /// Whether a connection waits on the listener at `fd` to be accepted: polled, never
    /// accepted (the socket's mode is an instance's). The bound only keeps a defect from
    /// hanging the test: a connection made before the call is queued or it is not.
    #[cfg(target_os = "linux")]
    fn has_a_connection_waiting(fd: RawFd) -> bool {
        let mut poll = [libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: poll on a local pollfd of an fd `sockets` owns.
        unsafe { libc::poll(poll.as_mut_ptr(), 1, 10_000) == 1 }
    }

    /// The defect: an instance shared the spare (its own socket could not be made); the next
    /// instance took that spare as its own, and its exit shut the socket down (out of the
    /// group) and made it non-blocking (to take its queue) under the sharer, whose `accept`
    /// then failed. A shared spare is nobody's to take: the next instance gets its own beside.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_shared_spare_taken_by_a_later_instance_was_shut_down_under_its_sharer() {
        let Some(mut sockets) = steered_web() else {
            return;
        };
        let (fd, addr) = share_the_spare(&mut sockets, 1);
        sockets.refuse_spares = false;
        let (_, own) = sockets.for_instance("web", 2);
        assert!(own, "the second has a socket of its own");
        sockets.steer("web", Some(2));
        // The second fails and exits; the first serves on.
        sockets.retire(2);
        sockets.steer("web", Some(1));
        let socket = std::mem::ManuallyDrop::new(unsafe {
            // SAFETY: borrowed for a look, never closed here (ManuallyDrop).
            <socket2::Socket as std::os::fd::FromRawFd>::from_raw_fd(fd)
        });
        assert!(listens(&socket).unwrap(), "the sharer's socket listens");
        assert!(!non_blocking(fd), "and stays blocking");
        let _client = std::net::TcpStream::connect(addr).unwrap();
        assert!(has_a_connection_waiting(fd), "new connections reach it");
    }

    /// The defect: where the kernel steers, a spare broken by its sharer's server (its stop
    /// shut the socket down) was renewed by binding a fresh first socket, without
    /// `SO_REUSEPORT`, which failed ("address in use") beside the instances' own sockets
    /// listening in the group: the next instance found no spare to take. It joins the group.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_broken_spare_was_not_renewed_beside_an_instances_own_socket() {
        let Some(mut sockets) = steered_web() else {
            return;
        };
        let (first, own) = sockets.for_instance("web", 1);
        assert!(own);
        sockets.steer("web", Some(1));
        let (fd, addr) = share_the_spare(&mut sockets, 2);
        // The sharer's server shuts its socket down as it stops, then exits.
        // SAFETY: shutdown on a socket `sockets` owns.
        assert_eq!(unsafe { libc::shutdown(fd, libc::SHUT_RDWR) }, 0);
        sockets.retire(2);
        let renewed = sockets.renew_broken();
        assert!(
            matches!(renewed.as_slice(), [(_, _, _, None)]),
            "{renewed:?}"
        );
        let spare = sockets.for_node("web")[0].1;
        assert_ne!(spare, fd, "renewed");
        // Steering by the group's order as the kernel has it: to the first, then the spare.
        sockets.steer("web", Some(1));
        let _to_first = std::net::TcpStream::connect(addr).unwrap();
        assert!(has_a_connection_waiting(first[0].1));
        sockets.steer("web", None);
        let _to_spare = std::net::TcpStream::connect(addr).unwrap();
        assert!(has_a_connection_waiting(spare), "the fresh spare gets it");
    }

    #[test]
    fn reload_keeps_unchanged_sockets_and_drops_removed_ones() {
        let mut sockets = Sockets::new();
        sockets
            .bind_for(&project(vec![service("web", &[("http", "127.0.0.1:0")])]))
            .unwrap();
        let before = sockets.for_node("web");
        sockets
            .bind_for(&project(vec![service("web", &[("http", "127.0.0.1:0")])]))
            .unwrap();
        assert_eq!(sockets.for_node("web"), before, "kept, not rebound");
        // A fixed port survives a rename of its node.
        let fixed = before[0].2.to_string();
        sockets
            .bind_for(&project(vec![service("web", &[("http", &fixed)])]))
            .unwrap();
        sockets
            .bind_for(&project(vec![service("site", &[("http", &fixed)])]))
            .unwrap();
        assert_eq!(sockets.for_node("site")[0].2, before[0].2);
        sockets.bind_for(&project(vec![])).unwrap();
        assert!(sockets.for_node("site").is_empty());
        // Dropped: the port is free again.
        bind(before[0].2).unwrap();
    }

    #[test]
    fn address_in_use_names_the_address_and_the_holder() {
        let first = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(!first.reuse_port().unwrap(), "SO_REUSEPORT must stay off");
        let addr = first.local_addr().unwrap().as_socket().unwrap();
        // Without SO_REUSEPORT a second bind fails, even one that sets SO_REUSEPORT itself.
        let err = bind(addr).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);

        let mut sockets = Sockets::new();
        let p = project(vec![
            service("ok", &[("http", "127.0.0.1:0")]),
            service("web", &[("http", &addr.to_string())]),
        ]);
        let err = sockets.bind_for(&p).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot listen on {addr}: address in use")
        );
        let help = err.help().unwrap().to_string();
        if cfg!(target_os = "linux") {
            assert!(help.contains("hot itself"), "{help}");
        }
        // All or nothing: nothing new is held.
        assert!(sockets.for_node("ok").is_empty());
    }

    #[test]
    fn ipv6_is_v6_only() {
        let Ok(socket) = bind("[::1]:0".parse().unwrap()) else {
            return; // no IPv6 loopback here
        };
        assert!(socket.only_v6().unwrap());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn proc_net_tcp_rows() {
        let row = "   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0";
        let addr: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(holder::listening_inode(row, addr), Some("12345".into()));
        }
        let other: SocketAddr = "127.0.0.1:3001".parse().unwrap();
        assert_eq!(holder::listening_inode(row, other), None);
        let established = row.replace(" 0A ", " 01 ");
        assert_eq!(holder::listening_inode(&established, addr), None);
        let any = "   1: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777 1";
        assert_eq!(holder::listening_inode(any, addr), Some("777".into()));
    }

    #[test]
    fn a_listener_conflicts_on_its_address_or_the_wildcard_of_the_same_family() {
        let addr = |a: &str| a.parse::<SocketAddr>().unwrap();
        let ours = addr("127.0.0.1:3000");
        assert!(holder::conflicts(addr("127.0.0.1:3000"), ours));
        assert!(holder::conflicts(addr("0.0.0.0:3000"), ours));
        assert!(!holder::conflicts(addr("127.0.0.2:3000"), ours));
        assert!(!holder::conflicts(addr("127.0.0.1:3001"), ours));
        assert!(!holder::conflicts(addr("[::]:3000"), ours));
        assert!(holder::conflicts(addr("[::]:3000"), addr("[::1]:3000")));
    }
}
