use std::time::{Duration, Instant};

use crate::support::{DEADLINE, Project, gone};

/// hot's children whose command line is a spare keeper's (`hot __shim --spare`), from /proc.
fn spares_of(hot: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().nth(1));
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if parent == Some(hot.to_string().as_str()) && cmdline.ends_with(b"__shim\0--spare\0") {
            found.push(pid);
        }
    }
    found
}

/// A spare keeper waits in watch mode; hot SIGKILLed while it waits (given no command yet)
/// leaves no process behind.
#[test]
fn a_waiting_spare_keeper_dies_with_a_sigkilled_hot() {
    let project = Project::with_hotfile(
        r#"
task "t" {
    run "true"
}
"#,
    );
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("node_finished", "t");
    let deadline = Instant::now() + DEADLINE;
    let spare = loop {
        if let [spare] = spares_of(hot.pid())[..] {
            break spare;
        }
        assert!(Instant::now() < deadline, "no spare keeper waits");
        std::thread::sleep(Duration::from_millis(10));
    };
    hot.signal(libc::SIGKILL);
    hot.wait_exit();
    while !gone(spare) {
        assert!(
            Instant::now() < deadline,
            "the spare keeper {spare} outlived a SIGKILLed hot"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The processes `pid` started and has not reaped (`/proc/PID/task/PID/children`).
fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The waiting spare forks its command's process ahead of the launch; hot SIGKILLed while
/// both wait leaves neither behind.
#[test]
fn a_waiting_spares_forked_command_process_dies_with_a_sigkilled_hot() {
    let project = Project::with_hotfile(
        r#"
task "t" {
    run "true"
}
"#,
    );
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("node_finished", "t");
    let deadline = Instant::now() + DEADLINE;
    let (spare, child) = loop {
        if let [spare] = spares_of(hot.pid())[..]
            && let [child] = children_of(spare)[..]
        {
            break (spare, child);
        }
        assert!(
            Instant::now() < deadline,
            "no spare keeper waits with its command's process"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    hot.signal(libc::SIGKILL);
    hot.wait_exit();
    while !(gone(spare) && gone(child)) {
        assert!(
            Instant::now() < deadline,
            "the spare keeper {spare} or its command's process {child} outlived a SIGKILLed hot"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
