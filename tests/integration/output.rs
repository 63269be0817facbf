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
