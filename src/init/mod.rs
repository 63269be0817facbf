//! `hot init [--force] [--package NAME] [--bin NAME]`: writes a commented Hotfile for the
//! project in the current directory and prints what the server needs to take hot's socket.
//!
//! For a Cargo package or workspace the Hotfile comes from the crate's `cargo` module (what
//! `cargo metadata` says): [`choose`] decides what it covers and where it goes, [`render`]
//! writes it (with what each package reads beside its code: [`beside`], [`named`]), [`steps`]
//! says what was chosen, why, and what to do next. Anywhere else it is a small generic one to
//! fill in, and the steps name the Cargo projects below, if any (a folder of examples).

mod beside;
mod choose;
mod named;
mod render;
mod steps;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::exit;
use crate::report::Reporter;

/// What `hot init` would write, and where.
#[derive(Debug)]
pub struct Plan {
    pub hotfile: PathBuf,
    pub text: String,
    /// Printed after writing: what the user does next.
    pub next: String,
    /// The Hotfile's `root`, when the project root is above the Hotfile's directory.
    pub root: Option<String>,
}

pub use choose::{Ask, MAX_SERVICES};

/// Works out the Hotfile for the project at `dir`. For a Cargo project it covers the member
/// `dir` is in, or the whole workspace at its root (see [`choose`]).
pub fn plan(dir: &Path, ask: &Ask) -> Result<Plan, String> {
    // Anywhere inside a package (its `src/bin`, say) is that package.
    if !dir.ancestors().any(|d| d.join("Cargo.toml").is_file()) {
        return Ok(Plan {
            hotfile: dir.join("Hotfile"),
            text: render::generic(dir),
            next: steps::generic(&cargo_projects_below(dir)),
            root: None,
        });
    }
    let workspace = crate::cargo::read(dir)?;
    let choice = choose::choose(&workspace, dir, ask)?;
    let (text, services) = render::cargo_hotfile(&workspace, &choice);
    let next = steps::cargo(&workspace, &choice, &services);
    Ok(Plan {
        hotfile: choice.home.join("Hotfile"),
        text,
        next,
        root: render::root(&choice),
    })
}

/// How deep below a directory that is no Cargo project init looks for some (a folder of
/// examples, a repository with the server in `backend/`), and how many it names.
const BELOW_DEPTH: usize = 3;
const BELOW_NAMED: usize = 5;

/// The directories below `dir` holding a `Cargo.toml` (at most [`BELOW_NAMED`], the shallowest
/// first, relative to `dir`), where hot would watch them.
fn cargo_projects_below(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = crate::watch::walker(dir, |_| true)
        .max_depth(Some(BELOW_DEPTH + 1))
        .build()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name() == "Cargo.toml" && entry.depth() > 1)
        .filter_map(|entry| Some(entry.path().parent()?.strip_prefix(dir).ok()?.to_path_buf()))
        .collect();
    found.sort_by_key(|p| (p.components().count(), p.clone()));
    // A workspace's members are in it: the workspace is named, not each of them.
    let mut named: Vec<PathBuf> = Vec::new();
    for path in found {
        if !named.iter().any(|n| path.starts_with(n)) && named.len() < BELOW_NAMED {
            named.push(path);
        }
    }
    named
}

/// `hot init`: exit 0 when written, 2 when a Hotfile is there already (without `force`) or
/// the project cannot be read.
pub fn run(force: bool, ask: &Ask, reporter: &Reporter) -> u8 {
    let dir = match std::env::current_dir() {
        Ok(dir) => dir,
        Err(e) => {
            reporter.error(&format!("cannot read the current directory: {e}"));
            return exit::USAGE;
        }
    };
    let plan = match plan(&dir, ask) {
        Ok(plan) => plan,
        Err(message) => {
            reporter.error(&message);
            return exit::USAGE;
        }
    };
    let shown = shown(&plan.hotfile, &dir, plan.root.as_deref());
    if plan.hotfile.exists() && !force {
        reporter.error(&format!(
            "{shown} already exists; hot init leaves it as it is. Run `hot init --force` to \
             replace it (its contents are lost), or `hot check` to validate it"
        ));
        return exit::USAGE;
    }
    if let Err(e) = std::fs::write(&plan.hotfile, &plan.text) {
        reporter.error(&format!("cannot write {shown}: {e}"));
        return exit::USAGE;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "wrote {shown}\n\n{}", plan.next);
    let _ = stdout.flush();
    exit::OK
}

/// Writes `text` to `path` below `root`, making its directories: the init tests' trees.
#[cfg(test)]
fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The Hotfile's path as the user would type it from `cwd`, and its `root` when it has one.
fn shown(hotfile: &Path, cwd: &Path, root: Option<&str>) -> String {
    let parent = hotfile.parent().unwrap_or(cwd);
    let name = if parent == cwd {
        "Hotfile".to_owned()
    } else {
        render::relative(hotfile, cwd)
    };
    match root {
        Some(root) => format!(
            "{name} (with `root \"{root}\"`: hot watches from there, the closest directory \
             holding this package and the workspace packages it uses)"
        ),
        None => name,
    }
}
