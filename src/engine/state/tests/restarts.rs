//! Crash restarts: `restart` policies, the backoff, and what a change or shutdown does to a planned restart.

use super::*;
use crate::model::Restart;

#[test]
fn a_crashed_service_waits_for_the_next_change_with_restart_never() {
    Scenario::of(web_with(Restart::Never)).serving().expect(
        "
        exit serve#4 101
          finished serve Code(101) in 0ms (last line of #4)
          down serve: waits for a change
        tick
        change README.md
        change templates/x
          wave 2 by templates/x (1): serve
          start serve#5
        ready serve#5
          ready serve in 0ms
          wave 2 done, 0 failed
        ",
    );
}

/// The defect: a service whose start the system refused (a limit on processes reached) waited
/// for an edit, though the limit eases by itself. It backs off and starts again, as after a
/// crash; a command that cannot start at all (not found) still waits for a change.
#[test]
fn a_service_the_process_limit_refused_waited_for_an_edit() {
    Scenario::new(WEB).serving().expect(
        "
        exit serve#4 101
          finished serve Code(101) in 0ms (last line of #4)
          down serve: restart in 500ms
          wake at 500ms
        wait 500
        tick
          start serve#5
        refused serve#5
          finished serve Refused(\"refused #5\") in 0ms ()
          down serve: restart in 1000ms
          wake at 1500ms
        wait 1000
        tick
          start serve#6
        unstartable serve#6
          finished serve SpawnFailed(\"unstartable #6\") in 0ms ()
          down serve: waits for a change
        wait 2000
        tick
        ",
    );
}

/// 0.5 s, doubling while it keeps crashing, back to 0.5 s once an instance stayed up 30 s;
/// each crash reported with its own last lines.
#[test]
fn a_crashed_service_comes_back_by_itself_with_backoff() {
    Scenario::new(WEB).serving().expect(
        "
        wait 1000
        exit serve#4 101
          finished serve Code(101) in 1000ms (last line of #4)
          down serve: restart in 500ms
          wake at 1500ms
        wait 200
        tick
          wake at 1500ms
        wait 300
        tick
          start serve#5
        wait 100
        exit serve#5 1
          finished serve Code(1) in 100ms (last line of #5)
          down serve: restart in 1000ms
          wake at 2600ms
        wait 1000
        tick
          start serve#6
        ready serve#6
          ready serve in 0ms
        wait 30000
        kill serve#6 11
          finished serve Signal(11) in 30000ms (last line of #6)
          down serve: restart in 500ms
          wake at 33100ms
        ",
    );
}

/// The instance that took over crashed while its predecessor was still stopping: the tick found
/// the stopping one alive, skipped the restart and never planned another, so nothing served.
#[test]
fn a_crash_while_the_predecessor_still_stops_is_restarted() {
    Scenario::new(WEB).serving().expect(
        "
        change templates/a.html
          wave 2 by templates/a.html (1): serve
          start serve#5
        ready serve#5
          stop serve#4
          ready serve in 0ms
        kill serve#5 9
          finished serve Signal(9) in 0ms (last line of #5)
          down serve: restart in 500ms
          wake at 500ms
        wait 500
        tick
          start serve#6
        exit serve#4 143
        ",
    );
}

#[test]
fn a_first_instance_that_crashes_before_ready_is_restarted() {
    Scenario::new(WEB).expect(
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
        exit serve#4 2
          finished serve Code(2) in 0ms (last line of #4)
          down serve: restart in 500ms
          wake at 500ms
          wave 1 done, 1 failed; crashed serve#4 Code(2), serving none
        wait 500
        tick
          start serve#5
        ready serve#5
          ready serve in 0ms
        ",
    );
}

#[test]
fn on_failure_restarts_only_after_a_failure() {
    Scenario::of(web_with(Restart::OnFailure)).serving().expect(
        "
        exit serve#4 0
          finished serve Code(0) in 0ms (last line of #4)
          down serve: waits for a change
        change templates/x
          wave 2 by templates/x (1): serve
          start serve#5
        ready serve#5
          ready serve in 0ms
          wave 2 done, 0 failed
        exit serve#5 3
          finished serve Code(3) in 0ms (last line of #5)
          down serve: restart in 500ms
          wake at 500ms
        ",
    );
}

/// A change during the backoff starts the service at once; the later tick starts nothing.
#[test]
fn a_change_during_the_backoff_replaces_the_restart() {
    Scenario::new(WEB).serving().expect(
        "
        exit serve#4 101
          finished serve Code(101) in 0ms (last line of #4)
          down serve: restart in 500ms
          wake at 500ms
        change templates/x
          wave 2 by templates/x (1): serve
          start serve#5
        wait 500
        tick
        ready serve#5
          ready serve in 500ms
          wave 2 done, 0 failed
        ",
    );
}

/// `hot run serve`: a crash with a restart coming does not end hot; shutdown cancels it.
#[test]
fn run_service_waits_for_its_crash_restart_and_shutdown_cancels_it() {
    Scenario::new(&[("serve", &[], &[])])
        .options(Options {
            targets: Some(vec!["serve".into()]),
            ..once()
        })
        .expect(
            "
            start
              wave 1 by start: serve
              start serve#1
            ready serve#1
              ready serve in 0ms
              wave 1 done, 0 failed
            exit serve#1 1
              finished serve Code(1) in 0ms (last line of #1)
              down serve: restart in 500ms
              wake at 500ms
            shutdown 130
              exit 130
            wait 500
            tick
            ",
        );
}

/// The soak's service down for good: a change while the crash restart was starting stopped it
/// (as any replacement not yet ready), the failed check then blocked the service, and nothing
/// served, with no restart planned, until a change made the checks pass. All there is, the
/// restart serves on, kept as after any failed check, and gets ready.
#[test]
fn a_crash_restart_is_not_stopped_by_a_wave_whose_checks_fail() {
    Scenario::new(WEB).serving().expect(
        "
        kill serve#4 9
          finished serve Signal(9) in 0ms (last line of #4)
          down serve: restart in 500ms
          wake at 500ms
        wait 500
        tick
          start serve#5
        change src/a.rs
          wave 2 by src/a.rs (1): clippy test build serve
          start clippy#6
          start build#7
        serving serve
          serving serve#5
        exit clippy#6 1
          finished clippy Code(1) in 0ms
          blocked test by clippy
        exit build#7 0
          finished build Code(0) in 0ms
          kept serve (since 500ms): clippy failed
          wave 2 done, 1 failed
        ready serve#5
          ready serve in 0ms
        serving serve
          serving serve#5
        ",
    );
}

/// The same through the other door: the serving instance crashed while its replacement was
/// starting (no restart is planned then: the replacement takes over), and a change stopped
/// that replacement before its checks failed.
#[test]
fn a_replacement_left_alone_by_a_crash_is_not_stopped_by_a_wave_whose_checks_fail() {
    Scenario::new(WEB).serving().expect(
        "
        change templates/a.html
          wave 2 by templates/a.html (1): serve
          start serve#5
        kill serve#4 9
          finished serve Signal(9) in 0ms (last line of #4)
        change src/a.rs
          wave 3 by src/a.rs (1): clippy test build serve
          start clippy#6
          start build#7
        exit clippy#6 1
          finished clippy Code(1) in 0ms
          blocked test by clippy
        exit build#7 0
          finished build Code(0) in 0ms
          kept serve (since 0ms): clippy failed
          wave 3 done, 2 failed; crashed serve#4 Signal(9), serving serve#5
        serving serve
          serving serve#5
        ready serve#5
          ready serve in 0ms
        change src/a.rs
          wave 4 by src/a.rs (1): clippy test build serve
          start clippy#8
          start build#9
        exit clippy#8 0
          finished clippy Code(0) in 0ms
          start test#10
        exit build#9 0
          finished build Code(0) in 0ms
        exit test#10 0
          finished test Code(0) in 0ms
          start serve#11
        ready serve#11
          stop serve#5
          ready serve in 0ms
        exit serve#5 143
          wave 4 done, 0 failed
        ",
    );
}
