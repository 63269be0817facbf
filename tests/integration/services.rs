use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Project, Running, ask, field, gone, probe};

/// A project whose service is the probe, started after a `check` task that fails while
/// `src/broken` exists. The probe reports the content of `version` read at its start.
fn probe_project(ready: &str) -> Project {
    let hotfile = format!(
        r#"
defaults {{
    debounce "20ms"
}}
task "check" {{
    watch "src/**"
    run "test ! -e src/broken"
}}
service "serve" {{
    after "check"
    watch "version"
    socket "http" "127.0.0.1:0"
    env PROBE_VERSION_FILE="version" PROBE_STARTUP_MS="150"
    run "{probe}"
    {ready}
    stop timeout="2s"
}}
"#,
        probe = probe().display()
    );
    let project = Project::with_hotfile(&hotfile);
    project.write("version", "1");
    project.write("src/lib.rs", "");
    project
}

/// Starts hot, waits for the service to serve, and returns it with the socket's address.
fn start(project: &Project) -> (Running, String) {
    let mut hot = project.spawn(&["watch"]);
    let addr = listening(&mut hot);
    hot.wait_event("service_ready", "serve");
    (hot, addr)
}

/// `hot watch` of one service, `serve`, on a fresh loopback port, running the shell line
/// `run` (`{probe}` stands for the probe's path), once hot bound its socket.
fn serve_probe(run: &str) -> (Project, Running, String) {
    let run = run.replace("{probe}", &probe().display().to_string());
    let project = Project::with_hotfile(&format!(
        "service \"serve\" {{\n    socket \"http\" \"127.0.0.1:0\"\n    run \"{run}\"\n}}\n"
    ));
    let mut hot = project.spawn(&["watch"]);
    let addr = listening(&mut hot);
    (project, hot, addr)
}

/// The address hot bound for `serve`'s socket (port 0 picks a free one), from its event.
#[track_caller]
fn listening(hot: &mut Running) -> String {
    hot.wait_event("listening", "serve")["addr"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A client sending a request every 10 ms until stopped: (requests, failures, slowest).
fn hammer(
    addr: String,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, Vec<String>, Duration)> {
    std::thread::spawn(move || {
        let mut requests = 0;
        let mut failures = Vec::new();
        let mut slowest = Duration::ZERO;
        // Bounded: at most 60 s of requests even if the test forgets to stop it.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            let start = Instant::now();
            match ask(&addr) {
                Ok(answer) if answer.starts_with("pid=") => {}
                Ok(answer) => failures.push(format!("odd answer `{answer}`")),
                Err(error) => failures.push(error.to_string()),
            }
            slowest = slowest.max(start.elapsed());
            requests += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
        (requests, failures, slowest)
    })
}

#[test]
fn restarts_keep_the_address_change_the_pid_and_refuse_nothing() {
    let project = probe_project(r#"ready log="^ready$""#);
    let (mut hot, addr) = start(&project);
    let first = ask(&addr).unwrap();
    assert_eq!(field(&first, "version"), "1");
    assert_eq!(field(&first, "listen_pid"), field(&first, "pid"), "{first}");
    assert_eq!(field(&first, "fdnames"), "http");

    let stop = Arc::new(AtomicBool::new(false));
    let client = hammer(addr.clone(), stop.clone());
    let mut pids = vec![field(&first, "pid").to_owned()];
    for version in 2..=4 {
        project.write("version", &version.to_string());
        hot.wait_event("service_ready", "serve");
        // The old instance may answer until its stop signal lands; then only the new one.
        let answer = answer_from_version(&addr, &version.to_string());
        assert_eq!(field(&answer, "listen_pid"), field(&answer, "pid"));
        pids.push(field(&answer, "pid").to_owned());
    }
    stop.store(true, Ordering::Relaxed);
    let (requests, failures, _slowest) = client.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {requests} failed: {failures:?}",
        failures.len()
    );
    pids.dedup();
    assert_eq!(pids.len(), 4, "a new pid per restart: {pids:?}");
}

#[test]
fn without_ready_the_old_instance_stops_first_and_nothing_is_refused() {
    let project = probe_project("");
    let mut hot = project.spawn(&["watch"]);
    let addr = listening(&mut hot);
    hot.wait_event("node_started", "serve");
    let first = ask(&addr).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let client = hammer(addr.clone(), stop.clone());
    project.write("version", "2");
    hot.wait_event("node_started", "serve");
    // The new instance answers once started; requests meanwhile wait in the backlog.
    let second = ask(&addr).unwrap();
    stop.store(true, Ordering::Relaxed);
    let (_, failures, _) = client.join().unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    assert_ne!(field(&first, "pid"), field(&second, "pid"));
    assert_eq!(field(&second, "version"), "2");
}

#[test]
fn a_failing_upstream_leaves_the_old_server_serving() {
    let project = probe_project(r#"ready log="^ready$""#);
    let (mut hot, addr) = start(&project);
    let before = ask(&addr).unwrap();
    project.write("version", "2");
    project.write("src/broken", "");
    let kept = hot.wait_event("service_kept", "serve");
    assert_eq!(kept["failed"], "check");
    let after = ask(&addr).unwrap();
    assert_eq!(field(&after, "pid"), field(&before, "pid"));
    assert_eq!(field(&after, "version"), "1");
    // Fixing the check brings the new version in.
    std::fs::remove_file(project.path().join("src/broken")).unwrap();
    hot.wait_event("service_ready", "serve");
    answer_from_version(&addr, "2");
}

/// Asks until the instance of `version` answers (bounded): after a hand-off the old instance
/// keeps answering until it has drained.
#[track_caller]
fn answer_from_version(addr: &str, version: &str) -> String {
    let deadline = Instant::now() + crate::support::DEADLINE;
    loop {
        let answer = ask(addr).unwrap();
        if field(&answer, "version") == version {
            return answer;
        }
        assert!(Instant::now() < deadline, "still {answer}");
    }
}

#[test]
fn a_grandchild_server_stops_with_its_parent_and_the_port_is_freed() {
    // Like `cargo run` building first: the server is a child of a shell that stays.
    let (_project, mut hot, addr) = serve_probe("true; {probe}");
    let answer = ask(&addr).unwrap();
    // A compound command forks, so hot leaves LISTEN_PID empty, which listenfd accepts.
    assert_eq!(field(&answer, "listen_pid"), "");
    let server: i32 = field(&answer, "pid").parse().unwrap();
    hot.signal(libc::SIGINT);
    assert_eq!(hot.wait_exit(), 130);
    assert!(gone(server), "the server outlived hot");
    std::net::TcpListener::bind(&addr).expect("the port is free after hot exits");
}

#[test]
fn run_serve_runs_dependencies_then_holds_the_service_until_ctrl_c() {
    let project = probe_project(r#"ready log="^ready$""#);
    let mut hot = project.spawn(&["run", "serve"]);
    let addr = listening(&mut hot);
    hot.wait_event("node_finished", "check");
    hot.wait_event("service_ready", "serve");
    let server: i32 = field(&ask(&addr).unwrap(), "pid").parse().unwrap();
    hot.signal(libc::SIGINT);
    assert_eq!(hot.wait_exit(), 130);
    assert!(gone(server));
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let project = Project::with_hotfile(&format!(
        r#"
service "serve" {{
    socket "http" "{addr}"
    run "true"
}}
"#
    ));
    let run = project.run(&["run", "serve"]);
    run.code(1);
    assert!(
        run.stderr.contains(&addr.to_string()) && run.stderr.contains("in use"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_crashed_service_with_restart_never_is_reported_with_its_last_lines_and_waits_for_a_change() {
    let project = Project::with_hotfile(
        r#"
defaults {
    debounce "20ms"
}
service "serve" {
    watch "src/**"
    run "echo starting; echo cannot open database >&2; exit 3"
    restart "never"
}
task "other" {
    watch "other/**"
    run "true"
}
"#,
    );
    let mut hot = project.spawn(&["watch"]);
    let finished = hot.wait_event("node_finished", "serve");
    assert_eq!(finished["code"], 3, "{finished}");
    assert_eq!(finished["kind"], "service");
    let lines = finished["last_lines"].to_string();
    assert!(lines.contains("cannot open database"), "{finished}");
    let down = hot.wait_event("service_down", "serve");
    assert_eq!(down["restart_in_ms"], serde_json::Value::Null, "{down}");
    // No crash loop: an unrelated change does not restart it...
    project.write("other/x", "1");
    hot.wait_event("wave_started", "");
    hot.wait_event("wave_finished", "");
    assert_eq!(
        hot.count("node_started", "serve"),
        1,
        "{}",
        hot.transcript()
    );
    // ...its own change does.
    project.write("src/main.rs", "fixed");
    hot.wait_event("node_started", "serve");
}

/// The process group of `pid` (field 5 of `/proc/PID/stat`), if it runs.
fn group_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split(' ').nth(2)?.parse().ok()
}

/// Every live process (zombies aside) whose process group or session is one of `groups`.
fn members(groups: &[i32]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        let ids = [fields.get(2), fields.get(3)].map(|f| f.and_then(|f| f.parse().ok()));
        if fields[0] != "Z" && ids.iter().flatten().any(|id: &i32| groups.contains(id)) {
            found.push(format!("{pid} {head})"));
        }
    }
    found
}

#[test]
fn sigkill_of_hot_leaves_no_process_and_frees_the_port() {
    // A compound shell line forks the server and waits for it; a task leaves grandchildren.
    let hotfile = |addr: &str| {
        format!(
            r#"
service "serve" {{
    socket "http" "{addr}"
    run "{probe}; echo exited"
}}
task "tree" {{
    run "setsid sleep 300 & echo escaped $!; sleep 300 & echo tree $$; wait"
}}
"#,
            probe = probe().display()
        )
    };
    let project = Project::with_hotfile(&hotfile("127.0.0.1:0"));
    let mut hot = project.spawn(&["watch"]);
    let addr = listening(&mut hot);
    let line = hot.wait_for("the task's pid", |e| {
        e["event"] == "output" && e["line"].as_str().is_some_and(|l| l.starts_with("tree "))
    });
    let task: i32 = line["line"].as_str().unwrap()[5..].parse().unwrap();
    // A grandchild that left the group and the session (setsid): only the keeper knows it.
    let escaped = hot.seen.iter().find_map(|e| {
        e["line"]
            .as_str()?
            .strip_prefix("escaped ")
            .and_then(|p| p.parse::<i32>().ok())
    });
    let escaped = escaped.expect("the escaped grandchild's pid");
    let server: i32 = field(&ask(&addr).unwrap(), "pid").parse().unwrap();
    let groups: Vec<i32> = [task, server].into_iter().filter_map(group_of).collect();
    assert_eq!(groups.len(), 2, "both run");
    assert!(
        !members(&groups).is_empty() && groups.iter().all(|g| *g != hot.pid()),
        "each in a group of its own"
    );

    hot.signal(libc::SIGKILL);
    assert_eq!(hot.wait_exit(), 128 + libc::SIGKILL);
    let killed = Instant::now();
    let deadline = killed + crate::support::DEADLINE;
    loop {
        let left = members(&groups);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "every process gone {:?} after the SIGKILL",
        killed.elapsed()
    );
    assert!(gone(server) && gone(task));
    assert!(
        gone(escaped),
        "the grandchild that left the group outlived hot"
    );

    // The port is free: a new hot binds it at once.
    project.write("Hotfile", &hotfile(&addr));
    let mut again = project.spawn(&["watch"]);
    assert_eq!(
        again.wait_event("listening", "serve")["addr"],
        addr.as_str()
    );
    let answer = ask(&addr).unwrap();
    assert_ne!(field(&answer, "pid"), server.to_string());
}

/// hot under a pseudo-terminal (util-linux `script`), as in a terminal: a task that reads the
/// terminal must fail at once with its own error, not be stopped by SIGTTIN for ever.
#[test]
fn a_task_reading_the_terminal_fails_at_once() {
    let project = Project::with_hotfile(
        r#"
task "ask" {
    run "read answer < /dev/tty"
}
"#,
    );
    let mut command = std::process::Command::new("script");
    command
        .args([
            "-qec",
            &format!("{} run ask", crate::support::HOT),
            "/dev/null",
        ])
        .current_dir(project.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut script = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            assert!(!crate::support::ci(), "script: {e}");
            eprintln!("skipped: util-linux `script` is not available: {e}");
            return;
        }
    };
    // Kept open (no EOF on the terminal), so a read of it would wait: only "no terminal" ends it.
    let _stdin = script.stdin.take();
    let deadline = Instant::now() + crate::support::DEADLINE;
    let status = loop {
        if let Some(status) = script.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = script.kill();
            let _ = script.wait();
            panic!("the task hung on the terminal");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut output = String::new();
    std::io::Read::read_to_string(&mut script.stdout.take().unwrap(), &mut output).unwrap();
    assert!(!status.success(), "{output}");
    assert!(output.contains("/dev/tty"), "its own error: {output}");
    assert!(output.contains("ask failed"), "{output}");
}

#[test]
fn a_stopped_task_is_reported_not_waited_on_silently() {
    let project = Project::with_hotfile(
        r#"
task "halts" {
    run "kill -STOP $$; echo resumed"
}
"#,
    );
    let mut hot = project.spawn(&["run", "halts"]);
    let stopped = hot.wait_event("node_suspended", "halts");
    assert_eq!(stopped["signal"], libc::SIGSTOP, "{stopped}");
    let pid: i32 = stopped["pid"].as_i64().unwrap().try_into().unwrap();
    // SAFETY: kill on the pid hot just reported for the stopped task.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    let finished = hot.wait_event("node_finished", "halts");
    assert_eq!(finished["ok"], true, "{finished}");
    assert_eq!(hot.wait_exit(), 0);
}

#[test]
fn a_crash_after_the_hand_off_is_restarted_within_the_backoff() {
    let hotfile = format!(
        r#"
defaults {{
    debounce "20ms"
}}
service "serve" {{
    watch "version"
    socket "http" "127.0.0.1:0"
    env PROBE_VERSION_FILE="version" PROBE_STARTUP_MS="150"
    run "echo version $(cat version); exec {probe}"
    ready log="^ready$"
    stop timeout="2s"
}}
"#,
        probe = probe().display()
    );
    let project = Project::with_hotfile(&hotfile);
    project.write("version", "1");
    let (mut hot, addr) = start(&project);
    project.write("version", "2");
    hot.wait_event("service_ready", "serve");
    let serving = answer_from_version(&addr, "2");
    let pid: i32 = field(&serving, "pid").parse().unwrap();

    // SAFETY: kill on the pid the server just reported for itself.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    // The first instance, stopped after the hand-off, may report its end only now: wait for
    // the end of the one that was killed.
    let finished = hot.wait_for("node_finished", |e| {
        e["event"] == "node_finished" && e["node"] == "serve" && e["signal"] == libc::SIGKILL
    });
    // Its own last lines, not its predecessor's.
    let lines = finished["last_lines"].to_string();
    assert!(
        lines.contains("version 2") && !lines.contains("version 1"),
        "{finished}"
    );
    let down = hot.wait_event("service_down", "serve");
    assert_eq!(down["restart_in_ms"], 500.0, "{down}");
    hot.wait_event("node_started", "serve");
    hot.wait_event("service_ready", "serve");
    let back = ask(&addr).unwrap();
    assert_eq!(field(&back, "version"), "2");
    assert_ne!(field(&back, "pid"), pid.to_string());
}

/// Waits (bounded) until hot's stderr contains `text`; returns all of it.
#[track_caller]
fn wait_text(hot: &Running, text: &str) -> String {
    let deadline = Instant::now() + crate::support::DEADLINE;
    loop {
        let transcript = hot.transcript();
        if transcript.contains(text) {
            return transcript;
        }
        assert!(Instant::now() < deadline, "no `{text}` in:\n{transcript}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_ready_that_never_comes_keeps_the_only_instance_and_says_what_was_not_seen() {
    let hotfile = format!(
        r#"
service "serve" {{
    socket "http" "127.0.0.1:0"
    run "{probe}"
    ready log="^listening on" timeout="1s"
}}
"#,
        probe = probe().display()
    );
    let project = Project::with_hotfile(&hotfile);
    let hot = Running::spawn(project.hot(&["watch"]));
    let said = wait_text(
        &hot,
        "serve: no line matched `^listening on` in 1s; it is running, but hot cannot tell when it is ready",
    );
    assert!(
        !said.contains("previous"),
        "no predecessor to mention:\n{said}"
    );
    let addr = said
        .lines()
        .find_map(|l| l.split("listening on ").nth(1))
        .expect("the listening line")
        .trim()
        .to_owned();
    assert!(ask(&addr).is_ok(), "the kept instance answers");
    drop(hot);

    // In --json: the same, as `kept`, and the instance that answers is the first one, until
    // hot is stopped (awaited events, not a pause: a pause passed with the instance stopped
    // at the timeout and not yet gone).
    let project = Project::with_hotfile(&hotfile);
    let mut hot = project.spawn(&["watch"]);
    let started = hot.wait_event("command_started", "serve");
    let timed_out = hot.wait_event("ready_timed_out", "serve");
    assert_eq!(timed_out["kept"], true, "{timed_out}");
    let listening = hot.seen.iter().find(|e| e["event"] == "listening");
    let addr = listening
        .and_then(|e| e["addr"].as_str())
        .expect("an address");
    assert_eq!(
        field(&ask(addr).unwrap(), "pid"),
        started["pid"].to_string()
    );
    hot.signal(libc::SIGINT);
    assert_eq!(hot.wait_exit(), 130);
    let after_timeout: Vec<_> = hot
        .seen
        .iter()
        .skip_while(|e| e["event"] != "ready_timed_out")
        .take_while(|e| e["event"] != "note")
        .filter(|e| e["node"] == "serve")
        .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(after_timeout, ["ready_timed_out"], "{}", hot.transcript());
    assert_eq!(hot.count("node_started", "serve"), 1);
}

/// `python3`, or `None` (the reason printed) when it is missing outside CI; under `CI=true` a
/// missing python3 fails instead.
fn python3() -> Option<&'static str> {
    let found = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !crate::support::ci(),
            "python3 is missing; .ci/run installs it"
        );
        eprintln!("skipped: python3 is not installed");
    }
    found.then_some("python3")
}

/// A blocking server that, as some frameworks do on a graceful stop, calls `shutdown()` on
/// the listener: that breaks the socket hot shares with every instance.
const SHUTDOWN_SERVER: &str = r#"
import os, signal, socket, sys
listener = socket.socket(fileno=3)
version = open("version").read().strip()
def stop(*_):
    listener.shutdown(socket.SHUT_RDWR)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
while True:
    conn, _ = listener.accept()
    conn.sendall(b"pid=%d version=%s\n" % (os.getpid(), version.encode()))
    conn.close()
"#;

#[test]
fn a_server_that_shuts_the_socket_down_is_restarted_on_a_fresh_one() {
    let Some(python) = python3() else { return };
    let project = Project::with_hotfile(&format!(
        r#"
defaults {{
    debounce "20ms"
}}
service "serve" {{
    watch "version"
    socket "http" "127.0.0.1:0"
    run "{python}" "server.py"
    ready log="^ready$"
    stop timeout="2s"
}}
"#
    ));
    project.write("server.py", SHUTDOWN_SERVER);
    project.write("version", "1");
    let (mut hot, addr) = start(&project);
    assert_eq!(field(&ask(&addr).unwrap(), "version"), "1");

    project.write("version", "2");
    hot.wait_event("service_ready", "serve");
    if cfg!(target_os = "linux") {
        // Each instance has a socket of its own: the old one shuts down only its own, after
        // new connections were steered to its successor's. Nothing to renew.
        answer_from_version(&addr, "2");
        project.write("version", "3");
        hot.wait_event("service_ready", "serve");
        answer_from_version(&addr, "3");
        assert_eq!(
            hot.count("socket_renewed", "serve"),
            0,
            "{}",
            hot.transcript()
        );
        return;
    }
    // The hand-off: the old instance, stopped, shuts the shared socket down.
    let renewed = hot.wait_event("socket_renewed", "serve");
    assert_eq!(renewed["socket"], "http");
    hot.wait_event("service_ready", "serve");
    let answer = ask(&addr).unwrap();
    assert_eq!(field(&answer, "version"), "2", "{answer}");
    // And it goes on: the next hand-off works too.
    project.write("version", "3");
    hot.wait_event("socket_renewed", "serve");
    hot.wait_event("service_ready", "serve");
    answer_from_version(&addr, "3");
}

/// A closed terminal sends hot SIGHUP; its children, in sessions of their own, get nothing
/// from the terminal, and hot stops them all before it exits.
#[test]
fn a_closed_terminal_stops_every_process_hot_started() {
    let (_project, mut hot, addr) = serve_probe("{probe}; echo exited");
    let server: i32 = field(&ask(&addr).unwrap(), "pid").parse().unwrap();
    hot.signal(libc::SIGHUP);
    assert_eq!(hot.wait_exit(), 129);
    assert!(gone(server), "the server outlived hot");
    std::net::TcpListener::bind(&addr).expect("the port is free after hot exits");
}

/// A probe service whose new instance, started while `broken` exists, dies at start with an
/// error (or, while `silent` exists, never prints its ready line).
fn replaceable_project() -> Project {
    let hotfile = format!(
        r#"
defaults {{
    debounce "20ms"
}}
service "serve" {{
    watch "broken" "silent"
    socket "http" "127.0.0.1:0"
    env PROBE_VERSION_FILE="version"
    run "if [ -e broken ]; then echo 'SyntaxError: Unexpected token' >&2; exit 1; fi; if [ -e silent ]; then exec sleep 30; fi; echo ready; exec {probe}"
    ready log="^ready$" timeout="1s"
    stop timeout="2s"
}}
"#,
        probe = probe().display()
    );
    let project = Project::with_hotfile(&hotfile);
    project.write("version", "1");
    project
}

/// The wave's closing event says the service failed, with the older build serving.
#[track_caller]
fn assert_failed_with_the_old_build_serving(finished: &serde_json::Value) {
    assert_eq!(finished["ok"], false, "{finished}");
    assert_eq!(finished["failed"], 1, "{finished}");
    assert_eq!(
        finished["failed_nodes"],
        serde_json::json!(["serve"]),
        "{finished}"
    );
    let row = &finished["nodes"][0];
    assert_eq!(row["result"], "failed", "{finished}");
    assert!(row["serving_since"].is_string(), "{finished}");
}

#[test]
fn a_replacement_that_crashes_at_start_fails_its_wave() {
    let project = replaceable_project();
    let (mut hot, addr) = start(&project);
    let first = hot.wait_event("wave_finished", "");
    assert_eq!(first["ok"], true, "{first}");
    let pid = field(&ask(&addr).unwrap(), "pid").to_owned();

    project.write("broken", "");
    let crashed = hot.wait_event("node_finished", "serve");
    assert_eq!(crashed["code"], 1, "{crashed}");
    let finished = hot.wait_event("wave_finished", "");
    assert_failed_with_the_old_build_serving(&finished);
    // The old instance serves on: right, and now said.
    assert_eq!(field(&ask(&addr).unwrap(), "pid"), pid);

    // The terminal says the same: not "all ok", and which build serves.
    let project = replaceable_project();
    let hot = Running::spawn(project.hot(&["watch"]));
    wait_text(&hot, "all ok");
    project.write("broken", "");
    let said = wait_text(&hot, "1 failed: serve (not live: the build from ");
    let after = said.split("SyntaxError").nth(1).expect("the crash excerpt");
    assert!(!after.contains("all ok"), "{said}");
}

#[test]
fn a_replacement_that_never_gets_ready_fails_its_wave() {
    let project = replaceable_project();
    let (mut hot, addr) = start(&project);
    hot.wait_event("wave_finished", "");
    let pid = field(&ask(&addr).unwrap(), "pid").to_owned();

    project.write("silent", "");
    let timed_out = hot.wait_event("ready_timed_out", "serve");
    assert_eq!(timed_out["kept"], false, "{timed_out}");
    let finished = hot.wait_event("wave_finished", "");
    assert_failed_with_the_old_build_serving(&finished);
    assert_eq!(field(&ask(&addr).unwrap(), "pid"), pid);
}

/// `node`, or `None` (the reason printed) when it is missing outside CI.
fn node() -> Option<&'static str> {
    let found = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "node is missing; .ci/run installs it"
        );
        eprintln!("skipped: node is not installed");
    }
    found.then_some("node")
}

/// Node prints the error, then a stack of `at …` frames and its version: the last lines alone
/// were all stack.
#[test]
fn the_crash_excerpt_of_a_node_syntax_error_shows_the_syntax_error() {
    let Some(node) = node() else { return };
    let hotfile = format!(
        r#"
service "web" {{
    socket "http" "127.0.0.1:0"
    run "{node}" "server.js"
    ready log="^listening"
    restart "never"
}}
"#
    );
    let project = Project::with_hotfile(&hotfile);
    project.write(
        "server.js",
        "const http = require('http');\n\
         http.createServer((q, r) => r.end('hi')).listen({fd: 3};\n\
         console.log('listening');\n",
    );
    let mut hot = project.spawn(&["watch"]);
    let finished = hot.wait_event("node_finished", "web");
    let lines: Vec<&str> = finished["last_lines"]
        .as_array()
        .expect("last_lines")
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(
        lines.iter().any(|l| l.starts_with("SyntaxError: ")),
        "{finished}"
    );
    assert!(
        lines.last().is_some_and(|l| l.starts_with("Node.js v")),
        "{finished}"
    );

    // The terminal shows the same excerpt.
    let project = Project::with_hotfile(&hotfile);
    project.write("server.js", "listen(;\n");
    let hot = Running::spawn(project.hot(&["watch"]));
    // The excerpt's lines are indented under the exit line; the child's own lines are not.
    let said = wait_text(&hot, "\n    Node.js v");
    let excerpt = said.split("its last lines:").nth(1).expect("the excerpt");
    assert!(excerpt.contains("\n    SyntaxError: "), "{said}");
}

/// Takes hot's socket from fd 3 and blocks in `accept()` on it.
#[cfg(target_os = "linux")]
const FD3_SERVER: &str = "\
import socket
s = socket.socket(fileno=3)
print('ready', flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b'ok')
    c.close()
";

/// Ignores fd 3 and binds a port of its own, as `Bun.serve({fd: 3})` does; the 2 s before it
/// binds let the looks at the server before it (up to 1 s after its ready) end first.
#[cfg(target_os = "linux")]
const OWN_PORT_SERVER: &str = "\
import socket, time
time.sleep(float(__import__('sys').argv[1]))
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen()
print('ready on', s.getsockname()[1], flush=True)
time.sleep(600)
";

#[cfg(target_os = "linux")]
#[test]
fn a_server_that_ignores_fd_3_gets_a_warning_naming_its_port() {
    let Some(python) = python3() else { return };
    let project = Project::with_hotfile(&format!(
        r#"
service "good" {{
    socket "http" "127.0.0.1:0"
    run "{python}" "good.py"
    ready log="^ready$"
}}
service "bad" {{
    after "good"
    socket "http" "127.0.0.1:0"
    run "{python}" "bad.py" "2"
    ready log="^ready on" timeout="20s"
}}
"#
    ));
    project.write("good.py", FD3_SERVER);
    project.write("bad.py", OWN_PORT_SERVER);
    let mut hot = project.spawn(&["watch"]);
    let addr = hot.wait_event("listening", "bad")["addr"].clone();
    let line = hot.wait_for("bad's ready line", |e| {
        e["event"] == "output"
            && e["node"] == "bad"
            && e["line"]
                .as_str()
                .is_some_and(|l| l.starts_with("ready on"))
    });
    let port = line["line"]
        .as_str()
        .unwrap()
        .trim_start_matches("ready on ")
        .to_owned();
    let warning = hot.wait_event("socket_unused", "");
    assert_eq!(
        warning["node"],
        "bad",
        "the server on fd 3 is not warned about:\n{}",
        hot.transcript()
    );
    assert_eq!(
        warning["listening"],
        serde_json::json!([format!("127.0.0.1:{port}")]),
        "{warning}"
    );
    assert_eq!(
        (&warning["fd"], &warning["addr"], &warning["closed"]),
        (&serde_json::json!(3), &addr, &serde_json::json!(false)),
        "{warning}"
    );
    // The server on fd 3 answers on hot's address.
    let good = hot
        .seen
        .iter()
        .find(|e| e["event"] == "listening" && e["node"] == "good")
        .expect("good listens")["addr"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(ask(&good).unwrap(), "ok");

    // The terminal says it too, naming the port.
    let project = Project::with_hotfile(&format!(
        r#"
service "bad" {{
    socket "http" "127.0.0.1:0"
    run "{python}" "bad.py" "0"
    ready log="^ready on"
}}
"#
    ));
    project.write("bad.py", OWN_PORT_SERVER);
    let hot = Running::spawn(project.hot(&["watch"]));
    let said = wait_text(&hot, "itself, so requests to");
    let warning = said
        .lines()
        .find(|l| {
            l.contains("warning: bad does not wait on the socket hot passed it (fd 3, 127.0.0.1:")
        })
        .unwrap_or_else(|| panic!("{said}"));
    let hot_addr = warning
        .split("(fd 3, ")
        .nth(1)
        .and_then(|r| r.split(')').next());
    let own_addr = warning
        .split("it listens on ")
        .nth(1)
        .and_then(|r| r.split(' ').next());
    let (Some(hot_addr), Some(own_addr)) = (hot_addr, own_addr) else {
        panic!("{warning}")
    };
    assert!(
        own_addr.starts_with("127.0.0.1:") && own_addr != hot_addr,
        "{warning}"
    );
    assert!(said.contains(&format!("serving on {hot_addr}")), "{said}");
}

/// The serving instance crashed while its replacement (a slow start) was starting: hot kept the
/// crashed instance's socket, with a connection already queued on it, as the spare, and the
/// replacement got ready with a socket of its own. Nothing accepted from the spare until the
/// next edit started an instance: that request waited for it (16-60 s in soak runs).
#[test]
fn a_connection_queued_on_a_crashed_instance_waited_for_the_next_edit_when_a_replacement_was_already_starting()
 {
    let hotfile = format!(
        r#"
defaults {{
    debounce "20ms"
}}
service "serve" {{
    watch "version"
    socket "http" "127.0.0.1:0"
    env PROBE_VERSION_FILE="version"
    run "PROBE_STARTUP_MS=$(cat startup) exec {probe}"
    ready log="^ready$"
    stop timeout="2s"
}}
"#,
        probe = probe().display()
    );
    let project = Project::with_hotfile(&hotfile);
    project.write("version", "1");
    project.write("startup", "50");
    let (mut hot, addr) = start(&project);
    let old: i32 = field(&answer_from_version(&addr, "1"), "pid")
        .parse()
        .unwrap();

    // The replacement takes 4 s to get ready: the crash below falls well inside its start.
    project.write("startup", "4000");
    project.write("version", "2");
    let started = hot.wait_event("command_started", "serve");
    let replacement = started["pid"].as_i64().expect("a pid");
    // The serving instance stops accepting, a request queues on its socket, and it dies.
    // SAFETY: kill(2) on the serving instance's command, a child of hot's that still runs.
    assert_eq!(unsafe { libc::kill(old, libc::SIGSTOP) }, 0);
    // Stopped for good only once every thread is: until then it may still accept and answer
    // the request (its keeper reports the stop once the whole group stop is done).
    let stopped = hot.wait_event("node_suspended", "serve");
    assert_eq!(stopped["pid"], old, "{stopped}");
    let mut waiting = std::net::TcpStream::connect(&addr).unwrap();
    // SAFETY: as above; SIGKILL ends a stopped process too.
    assert_eq!(unsafe { libc::kill(old, libc::SIGKILL) }, 0);
    hot.wait_for("the crash", |e| {
        e["event"] == "node_finished" && e["node"] == "serve" && e["signal"] == libc::SIGKILL
    });

    // No further edit: the replacement answers it once ready (4 s), well within the bound.
    use std::io::Read;
    waiting
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = String::new();
    let read = waiting.read_to_string(&mut answer);
    assert!(
        read.is_ok() && !answer.is_empty(),
        "the queued request was not answered within 20 s ({read:?}); saw:\n{}",
        hot.transcript()
    );
    assert_eq!(field(&answer, "pid"), replacement.to_string(), "{answer}");
    assert_eq!(field(&answer, "version"), "2", "{answer}");
}
