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
    let listening = hot.wait_event("listening", "serve");
    let addr = listening["addr"].as_str().unwrap().to_owned();
    hot.wait_event("service_ready", "serve");
    (hot, addr)
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
    let addr = hot.wait_event("listening", "serve")["addr"]
        .as_str()
        .unwrap()
        .to_owned();
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
    let hotfile = format!(
        r#"
service "serve" {{
    socket "http" "127.0.0.1:0"
    run "true; {probe}"
}}
"#,
        probe = probe().display()
    );
    let project = Project::with_hotfile(&hotfile);
    let mut hot = project.spawn(&["watch"]);
    let addr = hot.wait_event("listening", "serve")["addr"]
        .as_str()
        .unwrap()
        .to_owned();
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
    let addr = hot.wait_event("listening", "serve")["addr"]
        .as_str()
        .unwrap()
        .to_owned();
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
fn a_crashed_service_is_reported_with_its_last_lines_and_waits_for_a_change() {
    let project = Project::with_hotfile(
        r#"
defaults {
    debounce "20ms"
}
service "serve" {
    watch "src/**"
    run "echo starting; echo cannot open database >&2; exit 3"
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
    run "sleep 300 & sleep 300 & echo tree $$; wait"
}}
"#,
            probe = probe().display()
        )
    };
    let project = Project::with_hotfile(&hotfile("127.0.0.1:0"));
    let mut hot = project.spawn(&["watch"]);
    let addr = hot.wait_event("listening", "serve")["addr"]
        .as_str()
        .unwrap()
        .to_owned();
    let line = hot.wait_for("the task's pid", |e| {
        e["event"] == "output" && e["line"].as_str().is_some_and(|l| l.starts_with("tree "))
    });
    let task: i32 = line["line"].as_str().unwrap()[5..].parse().unwrap();
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
            assert!(std::env::var_os("CI").is_none(), "script: {e}");
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
