//! Interop: hot against servers it did not write.
//!
//! `examples/probe.rs` is friendly: it blocks in `accept()`. Real servers take hot's socket the
//! way their ecosystem does (listenfd + tokio, asyncio, http.server, gunicorn, Node's
//! `listen({ fd: 3 })`), most of them accept until `EAGAIN` on one thread, and they drain on
//! SIGTERM. Each case here runs one of them (`tests/servers/`) under the real `hot` binary.
//!
//! Cases run one at a time ([`fixtures::serial`]): each keeps a client busy and restarts a
//! server with an 800 ms start-up, which is all a 2-core machine should do at once.
//! A missing tool (node, python3, a venv for gunicorn) skips a case with a printed reason,
//! except under `CI=true`, where it fails.

#[path = "../integration/support.rs"]
#[allow(dead_code, unused_imports)]
mod support;

/// Ten restarts of each server, draining or not, under 8 clients and two CPU hogs.
mod busy;
/// A loopback HTTP client that sends a request every 10 ms and records every outcome.
mod client;
/// The servers: building, installing or finding each, and the Hotfile that runs it.
mod fixtures;
/// `kill -9` of hot: nothing it started survives, the port is free, a new hot binds it.
mod kill;
/// Five restarts of each server under load, with and without `ready`.
mod matrix;
/// Reading processes from `/proc`: pids, process groups, parents.
mod procs;
/// The gunicorn recipe and its fixture wait for the same ready line.
mod recipe;
