//! `hot`: a declarative dev loop.
//!
//! A Hotfile (KDL) declares tasks and services with the globs they watch, the nodes they come
//! `after` and the sockets they listen on. `hot` builds a DAG, reruns only what a change
//! affects, and restarts a service only when its upstream succeeded, handing it the listening
//! socket that `hot` holds. See `ARCHITECTURE.md` for the map of the modules.

pub mod browser;
pub(crate) mod cargo;
pub mod cli;
pub mod driver;
pub mod engine;
pub mod exit;
pub mod graph;
pub mod hint;
pub mod hotfile;
pub mod init;
pub mod lint;
pub mod model;
mod program;
pub mod report;
#[cfg(unix)]
pub mod shim;
pub mod sockets;
pub mod status;
pub mod supervisor;
pub mod watch;

pub use cli::main;
