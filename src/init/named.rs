//! What a package's code names: the string literals in its sources that name a file or
//! directory beside it. `#[folder = "files"]` (rust-embed), `include_str!("../README.md")`,
//! `StaticFilesEndpoint::new("./static-files/files")`, `.add_path("resources")`: each is read
//! by the build or by the server, and no list of conventional names ([`super::beside`]'s)
//! knows them all.
//!
//! A literal is taken at its word: up to its first glob character (`"templates/**/*"` names
//! `templates`), resolved where each reader resolves it (the package's directory for cargo
//! and the derive macros, the source file's directory for `include_str!`, the project root
//! for a server run from it), and kept only where something exists there inside the project
//! (not the project itself, a directory holding the package, or a hidden entry). Only the
//! package's own code is read: `src/` and its crate roots (`build.rs` among them). A literal
//! that is not a path almost never names an existing one; one that does and is never read
//! costs a rerun on an edit to it, as `cargo watch -x run` (which watches everything) would.

use std::path::{Component, Path, PathBuf};

use regex::Regex;

use crate::cargo::Package;

/// The longest literal taken for a path, in characters: longer ones are text.
const MAX_LEN: usize = 255;

/// The paths `package`'s sources name that exist below `base` (the project root), absolute,
/// each once, outside what init watches as code already (`src/`, the manifest) and outside
/// cargo's `target_dir`.
pub(super) fn named(package: &Package, base: &Path, target_dir: &Path) -> Vec<PathBuf> {
    // Its own code only: `src/` and the crate roots outside it (`build.rs`, a `[[bin]]`'s
    // `path`), never the directory around them (at the root, that is every crate's code).
    let src = package.dir.join("src");
    let mut files: Vec<PathBuf> = match src.strip_prefix(base) {
        Ok(rel) => crate::lint::tree(base, vec![rel.to_string_lossy().into_owned()])
            .0
            .into_iter()
            .map(|file| base.join(file))
            .filter(|file| file.starts_with(&src) && file.extension().is_some_and(|e| e == "rs"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.extend(
        package
            .sources
            .iter()
            .filter(|source| !source.starts_with(&src))
            .cloned(),
    );
    let literal = Regex::new(&format!(r#""([^"\\\n]{{1,{MAX_LEN}}})""#)).expect("a valid regex");
    let mut found: Vec<PathBuf> = Vec::new();
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let here = path.parent().unwrap_or(base);
        for text in literal.captures_iter(&text).map(|c| c.extract::<1>().1[0]) {
            for candidate in resolve(text, [package.dir.as_path(), here, base], base) {
                // cargo's output: where the build writes is never its input (a loop).
                if !found.contains(&candidate)
                    && !candidate.starts_with(target_dir)
                    && wanted(&candidate, package, base)
                {
                    found.push(candidate);
                }
            }
        }
    }
    // A directory named covers the files below it that are named too.
    let dirs: Vec<PathBuf> = found.iter().filter(|p| p.is_dir()).cloned().collect();
    found.retain(|p| !dirs.iter().any(|d| p != d && p.starts_with(d)));
    found
}

/// Where `text` names an existing path, read from each of `from`: lexically resolved, inside
/// `base`.
fn resolve<'a>(
    text: &'a str,
    from: [&'a Path; 3],
    base: &'a Path,
) -> impl Iterator<Item = PathBuf> + 'a {
    // A build script's `cargo::rerun-if-changed=PATH` names its input too.
    let text = text
        .rsplit_once("rerun-if-changed=")
        .map_or(text, |(_, path)| path);
    let text = text
        .find(['*', '?', '[', '{'])
        .map_or(text, |at| &text[..at])
        .trim_end_matches('/');
    let plausible = !text.is_empty() && !text.contains("://") && !Path::new(text).is_absolute();
    from.into_iter()
        .filter(move |_| plausible)
        .filter_map(move |dir| normalize(&dir.join(text)))
        .filter(move |path| path.starts_with(base) && path != base)
        .filter(|path| path.symlink_metadata().is_ok())
}

/// `path` with its `.` and `..` taken out, without asking the file system (a link is not
/// followed: the watcher sees the link's own path).
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            part => out.push(part),
        }
    }
    Some(out)
}

/// Not the package's own code, tests or manifest (watched as code), nor a directory holding
/// the package (everything) or another crate, nor a hidden entry: the hidden ones a server or
/// build reads by convention are [`super::beside`]'s names, and the others are tools'
/// settings (`.gitignore`, `.github`) that a generator or a test names as text.
fn wanted(path: &Path, package: &Package, base: &Path) -> bool {
    let hidden = path.strip_prefix(base).is_ok_and(|rel| {
        rel.components()
            .any(|c| c.as_os_str().as_encoded_bytes().starts_with(b"."))
    });
    let code = ["src", "tests", "benches", "examples"];
    !hidden
        && !package.dir.starts_with(path)
        && !code
            .iter()
            .any(|dir| path.starts_with(package.dir.join(dir)))
        && !in_another_crate(path, package, base)
        && path != package.dir.join("Cargo.toml")
        && path != base.join("Cargo.toml")
        && path != base.join("Cargo.lock")
}

/// Whether `path` lies in another crate's directory (a tool names the crates it works on): such
/// a crate is an input when the package depends on it, which cargo says, not the text.
fn in_another_crate(path: &Path, package: &Package, base: &Path) -> bool {
    path.ancestors()
        .take_while(|dir| *dir != base && !package.dir.starts_with(dir))
        .any(|dir| dir.join("Cargo.toml").is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::write;

    /// poem's examples: rust-embed's folder, a static files endpoint given a path from the
    /// workspace root, i18n resources, a tera glob; and literals that are not paths, or name
    /// the package itself, its code, or something outside the project.
    #[test]
    fn the_paths_a_package_s_code_names_are_those_that_exist_beside_it() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let dir = root.join("app");
        write(
            &dir,
            "src/main.rs",
            r#"
            #[folder = "files"]
            struct Files;
            const README: &str = include_str!("../README.md");
            fn main() {
                serve("./app/public/", "resources", "templates/**/*.html");
                log("hello world", "https://example.com/files", "/etc", "..", ".", "src/a.rs");
                log("../../outside", "missing/dir", "Cargo.toml", "app", ".github");
                run("target/debug/app");
            }
            "#,
        );
        write(&dir, "src/a.rs", "");
        write(&dir, "Cargo.toml", "");
        write(&dir, "README.md", "# app");
        write(&dir, "files/index.html", "");
        write(&dir, "public/app.css", "");
        write(&dir, "resources/en.ftl", "");
        write(&dir, "templates/index.html", "");
        write(&dir, ".github/ci.yml", "");
        // Not ignored (no .gitignore here), yet cargo's output.
        write(root, "target/debug/app", "");
        // Its build script names the protocol's definitions; a test beside the code, its
        // fixtures (watched as the tests' already).
        write(
            &dir,
            "build.rs",
            r#"fn main() { compile(&["./proto/api.proto"]); rerun("cargo::rerun-if-changed=sql"); }"#,
        );
        write(&dir, "proto/api.proto", "");
        write(&dir, "sql/q.sql", "");
        write(&dir, "tests/it.rs", r#"const F: &str = "fixtures";"#);
        write(&dir, "fixtures/a.json", "");
        // A tool naming the crates it works on, and its own tests.
        write(
            &dir,
            "src/bin/xtask.rs",
            r#"fn main() { run("tests", "../gen", "../gen/src/lib.rs"); }"#,
        );
        write(root, "gen/Cargo.toml", "");
        write(root, "gen/src/lib.rs", "");
        let mut package = Package::at(&dir);
        package.sources.push(dir.join("build.rs"));
        let mut found = named(&package, root, &root.join("target"));
        found.sort();
        let expected: Vec<PathBuf> = [
            "README.md",
            "files",
            "proto/api.proto",
            "public",
            "resources",
            "sql",
            "templates",
        ]
        .iter()
        .map(|p| dir.join(p))
        .collect();
        assert_eq!(found, expected);
    }
}
