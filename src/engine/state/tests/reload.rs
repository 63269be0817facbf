//! Reload and rerun: what runs again when the Hotfile changes or the user asks.

use super::*;

#[test]
fn reload_reruns_changed_nodes_and_their_dependents() {
    Scenario::new(WEB)
        .reloading(&[
            ("clippy", &["src/**/*.rs"], &[]),
            ("test", &["src/**/*.rs", "tests/**/*.rs"], &["clippy"]),
            ("serve", &["templates/**"], &["test"]),
        ])
        .serving()
        .expect(
            "
            reload
              wave 2 by Hotfile (1): clippy test serve
              start clippy#5
            exit clippy#5 0
              finished clippy Code(0) in 0ms
              start test#6
            exit test#6 0
              finished test Code(0) in 0ms
              start serve#7
            ready serve#7
              stop serve#4
              ready serve in 0ms
            exit serve#4 143
              wave 2 done, 0 failed
            ",
        );
}

#[test]
fn rerun_all_reruns_every_node_and_hands_off_the_service() {
    Scenario::new(WEB).serving().expect(
        "
        rerun all
          wave 2 by rerun All: clippy test build serve
          start clippy#5
          start build#6
        exit clippy#5 0
          finished clippy Code(0) in 0ms
          start test#7
        exit build#6 0
          finished build Code(0) in 0ms
        exit test#7 0
          finished test Code(0) in 0ms
          start serve#8
        ready serve#8
          stop serve#4
          ready serve in 0ms
        exit serve#4 0
          wave 2 done, 0 failed
        ",
    );
}

#[test]
fn rerun_failed_reruns_the_failed_and_what_they_blocked() {
    Scenario::new(WEB).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        exit clippy#1 1
          finished clippy Code(1) in 0ms
          blocked test by clippy
        exit build#2 0
          finished build Code(0) in 0ms
          blocked serve by clippy
          wave 1 done, 1 failed
        rerun failed
          wave 2 by rerun Failed: clippy test serve
          start clippy#3
        exit clippy#3 0
          finished clippy Code(0) in 0ms
          start test#4
        exit test#4 0
          finished test Code(0) in 0ms
          start serve#5
        ready serve#5
          ready serve in 0ms
          wave 2 done, 0 failed
        rerun failed
        ",
    );
}

/// The second Ctrl-C is the engine's to decide: while stopping, another shutdown kills every
/// group at once (the driver used to keep that policy in a flag of its own).
#[test]
fn a_second_shutdown_while_stopping_kills_all_at_once() {
    Scenario::new(WEB).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        shutdown 130
          stop clippy#1
          stop build#2
        shutdown 130
          kill all
        exit clippy#1 137
        exit build#2 137
          exit 130
        ",
    );
}

#[test]
fn rerun_during_shutdown_starts_nothing() {
    Scenario::new(WEB).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        shutdown 130
          stop clippy#1
          stop build#2
        rerun all
        exit clippy#1 0
        exit build#2 0
          exit 130
        ",
    );
}
