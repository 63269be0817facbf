//! The board fed by a real engine, the panel drawn for a width, frames as bytes, keys.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::board::{Board, State};
use super::render::{self, Painted, View};
use super::screen::{self, Screen};
use super::term::{Key, keys};
use crate::engine::{Action, Engine, Event, Exit, Mode, Options, Rerun};
use crate::model::testing::project;
use crate::model::{NodeId, Project, Restart};
use crate::report::event::{EventKind, Kind, NodeInfo};
use crate::report::{self, Reporter, Sink, Stream};

type Nodes<'a> = &'a [(&'a str, &'a [&'a str], &'a [&'a str])];

const WEB: Nodes = &[
    ("clippy", &["src/**/*.rs"], &[]),
    ("test", &["src/**/*.rs"], &["clippy"]),
    ("build", &["src/**/*.rs"], &[]),
    ("serve", &["templates/**"], &["test", "build"]),
];

/// Keeps every event it is sent.
struct Capture(Arc<Mutex<Vec<report::Event>>>);

impl Sink for Capture {
    fn event(&mut self, event: &report::Event) {
        self.0.lock().expect("not poisoned").push(event.clone());
    }
}

/// An engine and a board that sees every report the engine makes, translated by a real
/// reporter, on a scripted clock.
struct Rig {
    engine: Engine,
    reporter: Reporter,
    events: Arc<Mutex<Vec<report::Event>>>,
    board: Board,
    now: Instant,
    /// Every event the board was handed, in order.
    seen: Vec<report::Event>,
}

impl Rig {
    fn new(nodes: Nodes) -> Rig {
        Rig::with(project(nodes))
    }

    /// A rig on a project the test adjusted (locks, restart policies).
    fn with(project: Project) -> Rig {
        let project = Arc::new(project);
        let engine = Engine::new(
            project.clone(),
            Options {
                mode: Mode::Watch,
                targets: None,
                services: true,
                jobs: 8,
            },
        );
        let events = Arc::new(Mutex::new(Vec::new()));
        let reporter = Reporter::with_sinks(false, vec![Box::new(Capture(events.clone()))]);
        reporter.scope(&project, engine.scope());
        let mut rig = Rig {
            engine,
            reporter,
            events,
            board: Board::new(),
            now: Instant::now(),
            seen: Vec::new(),
        };
        rig.drain();
        rig
    }

    /// Hands the board what the reporter sent since the last call.
    fn drain(&mut self) {
        let events = std::mem::take(&mut *self.events.lock().expect("not poisoned"));
        for event in events {
            self.board.event(self.now, &event.kind);
            self.seen.push(event);
        }
    }

    fn feed(&mut self, actions: Vec<Action>) {
        let project: Arc<Project> = self.engine.project().clone();
        for action in actions {
            if let Action::Report(report) = action {
                self.reporter.report(&project, &report);
            }
        }
        self.drain();
    }

    fn start(&mut self) {
        let actions = self.engine.start(self.now);
        self.feed(actions);
    }

    fn wait(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
    }

    fn event(&mut self, event: Event) {
        let actions = self.engine.handle(self.now, event);
        self.feed(actions);
    }

    fn exit(&mut self, name: &str, generation: u64, code: i32) {
        let node = self.id(name);
        self.event(Event::Exited {
            node,
            generation,
            exit: Exit::Code(code),
            last_lines: Vec::new(),
            ran: None,
        });
    }

    fn ready(&mut self, name: &str, generation: u64) {
        let node = self.id(name);
        self.event(Event::Ready { node, generation });
    }

    fn output(&mut self, name: &str, line: &str) {
        self.reporter.output(name, Stream::Stdout, line);
        self.drain();
    }

    fn listening(&mut self, name: &str, addr: &str) {
        let addr = addr.parse().expect("an address");
        self.reporter.listening(name, "http", addr);
        self.drain();
    }

    fn id(&self, name: &str) -> NodeId {
        self.engine.project().find(name).expect("known node")
    }

    fn panel(&self, width: usize) -> String {
        text(&render::panel(&self.board, &view(self.now, width, 40)))
    }
}

fn view(now: Instant, width: usize, height: usize) -> View<'static> {
    View {
        now,
        width,
        height,
        color: false,
        keys: true,
        flash: None,
    }
}

fn text(lines: &[Painted]) -> String {
    lines
        .iter()
        .map(|l| format!("{}\n", l.text.trim_end()))
        .collect()
}

/// Asserts that `panel` shows `text`; the panel is the message when it does not.
#[track_caller]
fn assert_shows(panel: &str, text: &str) {
    assert!(panel.contains(text), "{panel}");
}

#[test]
fn panel_follows_a_first_wave_from_queued_to_serving() {
    let mut rig = Rig::new(WEB);
    assert_eq!(
        rig.panel(60),
        "\
── hot · starting ─────────────────────────────────────────
    clippy  idle
    test    idle
    build   idle
    serve   idle
  r rerun all  f rerun failed  o output of a failure  c cl…
"
    );
    rig.start();
    rig.wait(1250);
    assert_eq!(
        rig.panel(80),
        "\
── hot · running 1.2s · wave 1: start ─────────────────────────────────────────
  ⠹ clippy  running 1.2s
  · test    queued
  ⠹ build   running 1.2s
  · serve   queued
  r rerun all  f rerun failed  o output of a failure  c clear  q quit
"
    );
    rig.exit("clippy", 1, 0);
    rig.exit("build", 2, 0);
    rig.wait(2000);
    rig.exit("test", 3, 0);
    rig.wait(300);
    rig.ready("serve", 4);
    rig.wait(65_000);
    assert_eq!(
        rig.panel(100),
        "\
── hot · all ok · wave 1: start, 3.55s ────────────────────────────────────────────────────────────
  ✓ clippy  ok 1.25s
  ✓ test    ok 2.00s
  ✓ build   ok 1.25s
  ● serve   serving · up 1m05s · build of wave 1
  r rerun all  f rerun failed  o output of a failure  c clear  q quit
"
    );
}

#[test]
fn a_failure_names_the_node_blocks_its_dependents_and_keeps_the_server() {
    let mut rig = Rig::new(WEB);
    rig.start();
    rig.exit("clippy", 1, 0);
    rig.exit("build", 2, 0);
    rig.exit("test", 3, 0);
    rig.ready("serve", 4);
    rig.wait(10_000);
    let changed = crate::engine::Change::path("src/main.rs");
    rig.event(Event::Changed(vec![changed]));
    rig.wait(400);
    rig.exit("clippy", 5, 101);
    rig.exit("build", 6, 0);
    let panel = rig.panel(120);
    assert_eq!(
        panel,
        "\
── hot · 1 failed: clippy · 2 blocked · wave 2: src/main.rs changed, 400ms ────────────────────────────────────────────
  ✗ clippy  failed: exit status 101 (400ms)
  - test    blocked: clippy failed
  ✓ build   ok 400ms
  ! serve   serving · up 10s · build of wave 1 · stale: not restarted, clippy failed
  r rerun all  f rerun failed  o output of a failure  c clear  q quit
"
    );
    assert_eq!(rig.board.failed(), ["clippy"]);

    // Rerunning the failed reruns clippy and what it blocked; the server stays up meanwhile.
    rig.event(Event::Rerun(Rerun::Failed));
    rig.wait(100);
    let panel = rig.panel(120);
    assert_shows(
        &panel,
        "── hot · running 0.1s · wave 3: rerun of the failed asked (f) ──",
    );
    assert_shows(&panel, "clippy  running 0.1s");
    assert_shows(&panel, "test    queued");
    assert_shows(&panel, "build   ok 400ms");
    assert_shows(
        &panel,
        "serving · up 10s · build of wave 1 · new build queued",
    );
}

#[test]
fn a_crashed_service_says_nothing_serves_its_address() {
    let mut rig = Rig::new(&[("serve", &["src/**"], &[])]);
    rig.listening("serve", "127.0.0.1:8080");
    rig.start();
    // The keeper reports the command's pid a moment after the start, in the one stream.
    rig.reporter.command_started("serve", 1, 4242);
    rig.drain();
    rig.wait(200);
    assert_shows(
        &rig.panel(100),
        "⠹ serve  starting 0.2s · nothing serves 127.0.0.1:8080",
    );
    rig.ready("serve", 1);
    rig.wait(3000);
    assert_shows(
        &rig.panel(100),
        "● serve  serving 127.0.0.1:8080 · pid 4242 · up 3s · build of wave 1",
    );
    rig.exit("serve", 1, 1);
    let panel = rig.panel(120);
    assert_shows(
        &panel,
        "✗ serve  exited: exit status 1 after 3.2s; down, restarting in 0.5s · nothing serves 127.0.0.1:8080",
    );
    assert_shows(&panel, "1 failed: serve");
    // The countdown runs on the view's clock; the engine's tick brings the service back.
    rig.wait(300);
    assert_shows(&rig.panel(120), "down, restarting in 0.2s");
    rig.wait(300);
    rig.event(Event::Tick);
    let panel = rig.panel(120);
    assert_shows(&panel, "⠋ serve  starting 0.0s");
    assert!(!panel.contains("down"), "{panel}");
}

#[test]
fn a_crashed_service_that_never_restarts_waits_for_a_change() {
    let mut project = project(&[("serve", &["src/**"], &[])]);
    project.nodes[0].restart = Restart::Never;
    let mut rig = Rig::with(project);
    rig.start();
    rig.ready("serve", 1);
    rig.exit("serve", 1, 0);
    let panel = rig.panel(120);
    assert_shows(
        &panel,
        "✗ serve  exited: exit status 0 after 0.0s; down, restarts at the next change",
    );
}

#[test]
fn a_queued_task_names_the_lock_it_waits_for() {
    let mut project = project(&[("build", &["src/**"], &[]), ("check", &["src/**"], &[])]);
    for node in &mut project.nodes {
        node.locks = vec!["cargo".into()];
    }
    let mut rig = Rig::with(project);
    rig.start();
    let panel = rig.panel(100);
    assert_shows(&panel, "build  running");
    assert_shows(
        &panel,
        "check  queued · waits for lock cargo (build holds it)",
    );
    rig.exit("build", 1, 0);
    let panel = rig.panel(100);
    assert_shows(&panel, "check  running");
    assert!(!panel.contains("waits for lock"), "{panel}");
}

#[test]
fn a_suspended_instance_says_how_to_resume_it() {
    let mut rig = Rig::new(&[("daemon", &["src/**"], &[])]);
    rig.start();
    let node = rig.id("daemon");
    rig.event(Event::Suspended {
        node,
        generation: 1,
        signal: libc::SIGSTOP,
        pid: 777,
    });
    let panel = rig.panel(120);
    assert_shows(
        &panel,
        "pid 777 stopped by SIGSTOP: `kill -CONT 777` resumes it",
    );
}

/// "stopped (SIGSTOP)" stayed on the line after `kill -CONT`: no event says a process was
/// continued, so its next line of output (or its end) clears the note; other notes stay.
#[test]
fn stopped_note_clears_once_the_instance_runs_again() {
    let mut rig = Rig::new(&[("daemon", &["src/**"], &[])]);
    rig.start();
    let node = rig.id("daemon");
    let stop = || Event::Suspended {
        node,
        generation: 1,
        signal: libc::SIGSTOP,
        pid: 777,
    };
    rig.event(stop());
    assert!(rig.panel(120).contains("stopped by SIGSTOP"));
    rig.reporter.emit(EventKind::Output {
        node: "daemon".into(),
        stream: Stream::Stdout,
        line: "tick".into(),
    });
    rig.drain();
    let panel = rig.panel(120);
    assert!(!panel.contains("stopped by"), "{panel}");
    rig.event(stop());
    rig.exit("daemon", 1, 0);
    let panel = rig.panel(120);
    assert!(!panel.contains("stopped by"), "{panel}");
    // A loop note is not a stop: output leaves it.
    rig.reporter.emit(EventKind::LoopDetected {
        node: "daemon".into(),
        paths: vec!["src/out.rs".into()],
    });
    rig.reporter.emit(EventKind::Output {
        node: "daemon".into(),
        stream: Stream::Stdout,
        line: "tick".into(),
    });
    rig.drain();
    let panel = rig.panel(120);
    assert_shows(&panel, "loop: ignoring its own writes");
}

#[test]
fn the_header_says_while_directories_are_polled() {
    let mut rig = Rig::new(&[("test", &["src/**"], &[])]);
    rig.start();
    let fallback = EventKind::WatchFallback {
        polled: 12,
        limit: Some(128),
        suggested: 1024,
        fix: None,
        interval_ms: 500.0,
        message: "the inotify watch limit is full".to_owned(),
    };
    rig.board.event(rig.now, &fallback);
    let panel = rig.panel(120);
    assert_shows(&panel, "polling 12 dirs (inotify limit full)");
    let restored = EventKind::WatchRestored {
        directories: 40,
        message: "every directory is watched again".to_owned(),
    };
    rig.board.event(rig.now, &restored);
    assert!(!rig.panel(120).contains("polling"), "{}", rig.panel(120));
}

#[test]
fn a_server_that_ignores_fd_3_says_where_it_listens_on_its_row() {
    let mut board = Board::new();
    let now = Instant::now();
    board.event(
        now,
        &EventKind::Scope {
            nodes: vec![NodeInfo {
                name: "web".to_owned(),
                kind: Kind::Service,
                after: Vec::new(),
                sockets: vec!["127.0.0.1:18221".to_owned()],
                locks: Vec::new(),
            }],
        },
    );
    board.event(
        now,
        &EventKind::SocketUnused {
            node: "web".to_owned(),
            socket: "http".to_owned(),
            fd: 3,
            addr: "127.0.0.1:18221".to_owned(),
            listening: vec!["127.0.0.1:3000".to_owned()],
            closed: false,
            message: String::new(),
        },
    );
    assert_eq!(
        board.rows()[0].note.as_deref(),
        Some("listens on 127.0.0.1:3000 itself, not on fd 3")
    );
}

#[test]
fn a_port_zero_address_shows_the_port_hot_bound() {
    let mut board = Board::new();
    let scope = |sockets: &[&str]| EventKind::Scope {
        nodes: vec![NodeInfo {
            name: "api".to_owned(),
            kind: Kind::Service,
            after: Vec::new(),
            sockets: sockets.iter().map(|s| (*s).to_owned()).collect(),
            locks: Vec::new(),
        }],
    };
    let now = Instant::now();
    board.event(now, &scope(&["127.0.0.1:0", "[::1]:9000"]));
    assert_eq!(board.rows()[0].addrs(), ["127.0.0.1:0", "[::1]:9000"]);
    board.event(
        now,
        &EventKind::Listening {
            node: "api".to_owned(),
            socket: "http".to_owned(),
            addr: "127.0.0.1:40123".to_owned(),
        },
    );
    assert_eq!(board.rows()[0].addrs(), ["127.0.0.1:40123"]);
    board.event(
        now,
        &EventKind::Listening {
            node: "api".to_owned(),
            socket: "admin".to_owned(),
            addr: "[::1]:9000".to_owned(),
        },
    );
    // A reload that keeps the socket keeps the bound port.
    board.event(now, &scope(&["127.0.0.1:0", "[::1]:9000"]));
    assert_eq!(board.rows()[0].addrs(), ["[::1]:9000", "127.0.0.1:40123"]);
}

#[test]
fn a_new_instance_that_dies_before_ready_leaves_the_old_one_serving() {
    let mut rig = Rig::new(&[("serve", &["src/**"], &[])]);
    rig.start();
    rig.ready("serve", 1);
    rig.event(Event::Changed(vec![crate::engine::Change::path("src/a")]));
    rig.wait(50);
    rig.exit("serve", 2, 3);
    let panel = rig.panel(120);
    assert_shows(
        &panel,
        "! serve  serving · up 0s · build of wave 1 · new build failed, not live: exit status 3 before it was ready",
    );
    assert_shows(&panel, "1 failed: serve");
}

#[test]
fn lines_are_cut_to_the_width_and_the_panel_to_half_the_height() {
    let nodes: Vec<(String, Vec<&str>, Vec<&str>)> = (0..30)
        .map(|i| {
            (
                format!("node-with-a-long-name-{i:02}"),
                vec!["src/**"],
                vec![],
            )
        })
        .collect();
    let nodes: Vec<(&str, &[&str], &[&str])> = nodes
        .iter()
        .map(|(n, w, a)| (n.as_str(), w.as_slice(), a.as_slice()))
        .collect();
    let mut rig = Rig::new(&nodes);
    rig.start();
    for generation in 1..=30 {
        let code = i32::from(generation == 17 || generation == 25);
        let name = format!("node-with-a-long-name-{:02}", generation - 1);
        rig.exit(&name, generation, code);
    }
    let lines = render::panel(&rig.board, &view(rig.now, 40, 24));
    assert_eq!(lines.len(), 12, "{}", text(&lines));
    for line in &lines {
        assert!(line.width <= 39, "{line:?}");
        assert_eq!(
            unicode_width::UnicodeWidthStr::width(line.text.as_str()),
            line.width
        );
    }
    let shown = text(&lines);
    // The failure is kept whatever its position; calm rows make room for it.
    assert!(
        shown.contains("✗ node-with-a-long-nam  failed: exit…"),
        "{shown}"
    );
    assert!(shown.contains("… 21 more, all ok or idle"), "{shown}");
    assert_eq!(shown.matches("failed: exit").count(), 2, "{shown}");
    // Too short for every failure: the line that stands for the rest says so.
    let lines = render::panel(&rig.board, &view(rig.now, 60, 8));
    let shown = text(&lines);
    assert_eq!(lines.len(), 4, "{shown}");
    assert!(shown.contains("… 29 more, 1 of them not ok"), "{shown}");
}

#[test]
fn a_run_keeps_its_newest_output_and_counts_what_it_dropped() {
    let mut rig = Rig::new(&[("test", &["src/**"], &[])]);
    rig.start();
    for i in 0..5_000 {
        rig.output("test", &format!("line {i}"));
    }
    let output = rig.board.output_of("test").expect("a row");
    assert_eq!(output.lines.len(), 2_000);
    assert_eq!(output.dropped, 3_000);
    assert_eq!(output.lines.front().map(String::as_str), Some("line 3000"));
    // A new run starts with an empty record.
    rig.exit("test", 1, 1);
    rig.event(Event::Rerun(Rerun::Failed));
    assert_eq!(rig.board.output_of("test").map(|o| o.lines.len()), Some(0));
    assert!(matches!(rig.board.rows()[0].state, State::Running { .. }));
}

fn painted(lines: &[&str]) -> Vec<Painted> {
    lines
        .iter()
        .map(|l| Painted {
            text: (*l).to_owned(),
            width: l.chars().count(),
        })
        .collect()
}

#[test]
fn an_unchanged_frame_writes_nothing_and_a_changed_line_is_all_that_is_rewritten() {
    let mut screen = Screen::default();
    let mut out = String::new();
    screen.frame(&[], painted(&["head", "a 1", "b 1"]), 80, &mut out);
    assert_eq!(
        out,
        format!(
            "{}{}\r\x1b[Jhead\na 1\nb 1{}",
            screen::SYNC_BEGIN,
            screen::HIDE_CURSOR,
            screen::SYNC_END
        )
    );
    assert_eq!(screen.rows(), 3);

    out.clear();
    screen.frame(&[], painted(&["head", "a 1", "b 1"]), 80, &mut out);
    assert_eq!(out, "", "nothing changed, nothing written");

    // Only the middle line changed: up one, rewrite it, down one. No clear of the screen.
    out.clear();
    screen.frame(&[], painted(&["head", "a 2", "b 1"]), 80, &mut out);
    assert_eq!(
        out,
        format!(
            "{}\x1b[1A\ra 2\x1b[K\x1b[1B{}",
            screen::SYNC_BEGIN,
            screen::SYNC_END
        )
    );
}

#[test]
fn output_scrolls_above_the_panel_in_one_write() {
    let mut screen = Screen::default();
    let mut out = String::new();
    screen.frame(&[], painted(&["head", "a"]), 80, &mut out);
    out.clear();
    screen.frame(
        &["[a] one".to_owned(), "[a] two".to_owned()],
        painted(&["head", "a"]),
        80,
        &mut out,
    );
    assert_eq!(
        out,
        format!(
            "{}\r\x1b[1A\x1b[J[a] one\n[a] two\n\x1b[0mhead\na{}",
            screen::SYNC_BEGIN,
            screen::SYNC_END
        )
    );
    // A terminal narrowed to 2 columns rewraps "head" onto 2 rows: the way up counts them.
    out.clear();
    screen.frame(&[], painted(&["head", "b"]), 2, &mut out);
    assert!(out.contains("\r\x1b[2A\x1b[J"), "{out:?}");
}

#[test]
fn erasing_leaves_nothing_and_shows_the_cursor() {
    let mut screen = Screen::default();
    let mut out = String::new();
    screen.frame(&[], painted(&["head", "a", "b"]), 80, &mut out);
    out.clear();
    screen.erase(&mut out);
    assert_eq!(
        out,
        format!(
            "{}\r\x1b[2A\x1b[J{}{}",
            screen::SYNC_BEGIN,
            screen::SHOW_CURSOR,
            screen::SYNC_END
        )
    );
    assert_eq!(screen.rows(), 0);
    out.clear();
    screen.erase(&mut out);
    assert_eq!(out, "", "erased once");
    assert_eq!(
        screen::erase_rows(3),
        format!(
            "{}\r\x1b[2A\x1b[J\x1b[0m{}",
            screen::SYNC_END,
            screen::SHOW_CURSOR
        )
    );
}

#[test]
fn keys_skip_escape_sequences() {
    assert_eq!(
        keys(b"rfocq"),
        [
            Key::RerunAll,
            Key::RerunFailed,
            Key::ShowFailed,
            Key::Clear,
            Key::Quit
        ]
    );
    // Up arrow, F1, Ctrl-Right: their letters are not keys.
    assert_eq!(keys(b"\x1b[A\x1bOP\x1b[1;5C"), []);
    assert_eq!(keys(b"x\x1b[Aq"), [Key::Quit]);
    assert_eq!(keys(b"\x0c"), [Key::Clear]);
}

#[test]
fn a_rerun_wave_says_so_in_json_and_no_other_wave_has_the_key() {
    let mut rig = Rig::new(&[("test", &["src/**"], &[])]);
    let keep = rig.events.clone();
    let waves = move |rig: &mut Rig, actions: Vec<Action>| -> Vec<serde_json::Value> {
        let project = rig.engine.project().clone();
        for action in actions {
            if let Action::Report(report) = action {
                rig.reporter.report(&project, &report);
            }
        }
        std::mem::take(&mut *keep.lock().expect("not poisoned"))
            .iter()
            .map(|e| serde_json::from_str(&report::json::line(e)).expect("JSON"))
            .filter(|v: &serde_json::Value| v["event"] == "wave_started")
            .collect()
    };
    let first = rig.engine.start(rig.now);
    let start = waves(&mut rig, first);
    assert_eq!(start.len(), 1);
    assert!(start[0].get("rerun").is_none(), "{}", start[0]);
    let exited = rig.engine.handle(
        rig.now,
        Event::Exited {
            node: NodeId(0),
            generation: 1,
            exit: Exit::Code(1),
            last_lines: Vec::new(),
            ran: None,
        },
    );
    waves(&mut rig, exited);
    let rerun = rig.engine.handle(rig.now, Event::Rerun(Rerun::Failed));
    let rerun = waves(&mut rig, rerun);
    assert_eq!(rerun.len(), 1);
    assert_eq!(rerun[0]["rerun"], "failed", "{}", rerun[0]);
    assert_eq!(rerun[0]["start"], false);
    assert_eq!(rerun[0]["nodes"], serde_json::json!(["test"]));
}

/// A piece written to the terminal, and the name of the thread that wrote it.
type Write = (Option<String>, String);

/// A terminal that stops taking bytes (Ctrl-S) until `go` is set, and records which thread
/// wrote each piece.
#[derive(Clone, Default)]
struct Held {
    go: Arc<(Mutex<bool>, std::sync::Condvar)>,
    writes: Arc<Mutex<Vec<Write>>>,
}

impl Held {
    fn release(&self) {
        *self.go.0.lock().unwrap() = true;
        self.go.1.notify_all();
    }

    fn text(&self) -> String {
        self.writes
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.as_str())
            .collect()
    }
}

impl std::io::Write for Held {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut go = self.go.0.lock().unwrap();
        while !*go {
            go = self.go.1.wait(go).unwrap();
        }
        let thread = std::thread::current().name().map(str::to_owned);
        let text = String::from_utf8_lossy(bytes).into_owned();
        self.writes.lock().unwrap().push((thread, text));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The view wrote its frames from the driver's loop: a terminal held by Ctrl-S stopped the
/// loop, signals and all. Now the loop only asks, and every write is the writer thread's.
#[test]
fn a_stalled_terminal_does_not_stall_the_loop() {
    let terminal = Held::default();
    let (sink, control) = super::StatusSink::new(false, Box::new(terminal.clone()));
    let reporter = Reporter::with_sinks(false, vec![Box::new(sink)]);
    reporter
        .spawn_writer(Duration::from_millis(200))
        .expect("a writer thread");
    // The loop's side, on a thread of its own so that a stall fails the test instead of
    // hanging it.
    let (done, finished) = std::sync::mpsc::channel();
    let loop_side = {
        let reporter = reporter.clone();
        std::thread::spawn(move || {
            control.set_keys(true);
            for i in 0..5_000 {
                reporter.emit(EventKind::Output {
                    node: "web".into(),
                    stream: Stream::Stdout,
                    line: format!("line {i}"),
                });
                reporter.frame();
                if i % 1000 == 0 {
                    assert!(control.key(Key::Clear, Instant::now()).is_none());
                    let rerun = control.key(Key::RerunAll, Instant::now());
                    assert!(matches!(rerun, Some(Event::Rerun(Rerun::All))));
                }
            }
            control.suspend();
            // Bounded by the writer's patience: the terminal still takes nothing.
            let drawn = reporter.frame_and_wait();
            control.resume(true, true);
            done.send(drawn).expect("the test waits");
        })
    };
    let drawn = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the loop went on while the terminal took nothing");
    assert!(!drawn, "nothing can be drawn on a held terminal");
    assert!(terminal.text().is_empty());
    loop_side.join().expect("no panic");
    terminal.release();
    reporter.finish();
    let writes = terminal.writes.lock().unwrap().clone();
    assert!(!writes.is_empty());
    for (thread, _) in &writes {
        assert_eq!(
            thread.as_deref(),
            Some("hot-writer"),
            "written from {thread:?}"
        );
    }
    // What the writer could not hold was dropped and said so, not queued without bound.
    let text = terminal.text();
    assert!(text.contains("events dropped"), "{text}");
}

#[test]
fn an_early_instance_ready_before_its_gate_says_it_waits_for_it() {
    let mut project = project(WEB);
    let test = project.find("test").expect("WEB has test");
    let serve = project.find("serve").expect("WEB has serve");
    project.nodes[serve.0].gates = vec![test];
    let mut rig = Rig::with(project);
    rig.start();
    // clippy#1 and build#2 run; serve#3 starts once build passed, while clippy (and then
    // test) still run, and is ready first: it is all there is, so it serves meanwhile.
    rig.exit("build", 2, 0);
    rig.ready("serve", 3);
    assert_shows(
        &rig.panel(140),
        "! serve   serving · up 0s · build of wave 1 · unchecked: serves before test passed, as no other instance runs\n",
    );
    rig.exit("clippy", 1, 0);
    rig.exit("test", 4, 0);
    assert_shows(
        &rig.panel(120),
        "● serve   serving · up 0s · build of wave 1\n",
    );
    // A change: the new instance waits for the test while the first one serves on.
    rig.event(Event::Changed(vec![crate::engine::Change::path(
        "src/a.rs",
    )]));
    rig.exit("build", 6, 0);
    rig.ready("serve", 7);
    assert_shows(
        &rig.panel(120),
        "● serve   serving · up 0s · build of wave 1 · new build ready, waits for test to pass",
    );
}

/// [`WEB`] with `test` gating `serve` (early start).
fn gated_rig() -> Rig {
    let mut project = project(WEB);
    let test = project.find("test").expect("WEB has test");
    let serve = project.find("serve").expect("WEB has serve");
    project.nodes[serve.0].gates = vec![test];
    Rig::with(project)
}

/// The view guessed which instance serves: a crash of the serving instance was blamed on the
/// early one starting beside it ("exited before it was ready"), `service_serving_unchecked` was
/// ignored, so the early instance that got the connections showed as not serving, and once its
/// gate passed it showed without its pid. It follows the reports now.
#[test]
fn the_status_view_ignored_service_serving_unchecked_and_guessed_which_instance_serves() {
    let mut rig = gated_rig();
    rig.start();
    rig.exit("build", 2, 0);
    rig.reporter.command_started("serve", 3, 3333);
    rig.drain();
    // serve#3 is ready before its gate: all there is, so it serves already, unchecked.
    rig.ready("serve", 3);
    let panel = rig.panel(160);
    assert_shows(
        &panel,
        "! serve   serving · pid 3333 · up 0s · build of wave 1 · unchecked: serves before test passed, as no other instance runs",
    );
    rig.exit("clippy", 1, 0);
    rig.wait(1000);
    rig.exit("test", 4, 0);
    // Its gate passed: the same instance, now checked, serving since it got the connections.
    assert_shows(
        &rig.panel(160),
        "● serve   serving · pid 3333 · up 1s · build of wave 1\n",
    );

    // An edit: serve#7 waits for the test; the serving serve#3 crashes meanwhile.
    rig.event(Event::Changed(vec![crate::engine::Change::path(
        "src/a.rs",
    )]));
    rig.exit("build", 6, 0);
    rig.reporter.command_started("serve", 7, 7777);
    rig.drain();
    rig.ready("serve", 7);
    rig.wait(2000);
    rig.exit("serve", 3, 1);
    let panel = rig.panel(200);
    assert_shows(
        &panel,
        "! serve   serving · pid 7777 · up 0s · build of wave 2 · unchecked: serves before test passed, as no other instance runs · instance 3 (build of wave 1) crashed: exit status 1 after 3.0s",
    );
    assert!(!panel.contains("before it was ready"), "{panel}");
    rig.exit("clippy", 5, 0);
    rig.exit("test", 8, 0);
    assert_shows(
        &rig.panel(200),
        "● serve   serving · pid 7777 · up 0s · build of wave 2 · instance 3 (build of wave 1) crashed",
    );
}

/// A crashed serving instance, an early one left alone that is not ready yet: it is what
/// connections wait for, and a failed gate then leaves nothing serving.
#[test]
fn an_unchecked_instance_that_is_not_ready_yet_is_what_connections_wait_for() {
    let mut rig = gated_rig();
    rig.start();
    rig.exit("build", 2, 0);
    rig.exit("clippy", 1, 0);
    rig.exit("test", 4, 0);
    rig.ready("serve", 3);
    rig.event(Event::Changed(vec![crate::engine::Change::path(
        "src/a.rs",
    )]));
    rig.exit("build", 6, 0);
    rig.exit("serve", 3, 1);
    assert_shows(
        &rig.panel(200),
        "! serve   serving · up 0s · build of wave 2 · unchecked: starting (connections wait for it), serves before test passed, as no other instance runs",
    );
    rig.exit("clippy", 5, 0);
    rig.exit("test", 8, 101);
    let panel = rig.panel(200);
    assert_shows(&panel, "- serve   blocked: test failed");
    assert!(!panel.contains("serving"), "{panel}");
}

/// A wave in which the serving instance crashed ended "all ok" once the early instance beside
/// it passed its gate: the graph was ok again, and nothing said a server had gone down. The
/// wave's verdict (the terminal's line and the panel's header) says what crashed and what
/// serves now.
#[test]
fn a_wave_in_which_a_service_crashed_ended_all_ok_once_the_early_instance_passed_its_gates() {
    let mut rig = gated_rig();
    rig.start();
    rig.exit("build", 2, 0);
    rig.exit("clippy", 1, 0);
    rig.exit("test", 4, 0);
    rig.ready("serve", 3);
    rig.event(Event::Changed(vec![crate::engine::Change::path(
        "src/a.rs",
    )]));
    rig.exit("build", 6, 0);
    rig.ready("serve", 7);
    rig.exit("serve", 3, 1);
    rig.exit("clippy", 5, 0);
    rig.exit("test", 8, 0);
    let verdicts: Vec<String> = rig
        .seen
        .iter()
        .filter(|e| matches!(e.kind, EventKind::WaveFinished { .. }))
        .flat_map(|e| crate::report::lines::Lines::new(false).lines(e))
        .map(|(_, line)| line)
        .collect();
    assert_eq!(
        verdicts,
        [
            "hot: all ok",
            "hot: ok now, but serve's instance 3 crashed in this wave (exit status 1): instance 7 \
             serves now",
        ]
    );
    assert_shows(
        &rig.panel(200),
        "── hot · ok now, but serve's instance 3 crashed in this wave (exit status 1): instance 7 serves now · wave 2: src/a.rs changed",
    );
}
