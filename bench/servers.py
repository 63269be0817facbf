#!/usr/bin/env python3
"""Benchmark: restarts under load of servers hot did not write, beside systemfd + watchexec -r.

The servers are the interop fixtures of tests/servers/, each taking the socket the way its
ecosystem does: axum on tokio's current-thread and multi-thread runtimes (listenfd), Python
asyncio (`start_server(sock=socket.socket(fileno=3))`), Python http.server (blocking accept),
gunicorn (takes the fds only when LISTEN_PID is its own pid) and Node.js http
(`listen({fd: 3})`). Each sleeps STARTUP_MS=800 before serving (a slow start), prints `ready`,
answers every GET with `pid=… version=… server=…` and drains on SIGTERM.

A client on 127.0.0.1 sends a GET every 10 ms (connect, request, read to EOF; 5 s timeout)
while the server is restarted --restarts times by writing a new version to the watched file
`version`. A restart is complete when the client is answered by the new version (and, for
`hot ready`, hot has sent `service_ready`); then 300 ms pass before the next. Configurations:

  hot ready     service "serve" { watch "version"; socket "http" "127.0.0.1:0"; run ARGV;
                env STARTUP_MS="800" …; ready log="^ready$" }: the old instance serves until
                the new one is ready.
  hot no ready  the same without `ready`: the old instance is stopped first.
  systemfd+wx   systemfd --no-pid -s tcp::127.0.0.1:PORT -- watchexec -r -w version -n -- ARGV
                (systemfd's default backlog, 1; watchexec stops the old one first).

With --clients N, N such clients send their GETs at once.

Reported per server and configuration: restarts completed, requests, ok, refused, failed,
slowest and p99 (ms), and the answer that the slowest request got (new or old version);
measure() also returns change -> new build serving (the write of a version to the end of the
first answer from it) per restart, for bench/run.py.

Needs: `cargo build --release`; the axum fixture, built by the interop tests or with
`cargo build --manifest-path tests/servers/axum/Cargo.toml --target-dir target/interop/axum`;
node; python3; gunicorn in $HOT_INTEROP_VENV (default target/interop/venv: `.ci/run` makes it);
the peers in $HOT_PEERS/bin (see common.py for how to install them).

    python3 bench/servers.py [--restarts 10] [--servers axum-current,node] [--configs …]
"""

import argparse
import os
import re
import socket
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import common

SERVERS_DIR = common.ROOT / "tests/servers"
STARTUP_MS = 800
# The line each server prints once it accepts: `ready` for the servers of tests/servers, the
# gunicorn recipe's own line for gunicorn (docs/recipes.md; its workers print it).
READY_LOG = {"gunicorn": "^worker [0-9]+ serving$"}


def ready_log(kind: str) -> str:
    return READY_LOG.get(kind, "^ready$")


def is_ready_line(kind: str, line: bytes) -> bool:
    return re.match(ready_log(kind), line.decode(errors="replace").strip()) is not None
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

HOTFILE = """service "serve" {{
    watch "version"
    socket "http" "127.0.0.1:0"
    env STARTUP_MS="{startup}" VERSION_FILE="version" PYTHONPATH="{pythonpath}"
    run {run}
    stop timeout="10s"
{ready}}}
"""


def server_argv(kind: str, args) -> list[str]:
    script = lambda name: str(SERVERS_DIR / name)  # noqa: E731
    venv = Path(os.environ.get("HOT_INTEROP_VENV", common.ROOT / "target/interop/venv"))
    return {
        "axum-current": [args.axum, "--runtime", "current"],
        "axum-multi": [args.axum, "--runtime", "multi"],
        "asyncio": ["python3", script("asyncio_server.py")],
        "blocking": ["python3", script("blocking_server.py")],
        "gunicorn": [str(venv / "bin/gunicorn"), "--config", script("gunicorn_conf.py"), "gunicorn_app:app"],
        "node": ["node", script("node_server.js")],
    }[kind]


def request(addr, timeout=5.0) -> tuple[str, str | None, str]:
    """One GET: (outcome, version, detail); outcome is ok, refused or failed."""
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
        return "refused", None, "ConnectionRefusedError"
    except OSError as e:
        return "failed", None, type(e).__name__
    text = data.decode(errors="replace")
    head, _, body = text.partition("\r\n\r\n")
    fields = dict(kv.split("=", 1) for kv in body.split() if "=" in kv)
    if head.startswith(("HTTP/1.1 200", "HTTP/1.0 200")) and "version" in fields:
        return "ok", fields["version"], ""
    return "failed", None, f"answer {text[:40]!r}"


class Client(threading.Thread):
    """A GET every 10 ms until stopped; every outcome recorded. With `clients` > 1, that many
    threads send their GETs at once (each one after its previous answer and a 10 ms pause)."""

    def __init__(self, addr, clients: int = 1):
        super().__init__(daemon=True)
        self.addr = addr
        self.clients = clients
        # (ms, outcome, version, detail, end time.monotonic())
        self.records: list[tuple[float, str, str | None, str, float]] = []
        self.versions: set[str] = set()
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        workers = [threading.Thread(target=self.loop, daemon=True) for _ in range(self.clients)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=30)

    def loop(self):
        while not self.stop_flag.is_set():
            start = time.perf_counter()
            outcome, version, detail = request(self.addr)
            end = time.perf_counter()
            with self.lock:
                self.records.append(((end - start) * 1000, outcome, version, detail, end))
                if version:
                    self.versions.add(version)
            time.sleep(0.010)

    def wait_version(self, version: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if version in self.versions:
                return True
            time.sleep(0.002)
        return False

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=10)


def first_answer(addr, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if request(addr, timeout=2)[0] == "ok":
            return True
        time.sleep(0.02)
    return False


def start(config: str, kind: str, root: Path, args):
    """Starts one configuration; (Proc, address, HotEvents or None)."""
    argv = server_argv(kind, args)
    env = dict(os.environ, STARTUP_MS=str(STARTUP_MS), VERSION_FILE="version", PYTHONPATH=str(SERVERS_DIR))
    if config.startswith("hot"):
        run = " ".join('"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a in argv)
        ready = f'    ready log="{ready_log(kind)}"\n' if config == "hot ready" else ""
        (root / "Hotfile").write_text(
            HOTFILE.format(startup=STARTUP_MS, pythonpath=SERVERS_DIR, run=run, ready=ready))
        proc = common.Proc([args.hot, "watch", "--json"], cwd=root, capture=True)
        events = common.HotEvents(proc)
        listening = events.wait_for(common.is_event("listening"), 30)
        if listening is None:
            proc.stop()
            raise RuntimeError("hot: no `listening` event")
        host, port = listening["addr"].rsplit(":", 1)
        return proc, (host, int(port)), events
    port = common.free_port()
    wx = [args.watchexec, "-r", "-w", "version", "-n", "--"]
    full = [args.systemfd, "--no-pid", "-s", f"tcp::127.0.0.1:{port}", "--"] + wx + argv
    return common.Proc(full, cwd=root, env=env), ("127.0.0.1", port), None


def alone_ms(kind: str, args, runs: int = 3) -> list[float]:
    """The server's own start-up, for comparison: spawned directly with a listening socket on
    fd 3 (LISTEN_FDS=1, LISTEN_PID its own pid: `sh -c` execs it), the time from just before the
    spawn to the answer to a GET sent right after it (the connection waits in the backlog)."""
    return alone(kind, args, runs)["answer_ms"]


def alone(kind: str, args, runs: int = 3, clients: int = 8) -> dict:
    """alone_ms() and, from the same spawns, the time from just before the spawn to its
    `ready` line on stdout (`ready_ms`), the floor of hot's node_started -> service_ready.
    Then, on `runs` more fresh instances, `clients` GETs sent at once right after the ready
    line: the slowest of them (`cold_ms`), what a fresh instance's first requests cost (the
    floor of the slowest request under `clients` clients, whoever starts the server)."""
    out, ready = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="hot-bench-alone-") as tmp, socket.socket() as sock:
            (Path(tmp) / "version").write_text("1\n")
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            env = dict(os.environ, STARTUP_MS=str(STARTUP_MS), VERSION_FILE="version",
                       PYTHONPATH=str(SERVERS_DIR), LISTEN_FDS="1", LISTEN_FDNAMES="http")
            fd = sock.fileno()
            argv = ["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"] + server_argv(kind, args)
            start = time.perf_counter()
            proc = common.Proc(argv, cwd=tmp, env=env, capture=True, pass_fds=(3,),
                               preexec_fn=lambda: os.dup2(fd, 3))
            ready_at = []

            def read_ready(stream=proc.popen.stdout, at=ready_at):
                for line in stream:
                    if is_ready_line(kind, line):
                        at.append(time.perf_counter())
                        break
                for _ in stream:  # keep the pipe drained until the server ends
                    pass

            reader = threading.Thread(target=read_ready, daemon=True)
            reader.start()
            with proc:
                outcome, _, _ = request(sock.getsockname(), timeout=20)
                if outcome == "ok":
                    out.append((time.perf_counter() - start) * 1000)
                reader.join(timeout=2)
                if ready_at:
                    ready.append((ready_at[0] - start) * 1000)
    return {"answer_ms": out, "ready_ms": ready, "cold_ms": [ms for ms in (
        cold(kind, args, clients) for _ in range(runs)) if ms is not None]}


def cold(kind: str, args, clients: int) -> float | None:
    """The slowest of `clients` GETs sent at once to a fresh instance right after its ready line."""
    with tempfile.TemporaryDirectory(prefix="hot-bench-cold-") as tmp, socket.socket() as sock:
        (Path(tmp) / "version").write_text("1\n")
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        env = dict(os.environ, STARTUP_MS=str(STARTUP_MS), VERSION_FILE="version",
                   PYTHONPATH=str(SERVERS_DIR), LISTEN_FDS="1", LISTEN_FDNAMES="http")
        fd = sock.fileno()
        argv = ["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"] + server_argv(kind, args)
        proc = common.Proc(argv, cwd=tmp, env=env, capture=True, pass_fds=(3,),
                           preexec_fn=lambda: os.dup2(fd, 3))
        with proc:
            seen = threading.Event()

            def read_ready(stream=proc.popen.stdout):
                for line in stream:
                    if is_ready_line(kind, line):
                        seen.set()
                for _ in stream:
                    pass

            threading.Thread(target=read_ready, daemon=True).start()
            if not seen.wait(20):
                return None
            took = []

            def one():
                begin = time.perf_counter()
                if request(sock.getsockname())[0] == "ok":
                    took.append((time.perf_counter() - begin) * 1000)

            threads = [threading.Thread(target=one, daemon=True) for _ in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=10)
            return max(took) if len(took) == clients else None


def measure(config: str, kind: str, args, clients: int = 1) -> dict:
    """One server kind under one configuration; `clients` concurrent clients (see Client)."""
    with tempfile.TemporaryDirectory(prefix="hot-bench-servers-") as tmp:
        root = Path(tmp)
        (root / "version").write_text("1\n")
        proc, addr, events = start(config, kind, root, args)
        client = None
        completed = 0
        writes: dict[str, float] = {}  # version -> when it was written
        writes_ns: dict[str, int] = {}  # the same, on the clock of HotEvents' `_t`
        try:
            with proc:
                if not first_answer(addr, 15):
                    return {"never": True}
                client = Client(addr, clients)
                client.start()
                time.sleep(0.3)
                for i in range(2, args.restarts + 2):
                    if events:
                        events.drain()
                    writes[str(i)] = time.perf_counter()
                    writes_ns[str(i)] = time.time_ns()
                    (root / "version").write_text(f"{i}\n")
                    if events and config == "hot ready":
                        if events.wait_for(common.is_event("service_ready"), 20) is None:
                            print(f"  {kind} / {config}: no service_ready for version {i}")
                            break
                    if not client.wait_version(str(i), 20):
                        print(f"  {kind} / {config}: version {i} never answered")
                        break
                    completed += 1
                    time.sleep(0.3)
                client.stop()
        finally:
            if client and client.is_alive():
                client.stop()
    recs = client.records
    ms = [r[0] for r in recs]
    outcomes = Counter(r[1] for r in recs)
    slow = max(recs, key=lambda r: r[0])
    # change -> new build serving: the write of a version to the first answer from it
    firsts: dict[str, float] = {}
    for r in recs:
        if r[1] == "ok" and r[2] in writes and r[4] >= writes[r[2]]:
            firsts[r[2]] = min(firsts.get(r[2], r[4]), r[4])
    change = {v: (firsts[v] - writes[v]) * 1000 for v in firsts}
    return {
        "change_ms": [change[v] for v in sorted(firsts, key=int)],
        "phases": phases(events.log if events else [], writes_ns, change),
        "never": False,
        "restarts": completed,
        "requests": len(recs),
        "ok": outcomes["ok"],
        "refused": outcomes["refused"],
        "failed": outcomes["failed"],
        "details": dict(Counter(r[3] for r in recs if r[1] == "failed")),
        "slowest": max(ms),
        "slowest_version": slow[2],
        "p99": common.percentile(ms, 99),
    }


PHASES = ["watch", "spawn", "start-up to ready", "ready to first new answer"]


def phases(log: list[dict], writes_ns: dict[str, int], change: dict[str, float]) -> dict:
    """Where change -> new build serving goes, per restart, from hot's events (stamped on
    arrival): the write to `wave_started` (the watcher's quiet window), to `node_started`
    (engine, spawn through the keeper), to `service_ready` (the server's own start-up to its
    ready line, read back), and from there to the end of the first answer from the new
    version (the old instance's stop, the client's 10 ms pacing, the answer itself)."""
    out = {name: [] for name in PHASES}
    versions = sorted(writes_ns, key=int)
    for n, v in enumerate(versions):
        begin = writes_ns[v]
        end = writes_ns[versions[n + 1]] if n + 1 < len(versions) else None
        window = [e for e in log if e["_t"] >= begin and (end is None or e["_t"] < end)]
        at = {}
        for e in window:
            if e["event"] in ("wave_started", "node_started", "service_ready"):
                at.setdefault(e["event"], (e["_t"] - begin) / 1e6)
        if len(at) < 3 or v not in change:
            continue
        out["watch"].append(at["wave_started"])
        out["spawn"].append(at["node_started"] - at["wave_started"])
        out["start-up to ready"].append(at["service_ready"] - at["node_started"])
        out["ready to first new answer"].append(change[v] - at["service_ready"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--clients", type=int, default=1, help="concurrent clients, each a GET every 10 ms")
    parser.add_argument("--servers", default="axum-current,axum-multi,asyncio,blocking,gunicorn,node")
    parser.add_argument("--configs", default="hot ready,hot no ready,systemfd+wx")
    parser.add_argument("--axum", default=str(common.ROOT / "target/interop/axum/debug/interop-axum"))
    for name, value in common.default_paths().items():
        parser.add_argument(f"--{name.replace('_', '-')}", default=value)
    args = parser.parse_args()

    rows = []
    notes = []
    for kind in [s.strip() for s in args.servers.split(",") if s.strip()]:
        for config in [c.strip() for c in args.configs.split(",") if c.strip()]:
            print(f"{kind} / {config} ...", flush=True)
            r = measure(config, kind, args, args.clients)
            if r["never"]:
                rows.append([kind, config, "-", "-", "-", "-", "-", "never served", "-"])
                notes.append(f"{kind} / {config}: no answer within 15 s of the start")
                continue
            rows.append([kind, config, r["restarts"], r["requests"], r["refused"], r["failed"],
                         f"{r['slowest']:.1f}", f"{r['p99']:.1f}", r["slowest_version"] or "-"])
            if r["details"]:
                notes.append(f"{kind} / {config}: failures {r['details']}")
            if config == "hot ready" and r["phases"][PHASES[0]]:
                med = {n: sorted(v)[len(v) // 2] for n, v in r["phases"].items()}
                notes.append(f"{kind} / {config}: median ms " + ", ".join(f"{n} {m:.1f}" for n, m in med.items()))
    print(f"\n{args.clients} client(s), each a GET every 10 ms, across {args.restarts} restarts, STARTUP_MS={STARTUP_MS}\n")
    print(common.table(["server", "config", "restarts", "requests", "refused", "failed", "slowest ms",
                        "p99 ms", "slowest answered by version"], rows))
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
