//! A test server for the supervisor's integration tests (`tests/supervisor.rs`); not part of
//! hot. Build it with `cargo build --example probe`.
//!
//! It takes its listening sockets the way real servers do, through `listenfd` (fds 3, 4, ...
//! with `LISTEN_FDS`/`LISTEN_PID`), and answers every connection with one line, then closes:
//!
//! ```text
//! pid=<pid> version=<v> listen_pid=<LISTEN_PID at start> fdnames=<LISTEN_FDNAMES> fd=<index> nonblock=<0|1>
//! ```
//!
//! `LISTEN_PID` and `LISTEN_FDNAMES` are read before listenfd runs (it removes `LISTEN_PID`);
//! `nonblock` is whether fd 3 was `O_NONBLOCK` at start. With no socket passed it exits 3.
//!
//! Environment:
//! * `VERSION`, or `PROBE_VERSION_FILE` (a file read at start): the version it reports;
//! * `PROBE_STARTUP_MS`: sleep this long before serving (a slow start), then print `ready`;
//! * `PROBE_NOTIFY=1`: send `READY=1` to `NOTIFY_SOCKET` once serving;
//! * `PROBE_SET_NONBLOCK=1`: make fd 3 non-blocking (the flag is shared with every holder of
//!   the socket, so the next instance would inherit it unless the shim clears it).

#[cfg(not(unix))]
fn main() {
    eprintln!("probe: Unix only");
    std::process::exit(3);
}

#[cfg(unix)]
fn main() {
    use std::io::{ErrorKind, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    let listen_pid = std::env::var("LISTEN_PID").unwrap_or_else(|_| "unset".into());
    let fdnames = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let version = match std::env::var("PROBE_VERSION_FILE") {
        Ok(path) => std::fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .to_string(),
        Err(_) => std::env::var("VERSION").unwrap_or_default(),
    };
    // SAFETY: F_GETFL only reads the flags of fd 3 (or fails with EBADF).
    let flags = unsafe { libc::fcntl(3, libc::F_GETFL) };
    let nonblock = u8::from(flags >= 0 && flags & libc::O_NONBLOCK != 0);

    let mut fds = listenfd::ListenFd::from_env();
    let listeners: Vec<TcpListener> = (0..fds.len())
        .filter_map(|i| fds.take_tcp_listener(i).ok().flatten())
        .collect();
    if listeners.is_empty() {
        eprintln!("probe: no listening socket passed (LISTEN_PID={listen_pid})");
        std::process::exit(3);
    }
    if std::env::var("PROBE_SET_NONBLOCK").as_deref() == Ok("1") {
        listeners[0].set_nonblocking(true).expect("set_nonblocking");
    }
    if let Some(ms) = std::env::var("PROBE_STARTUP_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
        println!("ready");
        let _ = std::io::stdout().flush();
    }
    if std::env::var("PROBE_NOTIFY").as_deref() == Ok("1")
        && let Ok(path) = std::env::var("NOTIFY_SOCKET")
    {
        let socket = std::os::unix::net::UnixDatagram::unbound().expect("datagram socket");
        socket
            .send_to(b"STATUS=serving\nREADY=1\n", path)
            .expect("notify");
    }
    let line = |fd: usize| {
        format!(
            "pid={} version={version} listen_pid={listen_pid} fdnames={fdnames} fd={fd} nonblock={nonblock}\n",
            std::process::id()
        )
    };
    // Drain on SIGTERM/SIGINT like a server with graceful shutdown: finish the connection in
    // hand, accept no more, exit. The signals are blocked in every thread and taken by the
    // main thread with sigwait, so no accept is ever interrupted half-way.
    // SAFETY: plain signal-mask calls on a set built here, before any thread is spawned.
    let signals = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    static DRAINING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let mut threads = Vec::new();
    for (fd, listener) in listeners.into_iter().enumerate() {
        let line = line(fd);
        threads.push(std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let mut poll = libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            while !DRAINING.load(std::sync::atomic::Ordering::SeqCst) {
                // Wake at least every 20 ms to notice draining; a connection wakes it at once.
                // SAFETY: one valid pollfd for the listener this thread owns.
                if unsafe { libc::poll(&mut poll, 1, 20) } <= 0 {
                    continue;
                }
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.write_all(line.as_bytes());
                    }
                    // Non-blocking (PROBE_SET_NONBLOCK), and another instance took it.
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => {
                        eprintln!("probe: accept: {e}");
                        std::process::exit(4);
                    }
                }
            }
        }));
    }
    let mut signal = 0;
    // SAFETY: waits for one of the signals blocked above.
    unsafe { libc::sigwait(&signals, &mut signal) };
    DRAINING.store(true, std::sync::atomic::Ordering::SeqCst);
    for thread in threads {
        let _ = thread.join();
    }
}
