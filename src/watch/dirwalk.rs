//! The walk of a tree not reached through a link: depth first, each directory listed once,
//! whole, on the call after the one that yielded it (so the caller watches it first). Its
//! ignore files are read from that listing (`rules::SharedRules::add_listed`) before its
//! entries are judged: no look-ups for `.gitignore`, `.ignore` and `.git` in directories that
//! hold none (`ignore::Walk` with per-entry filtering probed all three in every directory:
//! a third of the walk's system calls). Matching stays `ignore`'s `Gitignore`, in `rules`.
//! A walk through a link keeps `ignore::Walk`, which follows links and reports their cycles.

use std::fs::FileType;
use std::path::{Path, PathBuf};

use super::rules::{self, Listed, SharedRules};

/// The names whose presence decides a directory's rules.
const NAMES: [&str; 3] = [".ignore", ".gitignore", ".git"];

/// One entry walked.
pub(super) struct Entry {
    pub path: PathBuf,
    /// The entry's own type: a link shows as a link.
    pub file_type: FileType,
    /// 0 for the walk's root.
    pub depth: usize,
}

/// Whether an entry is kept besides the ignore rules: `(path, file type)`; false for all
/// ends the walk.
pub(super) type Keep = Box<dyn Fn(&Path, FileType) -> bool + Send + Sync>;

pub(super) struct DirWalk {
    rules: SharedRules,
    keep: Keep,
    max_depth: Option<usize>,
    /// The root, until it is yielded.
    root: Option<Entry>,
    /// The directory yielded last, listed on the next call (after the caller watched it).
    to_list: Option<(PathBuf, usize)>,
    /// Per level being walked, the entries still to yield (popped from the back).
    stack: Vec<Vec<Entry>>,
}

impl DirWalk {
    pub(super) fn new(
        root: &Path,
        rules: SharedRules,
        keep: Keep,
        max_depth: Option<usize>,
    ) -> DirWalk {
        let root = std::fs::symlink_metadata(root).ok().map(|m| Entry {
            path: root.to_path_buf(),
            file_type: m.file_type(),
            depth: 0,
        });
        DirWalk {
            rules,
            keep,
            max_depth,
            root,
            to_list: None,
            stack: Vec::new(),
        }
    }

    /// The kept entries of `dir`, its ignore files read first. An unreadable directory has
    /// none (the caller learnt why from its watch).
    fn list(&self, dir: &Path, depth: usize) -> Vec<Entry> {
        let Ok(read) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut entries: Vec<Entry> = read
            .flatten()
            .filter_map(|e| {
                Some(Entry {
                    file_type: e.file_type().ok()?,
                    path: e.path(),
                    depth,
                })
            })
            .collect();
        let mut seen = [Listed::Absent; NAMES.len()];
        for e in &entries {
            let name = e.path.file_name().unwrap_or_default();
            if let Some(i) = NAMES.iter().position(|n| name == *n) {
                seen[i] = if e.file_type.is_file() {
                    Listed::File
                } else if e.file_type.is_symlink() {
                    Listed::Unknown
                } else {
                    Listed::Other
                };
            }
        }
        self.rules.add_listed(dir, |name| {
            NAMES
                .iter()
                .position(|n| *n == name)
                .map_or(Listed::Unknown, |i| seen[i])
        });
        let rules = self.rules.read();
        entries.retain(|e| {
            let is_dir = e.file_type.is_dir();
            let vcs = is_dir && e.path.file_name().is_some_and(rules::is_vcs_dir);
            !vcs && (self.keep)(&e.path, e.file_type) && !rules.leaf_ignored(&e.path, is_dir)
        });
        entries
    }
}

impl DirWalk {
    /// Lists the directory yielded last, if not done yet: a walk that pauses after watching a
    /// directory calls this first, so events in it meanwhile meet its ignore rules.
    pub(super) fn list_yielded(&mut self) {
        if let Some((dir, depth)) = self.to_list.take() {
            let entries = self.list(&dir, depth + 1);
            self.stack.push(entries);
        }
    }
}

impl Iterator for DirWalk {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        self.list_yielded();
        let entry = match self.root.take() {
            Some(root) => root,
            None => loop {
                let level = self.stack.last_mut()?;
                match level.pop() {
                    Some(e) => break e,
                    None => {
                        self.stack.pop();
                    }
                }
            },
        };
        if entry.file_type.is_dir() && self.max_depth.is_none_or(|m| entry.depth < m) {
            self.to_list = Some((entry.path.clone(), entry.depth));
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::fs;

    fn walked(root: &Path, max_depth: Option<usize>) -> BTreeSet<(PathBuf, usize)> {
        let rules = SharedRules::new(root);
        DirWalk::new(root, rules, Box::new(|_, _| true), max_depth)
            .map(|e| (e.path.strip_prefix(root).unwrap().to_path_buf(), e.depth))
            .collect()
    }

    fn by_ignore_walk(root: &Path, max_depth: Option<usize>) -> BTreeSet<(PathBuf, usize)> {
        let mut b = rules::walker_with(root, &SharedRules::new(root), |_| true);
        b.max_depth(max_depth);
        b.build()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().strip_prefix(root).unwrap().to_path_buf(),
                    e.depth(),
                )
            })
            .collect()
    }

    /// Ignore files read from the listing (nested, negated, a link to one, one that is a
    /// directory, a nested repository whose `.gitignore`s above stop applying) judge the
    /// entries as the probing walk did.
    #[test]
    fn ignore_files_read_from_the_listing_judge_as_the_probing_walk_did() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let files = [
            (".gitignore", "*.log\nbuild/\n"),
            ("a.rs", ""),
            ("a.log", ""),
            ("build/x.rs", ""),
            ("src/.ignore", "*.tmp\n!keep.tmp\n"),
            ("src/b.tmp", ""),
            ("src/keep.tmp", ""),
            ("src/deep/c.rs", ""),
            ("src/deep/c.log", ""),
            ("linked/rules", "*.gen\n"),
            ("linked/x.gen", ""),
            ("linked/y.rs", ""),
            ("nested/.git/HEAD", ""),
            ("nested/.gitignore", "*.rs\n"),
            ("nested/n.rs", ""),
            ("nested/n.log", ""),
            ("odd/.gitignore/inside.rs", ""),
            ("odd/o.rs", ""),
        ];
        for (p, text) in files {
            let p = root.join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink("rules", root.join("linked/.gitignore")).unwrap();
        let ours = walked(root, None);
        assert_eq!(ours, by_ignore_walk(root, None));
        let has = |p: &str| ours.iter().any(|(q, _)| q == Path::new(p));
        assert!(has("a.rs") && has("src/keep.tmp") && has("src/deep/c.rs"));
        assert!(!has("a.log") && !has("build") && !has("src/b.tmp") && !has("src/deep/c.log"));
        assert!(!has("nested/n.rs") && !has("nested/.git"), "{ours:?}");
        // The root's .gitignore stops at the nested repository.
        assert!(has("nested/n.log"));
        assert!(has("odd/.gitignore/inside.rs") && has("odd/o.rs"));
        #[cfg(unix)]
        assert!(!has("linked/x.gen") && has("linked/y.rs"));
        assert_eq!(walked(root, Some(1)), by_ignore_walk(root, Some(1)));
    }
}
