//! Services: the hand-off from the serving instance to its replacement, and when the old one is kept.

use super::*;

#[test]
fn only_affected_nodes_rerun_and_the_service_hands_off() {
    Scenario::new(WEB).serving().expect(
        "
        change tests/api.rs README.md
          wave 2 by tests/api.rs (2): test serve
          start test#5
        exit test#5 0
          finished test Code(0) in 0ms
          start serve#6
        ready serve#6
          stop serve#4
          ready serve in 0ms
        exit serve#4 0
          wave 2 done, 0 failed
        ",
    );
}

#[test]
fn a_failed_check_keeps_the_last_good_server() {
    Scenario::new(WEB).serving().expect(
        "
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          start clippy#5
          start build#6
        exit clippy#5 1
          finished clippy Code(1) in 0ms
          blocked test by clippy
        exit build#6 0
          finished build Code(0) in 0ms
          kept serve (since 0ms): clippy failed
          wave 2 done, 1 failed
        ",
    );
}

#[test]
fn a_service_without_ready_is_stopped_before_its_replacement_starts() {
    Scenario::new(&[("build", &["src/**"], &[]), ("daemon", &[], &["build"])]).expect(
        "
        start
          wave 1 by start: build daemon
          start build#1
        exit build#1 0
          finished build Code(0) in 0ms
          start daemon#2
          wave 1 done, 0 failed
        change src/a
          wave 2 by src/a (1): build daemon
          start build#3
        exit build#3 0
          finished build Code(0) in 0ms
          stop daemon#2
        exit daemon#2 143
          start daemon#4
          wave 2 done, 0 failed
        ",
    );
}

#[test]
fn a_replacement_that_never_gets_ready_is_stopped_and_the_old_one_kept() {
    Scenario::new(WEB).serving().expect(
        "
        change templates/a.html
          wave 2 by templates/a.html (1): serve
          start serve#5
        timeout serve#5
          stop serve#5
          not ready serve
        exit serve#5 143
          wave 2 done, 1 failed; serve failed, serving since 0ms
        ",
    );
}

#[test]
fn a_replacement_that_crashes_before_ready_leaves_the_old_one_serving() {
    Scenario::new(WEB).serving().expect(
        "
        change templates/a.html
          wave 2 by templates/a.html (1): serve
          start serve#5
        exit serve#5 1
          finished serve Code(1) in 0ms (last line of #5)
          wave 2 done, 1 failed; serve failed, serving since 0ms; crashed serve#5 Code(1), serving serve#4
        ",
    );
}

/// The old instance serving on is right, but the edit is not live: the node failed in that
/// wave, says which build serves, and a rerun of the failed nodes tries it again.
#[test]
fn a_replacement_that_crashes_at_start_fails_its_wave() {
    Scenario::new(WEB).serving().expect(
        "
        wait 1000
        change templates/a.html
          wave 2 by templates/a.html (1): serve
          start serve#5
        wait 200
        exit serve#5 1
          finished serve Code(1) in 200ms (last line of #5)
          wave 2 done, 1 failed; serve failed, serving since 0ms; crashed serve#5 Code(1), serving serve#4
        rerun failed
          wave 3 by rerun Failed: serve
          start serve#6
        ready serve#6
          stop serve#4
          ready serve in 0ms
        exit serve#4 143
          wave 3 done, 0 failed
        ",
    );
}

#[test]
fn a_replacement_that_never_gets_ready_fails_its_wave() {
    Scenario::new(WEB).serving().expect(
        "
        wait 1000
        change templates/a.html
          wave 2 by templates/a.html (1): serve
          start serve#5
        wait 60000
        timeout serve#5
          stop serve#5
          not ready serve
        exit serve#5 143
          wave 2 done, 1 failed; serve failed, serving since 0ms
        change templates/b.html
          wave 3 by templates/b.html (1): serve
          start serve#6
        ready serve#6
          stop serve#4
          ready serve in 0ms
        exit serve#4 143
          wave 3 done, 0 failed
        ",
    );
}

/// The standings `wave_finished` and `hot ci`'s table are made of: the replacement's failure,
/// its own run time, and the older instance that serves.
#[test]
fn a_failed_replacement_stands_failed_with_the_older_instance_serving() {
    let mut engine = Engine::new(Arc::new(project(&[("serve", &["src/**"], &[])])), watch());
    let t0 = Instant::now();
    let serve = NodeId(0);
    let start = engine.start(t0);
    assert!(start.contains(&Action::Start {
        node: serve,
        generation: 1
    }));
    engine.handle(
        t0,
        Event::Ready {
            node: serve,
            generation: 1,
        },
    );
    let t1 = t0 + Duration::from_secs(5);
    engine.handle(t1, Event::Changed(vec![Change::path("src/a")]));
    let crashed = engine.handle(
        t1 + Duration::from_millis(30),
        Event::Exited {
            node: serve,
            generation: 2,
            exit: Exit::Code(1),
            last_lines: Vec::new(),
            // The keeper's measure of the replacement's run.
            ran: Some(Duration::from_millis(25)),
        },
    );
    let expected = vec![Standing {
        node: serve,
        result: NodeResult::Failed,
        duration: Some(Duration::from_millis(25)),
        serving_since: Some(t0),
    }];
    assert!(
        crashed.contains(&Action::Report(Report::WaveFinished {
            wave: 2,
            failed: 1,
            graph: expected.clone(),
            crashed: vec![Crash {
                node: serve,
                generation: 2,
                exit: Exit::Code(1),
                serving: Some(1),
            }],
        })),
        "{crashed:?}"
    );
    assert_eq!(engine.standings(), expected);
}

/// With no predecessor the instance is all there is: kept, and said precisely.
#[test]
fn a_first_instance_that_never_gets_ready_is_kept() {
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
        wait 60000
        timeout serve#4
          not ready serve (kept: no other)
          wave 1 done, 0 failed
        change templates/x
          wave 2 by templates/x (1): serve
          start serve#5
        ready serve#5
          stop serve#4
          ready serve in 0ms
        exit serve#4 143
          wave 2 done, 0 failed
        ",
    );
}

/// The old instance broke the shared socket as it stopped: the new one, serving, holds a dead
/// socket and is restarted on the fresh one.
#[test]
fn a_socket_broken_by_a_stopping_instance_restarts_the_service_on_a_fresh_one() {
    Scenario::new(WEB).serving().expect(
        "
        change templates/x
          wave 2 by templates/x (1): serve
          start serve#5
        ready serve#5
          stop serve#4
          ready serve in 0ms
        exit serve#4 0
          wave 2 done, 0 failed
        renewed serve http
          renewed serve `http`
          start serve#6
        ready serve#6
          stop serve#5
          ready serve in 0ms
        exit serve#5 0
        ",
    );
}

#[test]
fn a_stopped_instance_is_reported() {
    Scenario::new(WEB).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        stopped clippy#1 19
          suspended clippy by 19
        change src/a.rs
          wave 2 by src/a.rs (1): clippy test build serve
          stop clippy#1
          restarting clippy
          stop build#2
          restarting build
        stopped clippy#1 15
        ",
    );
}

#[test]
fn a_late_exit_of_a_stopped_instance_is_ignored() {
    Scenario::new(WEB).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        change src/a.rs
          wave 2 by src/a.rs (1): clippy test build serve
          stop clippy#1
          restarting clippy
          stop build#2
          restarting build
        exit build#2 143
          start build#3
        exit clippy#1 143
          start clippy#4
        exit build#2 0
        ",
    );
}

#[test]
fn run_service_stays_until_shutdown() {
    Scenario::new(WEB)
        .options(Options {
            targets: Some(vec!["serve".into()]),
            ..once()
        })
        .serving()
        .expect(
            "
            change src/x.rs
              wave 2 by src/x.rs (1): clippy test build serve
              start clippy#5
              start build#6
            shutdown 130
              stop clippy#5
              stop build#6
              stop serve#4
            exit clippy#5 143
            exit build#6 143
            exit serve#4 143
              exit 130
            ",
        );
}
