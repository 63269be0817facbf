//! Trees and processes a real user hands hot, found by trying it as one: a log in the tree that
//! is written all the time, a new file asked about through a link to a parent directory, a
//! machine at its limit on processes.

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::{HOT, Project, Running};

/// Appends a line to `path` every few milliseconds through one open handle (a logger), until
/// dropped.
struct Logger {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Logger {
    fn start(path: std::path::PathBuf) -> Logger {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("the log opens");
            let mut i = 0u64;
            while !flag.load(Ordering::Relaxed) {
                writeln!(log, "request {i} served").expect("the log takes a line");
                i += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Logger {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Logger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A project whose one task watches `src/**` (holding `src/a.txt`), and hot watching it once
/// its first wave is done.
fn watching_src() -> (Project, Running) {
    let project = Project::with_hotfile(
        r#"task "t" {
    watch "src/**"
    run "true"
}
"#,
    );
    project.write("src/a.txt", "one\n");
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("watching", "");
    hot.wait_event("wave_finished", "");
    (project, hot)
}

/// A log in the tree that a glob matches, appended to every 5 ms, held every burst open for
/// the 10 s cap: a save of `src/a.txt` ran 5-10 s after it was made. The log no longer holds
/// back another file's edit; the edit's wave comes long before the cap.
#[test]
fn an_unrelated_edit_waited_for_a_log_written_all_the_time() {
    let (project, mut hot) = watching_src();
    let _log = Logger::start(project.path().join("src/app.log"));
    // Two seconds of log in one open burst (it closes on the 10 s cap alone) before the edit:
    // past hot's stream threshold.
    std::thread::sleep(Duration::from_secs(2));
    // Each of three edits, the later ones in bursts the log opened just after the one before.
    for (i, text) in ["two\n", "three\n", "four\n"].into_iter().enumerate() {
        let saved = Instant::now();
        project.write("src/a.txt", text);
        hot.wait_for("the edit's wave", |e| {
            e["event"] == "wave_started"
                && e["paths"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p == "src/a.txt"))
        });
        let late = saved.elapsed();
        assert!(
            late < Duration::from_secs(5),
            "edit {i}: its wave started {late:?} after it (the cap is 10 s)\n{}",
            hot.transcript()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// With `src/up -> ..`, `hot why src/up/NEW` for a file not there yet said the link "does not
/// resolve" and named the node that watches `src/**`; the watcher reports that file as `NEW`
/// (it does not follow a link back to a directory that holds it). `why` now agrees.
#[test]
fn why_said_a_file_not_there_yet_under_a_link_to_a_parent_was_watched_through_the_link() {
    let project = Project::with_hotfile(
        r#"task "src" {
    watch "src/**"
    run "true"
}
task "new" {
    watch "NEW"
    run "true"
}
"#,
    );
    project.write("src/a.txt", "a\n");
    std::os::unix::fs::symlink("..", project.path().join("src/up")).expect("link");
    let run = project.run(&["why", "src/up/NEW"]);
    run.code(0);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("src/up/NEW: watched by new"),
        "{}",
        run.stdout
    );
    let note = lines.next().unwrap_or_default();
    assert!(
        note.contains("does not follow it") && note.contains("`NEW`"),
        "{}",
        run.stdout
    );

    // The watcher agrees: creating NEW runs `new` only.
    let mut hot = project.spawn(&["--no-status"]);
    hot.wait_event("wave_finished", "");
    project.write("NEW", "x\n");
    let wave = hot.wait_event("wave_started", "");
    assert_eq!(
        wave["nodes"],
        serde_json::json!(["new"]),
        "{}",
        hot.transcript()
    );
}

/// An 8 GB sparse file made in the tree (a disk image, a core dump) was read to the end before
/// the next wave: an edit made just after it waited for the read (2 GB: 14 s; 50 GB: no wave
/// in two minutes). A file that long is judged by its metadata, unread.
#[test]
fn an_edit_waited_while_hot_read_a_huge_sparse_file() {
    let (project, mut hot) = watching_src();
    let image = std::fs::File::create(project.path().join("src/disk.img")).expect("create");
    image.set_len(8 << 30).expect("a sparse file");
    drop(image);
    let saved = Instant::now();
    project.write("src/a.txt", "two\n");
    hot.wait_for("the edit's wave", |e| {
        e["event"] == "wave_started"
            && e["paths"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p == "src/a.txt"))
    });
    let late = saved.elapsed();
    assert!(
        late < Duration::from_secs(5),
        "the edit's wave started {late:?} after it\n{}",
        hot.transcript()
    );
}

/// Two tasks that each watch the file the other writes fed each other without end (61 waves
/// in 10 s, for as long as hot ran): a write counted as a loop only when a run of the node
/// itself or of one after it made it, so once one of the two was caught the other's writes
/// reset it. A write made during any task's run now counts.
#[test]
fn two_tasks_feeding_each_other_through_the_tree_looped_for_ever() {
    let project = Project::with_hotfile(
        r#"task "a" {
    watch "src/b.out"
    run "date +%s%N > src/a.out"
}
task "b" {
    watch "src/a.out"
    run "date +%s%N > src/b.out"
}
"#,
    );
    project.write("src/.keep", "");
    let mut hot = project.spawn(&["watch"]);
    hot.wait_event("loop_detected", "");
    let found = hot.seen.len();
    // The absence of waves can only be seen over time: without the fix the two ran about six
    // waves a second; a loaded machine runs fewer, never none.
    std::thread::sleep(Duration::from_secs(3));
    hot.signal(libc::SIGTERM);
    hot.wait_exit();
    let waves = hot.seen[found..]
        .iter()
        .filter(|e| e["event"] == "wave_started")
        .count();
    assert!(
        waves <= 3,
        "{waves} waves in the 3 s after the loop was found\n{}",
        hot.transcript()
    );
}

/// A user id of this test's own: the limit on processes counts every process and thread of
/// the user, so one that nothing else runs as makes the limit this test sets the one hot meets.
const LIMITED_UID: u32 = 64_999;

/// The defect: at a limit on processes (`ulimit -u`, a container's pids limit), which counts
/// threads too, hot panicked when the system refused a thread: tokio's blocking pool (limit
/// 2) and the start-up walk's (5 and 6), with SIGABRT and no word of what to do. At every
/// limit from one process up, hot now either stops at once with the reason, or watches and
/// says why a command could not start, and stops on SIGTERM.
#[test]
fn hot_panicked_when_the_process_limit_refused_it_a_thread() {
    use std::os::unix::process::CommandExt;
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        // Another user's own processes count against the limit, whatever their number.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs the tests as root; this case needs a user of its own"
        );
        eprintln!("skipped: needs root to run hot as a user of its own");
        return;
    }
    let project = Project::with_hotfile(
        r#"
task "t" {
    watch "src/**"
    run "echo ran"
}
service "s" {
    after "t"
    run "sleep 100"
}
"#,
    );
    project.write("src/a.txt", "1");
    for rel in ["", "Hotfile", "src", "src/a.txt"] {
        std::os::unix::fs::chown(
            project.path().join(rel),
            Some(LIMITED_UID),
            Some(LIMITED_UID),
        )
        .unwrap();
    }
    let uid = LIMITED_UID.to_string();
    let (mut refused, mut watched) = (0, 0);
    for limit in 1..=10 {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid", &uid, "--regid", &uid, "--clear-groups", HOT])
            .args(["--json", "watch"])
            .current_dir(project.path())
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null());
        // SAFETY: setrlimit is async-signal-safe; the limit is inherited across setpriv's
        // change of user and its exec of hot.
        unsafe {
            command.pre_exec(move || {
                let rlimit = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_NPROC, &rlimit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut hot = Running::spawn(command);
        let first = hot.wait_for("watching or error", |e| {
            e["event"] == "watching" || e["event"] == "error"
        });
        if first["event"] == "error" {
            refused += 1;
            let message = first["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("the limit on processes is reached (`ulimit -u`"),
                "limit {limit}: {}",
                hot.transcript()
            );
            assert_eq!(hot.wait_exit(), 1, "limit {limit}: {}", hot.transcript());
        } else {
            watched += 1;
            let wave = hot.wait_event("wave_finished", "");
            // A command the limit kept from starting is failed with the reason, by hot or by
            // the keeper (on the command's output).
            if wave["ok"] != true {
                assert!(
                    hot.transcript()
                        .contains("the limit on processes is reached"),
                    "limit {limit}: {}",
                    hot.transcript()
                );
            }
            hot.signal(libc::SIGTERM);
            assert_eq!(
                hot.wait_exit(),
                128 + libc::SIGTERM,
                "limit {limit}: {}",
                hot.transcript()
            );
        }
        assert!(
            !hot.transcript().contains("panicked"),
            "limit {limit}: {}",
            hot.transcript()
        );
    }
    // The cases above are all met: the limit is what decides, not the machine.
    assert!(
        refused > 0 && watched > 0,
        "{refused} refused, {watched} watched"
    );
}

/// The defect: under a limit of 67 open files or fewer (`ulimit -n 64`), every service failed
/// with "internal error: cannot keep hot's status socket": the spare keeper put that socket
/// above the places of the most sockets a service may have, fd 67, which such a limit does not
/// allow. It now goes as high as the limit lets it, and past the sockets once their count is
/// known.
#[test]
fn every_service_failed_under_a_limit_of_64_open_files() {
    use std::os::unix::process::CommandExt;
    let project = Project::with_hotfile(
        r#"
service "s" {
    watch "src/**"
    socket "http" "127.0.0.1:0"
    run "test \"$LISTEN_FDS\" = 1 && echo up && exec sleep 100"
    ready log="up"
}
"#,
    );
    project.write("src/a.txt", "0");
    let mut command = project.hot(&["--json", "watch"]);
    // SAFETY: setrlimit is async-signal-safe; hot and its keepers inherit the limit.
    unsafe {
        command.pre_exec(|| {
            let rlimit = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut hot = Running::spawn(command);
    hot.wait_event("wave_finished", "");
    // The first start may come before a spare is ready; the restarts take one.
    for edit in 1..=2 {
        project.write("src/a.txt", &edit.to_string());
        hot.wait_event("wave_finished", "");
        assert_eq!(
            hot.count("service_ready", "s"),
            1 + edit,
            "{}",
            hot.transcript()
        );
    }
    assert_eq!(hot.count("node_finished", "s"), 0, "{}", hot.transcript());
}
