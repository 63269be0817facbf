//! The tracked files and their baselines, stored compactly: one entry per directory holding
//! its file names packed into a single byte buffer, and each file's state packed into a `u64`.
//! A `PathBuf` per file (plus a map node) costs ~90 bytes; this costs ~12 bytes plus the name,
//! which is what keeps a 100,000-file tree's baseline at a couple of megabytes.

use std::collections::BTreeMap;
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

/// Files of one directory, sorted by name, in one allocation: the file count (`u32`), each
/// file's slot (`u64`), each name's end offset (`u32`), then the names, concatenated
/// (`OsStr::as_encoded_bytes`). On a tree of small directories (9 files each on the 100,000-file
/// bench) three vectors per directory cost more than the files' own bytes; one costs ~1/3 less.
#[derive(Debug, Default)]
struct Dir {
    buf: Vec<u8>,
}

const COUNT: usize = 4;

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_ne_bytes(b)
}

impl Dir {
    fn len(&self) -> usize {
        if self.buf.is_empty() {
            0
        } else {
            u32_at(&self.buf, 0) as usize
        }
    }

    fn slot_at(i: usize) -> usize {
        COUNT + 8 * i
    }

    fn slot(&self, i: usize) -> u64 {
        let at = Self::slot_at(i);
        let mut b = [0; 8];
        b.copy_from_slice(&self.buf[at..at + 8]);
        u64::from_ne_bytes(b)
    }

    fn set_slot(&mut self, i: usize, v: u64) {
        let at = Self::slot_at(i);
        self.buf[at..at + 8].copy_from_slice(&v.to_ne_bytes());
    }

    fn ends_at(&self) -> usize {
        COUNT + 8 * self.len()
    }

    fn names_at(&self) -> usize {
        COUNT + 12 * self.len()
    }

    fn end(&self, i: usize) -> usize {
        u32_at(&self.buf, self.ends_at() + 4 * i) as usize
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.end(i - 1) }
    }

    fn name(&self, i: usize) -> &[u8] {
        let names = self.names_at();
        &self.buf[names + self.start(i)..names + self.end(i)]
    }

    fn find(&self, name: &[u8]) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.name(mid).cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn set_len(&mut self, n: usize) {
        self.buf[..COUNT].copy_from_slice(&(n as u32).to_ne_bytes());
    }

    /// Adds `name` at `at` (from the back: each region's offsets stay valid until it is done).
    fn insert(&mut self, at: usize, name: &[u8], slot: u64) {
        if self.buf.is_empty() {
            self.buf.extend_from_slice(&0u32.to_ne_bytes());
        }
        let (n, start, names) = (self.len(), self.start(at), self.names_at());
        let p = names + start;
        self.buf.splice(p..p, name.iter().copied());
        let ends = self.ends_at();
        for i in at..n {
            let e = ends + 4 * i;
            let v = u32_at(&self.buf, e) + name.len() as u32;
            self.buf[e..e + 4].copy_from_slice(&v.to_ne_bytes());
        }
        let e = ends + 4 * at;
        let end = (start + name.len()) as u32;
        self.buf.splice(e..e, end.to_ne_bytes());
        let s = Self::slot_at(at);
        self.buf.splice(s..s, slot.to_ne_bytes());
        self.set_len(n + 1);
    }

    fn remove(&mut self, at: usize) {
        let (n, start, end, names) = (self.len(), self.start(at), self.end(at), self.names_at());
        let len = (end - start) as u32;
        self.buf.drain(names + start..names + end);
        let ends = self.ends_at();
        for i in at + 1..n {
            let e = ends + 4 * i;
            let v = u32_at(&self.buf, e) - len;
            self.buf[e..e + 4].copy_from_slice(&v.to_ne_bytes());
        }
        self.buf.drain(ends + 4 * at..ends + 4 * at + 4);
        let s = Self::slot_at(at);
        self.buf.drain(s..s + 8);
        self.set_len(n - 1);
    }
}

fn os(bytes: &[u8]) -> &OsStr {
    // SAFETY: every name was stored whole from `OsStr::as_encoded_bytes` in this process.
    unsafe { OsStr::from_encoded_bytes_unchecked(bytes) }
}

/// Relative path → [`Slot`].
#[derive(Debug, Default)]
pub(super) struct FileTable {
    /// Keyed by the relative directory's bytes (empty for the root): byte comparisons are
    /// several times cheaper than `Path`'s component-wise ones, and the directories under
    /// `d/` still form one contiguous range.
    dirs: BTreeMap<Box<[u8]>, Dir>,
    len: usize,
}

fn bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_encoded_bytes()
}

fn path(bytes: &[u8]) -> &Path {
    Path::new(os(bytes))
}

fn split(rel: &Path) -> Option<(&[u8], &[u8])> {
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
        self.upsert(dir, name, slot, true);
    }

    fn upsert(&mut self, dir: &[u8], name: &[u8], slot: Slot, replace: bool) {
        let d = match self.dirs.get_mut(dir) {
            Some(d) => d,
            None => self.dirs.entry(dir.into()).or_default(),
        };
        match d.find(name) {
            Ok(i) if replace => d.set_slot(i, slot.pack()),
            Ok(_) => {}
            Err(i) => {
                d.insert(i, name, slot.pack());
                self.len += 1;
            }
        }
    }

    /// Inserts `Pending` unless the path is already known.
    pub(super) fn add_pending(&mut self, rel: &Path) {
        if let Some((dir, name)) = split(rel) {
            self.upsert(dir, name, Slot::Pending, false);
        }
    }

    /// Sets `name` in `dir` to `state` only if it is still `Pending`: a baseline taken in the
    /// background never overwrites what an event established, nor revives a removed file.
    pub(super) fn fill_pending(&mut self, dir: &Path, name: &OsStr, state: FileState) {
        if let Some(d) = self.dirs.get_mut(bytes(dir))
            && let Ok(i) = d.find(name.as_encoded_bytes())
            && d.slot(i) == Slot::PENDING
        {
            d.set_slot(i, Slot::Known(state).pack());
        }
    }

    pub(super) fn remove(&mut self, rel: &Path) {
        let Some((dir, name)) = split(rel) else {
            return;
        };
        let Some(d) = self.dirs.get_mut(dir) else {
            return;
        };
        if let Ok(i) = d.find(name) {
            d.remove(i);
            self.len -= 1;
            if d.len() == 0 {
                self.dirs.remove(dir);
            }
        }
    }

    /// Every path at or under `prefix` (a directory).
    pub(super) fn subtree(&self, prefix: &Path) -> Vec<PathBuf> {
        let p = bytes(prefix);
        let mut below = p.to_vec();
        if !below.is_empty() {
            below.push(b'/');
        }
        let exact = self.dirs.get_key_value(p).filter(|_| !p.is_empty());
        let under = self
            .dirs
            .range::<[u8], _>((Bound::Included(&below[..]), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&below));
        exact
            .into_iter()
            .chain(under)
            .flat_map(|(dir, d)| (0..d.len()).map(move |i| path(dir).join(os(d.name(i)))))
            .collect()
    }

    /// Every path.
    pub(super) fn paths(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.dirs
            .iter()
            .flat_map(|(dir, d)| (0..d.len()).map(move |i| path(dir).join(os(d.name(i)))))
    }

    /// Keeps the paths for which `keep` is true.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Path) -> bool) {
        let mut len = 0;
        self.dirs.retain(|dir, d| {
            let mut i = 0;
            while i < d.len() {
                if keep(&path(dir).join(os(d.name(i)))) {
                    i += 1;
                } else {
                    d.remove(i);
                }
            }
            len += d.len();
            d.len() > 0
        });
        self.len = len;
    }

    /// The first directory after `after` (all of them when `None`) holding `Pending` files,
    /// with those files' names: the background hasher's unit of work.
    pub(super) fn next_pending(
        &self,
        after: Option<&Path>,
    ) -> Option<(PathBuf, Vec<std::ffi::OsString>)> {
        let lower = match after {
            Some(a) => Bound::Excluded(bytes(a)),
            None => Bound::Unbounded,
        };
        self.dirs
            .range::<[u8], _>((lower, Bound::Unbounded))
            .find_map(|(dir, d)| {
                let names: Vec<_> = (0..d.len())
                    .filter(|&i| d.slot(i) == Slot::PENDING)
                    .map(|i| os(d.name(i)).to_os_string())
                    .collect();
                (!names.is_empty()).then(|| (path(dir).to_path_buf(), names))
            })
    }

    /// Releases spare capacity (after a big walk).
    pub(super) fn shrink(&mut self) {
        for d in self.dirs.values_mut() {
            d.buf.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        t.add_pending(Path::new("d/g"));
        t.add_pending(Path::new("d/f"));
        assert_eq!(t.get(Path::new("d/f")), Some(h(u64::MAX)));
        let (dir, names) = t.next_pending(None).unwrap();
        assert_eq!(
            (dir.as_path(), names.as_slice()),
            (Path::new("d"), &["g".into()][..])
        );
        assert_eq!(t.next_pending(Some(Path::new("d"))), None);
        t.fill_pending(Path::new("d"), OsStr::new("g"), FileState::Hash(5));
        t.fill_pending(Path::new("d"), OsStr::new("f"), FileState::Hash(5));
        t.fill_pending(Path::new("d"), OsStr::new("gone"), FileState::Hash(5));
        assert_eq!(t.get(Path::new("d/g")), Some(h(5)));
        assert_eq!(t.get(Path::new("d/f")), Some(h(u64::MAX)));
        assert_eq!(t.len(), 2);
        assert_eq!(t.next_pending(None), None);
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
    }
}
