//! Loop detection: a node rewriting what it watches is stopped; nobody else's edits are taken for it.

use super::*;

/// The task writes `src/out.rs` (which it watches) at the end of each run: the writes fall in
/// its runs, so the fourth retrigger in a row is a loop, and its later writes are ignored. A
/// write from outside any run still counts.
#[test]
fn a_node_retriggering_itself_is_stopped_as_a_loop() {
    Scenario::new(&[("gen", &["src/**"], &[])]).expect(
        "
        start
          wave 1 by start: gen
          start gen#1
        wait 100
        exit gen#1 0
          finished gen Code(0) in 100ms
          wave 1 done, 0 failed
        wait 20
        change src/out.rs@99
          wave 2 by src/out.rs (1): gen
          start gen#2
        wait 100
        exit gen#2 0
          finished gen Code(0) in 100ms
          wave 2 done, 0 failed
        wait 20
        change src/out.rs@219
          wave 3 by src/out.rs (1): gen
          start gen#3
        wait 100
        exit gen#3 0
          finished gen Code(0) in 100ms
          wave 3 done, 0 failed
        wait 20
        change src/out.rs@339
          wave 4 by src/out.rs (1): gen
          start gen#4
        wait 100
        exit gen#4 0
          finished gen Code(0) in 100ms
          wave 4 done, 0 failed
        wait 20
        change src/out.rs@459
          loop gen: src/out.rs
        wait 20
        change src/out.rs@460
        wait 1000
        change src/out.rs@1480
          wave 5 by src/out.rs (1): gen
          start gen#5
        ",
    );
}

/// Saves in quick succession between fast runs are someone else's writes: every one runs.
#[test]
fn quick_saves_between_fast_runs_are_not_a_loop() {
    Scenario::new(&[("t", &["src/**"], &[])]).expect(
        "
        start
          wave 1 by start: t
          start t#1
        wait 3
        exit t#1 0
          finished t Code(0) in 3ms
          wave 1 done, 0 failed
        wait 97
        change src/a.rs@90
          wave 2 by src/a.rs (1): t
          start t#2
        wait 3
        exit t#2 0
          finished t Code(0) in 3ms
          wave 2 done, 0 failed
        wait 97
        change src/a.rs@190
          wave 3 by src/a.rs (1): t
          start t#3
        wait 3
        exit t#3 0
          finished t Code(0) in 3ms
          wave 3 done, 0 failed
        wait 97
        change src/a.rs@290
          wave 4 by src/a.rs (1): t
          start t#4
        wait 3
        exit t#4 0
          finished t Code(0) in 3ms
          wave 4 done, 0 failed
        wait 97
        change src/a.rs@390
          wave 5 by src/a.rs (1): t
          start t#5
        wait 3
        exit t#5 0
          finished t Code(0) in 3ms
          wave 5 done, 0 failed
        wait 97
        change src/a.rs@490
          wave 6 by src/a.rs (1): t
          start t#6
        ",
    );
}

/// Another process creates a new file every 20 ms; each is written while the previous run
/// ran and seen after it ended, so its mtime falls inside a run that ended on its own. Those
/// are different paths, not the node rewriting the same ones: every change runs (this was
/// taken for a loop at the fourth, and the newest file was never run for).
#[test]
fn an_edit_is_lost_to_loop_detection() {
    Scenario::new(&[("count", &["**/*.txt"], &[])]).expect(
        "
        start
          wave 1 by start: count
          start count#1
        wait 5
        exit count#1 0
          finished count Code(0) in 5ms
          wave 1 done, 0 failed
        wait 15
        change n00/f.txt@3
          wave 2 by n00/f.txt (1): count
          start count#2
        wait 5
        exit count#2 0
          finished count Code(0) in 5ms
          wave 2 done, 0 failed
        wait 15
        change n01/f.txt@23
          wave 3 by n01/f.txt (1): count
          start count#3
        wait 5
        exit count#3 0
          finished count Code(0) in 5ms
          wave 3 done, 0 failed
        wait 15
        change n02/f.txt@43
          wave 4 by n02/f.txt (1): count
          start count#4
        wait 5
        exit count#4 0
          finished count Code(0) in 5ms
          wave 4 done, 0 failed
        wait 15
        change n03/f.txt@63
          wave 5 by n03/f.txt (1): count
          start count#5
        wait 5
        exit count#5 0
          finished count Code(0) in 5ms
          wave 5 done, 0 failed
        wait 15
        change n04/f.txt@83
          wave 6 by n04/f.txt (1): count
          start count#6
        wait 5
        exit count#6 0
          finished count Code(0) in 5ms
          wave 6 done, 0 failed
        wait 15
        change n05/f.txt@103
          wave 7 by n05/f.txt (1): count
          start count#7
        ",
    );
}

/// The node rewrites `out.txt` in every run, while someone else's files land in the same
/// runs: as long as something new changes, it runs; once only its own path comes back, the
/// loop is named.
#[test]
fn a_loop_is_the_same_path_rewritten_by_consecutive_runs() {
    Scenario::new(&[("gen", &["**/*.txt"], &[])]).expect(
        "
        start
          wave 1 by start: gen
          start gen#1
        wait 10
        exit gen#1 0
          finished gen Code(0) in 10ms
          wave 1 done, 0 failed
        wait 10
        change a.txt@5 out.txt@9
          wave 2 by a.txt (2): gen
          start gen#2
        wait 10
        exit gen#2 0
          finished gen Code(0) in 10ms
          wave 2 done, 0 failed
        wait 10
        change b.txt@25 out.txt@29
          wave 3 by b.txt (2): gen
          start gen#3
        wait 10
        exit gen#3 0
          finished gen Code(0) in 10ms
          wave 3 done, 0 failed
        wait 10
        change c.txt@45 out.txt@49
          wave 4 by c.txt (2): gen
          start gen#4
        wait 10
        exit gen#4 0
          finished gen Code(0) in 10ms
          wave 4 done, 0 failed
        wait 10
        change d.txt@65 out.txt@69
          wave 5 by d.txt (2): gen
          start gen#5
        wait 10
        exit gen#5 0
          finished gen Code(0) in 10ms
          wave 5 done, 0 failed
        wait 10
        change out.txt@89
          loop gen: out.txt
        ",
    );
}

/// Edits written while the task runs restart it (after the hold: they might be its own
/// writes, see `hold`); they are never taken for its own writes.
#[test]
fn a_user_editing_during_long_runs_is_not_a_loop() {
    Scenario::new(&[("test", &["src/**"], &[])]).expect(
        "
        start
          wave 1 by start: test
          start test#1
        wait 2000
        change src/a.rs@1990
          wake at 2050ms
        wait 50
        tick
          wave 2 by src/a.rs (1): test
          stop test#1
          restarting test
        exit test#1 143
          start test#2
        wait 2000
        change src/a.rs@3990
          wake at 4100ms
        wait 50
        tick
          wave 3 by src/a.rs (1): test
          stop test#2
          restarting test
        exit test#2 143
          start test#3
        wait 2000
        change src/a.rs@5990
          wake at 6150ms
        wait 50
        tick
          wave 4 by src/a.rs (1): test
          stop test#3
          restarting test
        exit test#3 143
          start test#4
        wait 2000
        change src/a.rs@7990
          wake at 8200ms
        wait 50
        tick
          wave 5 by src/a.rs (1): test
          stop test#4
          restarting test
        exit test#4 143
          start test#5
        wait 2000
        change src/a.rs@9990
          wake at 10250ms
        wait 50
        tick
          wave 6 by src/a.rs (1): test
          stop test#5
          restarting test
        ",
    );
}

/// The loop check added a slack to a change's mtime with `Instant + Duration`, which panics
/// past the clock's range: a file stamped at the end of time took hot down.
#[test]
fn an_mtime_at_the_end_of_the_clock_is_not_a_panic() {
    let mut engine = Engine::new(Arc::new(project(&[("gen", &["src/**"], &[])])), watch());
    let t0 = Instant::now();
    // The latest instant the clock can hold, found by halving the step.
    let (mut last, mut step) = (t0, Duration::from_secs(u64::MAX));
    while step > Duration::ZERO {
        match last.checked_add(step) {
            Some(later) => last = later,
            None => step /= 2,
        }
    }
    engine.start(t0);
    let node = engine.project().find("gen").expect("gen");
    let finished = engine.handle(
        t0,
        Event::Exited {
            node,
            generation: 1,
            exit: Exit::Code(0),
            last_lines: Vec::new(),
            ran: None,
        },
    );
    assert!(!finished.is_empty());
    let changes = vec![Change {
        path: PathBuf::from("src/out.rs"),
        modified: Some(last),
    }];
    let actions = engine.handle(t0, Event::Changed(changes));
    // Not a write of the run that ended at t0: it starts a new one.
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Start { node: started, .. } if *started == node)),
        "{actions:?}"
    );
    // The same stamp while that run goes on: the hold's check (`hold.rs`) added the slack too.
    let again = vec![Change {
        path: PathBuf::from("src/out.rs"),
        modified: Some(last),
    }];
    let actions = engine.handle(t0, Event::Changed(again));
    assert!(
        actions.iter().any(|a| matches!(a, Action::Wake { .. })),
        "held as the running task's own write: {actions:?}"
    );
}

/// A quick task that rewrites its own input: its write arrives while it still runs (the
/// watcher reports a lone save within a millisecond). Held until the run ends, it is judged
/// as a finished run's write, so the loop is found instead of restarting the task forever.
#[test]
fn a_quick_run_writing_its_own_input_is_held_until_it_ends() {
    check(
        &[("gen", &["src/**"], &[])],
        watch(),
        "
        start
          wave 1 by start: gen
          start gen#1
        wait 5
        change src/out.rs@4
          wake at 55ms
        wait 3
        exit gen#1 0
          finished gen Code(0) in 8ms
          wave 2 by src/out.rs (1): gen
          start gen#2
        ",
    );
}
