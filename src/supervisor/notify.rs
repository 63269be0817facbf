//! `ready "notify"`: a private `NOTIFY_SOCKET` per instance, read on a thread of its own.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use super::ctx::Ctx;
use crate::engine::Generation;
use crate::model::NodeId;

/// A private `NOTIFY_SOCKET` for one instance: a datagram socket in a fresh 0700 directory,
/// removed when the listener thread ends.
pub(super) struct NotifySocket {
    dir: PathBuf,
    pub(super) path: PathBuf,
    socket: Option<UnixDatagram>,
}

impl NotifySocket {
    pub(super) fn create(node: NodeId, generation: Generation) -> io::Result<NotifySocket> {
        // Short: a socket path must fit in ~100 bytes.
        let dir = std::env::temp_dir().join(format!(
            "hot-{}-{}-{generation}",
            std::process::id(),
            node.0
        ));
        // A leftover of an earlier hot with the same pid.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let path = dir.join("notify");
        let mut socket = NotifySocket {
            dir,
            path,
            socket: None,
        };
        socket.socket = Some(UnixDatagram::bind(&socket.path)?);
        Ok(socket)
    }

    /// Reads datagrams on a thread until `READY=1`, the instance's end, or an error.
    pub(super) fn listen(mut self, ctx: Ctx) {
        let Some(socket) = self.socket.take() else {
            return;
        };
        let reporter = ctx.reporter.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("hot-notify-{}", ctx.name))
            .spawn(move || {
                let _cleanup = self;
                // Polls the gate: the thread ends soon after the instance does.
                if socket
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .is_err()
                {
                    return;
                }
                let mut buf = [0u8; 4096];
                while ctx.gate.pending() {
                    match socket.recv(&mut buf) {
                        Ok(n) => {
                            if buf[..n].split(|b| *b == b'\n').any(|l| l == b"READY=1") {
                                ctx.ready();
                                return;
                            }
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::WouldBlock
                                    | io::ErrorKind::TimedOut
                                    | io::ErrorKind::Interrupted
                            ) => {}
                        Err(e) => {
                            ctx.reporter.note(&format!(
                                "`{}`: reading its NOTIFY_SOCKET failed: {e}; it will not be seen as ready",
                                ctx.name
                            ));
                            return;
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            // The directory went with the closure that never ran.
            reporter.note(&format!(
                "cannot start a thread to read a NOTIFY_SOCKET: {e}; \
                 the service will not be seen as ready (is the system out of threads?)"
            ));
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        self.socket = None;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
