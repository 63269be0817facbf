//! The Hotfile `hot init` writes, and the next steps it prints.
//!
//! Per member: `build` (the binaries, on the servers' path) and `check` (clippy's lints and the
//! tests, in one compilation in a target directory of its own) side by side; each comes `after`
//! the same task of every member it uses, so a change to a shared library reruns the chains of
//! the members that use it and no others. A service per binary comes after its package's
//! `build` and is gated on its `check` (early start: the new instance starts while the check
//! runs and gets connections once it passed). Measured against other shapes on axum's todos
//! example in BENCHMARKS.md.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::beside::Beside;
use super::choose::{Choice, Judged};
use crate::cargo::{Package, Workspace};

/// The lock of the main target directory, held by the builds when there are several packages.
/// Jobs on one target directory wait for each other inside cargo anyway; taking turns in hot
/// keeps each duration the task's own.
const CARGO_LOCK: &str = "cargo";

/// The lock of the checks' target directory, held by the checks when there are several.
const CHECK_LOCK: &str = "check";

/// The first service's port; the next ones count up.
const FIRST_PORT: u16 = 3000;

/// The first service's browser endpoint (`reload`): LiveReload's port, so its browser
/// extensions find it; the next ones count up.
const FIRST_RELOAD_PORT: u16 = 35729;

/// The line the printed snippet prints, and `ready log=` waits for.
pub(super) const READY_LINE: &str = "listening on ";

/// One service to be written: a binary of a package.
#[derive(Debug, Clone)]
pub(super) struct Service {
    pub node: String,
    pub port: u16,
    /// The port of its `reload` endpoint.
    pub reload: u16,
}

/// The Hotfile's `root`: the project root relative to the Hotfile's directory, when they differ.
pub(super) fn root(choice: &Choice) -> Option<String> {
    (choice.home != choice.base).then(|| relative(&choice.base, &choice.home))
}

/// The Hotfile for `choice`, and its services (in the order of `choice.services`).
pub(super) fn cargo_hotfile(workspace: &Workspace, choice: &Choice) -> (String, Vec<Service>) {
    let base = choice.base.as_path();
    let single = choice.packages.len() == 1;
    let name = |task: &str, package: &str| {
        if single {
            task.to_owned()
        } else {
            format!("{task}-{package}")
        }
    };
    let select = |p: &str| {
        if workspace.members.len() == 1 {
            String::new()
        } else {
            format!(" -p {p}")
        }
    };
    let mut out = String::new();
    out.push_str(HEADER);
    if choice.member {
        let _ = writeln!(
            out,
            "// This Hotfile is for `{}` only; `hot init` at the workspace root, without\n// `--package` or `--bin`, writes one for all.\n",
            choice
                .packages
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join("`, `")
        );
    }
    if let Some(root) = root(choice) {
        let _ = writeln!(
            out,
            "// The project root, which paths are relative to and hot watches: the closest\n\
             // directory holding this package and the workspace packages it uses.\nroot \"{root}\"\n"
        );
    }
    let mut services = Vec::new();
    let check_dir = relative(&workspace.target_dir.join("clippy"), base);
    let packages = choice.packages.iter().chain(choice.inputs.iter().flatten());
    let beside = super::beside::beside(
        base,
        packages.copied(),
        &workspace.root,
        &workspace.target_dir,
    );
    for (package, inputs) in choice.packages.iter().zip(&choice.inputs) {
        let dir = dir_prefix(&package.dir, base);
        let globs = Globs::of(package, inputs, base, &beside);
        let uses: Vec<&String> = package
            .uses
            .iter()
            .filter(|u| choice.packages.iter().any(|p| &p.name == *u))
            .collect();
        let after = |task: &str, first: Vec<String>| -> String {
            let names: Vec<String> = first
                .into_iter()
                .chain(uses.iter().map(|u| name(task, u)))
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
        if !inputs.is_empty() {
            let used: Vec<&str> = inputs.iter().map(|p| p.name.as_str()).collect();
            let _ = writeln!(
                out,
                "// Its checks and build also watch the workspace crates it uses: {}.\n",
                used.join(", ")
            );
        }
        let p = &package.name;
        let mut features: Vec<&str> = choice
            .services
            .iter()
            .filter(|s| s.package.name == *p)
            .flat_map(|s| s.bin.required_features.iter().map(String::as_str))
            .collect();
        features.sort_unstable();
        features.dedup();
        let features = if features.is_empty() {
            String::new()
        } else {
            format!(" --features {}", features.join(","))
        };
        // With several packages, the builds (on the main target directory) take turns, and so do
        // the checks (on the checks' own).
        let lock = |name: &str| {
            if single {
                String::new()
            } else {
                format!("    lock {name:?}\n")
            }
        };
        let _ = write!(
            out,
            "// Builds the binaries: all a new server instance waits for before it starts.\n\
             task {build:?} {{\n    watch {all}\n{after}{lock}    run \"cargo build{sel}{features}\"\n}}\n\n",
            build = name("build", p),
            all = globs.all.join(" "),
            after = after("build", vec![]),
            lock = lock(CARGO_LOCK),
            sel = select(p),
        );
        let _ = write!(
            out,
            "// Clippy's lints (a warning fails) and the tests, in one compilation beside the build: clippy's\n\
             // driver compiles the project's own crates, as `cargo clippy` does for a check, in a target\n\
             // directory of its own, with line tables only for debug info (backtraces keep their lines;\n\
             // a fifth less to compile). RUSTFLAGS replaces rustflags set in cargo's config: add yours.\n\
             task {check:?} {{\n    watch {all}\n{after}    env CARGO_TARGET_DIR={check_dir:?} RUSTC_WORKSPACE_WRAPPER=\"clippy-driver\" RUSTFLAGS=\"-D warnings\" CARGO_PROFILE_DEV_DEBUG=\"line-tables-only\"\n{lock}    run \"cargo test{sel}{features}\"\n}}\n\n",
            check = name("check", p),
            all = globs.all.join(" "),
            after = after("check", vec![]),
            lock = lock(CHECK_LOCK),
            sel = select(p),
        );
        let own = choice
            .services
            .iter()
            .filter(|s| s.package.name == *p)
            .count();
        for judged in choice.services.iter().filter(|s| s.package.name == *p) {
            let bin = &judged.bin.name;
            let node = match (single, own) {
                (true, 1) => "serve".to_owned(),
                (false, 1) => format!("serve-{p}"),
                _ => format!("serve-{bin}"),
            };
            let port = FIRST_PORT + u16::try_from(services.len()).unwrap_or(0);
            let reload = FIRST_RELOAD_PORT + u16::try_from(services.len()).unwrap_or(0);
            let binary = binary_path(&workspace.target_dir, base, bin);
            let why = judged.note.as_deref().unwrap_or(&judged.verdict.rule);
            let _ = writeln!(out, "// `{bin}`: a service: {why}.");
            service(
                &mut out,
                &node,
                judged,
                port,
                reload,
                &binary,
                &name("build", p),
                &name("check", p),
            );
            services.push(Service { node, port, reload });
        }
        for judged in choice.others.iter().filter(|s| s.package.name == *p) {
            let why = judged.note.as_deref().unwrap_or(&judged.verdict.rule);
            let _ = writeln!(
                out,
                "// `{}`: no service: {why}.\n// `hot init --force --bin {}` makes it one.\n",
                judged.bin.name, judged.bin.name
            );
        }
    }
    (out.trim_end().to_owned() + "\n", services)
}

/// One `service` node.
#[allow(clippy::too_many_arguments)]
fn service(
    out: &mut String,
    node: &str,
    judged: &Judged,
    port: u16,
    reload: u16,
    binary: &str,
    build: &str,
    check: &str,
) {
    let verdict = &judged.verdict;
    if verdict.framework == Some("rocket") && !verdict.takes_socket {
        // Rocket 0.5 binds its own port: no socket to hand over, so the old instance stops
        // before the new one starts.
        let _ = write!(
            out,
            "// Rocket binds its own port (ROCKET_PORT) and cannot take hot's socket: hot stops the old\n\
             // instance before it starts the new one.\n\
             service {node:?} {{\n    after {build:?} {check:?}\n    env ROCKET_PORT=\"{port}\"\n    run {binary:?}\n}}\n\n"
        );
        return;
    }
    let ready = match &verdict.ready {
        Some(line) => format!("    ready log={line:?}\n"),
        None => format!(
            "    // It prints no line hot recognises once it serves, so hot waits a second before it\n    \
             // switches. Print one (`hot init` printed how) and wait for it instead:\n    \
             // ready log=\"^{READY_LINE}\"\n    ready delay=\"1s\"\n"
        ),
    };
    let _ = write!(
        out,
        "// The server. hot binds the socket and hands it to every instance as fd 3 (the server\n\
         // takes it with the `listenfd` crate). A new instance starts once the build passed, while\n\
         // the check still runs (its start-up hides behind it), and gets connections once the check\n\
         // passed and it is ready; until then the old instance serves. If its start-up must not run\n\
         // for a build whose check may fail (a migration), make the `gate` an `after`.\n\
         service {node:?} {{\n    after {build:?}\n    gate {check:?}\n    \
         // Change the address here: the server uses the socket it is given.\n    \
         socket \"http\" \"127.0.0.1:{port}\"\n    \
         // Pages that include http://127.0.0.1:{reload}/hot.js reload once a new instance is ready.\n    \
         reload \"127.0.0.1:{reload}\"\n    run {binary:?}\n{ready}}}\n\n"
    );
}

const HEADER: &str = "\
// Written by `hot init`. hot runs each task when a file it watches changes (and what comes
// `after` it), and swaps in a service's new instance only when everything it comes after or is
// gated on succeeded: a failing check leaves the last good server serving. `hot check`
// validates this file, `hot why PATH` says what a change reruns, `hot graph` draws it.
//
// The build and the check run side by side, each in a target directory of its own, so neither
// waits for the other inside cargo; the new server starts after the build, while the check
// runs.

";

/// The Hotfile for a directory without Cargo.toml: one task to fill in, a service sketched.
/// The Hotfile for a directory that is no Cargo project: a check to fill in, watching `src/`
/// where there is one and everything hot watches otherwise, so it warns of nothing at once.
pub(super) fn generic(dir: &Path) -> String {
    if dir.join("src").is_dir() {
        GENERIC.to_owned()
    } else {
        GENERIC.replacen(r#"watch "src/**""#, r#"watch "**""#, 1)
    }
}

const GENERIC: &str = r#"// Written by `hot init`. hot runs each task when a file it watches changes (and what comes
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
    /// Everything the build (every target) and the tests read.
    all: Vec<String>,
}

impl Globs {
    /// `package`'s globs, with the code of the members it uses that have no checks here.
    fn of(package: &Package, inputs: &[&Package], base: &Path, beside: &Beside) -> Globs {
        let mut code = Self::code(package, base, &beside.per_package);
        let mut extra = Vec::new();
        let dir = dir_prefix(&package.dir, base);
        for test_dir in ["tests", "benches", "examples"] {
            if package.dir.join(test_dir).exists() {
                extra.push(format!("{dir}{test_dir}/**"));
            }
        }
        for input in inputs {
            for glob in Self::code(input, base, &beside.per_package) {
                if !code.contains(&glob) {
                    code.push(glob);
                }
            }
        }
        // Workspace-wide dependencies, lints, profiles, cargo's settings and the toolchain.
        for glob in &beside.workspace {
            if !code.contains(glob) {
                code.push(glob.clone());
            }
        }
        let quote = |globs: Vec<String>| globs.iter().map(|g| format!("{g:?}")).collect();
        let mut all = code.clone();
        let at_manifest = all
            .iter()
            .position(|g| g.ends_with("Cargo.toml"))
            .unwrap_or(0);
        for (i, glob) in extra.into_iter().enumerate() {
            all.insert(at_manifest + i, glob);
        }
        Globs { all: quote(all) }
    }

    /// What building `package` reads: sources, build script, what it reads beside its code
    /// (`beside`, per package directory), manifest.
    fn code(package: &Package, base: &Path, beside: &HashMap<PathBuf, Vec<String>>) -> Vec<String> {
        let dir = dir_prefix(&package.dir, base);
        let mut code = Vec::new();
        if package.dir.join("src").exists() {
            code.push(format!("{dir}src/**"));
        }
        if package.dir.join("build.rs").exists() {
            code.push(format!("{dir}build.rs"));
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
        code.extend(beside.get(&package.dir).into_iter().flatten().cloned());
        code.push(format!("{dir}Cargo.toml"));
        code
    }
}

/// `path` relative to `base`, with `/` separators (`""` for `base` itself); `..` where the
/// path is beside it, absolute where nothing is shared.
pub(super) fn relative(path: &Path, base: &Path) -> String {
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
