//! `lock "NAME"`: tasks that share a lock never run at the same time.

use super::*;

/// [`WEB`] with `lock "cargo"` on every task, as `hot init` writes it.
fn locked(nodes: Nodes, holders: &[&str]) -> Engine {
    let mut project = project(nodes);
    for node in &mut project.nodes {
        if holders.contains(&node.name.as_str()) {
            node.locks = vec!["cargo".into()];
        }
    }
    Engine::new(Arc::new(project), watch())
}

#[test]
fn lock_holders_run_one_at_a_time_in_dependency_order() {
    // Without the lock, clippy and build start together (see the first-wave test); with it,
    // build waits its turn, and each duration is the node's own run, not the wait.
    compare(
        locked(WEB, &["clippy", "test", "build"]),
        None,
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
        wait 100
        exit clippy#1 0
          finished clippy Code(0) in 100ms
          start build#2
        wait 200
        exit build#2 0
          finished build Code(0) in 200ms
          start test#3
        wait 300
        exit test#3 0
          finished test Code(0) in 300ms
          start serve#4
        ready serve#4
          ready serve in 0ms
          wave 1 done, 0 failed
        ",
    );
}

#[test]
fn a_node_without_the_lock_runs_beside_a_holder() {
    compare(
        locked(WEB, &["clippy", "build"]),
        None,
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
        exit clippy#1 0
          finished clippy Code(0) in 0ms
          start build#2
          start test#3
        ",
    );
}

#[test]
fn a_stopped_holder_keeps_the_lock_until_it_has_exited() {
    // The stopped clippy may still be inside cargo: build must not start beside it, and the
    // fresh clippy, first in dependency order, goes first once it is gone.
    compare(
        locked(WEB, &["clippy", "test", "build"]),
        None,
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          stop clippy#1
          restarting clippy
        exit clippy#1 143
          start clippy#2
        exit clippy#2 0
          finished clippy Code(0) in 0ms
          start build#3
        ",
    );
}

#[test]
fn a_failed_holder_releases_the_lock() {
    compare(
        locked(WEB, &["clippy", "test", "build"]),
        None,
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
        exit clippy#1 1
          finished clippy Code(1) in 0ms
          start build#2
          blocked test by clippy
        exit build#2 0
          finished build Code(0) in 0ms
          blocked serve by clippy
          wave 1 done, 1 failed
        ",
    );
}

#[test]
fn a_reload_that_only_adds_locks_reruns_nothing_and_the_locks_apply_next() {
    let mut with_locks = project(WEB);
    for node in &mut with_locks.nodes {
        // On the service too, which the Hotfile refuses: a serving instance never holds it.
        node.locks = vec!["cargo".into()];
    }
    compare(
        Engine::new(Arc::new(project(WEB)), watch()),
        Some(with_locks),
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        exit clippy#1 0
          finished clippy Code(0) in 0ms
          start test#3
        exit build#2 0
          finished build Code(0) in 0ms
        exit test#3 0
          finished test Code(0) in 0ms
          start serve#4
        ready serve#4
          ready serve in 0ms
          wave 1 done, 0 failed
        reload
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          start clippy#5
        ",
    );
}
