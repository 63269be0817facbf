//! Integration tests: each runs the real `hot` binary in a temporary directory.
//!
//! Watch-mode tests read `--json` events and wait for the one they expect, with a deadline;
//! none sleeps a fixed time in place of an event.

mod support;

/// `hot check` and diagnostics: exit statuses, file:line:column, nothing run.
mod check;
/// `hot ci`, `hot ci --dry-run` and `hot run`: order, failures, blocking, exit statuses.
mod once;
/// `hot graph` in every format, and `hot why`.
mod graph;
/// Every Hotfile shipped in the repository passes `hot check`.
mod examples;
/// Watch mode: only what a change affects, bursts, atomic saves, reloads, signals.
mod watch;
/// Services: sockets held by hot, hand-off, the last good server, no orphans.
mod services;
