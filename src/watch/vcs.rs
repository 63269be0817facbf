//! A version-control operation in progress: while git holds its index lock, or runs a
//! sequence of steps (a rebase, `git am`, a cherry-pick or revert of a range), a burst is
//! held, so a checkout or a rebase of thousands of files is one wave on the final tree.
//!
//! The git directory is looked at (a few `stat`s) only when a burst is due to close, and every
//! [`RECHECK`] while it holds one: `.git/` is never watched. So is each repository inside the
//! project (a submodule, a nested clone), found by the walks: a checkout there is one too. A sequence's state directory
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
//! Git also holds its lock, or its sequence, while it waits for the user to write a message.
//! Saves made meanwhile run at once. Git writes the message file after it has written the
//! work tree (after the pre-commit hook, whose writes are held) and before it opens the
//! editor, so each of these waits for the user:
//!
//! * `git commit -a` (or with paths): an index lock older than `COMMIT_EDITMSG`, `MERGE_MSG`
//!   or `TAG_EDITMSG`.
//! * `git rebase -i` editing its todo list: no step `done`, a list newer than the index that
//!   ends with git's help for the editor, and (Linux) a git in the work tree waiting for a
//!   child that is not git. The list git rewrites after its checkout, a moment before its
//!   first step is `done`, holds the steps alone; a plain rebase writes the list with its help
//!   (and `rebase-merge/interactive`) too, and rewrites it a moment later without opening an
//!   editor: only the waiting git tells the two apart. Elsewhere the list being edited holds
//!   the saves until the sequence counts as stalled ([`STALL`]).
//! * A rebase's `reword`, `squash` or `fixup -c` step (the last line of `done`) editing its
//!   message: a `COMMIT_EDITMSG` newer than the index and than `done` (a pick or a plain
//!   `fixup` writes none).
//!
//! Two writes may fall in one tick of the file system's clock (a few ms); then a git waiting
//! for its editor tells (Linux), and elsewhere the hold goes on as before. These marks work
//! where `/proc` does not, but for the todo list's.
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

    /// Whether its work tree still holds its `.git`: a nested repository deleted (a test
    /// suite's scratch clone) is forgotten, so their list does not grow with every one made.
    pub(super) fn still_there(&self) -> bool {
        self.top.join(".git").symlink_metadata().is_ok()
    }

    /// Whether both are the same repository's (one git directory).
    pub(super) fn same(&self, other: &Git) -> bool {
        self.dir == other.dir
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
        if self.stopped(kind) || self.todo_edited(kind, now) || self.message_edited(kind, now) {
            return (Lock::Free, warning);
        }
        if now.saturating_duration_since(since) < self.stall {
            self.leaning = None;
            return (Lock::Sequence, warning);
        }
        // A rebase's `exec` step is a child git waits for that is part of the sequence.
        let exec =
            kind == Sequence::Rebase && matches!(self.last_step().as_deref(), Some("exec" | "x"));
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
            Waits::Tie => self.a_git_waits_for_a_child(now),
        }
    }

    /// Whether a git in the work tree waits for a child that is not git (an editor); never
    /// where `/proc` is not read.
    fn a_git_waits_for_a_child(&mut self, now: Instant) -> bool {
        let (_, gits, _) = self.look_at_processes(now);
        gits.iter().any(|(_, waits)| *waits)
    }

    /// Whether `git rebase -i` waits for its todo list to be edited: no step has run, the
    /// list was written after the index (which the checkout that starts the steps writes
    /// again, after the list), it ends with git's help for the editor, and a git in the work
    /// tree waits for a child that is not git (the editor; Linux). Every rebase, plain or
    /// `-i`, writes that list with its help and `rebase-merge/interactive`, and a plain one
    /// (which opens no editor) rewrites it a moment later with the steps alone, before its
    /// checkout: the files do not tell the two apart, and a plain rebase preempted in
    /// between (after `--autostash` reset the tree) had its wave run on the stashed tree.
    /// Where processes are not read, the list being edited holds the saves until the
    /// sequence counts as stalled ([`STALL`]).
    fn todo_edited(&mut self, kind: Sequence, now: Instant) -> bool {
        let state = |name: &str| self.dir.join("rebase-merge").join(name);
        if kind != Sequence::Rebase || state("done").exists() {
            return false;
        }
        let Ok(index) = std::fs::metadata(self.dir.join("index")).and_then(|m| m.modified()) else {
            return false;
        };
        let todo = "rebase-merge/git-rebase-todo";
        // The help is comment lines (`#`, or `core.commentChar`); a step starts with a word.
        let help = last_line(&self.dir.join(todo))
            .is_some_and(|l| !l.starts_with(|c: char| c.is_ascii_alphanumeric()));
        help && message_after(&self.dir, index, &[todo]) != Waits::No
            && self.a_git_waits_for_a_child(now)
    }

    /// Whether a rebase's `reword`, `squash` or `fixup -c` step waits for its message to be
    /// edited: git runs `git commit`, which writes `COMMIT_EDITMSG` (after the step's tree
    /// and index, after the step was `done`) and opens the editor. A plain pick or `fixup`
    /// commits in git itself, with no message file; another step appends to `done` first.
    fn message_edited(&mut self, kind: Sequence, now: Instant) -> bool {
        if kind != Sequence::Rebase {
            return false;
        }
        let edits = matches!(
            self.last_step().as_deref(),
            Some("reword" | "r" | "squash" | "s" | "fixup" | "f")
        );
        let done = self.dir.join("rebase-merge/done");
        let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let (Some(done), Some(index)) = (modified(done), modified(self.dir.join("index"))) else {
            return false;
        };
        edits && self.waits_after(done.max(index), &["COMMIT_EDITMSG"], now)
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

    /// The command of the rebase's last step `done` (`pick`, `exec`, `reword`, ...).
    fn last_step(&self) -> Option<String> {
        let line = last_line(&self.dir.join("rebase-merge/done"))?;
        line.split_whitespace().next().map(str::to_owned)
    }

    /// Whether `kind` stopped for the user, by the marks git leaves for that (see the module).
    fn stopped(&self, kind: Sequence) -> bool {
        let path = |name: &str| self.dir.join(name);
        match kind {
            Sequence::Rebase => {
                path("rebase-merge/stopped-sha").exists()
                    || path("REBASE_HEAD").exists()
                    || matches!(self.last_step().as_deref(), Some("break" | "b"))
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
mod tests;
