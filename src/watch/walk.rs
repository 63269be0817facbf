//! The one walker: finds the tree's directories and tracked files, asking for each directory
//! to be watched (see `watches`) as it meets it.
//!
//! The walker reads a directory's entries only after yielding it, so a directory is always
//! watched before it is read: nothing created in it between listing and watching is missed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::config::Ignore;
use super::dirkey;
use super::dirwalk::{DirWalk, Kind};
use super::error::{WatchError, watch_error};
use super::instances::InstanceId;
use super::rules::{self, SharedRules};
use super::watches::{Registry, key};

/// What a walk found.
#[derive(Default)]
pub(super) struct Found {
    /// Every directory walked, by its key (see [`super::dirkey`]), with the instance that now
    /// watches it when this walk added the watch (`None`: watched already). Moved into the
    /// watch registry, not copied; the native instance that watches it holds the same
    /// allocation.
    pub dirs: Vec<(Arc<Path>, Option<InstanceId>)>,
    /// Tracked files (relative), NUL-separated: one growing buffer is mmap-backed once big, so
    /// it goes back to the OS when freed (small allocations in a thread's malloc arena would
    /// stay in RSS), and the walking threads share no lock for it.
    files: Vec<u8>,
    /// Tracked entries that are not regular files (FIFOs, sockets, devices), relative: never
    /// opened, so they are recorded as [`super::hash::FileState::Special`], not hashed.
    pub special: Vec<PathBuf>,
    /// Files seen (tracked or not).
    pub seen: usize,
    /// Directories at the depth limit: watched, not read.
    pub frontier: Vec<PathBuf>,
    /// A watch failure of a strict walk: the walk stopped there.
    pub err: Option<WatchError>,
    /// The first watch failure of a lenient walk.
    pub warn: Option<WatchError>,
    /// Directories hot may not read (permission denied), left out with their subtrees: a
    /// warning each, never a stop.
    pub unreadable: Vec<PathBuf>,
    /// Directories whose path is too long to watch (`ENAMETOOLONG`: past `PATH_MAX`, which the
    /// walk's reads relative to a held descriptor are not held to), left out with their
    /// subtrees: a warning each, never a stop.
    pub too_long: Vec<PathBuf>,
    /// Directories holding a `.git`: work trees of repositories, whose operations in
    /// progress hold a burst (see `vcs`).
    pub repos: Vec<PathBuf>,
    /// Links to directories outside the project holding more than [`LINKED_TREE_MAX`]
    /// entries, not followed (absolute link, canonical target).
    pub too_big: Vec<(PathBuf, PathBuf)>,
    /// Links to directories outside the project whose size is still to be counted (see
    /// [`Walk::defer`]): not followed yet.
    pub scout: Vec<(PathBuf, PathBuf)>,
    /// Symbolic links met (files and directories, absolute) and their canonical targets.
    pub links: Vec<(PathBuf, PathBuf)>,
    /// Directories at or under a link, watched (by this walk) through their canonical path.
    pub(super) linked: Vec<(PathBuf, PathBuf)>,
    /// File links whose target's directory this walk watches (by its canonical path).
    pub(super) file_links: Vec<(PathBuf, PathBuf)>,
}

impl Found {
    pub(super) fn files(&self) -> impl Iterator<Item = &Path> {
        self.files
            .split(|&b| b == 0)
            .filter(|r| !r.is_empty())
            .map(|rel| {
                // SAFETY: whole paths from `as_encoded_bytes`, split at our own NULs (no path
                // holds a NUL).
                Path::new(unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(rel) })
            })
    }

    pub(super) fn absorb(&mut self, other: Found) {
        self.dirs.extend(other.dirs);
        self.files.extend_from_slice(&other.files);
        self.special.extend(other.special);
        self.seen += other.seen;
        self.frontier.extend(other.frontier);
        if self.err.is_none() {
            self.err = other.err;
        }
        if self.warn.is_none() {
            self.warn = other.warn;
        }
        self.unreadable.extend(other.unreadable);
        self.too_long.extend(other.too_long);
        self.repos.extend(other.repos);
        self.too_big.extend(other.too_big);
        self.scout.extend(other.scout);
        self.links.extend(other.links);
        self.linked.extend(other.linked);
        self.file_links.extend(other.file_links);
    }
}

/// Tracked entries (relative) that walks found, NUL-separated as in [`Found`], gathered a
/// step at a time and then gone through by offset.
#[derive(Default)]
pub(super) struct Names(Vec<u8>);

impl Names {
    /// Adds the tracked entries `found` holds (files and others).
    pub(super) fn take(&mut self, found: Found) {
        self.0.extend_from_slice(&found.files);
        for rel in found.special {
            self.0.extend_from_slice(rel.as_os_str().as_encoded_bytes());
            self.0.push(0);
        }
    }

    /// The entry at byte `at` and where the next one begins; `None` past the last.
    pub(super) fn at(&self, at: usize) -> Option<(&Path, usize)> {
        let rest = self.0.get(at..).filter(|r| !r.is_empty())?;
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        // SAFETY: whole paths from `as_encoded_bytes`, split at our own NULs (no path holds
        // a NUL).
        let rel = Path::new(unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(&rest[..end]) });
        Some((rel, at + end + 1))
    }
}

/// A linked tree outside the project with more entries (files and directories) than this is
/// not watched: at ~1 µs to list an entry and a watch a directory, this many cost ~10-30 ms
/// of the watcher's time, which an edit elsewhere may wait for; `/usr` has ~10^5-10^6.
pub(super) const LINKED_TREE_MAX: usize = 10_000;

/// Whether the tree at `dir` has at most `max` entries (links followed, ignore files not
/// read: the plain listing is the cost to bound). Stops reading at `max + 1`, so a huge tree
/// costs no more than a small one; a cycle of links only counts up to the bound.
pub(super) fn fits(dir: &Path, max: usize) -> bool {
    let mut count = 0usize;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            count += 1;
            if count > max {
                return false;
            }
            let is_dir = match entry.file_type() {
                Ok(t) if t.is_symlink() => {
                    std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir())
                }
                Ok(t) => t.is_dir(),
                Err(_) => false,
            };
            if is_dir && !rules::is_vcs_dir(&entry.file_name()) {
                stack.push(entry.path());
            }
        }
    }
    true
}

fn is_denied(e: &notify::Error) -> bool {
    matches!(&e.kind, notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied)
}

fn is_too_long(e: &notify::Error) -> bool {
    matches!(&e.kind, notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::InvalidFilename)
}

/// `path` relative to `root`, as `strip_prefix` gives it: the walks build their paths by
/// appending names to the root, so a byte comparison usually settles it (`strip_prefix`
/// compares component by component, once per entry walked).
pub(super) fn relative<'p>(root: &Path, path: &'p Path) -> Option<&'p Path> {
    #[cfg(unix)]
    {
        let (r, p) = (
            root.as_os_str().as_encoded_bytes(),
            path.as_os_str().as_encoded_bytes(),
        );
        if let Some(rest) = p.strip_prefix(r)
            && !r.ends_with(b"/")
            && let Some(rest) = rest.strip_prefix(b"/")
            // One pass: no empty component (a leading, trailing or doubled `/`), no `.`.
            && rest
                .split(|&b| b == b'/')
                .all(|c| !c.is_empty() && c != b".")
        {
            // SAFETY: split after an ASCII separator of an `OsStr`'s bytes.
            return Some(Path::new(unsafe {
                std::ffi::OsStr::from_encoded_bytes_unchecked(rest)
            }));
        }
    }
    path.strip_prefix(root).ok()
}

/// Where the relative part of every path a walk of `dir` yields begins, when that is simply
/// after the root's bytes and a `/`: the walk of a plain tree builds its paths from `dir` and
/// names from listings (never empty, `.` or `..`), so when `root` and `dir` are plain (no
/// empty component, none `.`) so is every path, and [`relative`]'s check of each path's
/// components (a tenth of the walk's own work per entry) would find nothing.
fn plain_below(root: &Path, dir: &Path) -> Option<usize> {
    let r = root.as_os_str().as_encoded_bytes();
    let rooted = r.strip_prefix(b"/").is_some_and(plain);
    let d = dir.as_os_str().as_encoded_bytes();
    let inside = d == r
        || d.strip_prefix(r)
            .and_then(|rest| rest.strip_prefix(b"/"))
            .is_some_and(plain);
    (rooted && inside).then_some(r.len())
}

/// Whether a path's bytes are plain: no empty component and none `.` (what a walk builds
/// from listings' names), so that two plain paths are equal only when their bytes are.
pub(super) fn plain(path: &[u8]) -> bool {
    cfg!(unix)
        && path
            .split(|&c| c == b'/')
            .all(|c| !c.is_empty() && c != b".")
}

/// What a walk asks to be watched.
pub(super) enum Target<'p> {
    /// A directory of the tree: its path, and its key (see [`super::dirkey`]), shared with
    /// the registry (see [`super::instances::Shared`]).
    Dir { path: &'p Path, key: &'p Arc<Path> },
    /// A directory reached through a link, by its canonical path.
    Linked(&'p Path),
}

/// What every walk needs to know besides where it walks.
pub(super) struct Walk<'a> {
    /// The project root: found files are relative to it.
    pub root: &'a Path,
    pub tracked: &'a (dyn Fn(&Path) -> bool + Sync),
    /// The Hotfile's common `ignore`: pruned from the walk like a `.gitignore`d tree.
    pub ignore: &'a Arc<Ignore>,
    /// The ignore files' rules: the walk reads each directory's into them as it enters it.
    pub rules: &'a SharedRules,
    /// Set when hot stops during the start-up walk: every walk then ends at once.
    pub cancel: &'a Arc<AtomicBool>,
    /// A watch failure ends the walk with an error (start-up) rather than a warning.
    pub strict: bool,
    /// Links to trees outside the project are not counted here but left in
    /// [`Found::scout`] for a thread of their own (while hot runs).
    pub defer: bool,
    /// Canonical targets outside the project counted already and small enough to follow.
    pub approved: &'a std::collections::HashSet<PathBuf>,
}

impl Walk<'_> {
    /// Walks `dir` to the end (see [`Walking`]). Returns false when a strict walk failed.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn subtree(
        &self,
        dir: &Path,
        max_depth: Option<usize>,
        skip_root: bool,
        watched: &Registry,
        linked: &dyn Fn(&Path) -> bool,
        watch: &mut dyn FnMut(Target<'_>) -> notify::Result<InstanceId>,
        out: &mut Found,
    ) -> bool {
        let mut walking = Walking::new(self, dir, max_depth, skip_root, linked);
        walking.step(self, usize::MAX, watched, watch, out) != Step::Failed
    }

    /// The walker of one tree: `through` a link or not, from `dir` down to `max_depth`.
    fn open(&self, dir: &Path, max_depth: Option<usize>, skip_root: bool, through: bool) -> Walker {
        let (ignore, root) = (self.ignore.clone(), self.root.to_path_buf());
        let cancel = self.cancel.clone();
        // Without globs no entry's relative path is needed (one per entry walked).
        let globs = !ignore.is_empty();
        // Pruning every entry ends the walk: nothing more is listed.
        let keep = move |path: &Path, dir_like: bool| {
            !cancel.load(Ordering::Relaxed)
                && (!globs
                    || !relative(&root, path).is_some_and(|rel| {
                        !rel.as_os_str().is_empty() && ignore.is_ignored(rel, dir_like)
                    }))
        };
        let plain = (!through).then(|| plain_below(self.root, dir)).flatten();
        // A link shows as a link here: judged as a directory too (`Kind::dir_like`).
        let entries = if through {
            if !skip_root {
                self.rules.add_dir(dir);
            }
            let mut walker = rules::walker_with(dir, self.rules, move |e| {
                keep(
                    e.path(),
                    e.file_type().is_some_and(|t| Kind::of(t).dir_like()),
                )
            });
            walker.max_depth(max_depth).follow_links(true);
            Entries::Linked(Box::new(walker.build()))
        } else {
            // The root's ignore files are read from its listing, as every directory's.
            let keep = move |path: &Path, kind: Kind| keep(path, kind.dir_like());
            Entries::Tree(DirWalk::new(
                dir,
                self.rules.clone(),
                Box::new(keep),
                max_depth,
            ))
        };
        Walker {
            entries,
            max_depth,
            skip_root,
            through,
            plain,
        }
    }

    /// The next link in `pending` worth walking, as a walker: a link back to a directory
    /// that holds it is skipped (its tree is walked already), and a tree outside the project
    /// only followed when small.
    fn next_link(&self, pending: &mut Vec<PathBuf>, out: &mut Found) -> Option<Walker> {
        while let Some(link) = pending.pop() {
            let Ok(target) = std::fs::canonicalize(&link) else {
                continue;
            };
            if super::links::loops_back(&link, &target) {
                continue;
            }
            // A tree outside the project is only followed when small: a link to `/usr` would
            // cost minutes of reading and tens of thousands of watches.
            // Counted off the watcher's thread while hot runs (`defer`), so the edits of
            // others never wait for it; the link is walked once the count says it fits.
            let outside = std::fs::canonicalize(self.root).is_ok_and(|r| !target.starts_with(r));
            if outside && !self.approved.contains(&target) {
                if self.defer {
                    out.scout.push((link, target));
                    continue;
                }
                if !fits(&target, LINKED_TREE_MAX) {
                    out.too_big.push((link, target));
                    continue;
                }
            }
            out.links.push((link.clone(), target));
            return Some(self.open(&link, None, false, true));
        }
        None
    }

    /// Up to `*left` entries of `walker` (each one taken counts). `More`: the budget ran out
    /// first; links to directories go to `pending`.
    fn entries(
        &self,
        walker: &mut Walker,
        left: &mut usize,
        watched: &Registry,
        watch: &mut dyn FnMut(Target<'_>) -> notify::Result<InstanceId>,
        out: &mut Found,
        pending: &mut Vec<PathBuf>,
    ) -> Step {
        let Walker {
            entries,
            max_depth,
            skip_root,
            through,
            plain,
        } = walker;
        let (max_depth, skip_root, through, plain) = (*max_depth, *skip_root, *through, *plain);
        loop {
            if *left == 0 {
                // The directory just watched is read before the pause (see `list_yielded`).
                if let Entries::Tree(walk) = entries {
                    walk.list_yielded();
                    out.repos.append(&mut walk.repos);
                }
                return Step::More;
            }
            *left -= 1;
            let Some(entry) = entries.next() else {
                if let Entries::Tree(walk) = entries {
                    out.repos.append(&mut walk.repos);
                }
                return Step::Done;
            };
            let Some(entry) = entry else { continue };
            let (path, mut kind, depth) = (entry.path.as_path(), entry.kind, entry.depth);
            // Not following (`!through`): a link shows as a link. Followed: as its target.
            let mut is_link = entry.path_is_symlink && depth > 0;
            if kind == Kind::Link {
                match std::fs::metadata(path) {
                    Ok(m) if m.is_dir() => {
                        pending.push(path.to_path_buf());
                        continue;
                    }
                    Ok(m) => kind = Kind::of(m.file_type()),
                    Err(_) => continue,
                }
                is_link = true;
            }
            if kind == Kind::Dir {
                if skip_root && depth == 0 {
                    continue;
                }
                if max_depth == Some(depth) {
                    out.frontier.push(path.to_path_buf());
                }
                let canonical = if through {
                    let Ok(canonical) = std::fs::canonicalize(path) else {
                        continue;
                    };
                    if is_link {
                        out.links.push((path.to_path_buf(), canonical.clone()));
                    }
                    Some(canonical)
                } else {
                    None
                };
                let below = dirkey::key(self.root, path);
                if watched.contains_key(key(below)) {
                    out.dirs.push((below.into(), None));
                    continue;
                }
                let dir: Arc<Path> = below.into();
                let target = match &canonical {
                    Some(c) => Target::Linked(c),
                    None => Target::Dir { path, key: &dir },
                };
                match watch(target) {
                    Ok(k) => {
                        out.dirs.push((dir, Some(k)));
                        if let Some(c) = canonical {
                            out.linked.push((path.to_path_buf(), c));
                        }
                    }
                    // Gone already: its parent's event says so.
                    Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => {}
                    // Not ours to read (a root-owned volume): left out, the walker's read of
                    // it fails too and yields nothing.
                    Err(e) if is_denied(&e) => out.unreadable.push(path.to_path_buf()),
                    // Its subtree's paths are longer still: not listed, so one warning says it.
                    Err(e) if is_too_long(&e) => {
                        if let Entries::Tree(walk) = entries {
                            walk.skip_yielded();
                        }
                        out.too_long.push(path.to_path_buf());
                    }
                    Err(e) => {
                        let err = watch_error(path, e, watched.len() + out.dirs.len());
                        if self.strict {
                            out.err = Some(err);
                            return Step::Failed;
                        }
                        out.warn.get_or_insert(err);
                    }
                }
                continue;
            }
            out.seen += 1;
            if rules::is_editor_temp(super::dirwalk::name_of(path)) {
                continue;
            }
            if is_link {
                // Edits reach the target, not the link: watch the target's directory.
                if let Ok(canonical) = std::fs::canonicalize(path)
                    && let Some(parent) = canonical.parent()
                {
                    if watch(Target::Linked(parent)).is_ok() {
                        out.file_links
                            .push((path.to_path_buf(), parent.to_path_buf()));
                    }
                    out.links.push((path.to_path_buf(), canonical));
                }
            }
            let rel = match plain {
                // SAFETY: split after an ASCII separator of an `OsStr`'s bytes.
                Some(at) => path
                    .as_os_str()
                    .as_encoded_bytes()
                    .get(at + 1..)
                    .map(|rel| {
                        Path::new(unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(rel) })
                    }),
                None => relative(self.root, path),
            };
            if let Some(rel) = rel
                && (self.tracked)(rel)
            {
                if kind != Kind::File {
                    out.special.push(rel.to_path_buf());
                    continue;
                }
                out.files
                    .extend_from_slice(rel.as_os_str().as_encoded_bytes());
                out.files.push(0);
            }
        }
    }
}

/// Where a [`Walking`] stands after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Walked to the end.
    Done,
    /// The step's budget ran out: more to walk.
    More,
    /// A strict walk failed (see [`Found::err`]).
    Failed,
}

/// A walker's entries: its own walk of a plain tree, or `ignore`'s through a link.
enum Entries {
    Tree(DirWalk),
    Linked(Box<ignore::Walk>),
}

/// An entry of either walker.
struct Item {
    path: PathBuf,
    /// Through a link: the target's type. Otherwise the entry's own.
    kind: Kind,
    depth: usize,
    /// A link followed (only through a link).
    path_is_symlink: bool,
}

impl Entries {
    /// The next entry; `Some(None)` for one to skip.
    fn next(&mut self) -> Option<Option<Item>> {
        match self {
            Entries::Tree(walk) => walk.next().map(|e| {
                Some(Item {
                    path: e.path,
                    kind: e.kind,
                    depth: e.depth,
                    path_is_symlink: false,
                })
            }),
            // A cycle of links, or one whose target is gone, comes as an error: skipped.
            Entries::Linked(walk) => walk.next().map(|e| {
                let e = e.ok()?;
                let kind = Kind::of(e.file_type()?);
                let (depth, path_is_symlink) = (e.depth(), e.path_is_symlink());
                Some(Item {
                    path: e.into_path(),
                    kind,
                    depth,
                    path_is_symlink,
                })
            }),
        }
    }
}

/// One walker under way: its entries, and what it was opened with.
struct Walker {
    entries: Entries,
    max_depth: Option<usize>,
    skip_root: bool,
    /// Through a link: links below are followed, directories watched by canonical path.
    through: bool,
    /// See [`plain_below`].
    plain: Option<usize>,
}

/// A walk of one subtree that can stop between entries and go on later: the walk of a
/// directory that appears while hot runs goes a slice at a time, so events elsewhere are
/// handled in between. Links are followed: a link to a directory is walked as a tree of its
/// own after the walk that met it, with the walker following links below it (it reports a
/// cycle as an error, which ends that branch); a link to a directory that contains it is
/// skipped (its tree is being walked already). What lies under a link is watched by its
/// canonical path. A directory is watched before it is read.
pub(super) struct Walking {
    walker: Option<Walker>,
    /// Links to directories met, each walked after the walker under way.
    pending: Vec<PathBuf>,
}

impl Walking {
    /// The walk of `dir` (not started yet). `max_depth`: directories at that depth are
    /// watched, not read. `skip_root`: `dir` itself was watched and recorded by an earlier
    /// phase. `linked`: a path lies under a link met by an earlier walk.
    pub(super) fn new(
        walk: &Walk<'_>,
        dir: &Path,
        max_depth: Option<usize>,
        skip_root: bool,
        linked: &dyn Fn(&Path) -> bool,
    ) -> Walking {
        if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Walking {
                walker: None,
                pending: vec![dir.to_path_buf()],
            };
        }
        Walking {
            walker: Some(walk.open(dir, max_depth, skip_root, linked(dir))),
            pending: Vec::new(),
        }
    }

    /// Walks on for at most `budget` entries, watching every directory not in `watched`
    /// through `watch` (which returns the instance it used), adding what it finds to `out`.
    pub(super) fn step(
        &mut self,
        walk: &Walk<'_>,
        budget: usize,
        watched: &Registry,
        watch: &mut dyn FnMut(Target<'_>) -> notify::Result<InstanceId>,
        out: &mut Found,
    ) -> Step {
        let mut left = budget;
        loop {
            if let Some(walker) = &mut self.walker {
                match walk.entries(walker, &mut left, watched, watch, out, &mut self.pending) {
                    Step::Done => self.walker = None,
                    step => return step,
                }
            }
            match walk.next_link(&mut self.pending, out) {
                Some(walker) => self.walker = Some(walker),
                None => return Step::Done,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte comparison gives what `strip_prefix` gives, for the paths the walks build and
    /// for the odd roots and paths where it falls back.
    #[test]
    fn a_path_relative_to_the_root_is_what_strip_prefix_gives() {
        let cases = [
            ("/p", "/p/src/a.rs"),
            ("/p", "/p"),
            ("/p", "/pq/a.rs"),
            ("/p", "/q/a.rs"),
            ("/p/", "/p/src/a.rs"),
            ("/", "/src/a.rs"),
            ("/p", "/p//src/a.rs"),
            ("/p", "/p/./src/a.rs"),
            ("/p", "/p/src/"),
            ("/p/.", "/p/src/a.rs"),
            ("p", "p/src/a.rs"),
        ];
        for (root, path) in cases {
            let (root, path) = (Path::new(root), Path::new(path));
            assert_eq!(
                relative(root, path),
                path.strip_prefix(root).ok(),
                "{root:?} {path:?}"
            );
            // Where the walk takes a plain path's relative part from its bytes, it is the same.
            if let Some(at) = path.parent().and_then(|dir| plain_below(root, dir))
                && path
                    .file_name()
                    .is_some_and(|n| !matches!(n.as_encoded_bytes(), b"." | b".."))
            {
                let rel = &path.as_os_str().as_encoded_bytes()[at + 1..];
                assert_eq!(
                    Some(Path::new(std::ffi::OsStr::new(
                        std::str::from_utf8(rel).unwrap()
                    ))),
                    path.strip_prefix(root).ok(),
                    "{root:?} {path:?}"
                );
            }
        }
    }
}
