use std::fs::File;

use crate::support::{Project, Run};

/// Two independent failures, a task they block, and one that passes.
const TWO_FAIL: &str = r#"
task "clippy" {
    run "echo clippy-says; exit 2"
}
task "test" {
    run "echo test-says >&2; exit 1"
}
task "build" {
    after "clippy" "test"
    run "true"
}
task "fmt" {
    run "echo fmt-ok"
}
"#;

#[test]
fn ci_summary_goes_to_stdout_so_a_redirect_keeps_it() {
    let project = Project::with_hotfile(TWO_FAIL);
    let log = project.path().join("ci.log");
    let output = project
        .hot(&["ci"])
        .stdout(File::create(&log).expect("a log file"))
        .output()
        .expect("hot runs");
    let run = Run::from(output);
    run.code(1);
    let log = std::fs::read_to_string(&log).expect("the log");
    // The results: the table, the verdict, and what the children wrote to stdout.
    assert!(log.contains("node    result    duration"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with("clippy") && l.contains("failed")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("build") && l.contains("blocked")),
        "{log}"
    );
    assert!(log.contains("[clippy] clippy-says"), "{log}");
    // Progress and the children's stderr stay on the terminal.
    assert!(!log.contains("hot:"), "{log}");
    assert!(!log.contains("test-says"), "{log}");
    assert!(run.stderr.contains("[test]   test-says"), "{}", run.stderr);
    assert!(
        run.stderr.contains("hot: ✗ clippy failed"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("node    result"), "{}", run.stderr);
}

#[test]
fn every_summary_names_the_failed_nodes() {
    let project = Project::with_hotfile(TWO_FAIL);
    let run = project.run(&["ci"]);
    run.code(1);
    let verdict = "2 failed: clippy, test; 1 blocked: build";
    assert_eq!(run.stdout.lines().last(), Some(verdict), "{}", run.stdout);
    // The wave's own closing line says the same on stderr.
    assert!(
        run.stderr.contains(&format!("hot: {verdict}")),
        "{}",
        run.stderr
    );

    let run = project.run(&["--json", "ci"]);
    run.code(1);
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("only JSON on stdout"))
        .collect();
    let summary = events.last().expect("events");
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["ok"], false);
    assert_eq!(
        summary["failed_nodes"],
        serde_json::json!(["clippy", "test"])
    );
    let build = summary["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "build")
        .expect("build has a row");
    assert_eq!(
        (&build["result"], &build["by"]),
        (&"blocked".into(), &"clippy".into())
    );
    let finished = events
        .iter()
        .find(|e| e["event"] == "wave_finished")
        .unwrap();
    assert_eq!(
        finished["failed_nodes"],
        serde_json::json!(["clippy", "test"])
    );
}

#[test]
fn all_ok_is_not_claimed_while_a_service_stays_blocked() {
    let project = Project::with_hotfile(
        r#"
defaults {
    debounce "50ms"
}
task "lib" {
    watch "lib.txt"
    run "test -f fixed"
}
service "api" {
    after "lib"
    run "sleep 60"
}
task "docs" {
    watch "docs.txt"
    run "true"
}
"#,
    );
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("watching", "");
    let first = hot.wait_event("wave_finished", "");
    assert_eq!(first["ok"], false, "{}", hot.transcript());
    // A wave that touches only `docs` passes, but the graph is still broken.
    project.write("docs.txt", "edited");
    let second = hot.wait_for("the docs wave", |e| {
        e["event"] == "wave_finished" && e["wave"] != first["wave"]
    });
    assert_eq!(second["failed"], 0, "{}", hot.transcript());
    assert_eq!(second["ok"], false, "{}", hot.transcript());
    assert_eq!(second["failed_nodes"], serde_json::json!(["lib"]));
    let api = second["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "api")
        .expect("api stands in the graph");
    assert_eq!(
        (&api["result"], &api["by"]),
        (&"blocked".into(), &"lib".into())
    );
    // Fixing `lib` makes the whole graph ok.
    project.write("fixed", "");
    project.write("lib.txt", "edited");
    let third = hot.wait_for("the fixed wave", |e| {
        e["event"] == "wave_finished" && e["ok"] == true
    });
    assert_eq!(third["failed_nodes"], serde_json::json!([]));
}

#[test]
fn times_are_local_not_utc() {
    let project = Project::with_hotfile("task \"a\" {\n    run \"true\"\n}\n");
    // A POSIX zone string needs no time-zone database on the machine.
    let output = project
        .hot(&["--json", "ci"])
        .env("TZ", "<+0530>-5:30")
        .output()
        .expect("hot runs");
    let run = Run::from(output);
    run.code(0);
    for line in run.stdout.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let time = event["time"].as_str().expect("every event has a time");
        assert!(time.ends_with("+05:30"), "{line}");
    }
}

#[test]
fn clicolor_force_colours_each_node_and_no_color_wins_over_it() {
    let project = Project::with_hotfile(
        "task \"a\" {\n    run \"echo from-a\"\n}\ntask \"bb\" {\n    run \"echo from-bb\"\n}\n",
    );
    let run = |no_color: bool| {
        let mut command = project.hot(&["ci"]);
        command.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
        if no_color {
            command.env("NO_COLOR", "1");
        }
        Run::from(command.output().expect("hot runs"))
    };
    let colored = run(false);
    colored.code(0);
    let line = |text: &str| {
        colored
            .stdout
            .lines()
            .find(|l| l.contains(text))
            .unwrap_or_else(|| panic!("{text} in {}", colored.stdout))
            .to_owned()
    };
    let (a, bb) = (line("from-a"), line("from-bb"));
    assert!(
        a.starts_with('\u{1b}') && bb.starts_with('\u{1b}'),
        "{a:?} {bb:?}"
    );
    // Each node its own colour, and `[a]` padded to `[bb]`'s width.
    assert_ne!(a[..a.find("[a]").unwrap()], bb[..bb.find("[bb]").unwrap()]);
    assert!(a.ends_with("[a]\u{1b}[0m  from-a"), "{a:?}");
    assert!(bb.ends_with("[bb]\u{1b}[0m from-bb"), "{bb:?}");

    let plain = run(true);
    assert!(!plain.stdout.contains('\u{1b}'), "{}", plain.stdout);
    assert!(!plain.stderr.contains('\u{1b}'), "{}", plain.stderr);
}

/// A reader of `hot --json` that stops reading (a real pipe, filled past its buffer by a
/// child's flood) must not stall hot: the sinks used to write on the loop's one thread under
/// the reporter's lock, so Ctrl-C went unheard until someone read. Now hot ends at Ctrl-C, at
/// most the stop timeout later (what it waits for its output), with status 130 and nothing
/// left running.
#[cfg(target_os = "linux")]
#[test]
fn a_json_reader_that_stops_reading_cannot_stall_ctrl_c() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let project = Project::with_hotfile(
        r#"
service "flood" {
    run "yes flood | head -n 200000; echo $$ > pid; exec sleep 300"
    stop timeout="2s"
}
"#,
    );
    let mut hot = project
        .hot(&["--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("hot starts");
    let pipe = hot.stdout.take().expect("piped stdout");
    let fd = pipe.as_raw_fd();
    // SAFETY: fcntl and ioctl on a pipe this test holds open.
    let capacity = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
    assert!(capacity > 0, "the pipe's size");
    let deadline = Instant::now() + crate::support::DEADLINE;
    let full = || {
        let mut queued: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        unsafe { libc::ioctl(fd, libc::FIONREAD, &mut queued) };
        // A write of up to PIPE_BUF bytes waits for room for all of it, so "full" is
        // within one such write of the size.
        queued > capacity - libc::PIPE_BUF as libc::c_int
    };
    // The flood has filled the pipe, and the service got past it to its long sleep (it
    // cannot while hot's reading of its output is held up).
    let pid: i32 = loop {
        if full()
            && let Ok(pid) = project.read("pid").trim().parse()
        {
            break pid;
        }
        if Instant::now() > deadline {
            // SAFETY: killpg on the group this test created.
            unsafe { libc::killpg(hot.id() as i32, libc::SIGKILL) };
            let _ = hot.wait();
            panic!("the pipe never filled, or the service never got past its flood");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let signalled = Instant::now();
    // SAFETY: kill(2) on the child this test spawned and has not reaped.
    unsafe { libc::kill(hot.id() as i32, libc::SIGINT) };
    // The stop timeout (2s) bounds the wait for the writer; the rest is a loaded machine's
    // slack.
    let limit = Duration::from_secs(2) + Duration::from_secs(8);
    let status = loop {
        if let Some(status) = hot.try_wait().expect("try_wait") {
            break status;
        }
        if signalled.elapsed() > limit {
            // SAFETY: as above.
            unsafe { libc::killpg(hot.id() as i32, libc::SIGKILL) };
            let _ = hot.wait();
            panic!("hot did not end within {limit:?} of Ctrl-C while its reader stalled");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(130));
    assert!(crate::support::gone(pid), "the service is stopped");
    drop(pipe);
}
