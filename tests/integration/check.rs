use crate::support::Project;

const CONTRACT: &str = r#"
// Hotfile
task "clippy" {
    watch "src/**/*.rs" "Cargo.toml"
    run "cargo clippy --all-targets -- -D warnings"
}

task "test" {
    watch "src/**/*.rs" "tests/**/*.rs"
    after "clippy"
    run "cargo test"
}

task "build" {
    watch "src/**/*.rs" "Cargo.toml"
    run "cargo build"
}

service "serve" {
    after "test" "build"
    socket "http" "127.0.0.1:3000"
    watch "templates/**"
    run "./target/debug/app"
    env RUST_LOG="info"
    ready delay="300ms"
    stop signal="SIGTERM" timeout="5s"
}
"#;

#[test]
fn the_contract_example_is_sound() {
    let project = Project::with_hotfile(CONTRACT);
    let run = project.run(&["check"]);
    run.code(0);
    assert!(run.stderr.contains("3 tasks, 1 service"), "{}", run.stderr);
}

/// Each mistake: status 2, `Hotfile:LINE:COL` in the diagnostic, and nothing run (the
/// command would have created `ran`).
#[track_caller]
fn check_mistake(hotfile: &str, location: &str, message: &str) {
    let project = Project::with_hotfile(hotfile);
    for args in [&["check"][..], &["ci"], &["run", "a"], &["graph"]] {
        let run = project.run(args);
        run.code(2);
        assert!(
            run.stderr.contains(&format!("Hotfile:{location}")),
            "`hot {}`: expected Hotfile:{location} in\n{}",
            args.join(" "),
            run.stderr
        );
        assert!(
            run.stderr.contains(message),
            "expected `{message}` in\n{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert!(!project.path().join("ran").exists(), "a command ran");
}

#[test]
fn mistakes_are_diagnostics_with_locations() {
    check_mistake(
        "task \"a\" {\n    run \"touch ran\"\n    after \"b\"\n}\n",
        "3:11",
        "b",
    );
    check_mistake(
        "task \"a\" {\n    run \"touch ran\"\n    wtch \"src/**\"\n}\n",
        "3:5",
        "watch",
    );
    check_mistake(
        "task \"a\" {\n    run \"touch ran\"\n    socket \"http\" \"127.0.0.1:0\"\n}\n",
        "3:5",
        "service",
    );
    check_mistake(
        "task \"a\" {\n    run \"touch ran\"\n    watch \"src/[\"\n}\n",
        "3:11",
        "glob",
    );
    check_mistake("task \"a\" {\n    run \"touch ran\"\n", "", "");
}

#[test]
fn a_missing_hotfile_is_a_usage_error() {
    let project = Project::new();
    let run = project.run(&["check"]);
    run.code(2);
    assert!(run.stderr.contains("Hotfile"), "{}", run.stderr);
}

#[test]
fn the_hotfile_is_found_in_a_parent_directory() {
    let project = Project::with_hotfile("task \"a\" {\n    run \"true\"\n}\n");
    project.write("deep/er/keep", "");
    let run = project
        .hot(&["check"])
        .current_dir(project.path().join("deep/er"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
}

#[test]
fn dash_f_names_the_hotfile() {
    let project = Project::new();
    project.write("sub/Hotfile", "task \"a\" {\n    run \"true\"\n}\n");
    project.run(&["-f", "sub/Hotfile", "check"]).code(0);
    project.run(&["--file", "nope/Hotfile", "check"]).code(2);
}

#[test]
fn unknown_node_names_on_the_command_line_are_usage_errors() {
    let project = Project::with_hotfile("task \"build\" {\n    run \"touch ran\"\n}\n");
    let run = project.run(&["run", "biuld"]);
    run.code(2);
    assert!(
        run.stderr.contains("did you mean `build`"),
        "{}",
        run.stderr
    );
    assert!(!project.path().join("ran").exists());
}

/// `lint` read the Hotfile again from its path for its spans, which standard input cannot
/// give twice: `hot -f - check` lost every warning. It now uses the loader's span table.
#[test]
fn check_warns_on_a_hotfile_read_from_standard_input() {
    use std::io::Write;
    let project = Project::new();
    let mut child = project
        .hot(&["-f", "-", "check"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("hot starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(b"task \"t\" {\n    watch \"nothing/**\"\n    run \"true\"\n}\n")
        .expect("the Hotfile is written");
    let output = child.wait_with_output().expect("hot ends");
    let run = crate::support::Run::from(output);
    run.code(0);
    assert!(
        run.stderr.contains("`nothing/**` matches no file") && run.stderr.contains("2 │"),
        "a warning with its line: {}",
        run.stderr
    );
}
