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
