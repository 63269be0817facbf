//! Processes as `/proc` shows them: never by name, always by pid and process group.

/// The fields of `/proc/PID/stat` these tests need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    /// The command name, for messages only.
    pub comm: String,
    /// `R`, `S`, ..., `Z` for a zombie.
    pub state: char,
    pub ppid: i32,
    pub pgid: i32,
}

pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is parenthesised and may itself hold spaces or parentheses.
    let (head, rest) = text.rsplit_once(") ")?;
    let comm = head.split_once(" (")?.1.to_owned();
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    Some(Stat {
        pid,
        comm,
        state,
        ppid,
        pgid,
    })
}

/// Every process there is now.
pub fn all() -> Vec<Stat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(stat)
        .collect()
}

/// Live (not zombie) processes that are one of `pids` or in one of the groups `pgids`.
pub fn left(pids: &[i32], pgids: &[i32]) -> Vec<Stat> {
    all()
        .into_iter()
        .filter(|p| p.state != 'Z' && (pids.contains(&p.pid) || pgids.contains(&p.pgid)))
        .collect()
}

/// `pid` and every live process below it.
pub fn tree(pid: i32) -> Vec<Stat> {
    let all = all();
    let mut tree: Vec<Stat> = all.iter().filter(|p| p.pid == pid).cloned().collect();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i].pid;
        tree.extend(all.iter().filter(|p| p.ppid == parent).cloned());
        i += 1;
    }
    tree.retain(|p| p.state != 'Z');
    tree
}

#[test]
fn this_process_is_found_with_its_group() {
    let me = stat(std::process::id() as i32).expect("our own stat");
    // SAFETY: getpgrp has no preconditions.
    assert_eq!(me.pgid, unsafe { libc::getpgrp() });
    assert!(left(&[me.pid], &[]).iter().any(|p| p.pid == me.pid));
    assert!(tree(me.ppid).iter().any(|p| p.pid == me.pid));
}
