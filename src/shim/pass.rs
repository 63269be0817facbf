//! The listening sockets' way from hot to the shim: one `SCM_RIGHTS` message on the status
//! socket, written by hot before the spawn and read by the shim first thing. hot's sockets
//! stay close-on-exec throughout, so no other child can inherit them, and the spawn needs no
//! code between fork and exec (which is what lets std posix_spawn it).

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, IntoRawFd, OwnedFd, RawFd};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};

/// The message's one byte of data (a stream socket carries no message without data); a line
/// end, so a reader of lines that ever saw it would take it for an empty line.
const BYTE: u8 = b'\n';

/// Most sockets one message carries (the Hotfile's sockets of one service).
pub(crate) const MAX: usize = 64;

/// Sends `fds` over `socket` as one message. The receiver gets duplicates; the caller keeps
/// its own.
pub(crate) fn send(socket: RawFd, fds: &[RawFd]) -> io::Result<()> {
    if fds.len() > MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} sockets for one service; at most {MAX}", fds.len()),
        ));
    }
    // SAFETY: the caller's descriptors are open for the length of this call.
    let borrowed: Vec<BorrowedFd<'_>> = fds
        .iter()
        .map(|fd| unsafe { BorrowedFd::borrow_raw(*fd) })
        .collect();
    // SAFETY: as above, for the status socket.
    let socket = unsafe { BorrowedFd::borrow_raw(socket) };
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
        return Err(io::Error::other("the sockets do not fit one message"));
    }
    loop {
        match sendmsg(
            socket,
            &[IoSlice::new(&[BYTE])],
            &mut control,
            SendFlags::empty(),
        ) {
            Ok(1) => return Ok(()),
            Ok(_) => return Err(io::Error::other("the sockets' message was not sent")),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives the `count` descriptors [`send`] sent on `socket` (blocking), close-on-exec.
pub(crate) fn receive(socket: RawFd, count: usize) -> io::Result<Vec<RawFd>> {
    if count > MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{count} sockets; at most {MAX}"),
        ));
    }
    // SAFETY: the status socket is open for the length of this call.
    let socket = unsafe { BorrowedFd::borrow_raw(socket) };
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8];
    let received = loop {
        match recvmsg(
            socket,
            &mut [IoSliceMut::new(&mut byte)],
            &mut control,
            CLOEXEC,
        ) {
            Ok(received) => break received,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    // Owned: whatever arrived is closed on every way out but success.
    let mut fds: Vec<OwnedFd> = Vec::with_capacity(count);
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = message {
            fds.extend(rights);
        }
    }
    let truncated = received.flags.contains(ReturnFlags::CTRUNC);
    if received.bytes != 1 || byte[0] != BYTE || truncated || fds.len() != count {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("hot's message with the {count} socket(s) did not arrive whole"),
        ));
    }
    fds.iter().try_for_each(close_on_exec)?;
    Ok(fds.into_iter().map(IntoRawFd::into_raw_fd).collect())
}

/// Where the platform has it, received descriptors are close-on-exec from the start.
#[cfg(not(target_vendor = "apple"))]
const CLOEXEC: RecvFlags = RecvFlags::CMSG_CLOEXEC;
#[cfg(target_vendor = "apple")]
const CLOEXEC: RecvFlags = RecvFlags::empty();

/// Elsewhere (macOS) the receiver, single-threaded, sets the flag itself.
fn close_on_exec(fd: &OwnedFd) -> io::Result<()> {
    if CLOEXEC.is_empty() {
        rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// What is sent arrives as other numbers for the same open files, in order.
    #[test]
    fn sockets_arrive_in_order() {
        let (hot, shim) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        send(hot.as_raw_fd(), &[a.as_raw_fd(), b.as_raw_fd()]).unwrap();
        let fds = receive(shim.as_raw_fd(), 2).unwrap();
        for (fd, listener) in fds.iter().zip([&a, &b]) {
            // SAFETY: a descriptor just received, owned from here on.
            let got =
                unsafe { <std::net::TcpListener as std::os::fd::FromRawFd>::from_raw_fd(*fd) };
            assert_eq!(got.local_addr().unwrap(), listener.local_addr().unwrap());
            // SAFETY: fcntl on an open descriptor.
            let flags = unsafe { libc::fcntl(got.as_raw_fd(), libc::F_GETFD) };
            assert_ne!(flags & libc::FD_CLOEXEC, 0, "received close-on-exec");
        }
    }

    /// A message with fewer sockets than announced is an error, and what came is closed.
    #[test]
    fn fewer_sockets_than_names_is_an_error() {
        let (hot, shim) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        send(hot.as_raw_fd(), &[a.as_raw_fd()]).unwrap();
        let error = receive(shim.as_raw_fd(), 2).unwrap_err();
        assert!(
            error.to_string().contains("did not arrive whole"),
            "{error}"
        );
    }
}
