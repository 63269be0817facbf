#!/usr/bin/env python3
"""Benchmark: the story's table. An axum hello-world (examples/axum-hello, tokio multi-thread
runtime) under five dev loops, with real `cargo clippy`, `cargo test` and `cargo build`:

  cargo watch -x run                        the server binds its own port; no checks
  cargo watch -x clippy -x test -x run      the same, checked first
  systemfd + cargo watch -x clippy ...      systemfd --no-pid -s tcp::127.0.0.1:PORT holds the
                                            socket; the server takes it through listenfd
  two cargo watch + .trigger + systemfd     `cargo watch --postpone -x clippy -x test -x build
                                            -s 'touch .trigger'` beside `systemfd ... -- cargo
                                            watch --no-vcs-ignores -w .trigger -x run` (.trigger
                                            in .gitignore): the server restarts only after the
                                            checks passed
  hot                                       the example's own Hotfile (the one `hot init`
                                            writes: build beside a clippy-driven `cargo test`,
                                            the server started after the build and gated on
                                            the check, with `ready`)

The example is copied into a temp git repository (cargo-watch reads .gitignore), its port
replaced by a free one; CARGO_TARGET_DIR is a persistent folder (--target-dir, default
target/bench/story-target), warmed once (build, clippy, test --no-run), so the figures are of
incremental builds of the example's own crate. A client on 127.0.0.1 sends a GET every 20 ms
(one after the other; connect, request, read to EOF; 10 s timeout). Per setup, once the first
text is served: --edits edits of the greeting, each followed by waiting until the new text is
served (edit -> new text served: the write to the end of the first answer with it; refused and
slowest among the requests started in between), then a broken edit (the greeting becomes an
integer: clippy, test and build fail), watched for a window of max(4 s, 2 x the slowest edit):
the share of that window during which the last good build answered (each request owns the time
from its start to the next request's start, so a request that hangs counts for its whole wait).

    python3 bench/story.py [--edits 3] [--setups hot,"cargo watch -x run"]

`--project todos` runs the same measure on examples/axum-todos (axum's `todos` example: tower,
tower-http, tracing, tracing-subscriber, uuid, serde; made to take the socket, with a greeting at
`/` and two tests), a project bigger than hello-world, where the checks cost more than the
build. Its setups are `cargo watch -x run`, `hot init` (the Hotfile `hot init` writes for it,
made in the temp project by the hot under test) and the candidate shapes in SHAPES (named
`shape:NAME`; `shape:NAME-j3` runs hot with `--jobs 3`). hot's setups are edited only once
their start-up wave is over. `--rounds N` alternates the setups N times (a b c a b c ...), so that load from
other work on the machine spreads over all of them; the load average is recorded per setup.

    python3 bench/story.py --project todos --rounds 3 [--setups "cargo watch -x run,hot init,shape:one-build"]

Read the shapes' times on an otherwise idle machine. Where the kernel groups processes by
session (/proc/sys/kernel/sched_autogroup_enabled = 1) and other sessions keep the CPU busy,
each hot task (a session of its own) gets one session's share whatever it runs, so a shape
with more tasks at once gets more of the machine, and `nice` inside a task changes nothing.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import common

PROJECTS = {"hello": common.ROOT / "examples/axum-hello", "todos": common.ROOT / "examples/axum-todos"}
EXAMPLE = PROJECTS["hello"]
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
GREETING = re.compile(r'const GREETING: &str = "[^"]*";')

SETUPS = [
    "cargo watch -x run",
    "cargo watch -x clippy -x test -x run",
    "systemfd + cargo watch -x clippy -x test -x run",
    "two cargo watch + .trigger + systemfd",
    "hot",
]

TODOS_SETUPS = ["cargo watch -x run", "hot init"]

# Candidate Hotfiles for a one-package project, all gating the server on clippy (-D warnings)
# and the tests; {clippy} is clippy's own target directory, {binary} the server's path.
_CLIPPY = """task "clippy" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    env CARGO_TARGET_DIR="{clippy}"
    run "{nice}cargo clippy --all-targets -- -D warnings"
}}
"""
_SERVE = """service "serve" {{
    after {serve_after}
    socket "http" "127.0.0.1:3000"
    reload "127.0.0.1:35729"
    run "{binary}"
    ready log="listening on http://"
}}
"""
# today's (before this change) `hot init`: test after clippy; test and build take turns on
# the main target directory; serve after both
_SPLIT = """task "test" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    after "clippy"
    lock "cargo"
    run "cargo test"
}}
task "build" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    lock "cargo"
    run "cargo build"
}}
"""
# one cargo invocation compiles the binary and the test harness side by side; the tests run
# after it (and after clippy), the server after the tests
_ONE_BUILD = """task "build" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    lock "cargo"
    run "cargo build --bins --tests"
}}
task "test" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    after "clippy" "build"
    lock "cargo"
    run "cargo test"
}}
"""
# test and build at once on the main target directory, no lock (cargo's own lock orders them)
_NO_LOCK = _SPLIT.replace('    lock "cargo"\n', "")
# clippy's driver as the compiler of the project's own crates (what `cargo clippy` does, for
# a build instead of a check): one invocation lints and builds the binary and the test
# harness; the tests run after it, the server after the tests
_LINT_BUILD = """defaults {{
    env RUSTC_WORKSPACE_WRAPPER="clippy-driver" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
}}
task "build" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    lock "cargo"
    run "cargo build --all-targets"
}}
task "test" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    after "build"
    lock "cargo"
    run "cargo test"
}}
"""
# no checks at all: what the build alone costs (the floor, and `cargo watch -x run`'s work)
_NO_CHECKS = """task "build" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    run "cargo build"
}}
"""
# early start: the server starts after the build, its gates (clippy, the tests) hold back its
# connections; with --all-targets the build compiles the test harness too, so the tests only run
_GATED_SERVE = _SERVE.replace("    after {serve_after}\n", '    after "build"\n    gate "test" "clippy"\n')
_GATE_ALL = """task "build" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    lock "cargo"
    run "cargo build --all-targets"
}}
task "test" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    after "build"
    lock "cargo"
    run "cargo test"
}}
"""
# the same with only the binary on the server's path; the tests compile their harness after it
_GATE_BINS = _GATE_ALL.replace("cargo build --all-targets", "cargo build --bins")
# the binary on the server's path, the tests in a target directory of their own beside it
# (no lock: nothing else uses that directory)
_GATE_TESTDIR = """task "build" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    run "cargo build --bins"
}}
task "test" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    env CARGO_TARGET_DIR="{testdir}"
    run "cargo test"
}}
"""
# the binary alone on the server's path; one check beside it compiles and runs the tests with
# clippy's driver as the compiler of the project's own crates (what `cargo clippy` does, for a
# build instead of a check), in clippy's own target directory: clippy's lints and the tests in
# one compilation of the test harness
_GATE_LINT_TEST = """task "build" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    run "cargo build --bins"
}}
task "test" {{
    watch "src/**" "Cargo.toml" "Cargo.lock"
    env CARGO_TARGET_DIR="{lint}" RUSTC_WORKSPACE_WRAPPER="clippy-driver" RUSTFLAGS="-D warnings"
    run "cargo test"
}}
"""
# a task's own session (its autogroup, sched(7)) at nice 19, set by the task's shell before cargo
_IDLE = "echo 19 > /proc/self/autogroup; exec "
SHAPES = {
    "no-checks": _NO_CHECKS + _SERVE.replace("{serve_after}", '"build"'),
    "lint-build": _LINT_BUILD + _SERVE.replace("{serve_after}", '"test"'),
    "split": _CLIPPY.replace("{nice}", "") + _SPLIT + _SERVE.replace("{serve_after}", '"test" "build"'),
    "split-nice": _CLIPPY.replace("{nice}", "nice -n 10 ") + _SPLIT + _SERVE.replace("{serve_after}", '"test" "build"'),
    "no-lock": _CLIPPY.replace("{nice}", "") + _NO_LOCK + _SERVE.replace("{serve_after}", '"test" "build"'),
    "one-build": _CLIPPY.replace("{nice}", "") + _ONE_BUILD + _SERVE.replace("{serve_after}", '"test"'),
    "one-build-nice": _CLIPPY.replace("{nice}", "nice -n 10 ") + _ONE_BUILD + _SERVE.replace("{serve_after}", '"test"'),
    "gate-all": _CLIPPY.replace("{nice}", "") + _GATE_ALL + _GATED_SERVE,
    "gate-bins": _CLIPPY.replace("{nice}", "") + _GATE_BINS + _GATED_SERVE,
    "gate-testdir": _CLIPPY.replace("{nice}", "") + _GATE_TESTDIR + _GATED_SERVE,
    "gate-lint-test": _GATE_LINT_TEST + _GATED_SERVE.replace('gate "test" "clippy"', 'gate "test"'),
    # clippy's session (its autogroup, which `nice` inside it cannot rank) at the lowest weight
    "gate-all-idle": _CLIPPY.replace("{nice}", _IDLE) + _GATE_ALL + _GATED_SERVE,
    "gate-testdir-idle": _CLIPPY.replace("{nice}", _IDLE) + _GATE_TESTDIR + _GATED_SERVE,
}


def get(addr, timeout: float) -> tuple[str, str]:
    """(outcome, body); outcome is ok, refused or failed."""
    try:
        with socket.create_connection(addr, timeout=timeout) as s:
            s.sendall(REQUEST)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except ConnectionRefusedError:
        return "refused", ""
    except OSError as e:
        return "failed", type(e).__name__
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    return ("ok", body.strip()) if head.startswith("HTTP/1.1 200") else ("failed", head[:40])


class Client(threading.Thread):
    """A GET every 20 ms (after the previous answer) until stopped; records
    (start, end, outcome, body) with time.perf_counter()."""

    def __init__(self, addr, timeout: float = 10.0):
        super().__init__(daemon=True)
        self.addr, self.timeout = addr, timeout
        self.records: list[tuple[float, float, str, str]] = []
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            start = time.perf_counter()
            outcome, body = get(self.addr, self.timeout)
            self.records.append((start, time.perf_counter(), outcome, body))
            time.sleep(0.020)

    def served(self, text: str, since: float) -> float | None:
        for start, end, outcome, body in list(self.records):
            if end >= since and outcome == "ok" and text in body:
                return end
        return None

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=self.timeout + 5)


def node_times(events: list, t_edit_ns: int) -> dict:
    """{node: (start, end) in ms after the edit} from hot's events (arrival times)."""
    out = {}
    for e in events:
        if e.get("event") == "node_started":
            out[e["node"]] = [(e["_t"] - t_edit_ns) / 1e6, None]
        elif e.get("event") in ("node_finished", "service_ready") and e.get("node") in out:
            out[e["node"]][1] = (e["_t"] - t_edit_ns) / 1e6
    return out


def good_share(records, good: str, start: float, end: float) -> float:
    """The share of [start, end] during which the client was answered by the build serving
    `good`: each request owns the time from its start to the next one's start (a request that
    hangs owns its whole wait), clipped to the window."""
    covered = 0.0
    for (s0, _, outcome, body), nxt in zip(records, records[1:] + [(float("inf"),)]):
        lo, hi = max(s0, start), min(nxt[0], end)
        if hi > lo and outcome == "ok" and good in body:
            covered += hi - lo
    return covered / (end - start)


def wait_served(addr, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome, body = get(addr, 2)
        if outcome == "ok" and text in body:
            return True
        time.sleep(0.05)
    return False


def source(greeting: str | None, port: int, example: Path = EXAMPLE) -> str:
    """The example's main.rs with `greeting` (None: a type error) and the port replaced."""
    text = (example / "src/main.rs").read_text().replace("127.0.0.1:3000", f"127.0.0.1:{port}")
    line = f'const GREETING: &str = "{greeting}";' if greeting is not None else "const GREETING: &str = 42;"
    return GREETING.sub(line, text, count=1)


def make_project(root: Path, example: Path = EXAMPLE) -> None:
    for name in ["Cargo.toml", "Cargo.lock", "Hotfile", ".gitignore"]:
        if (example / name).exists():
            shutil.copy(example / name, root / name)
    shutil.copytree(example / "src", root / "src")
    with open(root / ".gitignore", "a") as f:
        f.write(".trigger\n")
    (root / ".trigger").write_text("")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)


def warm(root: Path, env: dict, log, target: Path | None = None) -> None:
    """Builds every artifact the setups use once; with `target`, also clippy's own target
    directory ({target}/clippy, as `hot init` writes it)."""
    runs = [(["cargo", "build"], env), (["cargo", "clippy", "--all-targets"], env), (["cargo", "test", "--no-run"], env)]
    if target is not None:
        runs.append((["cargo", "clippy", "--all-targets"], dict(env, CARGO_TARGET_DIR=str(target / "clippy"))))
        runs.append((["cargo", "test", "--no-run"], dict(env, CARGO_TARGET_DIR=str(target / "test"))))
        lint = dict(env, RUSTC_WORKSPACE_WRAPPER="clippy-driver", RUSTFLAGS="-D warnings")
        runs.append((["cargo", "test", "--no-run"], dict(lint, CARGO_TARGET_DIR=str(target / "lint"))))
        # `hot init`'s check: clippy's driver compiles the tests in clippy's directory
        runs.append((["cargo", "test", "--no-run"], dict(lint, CARGO_TARGET_DIR=str(target / "clippy"),
                                                         CARGO_PROFILE_DEV_DEBUG="line-tables-only")))
    for argv, env_ in runs:
        log(f"  story: warming the target folder: {' '.join(argv)}")
        subprocess.run(argv, cwd=root, env=env_, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start(setup: str, root: Path, port: int, target: Path, paths: dict, env: dict) -> list:
    """The processes of one setup, each in its own session."""
    cw, sfd = paths.get("cargo-watch"), paths.get("systemfd")
    sock = ["--no-pid", "-s", f"tcp::127.0.0.1:{port}", "--"]
    if setup == "cargo watch -x run":
        return [common.Proc([cw, "watch", "-x", "run"], cwd=root, env=env)]
    if setup == "cargo watch -x clippy -x test -x run":
        return [common.Proc([cw, "watch", "-x", "clippy", "-x", "test", "-x", "run"], cwd=root, env=env)]
    if setup == "systemfd + cargo watch -x clippy -x test -x run":
        return [common.Proc([sfd] + sock + [cw, "watch", "-x", "clippy", "-x", "test", "-x", "run"], cwd=root, env=env)]
    if setup == "two cargo watch + .trigger + systemfd":
        checks = [cw, "watch", "--postpone", "-x", "clippy", "-x", "test", "-x", "build", "-s", "touch .trigger"]
        server = [sfd] + sock + [cw, "watch", "--no-vcs-ignores", "-w", ".trigger", "-x", "run"]
        return [common.Proc(server, cwd=root, env=env), common.Proc(checks, cwd=root, env=env)]
    if is_hot(setup):
        if setup == "hot":
            hotfile = (EXAMPLE / "Hotfile").read_text().replace('"./target/debug/', f'"{target}/debug/')
            hotfile = hotfile.replace('CARGO_TARGET_DIR="target/clippy"', f'CARGO_TARGET_DIR="{target}/clippy"')
        elif setup == "hot init":
            subprocess.run([paths["hot"], "init", "--force"], cwd=root, env=env, check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            hotfile = (root / "Hotfile").read_text()
        else:
            binary = f"{target}/debug/{cargo_name(root)}"
            hotfile = SHAPES[setup.removeprefix("shape:").removesuffix("-j3")].format(clippy=target / "clippy", testdir=target / "test", lint=target / "lint",
                                                                  binary=binary)
        # ports of this run's own: other work on the machine may hold the usual ones
        hotfile = hotfile.replace("127.0.0.1:3000", f"127.0.0.1:{port}")
        hotfile = hotfile.replace("127.0.0.1:35729", f"127.0.0.1:{common.free_port()}")
        (root / "Hotfile").write_text(hotfile)
        jobs = ["--jobs", "3"] if setup.endswith("-j3") else []
        return [common.Proc([paths["hot"], "watch", "--json", *jobs], cwd=root, env=env, capture=True)]
    raise ValueError(setup)


def cargo_name(root: Path) -> str:
    return re.search(r'^name = "([^"]+)"', (root / "Cargo.toml").read_text(), re.M).group(1)


def is_hot(setup: str) -> bool:
    return setup in ("hot", "hot init") or setup.startswith("shape:")


def needs(setup: str) -> list[str]:
    if is_hot(setup):
        return ["hot"]
    return ["cargo-watch"] + (["systemfd"] if "systemfd" in setup else [])


def measure(setup: str, root: Path, target: Path, paths: dict, env: dict, edits: int, log,
            example: Path = EXAMPLE) -> dict:
    port = common.free_port()
    addr = ("127.0.0.1", port)
    tag = f"{os.getpid()}-{time.time_ns() % 10**6}"
    (root / "src/main.rs").write_text(source(f"Hello v0 {tag}", port, example))
    procs = start(setup, root, port, target, paths, env)
    # hot's events say where an edit's time goes (node_started / node_finished)
    events = common.HotEvents(procs[0]) if is_hot(setup) else None
    client = None
    try:
        if not wait_served(addr, f"v0 {tag}", 600):
            return {"error": "the first text was never served (600 s)"}
        # an early instance (`gate`) serves the first text before its gates passed: the edits
        # start once the start-up wave is over, or they would cancel its checks
        if events and not events.wait_for(lambda e: e.get("event") == "wave_finished", 600):
            return {"error": "the start-up wave never finished (600 s)"}
        client = Client(addr)
        client.start()
        time.sleep(1.0)
        r = {"served_ms": [], "refused": [], "slowest_ms": [], "nodes": [], "load": [os.getloadavg()[0]]}
        for e in range(1, edits + 1):
            text = f"Hello v{e} {tag}"
            if events:
                events.drain()
            t_edit, t_edit_wall = time.perf_counter(), time.time_ns()
            (root / "src/main.rs").write_text(source(text, port, example))
            deadline = time.monotonic() + 300
            while (t_served := client.served(text, t_edit)) is None and time.monotonic() < deadline:
                time.sleep(0.005)
            if t_served is None:
                return {"error": f"edit {e} was never served (300 s)"}
            between = [rec for rec in client.records if t_edit <= rec[0] <= t_served]
            r["served_ms"].append((t_served - t_edit) * 1000)
            r["refused"].append(sum(1 for rec in between if rec[2] == "refused"))
            r["slowest_ms"].append(max((rec[1] - rec[0]) * 1000 for rec in between))
            log(f"  story: {setup}: edit {e} served after {r['served_ms'][-1]:.0f} ms")
            time.sleep(1.0)
            if events:
                r["nodes"].append(node_times(events.drain(), t_edit_wall))
        good = f"Hello v{edits} {tag}"
        window = min(60.0, max(4.0, 2 * max(r["served_ms"]) / 1000))
        t_broken = time.perf_counter()
        (root / "src/main.rs").write_text(source(None, port, example))
        time.sleep(window)
        client.stop()
        inside = [rec for rec in client.records if t_broken <= rec[0] <= t_broken + window]
        r["broken_window_s"] = window
        r["broken_requests"] = len(inside)
        r["broken_good"] = sum(1 for rec in inside if rec[2] == "ok" and good in rec[3])
        r["broken_good_share"] = good_share(client.records, good, t_broken, t_broken + window)
        r["broken_refused"] = sum(1 for rec in inside if rec[2] == "refused")
        r["broken_failed"] = sum(1 for rec in inside if rec[2] == "failed")
        r["broken_slowest_ms"] = max(((rec[1] - rec[0]) * 1000 for rec in inside), default=None)
        return r
    finally:
        if client:
            client.stop()
        for p in procs:
            p.stop()


def run(setups, paths: dict, target: Path, edits: int, log, project: str = "hello", rounds: int = 1) -> dict:
    """{setup: result}; a setup whose tools are missing is left out (and said so). With
    several rounds the setups alternate, and each setup's rounds are merged."""
    example = PROJECTS[project]
    target.mkdir(parents=True, exist_ok=True)
    target = target.resolve()
    env = dict(os.environ, CARGO_TARGET_DIR=str(target), CARGO_TERM_COLOR="never")
    env.pop("LISTEN_FDS", None)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="hot-bench-story-") as tmp:
        root = Path(tmp)
        make_project(root, example)
        warm(root, env, log, target)
        ready = []
        for setup in setups:
            missing = [n for n in needs(setup) if not os.access(paths.get(n) or "", os.X_OK)]
            if missing:
                log(f"  story: {setup}: skipped, {', '.join(missing)} not installed")
            else:
                ready.append(setup)
        for round_ in range(rounds):
            for setup in ready:
                if "error" in results.get(setup, {}):
                    continue
                log(f"  story ({project}, round {round_ + 1}/{rounds}): {setup}")
                r = measure(setup, root, target, paths, env, edits, log, example)
                results[setup] = merge(results[setup], r) if setup in results else r
    return results


def merge(a: dict, b: dict) -> dict:
    """Two rounds of one setup as one result: the per-edit lists joined, the broken edit's
    counts summed, its share and window the smaller."""
    if "error" in b:
        return b
    out = {k: a[k] + b[k] for k in ("served_ms", "refused", "slowest_ms", "nodes", "load")}
    for k in ("broken_requests", "broken_good", "broken_refused", "broken_failed"):
        out[k] = a[k] + b[k]
    out["broken_good_share"] = min(a["broken_good_share"], b["broken_good_share"])
    out["broken_window_s"] = min(a["broken_window_s"], b["broken_window_s"])
    slow = [v for v in (a["broken_slowest_ms"], b["broken_slowest_ms"]) if v is not None]
    out["broken_slowest_ms"] = max(slow) if slow else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=3)
    parser.add_argument("--project", choices=sorted(PROJECTS), default="hello")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--setups", default=None, help="default: the project's usual setups")
    parser.add_argument("--target-dir", default=None, help="default: target/bench/story-target (hello), story-todos-target")
    parser.add_argument("--hot", default=str(common.ROOT / "target/release/hot"))
    args = parser.parse_args()
    paths = {"hot": args.hot, "cargo-watch": str(common.PEERS / "cargo-watch"), "systemfd": str(common.PEERS / "systemfd")}
    setups = args.setups or ",".join(SETUPS if args.project == "hello" else TODOS_SETUPS)
    target = args.target_dir or str(common.ROOT / "target/bench" / ("story-target" if args.project == "hello" else "story-todos-target"))
    results = run([s.strip() for s in setups.split(",") if s.strip()], paths, Path(target),
                  args.edits, lambda m: print(m, flush=True), args.project, args.rounds)
    import report

    print(report.story_table(results, args.project))


if __name__ == "__main__":
    main()
