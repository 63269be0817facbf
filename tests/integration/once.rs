use crate::support::Project;

/// Each task appends its name to `log` when it starts and when it ends, so the order is
/// visible in the file.
const CHAIN: &str = r#"
task "clippy" {
    run "echo clippy >> log"
}
task "test" {
    after "clippy"
    run "echo test-start >> log; sleep 0.2; echo test-end >> log"
}
task "build" {
    run "echo build >> log"
}
service "serve" {
    after "test" "build"
    run "echo serve >> log"
}
"#;

#[test]
fn ci_runs_every_task_once_in_order_and_no_service() {
    let project = Project::with_hotfile(CHAIN);
    let run = project.run(&["ci"]);
    run.code(0);
    let log = project.read("log");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    let at = |what: &str| lines.iter().position(|l| *l == what).unwrap();
    assert!(at("clippy") < at("test-start"), "{log}");
    assert!(!log.contains("serve"), "{log}");
    // The summary table names each task with its result, on stdout (`hot ci > ci.log`).
    for task in ["clippy", "test", "build"] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.starts_with(task) && l.contains(" ok ")),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn ci_failure_blocks_dependents_not_independent_tasks() {
    let project = Project::with_hotfile(
        r#"
task "clippy" {
    run "echo clippy >> log; exit 3"
}
task "test" {
    after "clippy"
    run "echo test >> log"
}
task "build" {
    run "echo build >> log"
}
"#,
    );
    let run = project.run(&["ci"]);
    run.code(1);
    let log = project.read("log");
    assert!(log.contains("clippy") && log.contains("build"), "{log}");
    assert!(!log.contains("test"), "{log}");
    assert!(run.stderr.contains("exit status 3"), "{}", run.stderr);
    assert!(
        run.stderr.contains("test blocked: clippy failed"),
        "{}",
        run.stderr
    );
}

#[test]
fn ci_dry_run_prints_the_plan_and_runs_nothing() {
    let project = Project::with_hotfile(CHAIN);
    let run = project.run(&["ci", "--dry-run"]);
    run.code(0);
    assert_eq!(
        run.stdout,
        "step 1 (in parallel):\n  clippy: echo clippy >> log  (in .)\n  build: echo build >> log  (in .)\nstep 2:\n  test: echo test-start >> log; sleep 0.2; echo test-end >> log  (in .)\nnot run (services): serve\n"
    );
    assert!(!project.path().join("log").exists());
}

/// The plan said "in parallel" for tasks that share a `lock`, which never run side by side.
#[test]
fn ci_dry_run_does_not_call_lock_holders_parallel() {
    let project = Project::with_hotfile(
        r#"
task "clippy" {
    lock "cargo"
    run "cargo clippy"
}
task "build" {
    lock "cargo"
    run "cargo build"
}
task "docs" {
    run "mdbook build"
}
task "test" {
    after "clippy" "build"
    lock "cargo"
    run "cargo test"
}
task "lint" {
    after "clippy" "build"
    lock "cargo"
    run "cargo fmt --check"
}
"#,
    );
    let run = project.run(&["ci", "--dry-run"]);
    run.code(0);
    assert_eq!(
        run.stdout,
        "step 1 (in parallel, but tasks that share a lock take turns):\n  \
         clippy: cargo clippy  (in .)  [lock cargo]\n  \
         build: cargo build  (in .)  [lock cargo]\n  \
         docs: mdbook build  (in .)\n\
         step 2 (one at a time: they share a lock):\n  \
         test: cargo test  (in .)  [lock cargo]\n  \
         lint: cargo fmt --check  (in .)  [lock cargo]\n"
    );
    let run = project.run(&["ci", "--dry-run", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(
        plan["steps"][0]["tasks"][0]["locks"],
        serde_json::json!(["cargo"])
    );
    assert_eq!(plan["steps"][0]["tasks"][2]["locks"], serde_json::json!([]));
}

#[test]
fn run_runs_the_target_and_its_dependencies_only() {
    let project = Project::with_hotfile(CHAIN);
    project.run(&["run", "test"]).code(0);
    let log = project.read("log");
    assert_eq!(log, "clippy\ntest-start\ntest-end\n");
}

#[test]
fn jobs_one_runs_tasks_one_at_a_time() {
    let project = Project::with_hotfile(
        r#"
task "a" {
    run "echo a-start >> log; sleep 0.1; echo a-end >> log"
}
task "b" {
    run "echo b-start >> log; sleep 0.1; echo b-end >> log"
}
"#,
    );
    project.run(&["ci", "-j", "1"]).code(0);
    assert_eq!(project.read("log"), "a-start\na-end\nb-start\nb-end\n");
}

#[test]
fn argv_commands_run_without_a_shell_with_env_and_dir() {
    let project = Project::with_hotfile(
        r#"
defaults {
    env GREETING="hello"
}
task "a" {
    dir "sub"
    env WHO="world"
    run "sh" "-c" "echo $GREETING $WHO > out; echo '$GREETING' > literal"
}
"#,
    );
    project.write("sub/keep", "");
    project.run(&["ci"]).code(0);
    assert_eq!(project.read("sub/out"), "hello world\n");
    assert_eq!(project.read("sub/literal"), "$GREETING\n");
}

#[test]
fn a_command_that_cannot_start_says_so() {
    let project = Project::with_hotfile(
        r#"
task "a" {
    run "definitely-not-a-program-hot" "--flag"
}
"#,
    );
    let run = project.run(&["ci"]);
    run.code(1);
    assert!(
        run.stderr.contains("definitely-not-a-program-hot") && run.stderr.contains("not found"),
        "{}",
        run.stderr
    );
}

#[test]
fn child_output_is_prefixed_with_the_node_name() {
    let project = Project::with_hotfile(
        r#"
task "greet" {
    run "echo hello; echo oops >&2"
}
"#,
    );
    let run = project.run(&["ci"]);
    run.code(0);
    // Each line keeps the stream it was written to.
    assert!(run.stdout.contains("[greet] hello"), "{}", run.stdout);
    assert!(run.stderr.contains("[greet] oops"), "{}", run.stderr);
    assert!(!run.stderr.contains("hello"), "{}", run.stderr);
    assert!(!run.stderr.contains('\x1b'), "colour under NO_COLOR");
}

#[test]
fn a_program_that_is_not_executable_says_so() {
    let project = Project::with_hotfile(
        r#"
task "a" {
    run "./script.sh"
}
task "b" {
    run "./script.sh" "--flag"
}
"#,
    );
    project.write("script.sh", "#!/bin/sh\necho hi\n");
    let run = project.run(&["ci"]);
    run.code(1);
    assert!(
        run.stderr.contains("Permission denied") || run.stderr.contains("not executable"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("[a]") && run.stderr.contains("b could not start"),
        "{}",
        run.stderr
    );
}

#[test]
fn ctrl_c_stops_a_ci_run_with_its_grandchildren() {
    let project = Project::with_hotfile(
        r#"
task "slow" {
    run "sleep 300 & echo $! > grandchild; wait"
}
"#,
    );
    let mut hot = project.spawn(&["ci"]);
    hot.wait_event("node_started", "slow");
    let deadline = std::time::Instant::now() + crate::support::DEADLINE;
    let grandchild: i32 = loop {
        if let Ok(pid) = project.read("grandchild").trim().parse() {
            break pid;
        }
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    hot.signal(libc::SIGINT);
    assert_eq!(hot.wait_exit(), 130);
    assert!(crate::support::gone(grandchild));
}
