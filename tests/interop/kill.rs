//! `kill -9` of hot: within 1 s no process it started is left, at any depth (checked by pid
//! and process group in `/proc`), the port it bound is free, and a new hot binds it at once.
//!
//! The defect these pin: `PR_SET_PDEATHSIG` covers hot's direct child only, so a server under
//! a shell or a wrapper was re-parented to pid 1 and kept the port.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use crate::fixtures::{self, kdl, require, serial, servers};
use crate::procs::{self, Stat};
use crate::support::{Project, Running};

/// The issue's bound: everything hot started is gone this long after hot was SIGKILLed.
const GONE_WITHIN: Duration = Duration::from_secs(1);

/// Starts `hotfile` and, when it has a service, waits until it is ready; its address.
fn start(project: &Project) -> (Running, Option<SocketAddr>) {
    let mut hot = project.spawn(&["watch"]);
    let addr = hot.wait_for("listening or node_started", |e| {
        e["event"] == "listening" || e["event"] == "node_started"
    });
    let addr = addr["addr"]
        .as_str()
        .map(|a| a.parse().expect("an address"));
    if addr.is_some() {
        hot.wait_event("service_ready", "serve");
    }
    (hot, addr)
}

/// SIGKILLs hot and checks that nothing it started (the `started` processes must be among
/// them) outlives it by more than [`GONE_WITHIN`], and that `addr` is free again.
#[track_caller]
fn sigkill_leaves_nothing(hot: Running, started: &[i32], addr: Option<SocketAddr>) {
    let below: Vec<Stat> = procs::tree(hot.pid())
        .into_iter()
        .filter(|p| p.pid != hot.pid())
        .collect();
    for pid in started {
        assert!(
            below.iter().any(|p| p.pid == *pid),
            "{pid} is not below hot: {below:?}"
        );
    }
    let pids: Vec<i32> = below.iter().map(|p| p.pid).collect();
    // SAFETY: getpgrp has no preconditions.
    let ours = unsafe { libc::getpgrp() };
    let mut groups: Vec<i32> = below
        .iter()
        .map(|p| p.pgid)
        .filter(|g| *g != ours)
        .collect();
    groups.sort_unstable();
    groups.dedup();

    hot.signal(libc::SIGKILL);
    let killed = Instant::now();
    let left = loop {
        let left = procs::left(&pids, &groups);
        if left.is_empty() || killed.elapsed() > GONE_WITHIN {
            break left;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = killed.elapsed();
    // Leave nothing behind on failure either.
    for p in &left {
        // SAFETY: kill(2) on a pid this test recorded as one hot started.
        unsafe { libc::kill(p.pid, libc::SIGKILL) };
    }
    assert!(
        left.is_empty(),
        "{} of {below:?} outlived a SIGKILLed hot by {took:?}: {left:?}",
        left.len()
    );
    eprintln!(
        "{} processes gone {took:?} after kill -9 of hot",
        below.len()
    );

    if let Some(addr) = addr {
        // A killed multi-threaded server's leader can be reaped while its other threads are
        // still exiting and holding the fd table, so the port is free a moment after the
        // pids are gone: within the same bound.
        let free = loop {
            match TcpListener::bind(addr) {
                Ok(listener) => break Ok(listener),
                Err(e) if killed.elapsed() > GONE_WITHIN => break Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        drop(free.unwrap_or_else(|e| {
            panic!(
                "{addr} is still taken {:?} after kill -9: {e}",
                killed.elapsed()
            )
        }));
        // A new hot binds the same address and starts its service there.
        let next = Project::with_hotfile(&format!(
            "service \"serve\" {{\n    socket \"http\" \"{addr}\"\n    run \"sleep\" \"600\"\n}}\n"
        ));
        let mut again = next.spawn(&["watch"]);
        let listening = again.wait_event("listening", "serve");
        assert_eq!(listening["addr"], addr.to_string());
        again.wait_event("node_started", "serve");
    }
}

/// The pid in the answer of the server at `addr`.
fn server_pid(addr: SocketAddr) -> i32 {
    match crate::client::request(addr) {
        crate::client::Outcome::Answer { pid, .. } => pid,
        other => panic!("no answer from {addr}: {other:?}"),
    }
}

#[test]
fn sigkilled_hot_leaves_no_cargo_run_server() {
    let _one_at_a_time = serial();
    let Some(axum) = require(fixtures::axum()) else {
        return;
    };
    // The fixture's own target directory: cargo finds it built and execs the server.
    let target = axum.ancestors().nth(2).expect("target/interop/axum");
    let project = Project::with_hotfile(&format!(
        r#"
service "serve" {{
    socket "http" "127.0.0.1:0"
    env CARGO_TARGET_DIR={target} STARTUP_MS="0"
    run "cargo" "run" "--quiet" "--locked" "--manifest-path" {manifest} "--" "--runtime" "multi"
    ready log="^ready$"
}}
"#,
        target = kdl(&target.display().to_string()),
        manifest = kdl(&servers().join("axum/Cargo.toml").display().to_string()),
    ));
    let (hot, addr) = start(&project);
    let addr = addr.expect("the service's address");
    let server = server_pid(addr);
    sigkill_leaves_nothing(hot, &[server], Some(addr));
}

#[test]
fn sigkilled_hot_leaves_no_server_of_a_compound_shell_line() {
    let _one_at_a_time = serial();
    let Some(python) = require(fixtures::python()) else {
        return;
    };
    let line = format!(
        "{python} {} ; echo exited",
        servers().join("blocking_server.py").display()
    );
    let project = Project::with_hotfile(&format!(
        r#"
service "serve" {{
    socket "http" "127.0.0.1:0"
    env STARTUP_MS="0"
    run {line}
    ready log="^ready$"
}}
"#,
        line = kdl(&line),
    ));
    let (hot, addr) = start(&project);
    let addr = addr.expect("the service's address");
    let server = server_pid(addr);
    // The shell forked the server: it is the server's parent, and both must go.
    let shell = procs::stat(server).expect("the server's stat").ppid;
    assert_ne!(shell, hot.pid());
    sigkill_leaves_nothing(hot, &[server, shell], Some(addr));
}

#[test]
fn sigkilled_hot_leaves_no_grandchild_of_a_task() {
    let _one_at_a_time = serial();
    let project = Project::with_hotfile(
        r#"
task "spawner" {
    run "sh -c 'sleep 600 & echo grandchild=$!; wait' & echo child=$!; wait"
}
"#,
    );
    let (mut hot, _) = start(&project);
    // The two shells print concurrently: the lines come in either order.
    let pid = |hot: &Running, key: &str| -> Option<i32> {
        hot.seen.iter().find_map(|e| {
            let line = e["line"].as_str().filter(|_| e["event"] == "output")?;
            line.strip_prefix(key)?.parse().ok()
        })
    };
    let (child, grandchild) = loop {
        if let (Some(child), Some(grandchild)) = (pid(&hot, "child="), pid(&hot, "grandchild=")) {
            break (child, grandchild);
        }
        hot.wait_event("output", "spawner");
    };
    sigkill_leaves_nothing(hot, &[child, grandchild], None);
}
