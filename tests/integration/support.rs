//! The test harness: a temporary project, the `hot` binary, and a guard for long-running hot
//! processes that kills their whole process group when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "../common/ci.rs"]
mod common_ci;
pub use common_ci::ci;
#[path = "../common/probe.rs"]
mod common_probe;
pub use common_probe::probe;

pub const HOT: &str = env!("CARGO_BIN_EXE_hot");

/// Long enough for a loaded 2-core CI machine; only ever reached when a test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A temporary project directory.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::Builder::new()
                .prefix("hot-test-")
                .tempdir()
                .expect("a temporary directory"),
        }
    }

    /// A project with this Hotfile.
    pub fn with_hotfile(hotfile: &str) -> Project {
        let project = Project::new();
        project.write("Hotfile", hotfile);
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `relative`, creating parent directories.
    pub fn write(&self, relative: &str, contents: &str) -> &Project {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent directories");
        }
        std::fs::write(&path, contents).expect("write a project file");
        self
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(relative)).unwrap_or_default()
    }

    /// A `hot` command in the project directory, with colour off and a clean environment.
    pub fn hot(&self, args: &[&str]) -> Command {
        let mut command = Command::new(HOT);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .stdin(Stdio::null());
        command
    }

    /// Runs `hot ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.hot(args).output().expect("hot runs");
        Run::from(output)
    }

    /// Starts `hot --json ARGS` in its own process group.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let mut command = self.hot(&["--json"]);
        command.args(args);
        Running::spawn(command)
    }
}

/// A finished `hot` run.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(expected),
            "exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A `hot` process that runs until dropped; its `--json` events arrive on a channel.
pub struct Running {
    child: Child,
    events: Receiver<Value>,
    /// Every event seen so far, for failure messages and later assertions.
    pub seen: Vec<Value>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Running {
    pub fn spawn(mut command: Command) -> Running {
        use std::os::unix::process::CommandExt;
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().expect("hot starts");
        let (tx, events) = channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({"event": "text", "line": line}));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Running {
            child,
            events,
            seen: Vec::new(),
            stderr,
        }
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pids fit in i32")
    }

    /// Waits for the first event (after those already seen) that `matches`, and returns it.
    #[track_caller]
    pub fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.seen.push(event.clone());
                    if matches(&event) {
                        return event;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!("no `{what}` event; saw:\n{}", self.transcript());
                }
            }
        }
    }

    /// Waits for an event of this type about this node (any node when `node` is empty).
    #[track_caller]
    pub fn wait_event(&mut self, event: &str, node: &str) -> Value {
        self.wait_for(&format!("{event} {node}"), |e| {
            e["event"] == event && (node.is_empty() || e["node"] == node)
        })
    }

    /// Events seen so far of this type about this node.
    pub fn count(&self, event: &str, node: &str) -> usize {
        self.seen
            .iter()
            .filter(|e| e["event"] == event && (node.is_empty() || e["node"] == node))
            .count()
    }

    pub fn transcript(&self) -> String {
        let mut out: String = self.seen.iter().map(|e| format!("{e}\n")).collect();
        out.push_str("--- stderr\n");
        out.push_str(&self.stderr.lock().unwrap());
        out
    }

    /// Sends `signal` to hot alone (not its group), as a terminal or a supervisor would.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a pid we spawned and still hold (not yet reaped).
        unsafe {
            libc::kill(self.pid(), signal);
        }
    }

    /// Waits for hot to exit and returns its status code (or 128+signal).
    #[track_caller]
    pub fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                use std::os::unix::process::ExitStatusExt;
                // Drain the remaining events for later assertions.
                while let Ok(event) = self.events.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(event);
                }
                return status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            }
            assert!(
                Instant::now() < deadline,
                "hot did not exit; saw:\n{}",
                self.transcript()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // hot's process group holds hot only (children have groups of their own), so kill
        // hot gracefully first: it stops its children's groups.
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal(libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            // SAFETY: killpg on the group we created for this child.
            unsafe {
                libc::killpg(self.pid(), libc::SIGKILL);
            }
            let _ = self.child.wait();
        }
    }
}

/// True while a process with this pid exists (and is not a zombie of ours).
pub fn alive(pid: i32) -> bool {
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state letter follows the parenthesised command name; Z is a zombie.
    match state.rsplit_once(") ") {
        Some((_, rest)) => !rest.starts_with('Z'),
        None => false,
    }
}

/// Waits until `pid` is gone; false if it still runs at the deadline.
pub fn gone(pid: i32) -> bool {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// One request to the probe: its answer line, or the error (a refused connection included).
pub fn ask(addr: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(DEADLINE))?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.trim().to_owned())
}

/// A `key=value` field of a probe answer.
pub fn field<'a>(answer: &'a str, key: &str) -> &'a str {
    answer
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_default()
}

/// Two processes spinning on a CPU each, for tests that must hold on a loaded machine; killed by
/// pid when dropped.
pub struct Hogs(Vec<Child>);

impl Hogs {
    pub fn start() -> Hogs {
        Hogs(
            (0..2)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .expect("sh runs")
                })
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for hog in &mut self.0 {
            let _ = hog.kill();
            let _ = hog.wait();
        }
    }
}
