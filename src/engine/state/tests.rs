//! Scripted scenarios: a tiny event language in, a transcript of actions out.
//!
//! Script lines: `start`, `change PATH[@MS]...` (modified MS into the script), `exit NAME#GEN CODE`, `kill NAME#GEN SIGNAL`,
//! `ready NAME#GEN`, `timeout NAME#GEN`, `wait MS`, `tick` (the driver's timer fired),
//! `rerun all|failed`, `shutdown CODE`, `reload` (with the project given to [`check_reload`]),
//! `stopped NAME#GEN SIGNAL`. Each line is echoed, followed by the actions it caused.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::model::Restart;
use crate::model::testing::project;

type Nodes<'a> = &'a [(&'a str, &'a [&'a str], &'a [&'a str])];

const WEB: Nodes = &[
    ("clippy", &["src/**/*.rs", "Cargo.toml"], &[]),
    ("test", &["src/**/*.rs", "tests/**/*.rs"], &["clippy"]),
    ("build", &["src/**/*.rs", "Cargo.toml"], &[]),
    ("serve", &["templates/**"], &["test", "build"]),
];

fn watch() -> Options {
    Options {
        mode: Mode::Watch,
        targets: None,
        services: true,
        jobs: 8,
    }
}

fn run(engine: &mut Engine, script: &str, mut reload: Option<Project>) -> String {
    let t0 = Instant::now();
    let mut now = t0;
    let mut out = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let generation = |word: &str| -> (NodeId, Generation) {
            let (name, generation) = word.split_once('#').expect("NAME#GEN");
            let node = engine.project().find(name).expect("known node");
            let generation = generation.parse().expect("a number");
            if let Some(owner) = engine.owner(generation) {
                assert_eq!(owner, node, "{word} belongs to another node");
            }
            (node, generation)
        };
        let actions = match words[0] {
            "start" => engine.start(now),
            "wait" => {
                now += Duration::from_millis(words[1].parse().expect("ms"));
                Vec::new()
            }
            // `change PATH@MS`: PATH was modified at MS into the script (default: unknown).
            "change" => {
                let changes = words[1..]
                    .iter()
                    .map(|word| match word.split_once('@') {
                        Some((path, ms)) => Change {
                            path: PathBuf::from(path),
                            modified: Some(t0 + Duration::from_millis(ms.parse().expect("ms"))),
                        },
                        None => Change::path(*word),
                    })
                    .collect();
                engine.handle(now, Event::Changed(changes))
            }
            "exit" | "kill" => {
                let (node, generation) = generation(words[1]);
                let value = words[2].parse().expect("a number");
                let exit = if words[0] == "exit" {
                    Exit::Code(value)
                } else {
                    Exit::Signal(value)
                };
                engine.handle(
                    now,
                    Event::Exited {
                        node,
                        generation,
                        exit,
                        last_lines: vec![format!("last line of #{generation}")],
                    },
                )
            }
            "ready" => {
                let (node, generation) = generation(words[1]);
                engine.handle(now, Event::Ready { node, generation })
            }
            "timeout" => {
                let (node, generation) = generation(words[1]);
                engine.handle(now, Event::ReadyTimedOut { node, generation })
            }
            "rerun" => {
                let which = match words[1] {
                    "all" => Rerun::All,
                    "failed" => Rerun::Failed,
                    other => panic!("rerun all|failed, not `{other}`"),
                };
                engine.handle(now, Event::Rerun(which))
            }
            "tick" => engine.handle(now, Event::Tick),
            "renewed" => {
                let node = engine.project().find(words[1]).expect("known node");
                engine.handle(
                    now,
                    Event::SocketRenewed {
                        node,
                        socket: words[2].to_owned(),
                    },
                )
            }
            "stopped" => {
                let (node, generation) = generation(words[1]);
                let signal = words[2].parse().expect("a number");
                engine.handle(
                    now,
                    Event::Suspended {
                        node,
                        generation,
                        signal,
                        pid: 42,
                    },
                )
            }
            "shutdown" => engine.handle(
                now,
                Event::Shutdown {
                    code: words[1].parse().expect("a number"),
                },
            ),
            "reload" => {
                let project = reload.take().expect("check_reload gives the new project");
                engine.reload(now, Arc::new(project))
            }
            other => panic!("unknown script word `{other}`"),
        };
        out.push_str(line);
        out.push('\n');
        for action in actions {
            out.push_str("  ");
            out.push_str(&describe(engine.project(), t0, &action));
            out.push('\n');
        }
    }
    out
}

fn describe(project: &Project, t0: Instant, action: &Action) -> String {
    let name = |node: &NodeId| project.node(*node).name.clone();
    let names = |nodes: &[NodeId]| nodes.iter().map(name).collect::<Vec<_>>().join(" ");
    match action {
        Action::Start { node, generation } => format!("start {}#{generation}", name(node)),
        Action::Stop { node, generation } => format!("stop {}#{generation}", name(node)),
        Action::Exit(code) => format!("exit {code}"),
        Action::Answer { node } => format!("answer {}", name(node)),
        Action::Release { node } => format!("release {}", name(node)),
        Action::Wake { at } => format!("wake at {}ms", at.duration_since(t0).as_millis()),
        Action::Report(report) => match report {
            Report::WaveStarted {
                wave,
                trigger,
                nodes,
            } => {
                let trigger = match trigger {
                    Trigger::Start => "start".to_owned(),
                    Trigger::Paths { first, count } => format!("{} ({count})", first[0].display()),
                    Trigger::Rerun(which) => format!("rerun {which:?}"),
                };
                format!("wave {wave} by {trigger}: {}", names(nodes))
            }
            // Implied by `start`; left out to keep transcripts short.
            Report::NodeStarted { .. } => String::from("-"),
            Report::NodeFinished {
                node,
                exit,
                duration,
                last_lines,
            } => {
                let own = match project.node(*node).kind {
                    crate::model::Kind::Service => format!(" ({})", last_lines.join("; ")),
                    crate::model::Kind::Task => String::new(),
                };
                format!(
                    "finished {} {exit:?} in {}ms{own}",
                    name(node),
                    duration.as_millis()
                )
            }
            Report::ServiceReady { node, duration } => {
                format!("ready {} in {}ms", name(node), duration.as_millis())
            }
            Report::Blocked { node, by } => format!("blocked {} by {}", name(node), name(by)),
            Report::Restarting { node } => format!("restarting {}", name(node)),
            Report::ServiceKept {
                node,
                since,
                failed,
            } => format!(
                "kept {} (since {}ms): {} failed",
                name(node),
                since.duration_since(t0).as_millis(),
                name(failed)
            ),
            Report::ReadyTimedOut { node, kept } => {
                let kept = if *kept { " (kept: no other)" } else { "" };
                format!("not ready {}{kept}", name(node))
            }
            Report::ServiceDown { node, restart_in } => match restart_in {
                Some(delay) => format!("down {}: restart in {}ms", name(node), delay.as_millis()),
                None => format!("down {}: waits for a change", name(node)),
            },
            Report::LoopDetected { node, paths } => {
                let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                format!("loop {}: {}", name(node), paths.join(" "))
            }
            Report::SocketRenewed { node, socket } => {
                format!("renewed {} `{socket}`", name(node))
            }
            Report::Suspended { node, signal, .. } => {
                format!("suspended {} by {signal}", name(node))
            }
            Report::WaveFinished { wave, failed, .. } => {
                format!("wave {wave} done, {failed} failed")
            }
        },
    }
}

/// Runs the script formed by the unindented lines of `expected` and compares the transcript
/// with all of `expected`.
#[track_caller]
fn check(nodes: Nodes, options: Options, expected: &str) {
    let engine = Engine::new(Arc::new(project(nodes)), options);
    compare(engine, None, expected);
}

/// Like [`check`] on a project the caller has adjusted.
#[track_caller]
fn check_project(project: Project, options: Options, expected: &str) {
    compare(Engine::new(Arc::new(project), options), None, expected);
}

/// Like [`check`], with `new` as the project that the script's `reload` loads.
#[track_caller]
fn check_reload(nodes: Nodes, new: Nodes, expected: &str) {
    let engine = Engine::new(Arc::new(project(nodes)), watch());
    compare(engine, Some(project(new)), expected);
}

#[track_caller]
fn compare(mut engine: Engine, reload: Option<Project>, expected: &str) {
    let expected = unindent(expected);
    let script: String = expected
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| format!("{l}\n"))
        .collect();
    let transcript: String = run(&mut engine, &script, reload)
        .lines()
        .filter(|l| l.trim() != "-")
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(transcript.trim(), expected.trim(), "\n{transcript}");
}

/// Strips the common indentation of the expected transcript, keeping the relative indent.
fn unindent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

fn once() -> Options {
    Options {
        mode: Mode::Once,
        ..watch()
    }
}

fn ci() -> Options {
    Options {
        services: false,
        ..once()
    }
}

#[test]
fn first_wave_runs_in_dependency_order_then_starts_the_service() {
    check(
        WEB,
        watch(),
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
    check(
        WEB,
        watch(),
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
    check(
        WEB,
        watch(),
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
fn only_affected_nodes_rerun_and_the_service_hands_off() {
    check(
        WEB,
        watch(),
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
    check(
        WEB,
        watch(),
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
    check(
        &[("build", &["src/**"], &[]), ("daemon", &[], &["build"])],
        watch(),
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
    check(
        WEB,
        watch(),
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
        change templates/a.html
          wave 2 by templates/a.html (1): serve
          start serve#5
        timeout serve#5
          stop serve#5
          not ready serve
        exit serve#5 143
          wave 2 done, 1 failed
        ",
    );
}

#[test]
fn a_replacement_that_crashes_before_ready_leaves_the_old_one_serving() {
    check(
        WEB,
        watch(),
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
        change templates/a.html
          wave 2 by templates/a.html (1): serve
          start serve#5
        exit serve#5 1
          finished serve Code(1) in 0ms (last line of #5)
          wave 2 done, 1 failed
        ",
    );
}

fn web_with(restart: Restart) -> Project {
    let mut project = project(WEB);
    project.nodes[3].restart = restart;
    project
}

#[test]
fn a_crashed_service_waits_for_the_next_change_with_restart_never() {
    check_project(
        web_with(Restart::Never),
        watch(),
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

/// 0.5 s, doubling while it keeps crashing, back to 0.5 s once an instance stayed up 30 s;
/// each crash reported with its own last lines.
#[test]
fn a_crashed_service_comes_back_by_itself_with_backoff() {
    check(
        WEB,
        watch(),
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
    check(
        WEB,
        watch(),
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
    check(
        WEB,
        watch(),
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
          wave 1 done, 1 failed
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
    check_project(
        web_with(Restart::OnFailure),
        watch(),
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
    check(
        WEB,
        watch(),
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

/// With no predecessor the instance is all there is: kept, and said precisely.
#[test]
fn a_first_instance_that_never_gets_ready_is_kept() {
    check(
        WEB,
        watch(),
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
    check(
        WEB,
        watch(),
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
    check(
        WEB,
        watch(),
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
fn jobs_bound_parallel_tasks() {
    check(
        WEB,
        Options { jobs: 1, ..watch() },
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
    check(
        WEB,
        ci(),
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
    check(
        WEB,
        ci(),
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
    check(
        WEB,
        Options {
            targets: Some(vec!["test".into()]),
            ..once()
        },
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
fn run_service_stays_until_shutdown() {
    check(
        WEB,
        Options {
            targets: Some(vec!["serve".into()]),
            ..once()
        },
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

#[test]
fn shutdown_stops_everything_then_exits() {
    check(
        WEB,
        watch(),
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

/// The task writes `src/out.rs` (which it watches) at the end of each run: the writes fall in
/// its runs, so the fourth retrigger in a row is a loop, and its later writes are ignored. A
/// write from outside any run still counts.
#[test]
fn a_node_retriggering_itself_is_stopped_as_a_loop() {
    check(
        &[("gen", &["src/**"], &[])],
        watch(),
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
    check(
        &[("t", &["src/**"], &[])],
        watch(),
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
    check(
        &[("count", &["**/*.txt"], &[])],
        watch(),
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
    check(
        &[("gen", &["**/*.txt"], &[])],
        watch(),
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
    check(
        &[("test", &["src/**"], &[])],
        watch(),
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

#[test]
fn reload_reruns_changed_nodes_and_their_dependents() {
    check_reload(
        WEB,
        &[
            ("clippy", &["src/**/*.rs"], &[]),
            ("test", &["src/**/*.rs", "tests/**/*.rs"], &["clippy"]),
            ("serve", &["templates/**"], &["test"]),
        ],
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
fn a_late_exit_of_a_stopped_instance_is_ignored() {
    check(
        WEB,
        watch(),
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
fn rerun_all_reruns_every_node_and_hands_off_the_service() {
    check(
        WEB,
        watch(),
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
    check(
        WEB,
        watch(),
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

#[test]
fn rerun_during_shutdown_starts_nothing() {
    check(
        WEB,
        watch(),
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
            },
            Standing {
                node: daemon,
                result: NodeResult::Blocked { by: lib },
                duration: None,
            },
            Standing {
                node: docs,
                result: NodeResult::Ok,
                duration: Some(Duration::from_millis(40)),
            },
        ]
    );
    assert_eq!(&engine.standings(), graph.1);
}

/// `hot run serve`: a crash with a restart coming does not end hot; shutdown cancels it.
#[test]
fn run_service_waits_for_its_crash_restart_and_shutdown_cancels_it() {
    check(
        &[("serve", &[], &[])],
        Options {
            targets: Some(vec!["serve".into()]),
            ..once()
        },
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
mod locks;

mod answer;

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
