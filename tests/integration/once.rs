use crate::support::Project;
use crate::test::{FAILED, Test};

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
    // The summary table names each task with its result, on stdout (`hot ci > ci.log`), in
    // graph order. The progress lines of `clippy` and `build`, which run side by side, come in
    // the order they finish, so stderr is compared as a set of lines.
    let done = Test::new()
        .hotfile(CHAIN)
        .args(["ci"])
        .stdout(
            "
            node    result    duration
            clippy  ok        [DURATION]
            build   ok        [DURATION]
            test    ok        [DURATION]
            all ok
            ",
        )
        .stderr(
            "
            hot: [TIME] start: running clippy, test, build
            hot: ✓ clippy ([DURATION])
            hot: ✓ build ([DURATION])
            hot: ✓ test ([DURATION])
            hot: all ok
            ",
        )
        .unordered_stderr()
        .run();
    let log = done.project.read("log");
    let lines: Vec<&str> = log.lines().collect();
    // Each task once and no service, `clippy` and `build` in either order, `test` after
    // `clippy`.
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["build", "clippy", "test-end", "test-start"],
        "{log}"
    );
    let at = |what: &str| lines.iter().position(|l| *l == what).unwrap();
    assert!(at("clippy") < at("test-start"), "{log}");
}

#[test]
fn ci_failure_blocks_dependents_not_independent_tasks() {
    // `clippy` and `build` run side by side: their progress lines come in either order.
    let done = Test::new()
        .hotfile(
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
        )
        .args(["ci"])
        .stdout(
            "
            node    result    duration
            clippy  failed    [DURATION]
            build   ok        [DURATION]
            test    blocked   -
            1 failed: clippy; 1 blocked: test
            ",
        )
        .stderr(
            "
            hot: [TIME] start: running clippy, test, build
            hot: ✗ clippy failed: exit status 3 ([DURATION])
            hot: - test blocked: clippy failed
            hot: ✓ build ([DURATION])
            hot: 1 failed: clippy; 1 blocked: test
            ",
        )
        .unordered_stderr()
        .status(FAILED)
        .run();
    // `clippy` and `build` ran, in either order; `test` did not.
    let log = done.project.read("log");
    let mut lines: Vec<&str> = log.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["build", "clippy"], "{log}");
}

#[test]
fn ci_dry_run_prints_the_plan_and_runs_nothing() {
    let done = Test::new()
        .hotfile(CHAIN)
        .args(["ci", "--dry-run"])
        .stdout(
            "
            step 1 (in parallel):
              clippy: echo clippy >> log  (in .)
              build: echo build >> log  (in .)
            step 2:
              test: echo test-start >> log; sleep 0.2; echo test-end >> log  (in .)
            not run (services): serve
            ",
        )
        .run();
    assert!(!done.project.path().join("log").exists());
}

/// The plan said "in parallel" for tasks that share a `lock`, which never run side by side.
#[test]
fn ci_dry_run_does_not_call_lock_holders_parallel() {
    let hotfile = r#"
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
"#;
    Test::new()
        .hotfile(hotfile)
        .args(["ci", "--dry-run"])
        .stdout(
            "
            step 1 (in parallel, but tasks that share a lock take turns):
              clippy: cargo clippy  (in .)  [lock cargo]
              build: cargo build  (in .)  [lock cargo]
              docs: mdbook build  (in .)
            step 2 (one at a time: they share a lock):
              test: cargo test  (in .)  [lock cargo]
              lint: cargo fmt --check  (in .)  [lock cargo]
            ",
        )
        .run();
    Test::new()
        .hotfile(hotfile)
        .args(["ci", "--dry-run", "--json"])
        .stdout(concat!(
            r#"{"not_run":[],"steps":["#,
            r#"{"tasks":[{"dir":".","locks":["cargo"],"node":"clippy","run":"cargo clippy"},"#,
            r#"{"dir":".","locks":["cargo"],"node":"build","run":"cargo build"},"#,
            r#"{"dir":".","locks":[],"node":"docs","run":"mdbook build"}]},"#,
            r#"{"tasks":[{"dir":".","locks":["cargo"],"node":"test","run":"cargo test"},"#,
            r#"{"dir":".","locks":["cargo"],"node":"lint","run":"cargo fmt --check"}]}]}"#,
            "\n"
        ))
        .run();
}

#[test]
fn run_runs_the_target_and_its_dependencies_only() {
    // `hot run` prints no table: only `hot ci`'s result is a report on stdout.
    let done = Test::new()
        .hotfile(CHAIN)
        .args(["run", "test"])
        .stderr(
            "
            hot: [TIME] start: running clippy, test
            hot: ✓ clippy ([DURATION])
            hot: ✓ test ([DURATION])
            hot: all ok
            ",
        )
        .run();
    assert_eq!(done.project.read("log"), "clippy\ntest-start\ntest-end\n");
}

#[test]
fn jobs_one_runs_tasks_one_at_a_time() {
    let done = Test::new()
        .hotfile(
            r#"
task "a" {
    run "echo a-start >> log; sleep 0.1; echo a-end >> log"
}
task "b" {
    run "echo b-start >> log; sleep 0.1; echo b-end >> log"
}
"#,
        )
        .args(["ci", "-j", "1"])
        .stdout(
            "
            node  result    duration
            a     ok        [DURATION]
            b     ok        [DURATION]
            all ok
            ",
        )
        // One at a time, so in order.
        .stderr(
            "
            hot: [TIME] start: running a, b
            hot: ✓ a ([DURATION])
            hot: ✓ b ([DURATION])
            hot: all ok
            ",
        )
        .run();
    assert_eq!(done.project.read("log"), "a-start\na-end\nb-start\nb-end\n");
}

#[test]
fn argv_commands_run_without_a_shell_with_env_and_dir() {
    let done = Test::new()
        .hotfile(
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
        )
        .write("sub/keep", "")
        .args(["ci"])
        .stdout(
            "
            node  result    duration
            a     ok        [DURATION]
            all ok
            ",
        )
        .stderr(
            "
            hot: [TIME] start: running a
            hot: ✓ a ([DURATION])
            hot: all ok
            ",
        )
        .run();
    assert_eq!(done.project.read("sub/out"), "hello world\n");
    assert_eq!(done.project.read("sub/literal"), "$GREETING\n");
}

#[test]
fn a_command_that_cannot_start_says_so() {
    Test::new()
        .hotfile(
            r#"
task "a" {
    run "definitely-not-a-program-hot" "--flag"
}
"#,
        )
        .args(["ci"])
        .stdout(
            "
            node  result    duration
            a     failed    -
            1 failed: a
            ",
        )
        .stderr(
            "
            hot: [TIME] start: running a
            hot: ✗ a could not start: `definitely-not-a-program-hot` not found: is it installed and on PATH?
            hot: 1 failed: a
            ",
        )
        .status(FAILED)
        .run();
}

#[test]
fn child_output_is_prefixed_with_the_node_name() {
    // Each line keeps the stream it was written to; no colour under NO_COLOR.
    Test::new()
        .hotfile(
            r#"
task "greet" {
    run "echo hello; echo oops >&2"
}
"#,
        )
        .args(["ci"])
        .stdout(
            "
            [greet] hello

            node   result    duration
            greet  ok        [DURATION]
            all ok
            ",
        )
        .stderr(
            "
            hot: [TIME] start: running greet
            [greet] oops
            hot: ✓ greet ([DURATION])
            hot: all ok
            ",
        )
        .run();
}

#[test]
fn a_program_that_is_not_executable_says_so() {
    // `a` goes through the shell, whose message differs between shells (dash: `sh: 1:`, bash:
    // `sh: line 1:`): the filter keeps what matters. `a` and `b` run side by side, so stderr's
    // lines come in either order.
    Test::new()
        .hotfile(
            r#"
task "a" {
    run "./script.sh"
}
task "b" {
    run "./script.sh" "--flag"
}
"#,
        )
        .write("script.sh", "#!/bin/sh\necho hi\n")
        .filter(r"\[a\] .*\./script\.sh: Permission denied", "[a] [SH]: ./script.sh: Permission denied")
        .args(["ci"])
        .stdout(
            "
            node  result    duration
            a     failed    [DURATION]
            b     failed    -
            2 failed: a, b
            ",
        )
        .stderr(
            "
            hot: [TIME] start: running a, b
            hot: ✗ b could not start: `./script.sh` is not an executable file: check its permissions (chmod +x)
            [a] [SH]: ./script.sh: Permission denied
            hot: ✗ a failed: exit status 126 ([DURATION])
            hot: 2 failed: a, b
            ",
        )
        .unordered_stderr()
        .status(FAILED)
        .run();
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

#[test]
fn a_node_that_never_started_has_no_duration() {
    // Neither a missing program nor a file that cannot be executed ran: the table says `-`,
    // not the time hot took to find out.
    Test::new()
        .hotfile(
            r#"
task "missing" {
    run "definitely-not-a-program-hot" "--flag"
}
task "denied" {
    run "./script.sh" "--flag"
}
"#,
        )
        .write("script.sh", "#!/bin/sh\necho hi\n")
        .args(["ci"])
        .stdout(
            "
            node     result    duration
            missing  failed    -
            denied   failed    -
            2 failed: missing, denied
            ",
        )
        .stderr(
            "
            hot: [TIME] start: running missing, denied
            hot: ✗ missing could not start: `definitely-not-a-program-hot` not found: is it installed and on PATH?
            hot: ✗ denied could not start: `./script.sh` is not an executable file: check its permissions (chmod +x)
            hot: 2 failed: missing, denied
            ",
        )
        .unordered_stderr()
        .status(FAILED)
        .run();
}
