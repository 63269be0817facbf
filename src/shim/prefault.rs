//! The spare's forked command process makes, while it waits, the pages its launch will write
//! its own.
//!
//! A forked process shares its memory with its parent until it writes: each write to a page of
//! its heap, stack or data is then a fault (the page copied), as is each write past the heap's
//! end. From reading its launch to its exec the command's process took ~26 faults, a few
//! microseconds each, on the path from a save to the command; about half were such writes.
//! Written here, before it blocks on its launch, they are off that path. The rest are its
//! code and read-only data, which a fork does not map either: mapping them all ahead (~1,900
//! pages of hot and its libraries) made the exec that much slower to unmap them, more than
//! their faults cost (`bench/steps.py`), so they still fault in on use.

use std::io::Read;

/// Heap past its end that the launch may take (its text, the environment's strings and the
/// exec's arrays): allocated, written and freed, so the allocator keeps it mapped (glibc gives
/// back only a free top larger than its trim threshold, 128 KiB).
const HEAP: usize = 32 * 1024;

/// Makes the pages the launch's path will write this process's own; errors are ignored (each
/// page then faults in on use, as before). Linux 5.14 and later: older kernels refuse the
/// `madvise` and nothing changes.
pub(super) fn prefault() {
    let mut block: Vec<u8> = Vec::with_capacity(HEAP);
    // SAFETY: writes within the capacity just allocated; the bytes are never read.
    unsafe { std::ptr::write_bytes(block.as_mut_ptr(), 1, HEAP) };
    drop(std::hint::black_box(block));
    let mut maps = String::new();
    if std::fs::File::open("/proc/self/maps")
        .and_then(|mut f| f.read_to_string(&mut maps))
        .is_err()
    {
        return;
    }
    for line in maps.lines() {
        let Some(range) = ahead(line) else {
            continue;
        };
        // SAFETY: populating a mapping this process holds (single-threaded: none goes away
        // meanwhile); it changes no byte, only which pages are its own now.
        unsafe {
            libc::madvise(
                range.0 as *mut libc::c_void,
                range.1 - range.0,
                libc::MADV_POPULATE_WRITE,
            );
        }
    }
}

/// An anonymous writable mapping up to this size is written (a library's zeroed data lies in
/// one); a bigger one is an allocator's or a stack's reserve, left.
const SMALL: usize = 256 << 10;

/// A writable file mapping (a library's data) or heap up to this size is written; a bigger one
/// is left (its copy would cost more than the faults it saves).
const BIG: usize = 4 << 20;

/// For one line of `/proc/self/maps`: the range to write ahead, if any: the heap, the stack,
/// the writable private mappings of files (data) and small anonymous ones. Code, read-only
/// data, shared mappings, reserves and the kernel's (`[vdso]`, `[vvar]`) are left.
fn ahead(line: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?.as_bytes();
    let path = fields.nth(3).unwrap_or("");
    let range = (
        usize::from_str_radix(start, 16).ok()?,
        usize::from_str_radix(end, 16).ok()?,
    );
    let size = range.1.checked_sub(range.0)?;
    let private_rw = perms.len() >= 4 && perms[..2] == *b"rw" && perms[3] == b'p';
    let write = match path {
        _ if !private_rw || size > BIG => false,
        "[heap]" | "[stack]" => true,
        "" => size <= SMALL,
        _ => !path.starts_with('['),
    };
    write.then_some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_launch_writes_is_written_ahead_and_nothing_else() {
        let cases = [
            ("5600-5700 r-xp 00002000 fd:00 12 /usr/bin/hot", false),
            ("5700-5800 r--p 00102000 fd:00 12 /usr/bin/hot", false),
            ("5800-5900 rw-p 00202000 fd:00 12 /usr/bin/hot", true),
            ("6000-7000 rw-p 00000000 00:00 0 [heap]", true),
            ("7ffc-7ffd rw-p 00000000 00:00 0 [stack]", true),
            ("7f00-7f10 rw-p 00000000 00:00 0", true),
            ("7f000000-7f100000 rw-p 00000000 00:00 0", false),
            ("10000000-20000000 rw-p 00000000 00:00 0 [heap]", false),
            ("7f10-7f20 ---p 00000000 00:00 0", false),
            ("7f20-7f30 r--p 00000000 00:00 0 [vvar]", false),
            ("7f30-7f40 r-xp 00000000 00:00 0 [vdso]", false),
            ("7f40-7f50 rw-s 00000000 fd:00 9 /dev/shm/x", false),
            ("garbage", false),
        ];
        for (line, want) in cases {
            assert_eq!(ahead(line).is_some(), want, "{line}");
        }
        assert_eq!(
            ahead("6000-7000 rw-p 00000000 00:00 0 [heap]"),
            Some((0x6000, 0x7000))
        );
    }
}
