//! A version-control operation in progress: while git holds its index lock, a burst is held,
//! so a `git checkout` of thousands of files is one wave on the final tree.
//!
//! The lock is looked at (one `stat`) only when a burst is due to close, and every
//! [`RECHECK`] while it holds one: `.git/` is never watched. Only the index lock holds. The
//! states a rebase, merge, cherry-pick or revert leave behind (`rebase-merge/`, `MERGE_HEAD`,
//! ...) also last while git waits for the user (a conflict, an `edit` stop), so they must
//! not hold a wave; they only make hot wait [`SEQUENCER_GRACE`] after the lock goes, for the
//! next step of a running rebase to take it again. A lock that holds a burst for [`HOLD_MAX`]
//! with no file changing (one a crashed git left behind) is reported once and no longer holds
//! anything; a checkout still writing files is never taken for stale, however slow.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often a held burst looks at the lock again: the delay a checkout's wave gets beyond
/// the quiet window.
pub(super) const RECHECK: Duration = Duration::from_millis(5);

/// The longest a burst is held for one lock with no file changing (by default;
/// `Tuning::vcs_hold_max`). A checkout writes files the whole time it holds the lock, so a
/// lock this quiet is most likely stale.
pub(super) const HOLD_MAX: Duration = Duration::from_secs(10);

/// After the lock goes during a rebase (or a cherry-pick of a range), how long hot waits for
/// the next step to take it again before the wave starts.
pub(super) const SEQUENCER_GRACE: Duration = Duration::from_millis(50);

/// The git directory of the repository the project is in.
#[derive(Debug)]
pub(super) struct Git {
    dir: PathBuf,
    /// The modification time of a lock that held a burst for `hold_max`: that lock no
    /// longer holds anything (a new lock, with a new time, does).
    stale: Option<SystemTime>,
    hold_max: Duration,
}

/// What the lock says when a burst is due.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Lock {
    /// No operation in progress (or only a stale lock).
    Free,
    /// An operation holds the index.
    Held,
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
    /// The git directory of the repository `root` is in (see [`locate`]).
    pub(super) fn find(root: &Path, hold_max: Duration) -> Option<Git> {
        let (dir, _) = locate(root)?;
        Some(Git {
            dir,
            stale: None,
            hold_max,
        })
    }

    /// The lock git takes while it changes the index and the work tree.
    pub(super) fn lock_path(&self) -> PathBuf {
        self.dir.join("index.lock")
    }

    /// Whether an operation holds the index now. `quiet_for`: how long the burst has been
    /// held with no file changing; past `hold_max` the lock is taken as stale and `Err`
    /// carries the warning to give (once per lock).
    pub(super) fn lock(&mut self, quiet_for: Duration) -> Result<Lock, String> {
        let Ok(meta) = std::fs::metadata(self.lock_path()) else {
            self.stale = None;
            return Ok(Lock::Free);
        };
        let stamp = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if self.stale == Some(stamp) {
            return Ok(Lock::Free);
        }
        if quiet_for < self.hold_max {
            return Ok(Lock::Held);
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

    /// A rebase, `git am` or a cherry-pick/revert of a range is under way (running or stopped):
    /// its next step may take the lock again at once.
    pub(super) fn sequencing(&self) -> bool {
        ["rebase-merge", "rebase-apply", "sequencer"]
            .iter()
            .any(|d| self.dir.join(d).is_dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_git_dir_is_found_above_the_root_and_through_a_gitdir_file() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("sub/project")).unwrap();
        let git = Git::find(&repo.join("sub/project"), HOLD_MAX).unwrap();
        assert_eq!(git.lock_path(), repo.join(".git/index.lock"));

        // A worktree (or a submodule): `.git` is a file pointing at its own git directory.
        let wt = tmp.path().join("wt");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join(".git"), "gitdir: ../repo/.git/worktrees/wt\n").unwrap();
        let git = Git::find(&wt, HOLD_MAX).unwrap();
        assert_eq!(
            git.lock_path(),
            wt.join("../repo/.git/worktrees/wt/index.lock")
        );
    }

    #[test]
    fn a_stale_index_lock_holds_once_then_never_again_until_a_new_one() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join(".git")).unwrap();
        let mut git = Git::find(tmp.path(), HOLD_MAX).unwrap();
        assert_eq!(git.lock(Duration::ZERO), Ok(Lock::Free));
        std::fs::write(git.lock_path(), "").unwrap();
        assert_eq!(git.lock(Duration::ZERO), Ok(Lock::Held));
        let warning = git.lock(HOLD_MAX).unwrap_err();
        assert!(warning.contains("rm "), "{warning}");
        assert_eq!(
            git.lock(Duration::ZERO),
            Ok(Lock::Free),
            "warned once, then free"
        );
        std::fs::remove_file(git.lock_path()).unwrap();
        assert_eq!(git.lock(Duration::ZERO), Ok(Lock::Free));
        std::fs::write(git.lock_path(), "").unwrap();
        assert_eq!(git.lock(Duration::ZERO), Ok(Lock::Held), "a new lock holds");
    }

    #[test]
    fn a_stopped_rebase_is_sequencing_but_holds_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join(".git/rebase-merge")).unwrap();
        std::fs::write(tmp.path().join(".git/MERGE_HEAD"), "").unwrap();
        let mut git = Git::find(tmp.path(), HOLD_MAX).unwrap();
        assert!(git.sequencing());
        assert_eq!(git.lock(Duration::ZERO), Ok(Lock::Free));
    }
}
