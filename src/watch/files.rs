//! The tracked files and their baselines, stored compactly: one allocation per directory,
//! holding the directory's own path, its files' names and each file's state packed into a
//! `u64`. A `PathBuf` per file (plus a map node) costs ~90 bytes; this costs 9-12 bytes plus
//! the name, and a directory ~50 bytes plus its path, which is what keeps a 1,000,000-file
//! tree's baseline at ~20 MB.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use super::hash::FileState;

/// What the watcher knows about a tracked file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// Found by a walk, content not hashed yet: any event on it is reported (conservative).
    Pending,
    Known(FileState),
}

impl Slot {
    const PENDING: u64 = 0;
    const UNREADABLE: u64 = 1;
    const SPECIAL: u64 = 2;

    fn pack(self) -> u64 {
        match self {
            Slot::Pending => Self::PENDING,
            Slot::Known(FileState::Unreadable) => Self::UNREADABLE,
            Slot::Known(FileState::Special) => Self::SPECIAL,
            // Three of 2^64 hash values fold onto neighbours: a negligible extra collision chance.
            Slot::Known(FileState::Hash(h)) => h.max(3),
        }
    }

    fn unpack(v: u64) -> Slot {
        match v {
            Self::PENDING => Slot::Pending,
            Self::UNREADABLE => Slot::Known(FileState::Unreadable),
            Self::SPECIAL => Slot::Known(FileState::Special),
            h => Slot::Known(FileState::Hash(h)),
        }
    }
}

/// One directory in one exact-size allocation: a header (the path's length, `u32`; the file
/// count, `u32`, whose top two bits give the width of the name ends), the directory's relative
/// path (empty for the root), each file's slot (`u64`), each name's end offset, then the names,
/// concatenated (`OsStr::as_encoded_bytes`), sorted. An end takes the fewest bytes that hold the
/// names' total length: one where it is under 256 bytes, as in most source directories (a byte
/// a file, ~0.1 MB on the 100,000-file tree), two under 64 KiB, four beyond. The path inside the block is
/// its key in the table's ordered set, so a directory costs one allocation and no separate
/// key; the exact size leaves no spare capacity, and a block is only ever rebuilt whole.
#[derive(Debug)]
struct Block(Box<[u8]>);

const HEADER: usize = 8;
/// Flags of the count: name ends of four bytes, of one byte (neither: two).
const WIDE: u32 = 1 << 31;
const NARROW: u32 = 1 << 30;
const FLAGS: u32 = WIDE | NARROW;

/// The width of name ends for names of `total` bytes, and its flag.
fn width_for(total: usize) -> (usize, u32) {
    if total <= usize::from(u8::MAX) {
        (1, NARROW)
    } else if total <= usize::from(u16::MAX) {
        (2, 0)
    } else {
        (4, WIDE)
    }
}

/// Appends `end` in `width` bytes.
fn push_end(buf: &mut Vec<u8>, width: usize, end: usize) {
    match width {
        1 => buf.push(end as u8),
        2 => buf.extend_from_slice(&(end as u16).to_ne_bytes()),
        _ => buf.extend_from_slice(&(end as u32).to_ne_bytes()),
    }
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_ne_bytes(b)
}

impl Block {
    /// Builds a block of `path` holding `files` (sorted by name, no duplicates).
    fn build(path: &[u8], files: &[(&[u8], u64)]) -> Block {
        let names: usize = files.iter().map(|(n, _)| n.len()).sum();
        let (width, flag) = width_for(names);
        let n = files.len();
        let mut buf = Vec::with_capacity(HEADER + path.len() + (8 + width) * n + names);
        buf.extend_from_slice(&(path.len() as u32).to_ne_bytes());
        buf.extend_from_slice(&(n as u32 | flag).to_ne_bytes());
        buf.extend_from_slice(path);
        for (_, slot) in files {
            buf.extend_from_slice(&slot.to_ne_bytes());
        }
        let mut end = 0;
        for (name, _) in files {
            end += name.len();
            push_end(&mut buf, width, end);
        }
        for (name, _) in files {
            buf.extend_from_slice(name);
        }
        Block(buf.into_boxed_slice())
    }

    fn path(&self) -> &[u8] {
        &self.0[HEADER..HEADER + u32_at(&self.0, 0) as usize]
    }

    fn len(&self) -> usize {
        (u32_at(&self.0, 4) & !FLAGS) as usize
    }

    fn width(&self) -> usize {
        let flags = u32_at(&self.0, 4) & FLAGS;
        if flags == WIDE {
            4
        } else if flags == NARROW {
            1
        } else {
            2
        }
    }

    fn slots_at(&self) -> usize {
        HEADER + u32_at(&self.0, 0) as usize
    }

    fn slot(&self, i: usize) -> u64 {
        let at = self.slots_at() + 8 * i;
        let mut b = [0; 8];
        b.copy_from_slice(&self.0[at..at + 8]);
        u64::from_ne_bytes(b)
    }

    fn set_slot(&mut self, i: usize, v: u64) {
        let at = self.slots_at() + 8 * i;
        self.0[at..at + 8].copy_from_slice(&v.to_ne_bytes());
    }

    fn end(&self, i: usize) -> usize {
        let width = self.width();
        let at = self.slots_at() + 8 * self.len() + width * i;
        match width {
            1 => usize::from(self.0[at]),
            2 => usize::from(u16::from_ne_bytes([self.0[at], self.0[at + 1]])),
            _ => u32_at(&self.0, at) as usize,
        }
    }

    fn name(&self, i: usize) -> &[u8] {
        let names = self.names_at();
        let start = if i == 0 { 0 } else { self.end(i - 1) };
        &self.0[names + start..names + self.end(i)]
    }

    fn find(&self, name: &[u8]) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.name(mid).cmp(name) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn names_at(&self) -> usize {
        self.slots_at() + (8 + self.width()) * self.len()
    }

    fn push_end(&self, buf: &mut Vec<u8>, end: usize) {
        push_end(buf, self.width(), end);
    }

    /// This block with `name` (absent) added at `i`: copied region by region, so a file
    /// added to a big directory costs one copy of its block, as a splice would.
    fn inserted(&self, i: usize, name: &[u8], slot: u64) -> Block {
        let (n, slots, names) = (self.len(), self.slots_at(), self.names_at());
        // Names past what the ends' width holds: built again, wider.
        if width_for(self.0.len() - names + name.len()).0 > self.width() {
            let mut files = self.files();
            files.insert(i, (name, slot));
            return Block::build(self.path(), &files);
        }
        let start = if i == 0 { 0 } else { self.end(i - 1) };
        let mut buf = Vec::with_capacity(self.0.len() + 8 + self.width() + name.len());
        buf.extend_from_slice(&self.0[..4]);
        let count = u32_at(&self.0, 4);
        buf.extend_from_slice(&(count + 1).to_ne_bytes());
        buf.extend_from_slice(&self.0[HEADER..slots + 8 * i]);
        buf.extend_from_slice(&slot.to_ne_bytes());
        buf.extend_from_slice(&self.0[slots + 8 * i..slots + 8 * n]);
        for j in 0..i {
            self.push_end(&mut buf, self.end(j));
        }
        self.push_end(&mut buf, start + name.len());
        for j in i..n {
            self.push_end(&mut buf, self.end(j) + name.len());
        }
        buf.extend_from_slice(&self.0[names..names + start]);
        buf.extend_from_slice(name);
        buf.extend_from_slice(&self.0[names + start..]);
        Block(buf.into_boxed_slice())
    }

    /// This block without its file `i` (its ends keep their width).
    fn removed(&self, i: usize) -> Block {
        let (n, slots, names) = (self.len(), self.slots_at(), self.names_at());
        let (start, end) = (if i == 0 { 0 } else { self.end(i - 1) }, self.end(i));
        let mut buf = Vec::with_capacity(self.0.len() - 8 - self.width() - (end - start));
        buf.extend_from_slice(&self.0[..4]);
        let count = u32_at(&self.0, 4);
        buf.extend_from_slice(&(count - 1).to_ne_bytes());
        buf.extend_from_slice(&self.0[HEADER..slots + 8 * i]);
        buf.extend_from_slice(&self.0[slots + 8 * (i + 1)..slots + 8 * n]);
        for j in 0..i {
            self.push_end(&mut buf, self.end(j));
        }
        for j in i + 1..n {
            self.push_end(&mut buf, self.end(j) - (end - start));
        }
        buf.extend_from_slice(&self.0[names..names + start]);
        buf.extend_from_slice(&self.0[names + end..]);
        Block(buf.into_boxed_slice())
    }

    fn files(&self) -> Vec<(&[u8], u64)> {
        (0..self.len())
            .map(|i| (self.name(i), self.slot(i)))
            .collect()
    }

    /// Every file's path.
    fn paths(&self) -> impl Iterator<Item = PathBuf> + '_ {
        (0..self.len()).map(move |i| path(self.path()).join(os(self.name(i))))
    }
}

impl Borrow<[u8]> for Block {
    fn borrow(&self) -> &[u8] {
        self.path()
    }
}

impl PartialEq for Block {
    fn eq(&self, other: &Self) -> bool {
        self.path() == other.path()
    }
}

impl Eq for Block {}

impl PartialOrd for Block {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Block {
    fn cmp(&self, other: &Self) -> Ordering {
        self.path().cmp(other.path())
    }
}

fn os(bytes: &[u8]) -> &OsStr {
    // SAFETY: every name was stored whole from `OsStr::as_encoded_bytes` in this process.
    unsafe { OsStr::from_encoded_bytes_unchecked(bytes) }
}

/// Relative path → [`Slot`].
#[derive(Debug, Default)]
pub(super) struct FileTable {
    /// Ordered by the relative directory's bytes (empty for the root): byte comparisons are
    /// several times cheaper than `Path`'s component-wise ones, and the directories under
    /// `d/` still form one contiguous range.
    dirs: BTreeSet<Block>,
    len: usize,
}

fn bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_encoded_bytes()
}

fn path(bytes: &[u8]) -> &Path {
    Path::new(os(bytes))
}

/// `rel`'s parent and file name, as `Path::parent` and `Path::file_name` give them. A path
/// as walks and events build them (`dir/name`) is split at its last `/` (parsing components
/// from the end was a fifth of the start-up's bookkeeping on a 100,000-file tree); anything
/// odd takes `Path`'s own parse.
fn split(rel: &Path) -> Option<(&[u8], &[u8])> {
    let b = bytes(rel);
    let (dir, name) = match memchr::memrchr(b'/', b) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (&b[..0], b),
    };
    let plain = !matches!(name, b"" | b"." | b"..")
        && (b.len() == name.len()
            || !(dir.is_empty() || dir.ends_with(b"/") || dir.ends_with(b"/.") || dir == b"."));
    if plain {
        return Some((dir, name));
    }
    Some((bytes(rel.parent()?), rel.file_name()?.as_encoded_bytes()))
}

impl FileTable {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn get(&self, rel: &Path) -> Option<Slot> {
        let (dir, name) = split(rel)?;
        let d = self.dirs.get(dir)?;
        d.find(name).ok().map(|i| Slot::unpack(d.slot(i)))
    }

    pub(super) fn contains(&self, rel: &Path) -> bool {
        self.get(rel).is_some()
    }

    /// Inserts or replaces.
    pub(super) fn set(&mut self, rel: &Path, slot: Slot) {
        let Some((dir, name)) = split(rel) else {
            return;
        };
        let slot = slot.pack();
        let Some(mut d) = self.dirs.take(dir) else {
            self.dirs.insert(Block::build(dir, &[(name, slot)]));
            self.len += 1;
            return;
        };
        let d = match d.find(name) {
            Ok(i) => {
                d.set_slot(i, slot);
                d
            }
            Err(i) => {
                self.len += 1;
                d.inserted(i, name, slot)
            }
        };
        self.dirs.insert(d);
    }

    /// Inserts `Pending` for each of `rels` not already known. Each directory's block is built
    /// once, and the blocks go into the set together, as the watch registry's directories do
    /// (`watches::bulk_insert`): the start-up walk's 11,111 directories on the 100,000-file
    /// tree, inserted one by one, left the set's nodes half empty (~0.3 MB rather than ~0.2).
    pub(super) fn add_pending<'a>(&mut self, rels: impl IntoIterator<Item = &'a Path>) {
        let files: Vec<(&[u8], &[u8])> = rels.into_iter().filter_map(split).collect();
        // A walk lists a directory's files one after the other: the runs are sorted by
        // directory, not every file (sorting the 100,000 files was 13% more instructions at
        // start-up); a directory seen in two runs then has them side by side.
        let mut runs: Vec<&[(&[u8], &[u8])]> = files.chunk_by(|a, b| a.0 == b.0).collect();
        runs.sort_by(|a, b| a[0].0.cmp(b[0].0));
        let mut built = Vec::with_capacity(runs.len());
        let mut names: Vec<&[u8]> = Vec::new();
        for dir in runs.chunk_by(|a, b| a[0].0 == b[0].0) {
            names.extend(dir.iter().flat_map(|run| run.iter().map(|&(_, name)| name)));
            built.push(self.add_names(dir[0][0].0, &mut names));
        }
        drop(runs);
        drop(files);
        if built.len() * 4 >= self.dirs.len() {
            let mut built: BTreeSet<Block> = built.into_iter().collect();
            self.dirs.append(&mut built);
        } else {
            self.dirs.extend(built);
        }
    }

    /// `dir`'s block taken out of the set, with `names` (any order; cleared) merged in as
    /// `Pending`, keeping known ones.
    fn add_names(&mut self, dir: &[u8], names: &mut Vec<&[u8]>) -> Block {
        names.sort_unstable();
        names.dedup();
        let old = self.dirs.take(dir);
        let known = old.as_ref().map(Block::files).unwrap_or_default();
        let mut merged = Vec::with_capacity(known.len() + names.len());
        let (mut k, mut n) = (0, 0);
        while k < known.len() || n < names.len() {
            match (known.get(k), names.get(n)) {
                (Some(&(kn, slot)), Some(&nn)) if kn <= nn => {
                    merged.push((kn, slot));
                    k += 1;
                    n += usize::from(kn == nn);
                }
                (_, Some(&nn)) => {
                    merged.push((nn, Slot::PENDING));
                    n += 1;
                }
                (Some(&f), None) => {
                    merged.push(f);
                    k += 1;
                }
                (None, None) => unreachable!("the loop's condition"),
            }
        }
        self.len += merged.len() - known.len();
        let block = Block::build(dir, &merged);
        drop(known);
        drop(old);
        names.clear();
        block
    }

    /// Sets each of `files` in `dir` (names as stored) to its state only if it is still
    /// `Pending`: a baseline taken in the background never overwrites what an event
    /// established, nor revives a removed file.
    pub(super) fn fill_pending(&mut self, dir: &Path, files: &[(&[u8], FileState)]) {
        let Some(mut d) = self.dirs.take(bytes(dir)) else {
            return;
        };
        // The hasher gives a directory's files in the block's order: the next one is usually
        // the file after the one found last, which one comparison confirms.
        let mut next = 0;
        for &(name, state) in files {
            let found = if next < d.len() && d.name(next) == name {
                Ok(next)
            } else {
                d.find(name)
            };
            if let Ok(i) = found {
                next = i + 1;
                if d.slot(i) == Slot::PENDING {
                    d.set_slot(i, Slot::Known(state).pack());
                }
            }
        }
        self.dirs.insert(d);
    }

    pub(super) fn remove(&mut self, rel: &Path) {
        let Some((dir, name)) = split(rel) else {
            return;
        };
        let Some(d) = self.dirs.get(dir) else {
            return;
        };
        let Ok(i) = d.find(name) else {
            return;
        };
        self.len -= 1;
        let Some(d) = self.dirs.take(dir) else {
            return;
        };
        if d.len() > 1 {
            self.dirs.insert(d.removed(i));
        }
    }

    /// Every path at or under `prefix` (a directory).
    pub(super) fn subtree(&self, prefix: &Path) -> Vec<PathBuf> {
        let p = bytes(prefix);
        let mut below = p.to_vec();
        if !below.is_empty() {
            below.push(b'/');
        }
        let exact = self.dirs.get(p).filter(|_| !p.is_empty());
        let under = self
            .dirs
            .range::<[u8], _>((Bound::Included(&below[..]), Bound::Unbounded))
            .take_while(|d| d.path().starts_with(&below));
        exact
            .into_iter()
            .chain(under)
            .flat_map(Block::paths)
            .collect()
    }

    /// Every path.
    pub(super) fn paths(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.dirs.iter().flat_map(Block::paths)
    }

    /// Keeps the paths for which `keep` is true.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Path) -> bool) {
        let mut len = 0;
        self.dirs = std::mem::take(&mut self.dirs)
            .into_iter()
            .filter_map(|d| {
                let dir = path(d.path());
                let files: Vec<_> = d
                    .files()
                    .into_iter()
                    .filter(|(name, _)| keep(&dir.join(os(name))))
                    .collect();
                len += files.len();
                match files.len() {
                    0 => None,
                    n if n == d.len() => {
                        drop(files);
                        Some(d)
                    }
                    _ => Some(Block::build(d.path(), &files)),
                }
            })
            .collect();
        self.len = len;
    }

    /// The first directory after `after` (all of them when `None`) holding `Pending` files,
    /// whose names it puts in `names`, each ended by a NUL (so each is a C string for the
    /// system calls, and no name is an allocation of its own): the background hasher's unit
    /// of work.
    pub(super) fn next_pending(
        &self,
        after: Option<&Path>,
        names: &mut Vec<u8>,
    ) -> Option<PathBuf> {
        let lower = match after {
            Some(a) => Bound::Excluded(bytes(a)),
            None => Bound::Unbounded,
        };
        names.clear();
        self.dirs
            .range::<[u8], _>((lower, Bound::Unbounded))
            .find_map(|d| {
                for i in (0..d.len()).filter(|&i| d.slot(i) == Slot::PENDING) {
                    names.extend_from_slice(d.name(i));
                    names.push(0);
                }
                (!names.is_empty()).then(|| path(d.path()).to_path_buf())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split at the last `/` gives what `Path`'s parse gives, for plain paths and odd ones.
    #[test]
    fn a_path_splits_into_what_parent_and_file_name_give() {
        for p in [
            "a.rs",
            "src/a.rs",
            "src/sub/a.rs",
            "/abs/a.rs",
            "/a.rs",
            "src/",
            "src//a.rs",
            "src/./a.rs",
            "./a.rs",
            "src/.",
            "src/..",
            "../a.rs",
            "src/../a.rs",
            ".",
            "..",
            "",
            "/",
            ".hidden",
            "src/.hidden",
        ] {
            let rel = Path::new(p);
            let parsed = rel
                .parent()
                .zip(rel.file_name())
                .map(|(d, n)| (bytes(d), n.as_encoded_bytes()));
            assert_eq!(split(rel), parsed, "{p:?}");
        }
    }

    fn h(v: u64) -> Slot {
        Slot::Known(FileState::Hash(v))
    }

    #[test]
    fn set_get_remove_subtree_retain() {
        let mut t = FileTable::default();
        for p in [
            "b.rs",
            "a.rs",
            "src/z.rs",
            "src/a.rs",
            "src/sub/m.rs",
            "srcx/q.rs",
            "src b/c.rs",
        ] {
            t.set(Path::new(p), h(7));
        }
        t.set(Path::new("src/a.rs"), h(9));
        assert_eq!(t.len(), 7);
        assert_eq!(t.get(Path::new("src/a.rs")), Some(h(9)));
        assert_eq!(t.get(Path::new("src/b.rs")), None);
        let sub: Vec<String> = t
            .subtree(Path::new("src"))
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(sub, ["src/a.rs", "src/z.rs", "src/sub/m.rs"]);
        assert_eq!(t.subtree(Path::new("")).len(), 7);
        t.remove(Path::new("src/z.rs"));
        t.remove(Path::new("src/nope.rs"));
        assert_eq!(t.len(), 6);
        t.retain(|p| !p.starts_with("src") && !p.starts_with("src b"));
        let all: Vec<PathBuf> = t.paths().collect();
        assert_eq!(
            all,
            [
                PathBuf::from("a.rs"),
                PathBuf::from("b.rs"),
                PathBuf::from("srcx/q.rs")
            ]
        );
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn slots_round_trip_and_pending_is_filled_once() {
        let mut t = FileTable::default();
        for s in [
            Slot::Pending,
            Slot::Known(FileState::Unreadable),
            Slot::Known(FileState::Special),
            h(0),
            h(2),
            h(u64::MAX),
        ] {
            t.set(Path::new("d/f"), s);
            let got = t.get(Path::new("d/f")).unwrap();
            // 0, 1 and 2 are reserved; hashes there fold to 3.
            let folded = s == h(0) || s == h(2);
            assert_eq!(got, if folded { h(3) } else { s });
        }
        t.add_pending([Path::new("d/g"), Path::new("d/f")]);
        assert_eq!(t.get(Path::new("d/f")), Some(h(u64::MAX)));
        let mut names = Vec::new();
        let dir = t.next_pending(None, &mut names).unwrap();
        assert_eq!((dir.as_path(), &names[..]), (Path::new("d"), &b"g\0"[..]));
        assert_eq!(t.next_pending(Some(Path::new("d")), &mut names), None);
        let five = |n: &'static str| (n.as_bytes(), FileState::Hash(5));
        t.fill_pending(Path::new("d"), &[five("g"), five("f"), five("gone")]);
        assert_eq!(t.get(Path::new("d/g")), Some(h(5)));
        assert_eq!(t.get(Path::new("d/f")), Some(h(u64::MAX)));
        assert_eq!(t.len(), 2);
        assert_eq!(t.next_pending(None, &mut names), None);
    }

    #[test]
    fn a_directory_whose_names_pass_64_kib_keeps_every_name() {
        let mut t = FileTable::default();
        let name = |i: usize| format!("{i:0>200}");
        let rels: Vec<PathBuf> = (0..400).map(|i| Path::new("big").join(name(i))).collect();
        // The even ones in one run (40,000 bytes of names: 2-byte ends), then the odd ones
        // one at a time, past 64 KiB (4-byte ends) on the way.
        t.add_pending(rels.iter().step_by(2).map(PathBuf::as_path));
        for rel in rels.iter().skip(1).step_by(2) {
            t.set(rel, Slot::Pending);
        }
        t.set(&Path::new("big").join(name(7)), h(70));
        assert_eq!(t.len(), 400);
        for (i, rel) in rels.iter().enumerate() {
            let want = if i == 7 { h(70) } else { Slot::Pending };
            assert_eq!(t.get(rel), Some(want), "{}", rel.display());
        }
        for rel in &rels[..390] {
            t.remove(rel);
        }
        assert_eq!(t.paths().collect::<Vec<_>>(), rels[390..]);
    }

    /// One-byte name ends hold 255 bytes of names: the file that passes that rebuilds the
    /// block with two-byte ends, and every name before and after it is still found.
    #[test]
    fn a_directory_whose_names_pass_255_bytes_keeps_every_name() {
        let mut t = FileTable::default();
        let name = |i: usize| format!("{i:0>30}");
        let rels: Vec<PathBuf> = (0..20).map(|i| Path::new("d").join(name(i))).collect();
        // 8 names (240 bytes: one-byte ends), then one at a time past 255 bytes, in reverse
        // so each lands before the others and moves every end after it.
        t.add_pending(rels[..8].iter().map(PathBuf::as_path));
        for (i, rel) in rels.iter().enumerate().skip(8).rev() {
            t.set(rel, h(i as u64 + 3));
        }
        assert_eq!(t.len(), 20);
        for (i, rel) in rels.iter().enumerate() {
            let want = if i < 8 {
                Slot::Pending
            } else {
                h(i as u64 + 3)
            };
            assert_eq!(t.get(rel), Some(want), "{}", rel.display());
        }
        for rel in &rels[..15] {
            t.remove(rel);
        }
        assert_eq!(t.paths().collect::<Vec<_>>(), rels[15..]);
    }

    proptest::proptest! {
        /// A directory's one allocation stays in step with a plain map through any mix of
        /// inserts, replacements and removals, names of every length included.
        #[test]
        fn one_allocation_per_directory_agrees_with_a_map(
            ops in proptest::collection::vec((0u8..3, "[a-z]{0,6}", 3u64..1000), 0..60)
        ) {
            let mut t = FileTable::default();
            let mut model = std::collections::BTreeMap::new();
            for (op, name, v) in ops {
                let rel = PathBuf::from("d").join(format!("f{name}"));
                if op == 0 {
                    t.remove(&rel);
                    model.remove(&rel);
                } else {
                    t.set(&rel, h(v));
                    model.insert(rel, h(v));
                }
                proptest::prop_assert_eq!(t.len(), model.len());
            }
            let paths: Vec<PathBuf> = t.paths().collect();
            let want: Vec<PathBuf> = model.keys().cloned().collect();
            proptest::prop_assert_eq!(paths, want);
            for (rel, slot) in &model {
                proptest::prop_assert_eq!(t.get(rel), Some(*slot));
            }
        }

        /// Several directories (nested, with names that sort around `/`), walks that add
        /// runs of files, events that set and remove them, and background fills: the table
        /// agrees with a plain map of paths.
        #[test]
        fn the_table_agrees_with_a_map_across_directories(
            ops in proptest::collection::vec(
                (0u8..4, 0usize..5, proptest::collection::vec("[a-c]{0,2}", 1..4), 3u64..1000),
                0..60,
            )
        ) {
            const DIRS: [&str; 5] = ["", "d", "d/e", "d-e", "d.e/f"];
            let mut t = FileTable::default();
            let mut model = std::collections::BTreeMap::new();
            for (op, dir, names, v) in ops {
                let rels: Vec<PathBuf> = names
                    .iter()
                    .map(|n| Path::new(DIRS[dir]).join(format!("f{n}")))
                    .collect();
                match op {
                    0 => {
                        t.add_pending(rels.iter().map(PathBuf::as_path));
                        for rel in &rels {
                            model.entry(rel.clone()).or_insert(Slot::Pending);
                        }
                    }
                    1 => {
                        t.set(&rels[0], h(v));
                        model.insert(rels[0].clone(), h(v));
                    }
                    2 => {
                        t.remove(&rels[0]);
                        model.remove(&rels[0]);
                    }
                    _ => {
                        let files: Vec<(&[u8], FileState)> = rels
                            .iter()
                            .map(|r| {
                                let name = r.file_name().unwrap().as_encoded_bytes();
                                (name, FileState::Hash(v))
                            })
                            .collect();
                        t.fill_pending(Path::new(DIRS[dir]), &files);
                        for rel in &rels {
                            if let Some(s @ Slot::Pending) = model.get_mut(rel) {
                                *s = h(v);
                            }
                        }
                    }
                }
                proptest::prop_assert_eq!(t.len(), model.len());
            }
            let mut paths: Vec<PathBuf> = t.paths().collect();
            paths.sort();
            let want: Vec<PathBuf> = model.keys().cloned().collect();
            proptest::prop_assert_eq!(paths, want);
            for (rel, slot) in &model {
                proptest::prop_assert_eq!(t.get(rel), Some(*slot));
            }
            let mut under_d: Vec<PathBuf> = t.subtree(Path::new("d"));
            under_d.sort();
            let want: Vec<PathBuf> =
                model.keys().filter(|p| p.starts_with("d")).cloned().collect();
            proptest::prop_assert_eq!(under_d, want);
        }
    }
}
