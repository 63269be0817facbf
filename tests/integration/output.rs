use std::fs::File;

use crate::support::{Project, Run};
use crate::test::{FAILED, Test, assert_same, normalise, unindent};

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

/// `-j 1` runs the tasks in Hotfile order, so every line has one place; which lines go where
/// is what these tests are about, not parallelism.
#[test]
fn ci_summary_goes_to_stdout_so_a_redirect_keeps_it() {
    let project = Project::with_hotfile(TWO_FAIL);
    let log = project.path().join("ci.log");
    let output = project
        .hot(&["ci", "-j", "1"])
        .stdout(File::create(&log).expect("a log file"))
        .output()
        .expect("hot runs");
    let run = Run::from(output);
    run.code(1);
    // The results: what the children wrote to stdout, the table and the verdict. Progress
    // and the children's stderr stay on the terminal.
    assert_same(
        "ci.log",
        TWO_FAIL_RESULTS,
        &normalise(
            project.path(),
            &std::fs::read_to_string(&log).expect("the log"),
        ),
    );
    assert_same(
        "stderr",
        TWO_FAIL_PROGRESS,
        &normalise(project.path(), &run.stderr),
    );
}

/// What `hot ci -j 1` on `TWO_FAIL` writes on stdout: the results.
const TWO_FAIL_RESULTS: &str = "\
[clippy] clippy-says
[fmt]    fmt-ok

node    result    duration
clippy  failed    [DURATION]
test    failed    [DURATION]
fmt     ok        [DURATION]
build   blocked   -
2 failed: clippy, test; 1 blocked: build
";

/// What `hot ci -j 1` on `TWO_FAIL` tells on stderr.
const TWO_FAIL_PROGRESS: &str = "\
hot: [TIME] start: running clippy, test, build, fmt
hot: ✗ clippy failed: exit status 2 ([DURATION])
[test]   test-says
hot: ✗ test failed: exit status 1 ([DURATION])
hot: - build blocked: clippy failed
hot: ✓ fmt ([DURATION])
hot: 2 failed: clippy, test; 1 blocked: build
";

#[test]
fn every_summary_names_the_failed_nodes() {
    // The verdict closes stdout, and the wave's own closing line says the same on stderr.
    Test::new()
        .hotfile(TWO_FAIL)
        .args(["ci", "-j", "1"])
        .stdout(TWO_FAIL_RESULTS)
        .stderr(TWO_FAIL_PROGRESS)
        .status(FAILED)
        .run();

    // The same in JSON: `wave_finished` and `summary` name the failed nodes, and `build` is
    // blocked by `clippy`.
    Test::new()
        .hotfile(TWO_FAIL)
        .args(["--json", "ci", "-j", "1"])
        .stdout(
            r#"
            {"event":"scope","nodes":[{"name":"clippy","kind":"task","after":[],"sockets":[],"locks":[]},{"name":"test","kind":"task","after":[],"sockets":[],"locks":[]},{"name":"build","kind":"task","after":["clippy","test"],"sockets":[],"locks":[]},{"name":"fmt","kind":"task","after":[],"sockets":[],"locks":[]}],"time":"[TIMESTAMP]+00:00"}
            {"event":"wave_started","wave":1,"start":true,"paths":[],"changed":0,"nodes":["clippy","test","build","fmt"],"time":"[TIMESTAMP]+00:00"}
            {"event":"node_started","node":"clippy","generation":1,"kind":"task","ready":false,"time":"[TIMESTAMP]+00:00"}
            {"event":"output","node":"clippy","stream":"stdout","line":"clippy-says","time":"[TIMESTAMP]+00:00"}
            {"event":"node_finished","node":"clippy","generation":1,"kind":"task","ok":false,"code":2,"signal":null,"error":null,"duration_ms":[MS],"last_lines":[],"time":"[TIMESTAMP]+00:00"}
            {"event":"node_started","node":"test","generation":2,"kind":"task","ready":false,"time":"[TIMESTAMP]+00:00"}
            {"event":"output","node":"test","stream":"stderr","line":"test-says","time":"[TIMESTAMP]+00:00"}
            {"event":"node_finished","node":"test","generation":2,"kind":"task","ok":false,"code":1,"signal":null,"error":null,"duration_ms":[MS],"last_lines":[],"time":"[TIMESTAMP]+00:00"}
            {"event":"node_started","node":"fmt","generation":3,"kind":"task","ready":false,"time":"[TIMESTAMP]+00:00"}
            {"event":"node_blocked","node":"build","by":"clippy","time":"[TIMESTAMP]+00:00"}
            {"event":"output","node":"fmt","stream":"stdout","line":"fmt-ok","time":"[TIMESTAMP]+00:00"}
            {"event":"node_finished","node":"fmt","generation":3,"kind":"task","ok":true,"code":0,"signal":null,"error":null,"duration_ms":[MS],"last_lines":[],"time":"[TIMESTAMP]+00:00"}
            {"event":"wave_finished","wave":1,"failed":2,"ok":false,"failed_nodes":["clippy","test"],"nodes":[{"node":"clippy","result":"failed","by":null,"duration":"[DURATION]","duration_ms":[MS],"serving_since":null},{"node":"test","result":"failed","by":null,"duration":"[DURATION]","duration_ms":[MS],"serving_since":null},{"node":"fmt","result":"ok","by":null,"duration":"[DURATION]","duration_ms":[MS],"serving_since":null},{"node":"build","result":"blocked","by":"clippy","duration":"-","duration_ms":null,"serving_since":null}],"crashed":[],"time":"[TIMESTAMP]+00:00"}
            {"event":"summary","ok":false,"failed_nodes":["clippy","test"],"nodes":[{"node":"clippy","result":"failed","by":null,"duration":"[DURATION]","duration_ms":[MS],"serving_since":null},{"node":"test","result":"failed","by":null,"duration":"[DURATION]","duration_ms":[MS],"serving_since":null},{"node":"fmt","result":"ok","by":null,"duration":"[DURATION]","duration_ms":[MS],"serving_since":null},{"node":"build","result":"blocked","by":"clippy","duration":"-","duration_ms":null,"serving_since":null}],"time":"[TIMESTAMP]+00:00"}
            "#,
        )
        .status(FAILED)
        .run();
}

#[test]
fn wave_finished_and_summary_list_the_nodes_in_one_order() {
    // Dependency order (`build` after `clippy` and `test`, though declared before `fmt`), in
    // both JSON lists and in the table.
    let project = Project::with_hotfile(TWO_FAIL);
    let run = Run::from(
        project
            .hot(&["--json", "ci", "-j", "1"])
            .output()
            .expect("hot runs"),
    );
    run.code(1);
    let order = |event: &str| -> Vec<String> {
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(&format!("\"event\":\"{event}\"")))
            .unwrap_or_else(|| panic!("no {event} in {}", run.stdout));
        let value: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
        value["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["node"].as_str().expect("node").to_owned())
            .collect()
    };
    let expected = ["clippy", "test", "fmt", "build"];
    assert_eq!(order("wave_finished"), expected);
    assert_eq!(order("summary"), expected);
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
    // Whole events, but the time (hot's own zone here) and the wave number (a save may come
    // as two bursts on a loaded machine).
    let event = |e: &serde_json::Value| {
        let mut e = e.clone();
        e.as_object_mut().expect("an object").remove("time");
        let text = normalise(project.path(), &e.to_string());
        regex::Regex::new(r#""wave":\d+"#)
            .unwrap()
            .replace(&text, r#""wave":[N]"#)
            .into_owned()
    };
    // No failure in this wave, yet not ok: `lib` still failed and `api` is blocked by it.
    assert_same(
        "the docs wave",
        concat!(
            r#"{"crashed":[],"event":"wave_finished","failed":0,"failed_nodes":["lib"],"nodes":["#,
            r#"{"by":null,"duration":"[DURATION]","duration_ms":[MS],"node":"lib","result":"failed","serving_since":null},"#,
            r#"{"by":null,"duration":"[DURATION]","duration_ms":[MS],"node":"docs","result":"ok","serving_since":null},"#,
            r#"{"by":"lib","duration":"-","duration_ms":null,"node":"api","result":"blocked","serving_since":null}],"#,
            r#""ok":false,"wave":[N]}"#
        ),
        &event(&second),
    );
    // Fixing `lib` makes the whole graph ok.
    project.write("fixed", "");
    project.write("lib.txt", "edited");
    let third = hot.wait_for("the fixed wave", |e| {
        e["event"] == "wave_finished" && e["ok"] == true
    });
    assert_same(
        "the fixed wave",
        concat!(
            r#"{"crashed":[],"event":"wave_finished","failed":0,"failed_nodes":[],"nodes":["#,
            r#"{"by":null,"duration":"[DURATION]","duration_ms":[MS],"node":"lib","result":"ok","serving_since":null},"#,
            r#"{"by":null,"duration":"[DURATION]","duration_ms":[MS],"node":"docs","result":"ok","serving_since":null},"#,
            r#"{"by":null,"duration":"-","duration_ms":null,"node":"api","result":"ok","serving_since":"[TIMESTAMP]+00:00"}],"#,
            r#""ok":true,"wave":[N]}"#
        ),
        &event(&third),
    );
}

#[test]
fn times_are_local_not_utc() {
    // A POSIX zone string needs no time-zone database on the machine. Every event has a
    // time, and each is in that zone.
    Test::new()
        .hotfile("task \"a\" {\n    run \"true\"\n}\n")
        .env("TZ", "<+0530>-5:30")
        .args(["--json", "ci"])
        .stdout(
            r#"
            {"event":"scope","nodes":[{"name":"a","kind":"task","after":[],"sockets":[],"locks":[]}],"time":"[TIMESTAMP]+05:30"}
            {"event":"wave_started","wave":1,"start":true,"paths":[],"changed":0,"nodes":["a"],"time":"[TIMESTAMP]+05:30"}
            {"event":"node_started","node":"a","generation":1,"kind":"task","ready":false,"time":"[TIMESTAMP]+05:30"}
            {"event":"node_finished","node":"a","generation":1,"kind":"task","ok":true,"code":0,"signal":null,"error":null,"duration_ms":[MS],"last_lines":[],"time":"[TIMESTAMP]+05:30"}
            {"event":"wave_finished","wave":1,"failed":0,"ok":true,"failed_nodes":[],"nodes":[{"node":"a","result":"ok","by":null,"duration":"[DURATION]","duration_ms":[MS],"serving_since":null}],"crashed":[],"time":"[TIMESTAMP]+05:30"}
            {"event":"summary","ok":true,"failed_nodes":[],"nodes":[{"node":"a","result":"ok","by":null,"duration":"[DURATION]","duration_ms":[MS],"serving_since":null}],"time":"[TIMESTAMP]+05:30"}
            "#,
        )
        .run();
}

#[test]
fn clicolor_force_colours_each_node_and_no_color_wins_over_it() {
    // Each node its own colour, and `[a]` padded to `[bb]`'s width. `-j 1` keeps the
    // lines in one order.
    let hotfile =
        "task \"a\" {\n    run \"echo from-a\"\n}\ntask \"bb\" {\n    run \"echo from-bb\"\n}\n";
    Test::new()
        .hotfile(hotfile)
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .args(["ci", "-j", "1"])
        .stdout(
            "
            \u{1b}[36m[a]\u{1b}[0m  from-a
            \u{1b}[35m[bb]\u{1b}[0m from-bb

            node  result    duration
            a     \u{1b}[32mok      \u{1b}[0m  [DURATION]
            bb    \u{1b}[32mok      \u{1b}[0m  [DURATION]
            \u{1b}[32mall ok\u{1b}[0m
            ",
        )
        .stderr(
            "
            \u{1b}[2mhot:\u{1b}[0m \u{1b}[2m[TIME]\u{1b}[0m \u{1b}[1mstart: running a, bb\u{1b}[0m
            \u{1b}[2mhot:\u{1b}[0m \u{1b}[32m✓\u{1b}[0m a ([DURATION])
            \u{1b}[2mhot:\u{1b}[0m \u{1b}[32m✓\u{1b}[0m bb ([DURATION])
            \u{1b}[2mhot:\u{1b}[0m \u{1b}[32mall ok\u{1b}[0m
            ",
        )
        .run();
    Test::new()
        .hotfile(hotfile)
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .args(["ci", "-j", "1"])
        .stdout(
            "
            [a]  from-a
            [bb] from-bb

            node  result    duration
            a     ok        [DURATION]
            bb    ok        [DURATION]
            all ok
            ",
        )
        .stderr(
            "
            hot: [TIME] start: running a, bb
            hot: ✓ a ([DURATION])
            hot: ✓ bb ([DURATION])
            hot: all ok
            ",
        )
        .run();
}

#[test]
fn ci_stdout_starts_with_the_table_when_no_child_wrote_there() {
    // `hot ci > ci.log`: the blank line only sets the table apart from children's output.
    let project = Project::with_hotfile("task \"quiet\" {\n    run \"echo to-stderr >&2\"\n}\n");
    let run = Run::from(project.hot(&["ci"]).output().expect("hot runs"));
    run.code(0);
    assert_same(
        "stdout",
        &unindent(
            "
            node   result    duration
            quiet  ok        [DURATION]
            all ok
            ",
        ),
        &normalise(project.path(), &run.stdout),
    );
}

#[test]
fn json_durations_have_at_most_three_decimals() {
    // Whole microseconds: at most three decimals, never `78.82568900000001`.
    let project = Project::with_hotfile(
        "task \"a\" {\n    run \"true\"\n}\ntask \"b\" {\n    after \"a\"\n    run \"true\"\n}\n",
    );
    let run = Run::from(project.hot(&["--json", "ci"]).output().expect("hot runs"));
    run.code(0);
    let pattern = regex::Regex::new(r#""duration_ms":([^,}]*)"#).unwrap();
    let values: Vec<&str> = pattern
        .captures_iter(&run.stdout)
        .map(|c| c.get(1).expect("a value").as_str())
        .filter(|v| *v != "null")
        .collect();
    // Two node_finished events and two summary rows at least.
    assert!(values.len() >= 4, "{}", run.stdout);
    for value in values {
        let decimals = value.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 3, "duration_ms {value} in {}", run.stdout);
    }
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
