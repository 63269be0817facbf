//! Waves: dependency order, what a failure blocks, job bounds, `ci`, run targets and shutdown.

use super::*;

#[test]
fn first_wave_runs_in_dependency_order_then_starts_the_service() {
    Scenario::new(WEB).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        wait 100
        exit clippy#1 0
          finished clippy Code(0) in 100ms
          start test#3
        exit build#2 0
          finished build Code(0) in 100ms
        wait 250
        exit test#3 0
          finished test Code(0) in 250ms
          start serve#4
        wait 30
        ready serve#4
          ready serve in 30ms
          wave 1 done, 0 failed
        ",
    );
}

#[test]
fn a_failure_blocks_dependents_not_independent_nodes() {
    Scenario::new(WEB).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        exit clippy#1 101
          finished clippy Code(101) in 0ms
          blocked test by clippy
        exit build#2 0
          finished build Code(0) in 0ms
          blocked serve by clippy
          wave 1 done, 1 failed
        ",
    );
}

#[test]
fn a_change_during_a_run_stops_it_and_starts_it_afresh() {
    Scenario::new(WEB).serving().expect(
        "
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          start clippy#5
          start build#6
        change src/lib.rs
          wave 3 by src/lib.rs (1): clippy test build serve
          stop clippy#5
          restarting clippy
          stop build#6
          restarting build
        exit clippy#5 143
          start clippy#7
        exit build#6 143
          start build#8
        exit clippy#7 0
          finished clippy Code(0) in 0ms
          start test#9
        exit build#8 0
          finished build Code(0) in 0ms
        exit test#9 0
          finished test Code(0) in 0ms
          start serve#10
        ready serve#10
          stop serve#4
          ready serve in 0ms
        exit serve#4 143
          wave 3 done, 0 failed
        ",
    );
}

#[test]
fn jobs_bound_parallel_tasks() {
    Scenario::new(WEB)
        .options(Options { jobs: 1, ..watch() })
        .expect(
            "
            start
              wave 1 by start: clippy test build serve
              start clippy#1
            exit clippy#1 0
              finished clippy Code(0) in 0ms
              start build#2
            exit build#2 0
              finished build Code(0) in 0ms
              start test#3
            ",
        );
}

#[test]
fn ci_runs_every_task_once_and_no_service() {
    Scenario::new(WEB).options(ci()).expect(
        "
        start
          wave 1 by start: clippy test build
          start clippy#1
          start build#2
        exit clippy#1 0
          finished clippy Code(0) in 0ms
          start test#3
        exit build#2 0
          finished build Code(0) in 0ms
        exit test#3 0
          finished test Code(0) in 0ms
          wave 1 done, 0 failed
          exit 0
        ",
    );
}

#[test]
fn ci_exits_1_when_a_task_failed() {
    Scenario::new(WEB).options(ci()).expect(
        "
        start
          wave 1 by start: clippy test build
          start clippy#1
          start build#2
        exit clippy#1 2
          finished clippy Code(2) in 0ms
          blocked test by clippy
        exit build#2 0
          finished build Code(0) in 0ms
          wave 1 done, 1 failed
          exit 1
        ",
    );
}

#[test]
fn run_target_runs_only_it_and_its_dependencies() {
    Scenario::new(WEB)
        .options(Options {
            targets: Some(vec!["test".into()]),
            ..once()
        })
        .expect(
            "
            start
              wave 1 by start: clippy test
              start clippy#1
            exit clippy#1 0
              finished clippy Code(0) in 0ms
              start test#2
            exit test#2 0
              finished test Code(0) in 0ms
              wave 1 done, 0 failed
              exit 0
            ",
        );
}

#[test]
fn shutdown_stops_everything_then_exits() {
    Scenario::new(WEB).expect(
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        shutdown 143
          stop clippy#1
          stop build#2
        exit build#2 143
        exit clippy#1 143
          exit 143
        ",
    );
}

/// "all ok" must speak for the graph: a later wave that passes leaves an earlier failure, and
/// the service it blocks, in the standings.
#[test]
fn wave_finished_carries_the_whole_graph_not_the_last_wave() {
    let mut engine = Engine::new(
        Arc::new(project(&[
            ("lib", &["lib/**"], &[]),
            ("daemon", &[], &["lib"]),
            ("docs", &["docs/**"], &[]),
        ])),
        watch(),
    );
    let now = Instant::now();
    let (lib, daemon, docs) = (NodeId(0), NodeId(1), NodeId(2));
    let started = |actions: &[Action], wanted: NodeId| -> (NodeId, Generation) {
        actions
            .iter()
            .find_map(|a| match a {
                Action::Start { node, generation } if *node == wanted => Some((*node, *generation)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{wanted} started in {actions:?}"))
    };
    let exit = |engine: &mut Engine, (node, generation), code| {
        engine.handle(
            now + Duration::from_millis(40),
            Event::Exited {
                node,
                generation,
                exit: Exit::Code(code),
                last_lines: Vec::new(),
                ran: None,
            },
        )
    };
    let first = engine.start(now);
    exit(&mut engine, started(&first, lib), 1);
    exit(&mut engine, started(&first, docs), 0);
    let second = engine.handle(now, Event::Changed(vec![Change::path("docs/a.md")]));
    let finished = exit(&mut engine, started(&second, docs), 0);
    let graph = finished
        .iter()
        .find_map(|a| match a {
            Action::Report(Report::WaveFinished { failed, graph, .. }) => Some((failed, graph)),
            _ => None,
        })
        .expect("the docs wave finishes");
    assert_eq!(*graph.0, 0, "this wave's own nodes passed");
    assert_eq!(
        graph.1,
        &vec![
            Standing {
                node: lib,
                result: NodeResult::Failed,
                duration: Some(Duration::from_millis(40)),
                serving_since: None,
            },
            Standing {
                node: docs,
                result: NodeResult::Ok,
                duration: Some(Duration::from_millis(40)),
                serving_since: None,
            },
            Standing {
                node: daemon,
                result: NodeResult::Blocked { by: lib },
                duration: None,
                serving_since: None,
            },
        ]
    );
    assert_eq!(&engine.standings(), graph.1);
}
