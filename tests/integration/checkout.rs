//! Version-control operations: a `git checkout` of thousands of files is one wave, and that
//! wave runs on the tree of the branch checked out; so is a rebase, a cherry-pick of a range
//! and a merge, and a rebase stopped on a conflict runs its wave on the conflicted tree. A real
//! repository made with the `git` command line, worked on while two CPU hogs load the machine
//! (a writer preempted mid-checkout, or between two steps of a rebase, is what used to split
//! it). A git that waits for the user (a `git commit` editor open) holds nothing.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{Hogs, Project, Running};

const FILES: usize = 2000;
const CHECKOUTS: usize = 6;

/// The task sums the tree it sees; `fence` proves no wave is still to come.
const HOTFILE: &str = r#"
task "sum" {
    watch "src/**"
    run "find src -type f | LC_ALL=C sort | xargs cat | cksum >> sums"
}
task "fence" {
    watch "fence/**"
    run "true"
}
"#;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_output(dir, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs git (never an editor) and returns what it did, success or not.
fn git_output(dir: &Path, args: &[&str]) -> std::process::Output {
    git_command(dir, args)
        .output()
        .expect("git runs (these tests need the git command line)")
}

/// The git command line, with no user configuration and no editor.
fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command
        .args([
            "-c",
            "user.name=hot",
            "-c",
            "user.email=hot@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_EDITOR", "true")
        .stdin(Stdio::null());
    command
}

/// The checksum the task computes, of the tree as it is now.
fn tree_sum(dir: &Path) -> String {
    let out = Command::new("sh")
        .args(["-c", "find src -type f | LC_ALL=C sort | xargs cat | cksum"])
        .current_dir(dir)
        .output()
        .expect("sh runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Branches `a` and `b` whose `FILES` files under `src/` all differ; `a` checked out.
/// Returns the tree checksums of `a` and `b`.
fn two_branches(project: &Project) -> (String, String) {
    let root = project.path();
    git(root, &["init", "-q", "-b", "a"]);
    for branch in ["a", "b"] {
        if branch == "b" {
            git(root, &["checkout", "-q", "-b", "b"]);
        }
        for i in 0..FILES {
            project.write(
                &format!("src/d{:02}/f{i}.txt", i % 40),
                &format!("{branch} {i}\n"),
            );
        }
        git(root, &["add", "-A", "src"]);
        git(root, &["commit", "-q", "-m", branch]);
    }
    let b = tree_sum(root);
    git(root, &["checkout", "-q", "a"]);
    (tree_sum(root), b)
}

fn waves(hot: &Running) -> usize {
    hot.count("wave_started", "")
}

#[test]
fn a_git_checkout_of_2000_files_is_one_wave_on_the_final_tree() {
    let project = Project::new();
    let (sum_a, sum_b) = two_branches(&project);
    project.write("Hotfile", HOTFILE);
    one_wave_per_checkout(&project, project.path(), &sum_a, &sum_b);
}

/// With hot watching `project` (from branch `a` checked out in `repo`), checks out `b`, `a`,
/// `b`, ... [`CHECKOUTS`] times beside two CPU hogs, each awaited as a finished wave; then
/// asserts one wave per checkout, each run on its branch's tree (`sum_a`, `sum_b`).
fn one_wave_per_checkout(project: &Project, repo: &Path, sum_a: &str, sum_b: &str) {
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("watching", "");
    hot.wait_event("wave_finished", "");
    let mut expected = vec![sum_a.to_owned()];
    {
        let _hogs = Hogs::start();
        for k in 0..CHECKOUTS {
            let (branch, sum) = if k % 2 == 0 {
                ("b", sum_b)
            } else {
                ("a", sum_a)
            };
            git(repo, &["checkout", "-q", branch]);
            expected.push(sum.to_owned());
            hot.wait_event("wave_finished", "");
        }
    }
    // A wave that only `fence` runs: every wave the checkouts caused has started before it.
    project.write("fence/x", "1");
    hot.wait_event("node_started", "fence");
    hot.wait_event("wave_finished", "");
    assert_eq!(waves(&hot), 1 + CHECKOUTS + 1, "{}", hot.transcript());
    let sums: Vec<String> = project.read("sums").lines().map(str::to_owned).collect();
    assert_eq!(
        sums,
        expected,
        "one run per checkout, each on its branch's tree\n{}",
        hot.transcript()
    );
}

/// A checkout in a repository nested in the project (a submodule, a vendored clone) was split
/// into several waves, the first on a half-written tree: hot looked at the project's own
/// git directory only, never at the nested one's index lock (git replaces a file by unlinking
/// it and creating it anew, so a wave could even run with files missing).
#[test]
fn a_checkout_in_a_nested_repository_was_split_into_waves() {
    // The nested repository's own `.git` is in `src/` (its reflog grows with each checkout).
    const FIND: &str = "find src -name .git -prune -o -type f -print";
    let sum = |dir: &Path| {
        let script = format!("{FIND} | LC_ALL=C sort | xargs cat | cksum");
        let out = Command::new("sh")
            .args(["-c", &script])
            .current_dir(dir)
            .output();
        String::from_utf8_lossy(&out.expect("sh runs").stdout)
            .trim()
            .to_owned()
    };
    let project = Project::new();
    let vendor = project.path().join("src/vendor");
    std::fs::create_dir_all(&vendor).unwrap();
    git(&vendor, &["init", "-q", "-b", "a"]);
    for branch in ["a", "b"] {
        if branch == "b" {
            git(&vendor, &["checkout", "-q", "-b", "b"]);
        }
        for i in 0..FILES {
            project.write(
                &format!("src/vendor/d{:02}/f{i}.txt", i % 40),
                &format!("{branch} {i}\n"),
            );
        }
        git(&vendor, &["add", "-A", "."]);
        git(&vendor, &["commit", "-q", "-m", branch]);
    }
    let sum_b = sum(project.path());
    git(&vendor, &["checkout", "-q", "a"]);
    let sum_a = sum(project.path());
    project.write("Hotfile", &HOTFILE.replace("find src -type f", FIND));
    one_wave_per_checkout(&project, &vendor, &sum_a, &sum_b);
}

/// Files of the sequence tests, and how many commits a sequence replays.
const SEQ_FILES: usize = 1000;
const STEPS: usize = 5;

/// Commits `STEPS` commits on the branch checked out, commit `k` rewriting the files `i` with
/// `i % STEPS == k` (all `SEQ_FILES` in all), each prefixed `tag`.
fn steps(project: &Project, tag: &str) {
    for k in 0..STEPS {
        for i in (k..SEQ_FILES).step_by(STEPS) {
            project.write(&file(i), &format!("{tag} {k} {i}\n"));
        }
        git(project.path(), &["add", "-A", "src"]);
        git(
            project.path(),
            &["commit", "-q", "-m", &format!("{tag} {k}")],
        );
    }
}

fn file(i: usize) -> String {
    format!("src/d{:02}/f{i}.txt", i % 40)
}

/// A repository whose `main` holds a base commit of `SEQ_FILES` files and, after it, one
/// that adds `src/main.txt`; `base` names the base commit. Returns the repository's root.
fn base_and_main(project: &Project) -> &Path {
    let root = project.path();
    git(root, &["init", "-q", "-b", "main"]);
    for i in 0..SEQ_FILES {
        project.write(&file(i), &format!("base {i}\n"));
    }
    git(root, &["add", "-A", "src"]);
    git(root, &["commit", "-q", "-m", "base"]);
    git(root, &["branch", "base"]);
    project.write("src/main.txt", "main\n");
    git(root, &["add", "-A", "src"]);
    git(root, &["commit", "-q", "-m", "main"]);
    root
}

/// Starts hot on `project` and waits for its first wave.
fn watch(project: &Project) -> Running {
    project.write("Hotfile", HOTFILE);
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("watching", "");
    hot.wait_event("wave_finished", "");
    hot
}

/// Makes a wave only `fence` runs and returns how many waves there were between the first
/// one and it: every wave the operations caused has started by then.
fn waves_before_fence(project: &Project, hot: &mut Running) -> usize {
    project.write("fence/x", "1");
    hot.wait_event("node_started", "fence");
    hot.wait_event("wave_finished", "");
    waves(hot) - 2
}

fn sums(project: &Project) -> Vec<String> {
    project.read("sums").lines().map(str::to_owned).collect()
}

/// Runs `operation` `rounds` times under two CPU hogs, with a `git reset --hard reset_to`
/// (a wave of its own) between two, and checks that each was one wave on its final tree.
fn one_wave_each(
    project: &Project,
    mut hot: Running,
    rounds: usize,
    reset_to: &str,
    operation: impl Fn(&Path),
) {
    let root = project.path();
    let sum_reset = tree_sum(root);
    let mut expected = vec![sum_reset.clone()];
    {
        let _hogs = Hogs::start();
        for round in 0..rounds {
            if round > 0 {
                git(root, &["reset", "-q", "--hard", reset_to]);
                expected.push(sum_reset.clone());
                hot.wait_event("wave_finished", "");
            }
            operation(root);
            expected.push(tree_sum(root));
            hot.wait_event("wave_finished", "");
        }
    }
    assert_eq!(
        waves_before_fence(project, &mut hot),
        2 * rounds - 1,
        "{}",
        hot.transcript()
    );
    assert_eq!(
        sums(project),
        expected,
        "one run per operation, on its final tree\n{}",
        hot.transcript()
    );
}

/// Under load the gap between two steps of a `git rebase` outgrew the 50 ms hot waited for
/// the next step to take git's index lock again: a rebase of 5 commits touching 1,000 files
/// was two waves, the first on a tree half rebased. A rebase now holds its wave from its
/// first step to its last.
#[test]
fn a_rebase_under_load_was_split_where_a_step_outlasted_a_fixed_grace() {
    topic_rebased_onto_main(3, &["rebase", "-q", "main"]);
}

/// The hold rested on guesses of git's speed (a sequence that changes nothing in the git
/// directory for 1 s has stopped, a lock quiet for 10 s is stale), and a real rebase at load
/// 34 outlasted them: its wave ran on a tree half rebased. While a git process still runs in
/// the work tree the hold goes on. Here each step's `exec` outlasts the 1 s bound.
#[test]
fn a_rebase_slower_than_the_stall_bound_was_given_up_midway() {
    topic_rebased_onto_main(1, &["rebase", "-q", "--exec", "sleep 1.5", "main"]);
}

/// `rebase` (git's arguments) of the branch `topic` (the steps' commits on `base`) onto `main`,
/// `rounds` times under hot: one wave each, on the final tree.
fn topic_rebased_onto_main(rounds: usize, rebase: &[&str]) {
    let project = Project::new();
    let root = base_and_main(&project);
    git(root, &["checkout", "-q", "-b", "topic", "base"]);
    steps(&project, "topic");
    let before = git(root, &["rev-parse", "HEAD"]);
    let hot = watch(&project);
    one_wave_each(&project, hot, rounds, before.trim(), |root| {
        git(root, rebase);
    });
}

/// A `git cherry-pick A..B` is a sequence like a rebase: one wave on the final tree.
#[test]
fn a_cherry_pick_of_a_range_under_load_was_split_between_its_picks() {
    let project = Project::new();
    let root = base_and_main(&project);
    git(root, &["checkout", "-q", "-b", "picks", "base"]);
    steps(&project, "picks");
    git(root, &["checkout", "-q", "main"]);
    let hot = watch(&project);
    one_wave_each(&project, hot, 2, "main", |root| {
        git(root, &["checkout", "-q", "--detach", "main"]);
        git(root, &["cherry-pick", "base..picks"]);
    });
}

/// A merge of a branch that changed every file is one wave on the merged tree.
#[test]
fn a_merge_under_load_is_one_wave_on_the_merged_tree() {
    let project = Project::new();
    let root = base_and_main(&project);
    git(root, &["checkout", "-q", "-b", "topic", "base"]);
    steps(&project, "topic");
    git(root, &["checkout", "-q", "main"]);
    let hot = watch(&project);
    one_wave_each(&project, hot, 1, "main", |root| {
        git(root, &["merge", "-q", "--no-edit", "topic"]);
    });
}

/// A rebase stopped on a conflict hands control back to the user: its wave runs then, on the
/// conflicted tree (the hold for a running rebase must not last while git waits for the
/// user); the rest of the rebase, once continued, is one more wave.
#[test]
fn a_rebase_stopped_on_a_conflict_runs_its_wave_on_the_conflicted_tree() {
    let project = Project::new();
    let root = base_and_main(&project);
    git(root, &["checkout", "-q", "-b", "topic", "base"]);
    steps(&project, "topic");
    // The last step but one changes what `main` added too.
    git(root, &["checkout", "-q", "-b", "clash", "topic~2"]);
    project.write("src/main.txt", "clash\n");
    git(root, &["add", "-A", "src"]);
    git(root, &["commit", "-q", "-m", "clash"]);
    git(root, &["cherry-pick", "topic~2..topic"]);
    let mut hot = watch(&project);
    let mut expected = vec![tree_sum(root)];
    {
        let _hogs = Hogs::start();
        let out = git_output(root, &["rebase", "main"]);
        assert!(!out.status.success(), "the rebase stops on the conflict");
        assert!(root.join(".git/rebase-merge").is_dir());
        expected.push(tree_sum(root));
        hot.wait_event("wave_finished", "");
        assert!(
            project.read("src/main.txt").contains("<<<<<<<"),
            "the conflict is in the tree"
        );
        project.write("src/main.txt", "resolved\n");
        git(root, &["add", "src/main.txt"]);
        expected.push(tree_sum(root));
        hot.wait_event("wave_finished", "");
        git(root, &["rebase", "--continue"]);
        expected.push(tree_sum(root));
        hot.wait_event("wave_finished", "");
    }
    assert_eq!(
        waves_before_fence(&project, &mut hot),
        3,
        "{}",
        hot.transcript()
    );
    assert_eq!(sums(&project), expected, "{}", hot.transcript());
}

/// `git rebase --autostash` with uncommitted changes: git stashes them (a hard reset of the
/// tree), replays the commits and applies the stash again, each a write of the tree. It is
/// one wave, on the final tree (the rebased commits with the changes on top).
#[test]
fn a_rebase_with_autostash_under_load_is_one_wave_on_the_final_tree() {
    let project = Project::new();
    let root = base_and_main(&project);
    git(root, &["checkout", "-q", "-b", "topic", "base"]);
    steps(&project, "topic");
    let before = git(root, &["rev-parse", "HEAD"]);
    let mut hot = watch(&project);
    let mut expected = vec![tree_sum(root)];
    {
        let _hogs = Hogs::start();
        for round in 0..3 {
            if round > 0 {
                git(root, &["reset", "-q", "--hard", before.trim()]);
                expected.push(tree_sum(root));
                hot.wait_event("wave_finished", "");
            }
            // An uncommitted change to a file the rebase replays too, made in one step.
            project.write("local.tmp", &format!("local {round}\n"));
            std::fs::rename(root.join("local.tmp"), root.join(file(0))).unwrap();
            expected.push(tree_sum(root));
            hot.wait_event("wave_finished", "");
            git(root, &["rebase", "-q", "--autostash", "main"]);
            assert!(
                project.read(&file(0)).starts_with("local"),
                "the stash is applied again"
            );
            assert!(root.join("src/main.txt").is_file(), "rebased onto main");
            expected.push(tree_sum(root));
            hot.wait_event("wave_finished", "");
        }
    }
    assert_eq!(
        waves_before_fence(&project, &mut hot),
        3 * 3 - 1,
        "{}",
        hot.transcript()
    );
    assert_eq!(
        sums(&project),
        expected,
        "one run per step, on its final tree\n{}",
        hot.transcript()
    );
}

/// A git this test started, in a process group of its own: killed with its editor however the
/// test ends.
struct Spawned(std::process::Child);

impl Spawned {
    fn new(mut command: Command) -> Spawned {
        use std::os::unix::process::CommandExt;
        Spawned(command.process_group(0).spawn().expect("git runs"))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // SAFETY: a signal to the process group of a git this test spawned.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// Waits (bounded) for `path` to appear.
fn appears(path: &Path) {
    let t = std::time::Instant::now();
    while !path.exists() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "{}",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The defect: `git commit -a` holds git's index lock while its editor is open, so a user who
/// saved files in another terminal while writing the message got no run: each save restarted
/// the 10 s quiet clock, and past it the running git held them up to 60 s more. Git writes
/// the message after the work tree: a lock older than it holds nothing, and the save's wave
/// runs while git still waits for its editor.
#[test]
fn a_save_while_git_commit_waited_for_its_message_was_held() {
    let project = Project::new();
    let root = base_and_main(&project);
    let mut hot = watch(&project);
    project.write(&file(0), "to commit\n");
    hot.wait_event("wave_finished", "");
    // The editor (outside what the tasks watch) says it opened, and waits for `release`.
    project.write(
        "editor.sh",
        "#!/bin/sh\n: > editing\ni=0\n\
         while [ ! -e release ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done\n\
         echo message > \"$1\"\n",
    );
    let editor = root.join("editor.sh");
    let mut commit = git_command(root, &["commit", "-q", "-a"]);
    commit.env("GIT_EDITOR", format!("sh {}", editor.display()));
    let mut commit = Spawned::new(commit);
    appears(&root.join("editing"));
    assert!(
        root.join(".git/index.lock").exists(),
        "git holds the index lock while its editor is open"
    );
    let mut expected = sums(&project);
    project.write("src/saved.txt", "saved\n");
    hot.wait_event("wave_finished", "");
    assert!(
        commit.0.try_wait().unwrap().is_none(),
        "the save ran while git waited for its message"
    );
    expected.push(tree_sum(root));
    assert_eq!(sums(&project), expected, "{}", hot.transcript());
    assert_eq!(hot.count("warning", ""), 0, "{}", hot.transcript());
    project.write("release", "");
    assert!(
        commit.0.wait().unwrap().success(),
        "the commit went through"
    );
    assert_eq!(git(root, &["log", "-1", "--format=%s"]).trim(), "message");
}

/// A pre-commit hook that rewrites files (a formatter) runs before git writes the message,
/// while git holds the index lock: its writes are one wave, on the tree it left.
#[test]
fn a_commit_whose_pre_commit_hook_rewrites_files_is_one_wave() {
    let project = Project::new();
    let root = base_and_main(&project);
    project.write(
        ".git/hooks/pre-commit",
        "#!/bin/sh\nfind src -type f -exec sh -c 'for f; do echo hooked >> \"$f\"; done' _ {} +\n",
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let hook = root.join(".git/hooks/pre-commit");
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let hot = watch(&project);
    one_wave_each(&project, hot, 2, "main", |root| {
        git(
            root,
            &["commit", "-q", "-a", "--allow-empty", "-m", "hooked"],
        );
        assert!(
            std::fs::read_to_string(root.join(file(0)))
                .unwrap()
                .ends_with("hooked\n"),
            "the hook ran"
        );
    });
}
