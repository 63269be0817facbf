//! Early start (`gate`): a new instance starts once its build is done, while the gate (a
//! test) still runs, and gets no connection until the gate passed; a failed gate stops it and
//! the old instance serves on.

use std::time::Instant;

use crate::support::{Project, Running, alive, ask, field, gone, probe};

/// `serve` starts after `build` and is gated by `test`, which waits for the file `go` (the
/// test's way to hold the gate open until it has looked) and passes while `verdict` says so.
fn gated_project() -> Project {
    let hotfile = format!(
        r#"
defaults {{
    debounce "20ms"
}}
task "build" {{
    watch "version"
    run "true"
}}
task "test" {{
    watch "version"
    run "i=0; while [ ! -e go ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done; rm -f go; test \"$(cat verdict)\" = pass"
}}
service "serve" {{
    after "build"
    gate "test"
    socket "http" "127.0.0.1:0"
    env PROBE_VERSION_FILE="version" PROBE_STARTUP_MS="50"
    run "{probe}"
    ready log="^ready$"
    stop timeout="2s"
}}
"#,
        probe = probe().display()
    );
    let project = Project::with_hotfile(&hotfile);
    project.write("version", "1");
    project.write("verdict", "pass");
    project.write("go", "");
    project
}

/// The pid of the next instance of `serve` to start, once it printed its ready line.
#[track_caller]
fn next_ready_instance(hot: &mut Running) -> i32 {
    let started = hot.wait_event("command_started", "serve");
    hot.wait_for("serve's ready line", |e| {
        e["event"] == "output" && e["node"] == "serve" && e["line"] == "ready"
    });
    i32::try_from(started["pid"].as_i64().expect("a pid")).expect("pids fit in i32")
}

#[test]
fn a_failed_gate_stops_the_early_instance_and_a_passed_one_promotes_it() {
    let project = gated_project();
    let mut hot = project.spawn(&["watch"]);
    let addr = hot.wait_event("listening", "serve")["addr"]
        .as_str()
        .unwrap()
        .to_owned();
    hot.wait_event("service_ready", "serve");
    let first = ask(&addr).unwrap();
    assert_eq!(field(&first, "version"), "1");
    let old: i32 = field(&first, "pid").parse().unwrap();

    // A failing test: the early instance of version 2 starts and gets ready while the test
    // holds, receives nothing, and is stopped when the test fails.
    project.write("verdict", "fail");
    project.write("version", "2");
    let early = next_ready_instance(&mut hot);
    let meanwhile = ask(&addr).unwrap();
    assert_eq!(field(&meanwhile, "pid"), old.to_string(), "{meanwhile}");
    project.write("go", "");
    let kept = hot.wait_event("service_kept", "serve");
    assert_eq!(kept["failed"], "test");
    assert!(gone(early), "the early instance {early} still runs");
    let after = ask(&addr).unwrap();
    assert_eq!(field(&after, "pid"), old.to_string(), "{after}");
    assert_eq!(field(&after, "version"), "1");
    hot.wait_event("wave_finished", "");

    // A passing test: the early instance of version 3 waits, ready, then takes over.
    project.write("verdict", "pass");
    project.write("version", "3");
    let from = hot.seen.len();
    let early = next_ready_instance(&mut hot);
    // Ready while the test holds: hot says that it waits for the test (the event and the
    // ready line may come in either order).
    let awaiting = |hot: &Running| {
        hot.seen[from..]
            .iter()
            .find(|e| e["event"] == "service_awaiting_gates" && e["node"] == "serve")
            .cloned()
    };
    let awaiting = match awaiting(&hot) {
        Some(event) => event,
        None => hot.wait_event("service_awaiting_gates", "serve"),
    };
    assert_eq!(awaiting["gates"], serde_json::json!(["test"]));
    assert_eq!(
        awaiting["serving"], true,
        "the old instance serves meanwhile"
    );
    let meanwhile = ask(&addr).unwrap();
    assert_eq!(field(&meanwhile, "pid"), old.to_string(), "{meanwhile}");
    project.write("go", "");
    hot.wait_event("service_ready", "serve");
    // The event may reach us before hot steers (right after it), and the old instance answers
    // what it had accepted: ask until version 3 answers, within the deadline.
    let deadline = Instant::now() + crate::support::DEADLINE;
    let served = loop {
        let answer = ask(&addr).unwrap();
        if field(&answer, "version") == "3" {
            break answer;
        }
        assert_eq!(field(&answer, "pid"), old.to_string(), "{answer}");
        assert!(Instant::now() < deadline, "still {answer}");
    };
    assert_eq!(field(&served, "pid"), early.to_string(), "{served}");
    assert!(gone(old), "the old instance {old} still runs");
    assert!(alive(early));
}
