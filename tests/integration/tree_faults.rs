//! Trees as real projects have them: named pipes, sockets, device links, unreadable
//! directories, links to big trees. None may block the watcher or a stop. Each case checks
//! that the last run saw the final tree (a checksum taken inside the task), the number of
//! waves, and that hot stops at once on SIGTERM or SIGINT.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{HOT, Project, Running};

/// `t` watches all of `src/` and prints a checksum of its regular files.
const TREE: &str = r#"
task "t" {
    watch "src/**"
    run "echo sum=$(find src -type f | LC_ALL=C sort | xargs cat | cksum)"
}
"#;

/// A project of [`TREE`] with one source file.
fn tree() -> Project {
    let project = Project::with_hotfile(TREE);
    project.write("src/a.txt", "1");
    project
}

/// The checksum `t` prints, taken here on the tree as it is now.
fn checksum(project: &Project) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("echo sum=$(find src -type f | LC_ALL=C sort | xargs cat | cksum)")
        .current_dir(project.path())
        .output()
        .expect("sh runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The last checksum line the task printed.
fn last_sum(hot: &Running) -> String {
    hot.seen
        .iter()
        .rev()
        .find_map(|e| {
            let line = e["line"].as_str()?;
            line.starts_with("sum=").then(|| line.to_owned())
        })
        .unwrap_or_default()
}

fn waves(hot: &Running) -> usize {
    hot.count("wave_started", "")
}

/// Waits for a wave whose changed paths include `path`, then for it to finish.
fn wait_wave_with(hot: &mut Running, path: &str) {
    hot.wait_for(&format!("a wave with {path}"), |e| {
        e["event"] == "wave_started"
            && e["paths"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p == path))
    });
    hot.wait_event("wave_finished", "");
}

/// Sends `signal` and checks hot ends with `128 + signal` within the default stop timeout.
fn stops_at_once(hot: &mut Running, signal: i32) {
    let asked = Instant::now();
    hot.signal(signal);
    let code = hot.wait_exit();
    assert_eq!(code, 128 + signal, "{}", hot.transcript());
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        asked.elapsed()
    );
}

fn warnings(hot: &Running) -> Vec<String> {
    hot.seen
        .iter()
        .filter(|e| e["event"] == "warning")
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// True when the FIFO has a reader: a non-blocking open for writing fails with ENXIO
/// without one. hot must never be that reader.
fn has_reader(path: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .is_ok()
}

/// Starts `hot watch` and waits for the first wave.
fn start(project: &Project) -> Running {
    settled(project.spawn(&["watch"]))
}

/// Waits until every watch is in place and the first wave is over.
fn settled(mut hot: Running) -> Running {
    hot.wait_event("watching", "");
    hot.wait_event("wave_finished", "");
    hot
}

/// Edits `src/a.txt` and checks the wave it sets off ran on the tree as it is now.
fn edit_reaches_the_task(project: &Project, hot: &mut Running) {
    project.write("src/a.txt", "2");
    wait_wave_with(hot, "src/a.txt");
    assert_eq!(last_sum(hot), checksum(project), "{}", hot.transcript());
}

/// Checks there were `count` waves in all, then that `signal` stops hot at once.
fn ends_after(hot: &mut Running, count: usize, signal: i32) {
    assert_eq!(waves(hot), count, "{}", hot.transcript());
    stops_at_once(hot, signal);
}

#[test]
fn a_fifo_matched_by_a_watch_glob_does_not_hang_hot() {
    let project = tree();
    mkfifo(&project.path().join("src/pipe"));
    let mut hot = start(&project);
    assert!(
        !has_reader(&project.path().join("src/pipe")),
        "hot opened the FIFO"
    );
    edit_reaches_the_task(&project, &mut hot);
    ends_after(&mut hot, 2, libc::SIGTERM);
}

#[test]
fn a_fifo_created_while_hot_runs_does_not_hang_hot() {
    let project = tree();
    let mut hot = start(&project);
    let pipe = project.path().join("src/pipe");
    mkfifo(&pipe);
    // Its appearance is a change (judged by presence, never by reading it).
    wait_wave_with(&mut hot, "src/pipe");
    assert!(!has_reader(&pipe), "hot opened the FIFO");
    edit_reaches_the_task(&project, &mut hot);
    ends_after(&mut hot, 3, libc::SIGINT);
}

/// A link to `/dev/zero` is a device reached through the tree: reading it never ends.
/// A FIFO named `.gitignore` or `.ignore` blocked the walker (the `ignore` crate opened it):
/// hot never said `watching`, and no signal stopped it. Only regular ignore files are read.
#[test]
fn a_fifo_named_gitignore_does_not_hang_hot() {
    let project = Project::with_hotfile(TREE);
    project.write("src/a.txt", "1");
    project.write("src/deep/b.txt", "1");
    let pipes = [
        project.path().join(".gitignore"),
        project.path().join("src/.gitignore"),
        project.path().join("src/deep/.ignore"),
    ];
    for pipe in &pipes {
        mkfifo(pipe);
    }
    let mut hot = start(&project);
    project.write("src/a.txt", "2");
    wait_wave_with(&mut hot, "src/a.txt");
    assert_eq!(last_sum(&hot), checksum(&project), "{}", hot.transcript());
    assert_eq!(waves(&hot), 2, "{}", hot.transcript());
    for pipe in &pipes {
        assert!(!has_reader(pipe), "hot opened {}", pipe.display());
    }
    stops_at_once(&mut hot, libc::SIGTERM);
}

/// The same FIFO made while hot runs: a changed ignore file makes hot walk the tree again,
/// and that walk blocked on it.
#[test]
fn a_fifo_named_gitignore_created_while_hot_runs_does_not_hang_hot() {
    let project = Project::with_hotfile(TREE);
    project.write("src/a.txt", "1");
    let mut hot = start(&project);
    let pipe = project.path().join("src/.gitignore");
    mkfifo(&pipe);
    wait_wave_with(&mut hot, "src/.gitignore");
    project.write("src/a.txt", "2");
    wait_wave_with(&mut hot, "src/a.txt");
    assert!(!has_reader(&pipe), "hot opened the FIFO");
    assert_eq!(last_sum(&hot), checksum(&project), "{}", hot.transcript());
    assert_eq!(waves(&hot), 3, "{}", hot.transcript());
    stops_at_once(&mut hot, libc::SIGINT);
}

#[test]
fn a_link_to_a_device_or_a_socket_matched_by_a_watch_glob_does_not_hang_hot() {
    let project = tree();
    let src = project.path().join("src");
    std::os::unix::fs::symlink("/dev/zero", src.join("zero")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(src.join("s.sock")).unwrap();
    let mut hot = start(&project);
    std::os::unix::fs::symlink("/dev/null", src.join("null")).unwrap();
    wait_wave_with(&mut hot, "src/null");
    edit_reaches_the_task(&project, &mut hot);
    ends_after(&mut hot, 3, libc::SIGTERM);
}

/// `setpriv` runs hot as `nobody`, for whom a root-owned directory of mode 700 is unreadable
/// (root reads anything). Without setpriv the case is skipped, except under `CI=true`.
fn as_nobody(project: &Project) -> Option<Command> {
    if !Path::new("/usr/bin/setpriv").exists() && !Path::new("/bin/setpriv").exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "setpriv is missing (util-linux); CI must run the unreadable-directory cases"
        );
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return None;
    }
    // SAFETY: getuid has no preconditions.
    let mut command = if unsafe { libc::getuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", HOT]);
        c
    } else {
        // Not root: chmod alone makes the directory unreadable.
        Command::new(HOT)
    };
    command
        .args(["--json", "watch"])
        .current_dir(project.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    Some(command)
}

/// A project of `nobody`'s with `dbdata/` unreadable to it (root's, mode 700).
fn with_unreadable_dir(hotfile: &str) -> Project {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::with_hotfile(hotfile);
    project.write("src/a.txt", "1");
    project.write("dbdata/db.txt", "secret");
    let chown = |path: &Path, uid: u32| {
        std::os::unix::fs::chown(path, Some(uid), Some(uid)).ok();
    };
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        for rel in ["", "Hotfile", "src", "src/a.txt"] {
            chown(&project.path().join(rel), 65534);
        }
    }
    let perms = |rel: &str, mode: u32| {
        std::fs::set_permissions(
            project.path().join(rel),
            std::fs::Permissions::from_mode(mode),
        )
        .unwrap();
    };
    perms("", 0o755);
    perms("dbdata", 0o700);
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        perms("dbdata", 0o000);
    }
    project
}

#[test]
fn an_unreadable_directory_is_a_warning_not_a_stop() {
    let project = with_unreadable_dir(TREE);
    let Some(command) = as_nobody(&project) else {
        return;
    };
    let mut hot = settled(Running::spawn(command));
    let told = warnings(&hot);
    assert_eq!(told.len(), 1, "{}", hot.transcript());
    assert!(told[0].contains("`dbdata`"), "{}", told[0]);
    assert!(told[0].contains(r#"ignore "dbdata/**""#), "{}", told[0]);
    edit_reaches_the_task(&project, &mut hot);
    ends_after(&mut hot, 2, libc::SIGTERM);
}

/// A directory whose path is longer than `PATH_MAX` (made by a rename: every path stays
/// short while it is made) stopped hot at start: the kernel will not watch it
/// (`ENAMETOOLONG`), and that was an error instead of a directory left out with a warning.
#[test]
fn a_directory_past_path_max_stopped_hot_at_start() {
    let project = tree();
    let segment = "d".repeat(200);
    let chain = |top: &str| {
        let mut dir = project.path().join(top);
        for _ in 0..12 {
            dir.push(&segment);
        }
        std::fs::create_dir_all(&dir).unwrap();
        dir
    };
    let upper = chain("src/deep");
    let lower = chain("low");
    std::fs::write(lower.join("x.txt"), "1").unwrap();
    std::fs::rename(project.path().join("low"), upper.join("low")).unwrap();
    let mut hot = start(&project);
    let told = warnings(&hot);
    assert_eq!(told.len(), 1, "{}", hot.transcript());
    assert!(
        told[0].contains("longer than the system allows"),
        "{}",
        told[0]
    );
    edit_reaches_the_task(&project, &mut hot);
    ends_after(&mut hot, 2, libc::SIGTERM);
}

#[test]
fn the_hotfiles_ignore_keeps_hot_out_of_an_unreadable_directory() {
    let hotfile = format!("defaults {{ ignore \"dbdata/**\"; }}\n{TREE}");
    let project = with_unreadable_dir(&hotfile);
    let Some(command) = as_nobody(&project) else {
        return;
    };
    let mut hot = settled(Running::spawn(command));
    edit_reaches_the_task(&project, &mut hot);
    assert_eq!(warnings(&hot), Vec::<String>::new(), "{}", hot.transcript());
    ends_after(&mut hot, 2, libc::SIGINT);
}

/// inotify watches hot holds, from `/proc/PID/fdinfo`.
fn inotify_watches(pid: i32) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return 0;
    };
    fds.flatten()
        .filter_map(|f| std::fs::read_to_string(f.path()).ok())
        .map(|info| {
            info.lines()
                .filter(|l| l.starts_with("inotify wd:"))
                .count()
        })
        .sum()
}

/// 20,000 files in 200 directories, outside the project.
fn big_tree() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("hot-big-")
        .tempdir()
        .unwrap();
    for d in 0..200 {
        let sub = dir.path().join(format!("d{d}"));
        std::fs::create_dir(&sub).unwrap();
        for f in 0..100 {
            std::fs::write(sub.join(format!("f{f}.txt")), format!("{d}/{f}")).unwrap();
        }
    }
    dir
}

/// `ln -s /usr src/usrlink` made hot read gigabytes before the next edit ran. The link's tree
/// is counted off the watcher's thread and, past the limit, never walked: the edit's wave
/// comes while hot holds a handful of watches (the walk would have added 200).
#[test]
fn a_link_to_a_big_tree_does_not_delay_an_unrelated_edit() {
    let big = big_tree();
    let project = tree();
    let mut hot = start(&project);
    let before = inotify_watches(hot.pid());
    std::os::unix::fs::symlink(big.path(), project.path().join("src/biglink")).unwrap();
    project.write("src/a.txt", "2");
    wait_wave_with(&mut hot, "src/a.txt");
    if warnings(&hot).is_empty() {
        hot.wait_event("warning", "");
    }
    let told = warnings(&hot);
    assert_eq!(told.len(), 1, "{}", hot.transcript());
    assert!(
        told[0].contains(r#"ignore "src/biglink/**""#),
        "{}",
        told[0]
    );
    let after = inotify_watches(hot.pid());
    assert!(
        after <= before + 1,
        "watches went from {before} to {after}: the big tree was walked"
    );
    let under_link = |e: &Value| {
        e["paths"].as_array().is_some_and(|p| {
            p.iter()
                .any(|p| p.as_str().is_some_and(|p| p.starts_with("src/biglink/")))
        })
    };
    assert!(!hot.seen.iter().any(under_link), "{}", hot.transcript());
    assert_eq!(last_sum(&hot), checksum(&project), "{}", hot.transcript());
    // Start, then the edit: a link to a directory is no change of its own.
    ends_after(&mut hot, 2, libc::SIGTERM);
}

/// `dirs` directories, a file in each, under `under` (100 to a parent).
fn many_dirs(under: &Path, dirs: usize) {
    for d in 0..dirs {
        let dir = under.join(format!("d{}/e{}", d / 100, d % 100));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f.txt"), d.to_string()).unwrap();
    }
}

/// SIGTERM during the start-up walk of a big tree was acted on only once the walk was over:
/// hot said `watching` first, then stopped. The walk is called off instead, so hot exits at
/// once, never having watched or run anything.
#[test]
fn a_signal_during_the_start_up_walk_is_acted_on_at_once() {
    let project = Project::with_hotfile(TREE);
    many_dirs(&project.path().join("src"), 10_000);
    let mut hot = project.spawn(&["watch"]);
    // Told once signals are heard and before the walk begins.
    hot.wait_event("scope", "");
    stops_at_once(&mut hot, libc::SIGTERM);
    assert_eq!(
        hot.count("watching", ""),
        0,
        "the signal was acted on after the walk: {}",
        hot.transcript()
    );
    assert_eq!(waves(&hot), 0, "{}", hot.transcript());
}

#[test]
fn hot_check_and_hot_why_say_a_fifo_is_never_opened() {
    let project = tree();
    mkfifo(&project.path().join("src/pipe"));
    let check = project.run(&["check"]);
    check.code(0);
    let told = format!("{}{}", check.stdout, check.stderr);
    assert!(told.contains("`src/pipe` is a named pipe"), "{told}");
    assert!(told.contains("hot never opens it"), "{told}");
    let why = project.run(&["why", "src/pipe", "src/a.txt"]);
    why.code(0);
    assert!(
        why.stdout
            .contains("`src/pipe` is a named pipe: hot never opens it"),
        "{}",
        why.stdout
    );
    assert_eq!(
        why.stdout.matches("named pipe").count(),
        1,
        "{}",
        why.stdout
    );
}

/// `hot check` and `hot why` wrote a special file's name raw (an escape sequence in it reached
/// the terminal) and `hot check` named only the first of a node's special files, silent on
/// the others.
#[test]
fn hot_check_wrote_a_fifo_s_name_raw_and_named_one_of_several_alone() {
    let project = tree();
    mkfifo(&project.path().join("src/pipe\x1b[2J"));
    mkfifo(&project.path().join("src/other"));
    let check = project.run(&["check"]);
    check.code(0);
    let told = format!("{}{}", check.stdout, check.stderr);
    assert!(!told.contains('\x1b'), "{told:?}");
    assert!(
        told.contains("and 1 more file that is not a regular one"),
        "{told}"
    );
    let why = project.run(&["why", "src/pipe\x1b[2J"]);
    why.code(0);
    assert!(!why.stdout.contains('\x1b'), "{:?}", why.stdout);
    assert!(
        why.stdout.contains("`src/pipe\\u{1b}[2J` is a named pipe"),
        "{}",
        why.stdout
    );
}

#[test]
fn an_unreadable_file_is_told_once() {
    use std::os::unix::fs::PermissionsExt;
    let project = with_unreadable_dir(&format!("defaults {{ ignore \"dbdata/**\"; }}\n{TREE}"));
    project.write("src/secret.txt", "x");
    let secret = project.path().join("src/secret.txt");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let Some(command) = as_nobody(&project) else {
        return;
    };
    let mut hot = settled(Running::spawn(command));
    project.write("src/a.txt", "2");
    wait_wave_with(&mut hot, "src/a.txt");
    let told = warnings(&hot);
    assert_eq!(told.len(), 1, "{}", hot.transcript());
    assert!(
        told[0].contains("cannot read `src/secret.txt`"),
        "{}",
        told[0]
    );
    assert!(
        told[0].contains(r#"ignore "src/secret.txt""#),
        "{}",
        told[0]
    );
    ends_after(&mut hot, 2, libc::SIGTERM);
}
