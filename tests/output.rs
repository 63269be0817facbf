//! Child output under stress, through the real binary: floods without newlines stay in
//! bounded memory, and text without a newline is shown before the task ends.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

const HOT: &str = env!("CARGO_BIN_EXE_hot");
/// Only reached when a test fails; generous for a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(120);
/// hot's peak resident set must stay below this (it peaked at 395 MB and 1.58 GB).
const PEAK_LIMIT_KB: u64 = 100 * 1024;

/// `hot --json` on a one-task Hotfile; events other than `output` arrive on a channel, and
/// output is only counted (a flood must not fill the test's memory either).
struct Hot {
    child: Child,
    events: Receiver<Value>,
    _dir: tempfile::TempDir,
}

impl Hot {
    fn start(run: &str) -> Hot {
        let dir = tempfile::tempdir().unwrap();
        let hotfile = format!("task \"t\" {{\n    run {}\n}}\n", serde_json::json!(run));
        std::fs::write(dir.path().join("Hotfile"), hotfile).unwrap();
        let mut child = Command::new(HOT)
            .arg("--json")
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let (tx, events) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            let mut first_output = true;
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let is_output = line.starts_with(br#"{"event":"output""#);
                // Only the first output event is parsed; a flood's are skipped.
                if is_output && !std::mem::take(&mut first_output) {
                    continue;
                }
                let value = serde_json::from_slice(&line).unwrap_or(Value::Null);
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Hot {
            child,
            events,
            _dir: dir,
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The events up to the first one that `matches`.
    #[track_caller]
    fn until(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    let done = matches(&event);
                    seen.push(event);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("no {what}; saw {seen:?}"),
            }
        }
    }

    /// hot's peak resident set so far, in kB.
    fn peak_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status")
    }
}

impl Drop for Hot {
    fn drop(&mut self) {
        // SAFETY: signals to the process (group) this test spawned and has not reaped.
        unsafe { libc::kill(self.pid(), libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        unsafe { libc::killpg(self.pid(), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// Events for a failure message, each cut short (a flood's piece is 64 KiB).
fn brief(seen: &[Value]) -> String {
    let all: Vec<String> = seen
        .iter()
        .map(|e| e.to_string().chars().take(200).collect())
        .collect();
    all.join("\n")
}

fn finished(e: &Value) -> bool {
    e["event"] == "node_finished"
}

#[track_caller]
fn flood_stays_bounded(run: &str) {
    let mut hot = Hot::start(run);
    let seen = hot.until("node_finished", finished);
    let peak = hot.peak_kb();
    eprintln!("`{run}`: hot's peak RSS {peak} kB");
    assert!(
        peak < PEAK_LIMIT_KB,
        "hot peaked at {peak} kB running `{run}`; events:\n{}",
        brief(&seen)
    );
    // The flood really went through hot: its first output is a full-size piece.
    let first = seen.iter().find(|e| e["event"] == "output");
    let len = first.and_then(|e| e["line"].as_str()).map_or(0, str::len);
    assert!(
        len >= 64 * 1024,
        "first output piece of {len} bytes: {seen:?}"
    );
}

/// `head -c 200000000 /dev/zero | tr '\0' a` made hot peak at 395 MB: a line without a
/// newline was buffered whole.
#[test]
fn newline_free_output_is_buffered_in_bounded_memory() {
    flood_stays_bounded(r"head -c 200000000 /dev/zero | tr '\0' a");
}

/// `timeout 1 cat /dev/zero` made hot peak at 1.58 GB.
#[test]
fn endless_zero_bytes_are_buffered_in_bounded_memory() {
    flood_stays_bounded("timeout 1 cat /dev/zero");
}

#[track_caller]
fn first_output_before_the_end(run: &str, expected: &str) {
    let mut hot = Hot::start(run);
    let seen = hot.until("output", |e| e["event"] == "output" || finished(e));
    let last = seen.last().unwrap();
    assert_eq!(
        last["event"],
        "output",
        "the task ended first:\n{}",
        brief(&seen)
    );
    assert_eq!(last["line"], expected, "{}", brief(&seen));
}

/// `printf 'Password: '` (or `Compiling...`) showed nothing until the task ended.
#[test]
fn partial_line_is_shown_before_the_task_ends() {
    first_output_before_the_end(
        "printf 'waiting for you'; sleep 30; echo ' done'",
        "waiting for you",
    );
}

/// A `\r` progress bar showed nothing until the task ended.
#[test]
fn carriage_return_progress_is_shown_before_the_task_ends() {
    first_output_before_the_end(r"printf ' 10%%\r'; sleep 30; printf '100%%\n'", " 10%");
}

/// `seq 200000` in a task, with `hot ci > ci.log`, kept 27,264 of its lines and said
/// "events dropped: hot's output was read too slowly" 36 times, though a file is never slow:
/// the child wrote faster than hot's writer thread could format and write, and a full queue
/// dropped lines at once. A reader that keeps reading now paces the child instead. 50,000
/// lines (the build before kept 5,939 and 8,123 of them) keep the run short on a loaded machine.
#[test]
fn a_flood_written_to_a_log_file_lost_most_of_its_lines() {
    const LINES: usize = 50_000;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Hotfile"),
        format!("task \"t\" {{\n    run \"seq 1 {LINES}\"\n}}\n"),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("ci.log")).unwrap();
    let err = std::fs::File::create(dir.path().join("err.log")).unwrap();
    let status = Command::new(HOT)
        .arg("ci")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .status()
        .unwrap();
    let log = std::fs::read_to_string(dir.path().join("ci.log")).unwrap();
    let err = std::fs::read_to_string(dir.path().join("err.log")).unwrap();
    assert!(status.success(), "{status}\n{err}");
    let kept: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("[t] "))
        .map(str::trim)
        .collect();
    let dropped: Vec<&str> = err.lines().filter(|l| l.contains("dropped")).collect();
    assert_eq!(
        kept.len(),
        LINES,
        "{} drop warnings: {dropped:?}",
        dropped.len()
    );
    assert!(kept.iter().zip(1..).all(|(l, n)| *l == n.to_string()));
    assert!(dropped.is_empty(), "{dropped:?}");
}
