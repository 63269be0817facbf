//! What the Hotfile covers: which packages get checks, which binaries become services, and
//! where the file goes.
//!
//! In a member's directory: that member (its path dependencies as inputs). At the workspace
//! root: every member's checks, and services for the first [`MAX_SERVICES`] binaries that
//! serve. `--package` and `--bin` choose instead.

use std::path::{Path, PathBuf};

use crate::cargo::{self, Bin, Package, Verdict, Workspace};

/// Services a workspace's Hotfile starts unless asked for more: each is a build and a
/// server on the machine, and dozens of them is nobody's dev loop.
pub const MAX_SERVICES: usize = 3;

/// What the user asked for on the command line.
#[derive(Debug, Default, Clone)]
pub struct Ask {
    pub packages: Vec<String>,
    pub bins: Vec<String>,
}

/// One binary and what hot made of it.
#[derive(Debug, Clone)]
pub(super) struct Judged<'a> {
    pub package: &'a Package,
    pub bin: &'a Bin,
    pub verdict: Verdict,
    /// Why it is or is not a service, when that is not the verdict itself.
    pub note: Option<String>,
}

/// The Hotfile's contents, before rendering.
#[derive(Debug)]
pub(super) struct Choice<'a> {
    /// The project root: the closest directory holding every input; paths are relative to it.
    pub base: PathBuf,
    /// The directory the Hotfile goes in: `base`, or the member's own directory below it (the
    /// Hotfile then names `base` as its `root`).
    pub home: PathBuf,
    /// Packages with checks, in dependency order.
    pub packages: Vec<&'a Package>,
    /// Per package in `packages`: members it uses that have no checks here, watched as its
    /// inputs.
    pub inputs: Vec<Vec<&'a Package>>,
    pub services: Vec<Judged<'a>>,
    /// Binaries of `packages` that are not services, with the reason.
    pub others: Vec<Judged<'a>>,
    /// The Hotfile covers one member of a larger workspace.
    pub member: bool,
}

/// What the Hotfile for `cwd` covers. The error is what to tell the user.
pub(super) fn choose<'a>(
    workspace: &'a Workspace,
    cwd: &Path,
    ask: &Ask,
) -> Result<Choice<'a>, String> {
    let find = |name: &str| {
        workspace
            .members
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = workspace.members.iter().map(|p| p.name.as_str()).collect();
                format!(
                    "no package `{name}` in this workspace; its packages are {}",
                    names.join(", ")
                )
            })
    };
    let mut roots: Vec<&Package> = Vec::new();
    for name in &ask.packages {
        roots.push(find(name)?);
    }
    let here = workspace.member_at(cwd);
    if roots.is_empty()
        && let Some(member) = here
    {
        roots.push(member);
    }
    for name in &ask.bins {
        let owner = workspace
            .members
            .iter()
            .find(|p| p.bins.iter().any(|b| &b.name == name))
            .ok_or_else(|| {
                let (plain, gated) = workspace.binaries();
                let mut all: Vec<&str> = plain;
                all.extend(gated.iter().map(|b| b.name.as_str()));
                format!(
                    "no binary `{name}` in this workspace; its binaries are {}",
                    all.join(", ")
                )
            })?;
        // A Hotfile for some packages also covers the package of a binary it serves.
        if !roots.is_empty() && !roots.iter().any(|p| p.name == owner.name) {
            roots.push(owner);
        }
    }
    let whole = roots.is_empty();
    let packages: Vec<&Package> = if whole {
        workspace.members.iter().collect()
    } else {
        workspace
            .members
            .iter()
            .filter(|p| roots.iter().any(|r| r.name == p.name))
            .collect()
    };
    let inputs: Vec<Vec<&Package>> = packages
        .iter()
        .map(|p| {
            workspace
                .closure(&p.name)
                .into_iter()
                .filter(|u| !packages.iter().any(|q| q.name == u.name))
                .collect()
        })
        .collect();
    let base = if whole {
        workspace.root.clone()
    } else {
        // hot watches below the project root only, so it is where hot sees every input.
        let dirs = packages
            .iter()
            .chain(inputs.iter().flatten())
            .map(|p| &p.dir);
        common_dir(dirs).unwrap_or_else(|| workspace.root.clone())
    };
    // The Hotfile of the member the user stands in goes in that member; `root` reaches up.
    let home = match (packages.as_slice(), here) {
        ([one], Some(member)) if !whole && one.name == member.name => one.dir.clone(),
        _ => base.clone(),
    };
    let mut services = Vec::new();
    let mut others = Vec::new();
    let mut serving = 0;
    for package in &packages {
        for bin in &package.bins {
            let verdict = cargo::verdict(package, bin);
            let asked = ask.bins.contains(&bin.name);
            let mut judged = Judged {
                package,
                bin,
                verdict,
                note: None,
            };
            if !ask.bins.is_empty() {
                if asked {
                    if !judged.verdict.serves {
                        judged.note = Some("a service because `--bin` named it".to_owned());
                    }
                    services.push(judged);
                } else {
                    judged.note = Some("`--bin` named others".to_owned());
                    others.push(judged);
                }
            } else if !judged.verdict.serves {
                others.push(judged);
            } else if whole && serving >= MAX_SERVICES {
                judged.note = Some(format!(
                    "it serves, but a workspace's Hotfile starts {MAX_SERVICES} servers at most"
                ));
                serving += 1;
                others.push(judged);
            } else {
                serving += 1;
                services.push(judged);
            }
        }
    }
    // What is not a server at all first: the left-out servers are many and alike.
    others.sort_by_key(|j| j.verdict.serves);
    Ok(Choice {
        base,
        home,
        member: !whole && workspace.members.len() > 1,
        packages,
        inputs,
        services,
        others,
    })
}

/// The deepest directory holding all of `dirs`.
fn common_dir<'p>(mut dirs: impl Iterator<Item = &'p PathBuf>) -> Option<PathBuf> {
    let mut common = dirs.next()?.clone();
    for dir in dirs {
        while !dir.starts_with(&common) {
            if !common.pop() {
                return None;
            }
        }
    }
    Some(common)
}
