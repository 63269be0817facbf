use crate::support::Project;

const WEB: &str = r#"
task "clippy" {
    watch "src/**/*.rs" "Cargo.toml"
    run "cargo clippy"
}
task "test" {
    watch "src/**/*.rs" "tests/**/*.rs"
    after "clippy"
    run "cargo test"
}
task "build" {
    watch "src/**/*.rs"
    run "cargo build"
}
service "serve" {
    after "test" "build"
    socket "http" "127.0.0.1:3000"
    watch "templates/**"
    run "./target/debug/app"
}
"#;

#[test]
fn text() {
    let project = Project::with_hotfile(WEB);
    let run = project.run(&["graph"]);
    run.code(0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn mermaid() {
    let project = Project::with_hotfile(WEB);
    let run = project.run(&["graph", "--format", "mermaid"]);
    run.code(0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn json() {
    let project = Project::with_hotfile(WEB);
    let run = project.run(&["graph", "--format", "json"]);
    run.code(0);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    assert_eq!(value["order"][0], "clippy");
    assert_eq!(value["nodes"][3]["sockets"][0]["addr"], "127.0.0.1:3000");
    assert_eq!(
        value["nodes"][3]["after"],
        serde_json::json!(["test", "build"])
    );
}

#[test]
fn dot_parses_with_graphviz() {
    let project = Project::with_hotfile(WEB);
    let run = project.run(&["graph", "--format", "dot"]);
    run.code(0);
    insta::assert_snapshot!(run.stdout);
    let dot = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    match dot {
        Ok(mut child) => {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(run.stdout.as_bytes())
                .unwrap();
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        // CI installs Graphviz, so there the check always runs.
        Err(_) => assert!(!crate::support::ci(), "CI must install graphviz"),
    }
}

#[test]
fn why_names_the_matching_nodes_and_what_follows() {
    let project = Project::with_hotfile(WEB);
    let run = project.run(&["why", "tests/api.rs", "README.md", "src/main.rs"]);
    run.code(0);
    assert_eq!(
        run.stdout,
        "tests/api.rs: watched by test; then reruns serve\n\
         README.md: no node watches it: nothing reruns\n\
         src/main.rs: watched by clippy, test, build; then reruns serve\n"
    );
}
