//! The listening sockets' way from hot to the shim: one `SCM_RIGHTS` message on the status
//! socket, written by hot before the spawn and read by the shim first thing. hot's sockets
//! stay close-on-exec throughout, so no other child can inherit them, and the spawn needs no
//! code between fork and exec (which is what lets std posix_spawn it).

use std::io;
use std::os::fd::RawFd;

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
    let size = std::mem::size_of_val(fds) as libc::c_uint;
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE(size) } as usize;
    // u64 words: the control buffer must be aligned for `cmsghdr`.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut byte = BYTE;
    let mut iov = libc::iovec {
        iov_base: (&mut byte as *mut u8).cast(),
        iov_len: 1,
    };
    // SAFETY: zero is a valid msghdr; every pointer set below outlives the sendmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer holds CMSG_SPACE(size) bytes, so the first header and its
    // data (CMSG_LEN(size) bytes) fit; copying the fds into CMSG_DATA stays inside it.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(size) as _;
        std::ptr::copy_nonoverlapping(
            fds.as_ptr().cast::<u8>(),
            libc::CMSG_DATA(header),
            size as usize,
        );
    }
    loop {
        // SAFETY: sendmsg with the message built above.
        let sent = unsafe { libc::sendmsg(socket, &msg, 0) };
        if sent == 1 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if sent < 0 && error.kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return Err(if sent < 0 {
            error
        } else {
            io::Error::other("the sockets' message was not sent")
        });
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
    let size = (count * std::mem::size_of::<RawFd>()) as libc::c_uint;
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE(size) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut byte = 0u8;
    let mut iov = libc::iovec {
        iov_base: (&mut byte as *mut u8).cast(),
        iov_len: 1,
    };
    // SAFETY: zero is a valid msghdr; every pointer set below outlives the recvmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    let received = loop {
        // SAFETY: recvmsg into the buffers above.
        let n = unsafe { libc::recvmsg(socket, &mut msg, CLOEXEC) };
        if n >= 0 {
            break n;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    };
    let mut fds = Vec::with_capacity(count);
    // SAFETY: the kernel filled `msg`; CMSG_FIRSTHDR/NXTHDR walk only within msg_controllen,
    // and each SCM_RIGHTS header's data holds (cmsg_len - CMSG_LEN(0)) / 4 descriptors.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(header).cast::<RawFd>();
                for i in 0..bytes / std::mem::size_of::<RawFd>() {
                    let fd = data.add(i).read_unaligned();
                    close_on_exec(fd);
                    fds.push(fd);
                }
            }
            header = libc::CMSG_NXTHDR(&msg, header);
        }
    }
    let truncated = msg.msg_flags & libc::MSG_CTRUNC != 0;
    if received != 1 || byte != BYTE || truncated || fds.len() != count {
        for fd in fds {
            // SAFETY: closing descriptors just received, which nobody else knows of.
            unsafe { libc::close(fd) };
        }
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("hot's message with the {count} socket(s) did not arrive whole"),
        ));
    }
    Ok(fds)
}

/// Where the platform has it, received descriptors are close-on-exec from the start.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
const CLOEXEC: libc::c_int = libc::MSG_CMSG_CLOEXEC;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
const CLOEXEC: libc::c_int = 0;

/// Elsewhere (macOS) the receiver, single-threaded, sets the flag itself.
fn close_on_exec(fd: RawFd) {
    if CLOEXEC == 0 {
        // SAFETY: fcntl on a descriptor just received.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
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
