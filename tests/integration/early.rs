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
    next_ready(hot).0
}

/// The pid and generation of the next instance of `serve` to start, once it printed its ready
/// line.
#[track_caller]
fn next_ready(hot: &mut Running) -> (i32, u64) {
    let started = hot.wait_event("command_started", "serve");
    hot.wait_for("serve's ready line", |e| {
        e["event"] == "output" && e["node"] == "serve" && e["line"] == "ready"
    });
    let pid = i32::try_from(started["pid"].as_i64().expect("a pid")).expect("pids fit in i32");
    (pid, started["generation"].as_u64().expect("a generation"))
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

#[test]
fn an_unpromoted_first_instance_is_stopped_by_a_broken_edit_and_nothing_serves() {
    // hot's first instance serves alone while its gate is held, so it is never promoted. An
    // edit cancels that gate and a broken edit's gate fails: neither may stop it, and neither
    // wave's early instance may get a connection.
    let project = gated_project();
    std::fs::remove_file(project.path().join("go")).unwrap();
    let mut hot = project.spawn(&["watch"]);
    let addr = hot.wait_event("listening", "serve")["addr"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = next_ready_instance(&mut hot);
    let served = ask(&addr).unwrap();
    assert_eq!(field(&served, "pid"), first.to_string(), "{served}");

    // An edit cancels the held gate; its early instance waits beside the first one.
    project.write("version", "2");
    let second = next_ready_instance(&mut hot);
    let meanwhile = ask(&addr).unwrap();
    assert_eq!(field(&meanwhile, "pid"), first.to_string(), "{meanwhile}");
    assert_eq!(field(&meanwhile, "version"), "1");

    // A broken edit: its early instance is stopped when the gate fails, the first serves on.
    project.write("verdict", "fail");
    project.write("version", "3");
    let third = next_ready_instance(&mut hot);
    assert!(
        gone(second),
        "the cancelled early instance {second} still runs"
    );
    project.write("go", "");
    let kept = hot.wait_event("service_kept", "serve");
    assert_eq!(kept["failed"], "test");
    assert!(gone(third), "the failed early instance {third} still runs");
    let after = ask(&addr).unwrap();
    assert_eq!(field(&after, "pid"), first.to_string(), "{after}");
    assert_eq!(field(&after, "version"), "1");
    assert!(alive(first));
}

#[test]
fn a_crash_of_the_serving_instance_while_an_early_one_waits_is_said_and_the_early_one_serves() {
    // The serving instance dies while the new build's early instance waits for its test: that
    // one is all that is left (a restart would run the same unchecked build), so it serves,
    // and hot says which build serves and that its gate has not passed; the gate passing then
    // makes that same instance the checked one, without a restart.
    let project = gated_project();
    let mut hot = project.spawn(&["watch"]);
    let addr = hot.wait_event("listening", "serve")["addr"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = hot.wait_event("service_ready", "serve");
    assert_eq!(first["gates"], serde_json::json!(["test"]), "{first}");
    let old: i32 = field(&ask(&addr).unwrap(), "pid").parse().unwrap();

    project.write("version", "2");
    let (early, generation) = next_ready(&mut hot);
    assert_eq!(field(&ask(&addr).unwrap(), "pid"), old.to_string());
    // SAFETY: kill(2) on the serving instance's command, a child of hot's that still runs.
    unsafe { libc::kill(old, libc::SIGKILL) };
    let unchecked = hot.wait_event("service_serving_unchecked", "serve");
    assert_eq!(unchecked["generation"], generation, "{unchecked}");
    assert_eq!(unchecked["gates"], serde_json::json!(["test"]));
    assert_eq!(unchecked["ready"], true);
    let served = ask(&addr).unwrap();
    assert_eq!(field(&served, "pid"), early.to_string(), "{served}");
    assert_eq!(field(&served, "version"), "2");

    project.write("go", "");
    let ready = hot.wait_event("service_ready", "serve");
    assert_eq!(ready["generation"], generation, "{ready}");
    assert_eq!(ready["gates"], serde_json::json!(["test"]));
    assert_eq!(field(&ask(&addr).unwrap(), "pid"), early.to_string());
    assert!(alive(early));
}
