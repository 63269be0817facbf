//! File systems that report only the edits made through this machine's mount: a network
//! share (NFS, SMB) or a VM's shared folder (9p: WSL's `/mnt` drives, a VM's host directory). An
//! edit made on the other side (the server, another machine, Windows, the VM's host) sends
//! no event, and hot cannot tell it from no edit at all, so the watcher says so once at start,
//! with the fix (`--poll`), as watchman does. Local file systems and FUSE ones (Docker's and
//! Lima's mounts forward their events) are never named.

use std::path::Path;

/// The kind of `dir`'s file system when it is one of those (`"NFS"`, `"9p"`, ...).
pub(super) fn remote(dir: &Path) -> Option<&'static str> {
    of(dir)
}

/// A kind by Linux's file system magic number (`statfs`'s `f_type`, linux/magic.h). Each
/// platform reads one of the two tables; both are tested everywhere.
#[allow(dead_code)]
fn by_magic(magic: u32) -> Option<&'static str> {
    Some(match magic {
        0x6969 => "NFS",
        0x517b | 0xff53_4d42 | 0xfe53_4d42 => "SMB",
        0x0102_1997 => "9p",
        0x5346_414f => "AFS",
        0x00c3_6400 => "Ceph",
        _ => return None,
    })
}

/// A kind by the BSDs' and macOS's file system type name (`f_fstypename`).
#[allow(dead_code)]
fn by_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "nfs" => "NFS",
        "smbfs" | "cifs" => "SMB",
        "p9fs" => "9p",
        "afpfs" => "AFP",
        "webdav" => "WebDAV",
        _ => return None,
    })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn of(dir: &Path) -> Option<&'static str> {
    let fs = rustix::fs::statfs(dir).ok()?;
    // Its width varies by target; the magic numbers are 32 bits.
    #[allow(clippy::unnecessary_cast)]
    by_magic(fs.f_type as u32)
}

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "netbsd"
))]
fn of(dir: &Path) -> Option<&'static str> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: a plain C struct, filled by the call below.
    #[cfg(not(target_os = "netbsd"))]
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a struct for the call to fill.
    #[cfg(not(target_os = "netbsd"))]
    let failed = unsafe { libc::statfs(path.as_ptr(), &mut fs) } != 0;
    // NetBSD names the type in `statvfs` only.
    // SAFETY: as above.
    #[cfg(target_os = "netbsd")]
    let mut fs: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    #[cfg(target_os = "netbsd")]
    let failed = unsafe { libc::statvfs(path.as_ptr(), &mut fs) } != 0;
    if failed {
        return None;
    }
    let name: Vec<u8> = fs
        .f_fstypename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    by_name(std::str::from_utf8(&name).ok()?)
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "netbsd"
)))]
fn of(_dir: &Path) -> Option<&'static str> {
    // No way to tell the file system's kind here: nothing is said.
    None
}

/// What the watcher tells once when the root is on such a file system and hot does not poll.
pub(super) fn warning(root: &Path, kind: &str) -> String {
    let elsewhere = if kind == "9p" {
        "(WSL's /mnt, a VM's shared folder): edits made on the other side (Windows, the VM's \
         host)"
    } else {
        "(a network share): edits made on another machine"
    };
    format!(
        "`{}` is on a {kind} file system {elsewhere} send no event and run nothing; if yours \
         are made there, run hot with `--poll`",
        root.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_and_shared_folder_kinds_are_named_and_local_ones_are_not() {
        // NFS, CIFS, SMB2, 9p; ext4, tmpfs, btrfs, overlayfs, FUSE.
        let magics = [0x6969, 0xff53_4d42, 0xfe53_4d42, 0x0102_1997];
        let named: Vec<_> = magics.into_iter().map(by_magic).collect();
        assert_eq!(named, [Some("NFS"), Some("SMB"), Some("SMB"), Some("9p")]);
        for local in [0xef53, 0x0102_1994, 0x9123_683e, 0x794c_7630, 0x6573_5546] {
            assert_eq!(by_magic(local), None, "{local:#x}");
        }
        assert_eq!(by_name("nfs"), Some("NFS"));
        assert_eq!(by_name("smbfs"), Some("SMB"));
        for local in ["apfs", "hfs", "ufs", "zfs", "tmpfs", "fusefs", "msdos"] {
            assert_eq!(by_name(local), None, "{local}");
        }
    }

    /// The test's own directory is on a local file system (a temporary directory).
    #[test]
    fn a_local_directory_is_not_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(remote(dir.path()), None);
    }
}
