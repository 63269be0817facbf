//! A version-control operation in progress: while git holds its index lock, or runs a
//! sequence of steps (a rebase, `git am`, a cherry-pick or revert of a range), a burst is
//! held, so a checkout or a rebase of thousands of files is one wave on the final tree.
//!
//! The git directory is looked at (a few `stat`s) only when a burst is due to close, and every
//! [`RECHECK`] while it holds one: `.git/` is never watched. A sequence's state directory
//! (`rebase-merge/`, `rebase-apply/`, `sequencer/`) lasts from its first step to its last, and
//! also while git waits for the user (a conflict, `edit`, `break`): those stops are told by the
//! marks git leaves for them (`rebase-merge/stopped-sha` and `REBASE_HEAD`, a last `done` line
//! `break`, `REVERT_HEAD`, and a `CHERRY_PICK_HEAD` no older than `sequencer/abort-safety`: a
//! clean pick writes `CHERRY_PICK_HEAD` too, for a moment, before its commit), and the wave
//! runs at once. A stop git marks nowhere (`git am` on a patch that does not apply, a failed
//! `exec`, a git killed) is told by the lack of progress: a running sequence changes the git
//! directory (its index, its lock, `logs/HEAD`) every step, so one that changed nothing for
//! [`STALL`] has stopped. Watchman defers its triggers on the index lock alone and lets its
//! settle period span a rebase's steps; that period would have to outlast the longest gap
//! between two steps on a loaded machine, where this rule needs no guess.
//!
//! Git also holds its lock, or its sequence, while it waits for the user to write a message:
//! `git commit -a` (or with paths) keeps the index lock while its editor is open, `git rebase
//! -i` has its sequence directory while the todo list is edited. Saves made meanwhile run at
//! once: git writes the message file (`COMMIT_EDITMSG`, `MERGE_MSG`, `TAG_EDITMSG`; the todo
//! list with no step `done`) after it has written the work tree (after the pre-commit hook,
//! whose writes are held) and before it opens the editor, so a lock older than a message
//! file, or a todo list newer than the index, waits for the user. The two may fall in one
//! tick of the file system's clock (a few ms); then a git waiting for its editor tells
//! (Linux), and elsewhere the hold goes on as before. These marks work where `/proc` does not.
//!
//! A lock that holds a burst for [`HOLD_MAX`] with no file changing (one a crashed git left
//! behind) is reported once and no longer holds anything; a checkout still writing files is
//! never taken for stale, however slow. Those bounds are guesses about git's speed, which a
//! loaded machine defeats (a rebase at load 34 went past both), so before a lock is taken for
//! stale or a sequence for stopped, hot looks whether a git process still runs in the work tree
//! (Linux: `/proc`, at most every [`RUNNING_RECHECK`]): while one does, the hold goes on, up
//! to [`RUN_MAX`] with no change to the files or the git directory, after which hot says so
//! (a warning) and runs the changes. Elsewhere the bounds alone decide. A git waiting for a
//! child that is not git (an editor, a pager such as `git log`'s, a hook) is not writing and
//! does not count, but for a rebase's `exec` step, part of the sequence; nor do the gits hot's
//! own tasks start (a task running `git diff`): they descend from hot's process.

use std::fs::Metadata;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// How often a held burst looks at the git directory again: the delay a checkout's wave gets
/// beyond the quiet window.
pub(super) const RECHECK: Duration = Duration::from_millis(5);

/// The longest a burst is held for one lock with no file changing (by default;
/// `Tuning::vcs_hold_max`). A checkout writes files the whole time it holds the lock, so a
/// lock this quiet is most likely stale.
pub(super) const HOLD_MAX: Duration = Duration::from_secs(10);

/// How long a sequence may change nothing in the git directory before it counts as stopped
/// (by default; `Tuning::vcs_stall`): a step takes milliseconds of git's time, so even a
/// machine loaded many times over shows progress well within it; only the stops git marks
/// nowhere wait for it.
pub(super) const STALL: Duration = Duration::from_secs(1);

/// The longest a hold rests on a running git alone (by default; `Tuning::vcs_run_max`): past
/// [`HOLD_MAX`] of quiet files for a lock, or [`STALL`] without progress for a sequence. Long
/// beside any step on a loaded machine, short beside a prompt left waiting (an editor is told
/// apart: see the module).
pub(super) const RUN_MAX: Duration = Duration::from_secs(60);

/// How often the processes are looked at while a hold rests on a running git: a scan of
/// `/proc` costs a few hundred small reads.
pub(super) const RUNNING_RECHECK: Duration = Duration::from_millis(250);

/// The git directory of the repository the project is in.
#[derive(Debug)]
pub(super) struct Git {
    dir: PathBuf,
    /// The top of the work tree, canonical (as a process's `/proc` cwd reads).
    top: PathBuf,
    /// The modification time of a lock that held a burst for `hold_max`: that lock no
    /// longer holds anything (a new lock, with a new time, does).
    stale: Option<SystemTime>,
    hold_max: Duration,
    stall: Duration,
    /// What the git directory looked like at the last look, and since when.
    progress: Option<(Stamp, Instant)>,
    run_max: Duration,
    /// Since when the hold rests on a running git alone; `Err` once that went on for
    /// `run_max` (said once), until git shows progress again.
    leaning: Option<Result<Instant, ()>>,
    /// The last look at the processes: when, the gits it found in the work tree (each with
    /// whether it waits for a child of its own), and those of the look before, if any.
    processes: Option<(Instant, Vec<Proc>, Option<Vec<Proc>>)>,
    /// The process hot runs in: the gits its own tasks start are not the user's operations.
    own: u32,
}

/// A git process in the work tree, and whether it waits for a child of its own that is not
/// git (an editor, a pager, a hook, a rebase's `exec`) rather than writing anything itself.
type Proc = (u32, bool);

/// The message files git writes once it has written the work tree, before it opens an editor
/// on them: a lock no newer than one of them is held by a git waiting for the user.
const MESSAGES: [&str; 3] = ["COMMIT_EDITMSG", "MERGE_MSG", "TAG_EDITMSG"];

/// What git's message files say about an operation that wrote something at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waits {
    /// A message was written after it: git waits for its editor.
    Yes,
    /// Nothing was written after it: git works.
    No,
    /// Written in the same tick of the file system's clock (a few ms): the order is not told.
    Tie,
}

/// What a look at the git directory says when a burst is due.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Lock {
    /// No operation in progress (or only a stale lock, or a sequence stopped for the user).
    Free,
    /// An operation holds the index.
    Held,
    /// A sequence runs, between two of its steps.
    Sequence,
}

/// The sequences git runs step by step, by their state directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sequence {
    /// `rebase-merge/`: `git rebase` (the default backend, `-i` included).
    Rebase,
    /// `rebase-apply/`: `git am`, `git rebase --apply`.
    Apply,
    /// `sequencer/`: `git cherry-pick` or `git revert` of several commits.
    Picks,
}

const SEQUENCES: [(&str, Sequence); 3] = [
    ("rebase-merge", Sequence::Rebase),
    ("rebase-apply", Sequence::Apply),
    ("sequencer", Sequence::Picks),
];

/// One file's identity and times: a file git replaced (a new inode), rewrote or grew.
type FileStamp = Option<(u64, u64, SystemTime)>;

/// The files a step of any sequence changes: the git directory itself (its lock comes and
/// goes), the sequence's directory, the index (replaced by each step that touches the tree)
/// and `logs/HEAD` (a line per commit).
type Stamp = [FileStamp; 4];

fn file_stamp(meta: Option<&Metadata>) -> FileStamp {
    let meta = meta?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let ino = 0;
    Some((
        ino,
        meta.len(),
        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    ))
}

/// The git directory of the repository `root` is in and the top of its work tree: the nearest
/// `.git` from `root` up, a directory or (worktrees, submodules) a file saying `gitdir: PATH`.
pub(super) fn locate(root: &Path) -> Option<(PathBuf, PathBuf)> {
    let dot = root
        .ancestors()
        .map(|d| d.join(".git"))
        .find(|p| p.exists())?;
    let top = dot.parent()?.to_path_buf();
    let dir = if dot.is_dir() {
        dot
    } else {
        let text = std::fs::read_to_string(&dot).ok()?;
        let target = text.lines().next()?.strip_prefix("gitdir:")?.trim();
        // A relative pointer is relative to the directory holding the `.git` file.
        top.join(target)
    };
    Some((dir, top))
}

impl Git {
    /// The git directory of the repository `root` is in (see [`locate`]). `now`: what the
    /// git directory holds now counts as unchanged since then (a sequence left behind by a
    /// git killed before hot started holds nothing).
    pub(super) fn find(
        root: &Path,
        (hold_max, stall, run_max): (Duration, Duration, Duration),
        now: Instant,
    ) -> Option<Git> {
        let (dir, top) = locate(root)?;
        let mut git = Git {
            dir,
            top: top.canonicalize().unwrap_or(top),
            stale: None,
            hold_max,
            stall,
            progress: None,
            run_max,
            leaning: None,
            processes: None,
            own: std::process::id(),
        };
        let since = now.checked_sub(stall).unwrap_or(now);
        git.progress = Some((git.stamp(git.found().as_ref()), since));
        Some(git)
    }

    /// The lock git takes while it changes the index and the work tree.
    pub(super) fn lock_path(&self) -> PathBuf {
        self.dir.join("index.lock")
    }

    /// Whether an operation holds the index or runs a sequence at `now`. `quiet_for`: how
    /// long the burst has been held with no file changing; past `hold_max` a lock is taken
    /// as stale and the warning to give (once per lock) comes along.
    pub(super) fn look(&mut self, now: Instant, quiet_for: Duration) -> (Lock, Option<String>) {
        match self.index_lock(now, quiet_for) {
            Ok(Lock::Held) => {
                // A lock is progress: the step after it is measured from here.
                if let Some((_, since)) = &mut self.progress {
                    *since = now;
                }
                (Lock::Held, None)
            }
            Ok(_) => self.sequence(now, None),
            Err(warning) => self.sequence(now, Some(warning)),
        }
    }

    fn index_lock(&mut self, now: Instant, quiet_for: Duration) -> Result<Lock, String> {
        let Ok(meta) = std::fs::metadata(self.lock_path()) else {
            self.stale = None;
            return Ok(Lock::Free);
        };
        let stamp = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if self.stale == Some(stamp) {
            return Ok(Lock::Free);
        }
        if self.waits_after(stamp, &MESSAGES, now) {
            // `git commit -a` with its editor open: it wrote what it writes (its pre-commit
            // hook ran before the message was written), and now waits for the user.
            self.leaning = None;
            return Ok(Lock::Free);
        }
        if quiet_for < self.hold_max {
            self.leaning = None;
            return Ok(Lock::Held);
        }
        match self.still_running(now, true) {
            Ok(true) => return Ok(Lock::Held),
            Ok(false) => {}
            Err(warning) => {
                self.stale = Some(stamp);
                return Err(warning);
            }
        }
        self.stale = Some(stamp);
        Err(format!(
            "`{}` has held hot's changes for {:.1} s with no file changing, so hot stopped \
             waiting for git to finish and ran the changes; if no git command is running, a crashed one left it behind: \
             remove it (`rm {}`), as git itself will ask",
            self.lock_path().display(),
            self.hold_max.as_secs_f64(),
            self.lock_path().display()
        ))
    }

    /// A sequence under way that neither stopped for the user nor stalled (or still runs):
    /// `Sequence`. `warning`: the lock's, passed on unless this one has its own.
    fn sequence(&mut self, now: Instant, warning: Option<String>) -> (Lock, Option<String>) {
        let found = self.found();
        let stamp = self.stamp(found.as_ref());
        let since = match &self.progress {
            Some((seen, since)) if *seen == stamp => *since,
            _ => now,
        };
        self.progress = Some((stamp, since));
        let Some((_, kind)) = found else {
            return (Lock::Free, warning);
        };
        if self.stopped(kind) || self.todo_edited(kind, now) {
            return (Lock::Free, warning);
        }
        if now.saturating_duration_since(since) < self.stall {
            self.leaning = None;
            return (Lock::Sequence, warning);
        }
        // A rebase's `exec` step is a child git waits for that is part of the sequence.
        let exec = kind == Sequence::Rebase
            && last_line(&self.dir.join("rebase-merge/done")).is_some_and(|l| {
                let command = l.split_whitespace().next().unwrap_or_default();
                command == "exec" || command == "x"
            });
        match self.still_running(now, !exec) {
            Ok(true) => (Lock::Sequence, warning),
            Ok(false) => (Lock::Free, warning),
            Err(capped) => (Lock::Free, warning.or(Some(capped))),
        }
    }

    /// Whether a git process still runs in the work tree, now that the hold rests on that
    /// alone; `Err(warning)` the first time that has lasted `run_max`, and no longer holds.
    /// `children_wait`: a git waiting for a child that is not git (an editor, a pager) does
    /// not count.
    fn still_running(&mut self, now: Instant, children_wait: bool) -> Result<bool, String> {
        let since = match self.leaning {
            Some(Ok(since)) => since,
            Some(Err(())) => return Ok(false),
            None => now,
        };
        let (_, gits, before) = self.look_at_processes(now);
        let counts = |(pid, waits): &Proc| (!children_wait || !waits).then_some(*pid);
        // A git seen at the last look too: not one of the short ones an editor's git
        // integration runs all the time (`git status`), which would hold up to `run_max` a
        // stop that git marks nowhere.
        let runs = gits.iter().filter_map(counts).any(|pid| {
            before
                .as_ref()
                .is_none_or(|before| before.iter().filter_map(counts).any(|p| p == pid))
        });
        if !runs {
            self.leaning = None;
            self.processes = None;
            return Ok(false);
        }
        if now.saturating_duration_since(since) < self.run_max {
            self.leaning = Some(Ok(since));
            return Ok(true);
        }
        self.leaning = Some(Err(()));
        Err(format!(
            "git still runs in `{}` but changed nothing hot could see for {:.1} s, so hot \
             stopped holding the changes for it and ran them; if it waits for you (a prompt), \
             finish or abort it",
            self.top.display(),
            self.run_max.as_secs_f64()
        ))
    }

    /// The gits in the work tree, looked at again at most every [`RUNNING_RECHECK`].
    fn look_at_processes(&mut self, now: Instant) -> &(Instant, Vec<Proc>, Option<Vec<Proc>>) {
        let before = match self.processes.take() {
            Some(last) if now.saturating_duration_since(last.0) < RUNNING_RECHECK => {
                return self.processes.insert(last);
            }
            last => last.map(|(_, gits, _)| gits),
        };
        self.processes
            .insert((now, gits_in(&self.top, self.own), before))
    }

    /// Whether git waits for the user on one of `messages` (in the git directory), written
    /// after `written` (the time the operation last wrote its lock or the index): git writes
    /// the message once it has written the work tree, and then opens the editor. When both
    /// fall in one tick of the file system's clock (a few ms), a git in the work tree waiting
    /// for a child tells (Linux); elsewhere the hold goes on.
    fn waits_after(&mut self, written: SystemTime, messages: &[&str], now: Instant) -> bool {
        match message_after(&self.dir, written, messages) {
            Waits::Yes => true,
            Waits::No => false,
            Waits::Tie => {
                let (_, gits, _) = self.look_at_processes(now);
                gits.iter().any(|(_, waits)| *waits)
            }
        }
    }

    /// Whether `git rebase -i` waits for its todo list to be edited: no step has run and the
    /// list was written after the index (which the checkout that starts the steps writes
    /// again, after the list).
    fn todo_edited(&mut self, kind: Sequence, now: Instant) -> bool {
        if kind != Sequence::Rebase || self.dir.join("rebase-merge/done").exists() {
            return false;
        }
        let Ok(index) = std::fs::metadata(self.dir.join("index")).and_then(|m| m.modified()) else {
            return false;
        };
        self.waits_after(index, &["rebase-merge/git-rebase-todo"], now)
    }

    /// The sequence under way, by its state directory.
    fn found(&self) -> Option<(Metadata, Sequence)> {
        SEQUENCES.iter().find_map(|(name, kind)| {
            let meta = std::fs::metadata(self.dir.join(name)).ok()?;
            meta.is_dir().then_some((meta, *kind))
        })
    }

    fn stamp(&self, sequence: Option<&(Metadata, Sequence)>) -> Stamp {
        let meta = |name: &str| std::fs::metadata(self.dir.join(name)).ok();
        [
            file_stamp(meta("").as_ref()),
            file_stamp(sequence.map(|(m, _)| m)),
            file_stamp(meta("index").as_ref()),
            file_stamp(meta("logs/HEAD").as_ref()),
        ]
    }

    /// Whether `kind` stopped for the user, by the marks git leaves for that (see the module).
    fn stopped(&self, kind: Sequence) -> bool {
        let path = |name: &str| self.dir.join(name);
        match kind {
            Sequence::Rebase => {
                path("rebase-merge/stopped-sha").exists()
                    || path("REBASE_HEAD").exists()
                    || last_line(&path("rebase-merge/done")).is_some_and(|l| {
                        let command = l.split_whitespace().next().unwrap_or_default();
                        command == "break" || command == "b"
                    })
            }
            // `git rebase --apply` writes `REBASE_HEAD` at each patch: only stalls tell.
            Sequence::Apply => false,
            Sequence::Picks => {
                let modified = |name: &str| {
                    std::fs::metadata(path(name))
                        .and_then(|m| m.modified())
                        .ok()
                };
                path("REVERT_HEAD").exists()
                    || modified("CHERRY_PICK_HEAD").is_some_and(|pick| {
                        // Written after the pick: a conflict (or an empty pick) stopped it.
                        modified("sequencer/abort-safety").is_some_and(|safety| safety >= pick)
                    })
            }
        }
    }
}

/// The processes of git (`git`, `git-…`) whose working directory is in `top` (git enters
/// the top of the work tree before it changes anything there), but for those `own` (hot's
/// process) started, each with whether it waits for a child that is not git, or for a git
/// child that waits. Other users' processes are not readable, nor are they this user's
/// operations. One read of `stat` per process (its name and parent), and of `cwd` per git.
#[cfg(target_os = "linux")]
fn gits_in(top: &Path, own: u32) -> Vec<Proc> {
    use std::collections::HashMap;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    // pid -> (parent, is git)
    let processes: HashMap<u32, (u32, bool)> = entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read(entry.path().join("stat")).ok()?;
            Some((pid, parse_stat(&stat)?))
        })
        .collect();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, &(parent, _)) in &processes {
        children.entry(parent).or_default().push(pid);
    }
    let is_git = |pid: &u32| processes.get(pid).is_some_and(|(_, git)| *git);
    // Bounded: a pid reused while the table was read could make a loop.
    let ours = |pid: u32| {
        std::iter::successors(Some(pid), |p| processes.get(p).map(|(parent, _)| *parent))
            .take(processes.len() + 1)
            .any(|p| p == own)
    };
    fn waits(
        pid: u32,
        children: &HashMap<u32, Vec<u32>>,
        is_git: &dyn Fn(&u32) -> bool,
        depth: u8,
    ) -> bool {
        children.get(&pid).is_some_and(|kids| {
            kids.iter()
                .any(|kid| !is_git(kid) || (depth < 8 && waits(*kid, children, is_git, depth + 1)))
        })
    }
    processes
        .iter()
        .filter(|(pid, (_, git))| {
            *git && std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|cwd| cwd.starts_with(top))
                && !ours(**pid)
        })
        .map(|(&pid, _)| (pid, waits(pid, &children, &is_git, 0)))
        .collect()
}

/// The parent and whether the process is git, from `/proc/PID/stat`: `pid (comm) state ppid
/// …`, where comm may hold spaces and parentheses (hence the last `)`).
#[cfg(target_os = "linux")]
fn parse_stat(stat: &[u8]) -> Option<(u32, bool)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let name = stat.get(open + 1..close)?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let parent = rest.split_whitespace().nth(1)?.parse().ok()?;
    Some((parent, name == b"git" || name.starts_with(b"git-")))
}

/// Without `/proc` no process is looked at: the bounds and git's marks alone decide.
#[cfg(not(target_os = "linux"))]
fn gits_in(_top: &Path, _own: u32) -> Vec<Proc> {
    Vec::new()
}

/// Whether the newest of `messages` (in `dir`) was written after `written`.
fn message_after(dir: &Path, written: SystemTime, messages: &[&str]) -> Waits {
    let newest = messages
        .iter()
        .filter_map(|name| {
            std::fs::metadata(dir.join(name))
                .and_then(|m| m.modified())
                .ok()
        })
        .max();
    match newest {
        Some(message) if message > written => Waits::Yes,
        Some(message) if message == written => Waits::Tie,
        _ => Waits::No,
    }
}

/// The last line of a file that may be long (`done` lists every step so far): its tail only.
fn last_line(path: &Path) -> Option<String> {
    const TAIL: u64 = 512;
    // Only a regular file is opened (a FIFO would block the watcher).
    if !std::fs::symlink_metadata(path).ok()?.is_file() {
        return None;
    }
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL))).ok()?;
    let mut tail = Vec::with_capacity(TAIL as usize);
    file.take(TAIL).read_to_end(&mut tail).ok()?;
    let text = String::from_utf8_lossy(&tail);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn find(root: &Path) -> Git {
        Git::find(root, (HOLD_MAX, STALL, RUN_MAX), Instant::now()).unwrap()
    }

    #[test]
    fn the_git_dir_is_found_above_the_root_and_through_a_gitdir_file() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        fs::create_dir_all(repo.join(".git")).unwrap();
        fs::create_dir_all(repo.join("sub/project")).unwrap();
        let git = find(&repo.join("sub/project"));
        assert_eq!(git.lock_path(), repo.join(".git/index.lock"));

        // A worktree (or a submodule): `.git` is a file pointing at its own git directory.
        let wt = tmp.path().join("wt");
        fs::create_dir_all(&wt).unwrap();
        fs::write(wt.join(".git"), "gitdir: ../repo/.git/worktrees/wt\n").unwrap();
        let git = find(&wt);
        assert_eq!(
            git.lock_path(),
            wt.join("../repo/.git/worktrees/wt/index.lock")
        );
    }

    #[test]
    fn a_stale_index_lock_holds_once_then_never_again_until_a_new_one() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join(".git")).unwrap();
        let mut git = find(tmp.path());
        let now = Instant::now();
        assert_eq!(git.look(now, Duration::ZERO), (Lock::Free, None));
        fs::write(git.lock_path(), "").unwrap();
        assert_eq!(git.look(now, Duration::ZERO), (Lock::Held, None));
        let (lock, warning) = git.look(now, HOLD_MAX);
        assert_eq!(lock, Lock::Free);
        assert!(warning.unwrap().contains("rm "));
        assert_eq!(
            git.look(now, Duration::ZERO),
            (Lock::Free, None),
            "warned once, then free"
        );
        fs::remove_file(git.lock_path()).unwrap();
        assert_eq!(git.look(now, Duration::ZERO), (Lock::Free, None));
        fs::write(git.lock_path(), "").unwrap();
        assert_eq!(
            git.look(now, Duration::ZERO),
            (Lock::Held, None),
            "a new lock holds"
        );
    }

    /// A git directory with `dir` (a sequence's state directory) in it.
    fn sequence(dir: &str) -> (tempfile::TempDir, Git) {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join(".git")).unwrap();
        let git = find(tmp.path());
        fs::create_dir_all(tmp.path().join(".git").join(dir)).unwrap();
        (tmp, git)
    }

    /// The defect: between two steps of a rebase git holds no lock, and a loaded machine made
    /// that gap longer than the 50 ms hot waited for the next step: a rebase was two waves.
    /// A sequence holds as long as it makes progress, however slow each step.
    #[test]
    fn a_rebase_between_two_steps_held_nothing_past_a_fixed_grace() {
        let (tmp, mut git) = sequence("rebase-merge");
        let dot = tmp.path().join(".git");
        let t0 = Instant::now();
        assert_eq!(git.look(t0, Duration::ZERO).0, Lock::Sequence);
        // Each step changes the git directory: held for as long as the steps go on.
        for step in 1..=5u64 {
            fs::write(
                dot.join("rebase-merge/done"),
                "pick 1 a\n".repeat(step as usize),
            )
            .unwrap();
            fs::write(dot.join("index.lock"), "").unwrap();
            fs::rename(dot.join("index.lock"), dot.join("index")).unwrap();
            let at = t0 + STALL * (step as u32) - Duration::from_millis(1);
            assert_eq!(git.look(at, Duration::ZERO).0, Lock::Sequence, "{step}");
        }
        // No progress for `STALL` (a git killed, a failed `exec`): it holds nothing.
        let last = t0 + STALL * 5 - Duration::from_millis(1);
        assert_eq!(git.look(last + STALL, Duration::ZERO).0, Lock::Free);
        // It ends.
        fs::remove_dir_all(dot.join("rebase-merge")).unwrap();
        assert_eq!(git.look(last + STALL, Duration::ZERO).0, Lock::Free);
    }

    #[test]
    fn a_rebase_stopped_for_the_user_holds_nothing_at_once() {
        let now = Instant::now();
        for mark in ["rebase-merge/stopped-sha", "REBASE_HEAD"] {
            let (tmp, mut git) = sequence("rebase-merge");
            assert_eq!(git.look(now, Duration::ZERO).0, Lock::Sequence, "{mark}");
            fs::write(tmp.path().join(".git").join(mark), "1234\n").unwrap();
            assert_eq!(git.look(now, Duration::ZERO).0, Lock::Free, "{mark}");
        }
        // `break`: the last line of `done`, and nothing else.
        let (tmp, mut git) = sequence("rebase-merge");
        let done = tmp.path().join(".git/rebase-merge/done");
        let picks = "pick 0123 a long subject\n".repeat(100);
        fs::write(&done, format!("{picks}pick 4567 b\n")).unwrap();
        assert_eq!(git.look(now, Duration::ZERO).0, Lock::Sequence);
        fs::write(&done, format!("{picks}break\n")).unwrap();
        assert_eq!(git.look(now, Duration::ZERO).0, Lock::Free);
    }

    #[test]
    fn a_range_of_picks_stopped_on_a_conflict_holds_nothing_but_a_clean_pick_does() {
        let now = Instant::now();
        let (tmp, mut git) = sequence("sequencer");
        let dot = tmp.path().join(".git");
        fs::write(dot.join("sequencer/abort-safety"), "1\n").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        // A clean pick writes `CHERRY_PICK_HEAD` for its commit, which removes it.
        fs::write(dot.join("CHERRY_PICK_HEAD"), "2\n").unwrap();
        assert_eq!(git.look(now, Duration::ZERO).0, Lock::Sequence);
        // A conflict leaves it, and `abort-safety` is written after it.
        fs::write(dot.join("sequencer/abort-safety"), "2\n").unwrap();
        assert_eq!(git.look(now, Duration::ZERO).0, Lock::Free);
        // A revert's conflict.
        let (tmp, mut git) = sequence("sequencer");
        fs::write(tmp.path().join(".git/REVERT_HEAD"), "3\n").unwrap();
        assert_eq!(git.look(now, Duration::ZERO).0, Lock::Free);
    }

    /// Runs git in `dir` (no user configuration, no editor unless `env` sets one).
    #[cfg(target_os = "linux")]
    fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
        let mut command = crate::watch::tests::git_command(dir, args);
        command.envs(env.iter().copied());
        command
    }

    /// A repository in `root` with two commits (files `a` and `b`).
    #[cfg(target_os = "linux")]
    fn two_commits(root: &Path) {
        let run = |args: &[&str]| assert!(git(root, args, &[]).status().unwrap().success());
        run(&["init", "-q", "-b", "main"]);
        for n in ["a", "b"] {
            fs::write(root.join(n), n).unwrap();
            run(&["add", "-A"]);
            run(&["commit", "-q", "-m", n]);
        }
    }

    /// A process this test spawned in a group of its own, killed with its children (an
    /// editor) however the test ends.
    #[cfg(target_os = "linux")]
    struct Spawned(std::process::Child);

    #[cfg(target_os = "linux")]
    impl Spawned {
        fn new(mut command: std::process::Command) -> Spawned {
            use std::os::unix::process::CommandExt;
            Spawned(command.process_group(0).spawn().unwrap())
        }
    }

    #[cfg(target_os = "linux")]
    impl Drop for Spawned {
        fn drop(&mut self) {
            // SAFETY: a signal to the process group of a process this test spawned.
            unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
            let _ = self.0.wait();
        }
    }

    /// Waits (bounded) for `path` to appear: git, or an editor, got that far.
    #[cfg(target_os = "linux")]
    fn appears(path: &Path) {
        let t = Instant::now();
        while !path.exists() {
            assert!(t.elapsed() < Duration::from_secs(30), "{}", path.display());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (bounded) until the rebase `pid` in `top` runs its `exec` step: the step is the
    /// last line of `done` and git waits for it (the steps before it written).
    #[cfg(target_os = "linux")]
    fn runs_its_exec_step(top: &Path, pid: u32) {
        let done = top.join(".git/rebase-merge/done");
        let t = Instant::now();
        while !(last_line(&done).is_some_and(|l| l.starts_with("exec"))
            && gits_in(top, u32::MAX).contains(&(pid, true)))
        {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "no exec step under way"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// An editor (or pager) for git: says it started by creating `$EDITING`, waits (at most
    /// 60 s) for the file `$RELEASE`, then writes a message to the file it was given.
    #[cfg(target_os = "linux")]
    fn waiting_editor(dir: &Path) -> PathBuf {
        let script = dir.join("editor.sh");
        fs::write(
            &script,
            "#!/bin/sh\n: > \"$EDITING\"\ni=0\n\
             while [ ! -e \"$RELEASE\" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n\
             if [ -n \"$1\" ]; then echo message > \"$1\"; fi\n",
        )
        .unwrap();
        fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        script
    }

    /// The defect: the hold rested on guesses of git's speed (1 s without progress is a
    /// stopped sequence, 10 s of quiet files a stale lock), and a real rebase at load 34
    /// outlasted them. While a git process runs in the work tree the hold goes on, up to the
    /// run cap, which is said. Here a rebase runs its `exec` step as long as wanted: a child
    /// git waits for, but part of the sequence.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_sequence_whose_git_still_ran_past_the_stall_bound_was_given_up() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        two_commits(root);
        let run_max = Duration::from_secs(30);
        let mut vcs = Git::find(root, (HOLD_MAX, STALL, run_max), Instant::now()).unwrap();
        // The test runs git as hot's tasks would: it is the user's here.
        vcs.own = u32::MAX;
        let rebase = Spawned::new(git(
            root,
            &[
                "rebase",
                "-q",
                "--force-rebase",
                "--exec",
                "sleep 600",
                "HEAD~1",
            ],
            &[],
        ));
        runs_its_exec_step(&root.canonicalize().unwrap(), rebase.0.id());
        let t0 = Instant::now();
        assert_eq!(vcs.look(t0, Duration::ZERO), (Lock::Sequence, None));
        let past = t0 + STALL * 2;
        assert_eq!(
            vcs.look(past, Duration::ZERO),
            (Lock::Sequence, None),
            "no progress for the stall bound, but git still runs"
        );
        let (lock, warning) = vcs.look(past + run_max, Duration::ZERO);
        assert_eq!(lock, Lock::Free, "the run cap");
        assert!(warning.is_some_and(|w| w.contains("still runs")));
        let later = past + run_max + RUNNING_RECHECK;
        assert_eq!(
            vcs.look(later, Duration::ZERO),
            (Lock::Free, None),
            "said once"
        );
    }

    /// The defect: a git waiting for a child of its own (its editor, its pager) counted as
    /// running, and so held changes up to the run cap; so did the gits hot's own tasks run.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_git_waiting_for_its_editor_or_pager_counted_as_running() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        fs::create_dir(&root).unwrap();
        two_commits(&root);
        let editor = waiting_editor(tmp.path());
        let editor = editor.to_str().unwrap();
        let release = tmp.path().join("release");
        let release = release.to_str().unwrap();
        let top = root.canonicalize().unwrap();
        let editing = tmp.path().join("editing");
        let env = [
            ("GIT_EDITOR", editor),
            ("EDITING", editing.to_str().unwrap()),
            ("RELEASE", release),
        ];
        fs::write(root.join("a"), "changed").unwrap();
        let commit = Spawned::new(git(&root, &["commit", "-a"], &env));
        appears(&editing);
        let pid = commit.0.id();
        assert_eq!(
            gits_in(&top, u32::MAX),
            [(pid, true)],
            "waits for its editor"
        );
        assert_eq!(gits_in(&top, std::process::id()), [], "started by hot");

        // `git commit -a` holds the index lock while its editor is open.
        let mut vcs = find(&root);
        vcs.own = u32::MAX;
        assert!(vcs.lock_path().exists());
        assert_eq!(vcs.look(Instant::now(), HOLD_MAX * 2), (Lock::Free, None));

        let paging = tmp.path().join("paging");
        let env = [
            ("GIT_PAGER", editor),
            ("EDITING", paging.to_str().unwrap()),
            ("RELEASE", release),
        ];
        // Git starts its pager only on a terminal.
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes the two descriptors it opened, owned below.
        let opened = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(opened, 0, "a pseudo-terminal");
        // SAFETY: descriptors openpty opened and nothing else owns.
        let (_master, slave) = unsafe {
            use std::os::fd::FromRawFd;
            (
                std::os::fd::OwnedFd::from_raw_fd(master),
                std::os::fd::OwnedFd::from_raw_fd(slave),
            )
        };
        let mut log = git(&root, &["log"], &env);
        log.stdout(slave);
        let log = Spawned::new(log);
        appears(&paging);
        let mut found = gits_in(&top, u32::MAX);
        found.sort_unstable();
        let mut expected = vec![(pid, true), (log.0.id(), true)];
        expected.sort_unstable();
        assert_eq!(found, expected, "waits for its pager");
        fs::write(release, "").unwrap();
    }

    /// `git rebase -i` with its todo list open in the editor holds nothing at once (git wrote
    /// the list after the index; or in the same tick, and git waits for its editor), and its
    /// steps, once the list is saved, hold again.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_rebase_todo_list_open_in_its_editor_holds_nothing_with_real_git() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        fs::create_dir(&root).unwrap();
        two_commits(&root);
        let editor = waiting_editor(tmp.path());
        let editing = tmp.path().join("editing");
        let release = tmp.path().join("release");
        let mut vcs = find(&root);
        vcs.own = u32::MAX;
        // The editor keeps the list as git wrote it (its message line is a comment).
        let script = format!("{} /dev/null; :", editor.display());
        let rebase = Spawned::new(git(
            &root,
            &["rebase", "-i", "--exec", "sleep 600", "HEAD~1"],
            &[
                ("GIT_SEQUENCE_EDITOR", &script),
                ("EDITING", editing.to_str().unwrap()),
                ("RELEASE", release.to_str().unwrap()),
            ],
        ));
        appears(&editing);
        assert_eq!(vcs.look(Instant::now(), Duration::ZERO), (Lock::Free, None));
        fs::write(&release, "").unwrap();
        // The exec step runs once the steps before it are written.
        runs_its_exec_step(&root.canonicalize().unwrap(), rebase.0.id());
        assert_eq!(
            vcs.look(Instant::now(), Duration::ZERO).0,
            Lock::Sequence,
            "the steps hold"
        );
    }

    /// Sets the modification time of `path` (created empty if need be) to `at`.
    fn written_at(path: &Path, at: SystemTime) {
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.set_modified(at).unwrap();
    }

    /// The defect: `git commit -a` holds the index lock while the user writes the message in
    /// its editor, and every save made meanwhile was held (each one restarted the 10 s quiet
    /// clock). Git writes the message after the work tree (and after its pre-commit hook):
    /// a lock older than the message holds nothing, one newer (the next operation) does.
    #[test]
    fn a_commit_waiting_for_its_message_held_the_users_saves() {
        let tmp = tempfile::tempdir().unwrap();
        let dot = tmp.path().join(".git");
        fs::create_dir_all(&dot).unwrap();
        let mut git = find(tmp.path());
        let now = Instant::now();
        let t = SystemTime::now() - Duration::from_secs(100);
        let second = Duration::from_secs(1);
        written_at(&git.lock_path(), t);
        assert_eq!(
            git.look(now, Duration::ZERO),
            (Lock::Held, None),
            "no message"
        );
        for message in MESSAGES {
            written_at(&dot.join(message), t - second);
            assert_eq!(
                git.look(now, Duration::ZERO),
                (Lock::Held, None),
                "{message} of an earlier operation (a pre-commit hook runs before it)"
            );
            written_at(&dot.join(message), t + second);
            assert_eq!(
                git.look(now, Duration::ZERO),
                (Lock::Free, None),
                "{message} written since: git waits for its editor"
            );
            assert_eq!(
                git.look(now, HOLD_MAX * 2),
                (Lock::Free, None),
                "nothing to warn about"
            );
            written_at(&dot.join(message), t);
            assert_eq!(
                git.look(now, Duration::ZERO),
                (Lock::Held, None),
                "the same tick, and no git waits for an editor: the order is not told"
            );
            written_at(&dot.join(message), t - second);
        }
        written_at(&dot.join("COMMIT_EDITMSG"), t + second);
        written_at(&git.lock_path(), t + second * 2);
        assert_eq!(
            git.look(now, Duration::ZERO),
            (Lock::Held, None),
            "a lock taken after the message"
        );
    }

    /// The defect: `git rebase -i` runs a sequence from the moment its todo list is written,
    /// and while the user edited that list every save was held (1 s, then as long as git ran,
    /// up to 60 s). No step has run (`done` is missing) and the list is newer than the index:
    /// git waits for the user; the checkout that starts the steps writes the index again.
    #[test]
    fn a_rebase_waiting_for_its_todo_list_held_the_users_saves() {
        let (tmp, mut git) = sequence("rebase-merge");
        let dot = tmp.path().join(".git");
        let now = Instant::now();
        let t = SystemTime::now() - Duration::from_secs(100);
        let second = Duration::from_secs(1);
        written_at(&dot.join("index"), t);
        written_at(&dot.join("rebase-merge/git-rebase-todo"), t + second);
        assert_eq!(git.look(now, Duration::ZERO).0, Lock::Free, "being edited");
        written_at(&dot.join("index"), t + second * 2);
        assert_eq!(git.look(now, Duration::ZERO).0, Lock::Sequence, "under way");
        written_at(&dot.join("index"), t);
        written_at(&dot.join("rebase-merge/done"), t + second * 3);
        assert_eq!(
            git.look(now, Duration::ZERO).0,
            Lock::Sequence,
            "a step has run"
        );
    }

    #[test]
    fn a_sequence_left_behind_before_hot_started_holds_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join(".git/rebase-apply")).unwrap();
        let mut git = find(tmp.path());
        assert_eq!(git.look(Instant::now(), Duration::ZERO).0, Lock::Free);
    }
}
