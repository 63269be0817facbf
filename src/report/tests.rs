use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use jiff::tz::{Offset, TimeZone};

use super::event::{Crashed, Kind, NodeInfo, NodeResult};
use super::lines::{Lines, To};
use super::*;

/// 2026-12-01 09:30:00 UTC, shown in a fixed +01:00 zone: the snapshots must not depend on the
/// machine's zone, and must show that hot prints local time, not UTC.
fn at(seconds: i64) -> Zoned {
    Timestamp::from_second(1_796_117_400 + seconds)
        .expect("in range")
        .to_zoned_datetime(TimeZone::fixed(Offset::constant(1)))
}

fn event(seconds: i64, kind: EventKind) -> Event {
    Event {
        kind,
        time: at(seconds),
    }
}

fn result(node: &str, result: &str, by: Option<&str>, ms: Option<f64>) -> NodeResult {
    NodeResult {
        node: node.to_owned(),
        result: result.to_owned(),
        by: by.map(str::to_owned),
        duration: ms.map_or_else(
            || "-".to_owned(),
            |ms| seconds(Duration::from_secs_f64(ms / 1000.0)),
        ),
        duration_ms: ms,
        serving_since: None,
    }
}

fn info(name: &str, kind: Kind, after: &[&str], sockets: &[&str]) -> NodeInfo {
    NodeInfo {
        name: name.to_owned(),
        kind,
        after: after.iter().map(|s| (*s).to_owned()).collect(),
        sockets: sockets.iter().map(|s| (*s).to_owned()).collect(),
        locks: Vec::new(),
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// One of every event, in the order a run could produce them: a first wave where clippy fails
/// and blocks the service, then an edit that fixes it.
fn script() -> Vec<Event> {
    let out = |node: &str, stream, line: &str| EventKind::Output {
        node: node.to_owned(),
        stream,
        line: line.to_owned(),
    };
    vec![
        event(
            0,
            EventKind::Scope {
                nodes: vec![
                    info("clippy", Kind::Task, &[], &[]),
                    info("test", Kind::Task, &["clippy"], &[]),
                    info("serve", Kind::Service, &["test"], &["127.0.0.1:0"]),
                    info("ui", Kind::Service, &[], &[]),
                ],
            },
        ),
        event(
            0,
            EventKind::Listening {
                node: "serve".into(),
                socket: "http".into(),
                addr: "127.0.0.1:8080".into(),
            },
        ),
        event(0, EventKind::Watching { directories: 12 }),
        event(
            0,
            EventKind::WatchFallback {
                polled: 60,
                limit: Some(8192),
                suggested: 16384,
                fix: Some("sudo sysctl fs.inotify.max_user_watches=16384".into()),
                interval_ms: 500.0,
                message: "inotify watch limit reached".into(),
            },
        ),
        event(
            0,
            EventKind::WatchRestored {
                directories: 72,
                message: "the inotify watch limit has room again".into(),
            },
        ),
        event(
            0,
            EventKind::WaveStarted {
                wave: 1,
                start: true,
                paths: vec![],
                changed: 0,
                nodes: names(&["clippy", "test", "serve", "ui"]),
                rerun: None,
            },
        ),
        event(
            0,
            EventKind::NodeStarted {
                node: "clippy".into(),
                generation: 1,
                kind: Kind::Task,
                ready: false,
            },
        ),
        event(
            0,
            EventKind::NodeStarted {
                node: "ui".into(),
                generation: 2,
                kind: Kind::Service,
                ready: false,
            },
        ),
        event(
            1,
            out("clippy", Stream::Stderr, "warning: unused variable `x`"),
        ),
        event(1, out("ui", Stream::Stdout, "ui up")),
        event(
            2,
            EventKind::NodeFinished {
                node: "clippy".into(),
                generation: 1,
                kind: Kind::Task,
                ok: false,
                code: Some(101),
                signal: None,
                error: None,
                duration_ms: 1520.0,
                last_lines: vec![],
            },
        ),
        event(
            2,
            EventKind::NodeBlocked {
                node: "test".into(),
                by: "clippy".into(),
            },
        ),
        event(
            2,
            EventKind::NodeBlocked {
                node: "serve".into(),
                by: "clippy".into(),
            },
        ),
        event(
            2,
            EventKind::WaveFinished {
                wave: 1,
                failed: 1,
                ok: false,
                failed_nodes: names(&["clippy"]),
                nodes: vec![
                    result("clippy", "failed", None, Some(1520.0)),
                    result("test", "blocked", Some("clippy"), None),
                    result("serve", "blocked", Some("clippy"), None),
                    result("ui", "ok", None, None),
                ],
                crashed: vec![],
            },
        ),
        event(
            60,
            EventKind::WaveStarted {
                wave: 2,
                start: false,
                paths: names(&["src/main.rs"]),
                changed: 1,
                nodes: names(&["clippy", "test", "serve"]),
                rerun: None,
            },
        ),
        event(
            61,
            EventKind::NodeRestarting {
                node: "clippy".into(),
            },
        ),
        event(
            62,
            EventKind::NodeFinished {
                node: "clippy".into(),
                generation: 1,
                kind: Kind::Task,
                ok: true,
                code: Some(0),
                signal: None,
                error: None,
                duration_ms: 45.0,
                last_lines: vec![],
            },
        ),
        event(62, out("test", Stream::Stdout, "test result: ok. 3 passed")),
        event(
            63,
            EventKind::NodeFinished {
                node: "test".into(),
                generation: 1,
                kind: Kind::Task,
                ok: true,
                code: Some(0),
                signal: None,
                error: None,
                duration_ms: 1234.0,
                last_lines: vec![],
            },
        ),
        event(
            63,
            EventKind::ServiceAwaitingGates {
                node: "serve".into(),
                duration_ms: 640.0,
                gates: names(&["test"]),
                serving: true,
            },
        ),
        event(
            63,
            EventKind::ServiceAwaitingGates {
                node: "ui".into(),
                duration_ms: 300.0,
                gates: names(&["test", "clippy"]),
                serving: false,
            },
        ),
        event(
            64,
            EventKind::ServiceReady {
                node: "serve".into(),
                generation: 7,
                duration_ms: 800.0,
                gates: names(&["test"]),
            },
        ),
        event(
            64,
            EventKind::ServiceServingUnchecked {
                node: "ui".into(),
                generation: 9,
                gates: names(&["test"]),
                ready: true,
            },
        ),
        event(
            64,
            EventKind::WaveFinished {
                wave: 2,
                failed: 0,
                ok: true,
                failed_nodes: vec![],
                nodes: vec![
                    result("clippy", "ok", None, Some(45.0)),
                    result("test", "ok", None, Some(1234.0)),
                    result("serve", "ok", None, None),
                    result("ui", "ok", None, None),
                ],
                // ui's serving instance crashed; the early one its gate then passed serves.
                crashed: vec![Crashed {
                    node: "ui".into(),
                    generation: 8,
                    how: "exit status 1".into(),
                    serving: Some(9),
                }],
            },
        ),
        event(
            70,
            EventKind::ServiceKept {
                node: "serve".into(),
                since: event::format_rfc3339(&at(63)),
                failed: "test".into(),
            },
        ),
        event(
            71,
            EventKind::ReadyTimedOut {
                node: "serve".into(),
                kept: false,
                timeout_ms: 60000.0,
                unseen: "no line matched `^listening on` in 60s".into(),
            },
        ),
        event(
            71,
            EventKind::ReadyTimedOut {
                node: "ui".into(),
                kept: true,
                timeout_ms: 60000.0,
                unseen: "no line matched `^ready` in 60s".into(),
            },
        ),
        event(
            71,
            EventKind::NodeSuspended {
                node: "test".into(),
                signal: 21,
                pid: 4242,
            },
        ),
        event(
            72,
            EventKind::LoopDetected {
                node: "test".into(),
                paths: names(&["gen/out.txt"]),
            },
        ),
        event(
            72,
            EventKind::SocketUnused {
                node: "serve".into(),
                socket: "http".into(),
                fd: 3,
                addr: "127.0.0.1:8080".into(),
                listening: names(&["127.0.0.1:3000"]),
                closed: false,
                message: "serve does not wait on the socket hot passed it (fd 3, 127.0.0.1:8080); \
                          it listens on 127.0.0.1:3000 itself"
                    .into(),
            },
        ),
        event(
            72,
            EventKind::WaveFinished {
                wave: 3,
                failed: 1,
                ok: false,
                failed_nodes: names(&["serve"]),
                nodes: vec![
                    result("clippy", "ok", None, Some(45.0)),
                    NodeResult {
                        serving_since: Some(event::format_rfc3339(&at(63))),
                        ..result("serve", "failed", None, Some(310.0))
                    },
                ],
                crashed: vec![],
            },
        ),
        event(
            73,
            EventKind::NodeFinished {
                node: "ui".into(),
                generation: 1,
                kind: Kind::Service,
                ok: false,
                code: None,
                signal: Some(9),
                error: None,
                duration_ms: 73000.0,
                last_lines: names(&["ui up", "ui: out of memory"]),
            },
        ),
        event(
            73,
            EventKind::ServiceDown {
                node: "ui".into(),
                restart_in_ms: Some(500.0),
            },
        ),
        event(
            73,
            EventKind::ServiceDown {
                node: "ui".into(),
                restart_in_ms: None,
            },
        ),
        event(
            73,
            EventKind::SocketRenewed {
                node: "serve".into(),
                socket: "http".into(),
            },
        ),
        event(
            74,
            EventKind::NodeFinished {
                node: "test".into(),
                generation: 1,
                kind: Kind::Task,
                ok: false,
                code: None,
                signal: None,
                error: Some("`cargo`: not found".into()),
                duration_ms: 0.0,
                last_lines: vec![],
            },
        ),
        event(
            75,
            EventKind::Reloaded {
                hotfile: "/p/Hotfile".into(),
            },
        ),
        event(
            75,
            EventKind::Diagnostic {
                message: "unknown node".into(),
                rendered: "  × unknown node\n   ╭─[Hotfile:3:5]\n".into(),
                rendered_color: Some("\u{1b}[31m  × unknown node\u{1b}[0m\n".into()),
            },
        ),
        event(
            76,
            EventKind::Note {
                message: "stopping (press Ctrl-C again to kill at once)".into(),
            },
        ),
        event(
            76,
            EventKind::Warning {
                message: "cannot watch 3 directories".into(),
            },
        ),
        event(
            76,
            EventKind::Stopping {
                message: "stopping (press Ctrl-C again to kill at once)".into(),
            },
        ),
        event(
            76,
            EventKind::CommandStarted {
                node: "web".into(),
                generation: 3,
                pid: 4242,
            },
        ),
        event(
            76,
            EventKind::Dropped {
                events: 120,
                message: "120 events dropped: hot's output was read too slowly".into(),
            },
        ),
        event(
            76,
            EventKind::Error {
                message: "cannot listen for signals".into(),
            },
        ),
        event(
            77,
            EventKind::Summary {
                ok: false,
                failed_nodes: names(&["clippy", "test"]),
                nodes: vec![
                    result("clippy", "failed", None, Some(1520.0)),
                    result("test", "failed", None, Some(30.0)),
                    result("build", "blocked", Some("test"), None),
                ],
            },
        ),
    ]
}

/// The plain sink's lines for `events`, each marked with its stream.
fn plain(color: bool, events: &[Event]) -> String {
    let mut sink = Lines::new(color);
    let mut text = String::new();
    for event in events {
        for (to, line) in sink.lines(event) {
            let to = match to {
                To::Stdout => "out",
                To::Stderr => "err",
            };
            for (i, line) in line.split('\n').enumerate() {
                let mark = if i == 0 { to } else { "   " };
                text.push_str(&format!("{mark}| {}\n", line.replace('\u{1b}', "␛")));
            }
        }
    }
    text
}

/// A file named with a newline broke hot's line in two, and one named with an escape sequence
/// sent it to the terminal (here a window title and red), where a wave or a loop names it.
#[test]
fn a_file_name_with_control_characters_reached_the_terminal_raw() {
    let name = "src/new\nline\u{1b}]0;title\u{7}\u{1b}[31m.rs".to_owned();
    let events = [
        event(
            0,
            EventKind::WaveStarted {
                wave: 2,
                start: false,
                paths: vec![name.clone()],
                changed: 1,
                nodes: names(&["t"]),
                rerun: None,
            },
        ),
        event(
            1,
            EventKind::LoopDetected {
                node: "t".into(),
                paths: vec![name],
            },
        ),
    ];
    let mut sink = Lines::new(false);
    for event in &events {
        for (_, line) in sink.lines(event) {
            assert!(!line.chars().any(char::is_control), "{line:?}");
            assert!(
                line.contains(r"src/new\nline\u{1b}]0;title\u{7}\u{1b}[31m.rs"),
                "{line:?}"
            );
        }
    }
}

#[test]
fn plain_lines_of_a_scripted_run() {
    insta::assert_snapshot!(plain(false, &script()));
}

#[test]
fn plain_lines_in_colour() {
    let script = script();
    let wanted = [
        "wave_started",
        "output",
        "node_finished",
        "wave_finished",
        "summary",
    ];
    let some: Vec<Event> = script
        .iter()
        .filter(|e| {
            let name = json::line(e);
            matches!(e.kind, EventKind::Scope { .. })
                || wanted.iter().any(|w| name.contains(&format!("\"{w}\"")))
        })
        .cloned()
        .collect();
    insta::assert_snapshot!(plain(true, &some));
}

#[test]
fn prefixes_are_aligned_and_coloured_per_node() {
    let script = script();
    let mut sink = Lines::new(true);
    let mut outputs = Vec::new();
    for event in &script {
        let lines = sink.lines(event);
        if let EventKind::Output { .. } = event.kind {
            outputs.extend(lines.into_iter().map(|(_, l)| l));
        }
    }
    // `[clippy]` and `[ui]`: the text after the prefix starts in the same column.
    let plain: Vec<String> = outputs.iter().map(|l| strip_ansi(l)).collect();
    let column = |line: &str, text: &str| line.find(text).expect("text in line");
    assert_eq!(
        column(&plain[0], "warning"),
        column(&plain[1], "ui up"),
        "{plain:?}"
    );
    // Each node has its own colour: the escape before `[` differs.
    let escape = |line: &str, node: &str| line[..line.find(node).unwrap()].to_owned();
    let (clippy, ui) = (&outputs[0], &outputs[1]);
    assert!(clippy.starts_with('\u{1b}') && ui.starts_with('\u{1b}'));
    assert_ne!(escape(clippy, "[clippy]"), escape(ui, "[ui]"));
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn a_blocked_service_is_not_all_ok() {
    let finished = event(
        0,
        EventKind::WaveFinished {
            wave: 3,
            // This wave's own nodes all passed ...
            failed: 0,
            ok: false,
            failed_nodes: names(&["lib"]),
            // ... but elsewhere in the graph a failure still blocks a service.
            nodes: vec![
                result("lib", "failed", None, Some(10.0)),
                result("api", "blocked", Some("lib"), None),
                result("docs", "ok", None, Some(5.0)),
            ],
            crashed: vec![],
        },
    );
    let text = plain(false, &[finished]);
    assert_eq!(text, "err| hot: 1 failed: lib; 1 blocked: api\n");
}

#[test]
fn every_summary_names_the_failed_nodes() {
    let text = plain(false, &script()[script().len() - 1..]);
    assert!(
        text.ends_with("out| 2 failed: clippy, test; 1 blocked: build\n"),
        "{text}"
    );
    assert!(text.lines().all(|l| l.starts_with("out|")), "{text}");
}

/// `hot ci` on a terminal said "2 failed: ..." on stderr at the wave's end and again under the
/// table on stdout, one line apart.
#[test]
fn ci_verdict_printed_once_on_a_terminal() {
    let nodes = vec![
        result("lib", "failed", None, Some(10.0)),
        result("api", "blocked", Some("lib"), None),
    ];
    let events = [
        event(
            0,
            EventKind::WaveFinished {
                wave: 1,
                failed: 1,
                ok: false,
                failed_nodes: names(&["lib"]),
                nodes: nodes.clone(),
                crashed: Vec::new(),
            },
        ),
        event(
            0,
            EventKind::Summary {
                ok: false,
                failed_nodes: names(&["lib"]),
                nodes,
            },
        ),
    ];
    let verdict = "1 failed: lib; 1 blocked: api";
    let streams = |mut sink: Lines| {
        events
            .iter()
            .flat_map(|e| sink.lines(e))
            .filter(|(_, line)| line.ends_with(verdict))
            .map(|(to, _)| to)
            .collect::<Vec<To>>()
    };
    let sink = || Lines::new(false);
    // Both streams on one terminal: once, under the table.
    assert_eq!(streams(sink().verdict_in_summary()), [To::Stdout]);
    // Streams apart (`hot ci > ci.log`): each keeps its own.
    assert_eq!(streams(sink()), [To::Stderr, To::Stdout]);
}

#[test]
fn json_lines_are_one_object_per_event_with_a_local_timestamp() {
    let buffer = Capture::default();
    let mut sink = json::JsonSink::new(Box::new(buffer.clone()));
    let script = script();
    for event in &script {
        sink.event(event);
    }
    let text = buffer.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), script.len());
    let first: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON");
    assert_eq!(first["event"], "scope");
    assert_eq!(first["time"], "2026-12-01T10:30:00.000+01:00");
    let finished: serde_json::Value = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .find(|e| e["event"] == "node_finished")
        .expect("a node_finished line");
    assert_eq!(
        finished,
        serde_json::json!({"event": "node_finished", "node": "clippy", "generation": 1, "kind": "task", "ok": false,
            "code": 101, "signal": null, "error": null, "duration_ms": 1520.0, "last_lines": [],
            "time": "2026-12-01T10:30:02.000+01:00"})
    );
    // The coloured rendering is for terminals only.
    assert!(!text.contains("rendered_color"), "{text}");
}

#[test]
fn json_events_read_back_as_the_same_events() {
    for event in script() {
        let value: serde_json::Value = serde_json::from_str(&json::line(&event)).expect("JSON");
        let back: EventKind = serde_json::from_value(value).expect("an EventKind");
        let mut kind = event.kind.clone();
        if let EventKind::Diagnostic { rendered_color, .. } = &mut kind {
            *rendered_color = None;
        }
        assert_eq!(back, kind);
    }
}

/// Every event name serde knows, from the error it gives for an unknown one: the list stays
/// true as variants are added, with no list to keep by hand.
fn variant_names() -> BTreeSet<String> {
    let error = serde_json::from_str::<EventKind>(r#"{"event":"-"}"#).expect_err("unknown");
    let message = error.to_string();
    let list = message
        .split("expected one of ")
        .nth(1)
        .expect("serde lists the variants");
    list.split(", ")
        .map(|v| {
            v.trim_matches(|c: char| c == '`' || c.is_whitespace() || !c.is_ascii())
                .split('`')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// The backticked names in a fields cell, outside parentheses (explanations).
fn documented_fields(cell: &str) -> BTreeSet<String> {
    let mut depth = 0;
    let mut top = String::new();
    for c in cell.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => top.push(c),
            _ => {}
        }
    }
    top.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The rows of docs/json.md's tables: first cell (unquoted) → second cell.
fn docs_rows() -> BTreeMap<String, String> {
    let docs = include_str!("../../docs/json.md");
    docs.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            (
                cells[0]
                    .trim_start_matches("| ")
                    .trim_matches('`')
                    .to_owned(),
                cells[1].trim_end_matches(" |").to_owned(),
            )
        })
        .collect()
}

#[test]
fn docs_json_md_lists_every_event_and_every_field() {
    let rows = docs_rows();
    let variants = variant_names();
    assert!(variants.len() > 15, "{variants:?}");
    let script = script();
    let mut seen = BTreeSet::new();
    for event in &script {
        let value: serde_json::Value = serde_json::from_str(&json::line(event)).expect("JSON");
        let serde_json::Value::Object(map) = value else {
            panic!("an object")
        };
        let name = map["event"].as_str().expect("a name").to_owned();
        let emitted: BTreeSet<String> = map
            .keys()
            .filter(|k| *k != "event" && *k != "time")
            .cloned()
            .collect();
        let row = rows
            .get(&name)
            .unwrap_or_else(|| panic!("docs/json.md has no row for `{name}`"));
        assert_eq!(
            documented_fields(row),
            emitted,
            "docs/json.md's fields of `{name}`"
        );
        for (field, value) in &map {
            let Some(serde_json::Value::Object(inner)) = value.as_array().and_then(|a| a.first())
            else {
                continue;
            };
            let key = format!("{name}.{field}");
            let row = rows
                .get(&key)
                .unwrap_or_else(|| panic!("docs/json.md has no row for `{key}`"));
            let documented = match row.strip_prefix("the same as `") {
                Some(other) => documented_fields(&rows[other.trim_end_matches('`')]),
                None => documented_fields(row),
            };
            let emitted: BTreeSet<String> = inner.keys().cloned().collect();
            assert_eq!(documented, emitted, "docs/json.md's fields of `{key}`");
        }
        seen.insert(name);
    }
    assert_eq!(seen, variants, "the script covers every event");
    let documented: BTreeSet<String> = rows.keys().filter(|k| !k.contains('.')).cloned().collect();
    assert_eq!(
        documented, variants,
        "docs/json.md documents exactly the events"
    );
}

#[test]
fn service_kept_shows_local_time_not_utc() {
    let kept = script()
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::ServiceKept { .. }))
        .unwrap();
    // 09:31:03 UTC in a +01:00 zone.
    assert!(plain(false, &[kept]).contains("serving the build from 10:31:03;"));
}

#[test]
fn the_clock_maps_engine_instants_to_wall_time() {
    let now = Instant::now();
    let clock = Clock {
        zone: TimeZone::fixed(Offset::constant(2)).into(),
        epoch: (now, Timestamp::from_second(3600 + 120 + 5).unwrap()),
    };
    let clock_of = |at| clock.at(at).strftime("%H:%M:%S").to_string();
    assert_eq!(clock_of(now), "03:02:05");
    assert_eq!(clock_of(now + Duration::from_secs(60)), "03:03:05");
}

#[test]
fn the_reporter_feeds_every_sink_the_same_events() {
    let (a, b) = (Capture::default(), Capture::default());
    let reporter = Reporter::with_sinks(
        true,
        vec![
            Box::new(json::JsonSink::new(Box::new(a.clone()))),
            Box::new(json::JsonSink::new(Box::new(b.clone()))),
        ],
    );
    reporter.note("one");
    reporter.output("x", Stream::Stdout, "two");
    reporter.watching(3);
    assert_eq!(a.text().lines().count(), 3);
    assert_eq!(a.text(), b.text());
}

/// A writer whose bytes a test can read afterwards.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn durations_read_naturally() {
    assert_eq!(seconds(Duration::from_millis(45)), "45ms");
    assert_eq!(seconds(Duration::from_millis(1234)), "1.23s");
}

#[test]
fn exits_read_naturally() {
    assert_eq!(describe_exit(&Exit::Code(101)), "exit status 101");
    assert_eq!(
        describe_exit(&Exit::Signal(9)),
        "killed by signal 9 (SIGKILL)"
    );
}

/// A sink that records event kinds and blocks in every `event` while its gate is shut, as a
/// JSON sink does when its reader stops reading.
#[derive(Clone, Default)]
struct Stalled {
    open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    seen: Arc<Mutex<Vec<EventKind>>>,
}

impl Stalled {
    fn release(&self) {
        *self.open.0.lock().unwrap() = true;
        self.open.1.notify_all();
    }
}

impl Sink for Stalled {
    fn event(&mut self, event: &Event) {
        let (open, cv) = &*self.open;
        let mut open = open.lock().unwrap();
        while !*open {
            open = cv.wait(open).unwrap();
        }
        self.seen.lock().unwrap().push(event.kind.clone());
    }
}

#[test]
fn a_stalled_sink_does_not_block_senders_and_the_drop_is_counted_and_said() {
    let sink = Stalled::default();
    let reporter = Reporter::with_sinks(true, vec![Box::new(sink.clone())]);
    reporter
        .spawn_writer(Duration::from_secs(30))
        .expect("a thread");
    // Far more than the queue holds; with the sinks called in place this would block on the
    // first line.
    let lines = 3 * writer::CAPACITY;
    for i in 0..lines {
        reporter.output("flood", Stream::Stdout, &i.to_string());
    }
    // hot's own event still finds room behind the flood.
    reporter.note("after the flood");
    sink.release();
    reporter.finish();
    let seen = sink.seen.lock().unwrap().clone();
    let outputs = seen
        .iter()
        .filter(|k| matches!(k, EventKind::Output { .. }))
        .count();
    let dropped: u64 = seen
        .iter()
        .filter_map(|k| match k {
            EventKind::Dropped { events, .. } => Some(*events),
            _ => None,
        })
        .sum();
    assert!(outputs <= writer::OUTPUT_ROOM + 1, "{outputs} lines queued");
    assert_eq!(
        outputs as u64 + dropped,
        lines as u64,
        "every line seen or counted"
    );
    // Said where the gap is: just before the first event queued after it (the writer may
    // have taken one line while the queue was full, so there may be more than one gap).
    let at = seen
        .iter()
        .rposition(|k| matches!(k, EventKind::Dropped { .. }))
        .expect("the drop is said");
    assert!(
        matches!(&seen[at + 1], EventKind::Note { message } if message == "after the flood"),
        "{:?}",
        &seen[at..]
    );
}

/// Pacing a flood by the writer must not make a reader that stopped reading (a terminal held by
/// Ctrl-S) block the child for ever: once the writer takes nothing, the wait for room ends and
/// output is dropped as before.
#[tokio::test(flavor = "current_thread")]
async fn a_stalled_reader_does_not_hold_output_waiting_for_room() {
    let sink = Stalled::default();
    let reporter = Reporter::with_sinks(true, vec![Box::new(sink.clone())]);
    reporter
        .spawn_writer(Duration::from_secs(30))
        .expect("a thread");
    for i in 0..writer::CAPACITY {
        reporter.output("flood", Stream::Stdout, &i.to_string());
    }
    // Room for this many only once the queue is empty, which a stalled writer never makes it.
    let room = reporter.output_room(writer::OUTPUT_ROOM, 1);
    let waited = tokio::time::timeout(writer::STALLED * 30, room).await;
    sink.release();
    reporter.finish();
    assert!(
        waited.is_ok(),
        "the wait for room outlived the stalled writer"
    );
}

#[test]
fn finish_waits_for_a_stalled_sink_no_longer_than_its_patience() {
    let sink = Stalled::default();
    let reporter = Reporter::with_sinks(true, vec![Box::new(sink.clone())]);
    let patience = Duration::from_millis(200);
    reporter.spawn_writer(patience).expect("a thread");
    reporter.note("stuck");
    let started = Instant::now();
    reporter.finish();
    // Returned by the deadline, not when the sink moved (it never does before release).
    assert!(started.elapsed() >= patience);
    assert!(sink.seen.lock().unwrap().is_empty());
    sink.release();
}

#[test]
fn the_summary_waits_for_room_and_is_never_dropped_by_a_flood() {
    let sink = Stalled::default();
    let reporter = Reporter::with_sinks(true, vec![Box::new(sink.clone())]);
    reporter
        .spawn_writer(Duration::from_secs(30))
        .expect("a thread");
    for _ in 0..writer::CAPACITY + 10 {
        reporter.note("filler");
    }
    let releaser = {
        let sink = sink.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            sink.release();
        })
    };
    reporter.emit(EventKind::Summary {
        ok: true,
        failed_nodes: Vec::new(),
        nodes: Vec::new(),
    });
    reporter.finish();
    releaser.join().unwrap();
    let seen = sink.seen.lock().unwrap();
    assert!(matches!(seen.last(), Some(EventKind::Summary { .. })));
}

#[test]
fn a_stalled_sink_holds_at_most_the_output_byte_budget() {
    let sink = Stalled::default();
    let reporter = Reporter::with_sinks(true, vec![Box::new(sink.clone())]);
    reporter
        .spawn_writer(Duration::from_secs(30))
        .expect("a thread");
    // A flood without newlines arrives in 64 KiB pieces.
    let piece = "a".repeat(64 * 1024);
    for _ in 0..200 {
        reporter.output("flood", Stream::Stdout, &piece);
    }
    sink.release();
    reporter.finish();
    let seen = sink.seen.lock().unwrap();
    let outputs = seen
        .iter()
        .filter(|k| matches!(k, EventKind::Output { .. }))
        .count();
    // The one the writer took before it stalled, and what fits the budget.
    assert!(
        outputs <= writer::OUTPUT_BYTES / piece.len() + 2,
        "{outputs} pieces of 64 KiB queued"
    );
}

/// The time zone read from `/etc/localtime` alone is the one jiff finds through its database.
#[test]
fn the_system_zone_read_directly_is_jiffs() {
    let now = jiff::Timestamp::now();
    assert_eq!(
        super::system_zone().to_offset(now),
        jiff::tz::TimeZone::system().to_offset(now)
    );
    assert_eq!(
        super::system_zone().iana_name(),
        jiff::tz::TimeZone::system().iana_name()
    );
}

/// A sink that records the coloured renderings it is given, and says whether it shows them.
#[derive(Clone)]
struct Colors {
    shows: bool,
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl Sink for Colors {
    fn event(&mut self, event: &Event) {
        if let EventKind::Diagnostic { rendered_color, .. } = &event.kind {
            self.seen.lock().unwrap().push(rendered_color.clone());
        }
    }

    fn colors_diagnostics(&self) -> bool {
        self.shows
    }
}

#[test]
fn a_diagnostic_is_rendered_in_colour_only_for_a_sink_that_shows_colour() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = |shows| {
        Box::new(Colors {
            shows,
            seen: seen.clone(),
        })
    };
    let diagnostic = miette::MietteDiagnostic::new("unknown node");
    let reporter = Reporter::with_sinks(false, vec![sink(false)]);
    reporter.diagnostic(&diagnostic);
    reporter.add_sink(sink(true));
    reporter.diagnostic(&diagnostic);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0], None, "no sink shows colour: rendered once");
    let colored = render(&diagnostic, true);
    assert!(colored.contains("unknown node"), "{colored:?}");
    assert_eq!(seen[1..], [Some(colored.clone()), Some(colored)]);
    // The plain and JSON sinks say what they show.
    assert!(!json::JsonSink::stdout().colors_diagnostics());
    assert!(!plain::PlainSink::terminal(ColorChoice::Never).colors_diagnostics());
    assert!(plain::PlainSink::terminal(ColorChoice::Always).colors_diagnostics());
}

#[test]
fn a_long_path_in_a_help_text_is_wrapped_whole_not_after_a_slash() {
    let path = "crates/server/src/handlers/upload/multipart/stream.rs";
    let help = format!("{} {path} and more words", "word ".repeat(12));
    let diagnostic = miette::MietteDiagnostic::new("a message").with_help(help);
    let text = render_plain(&diagnostic, 100);
    assert!(
        text.lines().any(|line| line.contains(path)),
        "the path is cut over two lines:\n{text}"
    );
}
