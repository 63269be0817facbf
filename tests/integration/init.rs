use std::path::Path;

use crate::support::{Project, Run};

/// `hot init` in `dir` (below the project), with cargo's own settings out of the way so the
/// target directory is the default one.
fn init(project: &Project, dir: &str, args: &[&str]) -> Run {
    let mut command = project.hot(&["init"]);
    command
        .args(args)
        .current_dir(project.path().join(dir))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    Run::from(command.output().expect("hot runs"))
}

fn package(project: &Project, dir: &str, name: &str, deps: &str, bin: bool) {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    project.write(
        &format!("{prefix}Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n{deps}"
        ),
    );
    let main = if bin { "src/main.rs" } else { "src/lib.rs" };
    project.write(&format!("{prefix}{main}"), "fn main() {}\n");
}

/// A `cargo new --bin app` with an integration test and a build script.
fn single() -> Project {
    let project = Project::new();
    package(&project, "", "app", "", true);
    project.write("tests/api.rs", "#[test]\nfn works() {}\n");
    project.write("build.rs", "fn main() {}\n");
    project
}

/// `shared` (a library) used by the `api` server; `admin`, a second server, does not use it.
fn workspace() -> Project {
    let project = Project::new();
    project.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"shared\", \"api\", \"admin\"]\nresolver = \"3\"\n",
    );
    package(&project, "shared", "shared", "", false);
    package(
        &project,
        "api",
        "api",
        "shared = { path = \"../shared\" }\n",
        true,
    );
    package(&project, "admin", "admin", "", true);
    project.write("shared/tests/it.rs", "#[test]\nfn works() {}\n");
    project
}

#[test]
fn init_writes_a_hotfile_for_one_package() {
    let project = single();
    init(&project, "", &[]).code(0);
    insta::assert_snapshot!("init_single_package", project.read("Hotfile"));
    project.run(&["check"]).code(0);
}

#[test]
fn init_prints_the_next_steps_with_the_ready_line() {
    let project = single();
    let run = init(&project, "", &[]);
    run.code(0);
    insta::assert_snapshot!("init_next_steps", run.stdout);
    // The snippet prints what the Hotfile waits for.
    let hotfile = project.read("Hotfile");
    assert!(
        hotfile.contains("ready log=\"^listening on \""),
        "{hotfile}"
    );
    assert!(
        run.stdout.contains("println!(\"listening on http://{}\""),
        "{}",
        run.stdout
    );
}

#[test]
fn init_writes_a_hotfile_for_a_workspace() {
    let project = workspace();
    init(&project, "", &[]).code(0);
    insta::assert_snapshot!("init_workspace", project.read("Hotfile"));
    project.run(&["check"]).code(0);
}

#[test]
fn a_change_to_a_shared_library_reruns_only_the_chains_that_use_it() {
    let project = workspace();
    init(&project, "", &[]).code(0);
    let why = project.run(&[
        "why",
        "shared/src/lib.rs",
        "admin/src/main.rs",
        "api/src/main.rs",
    ]);
    why.code(0);
    let lines: Vec<&str> = why.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", why.stdout);
    let shared = lines[0];
    for node in ["clippy-api", "test-api", "build-api", "serve-api"] {
        assert!(shared.contains(node), "{shared}");
    }
    assert!(!shared.contains("admin"), "{shared}");
    assert!(
        !lines[1].contains("api") && !lines[1].contains("shared"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("serve-admin"), "{}", lines[1]);
    assert!(
        !lines[2].contains("shared") && !lines[2].contains("admin"),
        "{}",
        lines[2]
    );
}

#[test]
fn init_in_a_member_directory_writes_at_the_workspace_root() {
    let project = workspace();
    let run = init(&project, "api", &[]);
    run.code(0);
    assert!(
        run.stdout.contains("../Hotfile (the workspace root)"),
        "{}",
        run.stdout
    );
    assert!(project.path().join("Hotfile").is_file());
    assert!(!project.path().join("api/Hotfile").exists());
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let project = single();
    project.write("Hotfile", "// mine\n");
    let run = init(&project, "", &[]);
    run.code(2);
    assert!(
        run.stderr.contains("Hotfile already exists"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hot init --force"), "{}", run.stderr);
    assert_eq!(project.read("Hotfile"), "// mine\n");
    init(&project, "", &["--force"]).code(0);
    assert!(project.read("Hotfile").contains("task \"clippy\""));
}

#[test]
fn init_without_cargo_toml_writes_a_generic_hotfile() {
    let project = Project::new();
    let run = init(&project, "", &[]);
    run.code(0);
    assert!(run.stdout.contains("Next steps"), "{}", run.stdout);
    project.run(&["check"]).code(0);
    project.run(&["ci"]).code(0);
}

#[test]
fn init_reports_a_broken_cargo_toml() {
    let project = Project::new();
    project.write("Cargo.toml", "[package\n");
    let run = init(&project, "", &[]);
    run.code(2);
    assert!(run.stderr.contains("cargo metadata"), "{}", run.stderr);
    assert!(!Path::new(&project.path().join("Hotfile")).exists());
}
