//! Integration tests: each runs the real `hot` binary in a temporary directory.
//!
//! Watch-mode tests read `--json` events and wait for the one they expect, with a deadline;
//! none sleeps a fixed time in place of an event.

mod support;
/// The `Test` builder: a run of hot with its exact stdout, stderr and status.
mod test;

/// `hot check` and diagnostics: exit statuses, file:line:column, nothing run.
mod check;
/// Version-control operations: a `git checkout` is one wave on the final tree.
mod checkout;
/// The command line: flags, `run NAME -- ARGS`, `--json`, `--color`, completions, man page.
mod cli;
/// The docs: every Hotfile in them is sound; the reference matches the parser.
mod docs;
/// Early start: a `gate` holds back the new instance's connections, not its start.
mod early;
/// Odd setups: a Hotfile from a pipe or empty, a link to a parent, hot itself stopped.
mod edges;
/// Every Hotfile shipped in the repository passes `hot check`.
mod examples;
/// `hot graph` in every format, and `hot why`.
mod graph;
/// Hostile trees and processes: a log written all the time, a new file under a link.
mod hostile;
/// `hot init`: the Hotfile it writes for a package, a workspace and anything else.
mod init;
/// `lock "NAME"`: tasks that share a lock take turns; cargo's own lock waits are explained.
mod lock;
/// `hot ci`, `hot ci --dry-run` and `hot run`: order, failures, blocking, exit statuses.
mod once;
/// What goes where: results on stdout, progress on stderr, summaries that name failures,
/// local times, colour.
mod output;
/// Services: sockets held by hot, hand-off, the last good server, no orphans.
mod services;
/// The spare keeper waiting for the next start: nothing of it outlives hot.
#[cfg(target_os = "linux")]
mod spare;
/// How a service is stopped: its command first, the rest of its group after it.
mod stop;
/// Messages that teach: `hot check`'s warnings, the address-in-use hint.
mod teach;
/// Trees as projects have them: FIFOs, sockets, devices, unreadable directories, big links.
mod tree_faults;
/// Watch mode: only what a change affects, bursts, atomic saves, reloads, signals.
mod watch;
