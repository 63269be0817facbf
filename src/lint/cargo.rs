//! Which binaries cargo builds in a package or workspace, read from its `Cargo.toml` files:
//! `[[bin]]` targets, the package itself when it has `src/main.rs`, and `src/bin/*`.

use std::path::Path;

use toml::{Table, Value};

/// The binaries of the package or workspace whose root is `dir`, or `None` without a
/// readable `Cargo.toml` there.
pub(super) fn binaries(dir: &Path) -> Option<Vec<String>> {
    let manifest = read(dir)?;
    let mut bins = package_binaries(dir, &manifest);
    let members = manifest
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(Value::as_array);
    for member in members.into_iter().flatten().filter_map(Value::as_str) {
        for dir in expand(dir, member) {
            if let Some(manifest) = read(&dir) {
                bins.extend(package_binaries(&dir, &manifest));
            }
        }
    }
    bins.sort();
    bins.dedup();
    Some(bins)
}

fn read(dir: &Path) -> Option<Table> {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()?
        .parse()
        .ok()
}

fn package_binaries(dir: &Path, manifest: &Table) -> Vec<String> {
    let Some(package) = manifest.get("package") else {
        return Vec::new();
    };
    let mut bins: Vec<String> = manifest
        .get("bin")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|bin| bin.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    if package.get("autobins").and_then(Value::as_bool) == Some(false) {
        return bins;
    }
    if let Some(name) = package.get("name").and_then(Value::as_str)
        && dir.join("src/main.rs").is_file()
    {
        bins.push(name.to_owned());
    }
    let entries = std::fs::read_dir(dir.join("src/bin")).into_iter().flatten();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = if path.extension().is_some_and(|e| e == "rs") {
            path.file_stem()
        } else if path.join("main.rs").is_file() {
            path.file_name()
        } else {
            None
        };
        bins.extend(name.and_then(|n| n.to_str()).map(str::to_owned));
    }
    bins
}

/// A workspace member: a path, or a path whose last part is `*`.
fn expand(root: &Path, member: &str) -> Vec<std::path::PathBuf> {
    match member.strip_suffix("/*") {
        Some(parent) => std::fs::read_dir(root.join(parent))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        None => vec![root.join(member)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_of_a_package_and_a_workspace() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("directories");
            std::fs::write(path, text).expect("a file");
        };
        write(
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\n[package]\nname = \"myapp\"\n\
             [[bin]]\nname = \"tool\"\npath = \"src/tool.rs\"\n",
        );
        write("src/main.rs", "");
        write("src/bin/extra.rs", "");
        write("crates/web/Cargo.toml", "[package]\nname = \"web\"\n");
        write("crates/web/src/main.rs", "");
        write("crates/lib/Cargo.toml", "[package]\nname = \"lib\"\n");
        assert_eq!(
            binaries(dir.path()),
            Some(vec![
                "extra".into(),
                "myapp".into(),
                "tool".into(),
                "web".into()
            ])
        );
        assert_eq!(binaries(&dir.path().join("nowhere")), None);
    }
}
