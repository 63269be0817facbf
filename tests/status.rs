//! The live status view in a real terminal: `hot` runs in a tmux pane (tmux is the terminal
//! emulator), the test reads the screen with `capture-pane` and types with `send-keys`.
//!
//! Each test starts its own tmux server on a socket of its own and kills it (and the `hot` it
//! started) by pid when done. Screens are polled until what is expected shows or a generous
//! deadline passes. Without tmux the tests say so and pass, except under `CI=true`, where
//! `.ci/run` installs it and a missing tmux is a failure.
#![cfg(unix)]

#[path = "common/ci.rs"]
mod ci;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const HOT: &str = env!("CARGO_BIN_EXE_hot");
/// Long enough for a loaded 2-core CI machine; only ever reached when a test fails.
const DEADLINE: Duration = Duration::from_secs(40);
const WIDTH: usize = 110;
const HEIGHT: usize = 32;

/// A passing task, a failing one, one it blocks, and a service after the passing one.
const HOTFILE: &str = r#"
task "lint" {
    watch "src/**"
    run "echo linting; sleep 0.2; echo lint clean"
}
task "unit" {
    watch "src/**"
    run "echo one test failed; echo 'assertion failed: left == right' >&2; exit 3"
}
task "docs" {
    watch "docs/**"
    after "unit"
    run "echo docs"
}
service "web" {
    watch "src/**"
    after "lint"
    socket "http" "127.0.0.1:0"
    run "sleep 600"
    ready delay="200ms"
}
"#;

fn tmux_present() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(!ci::ci(), "CI must install tmux (.ci/run does)");
        eprintln!("skipped: tmux is not installed (apt-get install tmux)");
    }
    found
}

/// A temporary project, and beside it a directory for what the pane's shell records.
struct Fixture {
    project: tempfile::TempDir,
    records: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(HOTFILE)
    }

    fn with(hotfile: &str) -> Fixture {
        let project = tempfile::Builder::new()
            .prefix("hot-status-")
            .tempdir()
            .expect("a temporary directory");
        std::fs::write(project.path().join("Hotfile"), hotfile).expect("the Hotfile");
        std::fs::create_dir_all(project.path().join("src")).expect("src");
        std::fs::write(project.path().join("src/a.txt"), "a").expect("a source file");
        Fixture {
            project,
            records: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn record(&self, name: &str) -> PathBuf {
        self.records.path().join(name)
    }

    fn read(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.record(name)).ok()
    }
}

/// A tmux server with one pane that runs `hot ARGS` under `env`, recording the terminal's
/// modes before and after, hot's pid and its exit status.
struct Pane {
    socket: String,
    server: Option<i32>,
    hot: Option<i32>,
}

static PANES: AtomicUsize = AtomicUsize::new(0);

impl Pane {
    fn start(fixture: &Fixture, env: &[(&str, &str)], args: &[&str]) -> Pane {
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let path = |name: &str| quote(&fixture.record(name).display().to_string());
        let env: Vec<String> = env
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        let args: Vec<String> = args.iter().map(|a| quote(a)).collect();
        // The inner sh records its pid and becomes hot, so hot runs in the foreground of
        // the pane like any command typed there; the outer shell then records the rest.
        let script = format!(
            "stty -g > {before}; env {env} sh -c 'echo $$ > \"$0\"; exec \"$@\"' {pid} {hot} {args}; \
             echo $? > {code}.tmp; stty -g > {after}; mv {code}.tmp {code}; exec sleep 600",
            before = path("stty.before"),
            after = path("stty.after"),
            code = path("code"),
            pid = path("hot.pid"),
            env = env.join(" "),
            hot = quote(HOT),
            args = args.join(" "),
        );
        let mut pane = Pane::launch(fixture, &script);
        pane.await_hot(fixture);
        pane
    }

    /// A pane running an interactive bash (job control: Ctrl-Z, `fg`), hot not started yet.
    fn shell(fixture: &Fixture) -> Pane {
        Pane::launch(fixture, "exec bash --norc --noprofile -i")
    }

    /// The command line that starts hot from the shell, recording its pid.
    fn hot_command(fixture: &Fixture) -> String {
        format!(
            "sh -c 'echo $$ > \"$0\"; exec \"$1\"' '{}' '{HOT}'",
            fixture.record("hot.pid").display()
        )
    }

    fn launch(fixture: &Fixture, script: &str) -> Pane {
        let socket = format!(
            "hot-status-{}-{}",
            std::process::id(),
            PANES.fetch_add(1, Ordering::SeqCst)
        );
        let mut pane = Pane {
            socket,
            server: None,
            hot: None,
        };
        let width = WIDTH.to_string();
        let height = HEIGHT.to_string();
        let dir = fixture.project.path().display().to_string();
        pane.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width,
            "-y",
            &height,
            "-c",
            &dir,
            script,
        ]);
        pane.server = pane.display("#{pid}").trim().parse().ok();
        pane
    }

    /// Waits for hot's pid to be recorded.
    fn await_hot(&mut self, fixture: &Fixture) {
        let deadline = Instant::now() + DEADLINE;
        while self.hot.is_none() {
            self.hot = fixture
                .read("hot.pid")
                .and_then(|pid| pid.trim().parse().ok());
            assert!(Instant::now() < deadline, "hot never started in the pane");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tmux runs");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn display(&self, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "t", format])
    }

    /// The visible screen, trailing blanks trimmed.
    fn screen(&self) -> String {
        let screen = self.tmux(&["capture-pane", "-p", "-t", "t"]);
        let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
        lines.join("\n").trim_end().to_owned()
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", "t", keys]);
    }

    /// Waits until the screen satisfies `ok`, and returns it.
    #[track_caller]
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {what}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[track_caller]
    fn wait_text(&self, text: &str) -> String {
        self.wait(&format!("`{text}`"), |s| s.contains(text))
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        // hot first (gracefully, so its children go too), then the tmux server.
        if let Some(pid) = self.hot {
            stop(pid);
        }
        if let Some(pid) = self.server {
            stop(pid);
        }
    }
}

/// SIGTERM, then SIGKILL if `pid` is still there after a while.
fn stop(pid: i32) {
    // SAFETY: signalling a pid this test started.
    unsafe {
        if libc::kill(pid, libc::SIGTERM) != 0 {
            return;
        }
        // A hot stopped by Ctrl-Z acts on the SIGTERM only once continued.
        libc::kill(pid, libc::SIGCONT);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if libc::kill(pid, 0) != 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Waits for the pane's shell to record hot's exit status.
#[track_caller]
fn exit_code(fixture: &Fixture, pane: &Pane) -> i32 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(code) = fixture.read("code") {
            return code.trim().parse().expect("a status");
        }
        assert!(
            Instant::now() < deadline,
            "hot did not exit:\n{}",
            pane.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The terminal is as hot found it: same modes, cursor shown, no alternate screen, no scroll
/// region, and nothing of the panel left on screen.
#[track_caller]
fn assert_restored(fixture: &Fixture, pane: &Pane) {
    let before = fixture.read("stty.before").expect("modes before");
    let after = fixture.read("stty.after").expect("modes after");
    assert_eq!(before, after, "the terminal's modes changed");
    let state = pane.display(
        "cursor=#{cursor_flag} alternate=#{alternate_on} region=#{scroll_region_upper}-#{scroll_region_lower}",
    );
    assert_eq!(
        state.trim(),
        format!("cursor=1 alternate=0 region=0-{}", HEIGHT - 1)
    );
    let screen = pane.screen();
    assert!(
        !screen.contains("── hot ·") && !screen.contains("r rerun all"),
        "the panel was left on screen:\n{screen}"
    );
}

/// The `hot:` lines and the panel's rule that say every wave so far is over.
fn settled(screen: &str, wave: u32) -> bool {
    screen.contains(&format!("wave {wave}: ")) && !screen.contains("── hot · running")
}

#[test]
fn status_view_shows_each_node_reruns_on_keys_and_leaves_the_terminal_clean() {
    if !tmux_present() {
        return;
    }
    let fixture = Fixture::new();
    let pane = Pane::start(&fixture, &[], &[]);
    let screen = pane.wait("the first wave settled with web serving", |s| {
        settled(s, 1) && s.contains("● web")
    });
    println!("--- captured screen (tmux capture-pane, {WIDTH}x{HEIGHT}) ---\n{screen}\n---");
    for line in [
        "── hot · 1 failed: unit · 1 blocked · wave 1: start, ",
        "  ✓ lint  ok ",
        "  ✗ unit  failed: exit status 3 (",
        "  - docs  blocked: unit failed",
        "  ● web   serving 127.0.0.1:",
        "  r rerun all  f rerun failed  o output of a failure  c clear  q quit",
    ] {
        assert!(screen.contains(line), "no `{line}` in:\n{screen}");
    }
    let web = screen
        .lines()
        .find(|l| l.starts_with("  ● web"))
        .expect("web's line");
    assert!(
        web.contains("· up ") && web.ends_with("· build of wave 1"),
        "{web}"
    );
    // The real port, not the Hotfile's 0.
    assert!(!web.contains("127.0.0.1:0 "), "{web}");
    // The pid is the server's own (the shim execs the command).
    let pid = web
        .split("· pid ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|pid| pid.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no pid in {web}"));
    assert!(pid > 1, "{web}");
    #[cfg(target_os = "linux")]
    {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            cmdline.starts_with(b"sleep\x00600"),
            "pid {pid} runs {:?}",
            String::from_utf8_lossy(&cmdline)
        );
    }

    // o: the failed node's whole last run, unprefixed, in one block.
    pane.keys("o");
    pane.wait_text(
        "── output of unit's last run (2 lines) ──\none test failed\n\
         assertion failed: left == right\n── end of unit's output ──",
    );

    // r: everything again; web hands off to a new instance once lint passed again.
    pane.keys("r");
    pane.wait_text("wave 2: rerun asked (r)");
    let screen = pane.wait("web serving the build of wave 2", |s| {
        settled(s, 2) && s.contains("build of wave 2")
    });
    assert!(screen.contains("1 failed: unit"), "{screen}");

    // f: only the failed node and what it blocked; lint and web are left alone.
    pane.keys("f");
    pane.wait_text("wave 3: rerun of the failed asked (f)");
    let screen = pane.wait("the third wave settled", |s| settled(s, 3));
    assert!(
        screen.contains(" rerun of the failed asked: running unit, docs"),
        "{screen}"
    );
    assert!(
        screen.contains("build of wave 2"),
        "web was restarted:\n{screen}"
    );

    // c: the screen is cleared and the panel drawn again at the top.
    pane.keys("c");
    let screen = pane.wait("a cleared screen", |s| s.starts_with("── hot ·"));
    assert!(!screen.contains("[unit]"), "{screen}");

    // q: hot stops its children and exits 0; nothing of the panel stays.
    pane.keys("q");
    assert_eq!(exit_code(&fixture, &pane), 0, "{}", pane.screen());
    assert_restored(&fixture, &pane);
}

#[test]
fn ctrl_c_under_the_status_view_exits_130_and_restores_the_terminal() {
    if !tmux_present() {
        return;
    }
    let fixture = Fixture::new();
    let pane = Pane::start(&fixture, &[], &[]);
    pane.wait("the first wave settled", |s| settled(s, 1));
    pane.keys("C-c");
    assert_eq!(exit_code(&fixture, &pane), 130, "{}", pane.screen());
    assert_restored(&fixture, &pane);
    assert!(pane.screen().contains("hot: stopping"), "{}", pane.screen());
}

#[test]
fn term_dumb_no_status_and_json_draw_no_panel() {
    if !tmux_present() {
        return;
    }
    for (env, args, settled) in [
        (&[("TERM", "dumb")][..], &[][..], "serving on 127.0.0.1:"),
        (
            &[][..],
            &["watch", "--no-status"][..],
            "serving on 127.0.0.1:",
        ),
        (&[][..], &["--json"][..], r#""event":"service_ready""#),
    ] {
        let fixture = Fixture::new();
        let pane = Pane::start(&fixture, env, args);
        let screen = pane.wait_text(settled);
        assert!(
            !screen.contains("── hot ·") && !screen.contains("r rerun all"),
            "{env:?} {args:?} drew the panel:\n{screen}"
        );
        pane.keys("C-c");
        assert_eq!(exit_code(&fixture, &pane), 130, "{}", pane.screen());
        let before = fixture.read("stty.before");
        assert_eq!(before, fixture.read("stty.after"), "{env:?} {args:?}");
    }
}

#[test]
fn piped_output_has_no_escape_sequences() {
    let fixture = Fixture::new();
    // A terminal type that could draw the view, and colour not turned off: a pipe alone must
    // be enough for plain lines.
    let mut child = Command::new(HOT)
        .current_dir(fixture.project.path())
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hot starts");
    let pid = i32::try_from(child.id()).expect("a pid");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let err = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let deadline = Instant::now() + DEADLINE;
    let mut settled = false;
    while !settled {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => settled = line.contains("serving on 127.0.0.1:"),
            Err(_) => break,
        }
    }
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let status = child.wait().expect("hot exits");
    let (out, err) = (
        out.join().expect("stdout reader"),
        err.join().expect("stderr reader"),
    );
    assert!(settled, "web never served:\n{err}");
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("hot: 1 failed: unit"), "{err}");
    for (name, text) in [("stdout", &out), ("stderr", &err)] {
        assert!(
            !text.contains('\x1b'),
            "escape sequences on piped {name}:\n{text:?}"
        );
    }
}

#[test]
fn ctrl_z_gives_the_terminal_back_and_fg_draws_the_panel_again() {
    if !tmux_present() {
        return;
    }
    let fixture = Fixture::new();
    let mut pane = Pane::shell(&fixture);
    let before = fixture.record("stty.before").display().to_string();
    let during = fixture.record("stty.during").display().to_string();
    let after = fixture.record("stty.after").display().to_string();
    pane.keys(&format!(
        "stty -g > '{before}'; {}",
        Pane::hot_command(&fixture)
    ));
    pane.keys("Enter");
    pane.await_hot(&fixture);
    pane.wait("the first wave settled", |s| {
        settled(s, 1) && s.contains("● web")
    });

    pane.keys("C-z");
    pane.wait_text("Stopped");
    pane.keys(&format!("stty -g > '{during}'; echo recorded"));
    pane.keys("Enter");
    let screen = pane.wait_text("\nrecorded");
    assert!(
        !screen.contains("── hot ·") && !screen.contains("r rerun all"),
        "the panel stayed while hot was stopped:\n{screen}"
    );
    assert_eq!(
        fixture.read("stty.before"),
        fixture.read("stty.during"),
        "the shell got the terminal in hot's modes"
    );
    assert_eq!(pane.display("#{cursor_flag}").trim(), "1", "cursor hidden");

    pane.keys("fg");
    pane.keys("Enter");
    pane.wait("the panel again", |s| s.ends_with("c clear  q quit"));
    // Keys work again: the rerun runs.
    pane.keys("r");
    pane.wait_text("wave 2: rerun asked (r)");
    pane.wait("the second wave settled", |s| settled(s, 2));
    pane.keys("q");
    pane.wait_text("stopping");
    // Typed before hot is gone, the command would be read as keys (its `o`, its `c`).
    let hot = pane.hot.expect("hot's pid");
    let deadline = Instant::now() + DEADLINE;
    // SAFETY: signal 0 to a pid this test started only asks whether it is there.
    while unsafe { libc::kill(hot, 0) } == 0 {
        assert!(Instant::now() < deadline, "hot did not exit after `q`");
        std::thread::sleep(Duration::from_millis(20));
    }
    pane.keys(&format!("echo code=$?; stty -g > '{after}'"));
    pane.keys("Enter");
    pane.wait_text("code=0");
    let deadline = Instant::now() + DEADLINE;
    while fixture.read("stty.after").is_none_or(|a| a.is_empty()) {
        assert!(Instant::now() < deadline, "no modes recorded after");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(fixture.read("stty.before"), fixture.read("stty.after"));
}

/// The view drew its frames from the event loop: with the terminal held by Ctrl-S (its output
/// stopped, so every write blocks), the loop stopped too: no task started, Ctrl-C did nothing.
#[test]
fn a_terminal_held_by_ctrl_s_does_not_stall_the_loop() {
    if !tmux_present() {
        return;
    }
    let fixture = Fixture::with(
        r#"
task "flood" {
    watch "src/**"
    run "yes flood | head -n 20000; touch flooded"
}
task "mark" {
    watch "marks/**"
    run "touch marked"
}
"#,
    );
    let pane = Pane::start(&fixture, &[], &[]);
    pane.wait("the first wave settled", |s| settled(s, 1));
    let file = |name: &str| fixture.project.path().join(name);
    std::fs::remove_file(file("flooded")).expect("the first wave flooded");
    std::fs::remove_file(file("marked")).expect("the first wave marked");
    pane.keys("C-s");
    // A flood of output while nothing reaches the terminal, then a change for another task.
    std::fs::write(file("src/a.txt"), "b").expect("an edit");
    let await_file = |name: &str, what: &str| {
        let deadline = Instant::now() + DEADLINE;
        while !file(name).exists() {
            assert!(
                Instant::now() < deadline,
                "{what} while the terminal was held"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    await_file("flooded", "the flood never ran to its end");
    std::fs::create_dir_all(file("marks")).expect("marks");
    std::fs::write(file("marks/x"), "x").expect("an edit");
    await_file("marked", "the change never started its task");
    // Ctrl-C still ends hot, after the stop timeout at most.
    pane.keys("C-c");
    assert_eq!(exit_code(&fixture, &pane), 130);
    assert_eq!(
        fixture.read("stty.before"),
        fixture.read("stty.after"),
        "the terminal's modes changed"
    );
    pane.keys("C-q");
}
