//! Checks on the source tree that anyone can run: the walls between modules and the loose ends
//! a development machine leaves behind. Each failure names the file and line to fix.

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every `.rs` file under `dir`, recursively, in a stable order.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The files of a top-level module: `src/NAME.rs` and everything under `src/NAME/`.
fn module_files(name: &str) -> Vec<PathBuf> {
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    let file = src.join(format!("{name}.rs"));
    if file.exists() {
        files.push(file);
    }
    let dir = src.join(name);
    if dir.is_dir() {
        files.extend(rust_files(&dir));
    }
    assert!(!files.is_empty(), "no module `{name}` in src/");
    files
}

/// `file:line: text` for every line of `files` that contains one of `needles`.
fn lines_with(files: &[PathBuf], needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("a source file");
        for (i, line) in text.lines().enumerate() {
            if needles.iter().any(|n| line.contains(n)) {
                let shown = file.strip_prefix(ROOT).unwrap_or(file).display();
                found.push(format!("{shown}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_pure_core_uses_no_tokio_and_no_file_system() {
    for module in ["engine", "graph", "model"] {
        let found = lines_with(
            &module_files(module),
            &["tokio", "std::fs", " fs::", "(fs::"],
        );
        assert!(
            found.is_empty(),
            "`{module}` must stay pure (no tokio, no std::fs):\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn no_module_imports_cli() {
    let src = Path::new(ROOT).join("src");
    let outside: Vec<_> = rust_files(&src)
        .into_iter()
        .filter(|f| !f.starts_with(src.join("cli")) && !f.ends_with("src/lib.rs"))
        .collect();
    let found = lines_with(&outside, &["crate::cli", "super::cli", "hot::cli"]);
    assert!(
        found.is_empty(),
        "only main.rs (through hot::main) reaches `cli`:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_path_of_a_development_machine_in_src_or_cargo_toml() {
    let mut files = rust_files(&Path::new(ROOT).join("src"));
    files.push(Path::new(ROOT).join("Cargo.toml"));
    // System paths (/dev/null, /proc, /usr/bin/env) are fine; a home or a work tree is not.
    let found = lines_with(
        &files,
        &["/home/", "/Users/", "/root/", "/work/", "/mnt/", "C:\\\\"],
    );
    assert!(found.is_empty(), "machine paths:\n{}", found.join("\n"));
}

#[test]
fn no_hotfile_at_the_repository_root() {
    // A manual test's leftover: it is what `hot` would run in a fresh clone.
    assert!(
        !Path::new(ROOT).join("Hotfile").exists(),
        "a Hotfile at the repository root; move it to examples/ or delete it"
    );
}
