use std::time::Duration;

use serde_json::Value;

use crate::support::{Project, Running, alive, gone};

/// `a` watches `a/**`, `b` watches `b/**`, `c` comes after `a`; each appends to `log`.
const ABC: &str = r#"
defaults {
    debounce "100ms"
}
task "a" {
    watch "a/**"
    run "echo a >> log"
}
task "b" {
    watch "b/**"
    run "echo b >> log"
}
task "c" {
    after "a"
    run "echo c >> log"
}
"#;

/// Starts `hot watch` and waits for the first wave to finish.
fn start(project: &Project) -> Running {
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("watching", "");
    wait_wave(&mut hot);
    hot
}

/// Waits for the next wave to finish and returns the nodes started in it, in start order.
fn wait_wave(hot: &mut Running) -> Vec<String> {
    let from = hot.seen.len();
    hot.wait_event("wave_finished", "");
    hot.seen[from..]
        .iter()
        .filter(|e| e["event"] == "node_started")
        .map(|e| e["node"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn waves(hot: &Running) -> Vec<&Value> {
    hot.seen
        .iter()
        .filter(|e| e["event"] == "wave_started")
        .collect()
}

/// Makes a change only `b` watches and waits for its wave: every event an earlier change
/// could cause has then arrived (the watcher delivers in order), so absence can be asserted.
fn fence(project: &Project, hot: &mut Running, tag: &str) {
    project.write(&format!("b/fence-{tag}"), tag);
    let started = wait_wave(hot);
    assert_eq!(started, ["b"], "{}", hot.transcript());
}

#[test]
fn the_first_wave_runs_everything_in_order() {
    let project = Project::with_hotfile(ABC);
    let mut hot = project.spawn(&["watch"]);
    let started = wait_wave(&mut hot);
    assert_eq!(started.len(), 3, "{}", hot.transcript());
    let log = project.read("log");
    let at = |name: &str| log.lines().position(|l| l == name).unwrap();
    assert!(at("a") < at("c"), "{log}");
}

#[test]
fn only_affected_nodes_rerun() {
    let project = Project::with_hotfile(ABC);
    let mut hot = start(&project);
    project.write("a/x.txt", "1");
    assert_eq!(wait_wave(&mut hot), ["a", "c"]);
    project.write("b/x.txt", "1");
    assert_eq!(wait_wave(&mut hot), ["b"]);
    project.write("elsewhere.txt", "1");
    fence(&project, &mut hot, "1");
}

#[test]
fn watch_names_limit_the_graph() {
    let project = Project::with_hotfile(ABC);
    let mut hot = project.spawn(&["watch", "c"]);
    let started = wait_wave(&mut hot);
    assert_eq!(started, ["a", "c"], "{}", hot.transcript());
}

#[test]
fn a_burst_of_2000_new_files_is_one_wave() {
    // A long quiet period: on a loaded CI machine the writing loop itself may stall for a
    // while, and that must not split the burst.
    let project = Project::with_hotfile(&ABC.replace("100ms", "1s"));
    let mut hot = start(&project);
    for i in 0..2000 {
        project.write(&format!("a/burst/{}/{i}.txt", i % 20), "x");
    }
    assert_eq!(wait_wave(&mut hot), ["a", "c"]);
    fence(&project, &mut hot, "burst");
    assert_eq!(waves(&hot).len(), 3, "{}", hot.transcript());
    assert_eq!(hot.count("node_started", "a"), 2);
}

/// Makes the directory `rel` (holding `n` files) appear in the project in one step: staged
/// outside the project, on the same file system, then renamed in.
fn place_dir(project: &Project, rel: &str, n: usize) {
    let staging = tempfile::tempdir().unwrap();
    let dir = staging.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..n {
        std::fs::write(dir.join(format!("{i}.txt")), "x").unwrap();
    }
    std::fs::rename(&dir, project.path().join(rel)).unwrap();
}

/// A writer that pauses for longer than twice the quiet window (one preempted on a loaded
/// machine) and then goes on: the file it writes next is not a wave of its own (it was: one
/// file settles at once), the window grows to cover the pause, and the rest of the burst runs
/// once with it, on the whole tree.
#[test]
fn a_writer_paused_past_twice_the_window_makes_no_wave_of_its_next_file() {
    let project = Project::with_hotfile(
        r#"
defaults {
    debounce "200ms"
}
task "a" {
    watch "a/**"
    run "find a -type f | wc -l >> seen"
}
task "b" {
    watch "b/**"
    run "true"
}
"#,
    );
    std::fs::create_dir(project.path().join("a")).unwrap();
    let mut hot = start(&project);
    place_dir(&project, "a/first", 10);
    assert_eq!(wait_wave(&mut hot), ["a"], "{}", hot.transcript());
    // Well past twice the window, well within the longest one (16 windows).
    std::thread::sleep(Duration::from_millis(500));
    project.write("a/lone.txt", "x");
    // Longer than the settle that closes a lone save.
    std::thread::sleep(Duration::from_millis(50));
    place_dir(&project, "a/rest", 10);
    assert_eq!(wait_wave(&mut hot), ["a"], "{}", hot.transcript());
    fence(&project, &mut hot, "paused");
    let changed: Vec<&Value> = waves(&hot).iter().map(|w| &w["changed"]).collect();
    assert_eq!(changed.len(), 4, "{}", hot.transcript());
    assert_eq!(changed[2], 11, "{}", hot.transcript());
    let seen: Vec<String> = project
        .read("seen")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(seen, ["0", "10", "21"], "{}", hot.transcript());
}

#[test]
fn an_atomic_save_is_one_change() {
    let project = Project::with_hotfile(ABC);
    project.write("a/file.txt", "one");
    let mut hot = start(&project);
    // What editors do: write a temporary file, then rename it over the original.
    project.write("a/.file.txt.tmp", "two");
    std::fs::rename(
        project.path().join("a/.file.txt.tmp"),
        project.path().join("a/file.txt"),
    )
    .unwrap();
    assert_eq!(wait_wave(&mut hot), ["a", "c"]);
    fence(&project, &mut hot, "atomic");
    assert_eq!(hot.count("node_started", "a"), 2, "{}", hot.transcript());
}

/// The defect: a writer that opens its file (the shell truncates or creates it at the
/// redirect), works for longer than the quiet window and only then writes it, as
/// `diesel print-schema > src/schema.rs` does while it asks the database, made two waves: the
/// first ran the task on an empty file (red), the second on the written one. On a backend
/// that reports closes (inotify) the burst waits for the file's close: one wave, on the whole
/// file, for a file truncated and for one created.
#[test]
fn a_file_written_after_a_pause_behind_a_redirect_ran_its_task_on_it_empty() {
    let project = Project::with_hotfile(
        r#"
task "a" {
    watch "a/**"
    run "cat a/*.rs | tr '\n' ' ' >> seen; echo >> seen"
}
task "b" {
    watch "b/**"
    run "true"
}
"#,
    );
    project.write("a/gen.rs", "old\n");
    let mut hot = start(&project);
    // Longer than the longest quiet window (160 ms for the default 10 ms).
    for script in [
        "{ sleep 0.3; echo one; } > a/gen.rs",
        "{ sleep 0.3; echo two; } > a/made.rs",
    ] {
        let status = std::process::Command::new("sh")
            .args(["-c", script])
            .current_dir(project.path())
            .status()
            .expect("sh runs");
        assert!(status.success(), "{script}");
        assert_eq!(wait_wave(&mut hot), ["a"], "{}", hot.transcript());
    }
    fence(&project, &mut hot, "redirect");
    assert_eq!(waves(&hot).len(), 4, "{}", hot.transcript());
    assert_eq!(
        project.read("seen").lines().collect::<Vec<_>>(),
        ["old ", "one ", "one two "],
        "each run saw the files whole\n{}",
        hot.transcript()
    );
}

#[test]
fn saving_unchanged_content_reruns_nothing() {
    let project = Project::with_hotfile(ABC);
    project.write("a/file.txt", "same");
    let mut hot = start(&project);
    project.write("a/file.txt", "same");
    fence(&project, &mut hot, "same");
    assert_eq!(hot.count("node_started", "a"), 1, "{}", hot.transcript());
}

/// `touch` (times set to now, bytes unchanged) asks for a rebuild, as with make and cargo: one
/// wave. `chmod` leaves the modification time and runs nothing.
#[cfg(unix)]
#[test]
fn a_touch_reruns_once_and_a_chmod_reruns_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::with_hotfile(ABC);
    project.write("a/file.txt", "same");
    let mut hot = start(&project);
    let file = project.path().join("a/file.txt");
    let status = std::process::Command::new("touch")
        .arg(&file)
        .status()
        .expect("touch runs");
    assert!(status.success());
    assert_eq!(wait_wave(&mut hot), ["a", "c"], "{}", hot.transcript());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    fence(&project, &mut hot, "touch");
    assert_eq!(hot.count("node_started", "a"), 2, "{}", hot.transcript());
}

#[test]
fn deleted_and_recreated_files_are_changes() {
    let project = Project::with_hotfile(ABC);
    project.write("a/file.txt", "one");
    let mut hot = start(&project);
    std::fs::remove_file(project.path().join("a/file.txt")).unwrap();
    assert_eq!(wait_wave(&mut hot), ["a", "c"]);
    project.write("a/file.txt", "one");
    assert_eq!(wait_wave(&mut hot), ["a", "c"]);
}

#[test]
fn new_directories_are_watched() {
    let project = Project::with_hotfile(ABC);
    let mut hot = start(&project);
    project.write("a/new/deeper/file.txt", "x");
    assert_eq!(wait_wave(&mut hot), ["a", "c"]);
    project.write("a/new/deeper/file.txt", "y");
    assert_eq!(wait_wave(&mut hot), ["a", "c"]);
}

#[test]
fn gitignored_paths_are_not_changes() {
    let project = Project::with_hotfile(ABC);
    project.write(".gitignore", "a/target/\n");
    project.write("a/target/keep", "");
    let mut hot = start(&project);
    project.write("a/target/out.txt", "x");
    fence(&project, &mut hot, "ignored");
    assert_eq!(hot.count("node_started", "a"), 1, "{}", hot.transcript());
}

/// `hot why` named the nodes an edit to a `.gitignore`d path would rerun, where the watcher
/// never reports one: it says the path is ignored.
#[test]
fn hot_why_named_nodes_for_a_gitignored_path_the_watcher_never_reports() {
    let project = Project::with_hotfile(ABC);
    project.write(".gitignore", "a/target/\n");
    project.write("a/.gitignore", "*.log\n");
    project.write("a/target/out.txt", "");
    let why = project.run(&["why", "a/target/out.txt", "a/x.log", "a/src.txt"]);
    why.code(0);
    let lines: Vec<&str> = why.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "a/target/out.txt: ignored (.gitignore, .ignore or git's excludes): nothing reruns",
            "a/x.log: ignored (.gitignore, .ignore or git's excludes): nothing reruns",
            "a/src.txt: watched by a; then reruns c",
        ],
        "{}",
        why.stdout
    );
}

/// `hot why` said a `.gitignore`d Hotfile was ignored, where the watcher reports its edits
/// (and reloads it) whatever the ignore files say: both ask the one exemption now.
#[test]
fn hot_why_said_a_gitignored_hotfile_was_ignored_where_the_watcher_reports_it() {
    let project = Project::with_hotfile(
        r#"
task "all" {
    watch "*"
    run "true"
}
"#,
    );
    project.write(".gitignore", "Hotfile\nother\n");
    project.write("other", "");
    let why = project.run(&["why", "Hotfile", "other"]);
    why.code(0);
    let lines: Vec<&str> = why.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "Hotfile: watched by all",
            "other: ignored (.gitignore, .ignore or git's excludes): nothing reruns",
        ],
        "{}",
        why.stdout
    );
}

#[test]
fn a_stale_run_is_stopped_with_its_grandchildren_and_started_afresh() {
    let project = Project::with_hotfile(
        r#"
defaults {
    debounce "50ms"
}
task "slow" {
    watch "src/**"
    run "sleep 300 & echo $! > grandchild; wait"
}
"#,
    );
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("node_started", "slow");
    let grandchild = wait_for_pid(&project, "grandchild");
    std::fs::remove_file(project.path().join("grandchild")).unwrap();
    project.write("src/a.rs", "1");
    hot.wait_event("node_restarting", "slow");
    hot.wait_event("node_started", "slow");
    assert!(gone(grandchild), "the stale run's grandchild survived");
    let second = wait_for_pid(&project, "grandchild");
    assert!(alive(second));
    drop(hot);
    assert!(gone(second), "hot left a grandchild running");
}

/// Waits (bounded) for a task to write a pid file.
fn wait_for_pid(project: &Project, file: &str) -> i32 {
    let deadline = std::time::Instant::now() + crate::support::DEADLINE;
    loop {
        if let Ok(pid) = project.read(file).trim().parse() {
            return pid;
        }
        assert!(std::time::Instant::now() < deadline, "no {file}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_edited_hotfile_reloads_and_a_broken_one_keeps_the_old_graph() {
    let project = Project::with_hotfile(ABC);
    let mut hot = start(&project);
    project.write("Hotfile", &ABC.replace("echo b >> log", "echo b2 >> log"));
    hot.wait_event("reloaded", "");
    assert_eq!(wait_wave(&mut hot), ["b"]);
    assert!(project.read("log").contains("b2"));
    project.write("Hotfile", "task \"a\" {\n    after \"nope\"\n}\n");
    let diagnostic = hot.wait_event("diagnostic", "");
    assert!(
        diagnostic["rendered"]
            .as_str()
            .unwrap_or_default()
            .contains("Hotfile:"),
        "{diagnostic}"
    );
    // The previous graph still runs.
    project.write("a/x.txt", "1");
    assert_eq!(wait_wave(&mut hot), ["a", "c"]);
}

/// Deleting the Hotfile, or putting a directory in its place, said nothing at all: the old
/// graph ran on with no word of why edits to the Hotfile no longer counted.
#[test]
fn a_hotfile_deleted_or_made_a_directory_went_unmentioned() {
    let project = Project::with_hotfile(ABC);
    let mut hot = start(&project);
    let hotfile = project.path().join("Hotfile");
    for made_a_directory in [false, true] {
        std::fs::remove_file(&hotfile).unwrap();
        if made_a_directory {
            std::fs::create_dir(&hotfile).unwrap();
        }
        let warning = hot.wait_for("a warning about the Hotfile", |e| {
            e["event"] == "warning" && e["message"].as_str().is_some_and(|m| m.contains("Hotfile"))
        });
        let message = warning["message"].as_str().unwrap_or_default();
        assert!(message.contains("previous version"), "{message}");
        // The previous graph still runs.
        project.write("a/x.txt", &made_a_directory.to_string());
        assert_eq!(wait_wave(&mut hot), ["a", "c"]);
        if made_a_directory {
            std::fs::remove_dir(&hotfile).unwrap();
        }
        project.write("Hotfile", ABC);
        hot.wait_event("reloaded", "");
    }
}

#[test]
fn signals_stop_everything_with_the_conventional_status() {
    for (signal, code) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let project = Project::with_hotfile(
            r#"
service "server" {
    run "sh" "-c" "echo $$ > pid; sleep 300 & echo $! > grandchild; wait"
}
"#,
        );
        let mut hot = project.spawn(&["watch"]);
        hot.wait_event("node_started", "server");
        let pid = wait_for_pid(&project, "pid");
        let grandchild = wait_for_pid(&project, "grandchild");
        hot.signal(signal);
        assert_eq!(hot.wait_exit(), code, "{}", hot.transcript());
        assert!(
            gone(pid) && gone(grandchild),
            "orphans after signal {signal}"
        );
    }
}

#[test]
fn children_die_with_hot_even_when_it_is_killed() {
    let project = Project::with_hotfile(
        r#"
service "server" {
    run "sleep" "300"
}
task "sleeper" {
    run "sleep" "300"
}
"#,
    );
    let mut hot = project.spawn(&["watch"]);
    let mut pids = Vec::new();
    for _ in 0..2 {
        hot.wait_event("node_started", "");
    }
    // The children are hot's only children; find them through /proc.
    let children =
        std::fs::read_to_string(format!("/proc/{}/task/{}/children", hot.pid(), hot.pid()))
            .unwrap();
    for pid in children.split_whitespace() {
        pids.push(pid.parse::<i32>().unwrap());
    }
    // The two keepers, and perhaps the spare keeper waiting for the next start.
    assert!((2..=3).contains(&pids.len()), "{children}");
    hot.signal(libc::SIGKILL);
    hot.wait_exit();
    for pid in pids {
        assert!(gone(pid), "child {pid} outlived a SIGKILLed hot");
    }
}

#[test]
fn a_task_that_retriggers_itself_is_stopped_as_a_loop() {
    let project = Project::with_hotfile(
        r#"
defaults {
    debounce "20ms"
}
task "gen" {
    watch "src/**"
    run "date +%s%N > src/generated.rs"
}
"#,
    );
    project.write("src/lib.rs", "");
    let mut hot = project.spawn(&["watch"]);
    let detected = hot.wait_event("loop_detected", "gen");
    assert_eq!(detected["paths"], serde_json::json!(["src/generated.rs"]));
    // A few runs more on a loaded machine than on an idle one: a write seen while the run is
    // still under way restarts it and is not counted. What matters is that it stops.
    let runs = hot.count("node_started", "gen");
    assert!(
        (2..=10).contains(&runs),
        "{runs} runs\n{}",
        hot.transcript()
    );
    // An edit of the user's still runs it.
    project.write("src/lib.rs", "edited");
    hot.wait_for("a run after the user's edit", |e| {
        e["event"] == "wave_started"
            && e["paths"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p == "src/lib.rs"))
    });
    hot.wait_event("node_started", "gen");
}

#[test]
fn polling_sees_changes_too() {
    let project = Project::with_hotfile(ABC);
    let mut hot = project.spawn(&["watch", "--poll=50ms"]);
    hot.wait_event("watching", "");
    wait_wave(&mut hot);
    project.write("a/x.txt", "1");
    assert_eq!(wait_wave(&mut hot), ["a", "c"]);
}

#[test]
fn a_second_ctrl_c_kills_at_once() {
    let project = Project::with_hotfile(
        r#"
service "stubborn" {
    run "sh" "-c" "trap '' TERM INT; echo $$ > pid; while true; do sleep 0.05; done"
    stop timeout="60s"
}
"#,
    );
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("node_started", "stubborn");
    let pid = wait_for_pid(&project, "pid");
    hot.signal(libc::SIGINT);
    hot.wait_event("stopping", "");
    assert!(
        alive(pid),
        "the first Ctrl-C is graceful: the 60 s timeout still runs"
    );
    hot.signal(libc::SIGINT);
    assert_eq!(hot.wait_exit(), 130);
    assert!(gone(pid));
}

/// Files another process creates while the task runs, seen only after the run ended, have
/// mtimes inside the run: they looked like the task's own writes, four in a row made a
/// "loop", and the last file was never run for (the final count said 19 of 20).
#[test]
fn an_edit_is_lost_to_loop_detection() {
    let project = Project::with_hotfile(
        r#"
task "count" {
    watch "**/*.txt"
    run "find . -name '*.txt' | wc -l"
}
"#,
    );
    let mut hot = start(&project);
    let root = project.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        for n in 0..20 {
            let dir = root.join(format!("n{n:02}"));
            std::fs::create_dir(&dir).expect("mkdir");
            std::fs::write(dir.join("f.txt"), "x").expect("write");
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    writer.join().expect("the writer");
    hot.wait_for("a run that counts all 20 files", |e| {
        e["event"] == "output"
            && e["node"] == "count"
            && e["line"].as_str().map(str::trim) == Some("20")
    });
    assert_eq!(hot.count("loop_detected", ""), 0, "{}", hot.transcript());
}

/// Runs `sh -c script` in a new user namespace in which this process is root, or says why not.
/// The kernel counts inotify watches per user namespace (and up the chain), so a test can lower
/// the limit for itself alone through `/proc/sys/user/max_inotify_watches`.
fn in_user_namespace(script: &str) -> Result<std::process::Command, String> {
    let probe = std::process::Command::new("unshare")
        .args([
            "-U",
            "-r",
            "sh",
            "-c",
            "echo 1 > /proc/sys/user/max_inotify_watches",
        ])
        .output()
        .map_err(|e| format!("cannot run unshare: {e}"))?;
    if !probe.status.success() {
        return Err(format!(
            "unshare -U -r cannot lower the inotify limit here: {}",
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    let mut command = std::process::Command::new("unshare");
    command.args(["-U", "-r", "sh", "-c", script]);
    Ok(command)
}

/// With the inotify watch limit just above the tree's size, new directories got one warning on
/// stderr and were never watched: edits in them were never seen, even after the limit was
/// raised. They are polled now, reported once in `--json` with the fix, and go back to inotify
/// when the limit is raised while hot runs.
#[test]
fn directories_created_past_the_inotify_limit_are_never_watched() {
    // Each `pNN` prints what `nNN/f.txt` holds: seeing a line proves the edit was seen, however
    // the watcher grouped it with the others.
    let hotfile: String = [30, 58, 59]
        .iter()
        .map(|n| format!("task \"p{n}\" {{\n    watch \"n{n}/*.txt\"\n    run \"cat n{n}/f.txt || true\"\n}}\n"))
        .collect();
    let project = Project::with_hotfile(&hotfile);
    project.write("a/x.txt", "1").write("b/y.txt", "1");
    // root, a, b: 3 watches; room for 7 more of the 60 directories to come.
    let script = "echo 10 > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\"";
    let mut command = match in_user_namespace(script) {
        Ok(command) => command,
        Err(why) if crate::support::ci() => {
            panic!("CI must run this test: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    command
        .args([crate::support::HOT, "--json", "watch"])
        .current_dir(project.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    let mut hot = Running::spawn(command);
    hot.wait_event("watching", "");
    wait_wave(&mut hot);
    for n in 0..60 {
        project.write(&format!("n{n:02}/f.txt"), "1");
    }
    let fallback = hot.wait_event("watch_fallback", "");
    let fix = fallback["fix"].as_str().unwrap_or_default();
    assert!(
        fix.starts_with("sudo sysctl fs.inotify.max_user_watches="),
        "{fallback}"
    );
    let suggested = fix.rsplit('=').next().and_then(|n| n.parse::<u64>().ok());
    assert!(suggested.is_some_and(|n| n >= 70), "{fallback}");
    let edited = |hot: &mut Running, n: u32, content: &str| {
        project.write(&format!("n{n}/f.txt"), content);
        let node = format!("p{n}");
        hot.wait_for(&format!("{node} printing {content}"), |e| {
            e["event"] == "output" && e["node"] == node.as_str() && e["line"] == content
        });
    };
    // Past the limit (the first 7 new directories got the watches left): polled.
    edited(&mut hot, 59, "2");
    edited(&mut hot, 30, "2");
    // Raise the limit inside hot's namespace, as `sysctl` would outside.
    let raised = std::process::Command::new("nsenter")
        .args(["-t", &hot.pid().to_string(), "-U", "sh", "-c"])
        .arg("echo 100000 > /proc/sys/user/max_inotify_watches")
        .status()
        .expect("nsenter runs");
    assert!(raised.success(), "nsenter could not raise the limit");
    hot.wait_event("watch_restored", "");
    edited(&mut hot, 58, "3");
    edited(&mut hot, 59, "3");
    assert_eq!(hot.count("watch_fallback", ""), 1, "{}", hot.transcript());
}

/// Edits reach a link's target, not the link: a task watching `src/**` never reran when the
/// target of `src/linked.rs` (outside the project) changed, and `hot why` said it was watched.
#[cfg(unix)]
#[test]
fn symlinked_files_go_stale_silently() {
    use std::os::unix::fs::symlink;
    let project = Project::with_hotfile(
        r#"
task "t" {
    watch "src/**"
    run "cat src/linked.rs"
}
"#,
    );
    project.write("src/main.rs", "");
    let outside = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(outside.path().join("real.rs"), "v1").expect("write");
    symlink(
        outside.path().join("real.rs"),
        project.path().join("src/linked.rs"),
    )
    .expect("link");
    symlink("missing.rs", project.path().join("src/dangling.rs")).expect("link");

    let why = project.run(&["why", "src/linked.rs", "src/dangling.rs", "src/main.rs"]);
    why.code(0);
    let lines: Vec<&str> = why.stdout.lines().collect();
    assert_eq!(lines[0], "src/linked.rs: watched by t", "{}", why.stdout);
    assert!(
        lines[1].contains("is a symlink to") && lines[1].contains("(outside the project)"),
        "{}",
        why.stdout
    );
    assert_eq!(lines[2], "src/dangling.rs: watched by t", "{}", why.stdout);
    assert!(lines[3].contains("does not resolve"), "{}", why.stdout);
    assert_eq!(lines[4], "src/main.rs: watched by t", "{}", why.stdout);
    assert_eq!(lines.len(), 5, "{}", why.stdout);

    let mut hot = start(&project);
    std::fs::write(outside.path().join("real.rs"), "v2").expect("write");
    hot.wait_for("the task printing the target's new content", |e| {
        e["event"] == "output" && e["node"] == "t" && e["line"] == "v2"
    });
}

/// A member's Hotfile with `root ".."`: hot watches the workspace, so an edit to the sibling
/// library the member uses reruns the member's task; the task runs at the root.
#[test]
fn root_above_the_hotfile_watches_a_sibling_library() {
    let project = Project::new();
    project.write("shared/src/lib.rs", "pub fn f() {}\n");
    project.write(
        "api/Hotfile",
        "root \"..\"\ndefaults { debounce \"100ms\"; }\n\
         task \"t\" {\n    watch \"shared/**\"\n    run \"echo t >> log\"\n}\n",
    );
    let mut command = project.hot(&["--json", "watch"]);
    command.current_dir(project.path().join("api"));
    let mut hot = Running::spawn(command);
    hot.wait_event("watching", "");
    assert_eq!(wait_wave(&mut hot), ["t"], "{}", hot.transcript());
    project.write("shared/src/lib.rs", "pub fn f() -> u8 { 1 }\n");
    assert_eq!(wait_wave(&mut hot), ["t"], "{}", hot.transcript());
    // `run` without `dir` runs at the root, not in the Hotfile's directory.
    assert_eq!(project.read("log"), "t\nt\n");
    assert_eq!(project.read("api/log"), "");
}

/// The watcher watches the root hot started with: an edit that moves `root` is refused on
/// reload (the previous graph keeps running) instead of matching globs against other files.
#[test]
fn an_edited_root_keeps_the_old_graph() {
    let project = Project::new();
    let hotfile =
        "root \"..\"\ntask \"t\" {\n    watch \"shared/**\"\n    run \"echo t >> log\"\n}\n";
    project.write("api/Hotfile", hotfile);
    let mut command = project.hot(&["--json", "watch"]);
    command.current_dir(project.path().join("api"));
    let mut hot = Running::spawn(command);
    hot.wait_event("watching", "");
    assert_eq!(wait_wave(&mut hot), ["t"], "{}", hot.transcript());
    project.write("api/Hotfile", &hotfile.replace("root \"..\"\n", ""));
    let warning = hot.wait_event("warning", "");
    assert!(
        warning["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`root` is now"),
        "{warning}"
    );
    project.write("shared/x", "1");
    assert_eq!(wait_wave(&mut hot), ["t"], "{}", hot.transcript());
    assert_eq!(project.read("log"), "t\nt\n");
}
