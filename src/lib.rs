//! `hot`: a declarative dev loop.
//!
//! A Hotfile (KDL) declares tasks and services with the globs they watch, the nodes they come
//! `after` and the sockets they listen on. `hot` builds a DAG, reruns only what a change
//! affects, and restarts a service only when its upstream succeeded, handing it the listening
//! socket that `hot` holds. See `ARCHITECTURE.md` for the map of the modules.

// The library's interface is what the integration tests and benches use (the engine, the
// model, the Hotfile reader, the supervisor); everything else is `pub(crate)`, and this lint
// (an error under CI's `-D warnings`) keeps it so.
#![warn(unreachable_pub)]

pub(crate) mod browser;
pub(crate) mod cargo;
pub(crate) mod cli;
pub(crate) mod driver;
pub mod engine;
pub(crate) mod exit;
pub mod graph;
pub(crate) mod hint;
pub mod hotfile;
pub mod init;
pub(crate) mod lint;
pub mod model;
mod program;
pub mod report;
#[cfg(unix)]
pub(crate) mod shim;
pub mod sockets;
pub(crate) mod status;
pub mod supervisor;
pub mod text;
pub(crate) mod thread;
pub mod watch;

pub use cli::main;
