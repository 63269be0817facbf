//! The walk of a tree not reached through a link: depth first, each directory listed once,
//! whole, on the call after the one that yielded it (so the caller watches it first). Its
//! ignore files are read from that listing (`rules::SharedRules::add_listed`) before its
//! entries are judged: no look-ups for `.gitignore`, `.ignore` and `.git` in directories that
//! hold none (`ignore::Walk` with per-entry filtering probed all three in every directory:
//! a third of the walk's system calls). Matching stays `ignore`'s `Gitignore`, in `rules`.
//! A walk through a link keeps `ignore::Walk`, which follows links and reports their cycles.
//!
//! On Linux a directory is opened relative to its parent's descriptor, which the walk holds
//! while the parent's entries are walked (one name looked up, not every component of the
//! path from `/`), and read with `getdents64` into one reused buffer (no allocation per
//! entry; std's `read_dir` makes two, and `opendir` adds an `fstat`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::rules::{self, Listed, SharedRules};

/// The names whose presence decides a directory's rules.
const NAMES: [&str; 3] = [".ignore", ".gitignore", ".git"];

/// What an entry is, by its own type: a link shows as a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    File,
    Dir,
    Link,
    /// A FIFO, socket or device.
    Other,
}

impl Kind {
    pub(super) fn of(t: std::fs::FileType) -> Kind {
        if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else if t.is_symlink() {
            Kind::Link
        } else {
            Kind::Other
        }
    }

    /// Judged as a directory by the ignore globs: a link too, so `dir/**` prunes a link named
    /// `dir` before it is followed.
    pub(super) fn dir_like(self) -> bool {
        matches!(self, Kind::Dir | Kind::Link)
    }
}

/// One entry walked.
pub(super) struct Entry {
    pub path: PathBuf,
    pub kind: Kind,
    /// 0 for the walk's root.
    pub depth: usize,
}

/// Whether an entry is kept besides the ignore rules: `(path, kind)`; false for all ends the
/// walk.
pub(super) type Keep = Box<dyn Fn(&Path, Kind) -> bool + Send + Sync>;

/// `dir` joined with `name` in one allocation of the right size.
#[cfg(unix)]
fn join(dir: &Path, name: &OsStr) -> PathBuf {
    let (dir, name) = (dir.as_os_str().as_encoded_bytes(), name.as_encoded_bytes());
    let mut buf = Vec::with_capacity(dir.len() + 1 + name.len());
    buf.extend_from_slice(dir);
    if !dir.ends_with(b"/") {
        buf.push(b'/');
    }
    buf.extend_from_slice(name);
    PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(buf))
}

#[cfg(not(unix))]
fn join(dir: &Path, name: &OsStr) -> PathBuf {
    dir.join(name)
}

/// The last component of a path the walk built (`join`): the bytes after the last `/`.
#[cfg(unix)]
pub(super) fn name_of(path: &Path) -> &OsStr {
    let bytes = path.as_os_str().as_encoded_bytes();
    let at = bytes.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    <OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&bytes[at..])
}

#[cfg(not(unix))]
pub(super) fn name_of(path: &Path) -> &OsStr {
    path.file_name().unwrap_or_default()
}

/// A directory being walked: held open (on Linux) while its entries are, so that each of its
/// subdirectories is opened by name relative to it.
struct Level {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fd: Option<std::os::fd::OwnedFd>,
    /// The entries still to yield (popped from the back).
    entries: Vec<Entry>,
}

pub(super) struct DirWalk {
    rules: SharedRules,
    keep: Keep,
    max_depth: Option<usize>,
    /// The root, until it is yielded.
    root: Option<Entry>,
    /// The directory yielded last, listed on the next call (after the caller watched it).
    to_list: Option<(PathBuf, usize)>,
    /// Per level being walked, its directory and the entries still to yield.
    stack: Vec<Level>,
    /// `getdents64`'s buffer, reused for every directory.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    buf: Vec<std::mem::MaybeUninit<u8>>,
    /// Directories listed that hold a `.git` (a repository's work tree: the project's own, a
    /// submodule, a nested clone), for the caller to take.
    pub(super) repos: Vec<PathBuf>,
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
            kind: Kind::of(m.file_type()),
            depth: 0,
        });
        DirWalk {
            rules,
            keep,
            max_depth,
            root,
            to_list: None,
            stack: Vec::new(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            buf: Vec::new(),
            repos: Vec::new(),
        }
    }

    /// The kept entries of `dir`, its ignore files read first. An unreadable directory has
    /// none (the caller learnt why from its watch).
    fn list(&mut self, dir: &Path, depth: usize) -> Level {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let (fd, mut entries) = {
            if self.buf.is_empty() {
                self.buf.resize(32 * 1024, std::mem::MaybeUninit::uninit());
            }
            let parent = self.stack.last().and_then(|l| l.fd.as_ref());
            match read_at(parent, dir, depth, &mut self.buf) {
                Some((fd, entries)) => (Some(fd), entries),
                None => (None, Vec::new()),
            }
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let mut entries = read_path(dir, depth);
        let mut seen = [Listed::Absent; NAMES.len()];
        for e in &entries {
            let name = name_of(&e.path);
            if let Some(i) = NAMES.iter().position(|n| name == *n) {
                seen[i] = match e.kind {
                    Kind::File => Listed::File,
                    Kind::Link => Listed::Unknown,
                    Kind::Dir | Kind::Other => Listed::Other,
                };
            }
        }
        if seen[2] != Listed::Absent {
            self.repos.push(dir.to_path_buf());
        }
        self.rules.add_listed(dir, |name| {
            NAMES
                .iter()
                .position(|n| *n == name)
                .map_or(Listed::Unknown, |i| seen[i])
        });
        let rules = self.rules.read();
        let judge = rules.in_dir(dir);
        entries.retain(|e| {
            let is_dir = e.kind == Kind::Dir;
            let vcs = is_dir && rules::is_vcs_dir(name_of(&e.path));
            !vcs && (self.keep)(&e.path, e.kind) && !judge.ignores(&e.path, is_dir)
        });
        drop(judge);
        drop(rules);
        Level {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            fd,
            entries,
        }
    }
}

/// Opens `dir` (by its name relative to `parent`, the directory holding it, when that is
/// open) and reads its entries into `buf`: `None` when it cannot be opened.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_at(
    parent: Option<&std::os::fd::OwnedFd>,
    dir: &Path,
    depth: usize,
    buf: &mut [std::mem::MaybeUninit<u8>],
) -> Option<(std::os::fd::OwnedFd, Vec<Entry>)> {
    use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, RawDir, openat, statat};
    use std::os::unix::ffi::OsStrExt;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = match parent {
        // A link put in the directory's place since it was listed is not followed.
        Some(parent) => openat(
            parent,
            name_of(dir),
            flags | OFlags::NOFOLLOW,
            Mode::empty(),
        ),
        None => openat(CWD, dir, flags, Mode::empty()),
    }
    .ok()?;
    let mut entries = Vec::new();
    let mut raw = RawDir::new(&fd, buf);
    while let Some(Ok(e)) = raw.next() {
        let name = e.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = OsStr::from_bytes(name);
        let kind = match e.file_type() {
            FileType::Directory => Kind::Dir,
            FileType::RegularFile => Kind::File,
            FileType::Symlink => Kind::Link,
            // Some file systems leave the type out of the listing: asked for by name.
            FileType::Unknown => match statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                    FileType::Directory => Kind::Dir,
                    FileType::RegularFile => Kind::File,
                    FileType::Symlink => Kind::Link,
                    _ => Kind::Other,
                },
                Err(_) => continue,
            },
            _ => Kind::Other,
        };
        entries.push(Entry {
            path: join(dir, name),
            kind,
            depth,
        });
    }
    Some((fd, entries))
}

/// The entries of `dir` by its path (std's `read_dir`).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn read_path(dir: &Path, depth: usize) -> Vec<Entry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.flatten()
        .filter_map(|e| {
            Some(Entry {
                kind: Kind::of(e.file_type().ok()?),
                path: join(dir, &e.file_name()),
                depth,
            })
        })
        .collect()
}

impl DirWalk {
    /// Leaves the directory yielded last unlisted: the walk does not go below it.
    pub(super) fn skip_yielded(&mut self) {
        self.to_list = None;
    }

    /// Lists the directory yielded last, if not done yet: a walk that pauses after watching a
    /// directory calls this first, so events in it meanwhile meet its ignore rules.
    pub(super) fn list_yielded(&mut self) {
        if let Some((dir, depth)) = self.to_list.take() {
            let level = self.list(&dir, depth + 1);
            self.stack.push(level);
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
                match level.entries.pop() {
                    Some(e) => break e,
                    // Done with this directory: its descriptor is closed.
                    None => {
                        self.stack.pop();
                    }
                }
            },
        };
        if entry.kind == Kind::Dir && self.max_depth.is_none_or(|m| entry.depth < m) {
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
