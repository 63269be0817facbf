//! Messages that teach: `hot check`'s warnings, and the hint when a server tries to bind the
//! address hot holds for it.

use crate::support::Project;

/// `hot check` in `project`: status 0, and stderr for a snapshot.
fn check(project: &Project) -> String {
    let run = project.run(&["check"]);
    run.code(0);
    run.stderr
}

#[test]
fn check_warns_about_a_glob_that_matches_no_file() {
    let project = Project::with_hotfile(
        "task \"test\" {\n    watch \"src/**/*.rs\" \"tests/**/*.rs\"\n    run \"true\"\n}\n",
    );
    project.write("src/main.rs", "");
    insta::assert_snapshot!(check(&project));
}

#[test]
fn check_says_when_a_glob_would_match_relative_to_dir() {
    let project = Project::with_hotfile(
        "task \"web\" {\n    dir \"web\"\n    watch \"src/**\"\n    run \"true\"\n}\n",
    );
    project
        .write("web/src/index.js", "")
        .write("web/src/app.js", "");
    insta::assert_snapshot!(check(&project));
}

#[test]
fn check_warns_about_a_program_that_does_not_exist() {
    let project = Project::with_hotfile(
        r#"
task "lint" {
    watch "Hotfile"
    run "no-such-linter-anywhere --fix"
}
task "gen" {
    watch "Hotfile"
    run "./scripts/gen.sh" "--all"
}
task "fine" {
    watch "Hotfile"
    run "cd . && no-such-tool"
}
"#,
    );
    insta::assert_snapshot!(check(&project));
}

#[test]
fn check_suggests_the_binary_cargo_builds() {
    let project = Project::with_hotfile(
        "service \"serve\" {\n    watch \"src/**\"\n    run \"./target/debug/app\"\n}\n",
    );
    project
        .write(
            "Cargo.toml",
            "[package]\nname = \"myapp\"\nversion = \"0.1.0\"\n",
        )
        .write("src/main.rs", "fn main() {}\n");
    insta::assert_snapshot!(check(&project));
}

#[test]
fn check_accepts_a_binary_cargo_has_not_built_yet() {
    let project = Project::with_hotfile(
        r#"
service "serve" {
    watch "src/**"
    run "./target/debug/myapp"
}
service "tool" {
    watch "src/**"
    run "exec ./target/release/helper --port 3"
}
"#,
    );
    project
        .write(
            "Cargo.toml",
            "[package]\nname = \"myapp\"\nversion = \"0.1.0\"\n",
        )
        .write("src/main.rs", "fn main() {}\n")
        .write("src/bin/helper.rs", "fn main() {}\n");
    let stderr = check(&project);
    assert!(
        stderr.contains("is sound: 0 tasks, 2 services\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("⚠"), "{stderr}");
}

#[test]
fn check_warns_about_a_node_that_never_reruns() {
    let project = Project::with_hotfile(
        r#"
task "setup" {
    run "true"
}
task "after-setup" {
    after "setup"
    run "true"
}
"#,
    );
    insta::assert_snapshot!(check(&project));
}

/// 1,000 warnings (a generated 500-node Hotfile) were all rendered, each with its lines of
/// the file: 250-450 ms and ~30,000 lines of stderr. The first 20 are shown, then a count.
#[test]
fn check_renders_at_most_twenty_warnings_then_counts_the_rest() {
    let hotfile: String = (0..30)
        .map(|i| format!("task \"t{i}\" {{\n    run \"true\"\n}}\n"))
        .collect();
    let project = Project::with_hotfile(&hotfile);
    let stderr = check(&project);
    assert_eq!(stderr.matches("hot::never_reruns").count(), 20, "{stderr}");
    assert!(
        stderr.contains("... and 10 more warnings (`hot check --json` lists them all)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("30 tasks, 0 services; 30 warnings"),
        "{stderr}"
    );
    let run = project.run(&["check", "--json"]);
    let check: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(check["warnings"].as_array().map(Vec::len), Some(30));
}

#[test]
fn check_warnings_come_as_json_with_line_and_column() {
    let project = Project::with_hotfile("task \"setup\" {\n    run \"true\"\n}\n");
    let run = project.run(&["check", "--json"]);
    run.code(0);
    let check: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    let warning = &check["warnings"][0];
    assert_eq!(warning["code"], "hot::never_reruns", "{check}");
    assert_eq!(warning["severity"], "warning");
    assert_eq!(
        (warning["line"].as_u64(), warning["column"].as_u64()),
        (Some(1), Some(6))
    );
}

/// A server that binds the address itself fails with "address in use": hot says once that
/// it holds that address for the service, and how to take fd 3. A service hot holds no
/// socket for gets no such remark.
#[test]
fn address_in_use_is_explained_once_for_a_service_hot_holds_a_socket_for() {
    let failing =
        "echo 'Error: Os { code: 98, kind: AddrInUse, message: \\\"Address already in use\\\" }'";
    let project = Project::with_hotfile(&format!(
        r#"
service "serve" {{
    socket "http" "127.0.0.1:0"
    run "{failing}; {failing}; echo done; exec sleep 30"
}}
service "other" {{
    run "{failing}; echo done; exec sleep 30"
}}
"#
    ));
    let mut hot = project.spawn(&["run", "serve", "other"]);
    let done = |e: &serde_json::Value, node: &str| {
        e["event"] == "output" && e["node"] == node && e["line"] == "done"
    };
    for node in ["serve", "other"] {
        if !hot.seen.iter().any(|e| done(e, node)) {
            hot.wait_for("done", |e| done(e, node));
        }
    }
    let hints: Vec<String> = hot
        .seen
        .iter()
        .filter(|e| e["event"] == "note")
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.contains("hot holds"))
        .map(str::to_owned)
        .collect();
    assert_eq!(hints.len(), 1, "{}", hot.transcript());
    assert!(
        hints[0].starts_with("serve: hot holds `http` (127.0.0.1, the port it printed at start)"),
        "{}",
        hints[0]
    );
    assert!(
        hints[0].contains("fd 3") && hints[0].contains("listenfd"),
        "{}",
        hints[0]
    );
}

/// The hints were filled once, by the command line, from the first Hotfile: a service a
/// reload added printed "address in use" and got no word about fd 3. They are built per run
/// and rebuilt with each reload now.
#[test]
fn a_service_added_by_a_reload_gets_the_address_in_use_hint() {
    let project = Project::with_hotfile(
        r#"
task "check" {
    watch "src/**"
    run "true"
}
"#,
    );
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("wave_finished", "");
    project.write(
        "Hotfile",
        r#"
task "check" {
    watch "src/**"
    run "true"
}
service "late" {
    socket "http" "127.0.0.1:0"
    run "echo 'OSError: [Errno 98] Address already in use'; exec sleep 30"
}
"#,
    );
    hot.wait_event("reloaded", "");
    let hint = hot.wait_for("the fd 3 hint for `late`", |e| {
        e["event"] == "note"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("late: hot holds `http`"))
    });
    assert!(hint["message"].as_str().unwrap().contains("fd 3"), "{hint}");
}
