//! Everything hot knows about a Cargo project, from one place: `cargo metadata`.
//!
//! `hot init` (which Hotfile to write) and `hot check` (does `./target/debug/app` name a
//! binary cargo builds) both ask this module, so they cannot disagree: cargo itself expands
//! globbed `members`, `[[bin]]`, `src/bin/*`, `autobins`, and reports `required-features` and
//! the target directory (`CARGO_TARGET_DIR`, `[build] target-dir`). hot never parses
//! `Cargo.toml` itself.
//!
//! `--no-deps --offline` keeps it fast and off the network: only the workspace's own packages
//! are listed (their dependencies by name, unresolved), and the edges between them come from
//! their path dependencies.

mod serves;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub(crate) use serves::{Verdict, verdict};

/// A Cargo workspace (a single package is a workspace of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// Members in dependency order: every member comes after the members it depends on.
    pub members: Vec<Package>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Package {
    pub name: String,
    /// The directory holding its Cargo.toml.
    pub dir: PathBuf,
    /// Binary targets.
    pub bins: Vec<Bin>,
    /// Where its targets' sources are (crate roots), to watch those outside `src/`.
    pub sources: Vec<PathBuf>,
    /// Workspace members it uses as normal or build dependencies. Dev-dependencies are left
    /// out: cargo allows dev-dependency cycles, and `after` edges must not have any.
    pub uses: Vec<String>,
    /// Names of its normal and build dependencies, to tell which of listenfd, axum... it
    /// has (a dev-dependency on a server crate does not make a binary a server).
    pub dependencies: Vec<String>,
}

#[cfg(test)]
impl Package {
    /// A package named `app` at `dir` with `src/main.rs` as its one crate root, for tests.
    pub(crate) fn at(dir: &std::path::Path) -> Package {
        Package {
            name: "app".to_owned(),
            dir: dir.to_path_buf(),
            bins: Vec::new(),
            sources: vec![dir.join("src/main.rs")],
            uses: Vec::new(),
            dependencies: Vec::new(),
        }
    }
}

/// A binary target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bin {
    pub name: String,
    /// Its crate root (`src/main.rs`, `src/bin/x.rs`, a `[[bin]]`'s `path`).
    pub main: PathBuf,
    /// Features without which `cargo build` skips it (`required-features`).
    pub required_features: Vec<String>,
}

impl Workspace {
    /// The member whose directory is `dir` or holds it (the innermost one), unless that is
    /// the workspace root of a workspace with other members: there the user asked for all.
    pub(crate) fn member_at(&self, dir: &Path) -> Option<&Package> {
        let member = self
            .members
            .iter()
            .filter(|p| dir.starts_with(&p.dir))
            .max_by_key(|p| p.dir.components().count())?;
        (member.dir != self.root || self.members.len() == 1).then_some(member)
    }

    /// `name` and every member it uses, directly or not, in dependency order.
    pub(crate) fn closure(&self, name: &str) -> Vec<&Package> {
        let mut wanted = vec![name.to_owned()];
        // Members come after what they use, so one pass from the end collects everything.
        for package in self.members.iter().rev() {
            if wanted.contains(&package.name) {
                for used in &package.uses {
                    if !wanted.contains(used) {
                        wanted.push(used.clone());
                    }
                }
            }
        }
        self.members
            .iter()
            .filter(|p| wanted.contains(&p.name))
            .collect()
    }

    /// The names of the binaries `cargo build` builds in the workspace (those without
    /// `required-features`), and those it builds only with features.
    pub(crate) fn binaries(&self) -> (Vec<&str>, Vec<&Bin>) {
        let bins = self.members.iter().flat_map(|p| &p.bins);
        let (plain, gated): (Vec<&Bin>, Vec<&Bin>) =
            bins.partition(|b| b.required_features.is_empty());
        (plain.into_iter().map(|b| b.name.as_str()).collect(), gated)
    }
}

/// Runs `cargo metadata` in `dir`. The error is what to tell the user.
pub(crate) fn read(dir: &Path) -> Result<Workspace, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
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
pub(crate) fn parse(json: &Value) -> Option<Workspace> {
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
            let required_features = target["required-features"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            bins.push(Bin {
                name: target["name"].as_str()?.to_owned(),
                main: src.clone(),
                required_features,
            });
        }
        sources.push(src);
    }
    let mut uses = Vec::new();
    let mut dependencies = Vec::new();
    for dep in json["dependencies"].as_array()? {
        let Some(dep_name) = dep["name"].as_str() else {
            continue;
        };
        let dev = dep["kind"].as_str() == Some("dev");
        if !dev {
            dependencies.push(dep_name.to_owned());
        }
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
            [Bin {
                name: "api".to_owned(),
                main: PathBuf::from("/w/api/src/main.rs"),
                required_features: Vec::new(),
            }]
        );
        let api = workspace.closure("api");
        let names: Vec<&str> = api.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["shared", "api"]);
        assert_eq!(
            workspace
                .member_at(Path::new("/w/api/src"))
                .map(|p| &p.name[..]),
            Some("api")
        );
        assert_eq!(workspace.member_at(Path::new("/w")), None);
        assert!(workspace.members[0].bins.is_empty());
        assert_eq!(workspace.target_dir, Path::new("/w/target"));
    }

    #[test]
    fn an_unexpected_document_is_refused() {
        assert_eq!(parse(&json!({"packages": []})), None);
    }
}
