//! What a package reads beside its code, found by the names its ecosystem gives it: templates
//! (askama, sailfish and yarte compile them in; tera, minijinja and handlebars read them at
//! start-up), files a server serves or embeds, migrations and sqlx's offline queries, message
//! catalogues, configuration read at start-up. An edit to one must reach the server either
//! way, so they are inputs of the build and of the check: cargo makes a build that changed
//! nothing a no-op, and the server restarts on the new files, as `cargo watch -x run` (which
//! watches everything) would.
//!
//! Only what hot would watch counts: an entry whose files are all ignored (`.gitignore`) is
//! left out, so `hot check` warns of no glob that matches nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::render::relative;

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

/// Per package directory of `dirs`, the globs of its [`NAMES`] that hot would watch from
/// `base` (the project root), relative to it: `templates/**` for a directory, the file's
/// own path for a file.
pub(super) fn beside<'a>(
    base: &Path,
    dirs: impl IntoIterator<Item = &'a Path>,
) -> HashMap<PathBuf, Vec<String>> {
    let candidates: Vec<(PathBuf, PathBuf)> = dirs
        .into_iter()
        .flat_map(|dir| {
            NAMES
                .iter()
                .map(move |name| (dir.to_path_buf(), dir.join(name)))
        })
        .filter(|(_, path)| path.symlink_metadata().is_ok())
        .collect();
    if candidates.is_empty() {
        return HashMap::new();
    }
    let rel = |path: &Path| path.strip_prefix(base).unwrap_or(path).to_path_buf();
    let starts = candidates
        .iter()
        .map(|(_, path)| rel(path).to_string_lossy().into_owned())
        .collect();
    let (seen, _) = crate::lint::tree(base, starts);
    let mut out: HashMap<PathBuf, Vec<String>> = HashMap::new();
    for (dir, path) in candidates {
        let wanted = rel(&path);
        // A directory counts when anything below it is watched; a file when it is.
        let is_dir = path.is_dir();
        let watched = seen
            .iter()
            .any(|p| p.starts_with(&wanted) && (p != &wanted || !is_dir));
        if watched {
            let glob = relative(&path, base);
            let glob = if is_dir { format!("{glob}/**") } else { glob };
            out.entry(dir).or_default().push(glob);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

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
        let found = beside(root, [root, api.as_path()]);
        let mut at_root = found[root].clone();
        at_root.sort();
        // static/ holds only ignored files, .env is ignored, public/ is empty.
        assert_eq!(at_root, ["askama.toml", "templates/**"]);
        assert_eq!(found[&api], ["api/migrations/**"]);
    }
}
