//! The Hotfile `hot init` writes, and the next steps it prints.
//!
//! Per member: `clippy` → `test`, and `build`; each of them comes `after` the same task of
//! every member it uses, so a change to a shared library reruns the chains of the members
//! that use it and no others. A service per binary comes after its package's `test` and
//! `build`. Clippy checks in a target directory of its own; the tests and the build share
//! the main one and its lock (see [`CARGO_LOCK`]).

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::cargo::{Package, Workspace};

/// The lock of the main target directory, held by `test` and `build`. Jobs on one target
/// directory wait for each other inside cargo anyway; taking turns in hot keeps each duration
/// the task's own. Measured on a 2-core machine (`docs/recipes.md`, `bench/cargo_layouts.py`):
/// one lock for everything was the slowest layout, clippy in its own directory the fastest,
/// and this one (no lock on clippy) as fast as any, with no cargo left waiting inside cargo.
pub const CARGO_LOCK: &str = "lock \"cargo\"";

/// The first service's port; the next ones count up.
const FIRST_PORT: u16 = 3000;

/// The line the printed snippet prints, and `ready log=` waits for.
pub const READY_LINE: &str = "listening on ";

/// One service to be written: a binary of a package.
#[derive(Debug, Clone)]
pub struct Service {
    pub node: String,
    pub package: String,
    pub main: PathBuf,
    pub port: u16,
}

/// The Hotfile for `workspace`, written in `base` (the workspace root), and its services.
pub fn cargo_hotfile(workspace: &Workspace, base: &Path) -> (String, Vec<Service>) {
    let single = workspace.members.len() == 1;
    let name = |task: &str, package: &str| {
        if single {
            task.to_owned()
        } else {
            format!("{task}-{package}")
        }
    };
    let mut out = String::new();
    out.push_str(HEADER);
    let mut services = Vec::new();
    let clippy_dir = relative(&workspace.target_dir.join("clippy"), base);
    for package in &workspace.members {
        let dir = dir_prefix(&package.dir, base);
        let globs = Globs::of(package, &dir, workspace, base);
        let select = |p: &str| {
            if single {
                String::new()
            } else {
                format!(" -p {p}")
            }
        };
        let after = |task: &str, first: Option<String>| -> String {
            let names: Vec<String> = first
                .into_iter()
                .chain(package.uses.iter().map(|u| name(task, u)))
                .collect();
            if names.is_empty() {
                String::new()
            } else {
                let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
                format!("    after {}\n", quoted.join(" "))
            }
        };
        if !single {
            let place = display_dir(&dir);
            if place == package.name {
                let _ = writeln!(out, "// ── {} ──\n", package.name);
            } else {
                let _ = writeln!(out, "// ── {} ({place}) ──\n", package.name);
            }
        }
        let p = &package.name;
        let _ = write!(
            out,
            "// Lints first: a warning fails the check, and the tests wait for it. Clippy checks in a\n\
             // target directory of its own, so it runs beside the build instead of waiting for it.\n\
             task {clippy:?} {{\n    watch {all}\n{after}    env CARGO_TARGET_DIR={clippy_dir:?}\n    run \"cargo clippy{sel} --all-targets -- -D warnings\"\n}}\n\n",
            clippy = name("clippy", p),
            all = globs.all.join(" "),
            after = after("clippy", None),
            clippy_dir = clippy_dir,
            sel = select(p),
        );
        let _ = write!(
            out,
            "task {test:?} {{\n    watch {all}\n{after}    {lock}\n    run \"cargo test{sel}\"\n}}\n\n",
            test = name("test", p),
            all = globs.all.join(" "),
            after = after("test", Some(name("clippy", p))),
            lock = CARGO_LOCK,
            sel = select(p),
        );
        let _ = write!(
            out,
            "// The build runs while the old server keeps serving; tests and examples are not its inputs.\n\
             task {build:?} {{\n    watch {code}\n{after}    {lock}\n    run \"cargo build{sel}\"\n}}\n\n",
            build = name("build", p),
            code = globs.code.join(" "),
            after = after("build", None),
            lock = CARGO_LOCK,
            sel = select(p),
        );
        for (bin, main) in &package.bins {
            let node = if single && package.bins.len() == 1 {
                "serve".to_owned()
            } else if package.bins.len() == 1 && !single {
                format!("serve-{p}")
            } else {
                format!("serve-{bin}")
            };
            let port = FIRST_PORT + u16::try_from(services.len()).unwrap_or(0);
            let binary = binary_path(&workspace.target_dir, base, bin);
            let _ = write!(
                out,
                "// The server, restarted once the checks and the build passed. hot binds the socket and\n\
                 // hands it to every instance as fd 3 (the server takes it with the `listenfd` crate);\n\
                 // the old instance keeps serving until the new one prints its ready line.\n\
                 service {node:?} {{\n    after {test:?} {build:?}\n    \
                 // Change the address here: the server uses the socket it is given.\n    \
                 socket \"http\" \"127.0.0.1:{port}\"\n    run {binary:?}\n    ready log=\"^{READY_LINE}\"\n}}\n\n",
                test = name("test", p),
                build = name("build", p),
            );
            services.push(Service {
                node,
                package: p.clone(),
                main: main.clone(),
                port,
            });
        }
    }
    (out.trim_end().to_owned() + "\n", services)
}

const HEADER: &str = "\
// Written by `hot init`. hot runs each task when a file it watches changes (and what comes
// `after` it), and restarts a service only when everything it comes after succeeded: a failing
// check leaves the last good server serving. `hot check` validates this file, `hot why PATH`
// says what a change reruns, `hot graph` draws it.
//
// Cargo jobs on one target directory wait for each other inside cargo. Clippy has a target
// directory of its own, so it runs beside the build and the tests; those two share
// `lock \"cargo\"`, so hot runs them one at a time, in dependency order, and each one's time
// is its own.

";

/// The Hotfile for a directory without Cargo.toml: one task to fill in, a service sketched.
pub const GENERIC: &str = r#"// Written by `hot init`. hot runs each task when a file it watches changes (and what comes
// `after` it), and restarts a service only when everything it comes after succeeded.
// `hot check` validates this file, `hot why PATH` says what a change reruns.

// Replace the command with your check or build (`npm test`, `pytest`, `make`...).
task "check" {
    watch "src/**"
    run "echo 'edit the Hotfile: put your check here'"
}

// A server: hot binds the socket and hands it to every instance as fd 3 (LISTEN_FDS=1, the
// systemd socket-activation protocol); the old instance keeps serving until the new one
// prints its ready line. Uncomment and adapt:
//
// service "serve" {
//     after "check"
//     socket "http" "127.0.0.1:3000"
//     run "node server.js"
//     ready log="^listening on "
// }
"#;

/// The globs of one package, relative to the Hotfile.
struct Globs {
    /// Everything clippy and the tests read.
    all: Vec<String>,
    /// What the build reads: sources, build script, manifests, lock file.
    code: Vec<String>,
}

impl Globs {
    fn of(package: &Package, dir: &str, workspace: &Workspace, base: &Path) -> Globs {
        let at = |path: &str| format!("{dir}{path}");
        let exists = |path: &str| package.dir.join(path).exists();
        let mut code = Vec::new();
        let mut extra = Vec::new();
        if exists("src") {
            code.push(at("src/**"));
        }
        for test_dir in ["tests", "benches", "examples"] {
            if exists(test_dir) {
                extra.push(at(&format!("{test_dir}/**")));
            }
        }
        if exists("build.rs") {
            code.push(at("build.rs"));
        }
        // Crate roots outside the usual folders (`[[bin]] path = "tools/x.rs"`).
        for source in &package.sources {
            let covered = ["src", "tests", "benches", "examples"]
                .iter()
                .any(|d| source.starts_with(package.dir.join(d)))
                || source == &package.dir.join("build.rs");
            if covered {
                continue;
            }
            let glob = match source.parent() {
                Some(parent) if parent != package.dir => format!("{}/**", relative(parent, base)),
                _ => relative(source, base),
            };
            if !code.contains(&glob) {
                code.push(glob);
            }
        }
        code.push(at("Cargo.toml"));
        if package.dir != workspace.root {
            // Workspace-wide dependencies, lints and profiles.
            code.push(relative(&workspace.root.join("Cargo.toml"), base));
        }
        code.push(relative(&workspace.root.join("Cargo.lock"), base));
        let quote = |globs: Vec<String>| globs.iter().map(|g| format!("{g:?}")).collect();
        let mut all = code.clone();
        let at_manifest = all
            .iter()
            .position(|g| g.ends_with("Cargo.toml"))
            .unwrap_or(0);
        for (i, glob) in extra.into_iter().enumerate() {
            all.insert(at_manifest + i, glob);
        }
        Globs {
            all: quote(all),
            code: quote(code),
        }
    }
}

/// `path` relative to `base`, with `/` separators (`""` for `base` itself); `..` where the
/// path is beside it, absolute where nothing is shared.
pub fn relative(path: &Path, base: &Path) -> String {
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    let shared = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    if shared <= 1 {
        return path.iter().collect::<PathBuf>().display().to_string();
    }
    let mut parts: Vec<String> = vec!["..".to_owned(); base.len() - shared];
    parts.extend(
        path[shared..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// A package directory as a glob prefix: `""` or `"api/"`.
fn dir_prefix(dir: &Path, base: &Path) -> String {
    let rel = relative(dir, base);
    if rel.is_empty() {
        rel
    } else {
        format!("{rel}/")
    }
}

fn display_dir(prefix: &str) -> &str {
    if prefix.is_empty() {
        "."
    } else {
        prefix.trim_end_matches('/')
    }
}

/// The binary cargo builds, as `run` gives it: `./target/debug/app`.
fn binary_path(target_dir: &Path, base: &Path, bin: &str) -> String {
    let rel = relative(&target_dir.join("debug").join(bin), base);
    if rel.starts_with('/') || rel.starts_with("..") {
        rel
    } else {
        format!("./{rel}")
    }
}
