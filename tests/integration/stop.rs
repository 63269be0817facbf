//! How hot stops a service: systemd's `KillMode=mixed`. The stop signal reaches the command's
//! own process first, so a master (gunicorn, Hypercorn) drains its workers itself; the rest of
//! its group gets the signal only once the command has exited.

use crate::support::{Project, gone};

/// A master that forks two workers. At SIGTERM it stops the first itself (SIGINT, as
/// Hypercorn's master does) and waits for it; the second it leaves behind. Each worker writes
/// what reached it, and from whom, to `log`.
const MASTER: &str = r#"
import os, signal, sys, time

def worker(name):
    # The worker says when its handlers are in place: a signal before that would kill it
    # without a word in the log (a worker not yet run on a loaded machine).
    set_up, tell = os.pipe()
    pid = os.fork()
    if pid:
        os.close(tell)
        os.read(set_up, 1)
        os.close(set_up)
        return pid
    os.close(set_up)
    master = os.getppid()
    def told(sig, _):
        alive = os.getppid() == master
        with open("log", "a") as f:
            f.write(f"{name} {signal.Signals(sig).name} master={'alive' if alive else 'gone'}\n")
        os._exit(0)
    signal.signal(signal.SIGTERM, told)
    signal.signal(signal.SIGINT, told)
    os.write(tell, b"x")
    os.close(tell)
    while True:
        time.sleep(1)

drained = worker("drained")
left = worker("left")

def stop(*_):
    # Long enough for a signal sent to the whole group to have reached the worker first.
    time.sleep(0.3)
    os.kill(drained, signal.SIGINT)
    os.waitpid(drained, 0)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
print(f"ready {drained} {left}", flush=True)
while True:
    time.sleep(1)
"#;

/// The defect: hot sent the stop signal to the whole process group at once, so a worker died of
/// SIGTERM while its master was still draining it (Hypercorn lost requests at every restart).
#[test]
fn a_master_drains_its_workers_before_they_get_the_stop_signal() {
    let project = Project::with_hotfile(
        r#"
service "serve" {
    run "python3" "master.py"
    ready log="^ready"
    stop timeout="10s"
}
"#,
    );
    project.write("master.py", MASTER);
    let mut hot = project.spawn(&["watch"]);
    let line = hot.wait_for("ready line", |e| {
        e["event"] == "output" && e["line"].as_str().is_some_and(|l| l.starts_with("ready "))
    });
    let pids: Vec<i32> = line["line"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|p| p.parse().unwrap())
        .collect();
    // The line and the event it makes may come in either order.
    if hot.count("service_ready", "serve") == 0 {
        hot.wait_event("service_ready", "serve");
    }
    hot.signal(libc::SIGINT);
    assert_eq!(hot.wait_exit(), 130, "{}", hot.transcript());
    for pid in pids {
        assert!(gone(pid), "worker {pid} outlived hot");
    }
    let mut log: Vec<String> = project.read("log").lines().map(str::to_owned).collect();
    log.sort();
    assert_eq!(
        log,
        [
            // Stopped by its master, not by hot's SIGTERM.
            "drained SIGINT master=alive",
            // The stop signal, once the master had exited.
            "left SIGTERM master=gone",
        ],
        "{}",
        hot.transcript()
    );
}

/// A master that exits at once on SIGTERM and leaves its 12 workers behind; each worker logs
/// each stop signal that reaches it, under its pid, and takes half a second to go, so a second
/// one is seen too (unless it came before the first was delivered: the kernel merges the two,
/// hence several workers and several stops).
const LEAVER: &str = r#"
import os, signal, sys, time

def worker():
    set_up, tell = os.pipe()
    pid = os.fork()
    if pid:
        os.close(tell)
        os.read(set_up, 1)
        os.close(set_up)
        return pid
    os.close(set_up)
    def told(sig, _):
        with open("log", "a") as f:
            f.write(f"{os.getpid()} {signal.Signals(sig).name}\n")
        time.sleep(0.5)
        os._exit(0)
    signal.signal(signal.SIGTERM, told)
    os.write(tell, b"x")
    os.close(tell)
    while True:
        time.sleep(1)

workers = [worker() for _ in range(12)]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("ready " + " ".join(map(str, workers)), flush=True)
while True:
    time.sleep(1)
"#;

/// The defect: a worker its master left behind was signalled twice, once with the keeper's
/// group and once as the keeper's adopted child; many servers take a second SIGTERM for "stop
/// now" and drop what they were draining.
#[test]
fn a_worker_left_by_its_master_gets_the_stop_signal_twice() {
    let project = Project::with_hotfile(
        r#"
service "serve" {
    watch "round"
    run "python3" "leaver.py"
    ready log="^ready"
    stop timeout="10s"
}
"#,
    );
    project.write("leaver.py", LEAVER);
    let mut hot = project.spawn(&["watch"]);
    let mut stopped = Vec::new();
    // Three hand-offs (the old instance stopped once the new one is ready), then hot's own stop.
    for round in 0..4 {
        let from = hot.seen.len();
        let line = hot.wait_for("ready line", |e| {
            e["event"] == "output" && e["line"].as_str().is_some_and(|l| l.starts_with("ready "))
        });
        let workers: Vec<i32> = line["line"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .skip(1)
            .map(|p| p.parse().unwrap())
            .collect();
        // The line and the event it makes may come in either order.
        if !hot.seen[from..]
            .iter()
            .any(|e| e["event"] == "service_ready")
        {
            hot.wait_event("service_ready", "serve");
        }
        if round < 3 {
            project.write("round", &round.to_string());
        } else {
            hot.signal(libc::SIGINT);
            assert_eq!(hot.wait_exit(), 130, "{}", hot.transcript());
        }
        stopped.extend(workers);
    }
    for pid in &stopped {
        assert!(gone(*pid), "worker {pid} outlived its instance");
    }
    let mut log: Vec<String> = project.read("log").lines().map(str::to_owned).collect();
    log.sort();
    let mut once: Vec<String> = stopped.iter().map(|p| format!("{p} SIGTERM")).collect();
    once.sort();
    assert_eq!(log, once, "{}", hot.transcript());
}
