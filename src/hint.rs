//! Hints drawn from what a child prints: a line that shows a common mistake gets one remark
//! from hot saying what to do.
//!
//! Today there is one: a service whose server binds its own socket fails with "address in
//! use", because hot already holds that address for it. The supervisor passes every output
//! line to [`on_output`]; the command line tells [`hold`] which services hot binds sockets
//! for. Each service is told once per run of hot.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

use crate::model::{Kind, Project};
use crate::report::Reporter;

/// How a failed bind reads in Rust (`AddrInUse`), C and Node (`EADDRINUSE`), Python, Go and
/// most others ("Address already in use").
static IN_USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)address already in use|\bAddrInUse\b|\bEADDRINUSE\b").expect("a valid regex")
});

/// Services with sockets: their addresses as written, and whether the hint was given.
static HELD: LazyLock<Mutex<BTreeMap<String, (String, bool)>>> = LazyLock::new(Mutex::default);

/// Records the services whose sockets hot binds (every service with a `socket`).
pub fn hold(project: &Project) {
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    for node in &project.nodes {
        if node.kind == Kind::Service && !node.sockets.is_empty() {
            let addrs: Vec<String> = node
                .sockets
                .iter()
                .map(|s| match s.addr.port() {
                    0 => format!(
                        "`{}` ({}, the port it printed at start)",
                        s.name,
                        s.addr.ip()
                    ),
                    _ => format!("`{}` ({})", s.name, s.addr),
                })
                .collect();
            held.entry(node.name.clone())
                .or_insert_with(|| (addrs.join(", "), false));
        }
    }
}

/// Looks at one line of `node`'s output and gives a hint when it calls for one.
pub fn on_output(reporter: &Reporter, node: &str, line: &str) {
    if !IN_USE.is_match(line) {
        return;
    }
    let addrs = {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        match held.get_mut(node) {
            Some((addrs, told)) if !*told => {
                *told = true;
                addrs.clone()
            }
            _ => return,
        }
    };
    reporter.note(&in_use(node, &addrs));
}

fn in_use(node: &str, addrs: &str) -> String {
    format!(
        "{node}: hot holds {addrs} for this service, so the server cannot bind it itself; \
         it must take hot's socket, passed as fd 3 (LISTEN_FDS=1), e.g. in Rust with the \
         `listenfd` crate: `listenfd::ListenFd::from_env().take_tcp_listener(0)?` \
         (see \"Services and sockets\" in hot's README)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_binds_are_recognised_in_every_spelling() {
        for line in [
            "Error: Os { code: 98, kind: AddrInUse, message: \"Address already in use\" }",
            "OSError: [Errno 98] Address already in use",
            "Error: listen EADDRINUSE: address already in use 127.0.0.1:3000",
            "listen tcp 127.0.0.1:3000: bind: address already in use",
        ] {
            assert!(IN_USE.is_match(line), "{line}");
        }
        assert!(!IN_USE.is_match("listening on 127.0.0.1:3000"));
    }
}
