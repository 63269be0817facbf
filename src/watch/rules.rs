//! Which paths are ignored: `.gitignore`, `.ignore`, `.git/info/exclude`, the global git
//! excludes file, and VCS directories (always).
//!
//! These rules are the one home of ignore handling for walks and events alike: the walks
//! (the watcher's own, and `ignore::WalkBuilder` with its own ignore-file reading turned off:
//! it opens an ignore file once it exists, and a FIFO named `.gitignore` would block it
//! forever) filter entries here, reading each directory's files as the walk reaches it (only
//! regular files are read; the watcher's walk says from its listing which are there).
//! Matching is `ignore`'s `Gitignore`, with WalkBuilder's precedence: `.ignore` over
//! `.gitignore` over `info/exclude` over global; a deeper file over a shallower one;
//! `.gitignore` files above the innermost enclosing repository do not apply. `.gitignore` is
//! honoured even outside a git repository, as users of a watcher expect.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Directory names that are never walked, watched or reported.
pub(super) const VCS_DIRS: [&str; 4] = [".git", ".hg", ".jj", ".svn"];

pub(super) fn is_vcs_dir(name: &OsStr) -> bool {
    VCS_DIRS.iter().any(|v| name == OsStr::new(v))
}

/// True for names editors use for swap, backup and safe-write temporaries (vim, emacs,
/// JetBrains): never reported, even when a node's glob would match them.
pub(super) fn is_editor_temp(name: &OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.ends_with(b"~")
        || name.ends_with(b".swp")
        || name.ends_with(b".swx")
        || name.ends_with(b".swo")
        || name.starts_with(b".#")
        || name == b"4913"
        || name
            .windows(12)
            .any(|w| w == b"___jb_tmp___" || w == b"___jb_old___")
}

/// Up to this many directories holding rules, [`IgnoreRules::holding`] tests each of them.
const FEW_RULE_DIRS: usize = 8;

#[derive(Clone, Debug, Default)]
struct DirRules {
    ignore: Option<Gitignore>,
    git: Option<Gitignore>,
    exclude: Option<Gitignore>,
    /// The directory is a repository root (holds `.git`): `.gitignore` files above it do not
    /// apply below it.
    has_git: bool,
    /// Components in the directory's path: deeper rules take precedence.
    depth: usize,
}

/// What a directory's listing shows of one name: the walk reads ignore files from the listing
/// it has already, rather than probing for each (three failing look-ups per directory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Listed {
    Absent,
    File,
    /// A directory, FIFO, socket or device.
    Other,
    /// A link, or a type the listing does not give: looked up.
    Unknown,
}

impl DirRules {
    /// The ignore files of `dir`; `None` when it holds none and is no repository root.
    fn read(dir: &Path) -> Option<DirRules> {
        Self::read_listed(dir, |_| Listed::Unknown)
    }

    /// [`DirRules::read`], knowing from a listing which of the names are there.
    fn read_listed(dir: &Path, listed: impl Fn(&str) -> Listed) -> Option<DirRules> {
        // Paths are only built for names the listing shows (most directories hold none).
        let read = |name: &str| -> Option<Gitignore> {
            let file = match listed(name) {
                Listed::Absent | Listed::Other => return None,
                Listed::File => dir.join(name),
                Listed::Unknown => Some(dir.join(name)).filter(|f| f.is_file())?,
            };
            let mut b = GitignoreBuilder::new(dir);
            // A malformed line is skipped by git too; keep the rest.
            let _ = b.add(file);
            b.build().ok().filter(|g| !g.is_empty())
        };
        let git_entry = || dir.join(".git");
        let has_git = match listed(".git") {
            Listed::Absent => false,
            Listed::File | Listed::Other => true,
            Listed::Unknown => git_entry().exists(),
        };
        let (ignore, git) = (read(".ignore"), read(".gitignore"));
        let exclude = if has_git {
            exclude_file(&git_entry())
        } else {
            None
        };
        let none = ignore.is_none() && git.is_none() && exclude.is_none();
        (has_git || !none).then(|| DirRules {
            ignore,
            git,
            exclude,
            has_git,
            depth: dir.components().count(),
        })
    }
}

/// The ignore rules of one project, keyed by the (absolute) directory holding each file.
#[derive(Clone, Debug)]
pub(crate) struct IgnoreRules {
    root: PathBuf,
    dirs: HashMap<PathBuf, DirRules>,
    /// Read on the first entry the other rules leave undecided: finding the file reads git's
    /// config with a regex (1.3 M instructions), which a `hot check` whose globs reach no file
    /// never needs.
    global: OnceLock<Option<Gitignore>>,
}

impl IgnoreRules {
    /// The rules of `root`'s ancestors and (when first needed) the global excludes file;
    /// directories inside the root are added by [`IgnoreRules::add_dir`] as the walk finds them.
    pub(crate) fn new(root: &Path) -> Self {
        let mut rules = IgnoreRules {
            root: root.to_path_buf(),
            dirs: HashMap::new(),
            global: OnceLock::new(),
        };
        // WalkBuilder reads every parent's ignore files; so do we.
        for dir in root.ancestors() {
            rules.add_dir(dir);
        }
        rules
    }

    /// Loads every ignore file under `root` with a walk: the standalone form of what the
    /// watcher does during its own walk.
    #[cfg(test)]
    pub(crate) fn load(root: &Path) -> Self {
        let rules = SharedRules::new(root);
        for _ in walker_with(root, &rules, |_| true).build() {}
        rules.into_inner()
    }

    /// (Re)reads the ignore files of one directory.
    pub(crate) fn add_dir(&mut self, dir: &Path) {
        let rules = DirRules::read(dir);
        self.set_dir(dir, rules);
    }

    fn set_dir(&mut self, dir: &Path, rules: Option<DirRules>) {
        match rules {
            Some(rules) => self.dirs.insert(dir.to_path_buf(), rules),
            None => self.dirs.remove(dir),
        };
    }

    /// The rules of the directories above `abs` that hold any, deepest first. A project
    /// usually has a handful: those are tested for being ancestors, rather than every ancestor
    /// being looked up (a hash of each, per entry walked, was a tenth of the start-up walk).
    fn holding<'r>(&'r self, abs: &'r Path) -> impl Iterator<Item = &'r DirRules> + 'r {
        abs.parent()
            .into_iter()
            .flat_map(|parent| self.holding_dir(parent))
    }

    /// The rules of `parent` and the directories above it that hold any, deepest first: those
    /// that judge an entry of `parent`.
    fn holding_dir<'r>(&'r self, parent: &'r Path) -> impl Iterator<Item = &'r DirRules> + 'r {
        let few = self.dirs.len() <= FEW_RULE_DIRS;
        let mut near: [Option<&DirRules>; FEW_RULE_DIRS] = [None; FEW_RULE_DIRS];
        if few {
            let mut n = 0;
            for (dir, r) in &self.dirs {
                if parent.starts_with(dir) {
                    near[n] = Some(r);
                    n += 1;
                }
            }
            near[..n].sort_unstable_by_key(|r| std::cmp::Reverse(r.map_or(0, |r| r.depth)));
        }
        let looked_up = (!few)
            .then(|| parent.ancestors().filter_map(|dir| self.dirs.get(dir)))
            .into_iter()
            .flatten();
        near.into_iter().flatten().chain(looked_up)
    }

    /// The verdict of the rules for `abs` itself (its parents are not checked).
    fn matched(&self, abs: &Path, is_dir: bool) -> Match<()> {
        self.matched_by(self.holding(abs), abs, is_dir)
    }

    /// [`IgnoreRules::matched`] by the rules `holding` gives (see [`IgnoreRules::holding`]).
    fn matched_by<'r>(
        &'r self,
        holding: impl Iterator<Item = &'r DirRules>,
        abs: &Path,
        is_dir: bool,
    ) -> Match<()> {
        let (mut m_ignore, mut m_git, mut m_exclude) = (Match::None, Match::None, Match::None);
        let mut saw_git = false;
        for r in holding {
            let check = |g: &Option<Gitignore>| match g {
                Some(g) => g.matched(abs, is_dir).map(|_| ()),
                None => Match::None,
            };
            if m_ignore.is_none() {
                m_ignore = check(&r.ignore);
            }
            if !saw_git && m_git.is_none() {
                m_git = check(&r.git);
            }
            if !saw_git && m_exclude.is_none() {
                m_exclude = check(&r.exclude);
            }
            saw_git |= r.has_git;
        }
        let local = m_ignore.or(m_git).or(m_exclude);
        if !local.is_none() {
            return local;
        }
        let global = self.global.get_or_init(|| {
            let (global, _) = GitignoreBuilder::new(&self.root).build_global();
            (!global.is_empty()).then_some(global)
        });
        match global {
            Some(g) => g.matched(abs, is_dir).map(|_| ()),
            None => Match::None,
        }
    }

    /// True when `abs` itself is ignored, assuming its parent directory is not (the parent is a
    /// watched directory).
    pub(crate) fn leaf_ignored(&self, abs: &Path, is_dir: bool) -> bool {
        let vcs = is_dir && abs.file_name().is_some_and(is_vcs_dir);
        vcs || self.matched(abs, is_dir).is_ignore()
    }

    /// The rules that judge the entries of `dir`, found once for all of them: a walk judges a
    /// whole listing by the same few rules, and finding them per entry (the path's parent, an
    /// ancestor test per directory holding rules) was a third of the judging.
    pub(super) fn in_dir<'r>(&'r self, dir: &'r Path) -> InDir<'r> {
        InDir {
            rules: self,
            holding: self.holding_dir(dir).collect(),
        }
    }

    /// True when `abs` (inside the root) or any directory between it and the root is ignored.
    /// Paths outside the root count as ignored.
    pub(crate) fn is_ignored(&self, abs: &Path, is_dir: bool) -> bool {
        let Ok(rel) = abs.strip_prefix(&self.root) else {
            return true;
        };
        let mut dir = self.root.clone();
        let mut components = rel.components().peekable();
        while let Some(c) = components.next() {
            dir.push(c);
            let last = components.peek().is_none();
            if last {
                return self.leaf_ignored(&dir, is_dir);
            }
            if is_vcs_dir(c.as_os_str()) || self.matched(&dir, true).is_ignore() {
                return true;
            }
        }
        // The root itself is never ignored.
        false
    }

    /// Pure helper: which of `paths` (relative to `root`, `/`-separated) are ignored. A path
    /// that exists is checked as what it is; a missing one as a file.
    #[cfg(test)]
    pub(crate) fn ignored_paths(root: &Path, paths: &[&Path]) -> Vec<PathBuf> {
        let rules = IgnoreRules::load(root);
        paths
            .iter()
            .filter(|p| {
                let abs = root.join(p);
                rules.is_ignored(&abs, abs.is_dir())
            })
            .map(|p| p.to_path_buf())
            .collect()
    }
}

/// The rules that judge the entries of one directory (see [`IgnoreRules::in_dir`]).
pub(super) struct InDir<'r> {
    rules: &'r IgnoreRules,
    /// Deepest first.
    holding: Vec<&'r DirRules>,
}

impl InDir<'_> {
    /// Whether the rules ignore `abs`, an entry of the directory (VCS directories are the
    /// caller's to leave out: [`is_vcs_dir`]).
    pub(super) fn ignores(&self, abs: &Path, is_dir: bool) -> bool {
        self.rules
            .matched_by(self.holding.iter().copied(), abs, is_dir)
            .is_ignore()
    }
}

/// The file hot reports whatever the ignore files say (`WatchConfig::always`): the Hotfile
/// (`hotfile`, absolute), relative to the project `root`, when it is a regular file in the
/// project (reading a named pipe or standard input again would wait for a writer).
pub(crate) fn always_reported(root: &Path, hotfile: &Path) -> Option<PathBuf> {
    let relative = hotfile.strip_prefix(root).ok()?;
    std::fs::metadata(hotfile)
        .is_ok_and(|m| m.is_file())
        .then(|| relative.to_path_buf())
}

/// The one exemption from the ignore rules: whether the watcher leaves `rel` out when they
/// cover it (`ignored`: the ignore files, or the Hotfile's common `ignore`). The files it
/// reports whatever they say (`always`, see [`always_reported`]) stay in.
pub(crate) fn left_out(ignored: bool, rel: &Path, always: &HashSet<PathBuf>) -> bool {
    ignored && !always.contains(rel)
}

/// Whether the watcher leaves `rel` (relative to the project `root`) out for the ignore
/// files, read afresh along its path: what `hot why` says, as the watcher's walk and event
/// filter judge it (`always`: as [`left_out`]).
pub(crate) fn ignored(root: &Path, rel: &Path, always: &HashSet<PathBuf>) -> bool {
    left_out(covered(root, rel), rel, always)
}

/// Whether the ignore files cover `rel`, read along its path.
fn covered(root: &Path, rel: &Path) -> bool {
    let mut rules = IgnoreRules::new(root);
    let abs = root.join(rel);
    let mut dir = root.to_path_buf();
    for part in rel.parent().into_iter().flat_map(Path::components) {
        dir.push(part);
        rules.add_dir(&dir);
    }
    rules.is_ignored(&abs, abs.is_dir())
}

/// The `info/exclude` of the repository whose `.git` entry is `git_entry`: a directory, or a
/// file `gitdir: PATH` (worktrees, submodules) whose `commondir` holds the shared `info/`.
fn exclude_file(git_entry: &Path) -> Option<Gitignore> {
    let git_dir = if git_entry.is_dir() {
        git_entry.to_path_buf()
    } else {
        let text = std::fs::read_to_string(git_entry).ok()?;
        let target = text.strip_prefix("gitdir:")?.trim();
        let target = git_entry.parent()?.join(target);
        match std::fs::read_to_string(target.join("commondir")) {
            Ok(common) => target.join(common.trim()),
            Err(_) => target,
        }
    };
    let file = git_dir.join("info/exclude");
    if !file.is_file() {
        return None;
    }
    let mut b = GitignoreBuilder::new(git_entry.parent()?);
    let _ = b.add(file);
    b.build().ok().filter(|g| !g.is_empty())
}

/// The rules of one project, shared by its walks (which add each directory's files as they
/// accept it, on the walking threads) and its event filter.
#[derive(Clone, Debug)]
pub(super) struct SharedRules(Arc<RwLock<IgnoreRules>>);

impl SharedRules {
    pub(super) fn new(root: &Path) -> Self {
        SharedRules(Arc::new(RwLock::new(IgnoreRules::new(root))))
    }

    /// The rules; a walking thread that panicked left them whole (each update is one insert).
    pub(super) fn read(&self) -> RwLockReadGuard<'_, IgnoreRules> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn write(&self) -> RwLockWriteGuard<'_, IgnoreRules> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }

    /// (Re)reads the ignore files of one directory. The files are probed without the lock,
    /// which is taken for writing only when the directory holds rules or held some: the two
    /// walking threads judge every entry under the read lock, and a write per directory (with
    /// its three probes inside) made them wait on each other once per directory.
    pub(super) fn add_dir(&self, dir: &Path) {
        self.add_listed(dir, |_| Listed::Unknown);
    }

    /// [`SharedRules::add_dir`], knowing from the directory's listing which ignore files it
    /// holds: a directory holding none costs no look-up.
    pub(super) fn add_listed(&self, dir: &Path, listed: impl Fn(&str) -> Listed) {
        let rules = DirRules::read_listed(dir, listed);
        if rules.is_none() && !self.read().dirs.contains_key(dir) {
            return;
        }
        self.write().set_dir(dir, rules);
    }

    #[cfg(test)]
    fn into_inner(self) -> IgnoreRules {
        match Arc::try_unwrap(self.0) {
            Ok(lock) => lock.into_inner().unwrap_or_else(|e| e.into_inner()),
            Err(shared) => SharedRules(shared).read().clone(),
        }
    }
}

/// The walker of `dir` with a fresh copy of the project's rules (`dir` is the project root):
/// what `hot check` lists, of the entries `keep` says could matter (judged before the rules).
pub(crate) fn walker(
    dir: &Path,
    keep: impl Fn(&ignore::DirEntry) -> bool + Send + Sync + 'static,
) -> ignore::WalkBuilder {
    walker_with(dir, &SharedRules::new(dir), keep)
}

/// The one walker configuration, shared by the start-up walk, new directories and rescans.
/// An entry is kept when `keep` says so, it is no VCS directory and `rules` do not ignore it;
/// a kept directory's own ignore files are read into `rules` then, before its entries are
/// listed. `dir` itself (never filtered) must have its rules read by the caller.
pub(crate) fn walker_with(
    dir: &Path,
    rules: &SharedRules,
    keep: impl Fn(&ignore::DirEntry) -> bool + Send + Sync + 'static,
) -> ignore::WalkBuilder {
    let mut b = ignore::WalkBuilder::new(dir);
    let rules = rules.clone();
    b.hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(false)
        .git_exclude(false)
        .git_global(false)
        // The watcher follows links itself, with a walker of its own under each (see `walk`).
        .follow_links(false)
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            if (is_dir && is_vcs_dir(e.file_name())) || !keep(e) {
                return false;
            }
            // The parent was accepted, so only the entry itself is left to judge.
            if rules.read().leaf_ignored(e.path(), is_dir) {
                return false;
            }
            if is_dir {
                rules.add_dir(e.path());
            }
            true
        });
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let p = dir.path().join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
        dir
    }

    fn ignored(root: &Path, paths: &[&str]) -> Vec<String> {
        let paths: Vec<&Path> = paths.iter().map(Path::new).collect();
        IgnoreRules::ignored_paths(root, &paths)
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn gitignore_without_a_repository_nested_and_negated() {
        let t = tree(&[
            (".gitignore", "target/\n*.log\n/anchored.txt\n"),
            ("src/.gitignore", "gen/\n!keep.log\n"),
            ("src/.ignore", "secret.rs\n"),
            ("src/main.rs", ""),
            ("src/keep.log", ""),
            ("src/gen/x.rs", ""),
            ("src/secret.rs", ""),
            ("src/anchored.txt", ""),
            ("anchored.txt", ""),
            ("target/debug/app", ""),
            ("a.log", ""),
            (".github/workflows/ci.yml", ""),
            (".git/HEAD", ""),
            ("sub/.git/config", ""),
        ]);
        let got = ignored(
            t.path(),
            &[
                "src/main.rs",
                "src/keep.log",
                "src/gen/x.rs",
                "src/gen",
                "src/secret.rs",
                "src/anchored.txt",
                "anchored.txt",
                "target",
                "target/debug/app",
                "a.log",
                ".github/workflows/ci.yml",
                ".git/HEAD",
                ".git",
                "sub/.git/config",
                "not/there.rs",
            ],
        );
        assert_eq!(
            got,
            [
                "src/gen/x.rs",
                "src/gen",
                "src/secret.rs",
                "anchored.txt",
                "target",
                "target/debug/app",
                "a.log",
                ".git/HEAD",
                ".git",
                "sub/.git/config",
            ]
        );
    }

    #[test]
    fn info_exclude_applies_and_parent_gitignore_stops_at_the_repository() {
        let t = tree(&[
            (".gitignore", "*.rs\n"),
            ("repo/.git/info/exclude", "excluded/\n"),
            ("repo/excluded/a.txt", ""),
            ("repo/main.rs", ""),
            ("repo/ok.txt", ""),
        ]);
        let repo = t.path().join("repo");
        // The outer .gitignore is above the repository root: it does not apply inside.
        assert_eq!(
            ignored(&repo, &["excluded/a.txt", "main.rs", "ok.txt"]),
            ["excluded/a.txt"]
        );
    }

    #[test]
    fn agrees_with_walkbuilder() {
        let t = tree(&[
            (".gitignore", "build/\n*.tmp\n!important.tmp\ndocs/*.md\n"),
            ("a/.gitignore", "*.rs\n!lib.rs\n"),
            ("a/b/.ignore", "!main.rs\n"),
            ("a/b/main.rs", ""),
            ("a/b/other.rs", ""),
            ("a/lib.rs", ""),
            ("a/x.rs", ""),
            ("build/out", ""),
            ("x.tmp", ""),
            ("important.tmp", ""),
            ("docs/a.md", ""),
            ("docs/sub/b.md", ""),
            (".hidden/h.txt", ""),
        ]);
        let root = t.path();
        let rules = IgnoreRules::load(root);
        // `ignore`'s own reading of the same files (safe here: no FIFOs in this tree).
        let walked: std::collections::BTreeSet<PathBuf> = ignore::WalkBuilder::new(root)
            .hidden(false)
            .parents(true)
            .require_git(false)
            .filter_entry(|e| !is_vcs_dir(e.file_name()))
            .build()
            .flatten()
            .map(|e| e.path().strip_prefix(root).unwrap().to_path_buf())
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        // hot's own walker keeps the same entries.
        let ours: std::collections::BTreeSet<PathBuf> = walker(root, |_| true)
            .build()
            .flatten()
            .map(|e| e.path().strip_prefix(root).unwrap().to_path_buf())
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        assert_eq!(ours, walked);
        let mut all = vec![];
        for entry in walkdir(root) {
            all.push(entry);
        }
        for rel in all {
            let abs = root.join(&rel);
            let ours = !rules.is_ignored(&abs, abs.is_dir());
            assert_eq!(ours, walked.contains(&rel), "{}", rel.display());
        }
    }

    fn walkdir(root: &Path) -> Vec<PathBuf> {
        let mut out = vec![];
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
                if p.is_dir() {
                    stack.push(p);
                }
            }
        }
        out
    }

    #[test]
    fn a_directory_read_again_gains_and_loses_its_rules() {
        // The shared rules skip the write lock for a directory without rules that held none;
        // one that held rules must still lose them, and one that gains a file must gain them.
        let t = tree(&[("sub/a.log", "")]);
        let (sub, log) = (t.path().join("sub"), t.path().join("sub/a.log"));
        let rules = SharedRules::new(t.path());
        rules.add_dir(&sub);
        assert!(!rules.read().is_ignored(&log, false));
        fs::write(sub.join(".gitignore"), "*.log\n").unwrap();
        rules.add_dir(&sub);
        assert!(rules.read().is_ignored(&log, false));
        fs::remove_file(sub.join(".gitignore")).unwrap();
        rules.add_dir(&sub);
        assert!(!rules.read().is_ignored(&log, false));
    }

    #[test]
    fn editor_temporaries() {
        for n in ["a.rs~", ".a.rs.swp", "4913", ".#a.rs", "a.rs___jb_tmp___"] {
            assert!(is_editor_temp(OsStr::new(n)), "{n}");
        }
        for n in ["a.rs", "swp.rs", "4914"] {
            assert!(!is_editor_temp(OsStr::new(n)), "{n}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn odd_paths_do_not_panic() {
        use std::os::unix::ffi::OsStrExt;
        let t = tree(&[(".gitignore", "*.o\n")]);
        let rules = IgnoreRules::load(t.path());
        let odd = t.path().join(OsStr::from_bytes(b"caf\xe9.o"));
        assert!(rules.is_ignored(&odd, false));
        assert!(rules.is_ignored(Path::new("/elsewhere/x.rs"), false));
        assert!(!rules.is_ignored(t.path(), true));
    }
}
