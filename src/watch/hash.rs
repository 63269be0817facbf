//! Content identity: a change is a change of bytes, never of timestamps, so a save that writes
//! the same bytes is not a change. (A `touch` is: the worker tells it by its events.)
//!
//! A content hash is the first 8 bytes of the file's git blob id (SHA-1 of `blob <len>\0` and
//! the bytes), so a hash read from git's index (`gitindex`) and one made here compare.

use std::ffi::CStr;
#[cfg(unix)]
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Seek};

use sha1::Digest;
use std::path::Path;
use std::time::SystemTime;

/// What the watcher remembers about a tracked file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileState {
    /// Readable, with this content hash (see [`blob_hash`]).
    Hash(u64),
    /// Exists but could not be read (permissions, ...): every event on it counts as a change,
    /// because nothing can prove it did not change.
    Unreadable,
    /// Not a regular file (a named pipe, a socket, a device): never opened, since opening a
    /// FIFO blocks until a writer comes and reading a device may never end. Only its presence
    /// counts: it appearing, going or turning into a regular file is a change, bytes through
    /// it are not.
    Special,
}

/// What is on disk now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Observed {
    File(FileState),
    /// Missing, or not a file (a directory took its place).
    Absent,
}

/// What a file that is not a regular file or a directory is, in words ("a named pipe"), for
/// `hot why` and `hot check`; `None` for a regular file or a directory.
pub(crate) fn special_kind(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() || file_type.is_dir() || file_type.is_symlink() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("a named pipe");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return Some("a device");
        }
    }
    Some("not a regular file")
}

/// What `hot why` says of `rel` when it is a named pipe, a socket or a device (through links):
/// that hot never opens it.
pub(crate) fn describe_special(root: &Path, rel: &Path) -> Option<String> {
    let kind = special_kind(std::fs::metadata(root.join(rel)).ok()?.file_type())?;
    Some(format!(
        "`{}` is {kind}: hot never opens it, so only its appearing or going counts as a \
         change, never what passes through it",
        crate::report::printable(&rel.to_string_lossy())
    ))
}

/// Reads and hashes `path`, following symlinks (a link to a file is that file's content).
/// Only regular files are read (see [`FileState::Special`]).
pub(super) fn observe(path: &Path, buf: &mut Vec<u8>) -> Observed {
    observe_modified(path, buf).0
}

/// [`observe`], with the file's modification time when it is a readable file (from the stat
/// the read makes anyway).
pub(super) fn observe_modified(path: &Path, buf: &mut Vec<u8>) -> (Observed, Option<SystemTime>) {
    match hash_file(path, buf) {
        Ok(Some((state, modified))) => (Observed::File(state), modified),
        Ok(None) => (Observed::Absent, None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (Observed::Absent, None),
        // A parent was replaced by a file, or a symlink loop: nothing readable is there.
        Err(e) if e.kind() == io::ErrorKind::NotADirectory || is_loop(&e) => {
            (Observed::Absent, None)
        }
        Err(_) => (Observed::File(FileState::Unreadable), None),
    }
}

#[cfg(unix)]
fn is_loop(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_loop(_: &io::Error) -> bool {
    false
}

/// A baseline taken while the watcher is already running (in the background, or after the
/// call that asked for it returned): `None` unless the file provably held the bytes read since
/// before `before`. The inode's ctime, read through the same descriptor *after* the read, is
/// the proof: every write, truncate, rename or link updates it, so a ctime older than `before`
/// means nothing changed the file from `before` until the read ended, and the hash is the
/// content it had at `before`. A newer ctime may mean the read saw an edit whose event is still
/// in flight; taking that as the baseline would hide the edit, so the file stays unhashed
/// (its next event is reported). Files that are missing or not regular also give `None`.
#[cfg(test)]
pub(super) fn baseline_since(
    path: &Path,
    buf: &mut Vec<u8>,
    before: SystemTime,
) -> Option<FileState> {
    baseline_of(open_nonblocking(path), buf, before)
}

/// How [`DirHandle`] opens a directory: `O_PATH` where it exists (no read access needed);
/// elsewhere (macOS) read-only, which the walk that lists the directory needs anyway.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
const DIR_HOLD: libc::c_int = libc::O_PATH;
#[cfg(all(
    unix,
    not(any(target_os = "linux", target_os = "android", target_os = "freebsd"))
))]
const DIR_HOLD: libc::c_int = libc::O_RDONLY;

/// A directory held open for [`baseline_in`]: each file's open then looks up one name, not
/// the whole path from the root (on a big tree that lookup was the hasher's largest cost).
pub(super) struct DirHandle {
    #[cfg(unix)]
    fd: Option<std::os::fd::OwnedFd>,
    path: std::path::PathBuf,
}

impl DirHandle {
    pub(super) fn open(path: std::path::PathBuf) -> DirHandle {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let fd = std::ffi::CString::new(path.as_os_str().as_bytes())
                .ok()
                .and_then(|c| {
                    // SAFETY: a valid C string; the descriptor returned is owned here.
                    let fd = unsafe {
                        libc::open(c.as_ptr(), DIR_HOLD | libc::O_DIRECTORY | libc::O_CLOEXEC)
                    };
                    use std::os::fd::FromRawFd;
                    // SAFETY: a descriptor just opened, owned by nobody else.
                    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
                });
            DirHandle { fd, path }
        }
        #[cfg(not(unix))]
        DirHandle { path }
    }

    /// Opens `name`, a C string (the hasher keeps a directory's names NUL-ended in one
    /// buffer: no allocation per file).
    fn open_file(&self, name: &CStr) -> io::Result<File> {
        #[cfg(unix)]
        if let Some(fd) = &self.fd {
            use std::os::fd::{AsRawFd, FromRawFd};
            // O_NONBLOCK: a FIFO put in a file's place must not block the open.
            // SAFETY: a valid directory descriptor and C string.
            let file = unsafe {
                libc::openat(
                    fd.as_raw_fd(),
                    name.as_ptr(),
                    libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK,
                )
            };
            if file < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: a descriptor just opened, owned by nobody else.
            return Ok(unsafe { File::from_raw_fd(file) });
        }
        File::open(self.path.join(os(name)))
    }
}

/// A name the hasher was given as a C string, as an `OsStr`.
fn os(name: &CStr) -> &std::ffi::OsStr {
    // SAFETY: the names are stored from `OsStr::as_encoded_bytes` in this process (a NUL
    // appended).
    unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(name.to_bytes()) }
}

impl DirHandle {
    /// The status of `name` itself (a symbolic link is not followed: git records a link as a
    /// link), without opening it.
    #[cfg(unix)]
    pub(super) fn lstat(&self, name: &CStr) -> Option<libc::stat> {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        let rc = match &self.fd {
            // SAFETY: a valid directory descriptor, C string and buffer.
            Some(fd) => unsafe {
                libc::fstatat(
                    fd.as_raw_fd(),
                    name.as_ptr(),
                    st.as_mut_ptr(),
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            },
            None => {
                let path = CString::new(self.path.join(os(name)).as_os_str().as_bytes()).ok()?;
                // SAFETY: a valid C string and buffer.
                unsafe { libc::lstat(path.as_ptr(), st.as_mut_ptr()) }
            }
        };
        // SAFETY: a successful call filled the buffer.
        (rc == 0).then(|| unsafe { st.assume_init() })
    }
}

/// The baseline of `name` in `dir`, under the rule of `baseline_since`.
pub(super) fn baseline_in(
    dir: &DirHandle,
    name: &CStr,
    buf: &mut Vec<u8>,
    before: SystemTime,
) -> Option<FileState> {
    baseline_of(dir.open_file(name), buf, before)
}

fn baseline_of(
    opened: io::Result<File>,
    buf: &mut Vec<u8>,
    before: SystemTime,
) -> Option<FileState> {
    let mut file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) if e.kind() == io::ErrorKind::NotADirectory || is_loop(&e) => return None,
        Err(_) => return Some(FileState::Unreadable),
    };
    // Five system calls a file (open, fstat, read, fstat, close), as this runs for every
    // tracked file of a big tree. The first fstat keeps anything but a regular file unread
    // (the walk recorded a file, but a FIFO or device may have taken its name since: the open
    // is non-blocking, a read of `/dev/zero` would not end). A short read is taken as the end,
    // and the fstat after it proves it (the length read is the file's length) besides giving
    // the ctime.
    let first = file.metadata().ok()?;
    if !first.is_file() {
        return (!first.is_dir()).then_some(FileState::Special);
    }
    if first.len() > MAX_READ {
        return Some(by_metadata(&first));
    }
    let mut blob = Blob::new(first.len());
    let mut read = blob.read(&mut file, buf, true);
    let mut meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    if read.is_ok() && meta.len() != blob.len() {
        read = blob.read(&mut file, buf, false);
        meta = file.metadata().ok()?;
    }
    if read.is_err() {
        return Some(FileState::Unreadable);
    }
    // A length other than the one hashed in the blob's header: the file changed during the
    // read (and its ctime says so too).
    let h = blob.finish()?;
    (ctime(&meta)? < before).then_some(FileState::Hash(h))
}

#[cfg(unix)]
pub(super) fn ctime(meta: &std::fs::Metadata) -> Option<SystemTime> {
    use std::os::unix::fs::MetadataExt;
    let secs = u64::try_from(meta.ctime()).ok()?;
    let nanos = u32::try_from(meta.ctime_nsec()).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::new(secs, nanos))
}

#[cfg(not(unix))]
fn ctime(_: &std::fs::Metadata) -> Option<SystemTime> {
    // No change time that writes are guaranteed to bump: never trust a background baseline.
    None
}

/// The content hash and modification time; `Ok(None)` when `path` is not a file.
///
/// The type is checked twice: by the path before opening (so a pipe or a device is never
/// opened at all: an open can block, or act, as on a tape), and on the descriptor before
/// reading, since the name may have been replaced in between; the open is non-blocking, so
/// a FIFO put there meanwhile cannot hang it either.
fn hash_file(
    path: &Path,
    buf: &mut Vec<u8>,
) -> io::Result<Option<(FileState, Option<SystemTime>)>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Ok(None);
    }
    if !meta.is_file() {
        return Ok(Some((FileState::Special, meta.modified().ok())));
    }
    let mut file = open_nonblocking(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Ok(None);
    }
    if !meta.is_file() {
        return Ok(Some((FileState::Special, meta.modified().ok())));
    }
    let state = hash_open(&mut file, buf)?;
    Ok(Some((state, meta.modified().ok())))
}

/// Opens for reading without blocking: on a FIFO an ordinary open waits for a writer.
fn open_nonblocking(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    options.open(path)
}

const CHUNK: usize = 64 * 1024;

/// Files longer than this are never read: their state is their length, modification time and
/// inode ([`by_metadata`]), so a same-bytes save of one counts as a change. Reading them held
/// every wave back: a 2 GB sparse file made in the tree delayed an unrelated edit by 14 s, a
/// 50 GB one by minutes. No source file comes near this size.
pub(super) const MAX_READ: u64 = 64 << 20;

/// The state of a file too long to read ([`MAX_READ`]): a hash of its length, modification
/// time and inode, so any write to it (which moves its modification time) is a change.
fn by_metadata(meta: &std::fs::Metadata) -> FileState {
    let mut sha = sha1::Sha1::new();
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default();
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    sha.update(format!("large {} {} {inode}", meta.len(), modified.as_nanos()).as_bytes());
    FileState::Hash(from_object_id(&sha.finalize()))
}

/// Reads attempted before a file that keeps changing while it is read counts as unreadable
/// (every event on it a change, which it is).
const ATTEMPTS: usize = 3;

fn hash_open(file: &mut File, buf: &mut Vec<u8>) -> io::Result<FileState> {
    let meta = file.metadata()?;
    if meta.len() > MAX_READ {
        return Ok(by_metadata(&meta));
    }
    for _ in 0..ATTEMPTS {
        let mut blob = Blob::new(file.metadata()?.len());
        blob.read(file, buf, false)?;
        if let Some(h) = blob.finish() {
            return Ok(FileState::Hash(h));
        }
        file.seek(io::SeekFrom::Start(0))?;
    }
    Ok(FileState::Unreadable)
}

/// The content hash of `bytes`: what [`observe`] gives for a file holding them.
#[cfg(test)]
pub(super) fn blob_hash(bytes: &[u8]) -> u64 {
    let mut blob = Blob::new(bytes.len() as u64);
    blob.sha.update(bytes);
    blob.total = bytes.len() as u64;
    blob.finish().expect("the length declared")
}

/// The watcher's hash of a git object id: its first 8 bytes.
pub(super) fn from_object_id(id: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&id[..8]);
    u64::from_be_bytes(first)
}

/// A git blob id fed as the file is read. Its header holds the length, so the length is
/// declared first (from `fstat`) and a read of any other length gives no hash.
struct Blob {
    sha: sha1::Sha1,
    declared: u64,
    total: u64,
}

impl Blob {
    fn new(len: u64) -> Blob {
        let mut sha = sha1::Sha1::new();
        sha.update(format!("blob {len}\0").as_bytes());
        Blob {
            sha,
            declared: len,
            total: 0,
        }
    }

    /// Reads to the end, or (`short_is_end`) to the first short read.
    fn read(&mut self, file: &mut File, buf: &mut Vec<u8>, short_is_end: bool) -> io::Result<()> {
        buf.resize(CHUNK, 0);
        loop {
            match file.read(&mut buf[..CHUNK]) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    self.sha.update(&buf[..n]);
                    self.total += n as u64;
                    if n < CHUNK && short_is_end {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn len(&self) -> u64 {
        self.total
    }

    /// `None` when the bytes read were not the length declared.
    fn finish(self) -> Option<u64> {
        (self.total == self.declared).then(|| from_object_id(&self.sha.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_bytes_equal_hash_and_absent_paths() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, "hello").unwrap();
        std::fs::write(&b, "hello").unwrap();
        assert_eq!(observe(&a, &mut buf), observe(&b, &mut buf));
        std::fs::write(&b, "hellp").unwrap();
        assert_ne!(observe(&a, &mut buf), observe(&b, &mut buf));
        // Large files span several chunks.
        let big = vec![7u8; 200_000];
        std::fs::write(&a, &big).unwrap();
        std::fs::write(&b, &big).unwrap();
        assert_eq!(observe(&a, &mut buf), observe(&b, &mut buf));
        assert_eq!(
            observe(&dir.path().join("nope"), &mut buf),
            Observed::Absent
        );
        assert_eq!(observe(dir.path(), &mut buf), Observed::Absent);
        assert_eq!(observe(&a.join("under-a-file"), &mut buf), Observed::Absent);
    }

    #[test]
    fn background_baseline_needs_an_old_ctime() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "x").unwrap();
        let mut buf = Vec::new();
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        let Observed::File(now) = observe(&a, &mut buf) else {
            panic!("a is a file")
        };
        assert_eq!(baseline_since(&a, &mut buf, later), Some(now));
        // Changed since `before`: no baseline.
        let earlier = SystemTime::now() - std::time::Duration::from_secs(60);
        assert_eq!(baseline_since(&a, &mut buf, earlier), None);
        assert_eq!(
            baseline_since(&dir.path().join("nope"), &mut buf, later),
            None
        );
        assert_eq!(baseline_since(dir.path(), &mut buf, later), None);
        let handle = DirHandle::open(dir.path().to_path_buf());
        assert_eq!(baseline_in(&handle, c"a", &mut buf, later), Some(now));
        assert_eq!(baseline_in(&handle, c"nope", &mut buf, later), None);
    }

    /// The baseline stops at the first short read: the same hash as a read to the end, for
    /// files of one chunk, exactly a chunk, and several.
    #[test]
    fn background_baseline_hashes_as_a_full_read_does() {
        let dir = tempfile::tempdir().unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        let mut buf = Vec::new();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let a = dir.path().join(format!("f{len}"));
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            std::fs::write(&a, &bytes).unwrap();
            let Observed::File(full) = observe(&a, &mut buf) else {
                panic!("a file")
            };
            assert_eq!(baseline_since(&a, &mut buf, later), Some(full), "{len}");
        }
    }

    /// Opening a FIFO for reading blocks until a writer comes: it must never be opened.
    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_device_is_special_and_never_read() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        let mut buf = Vec::new();
        let handle = DirHandle::open(dir.path().to_path_buf());
        for (name, c_name) in [("pipe", c"pipe"), ("zero", c"zero")] {
            let path = dir.path().join(name);
            assert_eq!(
                observe(&path, &mut buf),
                Observed::File(FileState::Special),
                "{name}"
            );
            assert_eq!(
                baseline_in(&handle, c_name, &mut buf, later),
                Some(FileState::Special),
                "{name}"
            );
        }
    }

    /// A 2 GB sparse file made in the tree was read to the end before the next wave (14 s):
    /// past [`MAX_READ`] a file is judged by its metadata, the same way when observed and in
    /// the baseline, and a write to it (a new modification time) is a change.
    #[cfg(unix)]
    #[test]
    fn a_file_past_max_read_was_read_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.img");
        let file = File::create(&path).unwrap();
        file.set_len(MAX_READ + 1).unwrap();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        file.set_modified(t).unwrap();
        let mut buf = Vec::new();
        let Observed::File(first) = observe(&path, &mut buf) else {
            panic!("a file")
        };
        assert_eq!(first, by_metadata(&std::fs::metadata(&path).unwrap()));
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        let handle = DirHandle::open(dir.path().to_path_buf());
        assert_eq!(
            baseline_in(&handle, c"disk.img", &mut buf, later),
            Some(first)
        );
        file.set_modified(t + std::time::Duration::from_secs(1))
            .unwrap();
        assert_ne!(observe(&path, &mut buf), Observed::File(first));
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_is_its_own_state() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("secret");
        std::fs::write(&a, "x").unwrap();
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o000)).unwrap();
        let got = observe(&a, &mut Vec::new());
        // Root reads anything; only assert the state when permissions really apply.
        if File::open(&a).is_err() {
            assert_eq!(got, Observed::File(FileState::Unreadable));
        }
    }
}
