//! Old contents from git's index. In a git repository, a file whose status (mtime, ctime,
//! size, inode, device, owner) matches its index entry still holds the blob the entry names, so
//! its baseline is that blob's id and the file is never read: on a big tree only untracked and
//! modified files are read. The watcher's content hash is the blob id too (see `hash`), so a
//! later save of the same bytes compares equal to it.
//!
//! The index is only trusted where the blob is the file's bytes as they are and git's own
//! status rules hold:
//! - no content conversion: `core.autocrlf` unset or false, and no attributes source
//!   (`.gitattributes` files git tracks, `info/attributes`, the global and system files) sets
//!   `text`, `eol`, `crlf`, `filter`, `ident` or `working-tree-encoding` (a blob of cleaned
//!   content would equal a file's hash only after the bytes changed);
//! - SHA-1 object ids (the watcher hashes with SHA-1);
//! - an unconflicted entry of a regular file, not marked assume-unchanged, skip-worktree or
//!   intent-to-add, whose mtime is older than the index (git's rule for a "racily clean"
//!   entry: one written in the same tick as the index may hide an edit), and whose size was
//!   not zeroed by git to mark it racy.
//!
//! Anything else is read, as without a repository.

use std::ffi::{CStr, OsStr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::SystemTime;

use gix_index::entry::{Flags, Mode, Stage, Stat, stat};

use super::hash::{self, DirHandle};

/// Every stat field compared, nanoseconds included: a mismatch only costs a read.
const STRICT: stat::Options = stat::Options {
    trust_ctime: true,
    check_stat: true,
    use_nsec: true,
    use_stdev: true,
};

/// git's own racy rule compares whole seconds (git is built without `USE_NSEC` by default,
/// and the kernel stamps files with a coarse clock): an entry whose mtime is in the second the
/// index was written, or later, may hide an edit made just after git read the file.
const RACY: stat::Options = stat::Options {
    use_nsec: false,
    ..STRICT
};

/// Attributes that make a blob differ from the file's bytes.
const CONVERTING: [&str; 6] = [
    "text",
    "eol",
    "crlf",
    "filter",
    "ident",
    "working-tree-encoding",
];

/// git's index for the project, and where the project sits in the work tree.
pub(super) struct GitIndex {
    file: gix_index::File,
    /// The project root relative to the work tree's top, ending in `/` (empty at the top).
    prefix: Vec<u8>,
    /// The directory (relative to the work tree's top, with its `/`) whose entries `range`
    /// holds: the hasher asks for a directory's files one after the other, so each lookup
    /// searches that directory's few entries, not the whole index (on a 100,000-file tree the
    /// whole-index search was a quarter of the hasher's time).
    dir: Vec<u8>,
    range: std::ops::Range<usize>,
    /// Within `range`, the entry after the one found last.
    next: usize,
}

impl GitIndex {
    /// The index of the repository `root` is in, when it can stand for old contents (see the
    /// module docs); `None` otherwise, and then every file is read.
    pub(super) fn load(root: &Path) -> Option<GitIndex> {
        let root = root.canonicalize().ok()?;
        let (git_dir, top) = super::vcs::locate(&root)?;
        let config = Config::read(&top)?;
        if config.converts || config.object_format.is_some_and(|f| f != "sha1") {
            return None;
        }
        let options = gix_index::decode::Options {
            thread_limit: Some(1),
            ..Default::default()
        };
        let file = gix_index::File::at(
            git_dir.join("index"),
            gix_index::hash::Kind::Sha1,
            true,
            options,
        )
        .ok()?;
        let mut sources: Vec<std::path::PathBuf> = Vec::new();
        sources.extend(config.attributes_file);
        sources.push("/etc/gitattributes".into());
        sources.push(git_dir.join("info/attributes"));
        if let Ok(common) = std::fs::read_to_string(git_dir.join("commondir")) {
            sources.push(git_dir.join(common.trim()).join("info/attributes"));
        }
        for entry in file.entries() {
            let path = entry.path(&file);
            if path == ".gitattributes" || path.ends_with(b"/.gitattributes") {
                // SAFETY: index paths are bytes git took from this system's file names.
                let rel = unsafe { OsStr::from_encoded_bytes_unchecked(path) };
                sources.push(top.join(rel));
            }
        }
        if sources.iter().any(|p| converts(p)) {
            return None;
        }
        let rel = root.strip_prefix(&top).ok()?;
        let mut prefix = rel.as_os_str().as_encoded_bytes().to_vec();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        Some(GitIndex {
            file,
            prefix,
            dir: Vec::new(),
            range: 0..0,
            next: 0,
        })
    }

    /// The content hash of `name` in `dir` (relative to the project root) from the index,
    /// without reading it, when its status proves it still holds the entry's blob; `before`:
    /// as for [`hash::baseline_in`], a bound its ctime must be older than.
    pub(super) fn hash_of(
        &mut self,
        dir: &Path,
        name: &CStr,
        handle: &DirHandle,
        before: Option<SystemTime>,
    ) -> Option<u64> {
        let dir = dir.as_os_str().as_encoded_bytes();
        let same = self.dir.len() == self.prefix.len() + dir.len() + usize::from(!dir.is_empty())
            && self.dir.starts_with(&self.prefix)
            && self.dir[self.prefix.len()..].starts_with(dir);
        if !same {
            self.dir.clear();
            self.dir.extend_from_slice(&self.prefix);
            if !dir.is_empty() {
                self.dir.extend_from_slice(dir);
                self.dir.push(b'/');
            }
            self.range = self
                .file
                .prefixed_entries_range(self.dir.as_slice().into())
                .unwrap_or(0..0);
            self.next = 0;
        }
        let (file, skip) = (&self.file, self.dir.len());
        let bytes = name.to_bytes();
        // Every entry in the range starts with `dir`: comparing the rest orders them as the
        // whole paths do.
        let order = |e: &gix_index::Entry| {
            let path: &[u8] = e.path(file);
            path[skip..]
                .cmp(bytes)
                .then_with(|| e.stage().cmp(&Stage::Unconflicted))
        };
        // The hasher asks for a directory's names in order: the next one is usually the entry
        // after the last found, which one comparison confirms.
        let entries = &file.entries()[self.range.clone()];
        let at = match entries.get(self.next) {
            Some(e) if order(e).is_eq() => self.next,
            _ => entries.binary_search_by(order).ok()?,
        };
        self.next = at + 1;
        let entry = &entries[at];
        let untrusted = Flags::ASSUME_VALID | Flags::SKIP_WORKTREE | Flags::INTENT_TO_ADD;
        if !(entry.mode == Mode::FILE || entry.mode == Mode::FILE_EXECUTABLE)
            || entry.flags.intersects(untrusted)
            // git zeroes the size of an entry it found racily clean but changed.
            || (entry.stat.size == 0 && !entry.id.is_empty_blob())
            || entry.stat.is_racy(self.file.timestamp(), RACY)
        {
            return None;
        }
        let st = handle.lstat(name)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG || !entry.stat.matches(&stat_of(&st), STRICT)
        {
            return None;
        }
        if let Some(before) = before
            && ctime(&st)? >= before
        {
            return None;
        }
        Some(hash::from_object_id(entry.id.as_bytes()))
    }
}

/// What git's configuration says about contents.
struct Config {
    converts: bool,
    object_format: Option<String>,
    attributes_file: Option<std::path::PathBuf>,
}

impl Config {
    /// Asks git itself (includes, conditional includes and the global file all apply); `None`
    /// when git cannot be run, since then nothing says how it stored the blobs.
    fn read(top: &Path) -> Option<Config> {
        let out = Command::new("git")
            .arg("-C")
            .arg(top)
            .args([
                "config",
                "--null",
                "--get-regexp",
                r"^(core\.autocrlf|extensions\.objectformat|core\.attributesfile)$",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        // 1: none of the keys is set.
        if !out.status.success() && out.status.code() != Some(1) {
            return None;
        }
        let mut config = Config {
            converts: false,
            object_format: None,
            attributes_file: default_attributes_file(),
        };
        for item in out.stdout.split(|&b| b == 0).filter(|i| !i.is_empty()) {
            let text = String::from_utf8_lossy(item);
            let (key, value) = text.split_once('\n').unwrap_or((&text, ""));
            match key {
                "core.autocrlf" => {
                    config.converts |= !matches!(value, "false" | "0" | "no" | "off")
                }
                "extensions.objectformat" => config.object_format = Some(value.to_lowercase()),
                "core.attributesfile" => config.attributes_file = Some(expand_home(value)),
                _ => {}
            }
        }
        Some(config)
    }
}

fn default_attributes_file() -> Option<std::path::PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(config) => Some(Path::new(&config).join("git/attributes")),
        None => Some(Path::new(&std::env::var_os("HOME")?).join(".config/git/attributes")),
    }
}

fn expand_home(value: &str) -> std::path::PathBuf {
    match (value.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => value.into(),
    }
}

/// Whether the attributes file at `path` sets a converting attribute anywhere (a missing file
/// sets none). Unset (`-text`) and unspecified (`!text`) attributes convert nothing.
fn converts(path: &Path) -> bool {
    let Ok(text) = std::fs::read(path) else {
        return false;
    };
    String::from_utf8_lossy(&text).lines().any(|line| {
        let line = line.trim();
        !line.starts_with('#')
            && line.split_whitespace().skip(1).any(|attr| {
                !attr.starts_with(['-', '!'])
                    && CONVERTING.contains(&attr.split('=').next().unwrap_or(attr))
            })
    })
}

/// The index's form of a file's status: each field cut to 32 bits, as git stores it.
// The field types differ between systems (`time_t`, `c_long`, `dev_t`).
#[allow(clippy::unnecessary_cast)]
fn stat_of(st: &libc::stat) -> Stat {
    let time = |secs: i64, nsecs: i64| stat::Time {
        secs: secs as u32,
        nsecs: nsecs as u32,
    };
    let (mtime_nsec, ctime_nsec) = nanos(st);
    Stat {
        mtime: time(st.st_mtime as i64, mtime_nsec as i64),
        ctime: time(st.st_ctime as i64, ctime_nsec as i64),
        dev: st.st_dev as u32,
        ino: st.st_ino as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size as u32,
    }
}

/// The nanoseconds of a status's modification and change times: NetBSD names the fields
/// `st_mtimensec` and `st_ctimensec`, every other system hot builds for `st_*time_nsec`.
#[cfg(target_os = "netbsd")]
fn nanos(st: &libc::stat) -> (libc::c_long, libc::c_long) {
    (st.st_mtimensec, st.st_ctimensec)
}

#[cfg(not(target_os = "netbsd"))]
#[allow(clippy::unnecessary_cast)]
fn nanos(st: &libc::stat) -> (libc::c_long, libc::c_long) {
    (
        st.st_mtime_nsec as libc::c_long,
        st.st_ctime_nsec as libc::c_long,
    )
}

fn ctime(st: &libc::stat) -> Option<SystemTime> {
    let secs = u64::try_from(st.st_ctime).ok()?;
    let nanos = u32::try_from(nanos(st).1).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::new(secs, nanos))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Runs git in `dir` with a fixed identity; panics on failure.
    pub(crate) fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "core.autocrlf=false",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    /// Sets a file's times `secs` into the past, in whole seconds (its ctime becomes now).
    pub(crate) fn backdate(path: &Path, secs: u64) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap();
        let then = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(now.as_secs() - secs);
        let times = std::fs::FileTimes::new()
            .set_accessed(then)
            .set_modified(then);
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_times(times).unwrap();
    }

    /// A repository holding `files`, written an hour ago by their mtimes (so no entry is
    /// racily clean) and committed.
    pub(crate) fn committed(root: &Path, files: &[(&str, &str)]) {
        git(root, &["init", "-q"]);
        for (rel, content) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content).unwrap();
            backdate(&p, 3600);
        }
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", "files"]);
    }

    fn hash_of(index: &mut GitIndex, root: &Path, rel: &str) -> Option<u64> {
        let rel = Path::new(rel);
        let dir = rel.parent().unwrap();
        let handle = DirHandle::open(root.join(dir));
        let name = std::ffi::CString::new(rel.file_name().unwrap().as_encoded_bytes()).unwrap();
        index.hash_of(dir, &name, &handle, None)
    }

    #[test]
    fn an_unchanged_tracked_file_has_the_index_blob_id_as_its_content_hash() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        committed(
            root,
            &[("src/a.rs", "one"), ("src/c.rs", "c"), ("b.rs", "b")],
        );
        std::fs::write(root.join("src/new.rs"), "untracked").unwrap();
        let mut index = GitIndex::load(root).expect("a repository without conversions");
        // The blob id git stored is the watcher's hash of the same bytes.
        assert_eq!(
            hash_of(&mut index, root, "src/a.rs"),
            Some(hash::blob_hash(b"one"))
        );
        assert_eq!(
            hash_of(&mut index, root, "b.rs"),
            Some(hash::blob_hash(b"b"))
        );
        assert_eq!(
            hash_of(&mut index, root, "src/new.rs"),
            None,
            "untracked: read"
        );
        // Modified since: its status no longer matches, so it is read.
        std::fs::write(root.join("src/a.rs"), "two").unwrap();
        assert_eq!(hash_of(&mut index, root, "src/a.rs"), None);
        // A project in a subdirectory of the work tree finds its entries under its prefix.
        let mut sub = GitIndex::load(&root.join("src")).unwrap();
        let handle = DirHandle::open(root.join("src"));
        assert_eq!(
            sub.hash_of(Path::new(""), c"c.rs", &handle, None),
            Some(hash::blob_hash(b"c"))
        );
    }

    #[test]
    fn racy_entries_new_ctimes_and_conversions_are_never_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        committed(root, &[("a.rs", "one")]);
        let handle = DirHandle::open(root.to_path_buf());
        let mut index = GitIndex::load(root).unwrap();
        let past = SystemTime::now() - std::time::Duration::from_secs(600);
        assert_eq!(
            index.hash_of(Path::new(""), c"a.rs", &handle, Some(past)),
            None,
            "its ctime (the backdating) is newer than the bound"
        );
        // An index no newer than the entry's mtime: the entry may be racily clean.
        backdate(&root.join(".git/index"), 7200);
        let mut racy = GitIndex::load(root).unwrap();
        assert_eq!(hash_of(&mut racy, root, "a.rs"), None);
        // Content conversions: the blob is not the file's bytes.
        std::fs::write(root.join(".gitattributes"), "*.rs text eol=crlf\n").unwrap();
        git(root, &["add", ".gitattributes"]);
        assert!(GitIndex::load(root).is_none());
        std::fs::write(root.join(".gitattributes"), "*.png -text\n*.bin binary\n").unwrap();
        assert!(GitIndex::load(root).is_some());
        git(root, &["config", "core.autocrlf", "input"]);
        assert!(GitIndex::load(root).is_none());
    }
}
