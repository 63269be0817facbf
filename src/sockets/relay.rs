//! The spare's relay (Linux): while an instance's own socket is the steering target, hot
//! accepts what still lands on the spare and passes it on to the service's address, which the
//! kernel steers to that socket. What lands there is a crashed target's queue (its socket
//! became the spare, see `steer`) when a replacement had already started: no instance would
//! take the spare before the next start, so those connections would wait for the next edit.
//!
//! The same passing on serves a socket that leaves its group with connections still queued
//! (its server died before accepting them): hot accepts them before the shutdown that would
//! reset them (`Group::retire`) and passes them to the service's address (`pass_on`).
//!
//! A plain TCP relay, both ways, for any protocol. It is never the steering target itself
//! (`Sockets::steer` keeps it only while the program picks an instance's socket, and a start
//! drops it before the instance takes the spare), so hot does not connect to itself; should
//! the kernel's order move under hot (a server shut the target's socket down itself), a
//! connection from one of the relay's own ends ends the accepting, and steering is set right
//! at the next batch of actions. Dropping a `Relay` aborts its accepting task (its duplicate
//! of the spare closes with it, and a task on the loop's thread is never polled again once
//! aborted); connections it passed on already finish on their own.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::Socket;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;

/// At most this many connections relayed at once; more wait in the spare's queue.
const MAX_RELAYED: usize = 256;
/// How long the connect to the service may take (its queue may be full).
const CONNECT_WITHIN: Duration = Duration::from_secs(30);

/// The local ports of the relay's own connections to a service, to tell one that came back to
/// the spare. One per held socket, shared by its successive relays: only a connection to that
/// socket's address can come back to that spare.
pub(super) type Ours = Arc<Mutex<HashSet<u16>>>;

/// A running relay from one spare.
#[derive(Debug)]
pub(super) struct Relay {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Relays what `spare` accepts to `service` (the address its group is bound at). `None`
    /// outside a tokio runtime, or when the spare cannot be duplicated.
    pub(super) fn start(spare: &Socket, service: SocketAddr, ours: &Ours) -> Option<Relay> {
        tokio::runtime::Handle::try_current().ok()?;
        let listener: std::net::TcpListener = spare.as_fd().try_clone_to_owned().ok()?.into();
        // The flag is the spare's own (a duplicate shares it): the shim clears it again for
        // the instance that takes the spare, and this relay is gone by then.
        listener.set_nonblocking(true).ok()?;
        let listener = TcpListener::from_std(listener).ok()?;
        let task = tokio::spawn(accept(listener, reachable(service), ours.clone()));
        Some(Relay { task })
    }

    /// Whether it stopped accepting on its own (it met one of its own connections).
    pub(super) fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Passes on connections accepted from a socket that left its group (`Group::retire`) to
/// `service`, as the relay passes what it accepts; without a tokio runtime they are dropped
/// (reset, as the shutdown would have). They cannot come back to where they came from, so no
/// loop is watched for: one that lands on the spare waits there like any other connection.
pub(super) fn pass_on(connections: Vec<Socket>, service: SocketAddr) {
    if connections.is_empty() || tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let service = reachable(service);
    for connection in connections {
        let connection: std::net::TcpStream = connection.into();
        let Ok(client) = connection
            .set_nonblocking(true)
            .and_then(|()| TcpStream::from_std(connection))
        else {
            continue;
        };
        // At most a backlog's worth, once: no bound beyond the queue's own.
        tokio::spawn(pass(client, service, None, Ours::default()));
    }
}

/// The address to connect to for a socket bound at `addr`: the wildcard means this host.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

async fn accept(listener: TcpListener, service: SocketAddr, ours: Ours) {
    let permits = Arc::new(Semaphore::new(MAX_RELAYED));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: the connection waits in the queue.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // A client whose port happens to be one of the relay's is taken as the relay's: at
        // worst the relay stops until the next steer.
        let looped = ours.lock().is_ok_and(|ours| ours.contains(&peer.port()));
        // Passed on in the same poll that accepted it, so an abort cannot strand it.
        tokio::spawn(pass(client, service, Some(permit), ours.clone()));
        if looped {
            // The spare is the target now: the next connect would come back here again.
            return;
        }
    }
}

/// Connects to the service and copies both ways until both sides are done.
async fn pass(
    mut client: TcpStream,
    service: SocketAddr,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ours: Ours,
) {
    let socket = match service {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    };
    let unspecified: IpAddr = match service {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    // Bound first, so its port is known before the connection can reach any queue.
    let Ok(port) = socket
        .and_then(|s| s.bind((unspecified, 0).into()).map(|()| s))
        .and_then(|s| Ok((s.local_addr()?.port(), s)))
    else {
        return;
    };
    let (port, socket) = port;
    if let Ok(mut ours) = ours.lock() {
        ours.insert(port);
    }
    if let Ok(Ok(mut server)) = tokio::time::timeout(CONNECT_WITHIN, socket.connect(service)).await
    {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
    if let Ok(mut ours) = ours.lock() {
        ours.remove(&port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A relay whose spare is itself where connections go (the kernel's order moved under
    /// hot) meets its own connection and stops accepting, instead of passing it round for
    /// good; that connection waits on the spare for whoever accepts next.
    #[test]
    fn a_relay_that_gets_its_own_connection_back_stops_accepting() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let spare = socket2::Socket::from(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = spare.local_addr().unwrap().as_socket().unwrap();
        runtime.block_on(async {
            let relay = Relay::start(&spare, addr, &Ours::default()).expect("a relay");
            let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while !relay.is_finished() {
                assert!(tokio::time::Instant::now() < deadline, "still relaying");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // The next one to accept from the spare gets the request, through the relay.
            let std_spare: std::net::TcpListener = spare.try_clone().unwrap().into();
            std_spare.set_nonblocking(false).unwrap();
            let server = std::thread::spawn(move || {
                let (mut conn, _) = std_spare.accept().unwrap();
                conn.write_all(b"hello").unwrap();
            });
            tokio::io::AsyncWriteExt::write_all(&mut client, b"x")
                .await
                .unwrap();
            let mut got = Vec::new();
            let read = tokio::time::timeout(
                Duration::from_secs(30),
                tokio::io::AsyncReadExt::read_to_end(&mut client, &mut got),
            )
            .await;
            assert!(read.is_ok(), "no answer");
            assert_eq!(got, b"hello");
            server.join().unwrap();
        });
    }
}
