//! The small defects of odd setups: a Hotfile from standard input or a pipe, an empty one, a
//! link back to a parent directory, and hot itself stopped while a command runs.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{DEADLINE, Project, Run};

const ONE_TASK: &str = r#"task "a" {
    watch "src/**"
    run "true"
}
"#;

/// Runs `hot ARGS` in `project` with `stdin` as its standard input.
fn with_stdin(project: &Project, args: &[&str], stdin: &str) -> Run {
    let mut child = project
        .hot(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hot starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write the Hotfile");
    Run::from(child.wait_with_output().expect("hot ends"))
}

/// `-f -` said "No such file": the Hotfile is read from standard input, and the project root
/// is the current directory.
#[test]
fn hotfile_from_stdin_said_no_such_file() {
    let project = Project::new();
    let run = with_stdin(&project, &["-f", "-", "check"], ONE_TASK);
    run.code(0);
    assert!(
        run.stderr.contains("<stdin> is sound: 1 task, 0 services"),
        "{}",
        run.stderr
    );
    let run = with_stdin(&project, &["-f", "-", "why", "src/x.rs"], ONE_TASK);
    run.code(0);
    assert_eq!(run.stdout, "src/x.rs: watched by a\n");
}

/// `-f /dev/stdin` made `/dev` the project root (and watched it): a Hotfile that is not a
/// regular file has its root where the user stands.
#[test]
fn a_piped_hotfile_made_dev_the_project_root() {
    let project = Project::new();
    let run = with_stdin(&project, &["-f", "/dev/stdin", "why", "src/x.rs"], ONE_TASK);
    run.code(0);
    assert_eq!(run.stdout, "src/x.rs: watched by a\n");
}

/// `-f /dev/null` ran an empty wave and said "all ok".
#[test]
fn an_empty_hotfile_ran_and_said_all_ok() {
    let project = Project::new();
    for args in [
        &["-f", "/dev/null", "ci"][..],
        &["-f", "/dev/null", "--no-status"],
    ] {
        let run = project.run(args);
        run.code(2);
        assert!(
            run.stderr.contains("declares no task or service") && run.stderr.contains("hot init"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("all ok"), "{}", run.stderr);
    }
}

/// With `src/up -> ..`, `hot why src/up/README` said an edit counts for a node watching
/// `src/up/README`, while the watcher (which does not follow a link back to a directory that
/// holds it) reported an edit to `README` as `README` only. Both now go by `README`.
#[test]
fn why_and_the_watcher_disagreed_on_a_link_to_a_parent() {
    let project = Project::with_hotfile(
        r#"task "through-link" {
    watch "src/up/README"
    run "true"
}
task "plain" {
    watch "README"
    run "true"
}
"#,
    );
    project.write("README", "one\n");
    std::fs::create_dir_all(project.path().join("src")).expect("src");
    std::os::unix::fs::symlink("..", project.path().join("src/up")).expect("link");

    let run = project.run(&["why", "src/up/README"]);
    run.code(0);
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some("src/up/README: watched by plain"));
    let note = lines.next().unwrap_or_default();
    assert!(
        note.contains("does not follow it") && note.contains("`README`"),
        "{}",
        run.stdout
    );

    // The watcher agrees: an edit to README runs `plain`, never `through-link`.
    let mut hot = project.spawn(&["--no-status"]);
    hot.wait_event("wave_finished", "");
    assert_eq!(hot.count("node_finished", "through-link"), 1);
    project.write("README", "two\n");
    hot.wait_event("node_finished", "plain");
    hot.wait_event("wave_finished", "");
    assert_eq!(
        hot.count("node_finished", "through-link"),
        1,
        "{}",
        hot.transcript()
    );
}

/// A run's duration included the time hot itself was stopped: a command that ran about a
/// second, reaped by hot 3 s later (hot was stopped with SIGSTOP), was reported as 4 s.
#[test]
fn a_duration_counted_the_time_hot_was_stopped() {
    let project = Project::with_hotfile(
        r#"task "slow" {
    run "sleep 1; touch done"
}
"#,
    );
    let mut hot = project.spawn(&["run", "slow"]);
    hot.wait_event("node_started", "slow");
    hot.signal(libc::SIGSTOP);
    let deadline = Instant::now() + DEADLINE;
    while !project.path().join("done").exists() {
        assert!(Instant::now() < deadline, "the task never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
    // hot stays stopped well after the command ended: that time is not the command's.
    std::thread::sleep(Duration::from_secs(3));
    hot.signal(libc::SIGCONT);
    let finished = hot.wait_event("node_finished", "slow");
    let ms = finished["duration_ms"].as_f64().expect("a duration");
    assert!(
        (900.0..3000.0).contains(&ms),
        "reported {ms} ms: {finished}"
    );
    // The summary tells the same run time.
    let wave = hot.wait_event("wave_finished", "");
    assert_eq!(wave["nodes"][0]["duration_ms"].as_f64(), Some(ms), "{wave}");
    assert_eq!(hot.wait_exit(), 0);
}
