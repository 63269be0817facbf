//! The supervisor against real processes: exits, stops, process groups, the exec shim with a
//! listenfd server (`examples/probe.rs`), readiness.
//!
//! Everything binds loopback port 0; every process is stopped through the supervisor (whose
//! drop SIGKILLs what is left) or by its own pid; every wait is bounded.
#![cfg(unix)]

#[path = "common/ci.rs"]
mod ci;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hot::engine::{Event, Exit};
use hot::model::{Command, Inputs, Kind, Node, NodeId, Project, Ready, SocketSpec, Stop};
use hot::report::Reporter;
use hot::sockets::Sockets;
use hot::supervisor::Supervisor;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const WAIT: Duration = Duration::from_secs(20);

fn node(name: &str, kind: Kind, run: Command, dir: &Path) -> Node {
    Node {
        name: name.into(),
        kind,
        run,
        inputs: Inputs::new(Vec::new(), Vec::new()),
        after: vec![],
        gates: Vec::new(),
        env: vec![],
        dir: dir.into(),
        sockets: vec![],
        ready: None,
        ready_timeout: Duration::from_secs(60),
        stop: Stop::default(),
        restart: hot::model::Restart::default(),
        reload: None,
        locks: Vec::new(),
    }
}

fn shell(line: &str) -> Command {
    Command::Shell(line.into())
}

fn project(nodes: Vec<Node>) -> Arc<Project> {
    Arc::new(Project {
        hotfile: PathBuf::from("/Hotfile"),
        root: PathBuf::from("/"),
        nodes,
        debounce: Duration::from_millis(50),
    })
}

fn supervisor(project: Arc<Project>) -> (Supervisor, UnboundedReceiver<Event>) {
    let (tx, rx) = unbounded_channel();
    let mut sup = Supervisor::new(project, tx, Reporter::new(false, false));
    // The cli dispatches `hot __shim`; /proc/self/exe here would be this test binary.
    sup.shim_exe = PathBuf::from(env!("CARGO_BIN_EXE_hot"));
    (sup, rx)
}

async fn next(rx: &mut UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an event in time")
        .expect("channel open")
}

async fn exited(rx: &mut UnboundedReceiver<Event>) -> Exit {
    match next(rx).await {
        Event::Exited { exit, .. } => exit,
        other => panic!("expected Exited, got {other:?}"),
    }
}

/// Polls for a condition that has no event (a file a child writes, a pid going away).
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Gone, or a zombie nobody reaped yet (a container's pid 1 may not).
fn gone(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    !alive
        || std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false)
}

/// The probe server, built as a cargo example: plain `cargo test` builds examples with the
/// tests; `cargo test --test supervisor` does not, so it is built here once if missing.
fn probe() -> PathBuf {
    static PROBE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().unwrap().parent().unwrap(); // target/debug
            let probe = dir.join("examples").join("probe");
            if !probe.exists() {
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                let status = std::process::Command::new(cargo)
                    .args(["build", "--example", "probe", "--manifest-path"])
                    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
                    .status()
                    .expect("run cargo build --example probe");
                assert!(status.success(), "cargo build --example probe failed");
            }
            assert!(probe.exists(), "{} is missing", probe.display());
            probe
        })
        .clone()
}

fn with_sockets(mut n: Node, names: &[&str]) -> Node {
    n.sockets = names
        .iter()
        .map(|name| SocketSpec {
            name: name.to_string(),
            addr: "127.0.0.1:0".parse().unwrap(),
        })
        .collect();
    n
}

/// Connects with bounded retries (only needed while nothing holds the port: hot's held
/// socket accepts into the backlog from the start) and reads the probe's line.
async fn ask(addr: SocketAddr) -> Reply {
    let text = eventually("a reply", || {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
        stream.set_read_timeout(Some(WAIT)).ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        (!text.is_empty()).then_some(text)
    })
    .await;
    Reply::parse(&text)
}

#[derive(Debug)]
struct Reply {
    fields: Vec<(String, String)>,
}

impl Reply {
    fn parse(text: &str) -> Reply {
        Reply {
            fields: text
                .split_whitespace()
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (k.to_string(), v.to_string())
                })
                .collect(),
        }
    }
    fn get(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {key} in {self:?}"))
    }
}

/// The keeper measures the command's run time and sends it with the exit (`ended MICROS`), so a
/// duration excludes any time hot itself was stopped before it reaped the exit.
#[tokio::test(flavor = "current_thread")]
async fn an_exit_carries_the_keepers_run_time() {
    let tmp = tempfile::tempdir().unwrap();
    let slow = node("slow", Kind::Task, shell("sleep 0.2"), tmp.path());
    let (mut sup, mut rx) = supervisor(project(vec![slow]));
    sup.start(NodeId(0), 1, &[], false);
    let ran = loop {
        match next(&mut rx).await {
            Event::Exited { exit, ran, .. } => {
                assert_eq!(exit, Exit::Code(0));
                break ran.expect("the keeper's run time");
            }
            _ => continue,
        }
    };
    assert!(ran >= Duration::from_millis(200), "{ran:?}");
    assert!(ran < WAIT, "{ran:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn exit_codes_env_and_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ok = node(
        "ok",
        Kind::Task,
        shell("echo \"$GREETING\" > out"),
        tmp.path(),
    );
    ok.env = vec![("GREETING".into(), "hello".into())];
    let fail = node(
        "fail",
        Kind::Task,
        shell("echo oops >&2; exit 3"),
        tmp.path(),
    );
    let argv = node(
        "argv",
        Kind::Task,
        Command::Argv(vec!["sh".into(), "-c".into(), "exit 4".into()]),
        tmp.path(),
    );
    let (mut sup, mut rx) = supervisor(project(vec![ok, fail, argv]));

    sup.start(NodeId(0), 1, &[], false);
    assert_eq!(exited(&mut rx).await, Exit::Code(0));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out")).unwrap(),
        "hello\n"
    );
    sup.start(NodeId(1), 2, &[], false);
    assert_eq!(exited(&mut rx).await, Exit::Code(3));
    sup.start(NodeId(2), 3, &[], false);
    assert_eq!(exited(&mut rx).await, Exit::Code(4));
    assert_eq!(sup.running(), 0);
    // A stop after the exit is a no-op.
    sup.stop(NodeId(2), 3);
    assert!(rx.try_recv().is_err());
}

/// hot resolves a program on the node's PATH and the shim execs that path with no PATH
/// search of its own: the program must still see the name it was given as argv[0] (a
/// multi-call binary, rustup's proxies, `sh -c`'s `$0` read it).
#[tokio::test(flavor = "current_thread")]
async fn resolved_program_keeps_its_argv0() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let sh = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("sh"))
        .find(|p| p.exists())
        .expect("sh on PATH");
    std::os::unix::fs::symlink(sh, bin.join("mysh")).unwrap();
    let mut n = node(
        "argv0",
        Kind::Task,
        Command::Argv(vec!["mysh".into(), "-c".into(), "echo \"$0\" > out".into()]),
        tmp.path(),
    );
    // Only the node's PATH has `mysh`: found through it, not through hot's own.
    n.env = vec![("PATH".into(), bin.display().to_string().into())];
    let (mut sup, mut rx) = supervisor(project(vec![n]));
    sup.start(NodeId(0), 1, &[], false);
    assert_eq!(exited(&mut rx).await, Exit::Code(0));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out")).unwrap(),
        "mysh\n"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn spawn_failures_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = node(
        "missing",
        Kind::Task,
        Command::Argv(vec!["hot-no-such-program-xyz".into()]),
        tmp.path(),
    );
    let no_dir = node("nodir", Kind::Task, shell("true"), &tmp.path().join("nope"));
    let missing_service = with_sockets(
        node(
            "svc",
            Kind::Service,
            Command::Argv(vec!["./target/debug/not-built".into()]),
            tmp.path(),
        ),
        &["http"],
    );
    let p = project(vec![missing, no_dir, missing_service]);
    let mut sockets = Sockets::new();
    sockets.bind_for(&p).unwrap();
    let (mut sup, mut rx) = supervisor(p);

    sup.start(NodeId(0), 1, &[], false);
    assert_eq!(
        exited(&mut rx).await,
        Exit::SpawnFailed(
            "`hot-no-such-program-xyz` not found: is it installed and on PATH?".into()
        )
    );
    sup.start(NodeId(1), 2, &[], false);
    let Exit::SpawnFailed(msg) = exited(&mut rx).await else {
        panic!()
    };
    assert!(
        msg.contains("does not exist") && msg.contains("nope"),
        "{msg}"
    );
    sup.start(NodeId(2), 3, &sockets.for_node("svc"), false);
    let Exit::SpawnFailed(msg) = exited(&mut rx).await else {
        panic!()
    };
    assert!(
        msg.contains("not-built") && msg.contains("not found"),
        "{msg}"
    );
    assert_eq!(sup.running(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn stop_reaches_grandchildren() {
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("pid");
    let task = node(
        "bg",
        Kind::Task,
        shell("sleep 100 & echo $! > pid; wait"),
        tmp.path(),
    );
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    sup.start(NodeId(0), 7, &[], false);
    let grandchild = eventually("the pid file", || read_pid(&pidfile)).await;
    assert_eq!(sup.running(), 1);
    sup.stop(NodeId(0), 7);
    sup.stop(NodeId(0), 7); // twice is fine
    match next(&mut rx).await {
        Event::Exited {
            node,
            generation,
            exit,
            ..
        } => {
            assert_eq!((node, generation), (NodeId(0), 7));
            assert_eq!(exit, Exit::Signal(libc::SIGTERM));
        }
        other => panic!("{other:?}"),
    }
    eventually("the grandchild to go", || gone(grandchild).then_some(())).await;
    assert_eq!(sup.running(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_finished_task_leaves_no_stragglers() {
    let tmp = tempfile::tempdir().unwrap();
    let task = node(
        "leaky",
        Kind::Task,
        // The background sleep keeps stdout open: only the group kill ends it.
        shell("sleep 100 & echo $! > pid"),
        tmp.path(),
    );
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    sup.start(NodeId(0), 1, &[], false);
    assert_eq!(exited(&mut rx).await, Exit::Code(0));
    let straggler = read_pid(&tmp.path().join("pid")).unwrap();
    eventually("the straggler to go", || gone(straggler).then_some(())).await;
}

#[tokio::test(flavor = "current_thread")]
async fn sigkill_after_the_stop_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let mut task = node(
        "stubborn",
        Kind::Task,
        shell("trap '' TERM; echo armed > armed; while :; do sleep 0.05; done"),
        tmp.path(),
    );
    task.stop = Stop {
        signal: hot::model::Signal::Term,
        timeout: Duration::from_millis(300),
    };
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    sup.start(NodeId(0), 1, &[], false);
    eventually("the trap", || {
        tmp.path().join("armed").exists().then_some(())
    })
    .await;
    let stopped = Instant::now();
    sup.stop(NodeId(0), 1);
    assert_eq!(exited(&mut rx).await, Exit::Signal(libc::SIGKILL));
    assert!(stopped.elapsed() >= Duration::from_millis(300));
}

#[tokio::test(flavor = "current_thread")]
async fn shim_passes_sockets_with_the_servers_own_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let probe = probe();
    let argv = with_sockets(
        node(
            "argv",
            Kind::Service,
            Command::Argv(vec![probe.display().to_string().into()]),
            tmp.path(),
        ),
        &["http", "admin"],
    );
    let simple = with_sockets(
        node(
            "simple",
            Kind::Service,
            shell(&format!("{} --unused-arg", probe.display())),
            tmp.path(),
        ),
        &["http"],
    );
    let list = with_sockets(
        node(
            "list",
            Kind::Service,
            shell(&format!("true && {}", probe.display())),
            tmp.path(),
        ),
        &["web"],
    );
    let p = project(vec![argv, simple, list]);
    let mut sockets = Sockets::new();
    sockets.bind_for(&p).unwrap();
    let (mut sup, mut rx) = supervisor(p);

    let fds = sockets.for_node("argv");
    sup.start(NodeId(0), 1, &fds, false);
    let first = ask(fds[0].2).await;
    assert_eq!(first.get("listen_pid"), first.get("pid"));
    assert_eq!(first.get("fdnames"), "http:admin");
    assert_eq!(first.get("fd"), "0");
    let second = ask(fds[1].2).await;
    assert_eq!(second.get("fd"), "1", "the second socket is at fd 4");
    assert_eq!(second.get("pid"), first.get("pid"));

    let fds = sockets.for_node("simple");
    sup.start(NodeId(1), 2, &fds, false);
    let reply = ask(fds[0].2).await;
    assert_eq!(
        reply.get("listen_pid"),
        reply.get("pid"),
        "sh -c exec keeps the pid"
    );
    assert_eq!(reply.get("fdnames"), "http");

    let fds = sockets.for_node("list");
    sup.start(NodeId(2), 3, &fds, false);
    let reply = ask(fds[0].2).await;
    assert_eq!(
        reply.get("listen_pid"),
        "",
        "a forking shell gets an empty LISTEN_PID"
    );
    assert_eq!(reply.get("fdnames"), "web");

    assert_eq!(sup.running(), 3);
    sup.shutdown().await;
    assert_eq!(sup.running(), 0);
    let mut exits = Vec::new();
    for _ in 0..3 {
        exits.push(exited(&mut rx).await);
    }
    // The probe drains and exits 0 on SIGTERM; a shell waiting on it dies of the signal.
    assert!(
        exits
            .iter()
            .all(|e| *e == Exit::Signal(libc::SIGTERM) || *e == Exit::Code(0)),
        "{exits:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn nonblocking_does_not_leak_to_the_next_instance() {
    let tmp = tempfile::tempdir().unwrap();
    let mut svc = with_sockets(
        node(
            "svc",
            Kind::Service,
            Command::Argv(vec![probe().display().to_string().into()]),
            tmp.path(),
        ),
        &["http"],
    );
    svc.env = vec![("PROBE_SET_NONBLOCK".into(), "1".into())];
    let p = project(vec![svc.clone()]);
    let mut sockets = Sockets::new();
    sockets.bind_for(&p).unwrap();
    let fds = sockets.for_node("svc");
    let (mut sup, mut rx) = supervisor(p);

    sup.start(NodeId(0), 1, &fds, false);
    assert_eq!(ask(fds[0].2).await.get("nonblock"), "0");
    // The flag is on the shared file description: hot's own fd now shows it too.
    // SAFETY: F_GETFL reads the flags of a socket `sockets` owns.
    let flags = unsafe { libc::fcntl(fds[0].1, libc::F_GETFL) };
    assert_ne!(
        flags & libc::O_NONBLOCK,
        0,
        "the first instance set O_NONBLOCK"
    );
    sup.stop(NodeId(0), 1);
    exited(&mut rx).await;

    svc.env.clear();
    sup.set_project(project(vec![svc]));
    sup.start(NodeId(0), 2, &fds, false);
    assert_eq!(
        ask(fds[0].2).await.get("nonblock"),
        "0",
        "the shim cleared it"
    );
    sup.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn readiness() {
    let tmp = tempfile::tempdir().unwrap();
    let probe = Command::Argv(vec![probe().display().to_string().into()]);
    let mut log = with_sockets(
        node("log", Kind::Service, probe.clone(), tmp.path()),
        &["http"],
    );
    log.env = vec![("PROBE_STARTUP_MS".into(), "100".into())];
    log.ready = Some(Ready::Log(regex::Regex::new("^ready$").unwrap()));
    let mut notify = with_sockets(node("notify", Kind::Service, probe, tmp.path()), &["http"]);
    notify.env = vec![("PROBE_NOTIFY".into(), "1".into())];
    notify.ready = Some(Ready::Notify);
    let mut delay = node("delay", Kind::Service, shell("sleep 100"), tmp.path());
    delay.ready = Some(Ready::Delay(Duration::from_millis(50)));
    let mut never = node("never", Kind::Service, shell("sleep 100"), tmp.path());
    never.ready = Some(Ready::Log(regex::Regex::new("never printed").unwrap()));
    never.ready_timeout = Duration::from_millis(200);
    let mut dies = node("dies", Kind::Service, shell("exit 1"), tmp.path());
    dies.ready = Some(Ready::Delay(Duration::from_secs(1)));

    let p = project(vec![log, notify, delay, never, dies]);
    let mut sockets = Sockets::new();
    sockets.bind_for(&p).unwrap();
    let (mut sup, mut rx) = supervisor(p);

    for (i, name) in ["log", "notify", "delay"].into_iter().enumerate() {
        sup.start(NodeId(i), 10 + i as u64, &sockets.for_node(name), false);
        match next(&mut rx).await {
            Event::Ready { node, generation } => {
                assert_eq!((node, generation), (NodeId(i), 10 + i as u64))
            }
            other => panic!("{name}: expected Ready, got {other:?}"),
        }
    }
    sup.start(NodeId(3), 13, &[], false);
    match next(&mut rx).await {
        Event::ReadyTimedOut { node, .. } => assert_eq!(node, NodeId(3)),
        other => panic!("expected ReadyTimedOut, got {other:?}"),
    }
    assert_eq!(sup.running(), 4, "a timed-out instance keeps running");
    sup.start(NodeId(4), 14, &[], false);
    assert_eq!(
        exited(&mut rx).await,
        Exit::Code(1),
        "no Ready for a dead instance"
    );

    sup.shutdown().await;
    for _ in 0..4 {
        exited(&mut rx).await;
    }
    assert!(rx.try_recv().is_err(), "nothing after the exits");
    // The notify socket's private directory is gone.
    let leftover = std::env::temp_dir().join(format!("hot-{}-1-11", std::process::id()));
    eventually("the notify dir to go", || {
        (!leftover.exists()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn kill_all_is_immediate() {
    let tmp = tempfile::tempdir().unwrap();
    let mut task = node(
        "slow",
        Kind::Task,
        shell("trap '' TERM; sleep 100"),
        tmp.path(),
    );
    task.stop.timeout = Duration::from_secs(60);
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    sup.start(NodeId(0), 1, &[], false);
    sup.kill_all();
    assert_eq!(exited(&mut rx).await, Exit::Signal(libc::SIGKILL));
}

/// The keeper gets its status socket as standard input (the one descriptor a posix_spawn
/// passes); the command must get `/dev/null` there, as before, and never that socket: `cat`
/// would block on it (and read hot's orders).
#[tokio::test(flavor = "current_thread")]
async fn the_commands_stdin_is_null_not_the_keepers_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let task = node("cat", Kind::Task, shell("cat > out"), tmp.path());
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    sup.start(NodeId(0), 1, &[], false);
    assert_eq!(exited(&mut rx).await, Exit::Code(0));
    assert_eq!(std::fs::read_to_string(tmp.path().join("out")).unwrap(), "");
}

/// Until the keeper's `setsid` its group does not exist, and a killpg right after the spawn
/// found no group: a `stop` with SIGKILL sent then was lost until the backstop (the stop
/// timeout plus 500 ms). It now reaches the keeper itself, which has started nothing yet.
#[tokio::test(flavor = "current_thread")]
async fn a_kill_stop_right_after_the_spawn_is_not_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let mut task = node("slow", Kind::Task, shell("sleep 100"), tmp.path());
    task.stop.signal = hot::model::Signal::Kill;
    // Far beyond WAIT: only the stop itself can end it in time.
    task.stop.timeout = Duration::from_secs(600);
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    sup.start(NodeId(0), 1, &[], false);
    sup.stop(NodeId(0), 1);
    assert_eq!(exited(&mut rx).await, Exit::Signal(libc::SIGKILL));
}

/// `python3`, or `None` (with the reason printed) when it is missing outside CI; under
/// `CI=true` a missing python3 fails the test instead.
fn python3() -> Option<&'static str> {
    let found = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("python3");
    }
    assert!(!ci::ci(), "python3 is missing; .ci/run installs it");
    eprintln!("skipped: python3 is not installed");
    None
}

/// An event-loop server as asyncio and tokio run them: non-blocking listener, and on each
/// wake-up it accepts until `EAGAIN`. On a listener turned blocking under it, the second
/// `accept()` blocks the only thread and nothing is answered any more.
const SELECTORS_SERVER: &str = r#"
import os, selectors, socket
listener = socket.socket(fileno=3)
listener.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(listener, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for _ in sel.select():
        while True:
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                break
            conn.setblocking(True)
            conn.sendall(b"pid=%d\n" % os.getpid())
            conn.close()
"#;

#[tokio::test(flavor = "current_thread")]
async fn nonblocking_flag_kept_for_live_instance() {
    let Some(python) = python3() else { return };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("server.py"), SELECTORS_SERVER).unwrap();
    let mut old = with_sockets(
        node(
            "svc",
            Kind::Service,
            Command::Argv(vec![python.into(), "server.py".into()]),
            tmp.path(),
        ),
        &["http"],
    );
    old.ready = Some(Ready::Log(regex::Regex::new("^ready$").unwrap()));
    // The replacement takes its time, as a real server's start-up does; it never accepts.
    let mut new = node(
        "next",
        Kind::Service,
        shell("echo started; exec sleep 60"),
        tmp.path(),
    );
    new.ready = Some(Ready::Log(regex::Regex::new("^started$").unwrap()));
    let p = project(vec![old.clone(), new]);
    let mut sockets = Sockets::new();
    sockets.bind_for(&p).unwrap();
    let fds = sockets.for_node("svc");
    let (mut sup, mut rx) = supervisor(p);

    sup.start(NodeId(0), 1, &fds, false);
    assert!(matches!(
        next(&mut rx).await,
        Event::Ready { generation: 1, .. }
    ));
    let serving = ask(fds[0].2).await.get("pid").to_owned();

    // The overlap: a second instance gets the same sockets while the first serves.
    sup.start(NodeId(1), 2, &fds, false);
    assert!(matches!(
        next(&mut rx).await,
        Event::Ready { generation: 2, .. }
    ));
    // SAFETY: F_GETFL reads the flags of a socket `sockets` owns.
    let flags = unsafe { libc::fcntl(fds[0].1, libc::F_GETFL) };
    assert_ne!(
        flags & libc::O_NONBLOCK,
        0,
        "the shim turned the serving instance's listener blocking"
    );
    for _ in 0..3 {
        assert_eq!(ask(fds[0].2).await.get("pid"), serving);
    }

    // Once nobody else holds the socket, the next instance starts from a blocking one.
    sup.shutdown().await;
    exited(&mut rx).await;
    exited(&mut rx).await;
    let mut plain = old;
    plain.ready = None;
    plain.run = Command::Argv(vec![probe().display().to_string().into()]);
    sup.set_project(project(vec![plain]));
    sup.start(NodeId(0), 3, &fds, false);
    assert_eq!(ask(fds[0].2).await.get("nonblock"), "0");
    sup.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_grandchild_that_left_the_group_ends_with_its_task() {
    let tmp = tempfile::tempdir().unwrap();
    // `setsid` takes the sleep out of the task's group and session: a group kill misses it,
    // but it is still a descendant, adopted by the keeper once the shell exits.
    let task = node(
        "escape",
        Kind::Task,
        shell("setsid sleep 300 & echo $! > pid; exit 7"),
        tmp.path(),
    );
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    sup.start(NodeId(0), 1, &[], false);
    assert_eq!(
        exited(&mut rx).await,
        Exit::Code(7),
        "the task's own status"
    );
    let escaped = read_pid(&tmp.path().join("pid")).unwrap();
    eventually("the escaped grandchild to go", || {
        gone(escaped).then_some(())
    })
    .await;
}

/// The parent pid of `pid`, from /proc (Linux).
#[cfg(target_os = "linux")]
fn parent_of(pid: &str) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A spare keeper waits after a start, and the next start runs in it with the directory and
/// the environment of that start: a reload between the spare's spawn and the start must not
/// leave the command with the old ones.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn a_spare_keeper_runs_the_next_start_with_the_env_and_dir_of_that_start() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = (tmp.path().join("old"), tmp.path().join("new"));
    std::fs::create_dir(&old).unwrap();
    std::fs::create_dir(&new).unwrap();
    let out = tmp.path().join("out");
    let line = format!(
        "echo \"$PPID $(pwd -P) $HOT_SPARE_TEST\" >> {}",
        out.display()
    );
    let mut task = node("t", Kind::Task, shell(&line), &old);
    task.env = vec![("HOT_SPARE_TEST".into(), "old".into())];
    let (mut sup, mut rx) = supervisor(project(vec![task.clone()]));
    first_run_with_spares(&mut sup, &mut rx).await;
    let spare = eventually("a spare keeper", || sup.spare_pid()).await;

    task.env = vec![("HOT_SPARE_TEST".into(), "new".into())];
    task.dir = new.as_path().into();
    sup.set_project(project(vec![task]));
    sup.start(NodeId(0), 2, &[], false);
    assert_eq!(exited(&mut rx).await, Exit::Code(0));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1],
        format!("{spare} {} new", new.canonicalize().unwrap().display()),
        "run by the spare ({spare}), in the new directory, with the new env: {text}"
    );
    let next = eventually("a fresh spare", || sup.spare_pid()).await;
    assert_ne!(next, spare, "a spare runs one command");
    sup.shutdown().await;
    assert_eq!(sup.spare_pid(), None, "no spare after the shutdown");
    eventually("the last spare to go", || gone(next as i32).then_some(())).await;
}

/// Whether `signal` is in the mask `field` (`SigBlk`, `SigCgt`) of `/proc/PID/status`.
#[cfg(target_os = "linux")]
fn signal_in(pid: u32, field: &str, signal: libc::c_int) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

/// The signals a keeper catches are caught in the spare's `/proc/PID/status` (`SigCgt`): it
/// set up what needs no instance and waits for its launch.
#[cfg(target_os = "linux")]
fn has_set_up_its_signals(pid: u32) -> bool {
    signal_in(pid, "SigCgt", libc::SIGTERM)
}

/// A waiting spare has done the keeper's signal set-up ahead of its launch (off the path of
/// the start), so a stop signal sent to it then is not lost: the command it runs next gets it.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn a_stop_signal_sent_to_a_waiting_spare_reaches_the_command_it_runs_next() {
    let tmp = tempfile::tempdir().unwrap();
    // The first run ends at once; the next would run for 30 s, unless stopped.
    let task = node(
        "t",
        Kind::Task,
        shell("[ -e go ] && exec sleep 30; exit 0"),
        tmp.path(),
    );
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    first_run_with_spares(&mut sup, &mut rx).await;
    std::fs::write(tmp.path().join("go"), "").unwrap();
    let spare = eventually("a spare keeper", || sup.spare_pid()).await;
    eventually("the spare to wait with its signals set up", || {
        has_set_up_its_signals(spare).then_some(())
    })
    .await;
    // SAFETY: kill on a pid the supervisor holds unreaped.
    unsafe { libc::kill(spare as i32, libc::SIGTERM) };
    // Sent to the keeper alone, it reaches the command only through the keeper's record, so
    // the start waits until the keeper has taken it (not blocked, not pending): on a loaded
    // machine a keeper not yet scheduled ran its handler after the command's exec (CI).
    eventually("the keeper to take the signal", || {
        let held = ["SigBlk", "SigPnd", "ShdPnd"];
        (!held.iter().any(|f| signal_in(spare, f, libc::SIGTERM))).then_some(())
    })
    .await;
    sup.start(NodeId(0), 2, &[], false);
    assert_eq!(
        exited(&mut rx).await,
        Exit::Signal(libc::SIGTERM),
        "the command got the signal sent before it started"
    );
    sup.shutdown().await;
    eventually("the spare's group to go", || {
        gone(spare as i32).then_some(())
    })
    .await;
}

/// The processes `pid` started and has not reaped (`/proc/PID/task/PID/children`).
#[cfg(target_os = "linux")]
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Turns spares on and runs node 0's generation 1 to a clean exit: a spare keeper is
/// started after it, for the next start.
#[cfg(target_os = "linux")]
async fn first_run_with_spares(sup: &mut Supervisor, rx: &mut UnboundedReceiver<Event>) {
    sup.keep_spare(true);
    sup.start(NodeId(0), 1, &[], false);
    assert_eq!(exited(rx).await, Exit::Code(0));
}

/// Shuts the supervisor down and waits for the spare keeper and its forked command process
/// to be gone.
#[cfg(target_os = "linux")]
async fn shut_down_leaving_nothing(mut sup: Supervisor, spare: u32, child: u32) {
    sup.shutdown().await;
    eventually("the spare and its command process to go", || {
        (gone(spare as i32) && gone(child as i32)).then_some(())
    })
    .await;
}

/// The first run of a task whose command runs on only once `go` exists in `dir`, then `go`
/// made and the next spare waiting with its signals set up: its keeper's and its command's
/// process's pids.
#[cfg(target_os = "linux")]
async fn go_with_a_set_up_spare(
    sup: &mut Supervisor,
    rx: &mut UnboundedReceiver<Event>,
    dir: &Path,
) -> (u32, u32) {
    first_run_with_spares(sup, rx).await;
    std::fs::write(dir.join("go"), "").unwrap();
    let (spare, child) = waiting_spare(sup).await;
    eventually("the spare to wait with its signals set up", || {
        (has_set_up_its_signals(spare) && has_set_up_its_signals(child)).then_some(())
    })
    .await;
    (spare, child)
}

/// A waiting spare and the one process it forked ahead of its launch (its command's).
#[cfg(target_os = "linux")]
async fn waiting_spare(sup: &Supervisor) -> (u32, u32) {
    let spare = eventually("a spare keeper", || sup.spare_pid()).await;
    let child = eventually("the spare's command process", || {
        match children_of(spare)[..] {
            [child] => Some(child),
            _ => None,
        }
    })
    .await;
    (spare, child)
}

/// Every event a reporter tells, in order.
#[cfg(target_os = "linux")]
#[derive(Clone, Default)]
struct Told(Arc<std::sync::Mutex<Vec<hot::report::EventKind>>>);

#[cfg(target_os = "linux")]
impl hot::report::Sink for Told {
    fn event(&mut self, event: &hot::report::Event) {
        self.0.lock().unwrap().push(event.kind.clone());
    }
}

/// A spare's command start was told by its keeper once it saw the exec; on a loaded machine
/// the keeper ran late, and the command's first output was told before its `command_started`
/// (`early::a_crash_of_the_serving_instance_…` then missed the start). The command's process
/// tells it before its exec now: with the keeper stopped, the start is still told.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn a_spares_command_start_was_told_only_once_its_keeper_ran_so_output_came_first() {
    let tmp = tempfile::tempdir().unwrap();
    let service = node(
        "s",
        Kind::Service,
        shell("[ -e go ] && { echo hi; exec sleep 30; }; exit 0"),
        tmp.path(),
    );
    let told = Told::default();
    let (tx, mut rx) = unbounded_channel();
    let reporter = Reporter::with_sinks(false, vec![Box::new(told.clone())]);
    let mut sup = Supervisor::new(project(vec![service]), tx, reporter);
    sup.shim_exe = PathBuf::from(env!("CARGO_BIN_EXE_hot"));
    first_run_with_spares(&mut sup, &mut rx).await;
    std::fs::write(tmp.path().join("go"), "").unwrap();
    let (spare, child) = waiting_spare(&sup).await;
    // SAFETY: kill on a pid the supervisor holds unreaped.
    unsafe { libc::kill(spare as i32, libc::SIGSTOP) };
    sup.start(NodeId(0), 2, &[], false);
    let seen =
        |what: &dyn Fn(&hot::report::EventKind) -> bool| told.0.lock().unwrap().iter().any(what);
    eventually("the command's output", || {
        seen(&|e| matches!(e, hot::report::EventKind::Output { line, .. } if line == "hi"))
            .then_some(())
    })
    .await;
    let started = eventually("the command's start told, its keeper stopped", || {
        told.0.lock().unwrap().iter().find_map(|e| match e {
            hot::report::EventKind::CommandStarted {
                generation: 2, pid, ..
            } => Some(*pid),
            _ => None,
        })
    })
    .await;
    assert_eq!(started, child, "the start names the spare's forked process");
    // SAFETY: as above.
    unsafe { libc::kill(spare as i32, libc::SIGCONT) };
    shut_down_leaving_nothing(sup, spare, child).await;
}

/// A spare's command process told hot its start between reading its launch and its exec, and
/// that report woke hot's main thread, which took the CPU the exec was about to use. It tells
/// its pid before it waits for the launch now: the line is in hot's end of the status socket
/// with no launch written at all.
#[cfg(target_os = "linux")]
#[test]
fn a_spares_start_report_woke_hot_between_its_launch_and_its_exec() {
    use std::io::{BufRead, BufReader};
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut spare = std::process::Command::new(env!("CARGO_BIN_EXE_hot"))
        .args(["__shim", "--spare"])
        .env_clear()
        .stdin(std::process::Stdio::from(OwnedFd::from(theirs)))
        .spawn()
        .unwrap();
    ours.set_read_timeout(Some(WAIT)).unwrap();
    let mut line = String::new();
    let read = BufReader::new(&ours).read_line(&mut line);
    let children = children_of(spare.id());
    // Its group: the spare and the process it forked (its own session, see `shim::spare`).
    // SAFETY: killpg on the group of our own unreaped child.
    unsafe { libc::killpg(spare.id() as i32, libc::SIGKILL) };
    spare.wait().unwrap();
    assert!(read.is_ok(), "a report before any launch: {read:?}");
    assert_eq!(
        line,
        format!("started {}\n", children[0]),
        "the pid of the process the spare forked, told before its launch (children {children:?})"
    );
}

/// A waiting spare has already forked its command's process, so that a start is only an exec
/// there (no fork on the path): the command runs as that process (`$$` is the shell's pid).
/// The shutdown ends the next spare's pair too.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn a_spare_runs_its_command_in_the_process_it_forked_before_the_launch() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let task = node(
        "t",
        Kind::Task,
        shell(&format!("echo $$ >> {}", out.display())),
        tmp.path(),
    );
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    first_run_with_spares(&mut sup, &mut rx).await;
    let (_, forked) = waiting_spare(&sup).await;
    sup.start(NodeId(0), 2, &[], false);
    assert_eq!(exited(&mut rx).await, Exit::Code(0));
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text.lines().nth(1),
        Some(forked.to_string().as_str()),
        "the command ran as the process the spare forked ({forked}): {text}"
    );
    let (spare, child) = waiting_spare(&sup).await;
    shut_down_leaving_nothing(sup, spare, child).await;
}

/// A waiting spare's keeper killed alone (by hand: hot kills the group) takes the command
/// process it forked with it, and the next start spawns a keeper of its own.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn a_spares_waiting_command_process_dies_with_its_keeper() {
    let tmp = tempfile::tempdir().unwrap();
    let task = node("t", Kind::Task, shell("exit 0"), tmp.path());
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    first_run_with_spares(&mut sup, &mut rx).await;
    let (spare, child) = waiting_spare(&sup).await;
    // SAFETY: kill on a pid the supervisor holds unreaped.
    unsafe { libc::kill(spare as i32, libc::SIGKILL) };
    eventually("the spare's command process to go with its keeper", || {
        gone(child as i32).then_some(())
    })
    .await;
    sup.start(NodeId(0), 2, &[], false);
    assert_eq!(exited(&mut rx).await, Exit::Code(0));
    sup.shutdown().await;
}

/// A stop signal sent to a waiting spare's whole group, its forked command process included,
/// still reaches the command it runs next, and nothing is left after.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn a_stop_signal_sent_to_a_waiting_spares_group_reaches_the_command_it_runs_next() {
    let tmp = tempfile::tempdir().unwrap();
    let task = node(
        "t",
        Kind::Task,
        shell("[ -e go ] && exec sleep 30; exit 0"),
        tmp.path(),
    );
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    let (spare, child) = go_with_a_set_up_spare(&mut sup, &mut rx, tmp.path()).await;
    // SAFETY: killpg on the group of a pid the supervisor holds unreaped.
    unsafe { libc::killpg(spare as i32, libc::SIGTERM) };
    sup.start(NodeId(0), 2, &[], false);
    assert_eq!(
        exited(&mut rx).await,
        Exit::Signal(libc::SIGTERM),
        "the command got the signal sent before it started"
    );
    shut_down_leaving_nothing(sup, spare, child).await;
}

/// The ends of pipes `pid` holds above its standard streams (`/proc/PID/fd`), by inode: the
/// read ends, or the write ends.
#[cfg(target_os = "linux")]
fn pipes_of(pid: u32, write_ends: bool) -> Vec<String> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let writes = |fd: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
            .ok()
            .and_then(|info| {
                let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
                u32::from_str_radix(flags.trim(), 8).ok()
            })
            .is_some_and(|flags| flags & 3 == libc::O_WRONLY as u32)
    };
    fds.flatten()
        .filter_map(|fd| Some((fd.file_name().to_str()?.to_owned(), fd.path())))
        .filter(|(fd, _)| fd.parse::<u32>().is_ok_and(|n| n > 2) && writes(fd) == write_ends)
        .filter_map(|(_, path)| std::fs::read_link(path).ok()?.to_str().map(str::to_owned))
        .filter(|target| target.starts_with("pipe:"))
        .collect()
}

/// The defect: a stop signal sent to a spare's group just after its command's exec, before
/// the keeper saw that exec, reached the command twice: as a member of the group, and from
/// the keeper, which passed on what it had pending once it saw the exec. To many servers a
/// second stop signal means "now, without draining". The keeper is held (SIGSTOP) across that
/// moment so that the signal lands in it.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn a_signal_sent_to_a_spares_group_as_its_command_started_reached_it_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let got = tmp.path().join("got");
    let ready = tmp.path().join("ready");
    // The first run ends at once; the next counts USR1s until a USR2.
    let task = node(
        "t",
        Kind::Task,
        shell(&format!(
            "[ -e go ] || exit 0; trap 'echo usr1 >> {got}' USR1; trap 'exit 0' USR2; \
             echo $$ > {ready}.tmp; mv {ready}.tmp {ready}; while :; do sleep 0.05; done",
            got = got.display(),
            ready = ready.display()
        )),
        tmp.path(),
    );
    let (mut sup, mut rx) = supervisor(project(vec![task]));
    let (spare, child) = go_with_a_set_up_spare(&mut sup, &mut rx, tmp.path()).await;
    // The pipe the keeper hears the exec on: its read end, the command process's write end.
    let handoff: Vec<String> = pipes_of(spare, false)
        .into_iter()
        .filter(|p| pipes_of(child, true).contains(p))
        .collect();
    assert_eq!(handoff.len(), 1, "{handoff:?}");
    // SAFETY: kill on a pid the supervisor holds unreaped.
    unsafe { libc::kill(spare as i32, libc::SIGSTOP) };
    sup.start(NodeId(0), 2, &[], false);
    let command = eventually("the command to run", || read_pid(&ready)).await;
    // SAFETY: killpg on the group of a pid the supervisor holds unreaped.
    unsafe { libc::killpg(spare as i32, libc::SIGUSR1) };
    eventually("the command to get it", || got.exists().then_some(())).await;
    // SAFETY: kill on a pid the supervisor holds unreaped.
    unsafe { libc::kill(spare as i32, libc::SIGCONT) };
    // Past the exec's hand-off (its pipe closed) and the signals it passes on (then it
    // unblocks its own).
    eventually("the keeper to have seen the exec", || {
        (!pipes_of(spare, false).contains(&handoff[0])
            && !signal_in(spare, "SigBlk", libc::SIGUSR1))
        .then_some(())
    })
    .await;
    // A USR1 the keeper passed on is pending or handled by now: the shell runs its traps in
    // signal order, USR1's before USR2's.
    // SAFETY: kill on the command, which runs until this signal.
    unsafe { libc::kill(command, libc::SIGUSR2) };
    assert_eq!(exited(&mut rx).await, Exit::Code(0));
    let text = std::fs::read_to_string(&got).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "the command got USR1 once: {text:?}"
    );
    sup.shutdown().await;
}

/// Through a spare keeper the server still gets its sockets and its own pid in `LISTEN_PID`.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn a_spare_keeper_gives_the_server_its_sockets_and_its_own_listen_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let probe = probe();
    let server = with_sockets(
        node(
            "serve",
            Kind::Service,
            Command::Argv(vec![probe.display().to_string().into()]),
            tmp.path(),
        ),
        &["http", "admin"],
    );
    let p = project(vec![server]);
    let mut sockets = Sockets::new();
    sockets.bind_for(&p).unwrap();
    let (mut sup, mut rx) = supervisor(p);
    sup.keep_spare(true);
    let fds = sockets.for_node("serve");
    sup.start(NodeId(0), 1, &fds, false);
    let first = ask(fds[0].2).await;
    assert_eq!(first.get("listen_pid"), first.get("pid"));
    let spare = eventually("a spare keeper", || sup.spare_pid()).await;
    sup.stop(NodeId(0), 1);
    assert!(matches!(
        exited(&mut rx).await,
        Exit::Signal(_) | Exit::Code(_)
    ));

    sup.start(NodeId(0), 2, &fds, false);
    let reply = ask(fds[0].2).await;
    assert_ne!(
        reply.get("pid"),
        first.get("pid"),
        "the second instance answers"
    );
    assert_eq!(parent_of(reply.get("pid")), Some(spare), "run by the spare");
    assert_eq!(reply.get("listen_pid"), reply.get("pid"));
    assert_eq!(reply.get("fdnames"), "http:admin");
    assert_eq!(reply.get("nonblock"), "0");
    assert_eq!(
        ask(fds[1].2).await.get("fd"),
        "1",
        "the second socket at fd 4"
    );
    sup.shutdown().await;
}

/// The defect: whether a new instance shares its sockets with a live one (`--shared`, which
/// leaves their mode alone) was decided by hot's fd numbers, and a reload that moved a socket
/// closed hot's copy of a live instance's own socket: the number came back as the next spare,
/// which the relay made non-blocking, and the instance given it kept `O_NONBLOCK` (a blocking
/// server's `accept` fails with `EAGAIN`). A number stays hot's while an instance has it.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn a_socket_number_reused_while_its_instance_ran_kept_the_relays_non_blocking_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let svc = |socket: &str| {
        with_sockets(
            node(
                "svc",
                Kind::Service,
                Command::Argv(vec![probe().display().to_string().into()]),
                tmp.path(),
            ),
            &[socket],
        )
    };
    let before = project(vec![svc("http")]);
    let mut sockets = Sockets::new();
    sockets.bind_for(&before).unwrap();
    if !sockets.steers() {
        eprintln!("skipped: this kernel cannot steer");
        return;
    }
    let (mut sup, mut rx) = supervisor(before);
    // The first instance serves, and stays (as one that is still stopping would).
    let (first, own) = sockets.for_instance("svc", 1);
    sup.start(NodeId(0), 1, &first, own);
    sockets.steer("svc", Some(1));
    assert_eq!(ask(first[0].2).await.get("nonblock"), "0");

    // A reload moves the socket (renamed, port 0: bound afresh, the old one dropped).
    let after = project(vec![svc("api")]);
    sockets.bind_for(&after).unwrap();
    sup.set_project(after);
    let (second, own) = sockets.for_instance("svc", 2);
    sup.start(NodeId(0), 2, &second, own);
    sockets.steer("svc", Some(2));
    assert_eq!(ask(second[0].2).await.get("nonblock"), "0");

    // The next instance takes the spare the relay made non-blocking.
    let (third, own) = sockets.for_instance("svc", 3);
    sup.start(NodeId(0), 3, &third, own);
    sockets.steer("svc", Some(3));
    let reply = ask(third[0].2).await;
    assert_ne!(reply.get("pid"), ask(first[0].2).await.get("pid"));
    assert_eq!(
        reply.get("nonblock"),
        "0",
        "the third instance's shim cleared the relay's mode (fds: first {first:?}, third {third:?})"
    );
    sup.shutdown().await;
    for _ in 0..3 {
        exited(&mut rx).await;
    }
}
