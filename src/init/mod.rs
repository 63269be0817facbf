//! `hot init [--force]`: writes a commented Hotfile for the project in the current directory
//! and prints what the server needs to take hot's socket.
//!
//! For a Cargo package or workspace the Hotfile comes from `cargo metadata` (see [`render`]);
//! anywhere else it is a small generic one to fill in.

mod cargo;
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
}

/// Works out the Hotfile for the project at `dir`. For a Cargo project it goes in the
/// workspace root (`hot` finds it from any member's directory).
pub fn plan(dir: &Path) -> Result<Plan, String> {
    if !dir.join("Cargo.toml").is_file() {
        return Ok(Plan {
            hotfile: dir.join("Hotfile"),
            text: render::GENERIC.to_owned(),
            next: steps::generic(),
        });
    }
    let workspace = cargo::read(dir)?;
    let base = workspace.root.clone();
    let (text, services) = render::cargo_hotfile(&workspace, &base);
    let next = steps::cargo(&workspace, &services, &base);
    Ok(Plan {
        hotfile: base.join("Hotfile"),
        text,
        next,
    })
}

/// `hot init`: exit 0 when written, 2 when a Hotfile is there already (without `force`) or
/// the project cannot be read.
pub fn run(force: bool, reporter: &Reporter) -> u8 {
    let dir = match std::env::current_dir() {
        Ok(dir) => dir,
        Err(e) => {
            reporter.error(&format!("cannot read the current directory: {e}"));
            return exit::USAGE;
        }
    };
    let plan = match plan(&dir) {
        Ok(plan) => plan,
        Err(message) => {
            reporter.error(&message);
            return exit::USAGE;
        }
    };
    let shown = shown(&plan.hotfile, &dir);
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

/// The Hotfile's path as the user would type it from `cwd`.
fn shown(hotfile: &Path, cwd: &Path) -> String {
    let parent = hotfile.parent().unwrap_or(cwd);
    if parent == cwd {
        "Hotfile".to_owned()
    } else {
        let rel = render::relative(hotfile, cwd);
        format!("{rel} (the workspace root)")
    }
}
