//! Kernel steering (Linux): a listening socket per service instance, one `SO_REUSEPORT` group
//! per address, and a classic BPF program that hands every new connection to exactly one of them.
//!
//! Theory of operation. The first socket of a group is bound *without* `SO_REUSEPORT`, so a
//! bind fails as before if anything (a stray server, an orphan of another hot) holds the port;
//! only then is `SO_REUSEPORT` set, before `listen()`. Every later socket of the group is hot's
//! own, bound with `SO_REUSEPORT` by hot's user (the kernel admits only sockets of the same
//! effective uid to a group). The kernel numbers a group's sockets in the order of their
//! `listen()` calls; when one leaves (it is closed by its last holder, or shut down), the last
//! one moves into its slot (socket(7)). `SO_ATTACH_REUSEPORT_CBPF` attaches a one-instruction
//! program (`BPF_RET | BPF_K`, k = the index) that picks the socket of every new connection; an
//! index past the end makes the kernel fall back to its hash.
//!
//! hot keeps a mirror of that order ([`Group::order`]) and makes every departure one it knows
//! of: it `shutdown()`s an instance's socket itself once the instance has exited, which takes
//! it out of the group at once (whoever else still holds the fd), then re-attaches the
//! program for the target's new index in the same breath. The exception is the target's own
//! socket (its server died while it got connections): that one becomes the spare, queue and
//! all, and the old spare, which got nothing meanwhile, leaves instead. The next instance
//! started takes that queue along; but when a replacement had started already (it has its own
//! socket and becomes the target), none takes the spare until the next start, so while the
//! program picks an instance's own socket ([`Group::steers_to_instance`]) hot relays what lands
//! on the spare to the group's address (`relay`), and stops before the spare is given away or
//! becomes the target again. A spare that instances share (their own sockets could not be made)
//! is not given away: the next instance gets a fresh socket beside it ([`Group::join`]), and a
//! spare its sharer's server shut down is replaced by one that joins the group
//! ([`Group::renew_spare`]). A socket that a server shut down itself is found (no longer
//! listening) before each steer and before each new socket joins, so its move is applied to the
//! order the kernel applied it to. (Two servers that shut theirs down between two such looks
//! would leave the order ambiguous: a known limit.)
//!
//! A socket that leaves the group resets the connections still in its accept queue, hence the
//! drained stop (`supervisor/drain.rs`): the kernel can move them to another socket of the
//! group (`net.ipv4.tcp_migrate_req`, Linux 5.14), but that is a sysctl only root may set.
//! What a server that died before accepting left there (a crash during its drain) hot accepts
//! itself just before the shutdown, and passes on (`relay`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::Socket;

use crate::engine::Generation;

/// One address's reuseport group.
#[derive(Debug, Default)]
pub(super) struct Group {
    /// The kernel's order of the group's sockets: `None` is hot's spare (the held socket, the
    /// next instance's), `Some` an instance's own.
    order: Vec<Option<Generation>>,
    /// hot's copies of the instances' sockets, until they have exited.
    members: BTreeMap<Generation, Socket>,
    /// Whose socket gets new connections (`None`: the spare).
    target: Option<Generation>,
    /// The index the attached program returns.
    attached: Option<u32>,
}

/// Binds the first socket of a group at `addr` and steers to it: `(socket, Some(group), None)`.
/// Where the kernel cannot steer, `(socket, None, Some(why))`: `socket` is then a plain shared
/// listener (no `SO_REUSEPORT`) as on other systems. `Err`: the bind failed.
pub(super) fn first(addr: SocketAddr) -> std::io::Result<(Socket, Option<Group>, Option<String>)> {
    let socket = unbound(addr)?;
    socket.bind(&addr.into())?;
    if let Err(e) = socket.set_reuse_port(true) {
        socket.listen(super::BACKLOG)?;
        return Ok((socket, None, Some(format!("SO_REUSEPORT: {e}"))));
    }
    socket.listen(super::BACKLOG)?;
    match attach(&socket, 0) {
        Ok(()) => {
            let group = Group {
                order: vec![None],
                attached: Some(0),
                ..Group::default()
            };
            Ok((socket, Some(group), None))
        }
        Err(e) => {
            // SO_REUSEPORT stays off where hot does not steer: a second server on the port
            // must fail, not share it.
            let local = socket.local_addr()?.as_socket().unwrap_or(addr);
            drop(socket);
            let plain = super::bind(local)?;
            Ok((plain, None, Some(format!("SO_ATTACH_REUSEPORT_CBPF: {e}"))))
        }
    }
}

fn unbound(addr: SocketAddr) -> std::io::Result<Socket> {
    use socket2::{Domain, Protocol, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_cloexec(true)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

/// A socket of hot's bound at `addr` into its group (`SO_REUSEPORT`); it joins at `listen()`.
fn joined(addr: SocketAddr) -> std::io::Result<Socket> {
    let socket = unbound(addr)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(super::BACKLOG)?;
    Ok(socket)
}

/// Accepts what is queued on `listener`, a socket about to leave its group (its server is
/// gone). Bounded by the backlog: nothing new is steered to it.
fn take_queue(listener: &Socket) -> Vec<Socket> {
    // Its mode is no server's any more (the instance has exited), and an accept must not
    // wait for one that will not come.
    if listener.set_nonblocking(true).is_err() {
        return Vec::new();
    }
    let mut queued = Vec::new();
    while queued.len() < super::BACKLOG as usize {
        match listener.accept() {
            Ok((connection, _)) => queued.push(connection),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    queued
}

/// Attaches the program that sends every new connection to the group's socket `index`.
fn attach(socket: &Socket, index: u32) -> std::io::Result<()> {
    let mut program = [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: index,
    }];
    let fprog = libc::sock_fprog {
        len: 1,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: setsockopt with a pointer to a live sock_fprog of the size given; the kernel
    // copies the program.
    let done = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if done != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Group {
    /// Gives the spare to instance `generation` and returns the new spare, bound at `addr`
    /// into the group (its index is the last). `spare` is the held socket, replaced in place.
    pub(super) fn take_spare(
        &mut self,
        spare: &mut Socket,
        addr: SocketAddr,
        generation: Generation,
    ) -> std::io::Result<()> {
        // A departure the kernel made already (a server shut its socket down) must enter the
        // mirror before the new socket joins: applied after it, the move would be the wrong one.
        self.forget_departed();
        let taken = std::mem::replace(spare, joined(addr)?);
        if let Some(slot) = self.order.iter_mut().find(|s| s.is_none()) {
            *slot = Some(generation);
        }
        if self.target.is_none() {
            // The connections steered to the spare are the instance's now, and so is the
            // target until the engine says otherwise.
            self.target = Some(generation);
        }
        self.order.push(None);
        self.members.insert(generation, taken);
        Ok(())
    }

    /// Gives instance `generation` a fresh socket of its own, bound at `addr` into the group
    /// (its index is the last), and leaves the spare where it is: instances share it (theirs
    /// could not be made), so it is not the next instance's to take, and leaving with it
    /// (an exit shuts an instance's socket down) would end their `accept`.
    pub(super) fn join(&mut self, addr: SocketAddr, generation: Generation) -> std::io::Result<()> {
        self.forget_departed();
        let own = joined(addr)?;
        self.order.push(Some(generation));
        self.members.insert(generation, own);
        Ok(())
    }

    /// Replaces the spare, which its sharer's server shut down (out of the group already), by
    /// a fresh one bound at `addr` into the group, and steers again; returns the broken one.
    /// A fresh first socket would not do: bound without `SO_REUSEPORT`, it fails beside the
    /// instances' own sockets that listen at the address.
    pub(super) fn renew_spare(
        &mut self,
        spare: &mut Socket,
        addr: SocketAddr,
    ) -> std::io::Result<Socket> {
        self.forget_departed();
        // The kernel's move for the spare's departure, made before the fresh one joins.
        if let Some(i) = self.order.iter().position(Option::is_none) {
            self.order.swap_remove(i);
        }
        self.attached = None;
        let broken = std::mem::replace(spare, joined(addr)?);
        self.order.push(None);
        self.steer(spare, self.target);
        Ok(broken)
    }

    /// hot's copies of the instances' sockets, the group let go of (see `Sockets::kept`).
    pub(super) fn into_members(self) -> Vec<(Generation, Socket)> {
        self.members.into_iter().collect()
    }

    /// Steers new connections to `target`'s socket (`None`, or one that is gone: the spare).
    pub(super) fn steer(&mut self, spare: &Socket, target: Option<Generation>) {
        self.target = target;
        self.forget_departed();
        let index = self
            .order
            .iter()
            .position(|s| *s == self.target && self.target.is_some())
            .or_else(|| self.order.iter().position(Option::is_none));
        if let Some(index) = index.and_then(|i| u32::try_from(i).ok())
            && self.attached != Some(index)
            && attach(spare, index).is_ok()
        {
            self.attached = Some(index);
        }
    }

    /// Takes instance `generation`'s socket out of the group (it has exited) and steers again.
    /// The target's socket is kept instead, as the new spare: it got connections until the
    /// moment its server died (a crash), and closing it would reset those still queued. The
    /// old spare, which got none while another socket was the target, leaves in its place, so
    /// the queue goes to the next instance or to hot's own answer, as on a shared socket.
    /// `shared`: a live instance shares the spare itself (its own socket could not be made),
    /// so the spare stays: shut down, it would stop that instance's `accept`.
    ///
    /// Returns what was still queued on a socket that leaves (its server died before it
    /// accepted them: a crash while it drained, or a stop past the drain's patience), taken
    /// before the shutdown, which would reset them: the caller passes them on.
    pub(super) fn retire(
        &mut self,
        spare: &mut Socket,
        generation: Generation,
        shared: bool,
    ) -> Vec<Socket> {
        let Some(socket) = self.members.remove(&generation) else {
            return Vec::new();
        };
        if self.target == Some(generation) && !shared && socket.is_listener().unwrap_or(false) {
            let old = std::mem::replace(spare, socket);
            let _ = old.shutdown(std::net::Shutdown::Both);
            if let Some(i) = self.order.iter().position(Option::is_none) {
                self.order.swap_remove(i);
            }
            if let Some(slot) = self.order.iter_mut().find(|s| **s == Some(generation)) {
                *slot = None;
            }
            self.attached = None;
            self.steer(spare, None);
            return Vec::new();
        }
        // No connection was steered to it since its successor was ready, and a stop drains
        // what it had; but a server that died first left its queue.
        let queued = take_queue(&socket);
        // Out of the group now, even if an escaped process still holds the fd: the order
        // changes at a moment hot knows.
        let _ = socket.shutdown(std::net::Shutdown::Both);
        self.depart(generation);
        self.attached = None;
        let target = self.target.filter(|t| *t != generation);
        self.steer(spare, target);
        queued
    }

    /// The kernel's move: the last socket takes the departed one's slot.
    fn depart(&mut self, generation: Generation) {
        if let Some(i) = self.order.iter().position(|s| *s == Some(generation)) {
            self.order.swap_remove(i);
        }
    }

    /// Instances' sockets that stopped listening (the server shut its own down) have left the
    /// group already.
    fn forget_departed(&mut self) {
        let departed: Vec<Generation> = self
            .order
            .iter()
            .flatten()
            .filter(|g| {
                self.members
                    .get(g)
                    .is_some_and(|s| !s.is_listener().unwrap_or(true))
            })
            .copied()
            .collect();
        for generation in departed {
            self.depart(generation);
            self.attached = None;
        }
    }

    /// Whether the attached program picks an instance's own socket, not the spare: only then
    /// may hot relay what lands on the spare to the group's address (see `relay`).
    pub(super) fn steers_to_instance(&self) -> bool {
        self.target.is_some()
            && self
                .attached
                .and_then(|i| self.order.get(usize::try_from(i).ok()?))
                .is_some_and(|slot| *slot == self.target)
    }

    /// hot's fd of `generation`'s own socket here.
    pub(super) fn fd_of(&self, generation: Generation) -> Option<std::os::fd::RawFd> {
        self.members.get(&generation).map(AsRawFd::as_raw_fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A group on a free loopback port: its spare, the group and the address; `None` (said)
    /// where this kernel cannot steer.
    fn steered() -> Option<(Socket, Group, SocketAddr)> {
        let (spare, group, why) = first("127.0.0.1:0".parse().unwrap()).unwrap();
        let Some(group) = group else {
            eprintln!("skipped: this kernel cannot steer: {why:?}");
            return None;
        };
        let addr = spare.local_addr().unwrap().as_socket().unwrap();
        Some((spare, group, addr))
    }

    fn queued(socket: &Socket) -> u32 {
        let mut info = [0u8; 104];
        let mut len = info.len() as libc::socklen_t;
        // SAFETY: getsockopt into a local buffer.
        unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        u32::from_ne_bytes([info[24], info[25], info[26], info[27]])
    }

    /// Each connection goes to the target's own socket, across starts and exits that move the
    /// kernel's order (the last socket takes a departed one's slot).
    #[test]
    fn connections_go_to_the_target_alone_as_sockets_come_and_go() {
        let Some((mut spare, mut group, addr)) = steered() else {
            return;
        };
        let _c1 = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(queued(&spare), 1, "no instance yet: the spare");
        group.take_spare(&mut spare, addr, 1).unwrap();
        assert_eq!(
            queued(&group.members[&1]),
            1,
            "the instance takes the queue along"
        );
        group.steer(&spare, Some(1));
        let _c2 = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!((queued(&group.members[&1]), queued(&spare)), (2, 0));
        // A second instance starts beside it; the first keeps getting everything.
        group.take_spare(&mut spare, addr, 2).unwrap();
        let _c3 = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(queued(&group.members[&1]), 3);
        assert_eq!(queued(&group.members[&2]), 0);
        // The hand-off: the second is ready.
        group.steer(&spare, Some(2));
        let _c4 = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(
            (queued(&group.members[&1]), queued(&group.members[&2])),
            (3, 1)
        );
        // The first exits: the spare moves into its slot; the second still gets everything.
        group.retire(&mut spare, 1, false);
        let _c5 = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!((queued(&group.members[&2]), queued(&spare)), (2, 0));
        // The second's server shuts its own socket down: the spare gets the connections.
        let third_party = group.members[&2].try_clone().unwrap();
        third_party.shutdown(std::net::Shutdown::Both).unwrap();
        group.steer(&spare, Some(2));
        let _c6 = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(queued(&spare), 1);
    }

    /// A served instance that dies (a crash) leaves the connections queued on its socket
    /// there; they must reach the next instance or hot's answer, not be reset.
    #[test]
    fn a_crashed_instance_lost_the_connections_queued_on_its_socket() {
        let Some((mut spare, mut group, addr)) = steered() else {
            return;
        };
        group.take_spare(&mut spare, addr, 1).unwrap();
        group.steer(&spare, Some(1));
        let mut waiting = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(queued(&group.members[&1]), 1);
        // Its server is gone; hot holds the only fd of its socket.
        group.retire(&mut spare, 1, false);
        assert_eq!(queued(&spare), 1, "the queue is the spare's now");
        let (mut answer, _) = spare.accept().unwrap();
        use std::io::{Read, Write};
        answer.write_all(b"503").unwrap();
        let mut got = [0u8; 3];
        waiting.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"503");
        // New connections go to the spare too, and the next instance takes them along.
        let _later = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(queued(&spare), 1);
        group.take_spare(&mut spare, addr, 2).unwrap();
        assert_eq!(queued(&group.members[&2]), 1);
        group.steer(&spare, Some(2));
        let _last = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(queued(&group.members[&2]), 2);
    }

    /// An old instance's server shut its own socket down (its SIGTERM handler) before hot saw
    /// it exit, and the next instance started in between: hot took the departure for one that
    /// came after the new spare joined, steered by a wrong index, and new connections waited
    /// on the spare, which nobody accepts from, until the next restart.
    #[test]
    fn a_socket_shut_down_by_its_server_before_the_next_start_strands_connections_on_the_spare() {
        let Some((mut spare, mut group, addr)) = steered() else {
            return;
        };
        group.take_spare(&mut spare, addr, 1).unwrap();
        group.steer(&spare, Some(1));
        group.take_spare(&mut spare, addr, 2).unwrap();
        group.steer(&spare, Some(2));
        // The first's server shuts its socket down as it stops; hot has not seen it exit yet
        // when the third instance starts and becomes the target.
        let server_fd = group.members[&1].try_clone().unwrap();
        server_fd.shutdown(std::net::Shutdown::Both).unwrap();
        group.take_spare(&mut spare, addr, 3).unwrap();
        group.steer(&spare, Some(3));
        let _c = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(
            (queued(&group.members[&3]), queued(&spare)),
            (1, 0),
            "the new target gets the connection"
        );
        // And still when hot sees the first exit.
        group.retire(&mut spare, 1, false);
        let _d = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!((queued(&group.members[&3]), queued(&spare)), (2, 0));
    }

    /// The first socket is bound without `SO_REUSEPORT`, so a port already held fails as it
    /// always did, even for a holder that set `SO_REUSEPORT` itself.
    #[test]
    fn a_port_held_by_someone_else_is_not_shared() {
        let other = unbound("127.0.0.1:0".parse().unwrap()).unwrap();
        other.set_reuse_port(true).unwrap();
        other
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        other.listen(8).unwrap();
        let addr = other.local_addr().unwrap().as_socket().unwrap();
        let error = first(addr).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    }
}
