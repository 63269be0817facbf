//! Version-control operations: a `git checkout` of thousands of files is one wave, and that
//! wave runs on the tree of the branch checked out. A real repository made with the `git`
//! command line, checked out back and forth while two CPU hogs load the machine (a writer
//! preempted mid-checkout is what used to split it).

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
    let out = Command::new("git")
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
        .stdin(Stdio::null())
        .output()
        .expect("git runs (these tests need the git command line)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("watching", "");
    hot.wait_event("wave_finished", "");
    let mut expected = vec![sum_a.clone()];
    {
        let _hogs = Hogs::start();
        for k in 0..CHECKOUTS {
            let (branch, sum) = if k % 2 == 0 {
                ("b", &sum_b)
            } else {
                ("a", &sum_a)
            };
            git(project.path(), &["checkout", "-q", branch]);
            expected.push(sum.clone());
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
        sums, expected,
        "one run per checkout, each on its branch's tree"
    );
}
