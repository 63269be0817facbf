//! Why an instance could not be started. The engine hears it as `Exit::SpawnFailed` with
//! this text, or `Exit::Refused` when the system refused a resource for now; each says what
//! failed and, where there is one, what to do.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::model::NodeId;

#[derive(Debug)]
pub(super) enum SpawnError {
    /// A bug: the engine asked for a node the project does not have.
    NoNode(NodeId),
    /// A bug: `start` was called outside the tokio runtime.
    NoRuntime,
    /// The node's `dir` does not exist.
    NoDir(PathBuf),
    /// The keeper's status socket pair could not be made.
    SocketPair(io::Error),
    /// The program was not found or cannot run (`program::find_program`'s message).
    Program(String),
    /// `run` has no program.
    EmptyCommand,
    /// `ready "notify"`'s socket could not be made in the temporary directory.
    NotifySocket { dir: PathBuf, error: io::Error },
    /// A bug: the status socket could not join the runtime.
    WatchKeeper(io::Error),
    /// hot's own executable (the shim) could not be started.
    Shim {
        shim: PathBuf,
        program: String,
        error: io::Error,
    },
    /// A bug: the spawned child has no pid.
    NoPid,
    /// The listening sockets could not be sent to the keeper.
    PassSockets(io::Error),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::NoNode(node) => write!(f, "internal: no node {node}"),
            SpawnError::NoRuntime => {
                write!(f, "internal: the supervisor runs outside a tokio runtime")
            }
            SpawnError::NoDir(dir) => write!(
                f,
                "working directory `{}` does not exist: create it, or fix `dir` in the Hotfile",
                dir.display()
            ),
            SpawnError::SocketPair(e) => {
                write!(
                    f,
                    "cannot create a socket pair for the keeper: {}",
                    crate::shim::why(e)
                )
            }
            SpawnError::Program(message) => f.write_str(message),
            SpawnError::EmptyCommand => write!(f, "the `run` command is empty"),
            SpawnError::NotifySocket { dir, error } => write!(
                f,
                "cannot create the NOTIFY_SOCKET for `ready \"notify\"` in {}: {error}; \
                 check that the temporary directory is writable (TMPDIR)",
                dir.display()
            ),
            SpawnError::WatchKeeper(e) => {
                write!(f, "internal: cannot watch the keeper's socket: {e}")
            }
            SpawnError::Shim {
                shim,
                program,
                error,
            } => write!(
                f,
                "cannot start hot's exec shim `{}` for `{program}`: {}",
                shim.display(),
                crate::shim::why(error)
            ),
            SpawnError::NoPid => write!(f, "internal: the child exited before hot saw its pid"),
            SpawnError::PassSockets(e) => {
                write!(f, "cannot hand the listening sockets to the keeper: {e}")
            }
        }
    }
}

impl SpawnError {
    /// Whether the system refused a resource for now (a limit on processes or open files):
    /// the same start may succeed once the limit eases.
    pub(super) fn refused(&self) -> bool {
        match self {
            SpawnError::SocketPair(error)
            | SpawnError::NotifySocket { error, .. }
            | SpawnError::Shim { error, .. }
            | SpawnError::PassSockets(error) => matches!(
                error.raw_os_error(),
                Some(libc::EAGAIN | libc::ENOMEM | libc::EMFILE | libc::ENFILE)
            ),
            _ => false,
        }
    }
}

impl std::error::Error for SpawnError {}
