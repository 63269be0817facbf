//! hot answers a `reload` service's socket while no instance of it is alive, and releases it
//! before every start.

use super::*;
use crate::model::{Reload, SocketSpec};

/// WEB with `reload` (and a socket) on `serve`, and `restart` as given.
fn web_reload(restart: Restart) -> Project {
    let mut project = web_with(restart);
    let serve = &mut project.nodes[3];
    serve.sockets = vec![SocketSpec {
        name: "http".into(),
        addr: "127.0.0.1:3000".parse().expect("an address"),
    }];
    serve.reload = Some(Reload {
        addr: "127.0.0.1:35729".parse().expect("an address"),
        public: false,
    });
    project
}

#[test]
fn hot_answers_while_the_first_build_runs_and_releases_before_the_start() {
    check_project(
        web_reload(Restart::Always),
        watch(),
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
          answer serve
        exit clippy#1 0
          finished clippy Code(0) in 0ms
          start test#3
        exit build#2 0
          finished build Code(0) in 0ms
        exit test#3 0
          finished test Code(0) in 0ms
          release serve
          start serve#4
        ready serve#4
          ready serve in 0ms
          wave 1 done, 0 failed
        ",
    );
}

#[test]
fn hot_goes_on_answering_when_the_first_build_fails() {
    check_project(
        web_reload(Restart::Always),
        watch(),
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
          answer serve
        exit clippy#1 1
          finished clippy Code(1) in 0ms
          blocked test by clippy
        exit build#2 0
          finished build Code(0) in 0ms
          blocked serve by clippy
          wave 1 done, 1 failed
        change src/main.rs
          wave 2 by src/main.rs (1): clippy test build serve
          start clippy#3
          start build#4
        exit clippy#3 0
          finished clippy Code(0) in 0ms
          start test#5
        exit build#4 0
          finished build Code(0) in 0ms
        exit test#5 0
          finished test Code(0) in 0ms
          release serve
          start serve#6
        ready serve#6
          ready serve in 0ms
          wave 2 done, 0 failed
        ",
    );
}

/// A crash leaves nobody: hot answers through the backoff and lets go just before the restart.
/// A hand-off never answers: the old instance serves until the new one is ready.
#[test]
fn hot_answers_through_a_crash_backoff_but_never_during_a_hand_off() {
    check_project(
        web_reload(Restart::Always),
        watch(),
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
          answer serve
        exit clippy#1 0
          finished clippy Code(0) in 0ms
          start test#3
        exit build#2 0
          finished build Code(0) in 0ms
        exit test#3 0
          finished test Code(0) in 0ms
          release serve
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
        exit serve#5 101
          finished serve Code(101) in 0ms (last line of #5)
          down serve: restart in 500ms
          wake at 500ms
          answer serve
        wait 500
        tick
          release serve
          start serve#6
        ready serve#6
          ready serve in 0ms
        ",
    );
}

/// Shutting down, hot lets go of the socket: the stopping instances are the last to serve.
#[test]
fn hot_stops_answering_at_shutdown() {
    check_project(
        web_reload(Restart::Always),
        watch(),
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
          answer serve
        shutdown 130
          stop clippy#1
          stop build#2
          release serve
        exit clippy#1 143
        exit build#2 143
          exit 130
        ",
    );
}

/// Without `reload` hot never answers (the contract's behaviour: clients wait in the backlog).
#[test]
fn no_answer_without_reload() {
    check(
        WEB,
        watch(),
        "
        start
          wave 1 by start: clippy test build serve
          start clippy#1
          start build#2
        ",
    );
}
