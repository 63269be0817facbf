use crate::support::Project;

/// A task that logs its start and end around a pause, so overlapping runs interleave.
fn logging_task(name: &str, lock: &str) -> String {
    format!(
        "task \"{name}\" {{\n    {lock}\n    run \"echo start {name} >> log; sleep 0.3; echo end {name} >> log\"\n}}\n"
    )
}

#[test]
fn lock_holders_never_run_at_the_same_time() {
    let hotfile: String = ["a", "b", "c"]
        .iter()
        .map(|n| logging_task(n, "lock \"cargo\""))
        .collect();
    let project = Project::with_hotfile(&hotfile);
    project.run(&["ci", "-j", "3"]).code(0);
    let log = project.read("log");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 6, "{log}");
    for pair in lines.chunks(2) {
        let name = pair[0].strip_prefix("start ").expect("a start first");
        assert_eq!(pair[1], format!("end {name}"), "runs overlapped:\n{log}");
    }
}

#[test]
fn tasks_with_different_locks_run_side_by_side() {
    // Each waits (bounded) for the other to have started: this passes only if both run at once.
    let task = |me: &str, other: &str, lock: &str| {
        format!(
            "task \"{me}\" {{\n    lock \"{lock}\"\n    run \"touch {me}.started; i=0; \
             while [ ! -e {other}.started ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; \
             [ -e {other}.started ]\"\n}}\n"
        )
    };
    let project = Project::with_hotfile(&(task("a", "b", "x") + &task("b", "a", "y")));
    project.run(&["ci", "-j", "2"]).code(0);
}

#[test]
fn cargo_waiting_for_a_lock_is_explained_once() {
    let line = "echo '    Blocking waiting for file lock on build directory' >&2";
    let hotfile = format!(
        "task \"clippy\" {{\n    run \"{line}\"\n}}\ntask \"build\" {{\n    after \"clippy\"\n    run \"{line}\"\n}}\n"
    );
    let project = Project::with_hotfile(&hotfile);
    let run = project.run(&["ci"]);
    run.code(0);
    assert_eq!(
        run.stderr
            .matches("cargo is waiting for another cargo's lock")
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("lock \"cargo\""), "{}", run.stderr);
}

/// Status 2, the location and the message, for `hot check`.
#[track_caller]
fn check_mistake(hotfile: &str, location: &str, message: &str) {
    let project = Project::with_hotfile(hotfile);
    let run = project.run(&["check"]);
    run.code(2);
    assert!(
        run.stderr.contains(&format!("Hotfile:{location}")),
        "expected Hotfile:{location} in\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(message),
        "expected `{message}` in\n{}",
        run.stderr
    );
}

#[test]
fn lock_mistakes_are_diagnostics_with_locations() {
    check_mistake(
        "service \"s\" {\n    run \"true\"\n    lock \"cargo\"\n}\n",
        "3:5",
        "`lock` is only allowed in a `task`",
    );
    check_mistake(
        "task \"a\" {\n    run \"true\"\n    lock \"\"\n}\n",
        "3:10",
        "a lock name must be",
    );
    check_mistake(
        "task \"a\" {\n    run \"true\"\n    lock\n}\n",
        "3:5",
        "lock",
    );
    check_mistake("lock \"cargo\"\n", "1:1", "`lock` must be inside a `task`");
    check_mistake(
        "defaults {\n    lock \"cargo\"\n}\n",
        "2:5",
        "`lock` is not allowed in `defaults`",
    );
}
