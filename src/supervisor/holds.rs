//! Whether a service takes the socket hot passed it (Linux only).
//!
//! A server that binds a port of its own instead of taking fd 3 (`Bun.serve({fd: 3})` does,
//! silently) looks ready to hot, while requests to hot's address wait in a backlog nobody
//! accepts from. After the instance is ready (or its ready timeout passed) this looks at the
//! processes of its group, the keeper excepted: the sockets their fds hold (`/proc/PID/fd`),
//! which of those listen (`/proc/net/tcp`, `tcp6`) and which an epoll of theirs waits on
//! (`/proc/PID/fdinfo`). A warning needs evidence: a listening socket of its own, and hot's
//! socket either closed by every process or, while held, waited on by none of their epolls
//! (a server that blocks in `accept()` on fd 3 uses no epoll, but then it has no port of its
//! own either). A server that listens only on hot's socket is never warned about.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::ctx::Gate;
use crate::report::Reporter;
use crate::sockets::RawFd;

/// When to look, after the instance is ready: a server may bind its own port a moment after
/// it prints its ready line.
const LOOKS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(250),
    Duration::from_millis(750),
];

/// How long a service without `ready` gets before the first look.
const WITHOUT_READY: Duration = Duration::from_millis(500);

/// Where the shim places the first socket in the service (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// How often readiness is polled while the instance is starting.
const POLL: Duration = Duration::from_millis(50);

/// One socket hot passed: its name, hot's fd, its address.
pub(super) type Passed = (String, RawFd, SocketAddr);

/// Watches one instance of `node` (process group `pgid`) that was given `sockets`, once its
/// readiness is settled; tells `reporter` if it does not take them.
pub(super) fn watch(
    node: String,
    pgid: libc::pid_t,
    sockets: &[Passed],
    gate: Arc<Gate>,
    has_ready: bool,
    done: watch::Receiver<bool>,
    reporter: Reporter,
) {
    let passed: Vec<(String, u64, SocketAddr)> = sockets
        .iter()
        .filter_map(|(name, fd, addr)| Some((name.clone(), inode(*fd)?, *addr)))
        .collect();
    if passed.is_empty() {
        return;
    }
    tokio::spawn(async move {
        if has_ready {
            while gate.pending() {
                if *done.borrow() {
                    return;
                }
                tokio::time::sleep(POLL).await;
            }
        } else {
            tokio::time::sleep(WITHOUT_READY).await;
        }
        let hot: Vec<u64> = passed.iter().map(|(_, inode, _)| *inode).collect();
        for delay in LOOKS {
            tokio::time::sleep(delay).await;
            if *done.borrow() {
                return;
            }
            let hot = hot.clone();
            // Refused a thread (a process limit reached), the look is done without: it only
            // ever adds a warning.
            let Ok(looking) = crate::thread::spawn("hot-look", move || look(pgid, &hot)) else {
                return;
            };
            let Ok(seen) = looking.await else {
                return;
            };
            if let Some(unused) = verdict(&seen) {
                // Named by the first socket: one verdict covers them all.
                let (name, _, addr) = &passed[0];
                let closed = unused == Unused::Closed;
                reporter.socket_unused(&node, (name, FIRST_FD, *addr), &seen.own, closed);
                return;
            }
        }
    });
}

/// What the instance's processes hold.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Seen {
    /// One of hot's sockets is among their fds.
    pub held: bool,
    /// An epoll of theirs waits on one of hot's sockets.
    pub polled: bool,
    /// The listening sockets they hold that are not hot's.
    pub own: Vec<SocketAddr>,
}

/// Why hot's socket is unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unused {
    /// No process of the instance holds it any more.
    Closed,
    /// It is held, but nothing waits on it, while a port of its own listens.
    NotAccepted,
}

fn verdict(seen: &Seen) -> Option<Unused> {
    if seen.own.is_empty() {
        None
    } else if !seen.held {
        Some(Unused::Closed)
    } else if !seen.polled {
        Some(Unused::NotAccepted)
    } else {
        None
    }
}

/// The inode of hot's socket `fd`, as `/proc/PID/fd` names it (`socket:[INODE]`).
fn inode(fd: RawFd) -> Option<u64> {
    // SAFETY: fstat on an fd hot holds open for its whole life, into a zeroed struct.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    (unsafe { libc::fstat(fd, &mut stat) } == 0).then_some(stat.st_ino)
}

/// Reads what the processes of group `pgid` (the keeper, its leader, excepted: it holds the
/// sockets only to pass them on) hold.
fn look(pgid: libc::pid_t, hot: &[u64]) -> Seen {
    let mut sockets = BTreeSet::new();
    let mut polled = BTreeSet::new();
    for pid in members(pgid) {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let link = link.to_string_lossy();
            if let Some(inode) = socket_inode(&link) {
                sockets.insert(inode);
            } else if link == "anon_inode:[eventpoll]" {
                let info = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
                if let Ok(text) = std::fs::read_to_string(info) {
                    polled.extend(epoll_targets(&text));
                }
            }
        }
    }
    let mut listening = BTreeMap::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        if let Ok(text) = std::fs::read_to_string(file) {
            listening.extend(listening_sockets(&text, v6));
        }
    }
    Seen {
        held: hot.iter().any(|i| sockets.contains(i)),
        polled: hot.iter().any(|i| polled.contains(i)),
        own: sockets
            .iter()
            .filter(|i| !hot.contains(i))
            .filter_map(|i| listening.get(i).copied())
            .collect(),
    }
}

/// The pids of group `pgid`, its leader excepted.
fn members(pgid: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| *pid != pgid)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| group_of(&stat))
                == Some(pgid)
        })
        .collect()
}

/// The process group in a `/proc/PID/stat` line: the 3rd field after the command's `)`
/// (the command itself may hold spaces and parentheses).
fn group_of(stat: &str) -> Option<libc::pid_t> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The inodes an epoll's fdinfo lists (`tfd: 3 events: 19 data: 3 pos:0 ino:2a3b sdev:9`).
fn epoll_targets(fdinfo: &str) -> impl Iterator<Item = u64> + '_ {
    fdinfo
        .lines()
        .filter(|l| l.starts_with("tfd:"))
        .filter_map(|l| {
            let hex = l.split_whitespace().find_map(|w| w.strip_prefix("ino:"))?;
            u64::from_str_radix(hex, 16).ok()
        })
}

/// The listening sockets (state `0A`) of a `/proc/net/tcp` or `tcp6` table, by inode.
fn listening_sockets(table: &str, v6: bool) -> impl Iterator<Item = (u64, SocketAddr)> + '_ {
    table.lines().skip(1).filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(3) != Some(&"0A") {
            return None;
        }
        let (ip, port) = fields.get(1)?.split_once(':')?;
        let port = u16::from_str_radix(port, 16).ok()?;
        let ip = if v6 { ipv6(ip)? } else { ipv4(ip)? };
        let inode = fields.get(9)?.parse().ok()?;
        Some((inode, SocketAddr::new(ip, port)))
    })
}

/// The kernel prints an address as its 32-bit words in native byte order.
fn ipv4(hex: &str) -> Option<IpAddr> {
    let word = u32::from_str_radix(hex, 16).ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(word.to_ne_bytes())))
}

fn ipv6(hex: &str) -> Option<IpAddr> {
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(4).enumerate() {
        let word = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_with_a_port_of_its_own_is_warned_about_only_with_evidence() {
        let own = vec!["127.0.0.1:41234".parse().unwrap()];
        let seen = |held, polled, own: &Vec<SocketAddr>| Seen {
            held,
            polled,
            own: own.clone(),
        };
        assert_eq!(verdict(&seen(false, false, &own)), Some(Unused::Closed));
        assert_eq!(verdict(&seen(true, false, &own)), Some(Unused::NotAccepted));
        assert_eq!(verdict(&seen(true, true, &own)), None);
        // Blocking in accept() on fd 3, or not started listening yet: no evidence.
        assert_eq!(verdict(&seen(true, false, &Vec::new())), None);
        assert_eq!(verdict(&seen(false, false, &Vec::new())), None);
    }

    #[test]
    fn proc_tables_are_read() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:A2F4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 434343 1 0000000000000000 20 4 30 10 -1\n";
        let found: Vec<(u64, SocketAddr)> = listening_sockets(tcp, false).collect();
        assert_eq!(found, [(424242, "127.0.0.1:8080".parse().unwrap())]);
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 515151 1 0000000000000000 100 0 0 10 0\n";
        let found: Vec<(u64, SocketAddr)> = listening_sockets(tcp6, true).collect();
        assert_eq!(found, [(515151, "[::1]:8081".parse().unwrap())]);
        assert_eq!(socket_inode("socket:[424242]"), Some(424242));
        assert_eq!(socket_inode("pipe:[1]"), None);
        let fdinfo = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\n\
tfd:        3 events:       19 data:                3  pos:0 ino:6793a sdev:8\n";
        assert_eq!(epoll_targets(fdinfo).collect::<Vec<_>>(), [0x6793a]);
        assert_eq!(group_of("42 (a (b) c) S 1 40 40 0 -1"), Some(40));
    }

    /// Runs `python` under `sh` (so it is not the group's leader, as under the keeper) with a
    /// listening socket at fd 3, waits for its first line, and looks at its group.
    fn looked_at(python: &str) -> Option<(Seen, String)> {
        use std::io::BufRead;
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        if std::process::Command::new("python3")
            .arg("-V")
            .output()
            .is_err()
        {
            assert!(std::env::var_os("CI").is_none(), "python3 is missing");
            eprintln!("skipped: python3 is not installed");
            return None;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = listener.as_raw_fd();
        let hot = inode(fd).unwrap();
        let mut command = std::process::Command::new("sh");
        command
            .args(["-c", "python3 -c \"$0\"; exit $?", python])
            .stdout(std::process::Stdio::piped());
        // SAFETY: dup2 and setpgid are async-signal-safe; nothing else runs in the child.
        unsafe {
            command.pre_exec(move || {
                // dup2 onto itself would leave close-on-exec set.
                let placed = if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, 3)
                };
                if placed < 0 || libc::setpgid(0, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().unwrap();
        let pgid = child.id() as libc::pid_t;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let seen = look(pgid, &[hot]);
        // SAFETY: killpg on the group this test created and has not reaped.
        unsafe { libc::killpg(pgid, libc::SIGKILL) };
        let _ = child.wait();
        Some((seen, line.trim().to_owned()))
    }

    #[test]
    fn a_server_on_fd_3_is_seen_holding_it_with_no_port_of_its_own() {
        let server =
            "import socket; s = socket.socket(fileno=3); print('ready', flush=True); s.accept()";
        let Some((seen, _)) = looked_at(server) else {
            return;
        };
        assert_eq!(
            seen,
            Seen {
                held: true,
                polled: false,
                own: Vec::new()
            }
        );
        assert_eq!(verdict(&seen), None);
    }

    #[test]
    fn a_server_that_binds_its_own_port_is_seen_listening_there() {
        let server = "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); \
                      s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)";
        let Some((seen, port)) = looked_at(server) else {
            return;
        };
        let own: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        assert_eq!((seen.held, seen.own.as_slice()), (true, &[own][..]));
        assert_eq!(verdict(&seen), Some(Unused::NotAccepted));
        // The same, with fd 3 closed.
        let closing = format!("import os; os.close(3); {server}");
        let (seen, _) = looked_at(&closing).unwrap();
        assert!(!seen.held, "{seen:?}");
        assert_eq!(verdict(&seen), Some(Unused::Closed));
    }

    #[test]
    fn an_event_loop_waiting_on_fd_3_is_seen_polling_it() {
        let server = "import select, socket, time; s = socket.socket(fileno=3); \
                      own = socket.socket(); own.bind(('127.0.0.1', 0)); own.listen(); \
                      e = select.epoll(); e.register(s.fileno(), select.EPOLLIN); \
                      e.register(own.fileno(), select.EPOLLIN); print('ready', flush=True); time.sleep(60)";
        let Some((seen, _)) = looked_at(server) else {
            return;
        };
        assert!(seen.held && seen.polled && seen.own.len() == 1, "{seen:?}");
        assert_eq!(verdict(&seen), None);
    }
}
