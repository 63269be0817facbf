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
      ready serve#3 in 0ms, passed test
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
          ready serve#7 in 300ms, passed test
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
          ready serve#7 in 200ms, passed test
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
          ready serve#11 in 0ms, passed test
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
          ready serve#4 in 0ms, passed test
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
          wave 2 done, 1 failed; serve failed, serving since 0ms; crashed serve#7 Code(1), serving serve#3
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
          ready serve#3 in 0ms, passed test
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
          ready serve#3 in 300ms, passed test clippy
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
          ready serve#7 in 100ms, passed test clippy
        exit serve#3 0
          wave 2 done, 0 failed
        ",
    );
}

#[test]
fn an_unpromoted_first_instance_is_stopped_by_a_broken_edit_and_nothing_serves() {
    // hot's first early instance serves alone before its gate passed. An edit that cancels
    // the gate must leave it serving (the new early instance waits for its own gate), and a
    // broken edit after that must not stop it: it is the last instance that worked.
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
        serving serve
          serving serve#3
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          stop clippy#1
          restarting clippy
          start build#4
        exit clippy#1 143
          start clippy#5
        exit build#4 0
          finished build Code(0) in 0ms
          start serve#6
        ready serve#6
          ready serve in 0ms, awaits test
        serving serve
          serving serve#3
        change src/main.rs
          wave 3 by src/main.rs (1): clippy test build serve
          stop clippy#5
          restarting clippy
          stop serve#6
          restarting serve
          start build#7
        exit clippy#5 143
          start clippy#8
        exit serve#6 143
        exit build#7 101
          finished build Code(101) in 0ms
        serving serve
          serving serve#3
        exit clippy#8 0
          finished clippy Code(0) in 0ms
          start test#9
        exit test#9 101
          finished test Code(101) in 0ms
          kept serve (since 0ms): test failed
          wave 3 done, 2 failed
        serving serve
          serving serve#3
        ",
    );
}

#[test]
fn edits_that_keep_cancelling_the_gate_leave_the_first_instance_serving_and_a_failed_gate_stops_only_its_wave_s()
 {
    // edit -> cancel -> edit -> cancel, the gate never passing: each wave's early instance
    // waits beside the first one, which serves throughout; the failed gate of the last wave
    // stops that wave's instance only; a later pass promotes the new one.
    Scenario::of(gated()).expect(
        "
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
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          stop test#4
          restarting test
          start clippy#5
          start build#6
        ready serve#3
          unchecked serve#3 serves, ready, before test
        exit test#4 143
        exit build#6 0
          finished build Code(0) in 0ms
          start serve#7
        serving serve
          serving serve#3
        exit clippy#5 0
          finished clippy Code(0) in 0ms
          start test#8
        change src/main.rs
          wave 3 by src/main.rs (1): clippy test build serve
          stop test#8
          restarting test
          stop serve#7
          restarting serve
          start clippy#9
          start build#10
        exit serve#7 143
        exit test#8 143
        exit build#10 0
          finished build Code(0) in 0ms
          start serve#11
        ready serve#11
          ready serve in 0ms, awaits test
        serving serve
          serving serve#3
        exit clippy#9 0
          finished clippy Code(0) in 0ms
          start test#12
        exit test#12 101
          finished test Code(101) in 0ms
          stop serve#11
          kept serve (since 0ms): test failed
        serving serve
          serving serve#3
        exit serve#11 143
          wave 3 done, 1 failed
        change src/main.rs
          wave 4 by src/main.rs (1): clippy test build serve
          start clippy#13
          start build#14
        exit build#14 0
          finished build Code(0) in 0ms
          start serve#15
        ready serve#15
          ready serve in 0ms, awaits test
        serving serve
          serving serve#3
        exit clippy#13 0
          finished clippy Code(0) in 0ms
          start test#16
        exit test#16 0
          finished test Code(0) in 0ms
          stop serve#3
          ready serve#15 in 0ms, passed test
        serving serve
          serving serve#15
        exit serve#3 143
          wave 4 done, 0 failed
        ",
    );
}

#[test]
fn a_crash_of_the_serving_instance_while_an_early_one_waits_says_the_unchecked_build_serves() {
    // The early instance is all that is left: it gets the connections (a restart would run the
    // same unchecked build), hot says so, and its gate passing makes it the checked one.
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
        exit serve#3 1
          finished serve Code(1) in 0ms (last line of #3)
          unchecked serve#7 serves, ready, before test
        serving serve
          serving serve#7
        exit clippy#5 0
          finished clippy Code(0) in 0ms
          start test#8
        exit test#8 0
          finished test Code(0) in 0ms
          ready serve#7 in 0ms, passed test
          wave 2 done, 1 failed; crashed serve#3 Code(1), serving serve#7
        ",
    );
}

#[test]
fn a_crash_of_the_serving_instance_then_a_failed_gate_leaves_nothing_serving() {
    // As at the first start: a build whose gate failed does not serve, even alone.
    early(
        "
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          start clippy#5
          start build#6
        exit build#6 0
          finished build Code(0) in 0ms
          start serve#7
        exit serve#3 1
          finished serve Code(1) in 0ms (last line of #3)
          unchecked serve#7 serves, starting, before test
        exit clippy#5 0
          finished clippy Code(0) in 0ms
          start test#8
        ready serve#7
          ready serve in 0ms, awaits test (serving: no other)
        exit test#8 101
          finished test Code(101) in 0ms
          stop serve#7
          blocked serve by test
        serving serve
          serving none
        exit serve#7 143
          wave 2 done, 2 failed; crashed serve#3 Code(1), serving none
        ",
    );
}

#[test]
fn a_kept_early_instance_that_never_gets_ready_is_said_to_be_kept() {
    // hot's first instance, kept serving by an edit before it was ready, times out: it stays
    // (nothing else runs), and the user hears so rather than nothing.
    Scenario::of(gated()).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        exit build#2 0
          finished build Code(0) in 0ms
          start serve#3
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          stop clippy#1
          restarting clippy
          start build#4
        timeout serve#3
          not ready serve (kept: no other)
        serving serve
          serving serve#3
        ",
    );
}
