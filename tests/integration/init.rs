use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hot::init::MAX_SERVICES;

use crate::support::{Project, Run, Running, ask};

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

/// A `cargo new --bin app` with an integration test and a build script.
fn single() -> Project {
    let project = Project::new();
    member(&project, "", "app", "", OWN_PORT_SERVER);
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
    member(&project, "shared", "shared", "", "");
    member(
        &project,
        "api",
        "api",
        "shared = { path = \"../shared\" }\n",
        OWN_PORT_SERVER,
    );
    member(&project, "admin", "admin", "", OWN_PORT_SERVER);
    project.write("shared/tests/it.rs", "#[test]\nfn works() {}\n");
    project
}

/// `hot init` at the root of `project` writes the Hotfile of `snapshot`, and it is sound.
#[track_caller]
fn init_writes(project: &Project, snapshot: &str) {
    init(project, "", &[]).code(0);
    insta::assert_snapshot!(snapshot, project.read("Hotfile"));
    project.run(&["check"]).code(0);
}

#[test]
fn init_writes_a_hotfile_for_one_package_and_for_a_workspace() {
    init_writes(&single(), "init_single_package");
    init_writes(&workspace(), "init_workspace");
}

#[test]
fn init_prints_the_next_steps_with_the_ready_line() {
    let project = single();
    let run = init(&project, "", &[]);
    run.code(0);
    insta::assert_snapshot!("init_next_steps", run.stdout);
    // The server prints no ready line yet: the Hotfile waits a second, and says which line
    // to wait for once the snippet prints it.
    let hotfile = project.read("Hotfile");
    assert!(
        hotfile.contains("// ready log=\"^listening on \"\n    ready delay=\"1s\""),
        "{hotfile}"
    );
    assert!(
        run.stdout.contains("println!(\"listening on http://{}\""),
        "{}",
        run.stdout
    );
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
    for node in ["build-api", "check-api", "serve-api"] {
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

/// An edit to a template, a served file or a migration ran nothing: init's Hotfile watched
/// the package's code only, where `cargo watch -x run` rebuilds and restarts on any file.
#[test]
fn init_s_hotfile_ran_nothing_when_a_template_or_a_static_file_changed() {
    let project = single();
    project.write("templates/index.html", "<h1>{{ title }}</h1>\n");
    project.write("static/app.css", "h1 { color: red }\n");
    project.write("static/gen/bundle.js", "// generated, ignored\n");
    project.write("migrations/0001_init.sql", "create table todos (id int);\n");
    project.write("assets/.keep", "");
    project.write(".gitignore", "/target\n/static/gen/\n/assets/\n");
    init(&project, "", &[]).code(0);
    check_clean(&project, "", 2, 1);
    rerun_build_check_and_serve(
        &project,
        &[
            "templates/index.html",
            "static/app.css",
            "migrations/0001_init.sql",
        ],
    );
    // Ignored: watched by nothing, and not named in the Hotfile (no warning either).
    let why = project.run(&["why", "static/gen/bundle.js", "assets/.keep"]);
    why.code(0);
    let lines: Vec<&str> = why.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", why.stdout);
    for line in &lines {
        assert!(!line.contains("build"), "{line}");
    }
    let hotfile = project.read("Hotfile");
    assert!(!hotfile.contains("assets"), "{hotfile}");
}

/// An edit to cargo's configuration (`rustflags`, the target), the pinned toolchain or clippy's
/// settings ran nothing: they change what cargo builds and what clippy says, and init's Hotfile
/// watched the manifests and the code only. A lock file `.gitignore` names is still left out.
#[test]
fn init_s_hotfile_ran_nothing_when_cargo_s_config_or_the_toolchain_changed() {
    let project = single();
    project.write(
        ".cargo/config.toml",
        "[build]\nrustflags = [\"-Dwarnings\"]\n",
    );
    project.write("rust-toolchain.toml", "[toolchain]\nchannel = \"stable\"\n");
    project.write("clippy.toml", "too-many-arguments-threshold = 9\n");
    project.write("Cargo.lock", "version = 4\n");
    project.write(".gitignore", "/target\n/Cargo.lock\n");
    init(&project, "", &[]).code(0);
    check_clean(&project, "", 2, 1);
    rerun_build_check_and_serve(
        &project,
        &[".cargo/config.toml", "rust-toolchain.toml", "clippy.toml"],
    );
    let hotfile = project.read("Hotfile");
    assert!(!hotfile.contains("Cargo.lock"), "{hotfile}");
}

/// An edit to a folder the server embeds or serves, or a file its build script compiles, ran
/// nothing when its name was not one of the conventional ones (`files/`, `proto/`): poem's
/// examples embed and serve `files/`, tonic's compile `proto/*.proto`.
#[test]
fn init_s_hotfile_ran_nothing_when_a_folder_the_code_names_changed() {
    let project = single();
    let main = project.read("src/main.rs");
    project.write(
        "src/main.rs",
        &format!("{main}\n#[allow(dead_code)]\nconst EMBEDDED: &str = \"files\";\n"),
    );
    project.write(
        "build.rs",
        "fn main() {\n    println!(\"cargo::rerun-if-changed=proto/api.proto\");\n}\n",
    );
    project.write("files/index.html", "<h1>hi</h1>\n");
    project.write("proto/api.proto", "syntax = \"proto3\";\n");
    init(&project, "", &[]).code(0);
    check_clean(&project, "", 2, 1);
    rerun_build_check_and_serve(&project, &["files/index.html", "proto/api.proto"]);
}

/// `hot why` says an edit to each of `paths` reruns the build, the check and the server.
#[track_caller]
fn rerun_build_check_and_serve(project: &Project, paths: &[&str]) {
    let why = project.run(&[&["why"], paths].concat());
    why.code(0);
    let lines: Vec<&str> = why.stdout.lines().collect();
    assert_eq!(lines.len(), paths.len(), "{}", why.stdout);
    for line in &lines {
        for node in ["build", "check", "serve"] {
            assert!(line.contains(node), "{line}");
        }
    }
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
    assert!(project.read("Hotfile").contains("task \"build\""));
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

/// In a folder of Cargo projects (a repository of examples), init's generic Hotfile watched
/// `src/**`, which matched nothing there, so `hot check` warned at once; and it did not say
/// where the Cargo projects were.
#[test]
fn init_in_a_folder_of_cargo_projects_wrote_a_hotfile_that_warned_at_once() {
    let project = Project::new();
    for dir in ["axum/hello", "axum/todos", "actix/ws"] {
        project.write(&format!("{dir}/Cargo.toml"), "[package]\nname = \"x\"\n");
        project.write(&format!("{dir}/src/main.rs"), "fn main() {}\n");
    }
    project.write("README.md", "examples\n");
    let run = init(&project, "", &[]);
    run.code(0);
    check_clean(&project, "", 1, 0);
    assert!(
        run.stdout.contains(
            "Cargo projects below this directory: `hot init` in one writes its own Hotfile\n\
             (`cd actix/ws && hot init`):\n  actix/ws\n  axum/hello\n  axum/todos\n"
        ),
        "{}",
        run.stdout
    );
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

/// A std-only server that takes hot's socket (fd 3, `LISTEN_FDS`) or binds its own, prints
/// its ready line and answers every connection with `TEXT`. On SIGTERM it answers the
/// connection it has taken and exits, so no request is cut (libc's `signal` through FFI: the
/// generated project builds offline, with no crates).
const STD_SERVER: &str = r#"use std::io::Write;
use std::net::TcpListener;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

const TEXT: &str = "hello v1";

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: i32) {
    STOP.store(true, Ordering::SeqCst);
}

unsafe extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
}

fn main() -> std::io::Result<()> {
    // SAFETY: the handler only stores to an atomic.
    unsafe { signal(15, on_term) };
    let listener = if std::env::var("LISTEN_FDS").is_ok() {
        // SAFETY: hot passes its listening socket as fd 3 (LISTEN_FDS=1).
        unsafe { TcpListener::from_raw_fd(3) }
    } else {
        TcpListener::bind("127.0.0.1:0")?
    };
    println!("listening on http://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let _ = writeln!(stream?, "{TEXT}");
        if STOP.load(Ordering::SeqCst) {
            break;
        }
    }
    Ok(())
}
"#;

/// A server of the workspace that binds its own port and prints nothing.
const OWN_PORT_SERVER: &str =
    "fn main() {\n    let _listener = std::net::TcpListener::bind(\"127.0.0.1:0\");\n}\n";

/// A package in `dir` of `project` (the project itself when empty) with `main` as
/// `src/main.rs`, or a library when `main` is empty.
fn member(project: &Project, dir: &str, name: &str, deps: &str, main: &str) {
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
    if main.is_empty() {
        project.write(&format!("{prefix}src/lib.rs"), "pub fn shared() {}\n");
    } else {
        project.write(&format!("{prefix}src/main.rs"), main);
    }
}

/// The servers of [`axum_examples`] besides `hello-world`, `api` and `admin`.
const OTHER_SERVERS: usize = 17;

/// Shaped like axum's examples: `examples/Cargo.toml` with `members = ["*"]`, 22 packages
/// that depend on `axum` (a local stub crate outside the workspace, so cargo works offline):
/// `hello-world` (a real server), 17 servers binding their own port, `ws-client` (a client
/// binary), and `shared`, a library used by the `api` and `admin` servers.
fn axum_examples() -> Project {
    let project = Project::new();
    project.write(
        "stubs/axum/Cargo.toml",
        "[package]\nname = \"axum\"\nversion = \"0.8.0\"\nedition = \"2024\"\n",
    );
    project.write("stubs/axum/src/lib.rs", "pub fn serve() {}\n");
    project.write(
        "examples/Cargo.toml",
        "[workspace]\nmembers = [\"*\"]\nexclude = [\"target\"]\nresolver = \"3\"\n",
    );
    let axum = "axum = { path = \"../../stubs/axum\" }\n";
    member(
        &project,
        "examples/hello-world",
        "hello-world",
        axum,
        STD_SERVER,
    );
    for n in 0..OTHER_SERVERS {
        let dir = format!("examples/server-{n:02}");
        member(
            &project,
            &dir,
            &format!("example-server-{n:02}"),
            axum,
            OWN_PORT_SERVER,
        );
    }
    member(
        &project,
        "examples/ws-client",
        "example-ws-client",
        axum,
        "// talks to the websocket server\nfn main() {\n    println!(\"connecting\");\n}\n",
    );
    member(&project, "examples/shared", "example-shared", "", "");
    let with_shared = format!("{axum}example-shared = {{ path = \"../shared\" }}\n");
    member(
        &project,
        "examples/api",
        "example-api",
        &with_shared,
        OWN_PORT_SERVER,
    );
    member(
        &project,
        "examples/admin",
        "example-admin",
        &with_shared,
        OWN_PORT_SERVER,
    );
    project
}

/// `hot check` in `dir`: sound, and not one warning.
#[track_caller]
fn check_clean(project: &Project, dir: &str, tasks: usize, services: usize) {
    let mut command = project.hot(&["check"]);
    command.current_dir(project.path().join(dir));
    let run = Run::from(command.output().expect("hot runs"));
    run.code(0);
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    // The Hotfile's name is relative to `dir`: `Hotfile` or `../Hotfile`.
    let sound = format!(
        " is sound: {tasks} task{}, {services} service{}\n",
        plural(tasks),
        plural(services)
    );
    assert_eq!(run.stdout, "");
    let (name, rest) = run.stderr.split_once(" is sound").expect(&run.stderr);
    assert_eq!(format!(" is sound{rest}"), sound, "{}", run.stderr);
    assert!(
        name == "hot: Hotfile" || name.ends_with("/Hotfile") && !name.contains('\n'),
        "{}",
        run.stderr
    );
}

/// The tasks `hot ci --dry-run` in `dir` would run, sorted, and the services it names.
fn ci_nodes(project: &Project, dir: &str) -> (Vec<String>, Vec<String>) {
    let mut command = project.hot(&["ci", "--dry-run"]);
    command.current_dir(project.path().join(dir));
    let run = Run::from(command.output().expect("hot runs"));
    run.code(0);
    let mut tasks = Vec::new();
    let mut services = Vec::new();
    for line in run.stdout.lines() {
        if let Some(rest) = line.strip_prefix("not run (services): ") {
            services = rest.split(", ").map(str::to_owned).collect();
        } else if let Some((name, _)) = line.strip_prefix("  ").and_then(|l| l.split_once(": ")) {
            tasks.push(name.to_owned());
        }
    }
    tasks.sort();
    (tasks, services)
}

fn checks_of(packages: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = packages
        .iter()
        .flat_map(|p| ["build", "check"].map(|t| format!("{t}-{p}")))
        .collect();
    names.sort();
    names
}

#[test]
fn init_at_an_axum_examples_root_makes_no_service_of_a_client_and_starts_few_servers() {
    let project = axum_examples();
    let run = init(&project, "examples", &[]);
    run.code(0);
    let hotfile = project.read("examples/Hotfile");
    assert_eq!(
        hotfile.matches("\nservice ").count(),
        MAX_SERVICES,
        "{hotfile}"
    );
    assert!(
        !hotfile.contains("service \"serve-example-ws-client\""),
        "{hotfile}"
    );
    assert!(
        hotfile.contains(
            "// `example-ws-client`: no service: depends on axum, but src/main.rs never binds or serves"
        ),
        "{hotfile}"
    );
    // It says what it left out and how to get it.
    assert!(
        run.stdout
            .contains("`example-ws-client`: depends on axum, but"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("a workspace's Hotfile starts 3 servers at most"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("hot init --force --bin "),
        "{}",
        run.stdout
    );
    check_clean(&project, "examples", 22 * 2, MAX_SERVICES);
    let mut packages: Vec<String> = vec![
        "hello-world".into(),
        "example-ws-client".into(),
        "example-shared".into(),
        "example-api".into(),
        "example-admin".into(),
    ];
    packages.extend((0..OTHER_SERVERS).map(|n| format!("example-server-{n:02}")));
    let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
    let (tasks, services) = ci_nodes(&project, "examples");
    assert_eq!(tasks, checks_of(&packages));
    assert_eq!(
        services,
        [
            "serve-example-admin",
            "serve-example-api",
            "serve-hello-world"
        ]
    );
}

#[test]
fn init_at_a_root_with_bin_serves_exactly_the_named_binaries() {
    let project = axum_examples();
    init(
        &project,
        "examples",
        &["--bin", "example-server-05", "--bin", "example-ws-client"],
    )
    .code(0);
    check_clean(&project, "examples", 22 * 2, 2);
    let (_, services) = ci_nodes(&project, "examples");
    assert_eq!(
        services,
        ["serve-example-server-05", "serve-example-ws-client"]
    );
}

/// A member's Hotfile was written at the workspace root with all 22 members in it: hot
/// watched below the root only, and init ignored where the user stood.
#[test]
fn init_in_a_workspace_member_writes_that_members_hotfile_in_its_directory() {
    let project = axum_examples();
    let run = init(&project, "examples/hello-world", &[]);
    run.code(0);
    assert!(run.stdout.starts_with("wrote Hotfile\n"), "{}", run.stdout);
    assert!(!project.path().join("examples/Hotfile").exists());
    let hotfile = project.read("examples/hello-world/Hotfile");
    assert!(
        hotfile.contains("run \"../target/debug/hello-world\""),
        "{hotfile}"
    );
    assert!(
        hotfile.contains("ready log=\"listening on http://\""),
        "{hotfile}"
    );
    check_clean(&project, "examples/hello-world", 2, 1);
    let (tasks, services) = ci_nodes(&project, "examples/hello-world");
    assert_eq!(tasks, ["build", "check"]);
    assert_eq!(services, ["serve"]);
    // A server that binds its own port: the lines for its framework, and a Hotfile that does
    // not wait for a line the server never prints.
    let run = init(&project, "examples/server-03", &[]);
    run.code(0);
    assert!(
        run.stdout.contains("axum::serve(listener, app).await?;")
            && run
                .stdout
                .contains("listenfd::ListenFd::from_env().take_tcp_listener(0)?")
            && run
                .stdout
                .contains("cargo add -p example-server-03 listenfd"),
        "{}",
        run.stdout
    );
    let hotfile = project.read("examples/server-03/Hotfile");
    assert!(hotfile.contains("ready delay=\"1s\""), "{hotfile}");
    assert!(!hotfile.contains("\n    ready log="), "{hotfile}");
    check_clean(&project, "examples/server-03", 2, 1);
}

#[test]
fn init_in_a_member_using_a_workspace_library_watches_it() {
    let project = axum_examples();
    let run = init(&project, "examples/api", &[]);
    run.code(0);
    // The Hotfile is the member's; its `root` is the closest directory holding api and
    // shared, which hot watches.
    assert!(
        run.stdout.starts_with(
            "wrote Hotfile (with `root \"..\"`: hot watches from there, the closest directory \
             holding this package and the workspace packages it uses)"
        ),
        "{}",
        run.stdout
    );
    assert!(!project.path().join("examples/Hotfile").exists());
    let hotfile = project.read("examples/api/Hotfile");
    assert!(hotfile.contains("\nroot \"..\"\n"), "{hotfile}");
    // Paths are relative to the root, as in a Hotfile written there; cargo runs at the root.
    assert!(
        hotfile.contains("watch \"api/src/**\" \"api/Cargo.toml\" \"shared/src/**\""),
        "{hotfile}"
    );
    assert!(
        hotfile.contains("run \"cargo build -p example-api\""),
        "{hotfile}"
    );
    let mut command = project.hot(&["check"]);
    command.current_dir(project.path().join("examples/api"));
    let check = Run::from(command.output().expect("hot runs"));
    check.code(0);
    assert_eq!(check.stdout, "");
    assert_eq!(check.stderr, "hot: Hotfile is sound: 2 tasks, 1 service\n");
    let (tasks, services) = ci_nodes(&project, "examples/api");
    assert_eq!(tasks, ["build", "check"]);
    assert_eq!(services, ["serve"]);
    // Paths on the command line are the shell's, relative to where hot runs.
    let mut command = project.hot(&["why", "../shared/src/lib.rs", "../admin/src/main.rs"]);
    command.current_dir(project.path().join("examples/api"));
    let why = Run::from(command.output().expect("hot runs"));
    why.code(0);
    let lines: Vec<&str> = why.stdout.lines().collect();
    assert!(
        lines[0].contains("build") && lines[0].contains("serve"),
        "{}",
        why.stdout
    );
    assert!(!lines[1].contains("build"), "{}", why.stdout);
}

/// One package: a CLI at `src/main.rs`, a server at `src/bin/web.rs`, and a `[[bin]]`
/// server that needs a feature.
fn bins_package() -> Project {
    let project = Project::new();
    project.write(
        "Cargo.toml",
        "[package]\nname = \"tools\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [features]\nadmin = []\n\n[[bin]]\nname = \"admin\"\npath = \"src/admin.rs\"\n\
         required-features = [\"admin\"]\n",
    );
    project.write("src/main.rs", "fn main() {\n    println!(\"a tool\");\n}\n");
    project.write("src/bin/web.rs", STD_SERVER);
    project.write("src/admin.rs", OWN_PORT_SERVER);
    project
}

#[test]
fn init_on_bins_and_required_features_serves_the_servers_and_builds_their_features() {
    let project = bins_package();
    for dir in ["", "src/bin"] {
        let run = init(&project, dir, &["--force"]);
        run.code(0);
        let hotfile = project.read("Hotfile");
        assert!(
            hotfile.contains("run \"cargo build --features admin\"")
                && hotfile.contains("run \"cargo test --features admin\""),
            "{hotfile}"
        );
        assert!(hotfile.contains("run \"./target/debug/web\""), "{hotfile}");
        assert!(
            hotfile.contains("run \"./target/debug/admin\""),
            "{hotfile}"
        );
        assert!(
            hotfile.contains("// `tools`: no service: no server crate"),
            "{hotfile}"
        );
        check_clean(&project, dir, 2, 2);
        let (tasks, services) = ci_nodes(&project, dir);
        assert_eq!(tasks, ["build", "check"]);
        assert_eq!(services, ["serve-admin", "serve-web"]);
    }
}

/// `hot check` read Cargo.toml itself and did not expand `members = ["*"]`: every service of
/// axum's examples was "a binary cargo does not build".
#[test]
fn check_knows_the_binaries_of_globbed_members() {
    let project = axum_examples();
    project.write(
        "examples/Hotfile",
        "service \"s\" {\n    watch \"hello-world/src/**\"\n    run \"./target/debug/hello-world\"\n}\n\
         service \"t\" {\n    watch \"hello-world/src/**\"\n    run \"./target/debug/hello-wrld\"\n}\n",
    );
    let mut command = project.hot(&["--json", "check"]);
    command.current_dir(project.path().join("examples"));
    let run = Run::from(command.output().expect("hot runs"));
    run.code(0);
    assert_eq!(
        run.stdout.matches("hot::program_not_found").count(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("cargo builds no binary `hello-wrld`")
            && run
                .stdout
                .contains("did you mean `./target/debug/hello-world`?"),
        "{}",
        run.stdout
    );
}

/// The loop on an unmodified member of the axum-shaped workspace: `hot init` there, then
/// `hot` serves it and swaps in each edit with no refused or failed request.
#[test]
fn init_in_a_member_then_hot_swaps_in_each_edit_with_no_failed_request() {
    let project = axum_examples();
    init(&project, "examples/hello-world", &[]).code(0);
    // Port 0, and no fixed browser endpoint: tests run side by side. The rest is as written.
    let hotfile = project
        .read("examples/hello-world/Hotfile")
        .replace("127.0.0.1:3000", "127.0.0.1:0")
        .replace("    reload \"127.0.0.1:35729\"\n", "");
    project.write("examples/hello-world/Hotfile", &hotfile);
    let cargo = |args: &[&str], target: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO"));
        command
            .args(args)
            .current_dir(project.path().join("examples/hello-world"))
            .env("CARGO_NET_OFFLINE", "true")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR");
        if let Some(target) = target {
            // The check's target directory, compiled as the check compiles.
            command
                .env("CARGO_TARGET_DIR", target)
                .env("RUSTC_WORKSPACE_WRAPPER", "clippy-driver")
                .env("RUSTFLAGS", "-D warnings")
                .env("CARGO_PROFILE_DEV_DEBUG", "line-tables-only");
        }
        let status = command.status().expect("cargo runs");
        assert!(status.success(), "cargo {args:?}");
    };
    // Built once up front, as the Hotfile builds, so hot's first round stays within the event
    // deadline.
    cargo(&["build"], None);
    cargo(&["test", "--no-run"], Some("../target/clippy"));
    let mut command = project.hot(&["--json", "watch"]);
    command
        .current_dir(project.path().join("examples/hello-world"))
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    let mut hot = Running::spawn(command);
    let addr = hot.wait_event("listening", "serve")["addr"]
        .as_str()
        .expect("an address")
        .to_owned();
    hot.wait_event("service_ready", "serve");
    assert_eq!(ask(&addr).expect("served"), "hello v1");
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (addr, stop) = (addr.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            let mut failures = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                match ask(&addr) {
                    Ok(answer) if answer.starts_with("hello v") => answers.push(answer),
                    Ok(answer) => failures.push(format!("odd answer `{answer}`")),
                    Err(error) => failures.push(error.to_string()),
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            (answers, failures)
        })
    };
    for version in ["v2", "v3"] {
        let main = STD_SERVER.replace("hello v1", &format!("hello {version}"));
        project.write("examples/hello-world/src/main.rs", &main);
        hot.wait_event("service_ready", "serve");
        // The old instance may take a request or two before its stop; each one is answered.
        let wanted = format!("hello {version}");
        let served = (0..500).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            ask(&addr).expect("served") == wanted
        });
        assert!(served, "never served `{wanted}`");
    }
    stop.store(true, Ordering::Relaxed);
    let (answers, failures) = client.join().expect("the client thread");
    assert!(failures.is_empty(), "{failures:?}");
    assert!(answers.len() > 2, "{answers:?}");
}

/// When `cargo metadata` fails, `hot check` still succeeds: the missing binary is a warning
/// that says cargo could not be asked, and why.
#[test]
fn check_with_a_broken_cargo_toml_warns_and_says_cargo_could_not_be_asked() {
    let project = Project::with_hotfile(
        "service \"s\" {\n    watch \"src/**\"\n    run \"./target/debug/app\"\n}\n",
    );
    project.write("Cargo.toml", "[package\n");
    project.write("src/main.rs", "fn main() {}\n");
    let run = project.run(&["--json", "check"]);
    run.code(0);
    assert_eq!(
        run.stdout.matches("hot::program_not_found").count(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("hot could not ask cargo whether it builds it")
            && run.stdout.contains("cargo metadata"),
        "{}",
        run.stdout
    );
}

#[test]
fn init_with_package_writes_that_packages_hotfile_from_the_root() {
    let project = axum_examples();
    let run = init(&project, "examples", &["--package", "example-admin"]);
    run.code(0);
    let hotfile = project.read("examples/Hotfile");
    assert!(
        hotfile.contains(
            "watch \"admin/src/**\" \"admin/Cargo.toml\" \"shared/src/**\" \"shared/Cargo.toml\""
        ),
        "{hotfile}"
    );
    check_clean(&project, "examples", 2, 1);
    let (tasks, services) = ci_nodes(&project, "examples");
    assert_eq!(tasks, ["build", "check"]);
    assert_eq!(services, ["serve"]);
    let run = init(&project, "examples", &["--force", "--package", "nope"]);
    run.code(2);
    assert!(
        run.stderr.contains("no package `nope` in this workspace"),
        "{}",
        run.stderr
    );
}

/// The check gates the server on clippy as well as the tests: clippy's driver compiles the
/// test harness, so a lint (`-D warnings`) fails it, and clean code passes with the tests run.
#[test]
fn init_hotfile_check_fails_on_a_clippy_warning() {
    let project = Project::new();
    member(&project, "", "app", "", OWN_PORT_SERVER);
    project.write("tests/api.rs", "#[test]\nfn works() {}\n");
    init(&project, "", &[]).code(0);
    let check = || {
        let mut command = project.hot(&["run", "check"]);
        command
            .env("CARGO_NET_OFFLINE", "true")
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env_remove("RUSTFLAGS");
        Run::from(command.output().expect("hot runs"))
    };
    let clean = check();
    clean.code(0);
    let out = format!("{}{}", clean.stdout, clean.stderr);
    assert!(out.contains("test works ... ok"), "{out}");
    let main = project.read("src/main.rs");
    project.write(
        "src/main.rs",
        &format!(
            "{main}\n#[allow(dead_code)]\nfn empty(v: &[u8]) -> bool {{\n    v.len() == 0\n}}\n"
        ),
    );
    let linted = check();
    linted.code(1);
    let out = format!("{}{}", linted.stdout, linted.stderr);
    assert!(out.contains("len_zero"), "{out}");
}
