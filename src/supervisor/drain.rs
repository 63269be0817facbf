//! The drained hand-off (Linux): before an instance with listening sockets of its own gets its
//! stop signal, hot waits until it has accepted what is queued on them and answered what it
//! holds, so a server that dies at SIGTERM loses nothing.
//!
//! Theory of operation. By the time the supervisor stops such an instance, new connections
//! are steered to another socket of the group (see `sockets`), so what the instance holds only
//! shrinks. It is drained when, seen twice in a row 5 ms apart (a handshake under way on
//! loopback lands in the queue within that):
//! * every listener's accept queue is empty (`TCP_INFO`'s `tcpi_unacked` on a listener), and
//! * no connection its processes hold on those ports is busy, by `sock_diag`: a connection is
//!   busy while it has unread or unsent bytes, has received nothing yet (a request on its way),
//!   has received data but sent none, or received after it last sent (a kept-alive
//!   connection's next request). An idle kept-alive connection is quiet.
//!
//! The processes are the keeper's descendants (`/proc/PID/task/TID/children`), their
//! connections the socket inodes among their fds. Every check is bounded by the caller.

use std::collections::HashSet;
use std::os::fd::{AsRawFd, OwnedFd};

/// What a stop drains: hot's duplicates of the instance's own listeners, and their ports.
#[derive(Debug)]
pub(super) struct Drain {
    pub listeners: Vec<OwnedFd>,
    pub ports: Vec<u16>,
}

impl Drain {
    /// Whether the instance whose keeper is `keeper` holds nothing it has yet to answer.
    pub(super) fn quiet(&self, keeper: libc::pid_t) -> bool {
        self.listeners.iter().all(|l| queued(l) == 0) && !busy(keeper, &self.ports)
    }
}

/// The accept queue's length of a listener (`tcpi_unacked`); 0 when it cannot be read.
fn queued(listener: &OwnedFd) -> u32 {
    let mut info = [0u8; 232];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: getsockopt into a local buffer of `len` bytes.
    let got = unsafe {
        libc::getsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if got != 0 || len < 28 {
        return 0;
    }
    u32_at(&info, 24)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// Whether any connection on `ports` held by the keeper's descendants is busy.
fn busy(keeper: libc::pid_t, ports: &[u16]) -> bool {
    let inodes = socket_inodes(keeper);
    if inodes.is_empty() {
        return false;
    }
    [libc::AF_INET, libc::AF_INET6].into_iter().any(|family| {
        connections(family as u8).is_ok_and(|list| {
            list.iter()
                .any(|c| ports.contains(&c.port) && inodes.contains(&c.inode) && c.busy())
        })
    })
}

/// The socket inodes among the fds of `keeper`'s descendants.
fn socket_inodes(keeper: libc::pid_t) -> HashSet<u32> {
    let mut inodes = HashSet::new();
    let mut pids = vec![keeper];
    let mut seen = HashSet::new();
    while let Some(pid) = pids.pop() {
        // Bounded: a pid is visited once.
        if !seen.insert(pid) || seen.len() > 4096 {
            continue;
        }
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                let children = std::fs::read_to_string(task.path().join("children"));
                pids.extend(
                    children
                        .iter()
                        .flat_map(|c| c.split_whitespace())
                        .filter_map(|p| p.parse::<libc::pid_t>().ok()),
                );
            }
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
            {
                inodes.insert(inode);
            }
        }
    }
    inodes
}

/// One TCP connection as `sock_diag` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Connection {
    port: u16,
    inode: u32,
    rqueue: u32,
    wqueue: u32,
    /// Milliseconds since data was last sent and received.
    last_sent: u32,
    last_received: u32,
    segs_in: u32,
    segs_out: u32,
}

impl Connection {
    fn busy(&self) -> bool {
        self.rqueue > 0
            || self.wqueue > 0
            || self.segs_in == 0
            || self.segs_out == 0
            || self.last_received < self.last_sent
    }
}

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const INET_DIAG_INFO: u16 = 2;
/// ESTABLISHED and CLOSE_WAIT: connections a server may still answer.
const STATES: u32 = (1 << 1) | (1 << 8);

/// Every ESTABLISHED or CLOSE_WAIT TCP connection of `family`, with its `tcp_info`.
fn connections(family: u8) -> std::io::Result<Vec<Connection>> {
    // SAFETY: socket(2) with constant arguments; the fd is owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh fd nobody else owns.
    let socket: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(raw) };
    let mut request = [0u8; 72];
    request[0..4].copy_from_slice(&72u32.to_ne_bytes());
    request[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    request[6..8].copy_from_slice(&flags.to_ne_bytes());
    request[16] = family;
    request[17] = libc::IPPROTO_TCP as u8;
    request[18] = 1 << (INET_DIAG_INFO - 1);
    request[20..24].copy_from_slice(&STATES.to_ne_bytes());
    // SAFETY: send of a local buffer on our own socket (the kernel is the default peer).
    if unsafe { libc::send(raw, request.as_ptr().cast(), request.len(), 0) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    // Bounded: the dump ends with NLMSG_DONE; a machine with a million connections is cut.
    for _ in 0..10_000 {
        // SAFETY: recv into a local buffer.
        let n = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut rest = &buf[..n as usize];
        while rest.len() >= 16 {
            let len = u32_at(rest, 0) as usize;
            let kind = u16::from_ne_bytes([rest[4], rest[5]]);
            if len < 16 || len > rest.len() {
                return Ok(found);
            }
            if kind == libc::NLMSG_DONE as u16 || kind == libc::NLMSG_ERROR as u16 {
                return Ok(found);
            }
            if let Some(connection) = parse(&rest[16..len]) {
                found.push(connection);
            }
            rest = &rest[(len + 3) & !3..];
        }
    }
    Ok(found)
}

/// An `inet_diag_msg` and its attributes.
fn parse(message: &[u8]) -> Option<Connection> {
    if message.len() < 72 {
        return None;
    }
    let port = u16::from_be_bytes([message[4], message[5]]);
    let mut connection = Connection {
        port,
        inode: u32_at(message, 68),
        rqueue: u32_at(message, 56),
        wqueue: u32_at(message, 60),
        last_sent: 0,
        last_received: 0,
        segs_in: 0,
        segs_out: 0,
    };
    let mut attributes = &message[72..];
    while attributes.len() >= 4 {
        let len = u16::from_ne_bytes([attributes[0], attributes[1]]) as usize;
        let kind = u16::from_ne_bytes([attributes[2], attributes[3]]);
        if len < 4 || len > attributes.len() {
            break;
        }
        if kind == INET_DIAG_INFO {
            let info = &attributes[4..len];
            // Kernels before 4.6 have no segment counts: the connection counts as answered
            // once its queues are empty.
            let old = info.len() < 160;
            connection.last_sent = u32_at(info, 44);
            connection.last_received = u32_at(info, 52);
            connection.segs_in = if old { 1 } else { u32_at(info, 152) };
            connection.segs_out = if old { 1 } else { u32_at(info, 156) };
        }
        attributes = &attributes[((len + 3) & !3).min(attributes.len())..];
    }
    Some(connection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn mine(port: u16) -> Vec<Connection> {
        let me = std::process::id() as libc::pid_t;
        let inodes = socket_inodes(me);
        connections(libc::AF_INET as u8)
            .unwrap()
            .into_iter()
            .filter(|c| c.port == port && inodes.contains(&c.inode))
            .collect()
    }

    /// A connection is busy from its accept until it has answered, and quiet once it has.
    #[test]
    fn a_connection_is_busy_until_it_has_answered() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let fd: OwnedFd = listener.try_clone().unwrap().into();
        assert_eq!(queued(&fd), 1, "one connection waits to be accepted");
        let (mut server, _) = listener.accept().unwrap();
        assert_eq!(queued(&fd), 0);
        let server_side = |list: Vec<Connection>| {
            list.into_iter()
                .filter(|c| c.rqueue > 0 || c.segs_out == 0 || c.segs_in > 0)
                .collect::<Vec<_>>()
        };
        // Accepted, nothing received: a request may be on its way.
        assert!(mine(port).iter().all(|c| c.busy()), "{:?}", mine(port));
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let mut request = [0u8; 18];
        server.read_exact(&mut request).unwrap();
        // Received, not answered.
        assert!(server_side(mine(port)).iter().any(|c| c.busy()));
        server.write_all(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        let mut answer = [0u8; 19];
        client.read_exact(&mut answer).unwrap();
        // Both ends are this process: the server's end (its local port is `port`) is quiet.
        let quiet = mine(port);
        assert_eq!(quiet.len(), 1, "{quiet:?}");
        assert!(!quiet[0].busy(), "{quiet:?}");
    }
}
