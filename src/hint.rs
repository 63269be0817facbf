//! Hints drawn from what a child prints: a line that shows a common mistake gets one remark
//! from hot saying what to do. The supervisor passes every output line to [`Hints::on_output`].
//!
//! * A service whose server binds its own socket fails with "address in use", because hot
//!   already holds that address for it. [`Hints`] are built per run from the project and
//!   rebuilt on every reload ([`Hints::set_project`]), so a service a reload adds is known;
//!   each service is told once per run of hot.
//! * Cargo waiting for another cargo's lock: said once per run of hot, with the layout that
//!   avoids it.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};

use regex::Regex;

use crate::model::{Kind, Project};
use crate::report::Reporter;

/// How a failed bind reads in Rust (`AddrInUse`), C and Node (`EADDRINUSE`), Python, Go and
/// most others ("Address already in use").
static IN_USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)address already in use|\bAddrInUse\b|\bEADDRINUSE\b").expect("a valid regex")
});

/// One run's hints: cheap to clone, every clone shares what was told.
#[derive(Clone, Default)]
pub(crate) struct Hints {
    inner: Arc<Mutex<Told>>,
}

#[derive(Default)]
struct Told {
    /// Services with sockets: their addresses as written.
    held: BTreeMap<String, String>,
    /// The services already told how to take fd 3.
    in_use: std::collections::BTreeSet<String>,
    cargo_lock: bool,
}

impl Hints {
    /// The hints for `project`'s services (every service with a `socket`).
    pub(crate) fn new(project: &Project) -> Hints {
        let hints = Hints::default();
        hints.set_project(project);
        hints
    }

    /// After a reload: the services of the new project (what was told stays told).
    pub(crate) fn set_project(&self, project: &Project) {
        let held = project
            .nodes
            .iter()
            .filter(|n| n.kind == Kind::Service && !n.sockets.is_empty())
            .map(|node| {
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
                (node.name.to_string(), addrs.join(", "))
            })
            .collect();
        self.lock().held = held;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Told> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Looks at one line of `node`'s output and gives a hint when it calls for one.
    pub(crate) fn on_output(&self, reporter: &Reporter, node: &str, line: &str) {
        if let Some(what) = cargo_lock_wait(line) {
            let first = !std::mem::replace(&mut self.lock().cargo_lock, true);
            if first {
                reporter.note(&cargo_lock_advice(node, what));
            }
        }
        if !IN_USE.is_match(line) {
            return;
        }
        let addrs = {
            let mut told = self.lock();
            match told.held.get(node).cloned() {
                Some(addrs) if told.in_use.insert(node.to_owned()) => addrs,
                _ => return,
            }
        };
        reporter.note(&in_use(node, &addrs));
    }
}

fn in_use(node: &str, addrs: &str) -> String {
    format!(
        "{node}: hot holds {addrs} for this service, so the server cannot bind it itself; \
         it must take hot's socket, passed as fd 3 (LISTEN_FDS=1), e.g. in Rust with the \
         `listenfd` crate: `listenfd::ListenFd::from_env().take_tcp_listener(0)?` \
         (see \"Services and sockets\" in hot's README)"
    )
}

/// What cargo prints when another cargo holds a lock it needs (`    Blocking waiting for file
/// lock on build directory`, or `package cache`, ...). The word `Blocking` is left out: with
/// colour on, an escape sequence sits between it and the rest.
const CARGO_WAITING: &str = " waiting for file lock on ";

/// The lock cargo waits for, if `line` says it is waiting for one that hot's scheduling can
/// spare it. The package cache (`~/.cargo`) is shared by every cargo on the machine and held
/// only briefly, so waiting for it is no sign of a layout to change.
fn cargo_lock_wait(line: &str) -> Option<&str> {
    let at = line.find(CARGO_WAITING)?;
    let what = line[at + CARGO_WAITING.len()..].trim();
    (what != "package cache").then_some(what)
}

fn cargo_lock_advice(node: &str, what: &str) -> String {
    format!(
        "{node}: cargo is waiting for another cargo's lock on the {what}: cargo tasks on one \
         target directory take turns inside cargo, and each one's time includes the wait. Give \
         clippy a target directory of its own (`env CARGO_TARGET_DIR=\"target/clippy\"` in \
         its task) and the other cargo tasks one lock (`lock \"cargo\"`): hot then runs \
         clippy beside them and starts them one at a time (`hot init` writes it so; see \
         docs/hotfile.md)"
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

    #[test]
    fn cargo_lock_waits_are_recognised() {
        assert_eq!(
            cargo_lock_wait("    Blocking waiting for file lock on build directory"),
            Some("build directory")
        );
        assert_eq!(
            cargo_lock_wait(
                "\u{1b}[1m\u{1b}[36m    Blocking\u{1b}[0m waiting for file lock on artifact directory"
            ),
            Some("artifact directory")
        );
        assert_eq!(
            cargo_lock_wait("    Blocking waiting for file lock on package cache"),
            None,
            "any cargo on the machine holds it now and then"
        );
        assert_eq!(cargo_lock_wait("   Compiling hot v0.1.0"), None);
    }

    #[test]
    fn the_advice_names_the_node_and_the_fix() {
        let advice = cargo_lock_advice("clippy", "build directory");
        assert!(advice.starts_with("clippy: cargo is waiting"), "{advice}");
        assert!(advice.contains("lock \"cargo\""), "{advice}");
    }
}
