//! What a package reads beside its code, found by the names its ecosystem gives it: templates
//! (askama, sailfish and yarte compile them in; tera, minijinja and handlebars read them at
//! start-up), files a server serves or embeds, migrations and sqlx's offline queries, message
//! catalogues, configuration read at start-up. An edit to one must reach the server either
//! way, so they are inputs of the build and of the check: cargo makes a build that changed
//! nothing a no-op, and the server restarts on the new files, as `cargo watch -x run` (which
//! watches everything) would.
//!
//! The same goes for what every build of the workspace reads at its root ([`WORKSPACE`]: the
//! lock file, cargo's configuration, the pinned toolchain, clippy's settings).
//!
//! Only what hot would watch counts: an entry whose files are all ignored (`.gitignore`) is
//! left out, so `hot check` warns of no glob that matches nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::render::relative;
use crate::cargo::Package;

/// Directories and files below a package's directory that its build, tests or server read,
/// by the names the crates that read them use by default.
const NAMES: &[&str] = &[
    // Templates: askama, rinja, sailfish, yarte, tera, minijinja, handlebars, tinytemplate.
    "templates",
    // Served by the server (tower-http's ServeDir, actix-files) or embedded (rust-embed).
    "static",
    "assets",
    "public",
    // sqlx, diesel, sea-orm and refinery migrations; sqlx's offline query data.
    "migrations",
    ".sqlx",
    "sqlx-data.json",
    // Message catalogues: fluent, rust-i18n.
    "locales",
    "i18n",
    // Read at start-up: the config crate's files, dotenvy's `.env` (when not ignored).
    "config",
    "configuration",
    ".env",
    // The template engines' and diesel's own settings.
    "askama.toml",
    "rinja.toml",
    "yarte.toml",
    "diesel.toml",
];

/// Files at the workspace's root that every build and check reads: the manifest and lock file,
/// cargo's configuration (flags, target, aliases), the pinned toolchain and clippy's settings.
/// An edit to one changes what cargo builds or what clippy says, so it reruns them.
const WORKSPACE: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    ".cargo/config.toml",
    ".cargo/config",
    "rust-toolchain.toml",
    "rust-toolchain",
    "clippy.toml",
    ".clippy.toml",
];

/// What the packages read beyond their code, as globs relative to the project root.
pub(super) struct Beside {
    /// Per package directory, its [`NAMES`]: `templates/**` for a directory, the file's own
    /// path for a file.
    pub(super) per_package: HashMap<PathBuf, Vec<String>>,
    /// The workspace root's [`WORKSPACE`] files.
    pub(super) workspace: Vec<String>,
}

/// What `packages` and the workspace at `root` read beyond their code, of what hot would
/// watch from `base` (the project root): their [`NAMES`], what their code names
/// ([`super::named`]), the workspace's [`WORKSPACE`] files; one walk judges them all.
pub(super) fn beside<'a>(
    base: &Path,
    packages: impl IntoIterator<Item = &'a Package>,
    root: &Path,
    target_dir: &Path,
) -> Beside {
    let per_package = packages.into_iter().flat_map(|package| {
        let dir = &package.dir;
        let mut paths: Vec<PathBuf> = NAMES.iter().map(|name| dir.join(name)).collect();
        for path in super::named::named(package, base, target_dir) {
            if !paths.iter().any(|p| path.starts_with(p)) {
                paths.push(path);
            }
        }
        paths.into_iter().map(|path| (Some(dir.clone()), path))
    });
    // Only below the Hotfile's directory: hot watches nothing above it.
    let workspace = WORKSPACE
        .iter()
        .filter(|_| root.starts_with(base))
        .map(|name| (None, root.join(name)));
    let candidates: Vec<(Option<PathBuf>, PathBuf)> = per_package
        .chain(workspace)
        .filter(|(_, path)| path.symlink_metadata().is_ok())
        .collect();
    let mut out = Beside {
        per_package: HashMap::new(),
        workspace: Vec::new(),
    };
    if candidates.is_empty() {
        return out;
    }
    let rel = |path: &Path| path.strip_prefix(base).unwrap_or(path).to_path_buf();
    let starts = candidates
        .iter()
        .map(|(_, path)| rel(path).to_string_lossy().into_owned())
        .collect();
    let (seen, _) = crate::lint::tree(base, starts);
    for (dir, path) in candidates {
        let wanted = rel(&path);
        // A directory counts when anything below it is watched; a file when it is.
        let is_dir = path.is_dir();
        let watched = seen
            .iter()
            .any(|p| p.starts_with(&wanted) && (p != &wanted || !is_dir));
        if !watched {
            continue;
        }
        let glob = relative(&path, base);
        let glob = if is_dir { format!("{glob}/**") } else { glob };
        match dir {
            Some(dir) => out.per_package.entry(dir).or_default().push(glob),
            None if !is_dir => out.workspace.push(glob),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::write;

    #[test]
    fn what_a_package_reads_beside_its_code_counts_only_where_hot_would_watch_it() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        write(root, ".gitignore", "/static/gen/\n/api/assets/\n.env\n");
        write(root, "templates/index.html", "<p>{{ x }}</p>");
        write(root, "static/gen/app.js", "generated");
        write(root, "askama.toml", "");
        write(root, ".env", "SECRET=1");
        write(root, "api/migrations/0001_init.sql", "create table t ();");
        write(root, "api/assets/logo.png", "ignored with its directory");
        std::fs::create_dir_all(root.join("api/public")).unwrap();
        let api = root.join("api");
        let target = root.join("target");
        let found =
            beside(root, &[Package::at(root), Package::at(&api)], root, &target).per_package;
        let mut at_root = found[root].clone();
        at_root.sort();
        // static/ holds only ignored files, .env is ignored, public/ is empty.
        assert_eq!(at_root, ["askama.toml", "templates/**"]);
        assert_eq!(found[&api], ["api/migrations/**"]);
    }

    /// A library workspace that ignores its lock file (the old convention), with cargo's
    /// configuration and a pinned toolchain: the ignored lock file is left out, since hot would
    /// never see it change and `hot check` would say its glob matches nothing.
    #[test]
    fn the_workspace_s_own_inputs_count_only_where_hot_would_watch_them() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        write(root, ".gitignore", "/Cargo.lock\n/target\n");
        write(root, "Cargo.toml", "[workspace]");
        write(root, "Cargo.lock", "");
        write(root, ".cargo/config.toml", "[build]");
        write(root, "rust-toolchain.toml", "[toolchain]");
        let found = beside(root, &[Package::at(root)], root, &root.join("target"));
        assert_eq!(
            found.workspace,
            ["Cargo.toml", ".cargo/config.toml", "rust-toolchain.toml"]
        );
        let member = root.join("api");
        std::fs::create_dir_all(&member).unwrap();
        // A Hotfile in a member sees nothing above it.
        assert!(
            beside(&member, &[Package::at(&member)], root, &root.join("target"))
                .workspace
                .is_empty()
        );
    }
}
