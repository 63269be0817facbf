//! What `hot init` needs to know about a Cargo project, read from `cargo metadata`.
//!
//! `--no-deps` keeps it offline and fast: only the workspace's own packages are listed, and
//! the edges between them come from their path dependencies.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A Cargo workspace (a single package is a workspace of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// Members in dependency order: every member comes after the members it depends on.
    pub members: Vec<Package>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    /// The directory holding its Cargo.toml.
    pub dir: PathBuf,
    /// Binary targets: name and crate root.
    pub bins: Vec<(String, PathBuf)>,
    /// Where its targets' sources are (crate roots), to watch those outside `src/`.
    pub sources: Vec<PathBuf>,
    /// Workspace members it uses as normal or build dependencies. Dev-dependencies are left
    /// out: cargo allows dev-dependency cycles, and `after` edges must not have any.
    pub uses: Vec<String>,
    /// Names of every dependency (any kind), to tell which of listenfd, tokio... it has.
    pub dependencies: Vec<String>,
}

/// Runs `cargo metadata` in `dir`. The error is what to tell the user.
pub fn read(dir: &Path) -> Result<Workspace, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(dir)
        .output()
        .map_err(|e| {
            format!("could not run `cargo metadata`: {e}; is cargo installed and on PATH?")
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "`cargo metadata` failed; fix Cargo.toml and run `hot init` again:\n{}",
            stderr.trim_end()
        ));
    }
    let json: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("`cargo metadata` printed something hot cannot read: {e}"))?;
    parse(&json).ok_or_else(|| "`cargo metadata` printed an unexpected document".to_owned())
}

/// The workspace described by `cargo metadata --format-version 1` output.
pub fn parse(json: &Value) -> Option<Workspace> {
    let root = PathBuf::from(json["workspace_root"].as_str()?);
    let target_dir = PathBuf::from(json["target_directory"].as_str()?);
    let member_ids: Vec<&str> = json["workspace_members"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let packages = json["packages"].as_array()?;
    let mut members = Vec::new();
    for id in &member_ids {
        let package = packages.iter().find(|p| p["id"].as_str() == Some(id))?;
        members.push(package);
    }
    let member_dirs: Vec<(String, PathBuf)> = members
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?.to_owned(), manifest_dir(p)?)))
        .collect();
    let members: Vec<Package> = members
        .into_iter()
        .map(|p| package(p, &member_dirs))
        .collect::<Option<_>>()?;
    Some(Workspace {
        root,
        target_dir,
        members: dependency_order(members),
    })
}

fn manifest_dir(package: &Value) -> Option<PathBuf> {
    Some(
        Path::new(package["manifest_path"].as_str()?)
            .parent()?
            .to_path_buf(),
    )
}

fn package(json: &Value, members: &[(String, PathBuf)]) -> Option<Package> {
    let name = json["name"].as_str()?.to_owned();
    let mut bins = Vec::new();
    let mut sources = Vec::new();
    for target in json["targets"].as_array()? {
        let kinds: Vec<&str> = target["kind"]
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let src = PathBuf::from(target["src_path"].as_str()?);
        if kinds.contains(&"bin") {
            bins.push((target["name"].as_str()?.to_owned(), src.clone()));
        }
        sources.push(src);
    }
    let mut uses = Vec::new();
    let mut dependencies = Vec::new();
    for dep in json["dependencies"].as_array()? {
        let Some(dep_name) = dep["name"].as_str() else {
            continue;
        };
        dependencies.push(dep_name.to_owned());
        let dev = dep["kind"].as_str() == Some("dev");
        let Some(path) = dep["path"].as_str() else {
            continue;
        };
        let member = members
            .iter()
            .find(|(n, dir)| n == dep_name && dir == Path::new(path));
        if let Some((member, _)) = member
            && !dev
            && *member != name
            && !uses.contains(member)
        {
            uses.push(member.clone());
        }
    }
    Some(Package {
        name,
        dir: manifest_dir(json)?,
        bins,
        sources,
        uses,
        dependencies,
    })
}

/// Members with each one after what it uses, otherwise in cargo's order. Cargo refuses
/// cycles among normal dependencies, so every member is placed.
fn dependency_order(mut pending: Vec<Package>) -> Vec<Package> {
    let mut ordered: Vec<Package> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let next = pending
            .iter()
            .position(|p| {
                p.uses.iter().all(|u| {
                    ordered.iter().any(|o| &o.name == u) || !pending.iter().any(|q| &q.name == u)
                })
            })
            // Unreachable for what cargo accepts; keeps going rather than looping.
            .unwrap_or(0);
        ordered.push(pending.remove(next));
    }
    ordered
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pkg(name: &str, dir: &str, kind: &str, deps: Value) -> Value {
        json!({
            "name": name,
            "id": format!("path+file://{dir}#0.1.0"),
            "manifest_path": format!("{dir}/Cargo.toml"),
            "targets": [{"kind": [kind], "name": name, "src_path": format!("{dir}/src/{}.rs", if kind == "bin" { "main" } else { "lib" })}],
            "dependencies": deps,
        })
    }

    #[test]
    fn members_come_after_what_they_use_and_dev_dependencies_make_no_edge() {
        let metadata = json!({
            "workspace_root": "/w",
            "target_directory": "/w/target",
            "workspace_members": ["path+file:///w/api#0.1.0", "path+file:///w/shared#0.1.0", "path+file:///w/admin#0.1.0"],
            "packages": [
                pkg("api", "/w/api", "bin", json!([
                    {"name": "shared", "kind": null, "path": "/w/shared"},
                    {"name": "tokio", "kind": null},
                ])),
                pkg("shared", "/w/shared", "lib", json!([
                    {"name": "api", "kind": "dev", "path": "/w/api"},
                ])),
                pkg("admin", "/w/admin", "bin", json!([])),
            ],
        });
        let workspace = parse(&metadata).expect("parses");
        let names: Vec<&str> = workspace.members.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["shared", "api", "admin"]);
        assert_eq!(workspace.members[1].uses, ["shared"]);
        assert!(
            workspace.members[0].uses.is_empty(),
            "dev-dependency cycle kept out"
        );
        assert_eq!(workspace.members[1].dependencies, ["shared", "tokio"]);
        assert_eq!(
            workspace.members[1].bins,
            [("api".to_owned(), PathBuf::from("/w/api/src/main.rs"))]
        );
        assert!(workspace.members[0].bins.is_empty());
        assert_eq!(workspace.target_dir, Path::new("/w/target"));
    }

    #[test]
    fn an_unexpected_document_is_refused() {
        assert_eq!(parse(&json!({"packages": []})), None);
    }
}
