//! Early start: a service with `gate`s starts once its other dependencies succeeded, while its
//! gates still run, and is promoted once they passed and it is ready; a failed gate or a new
//! edit stops it, and the serving instance serves on.

use super::*;

/// [`WEB`] with `test` gating `serve`: it starts after `build`, and gets connections once
/// `test` passed too.
fn gated() -> Project {
    let mut project = project(WEB);
    let test = project.find("test").expect("WEB has test");
    project.nodes[3].gates = vec![test];
    project
}

/// The first wave of [`gated`]: `serve#3` starts right after the build, and is promoted once
/// `test` passed.
const FIRST: &str = "
    start
      wave 1 by start: clippy test build serve
      start clippy#1
      start build#2
    exit build#2 0
      finished build Code(0) in 0ms
      start serve#3
    exit clippy#1 0
      finished clippy Code(0) in 0ms
      start test#4
    ready serve#3
      ready serve in 0ms, awaits test (serving: no other)
    exit test#4 0
      finished test Code(0) in 0ms
      ready serve in 0ms
      wave 1 done, 0 failed
";

fn early(script: &str) {
    Scenario::of(gated()).expect(&format!("{}{}", unindent(FIRST), unindent(script)));
}

#[test]
fn a_gate_that_passes_first_promotes_the_early_instance_once_ready() {
    // The gate passes first: the early instance is promoted the moment it is ready.
    early(
        "
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          start clippy#5
          start build#6
        wait 100
        exit build#6 0
          finished build Code(0) in 100ms
          start serve#7
        exit clippy#5 0
          finished clippy Code(0) in 100ms
          start test#8
        exit test#8 0
          finished test Code(0) in 0ms
        wait 300
        ready serve#7
          stop serve#3
          ready serve in 300ms
        exit serve#3 0
          wave 2 done, 0 failed
        ",
    );
}

#[test]
fn a_ready_early_instance_is_promoted_when_its_gate_passes() {
    // Ready first: it waits, getting nothing, and takes over when the test passes.
    early(
        "
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          start clippy#5
          start build#6
        exit build#6 0
          finished build Code(0) in 0ms
          start serve#7
        wait 200
        ready serve#7
          ready serve in 200ms, awaits test
        exit clippy#5 0
          finished clippy Code(0) in 200ms
          start test#8
        wait 500
        exit test#8 0
          finished test Code(0) in 500ms
          stop serve#3
          ready serve in 200ms
        exit serve#3 0
          wave 2 done, 0 failed
        ",
    );
}

#[test]
fn a_failed_gate_stops_the_early_instance_and_keeps_the_serving_one() {
    early(
        "
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          start clippy#5
          start build#6
        exit build#6 0
          finished build Code(0) in 0ms
          start serve#7
        ready serve#7
          ready serve in 0ms, awaits test
        exit clippy#5 0
          finished clippy Code(0) in 0ms
          start test#8
        exit test#8 101
          finished test Code(101) in 0ms
          stop serve#7
          kept serve (since 0ms): test failed
        exit serve#7 143
          wave 2 done, 1 failed
        ",
    );
}

#[test]
fn an_edit_while_the_gate_runs_stops_the_early_instance_and_starts_afresh() {
    early(
        "
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          start clippy#5
          start build#6
        exit build#6 0
          finished build Code(0) in 0ms
          start serve#7
        exit clippy#5 0
          finished clippy Code(0) in 0ms
          start test#8
        change src/lib.rs
          wave 3 by src/lib.rs (1): clippy test build serve
          stop test#8
          restarting test
          stop serve#7
          restarting serve
          start clippy#9
          start build#10
        ready serve#7
        exit test#8 143
        exit serve#7 143
        exit build#10 0
          finished build Code(0) in 0ms
          start serve#11
        exit clippy#9 0
          finished clippy Code(0) in 0ms
          start test#12
        ready serve#11
          ready serve in 0ms, awaits test
        exit test#12 0
          finished test Code(0) in 0ms
          stop serve#3
          ready serve in 0ms
        exit serve#3 0
          wave 3 done, 0 failed
        ",
    );
}

#[test]
fn a_failed_gate_at_the_first_start_leaves_nothing_serving() {
    // No older instance: the early one was all there was, and its build is not checked.
    Scenario::of(gated()).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        exit build#2 0
          finished build Code(0) in 0ms
          start serve#3
        ready serve#3
          ready serve in 0ms, awaits test (serving: no other)
        exit clippy#1 1
          finished clippy Code(1) in 0ms
          blocked test by clippy
          stop serve#3
          blocked serve by clippy
        exit serve#3 143
          wave 1 done, 1 failed
        ",
    );
}

#[test]
fn without_steering_a_gate_is_an_after() {
    // Where an instance cannot be kept from connections, the normal order: after the gate.
    let mut engine = Engine::new(Arc::new(gated()), watch());
    engine.set_early_start(false);
    compare(
        engine,
        None,
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        exit build#2 0
          finished build Code(0) in 0ms
        exit clippy#1 0
          finished clippy Code(0) in 0ms
          start test#3
        exit test#3 0
          finished test Code(0) in 0ms
          start serve#4
        ready serve#4
          ready serve in 0ms
          wave 1 done, 0 failed
        ",
    );
}

#[test]
fn an_early_instance_that_crashes_fails_the_service_and_the_old_one_serves_on() {
    early(
        "
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          start clippy#5
          start build#6
        exit build#6 0
          finished build Code(0) in 0ms
          start serve#7
        exit serve#7 1
          finished serve Code(1) in 0ms (last line of #7)
        exit clippy#5 0
          finished clippy Code(0) in 0ms
          start test#8
        exit test#8 0
          finished test Code(0) in 0ms
          wave 2 done, 1 failed; serve failed, serving since 0ms
        ",
    );
}

#[test]
fn a_first_early_instance_that_never_gets_ready_still_waits_for_its_gate() {
    // All there is, so it is kept; but it is promoted only once the test passed.
    Scenario::of(gated()).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        exit build#2 0
          finished build Code(0) in 0ms
          start serve#3
        timeout serve#3
          not ready serve (kept: no other)
        exit clippy#1 0
          finished clippy Code(0) in 0ms
          start test#4
        exit test#4 0
          finished test Code(0) in 0ms
          ready serve in 0ms
          wave 1 done, 0 failed
        ",
    );
}

#[test]
fn an_early_instance_ready_before_its_gates_is_reported_waiting_for_those_still_to_pass() {
    // Nothing said it before: the instance sat ready and silent until the gates passed.
    let mut project = gated();
    let test = project.find("test").expect("WEB has test");
    let clippy = project.find("clippy").expect("WEB has clippy");
    project.nodes[3].gates = vec![test, clippy];
    Scenario::of(project).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        exit build#2 0
          finished build Code(0) in 0ms
          start serve#3
        wait 300
        ready serve#3
          ready serve in 300ms, awaits test clippy (serving: no other)
        exit clippy#1 0
          finished clippy Code(0) in 300ms
          start test#4
        exit test#4 0
          finished test Code(0) in 0ms
          ready serve in 300ms
          wave 1 done, 0 failed
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          start clippy#5
          start build#6
        exit build#6 0
          finished build Code(0) in 0ms
          start serve#7
        exit clippy#5 0
          finished clippy Code(0) in 0ms
          start test#8
        wait 100
        ready serve#7
          ready serve in 100ms, awaits test
        exit test#8 0
          finished test Code(0) in 100ms
          stop serve#3
          ready serve in 100ms
        exit serve#3 0
          wave 2 done, 0 failed
        ",
    );
}
