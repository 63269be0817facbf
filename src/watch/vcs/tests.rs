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

/// The nested repositories the watcher had noted were kept after their deletion: a project
/// whose tests clone scratch repositories inside it grew the list (and each save's looks) with
/// every one.
#[test]
fn a_deleted_nested_repository_was_kept_and_looked_at_on_every_save() {
    let tmp = tempfile::tempdir().unwrap();
    let nested = tmp.path().join("scratch");
    fs::create_dir_all(nested.join(".git")).unwrap();
    let git = find(&nested);
    assert!(git.still_there());
    fs::remove_dir_all(&nested).unwrap();
    assert!(!git.still_there());
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

/// A repository with [`two_commits`] in `root` (inside `tmp`) and a [`waiting_editor`], with
/// the paths it signals through (`$EDITING`, `$RELEASE`).
#[cfg(target_os = "linux")]
struct EditorRepo {
    tmp: tempfile::TempDir,
    root: PathBuf,
    editor: PathBuf,
    editing: PathBuf,
    release: PathBuf,
}

#[cfg(target_os = "linux")]
impl EditorRepo {
    fn new() -> EditorRepo {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        fs::create_dir(&root).unwrap();
        two_commits(&root);
        EditorRepo {
            editor: waiting_editor(tmp.path()),
            editing: tmp.path().join("editing"),
            release: tmp.path().join("release"),
            root,
            tmp,
        }
    }

    /// The git hold of the repository, every git counted as the user's (these tests run git
    /// as hot's tasks would).
    fn users_vcs(&self) -> Git {
        let mut vcs = find(&self.root);
        vcs.own = u32::MAX;
        vcs
    }

    /// The waiting editor's `$EDITING` and `$RELEASE`.
    fn signals(&self) -> [(&'static str, &str); 2] {
        [
            ("EDITING", self.editing.to_str().unwrap()),
            ("RELEASE", self.release.to_str().unwrap()),
        ]
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
    let EditorRepo {
        tmp,
        root,
        editor,
        editing,
        release,
    } = EditorRepo::new();
    let (editor, release) = (editor.to_str().unwrap(), release.to_str().unwrap());
    let top = root.canonicalize().unwrap();
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
/// the list after the index, or in the same tick, and waits for its editor), and its steps,
/// once the list is saved, hold again.
#[cfg(target_os = "linux")]
#[test]
fn a_rebase_todo_list_open_in_its_editor_holds_nothing_with_real_git() {
    let repo = EditorRepo::new();
    let mut vcs = repo.users_vcs();
    // The editor keeps the list as git wrote it (its message line is a comment).
    let script = format!("{} /dev/null; :", repo.editor.display());
    let [editing, release] = repo.signals();
    let rebase = Spawned::new(git(
        &repo.root,
        &["rebase", "-i", "--exec", "sleep 600", "HEAD~1"],
        &[("GIT_SEQUENCE_EDITOR", &script), editing, release],
    ));
    appears(&repo.editing);
    assert_eq!(vcs.look(Instant::now(), Duration::ZERO), (Lock::Free, None));
    fs::write(&repo.release, "").unwrap();
    // The exec step runs once the steps before it are written.
    runs_its_exec_step(&repo.root.canonicalize().unwrap(), rebase.0.id());
    assert_eq!(
        vcs.look(Instant::now(), Duration::ZERO).0,
        Lock::Sequence,
        "the steps hold"
    );
}

/// A rebase's `reword` step with its message open in the editor holds nothing at once, with
/// real git (`COMMIT_EDITMSG` after the step; or in the same tick, and a git waits for its
/// editor).
#[cfg(target_os = "linux")]
#[test]
fn a_reworded_message_open_in_its_editor_holds_nothing_with_real_git() {
    let repo = EditorRepo::new();
    let mut vcs = repo.users_vcs();
    let [editing, release] = repo.signals();
    let _rebase = Spawned::new(git(
        &repo.root,
        &["rebase", "-i", "HEAD~1"],
        &[
            ("GIT_SEQUENCE_EDITOR", "sed -i 1s/^pick/reword/"),
            ("GIT_EDITOR", repo.editor.to_str().unwrap()),
            editing,
            release,
        ],
    ));
    appears(&repo.editing);
    assert_eq!(vcs.look(Instant::now(), Duration::ZERO), (Lock::Free, None));
    fs::write(&repo.release, "").unwrap();
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

/// The defect: every rebase writes its todo list with git's help for the editor (and
/// `rebase-merge/interactive`), newer than the index, before its first step; a plain one
/// (`-i` aside, no editor opens) rewrites it a moment later with the steps alone. Those files
/// were taken for `git rebase -i` waiting for the user, so a `git rebase --autostash`
/// preempted between the two writes had its wave run on the stashed tree (the changes gone,
/// the commits not rebased yet), and the rest of the rebase was another wave. With no git
/// waiting for an editor, the list holds like any step (`-i` with its editor open:
/// `a_rebase_todo_list_open_in_its_editor_holds_nothing_with_real_git`).
#[test]
fn a_plain_rebase_with_autostash_ran_a_wave_on_the_stashed_tree() {
    let (tmp, mut git) = sequence("rebase-merge");
    let dot = tmp.path().join(".git");
    let now = Instant::now();
    let t = SystemTime::now() - Duration::from_secs(100);
    let second = Duration::from_secs(1);
    written_at(&dot.join("index"), t);
    written_at(&dot.join("rebase-merge/interactive"), t);
    written_at(&dot.join("rebase-merge/autostash"), t);
    let todo = dot.join("rebase-merge/git-rebase-todo");
    fs::write(&todo, EDITED_TODO).unwrap();
    for (at, when) in [(t + second, "after the index"), (t, "in its tick")] {
        written_at(&todo, at);
        assert_eq!(
            git.look(now, Duration::ZERO).0,
            Lock::Sequence,
            "the list with its help, written {when}, and no git waits for an editor"
        );
    }
    written_at(&todo, t + second);
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

/// A todo list as `git rebase -i` hands it to the editor: the steps, then git's help.
const EDITED_TODO: &str = "pick 1111111 one\npick 2222222 two\n\n# Rebase 0000000..2222222 onto 0000000 (2 commands)\n#\n# Commands:\n# p, pick <commit> = use commit\n#\n";

/// The defect: after the checkout that starts its steps (the index written), git rewrites
/// the todo list without its first step and only then adds that step to `done`. A look in
/// between (a git preempted there on a loaded machine) saw a list newer than the index and
/// no step `done`, took it for a list being edited and ran the wave on the checkout alone,
/// before any step: a rebase (with `exec` steps, or stopped on a conflict) was two waves.
/// The list git hands the editor ends with its help; the one it runs from holds steps only.
#[test]
fn a_rebase_about_to_run_its_first_step_was_taken_for_a_todo_list_being_edited() {
    let (tmp, mut git) = sequence("rebase-merge");
    let dot = tmp.path().join(".git");
    let now = Instant::now();
    let t = SystemTime::now() - Duration::from_secs(100);
    let second = Duration::from_secs(1);
    written_at(&dot.join("index"), t);
    let todo = dot.join("rebase-merge/git-rebase-todo");
    fs::write(&todo, "pick 2222222 two\nexec sleep 1.5\n").unwrap();
    written_at(&todo, t + second);
    assert_eq!(
        git.look(now, Duration::ZERO).0,
        Lock::Sequence,
        "the steps git runs from, newer than the index: the first one is under way"
    );
}

/// The defect: a rebase's `reword` (or `squash`, `fixup -c`) step waits for the user to
/// write the message in `git commit`'s editor, and saves made meanwhile were held for the
/// stall bound (1 s) and a look at the processes. Git writes `COMMIT_EDITMSG` after the step
/// is `done` and its tree written, then opens the editor: that holds nothing at once.
#[test]
fn a_rebase_waiting_for_a_reworded_message_held_the_users_saves() {
    let (tmp, mut git) = sequence("rebase-merge");
    let dot = tmp.path().join(".git");
    let now = Instant::now();
    let t = SystemTime::now() - Duration::from_secs(100);
    let second = Duration::from_secs(1);
    written_at(&dot.join("index"), t);
    let done = dot.join("rebase-merge/done");
    let message = dot.join("COMMIT_EDITMSG");
    fs::write(&message, "an earlier commit's\n").unwrap();
    written_at(&message, t - second);
    for step in ["reword", "r", "squash", "fixup -c", "f"] {
        fs::write(&done, format!("pick 1111111 one\n{step} 2222222 two\n")).unwrap();
        written_at(&done, t);
        assert_eq!(
            git.look(now, Duration::ZERO).0,
            Lock::Sequence,
            "{step}: the message is an earlier commit's"
        );
        written_at(&message, t + second);
        assert_eq!(
            git.look(now, Duration::ZERO).0,
            Lock::Free,
            "{step}: its editor is open"
        );
        written_at(&done, t + second * 2);
        assert_eq!(
            git.look(now, Duration::ZERO).0,
            Lock::Sequence,
            "{step}: a later step began"
        );
        written_at(&message, t - second);
    }
    fs::write(
        &done,
        "pick 1111111 one\nexec git commit --amend --no-edit\n",
    )
    .unwrap();
    written_at(&done, t);
    written_at(&message, t + second);
    assert_eq!(
        git.look(now, Duration::ZERO).0,
        Lock::Sequence,
        "an `exec` that commits goes on after its commit"
    );
}

#[test]
fn a_sequence_left_behind_before_hot_started_holds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join(".git/rebase-apply")).unwrap();
    let mut git = find(tmp.path());
    assert_eq!(git.look(Instant::now(), Duration::ZERO).0, Lock::Free);
}
