#!/usr/bin/env python3
"""Benchmark: service restarts under load, and restart latency.

Part 1, refusals. A client thread on 127.0.0.1 sends a request every 10 ms (connect, read the
one-line answer until EOF; 5 s timeout) while the server is restarted --restarts times by
writing new content to a `trigger` file. The server is examples/probe (takes its socket through
listenfd, answers `pid=... version=...`, drains on SIGTERM) with PROBE_STARTUP_MS=800 (a slow
start). Configurations, in one run:

  hot ready      hot, `service "serve" { watch "trigger"; socket "http" "127.0.0.1:0"; run PROBE;
                 env PROBE_STARTUP_MS="800"; ready log="^ready$" }`; a restart is complete at the
                 `service_ready` event.
  hot no ready   the same without `ready` (hot stops the old instance first).
  systemfd+wx    `systemfd --no-pid -s tcp::127.0.0.1:PORT -- watchexec -r -w trigger -n -- PROBE`
                 (systemfd's default backlog, 1).
  wx --socket    `watchexec -r --socket 127.0.0.1:PORT -w trigger -n -- PROBE` (watchexec's own
                 systemfd-style socket passing).
  wx self-bind   `watchexec -r -w trigger -n -- python3 server.py`: the probe only serves a passed
                 socket, so this is a small Python server that sleeps 0.8 s, then binds the port
                 itself (SO_REUSEADDR) and serves the same answer; SIGTERM kills it (Python's
                 default).

For every configuration but `hot ready` (which has the event), a restart is complete once the
client has been answered by a pid it had not seen before (bounded by 20 s); peers have no
readiness signal. After each restart we wait 200 ms. Reported: requests, ok, refused
(ConnectionRefusedError), failed (any other error, or an empty/garbled answer), slowest request
and p99 (ms), restarts completed.

Part 2, restart latency (PROBE_STARTUP_MS=0, so the probe prints `ready` at once): time from the
trigger write to the first answer from a new pid, with a client polling every ~0.5 ms; median
over --latency-restarts. Also `hot ready --debounce 0ms`, to separate hot's 10 ms quiet period
from the rest of its restart path. For comparison, the probe's own start-up: spawned directly with a
listening socket on fd 3 (LISTEN_FDS=1, no LISTEN_PID), time from just before spawn to its
answer to a connection made right after spawn (that connection waits in the backlog).

    cargo build --release && cargo build --release --example probe && python3 bench/handoff.py
"""

import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import common

HOTFILE = """service "serve" {{
    watch "trigger"
    socket "http" "127.0.0.1:0"
    run "{probe}"
    env PROBE_STARTUP_MS="{startup_ms}"
{ready}}}
"""

SELF_BIND_SERVER = """\
import os, socket, sys, time
time.sleep(float(sys.argv[2]))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(128)
print("ready", flush=True)
line = f"pid={os.getpid()} version=self-bind\\n".encode()
while True:
    c, _ = s.accept()
    c.sendall(line)
    c.close()
"""


def request(addr, timeout=5.0) -> tuple[str, int | None, str]:
    """One request: (outcome, pid, detail); outcome is ok, refused or failed."""
    try:
        with socket.create_connection(addr, timeout=timeout) as s:
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
    if text.startswith("pid="):
        try:
            return "ok", int(text.split()[0][4:]), ""
        except ValueError:
            pass
    return "failed", None, f"answer {text[:40]!r}"


class Client(threading.Thread):
    """Sends one request every `interval` s until stopped; records every outcome."""

    def __init__(self, addr, interval=0.010):
        super().__init__(daemon=True)
        self.addr, self.interval = addr, interval
        self.records: list[tuple[int, float, str, int | None, str]] = []  # (t_ns, ms, outcome, pid, detail)
        self.stop_flag = threading.Event()
        self.pids_seen: set[int] = set()

    def run(self):
        next_at = time.monotonic()
        while not self.stop_flag.is_set():
            t = time.time_ns()
            start = time.perf_counter()
            outcome, pid, detail = request(self.addr)
            ms = (time.perf_counter() - start) * 1000
            self.records.append((t, ms, outcome, pid, detail))
            if pid:
                self.pids_seen.add(pid)
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()

    def wait_new_pid(self, known: set[int], timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = self.pids_seen - known
            if new:
                return min(new)
            time.sleep(0.002)
        return None

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=10)


def hotfile(probe: str, startup_ms: int, ready: bool) -> str:
    return HOTFILE.format(probe=probe, startup_ms=startup_ms, ready='    ready log="^ready$"\n' if ready else "")


def start_config(name: str, root: Path, paths: dict, startup_ms: int):
    """Start one configuration; returns (Proc, address, HotEvents or None)."""
    env = dict(os.environ, PROBE_STARTUP_MS=str(startup_ms))
    (root / "trigger").write_text("0\n")
    if name.startswith("hot"):
        (root / "Hotfile").write_text(hotfile(paths["probe"], startup_ms, name.startswith("hot ready")))
        argv = [paths["hot"], "watch", "--json"]
        if name.endswith("--debounce 0ms"):
            argv += ["--debounce", "0ms"]
        proc = common.Proc(argv, cwd=root, capture=True)
        events = common.HotEvents(proc)
        listening = events.wait_for(common.is_event("listening"), 30)
        if listening is None:
            proc.stop()
            raise RuntimeError("hot: no `listening` event")
        host, port = listening["addr"].rsplit(":", 1)
        return proc, (host, int(port)), events
    port = common.free_port()
    wx = [paths["watchexec"], "-r", "-w", "trigger", "-n", "--"]
    if name == "systemfd+wx":
        argv = [paths["systemfd"], "--no-pid", "-s", f"tcp::127.0.0.1:{port}", "--"] + wx + [paths["probe"]]
    elif name == "wx --socket":
        argv = [paths["watchexec"], "-r", "--socket", f"127.0.0.1:{port}", "-w", "trigger", "-n", "--", paths["probe"]]
    elif name == "wx self-bind":
        (root / "server.py").write_text(SELF_BIND_SERVER)
        argv = wx + ["python3", str(root / "server.py"), str(port), str(startup_ms / 1000)]
    else:
        raise ValueError(name)
    return common.Proc(argv, cwd=root, env=env), ("127.0.0.1", port), None


def first_answer(addr, timeout: float) -> int | None:
    """Poll until some server answers; its pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome, pid, _ = request(addr, timeout=2)
        if outcome == "ok":
            return pid
        time.sleep(0.01)
    return None


def reap_leftovers(pids) -> list[int]:
    """Server pids still alive after their supervisor was stopped (reported; then killed)."""
    left = [p for p in pids if common.alive(p)]
    for p in left:
        try:
            os.kill(p, 9)
        except ProcessLookupError:
            pass
    return left


def refusals(name: str, paths: dict, args) -> dict:
    with tempfile.TemporaryDirectory(prefix="hot-bench-handoff-") as tmp:
        root = Path(tmp)
        proc, addr, events = start_config(name, root, paths, 800)
        client = None
        pids = set()
        try:
            with proc:
                if first_answer(addr, 30) is None:
                    raise RuntimeError(f"{name}: server never answered")
                client = Client(addr)
                client.start()
                time.sleep(0.3)
                completed = 0
                for i in range(args.restarts):
                    known = set(client.pids_seen)
                    if events:
                        events.drain()
                    (root / "trigger").write_text(f"{i + 1} {time.time_ns()}\n")
                    if name.startswith("hot ready"):
                        done = events.wait_for(common.is_event("service_ready"), 20) is not None
                    else:
                        done = client.wait_new_pid(known, 20) is not None
                    if not done:
                        print(f"  {name}: restart {i + 1} did not complete within 20 s")
                        break
                    completed += 1
                    time.sleep(0.2)
                client.stop()
                pids = set(client.pids_seen)
                hot_log = list(events.log) if events else []
        finally:
            if client and client.is_alive():
                client.stop()
        leftovers = reap_leftovers(pids)
    recs = client.records
    ms = [r[1] for r in recs]
    outcomes = Counter(r[2] for r in recs)
    details = Counter(r[4] for r in recs if r[2] == "failed")
    slow = max(recs, key=lambda r: r[1])
    return {
        "requests": len(recs),
        "ok": outcomes["ok"],
        "refused": outcomes["refused"],
        "failed": outcomes["failed"],
        "failed_details": dict(details),
        "slowest": max(ms),
        "slowest_outcome": slow[2],
        "p99": common.percentile(ms, 99),
        "restarts": completed,
        "pids": len(pids),
        "leftovers": leftovers,
        "hot_ready_ms": [e["duration_ms"] for e in hot_log if e.get("event") == "service_ready"],
        "hot_events": Counter(e.get("event") for e in hot_log),
    }


def restart_latency(name: str, paths: dict, args) -> dict:
    """Trigger write -> first answer from a new pid, PROBE_STARTUP_MS=0; no background client."""
    times, ready_times = [], []
    with tempfile.TemporaryDirectory(prefix="hot-bench-restart-") as tmp:
        root = Path(tmp)
        proc, addr, events = start_config(name, root, paths, 0)
        pids = set()
        with proc:
            pid = first_answer(addr, 30)
            if pid is None:
                raise RuntimeError(f"{name}: server never answered")
            pids.add(pid)
            time.sleep(0.3)
            for i in range(args.latency_restarts):
                if events:
                    events.drain()
                t0 = time.time_ns()
                (root / "trigger").write_text(f"{i + 1} {t0}\n")
                deadline = time.monotonic() + 10
                new = None
                while time.monotonic() < deadline:
                    outcome, got, _ = request(addr, timeout=2)
                    if outcome == "ok" and got not in pids:
                        new = got
                        break
                    time.sleep(0.0005)
                if new is None:
                    print(f"  {name}: no new pid within 10 s after trigger {i + 1}")
                    break
                times.append((time.time_ns() - t0) / 1e6)
                pids.add(new)
                if events and name.startswith("hot ready"):
                    ready = events.wait_for(common.is_event("service_ready"), 5)
                    if ready:
                        ready_times.append((ready["_t"] - t0) / 1e6)
                time.sleep(0.3)
        leftovers = reap_leftovers(pids)
    return {"times": times, "ready": ready_times, "leftovers": leftovers}


def probe_startup(paths: dict, runs: int) -> list[float]:
    """The probe's own exec -> first answer, with a socket on fd 3 that already listens."""
    out = []
    for _ in range(runs):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            fd = listener.fileno()
            env = dict(os.environ, LISTEN_FDS="1", PROBE_STARTUP_MS="0")
            env.pop("LISTEN_PID", None)
            t0 = time.perf_counter()
            popen = subprocess.Popen(
                [paths["probe"]], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True, pass_fds=(3,),
                preexec_fn=(lambda: os.dup2(fd, 3)) if fd != 3 else None,
            )
            try:
                outcome, pid, _ = request(listener.getsockname(), timeout=5)
                if outcome == "ok" and pid == popen.pid:
                    out.append((time.perf_counter() - t0) * 1000)
            finally:
                common.stop_group(popen)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--restarts", type=int, default=20)
    parser.add_argument("--latency-restarts", type=int, default=20)
    parser.add_argument("--configs", default="hot ready,hot no ready,systemfd+wx,wx --socket,wx self-bind")
    parser.add_argument("--latency-configs", default="hot ready,hot ready --debounce 0ms,hot no ready,systemfd+wx,wx --socket")
    for name, value in common.default_paths().items():
        parser.add_argument(f"--{name.replace('_', '-')}", default=value)
    args = parser.parse_args()
    paths = {k: getattr(args, k) for k in common.default_paths()}

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    results = {}
    for name in configs:
        print(f"refusals: {name} ...", flush=True)
        results[name] = refusals(name, paths, args)
    print(f"\nPart 1: a request every 10 ms across {args.restarts} restarts, PROBE_STARTUP_MS=800\n")
    rows = [[n, r["restarts"], r["requests"], r["ok"], r["refused"], r["failed"], f"{r['slowest']:.1f}",
             f"{r['p99']:.1f}", r["pids"]] for n, r in results.items()]
    print(common.table(["config", "restarts", "requests", "ok", "refused", "failed", "slowest ms", "p99 ms",
                        "pids seen"], rows))
    for n, r in results.items():
        if r["failed_details"]:
            print(f"{n}: failures {r['failed_details']}")
        if r["leftovers"]:
            print(f"{n}: LEFTOVER server processes after stopping: {r['leftovers']} (killed)")
        if r["hot_ready_ms"]:
            print(f"{n}: service_ready duration_ms median {statistics.median(r['hot_ready_ms']):.1f}")
        if r["hot_events"]:
            print(f"{n}: hot events {dict(r['hot_events'])}")

    latency = {}
    for name in [c.strip() for c in args.latency_configs.split(",") if c.strip()]:
        print(f"restart latency: {name} ...", flush=True)
        latency[name] = restart_latency(name, paths, args)
    startup = probe_startup(paths, args.latency_restarts)
    print(f"\nPart 2: trigger write -> first answer from the new pid, PROBE_STARTUP_MS=0 (ms)\n")
    rows = []
    for n, r in latency.items():
        ready = f"{statistics.median(r['ready']):.1f}" if r["ready"] else "-"
        rows.append([n, len(r["times"]), common.summary_ms(r["times"]), ready])
    rows.append(["probe alone: spawn -> first answer", len(startup), common.summary_ms(startup), "-"])
    print(common.table(["config", "n", "trigger -> new pid answers", "trigger -> service_ready (median)"], rows))
    for n, r in latency.items():
        if r["leftovers"]:
            print(f"{n}: LEFTOVER server processes after stopping: {r['leftovers']} (killed)")


if __name__ == "__main__":
    main()
