//! Symbolic links in the tree: an edit reaches a link's target, never the link, so the kernel
//! reports it under the target's path (and not at all when the target is outside the watched
//! tree). The walk follows links (files and directories; the walker stops at cycles), the
//! targets are watched by their canonical paths on an instance of their own (two watches of
//! one inode on one inotify instance would share a watch descriptor, and removing one would
//! remove both), and this table maps every event under a target back to the links' paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How many links in a row an event is followed through (a link to a link to ...).
const MAX_CHAIN: usize = 8;

/// Canonical target (absolute) → the paths (absolute, inside the root) of links to it.
#[derive(Debug, Default)]
pub(super) struct Links {
    aliases: BTreeMap<PathBuf, Vec<PathBuf>>,
}

impl Links {
    pub(super) fn add(&mut self, link: PathBuf, target: PathBuf) {
        let links = self.aliases.entry(target).or_default();
        if !links.contains(&link) {
            links.push(link);
        }
    }

    /// Forgets links at or under `dir` (removed from the tree).
    pub(super) fn remove_under(&mut self, dir: &Path) {
        self.aliases.retain(|_, links| {
            links.retain(|l| !l.starts_with(dir));
            !links.is_empty()
        });
    }

    pub(super) fn is_empty(&self) -> bool {
        self.aliases.is_empty()
    }

    /// The other names of `abs`: for each link whose target is `abs` or one of its ancestors,
    /// the same path under the link, and so on through chains of links.
    pub(super) fn names(&self, abs: &Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        let mut frontier = vec![abs.to_path_buf()];
        for _ in 0..MAX_CHAIN {
            let mut next = Vec::new();
            for path in &frontier {
                for target in path.ancestors() {
                    let Some(links) = self.aliases.get(target) else {
                        continue;
                    };
                    let rest = path.strip_prefix(target).unwrap_or(Path::new(""));
                    for link in links {
                        let name = if rest.as_os_str().is_empty() {
                            link.clone()
                        } else {
                            link.join(rest)
                        };
                        if name != abs && !out.contains(&name) {
                            out.push(name.clone());
                            next.push(name);
                        }
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        out
    }
}

/// True when `link`, whose canonical target is `target`, leads back to a directory that holds
/// it (`src/up -> ..`): the walk does not follow it (that tree is walked already), so no event
/// is ever reported under the link's name.
pub(super) fn loops_back(link: &Path, target: &Path) -> bool {
    let here = link.parent().and_then(|p| std::fs::canonicalize(p).ok());
    here.is_some_and(|h| h.starts_with(target))
}

/// What `hot why` says about a path that is, or lies under, a symbolic link.
#[derive(Debug)]
pub(crate) struct LinkNote {
    /// One line on the link and what hot watches through it.
    pub note: String,
    /// The name the watcher reports an edit to the path under.
    pub seen: Seen,
}

/// The name the watcher reports an edit under.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The path as asked (the link is followed, or resolves nowhere).
    AsAsked,
    /// The real path, relative to the root: the link leads back to a directory holding it.
    As(PathBuf),
    /// None: the real path lies outside the project.
    Unseen,
}

/// What `hot why` says about a path that is, or lies under, a symbolic link: `None` for a plain
/// path. `root` is the project root, `rel` the path relative to it. It agrees with the watcher:
/// a link back to a directory that holds it is not followed, so an edit under it counts under
/// its real path only.
pub(crate) fn describe(root: &Path, rel: &Path) -> Option<LinkNote> {
    let abs = root.join(rel);
    // The first component (from the root down) that is a link.
    let mut at = root.to_path_buf();
    let mut link = None;
    for part in rel.components() {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            link = Some(at.clone());
            break;
        }
    }
    let link = link?;
    let shown = link
        .strip_prefix(root)
        .unwrap_or(&link)
        .display()
        .to_string();
    let pointee = std::fs::read_link(&link)
        .map(|t| t.display().to_string())
        .unwrap_or_default();
    let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let Ok(target) = std::fs::canonicalize(&link) else {
        return Some(LinkNote {
            note: format!(
                "`{shown}` is a symlink to `{pointee}`, which does not resolve (a missing target \
                 or a cycle): hot cannot watch through it; once it resolves, restart hot"
            ),
            seen: Seen::AsAsked,
        });
    };
    // A path not there (yet) under a link that resolves: its place in the link's target.
    let real = std::fs::canonicalize(&abs)
        .unwrap_or_else(|_| target.join(abs.strip_prefix(&link).unwrap_or(Path::new(""))));
    if loops_back(&link, &target) {
        let (seen, place) = match real.strip_prefix(&real_root) {
            Ok(inside) => (
                Seen::As(inside.to_path_buf()),
                format!("an edit to it counts as one to `{}`", inside.display()),
            ),
            Err(_) => (
                Seen::Unseen,
                "its real path is outside the project".to_owned(),
            ),
        };
        return Some(LinkNote {
            note: format!(
                "`{shown}` is a symlink to `{pointee}`, a directory that holds it: hot does not \
                 follow it (that would loop), so {place}"
            ),
            seen,
        });
    }
    let place = if real.starts_with(&real_root) {
        "inside the project"
    } else {
        "outside the project"
    };
    Some(LinkNote {
        note: format!(
            "`{shown}` is a symlink to `{pointee}`; hot watches its target `{}` ({place}), so edits there count",
            real.display()
        ),
        seen: Seen::AsAsked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_links_and_chains() {
        let mut links = Links::default();
        links.add(PathBuf::from("/p/link"), PathBuf::from("/outside/real"));
        links.add(PathBuf::from("/p/again"), PathBuf::from("/p/link/sub"));
        assert_eq!(
            links.names(Path::new("/outside/real/sub/f.txt")),
            [
                PathBuf::from("/p/link/sub/f.txt"),
                PathBuf::from("/p/again/f.txt")
            ]
        );
        assert!(links.names(Path::new("/elsewhere/f.txt")).is_empty());
        links.remove_under(Path::new("/p/link"));
        assert!(links.names(Path::new("/outside/real/x")).is_empty());
    }

    #[test]
    fn a_cycle_of_links_ends() {
        let mut links = Links::default();
        links.add(PathBuf::from("/p/a"), PathBuf::from("/p/b"));
        links.add(PathBuf::from("/p/b"), PathBuf::from("/p/a"));
        let names = links.names(Path::new("/p/a/x"));
        assert!(names.len() <= 2 * MAX_CHAIN, "{names:?}");
    }
}
