//! Advice drawn from what a child prints: read as output lines pass, said once per hot.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::report::Reporter;

/// What cargo prints when another cargo holds a lock it needs (`    Blocking waiting for file
/// lock on build directory`, or `package cache`, ...). The word `Blocking` is left out: with
/// colour on, an escape sequence sits between it and the rest.
const CARGO_WAITING: &str = " waiting for file lock on ";

static CARGO_LOCK_SAID: AtomicBool = AtomicBool::new(false);

/// Looks at one output line of `node`; the first time cargo is seen waiting for a lock,
/// says why and what to do.
pub fn on_output(reporter: &Reporter, node: &str, line: &str) {
    if let Some(what) = cargo_lock_wait(line)
        && !CARGO_LOCK_SAID.swap(true, Ordering::Relaxed)
    {
        reporter.note(&cargo_lock_advice(node, what));
    }
}

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
