"""Shared helpers for the watch/restart benchmarks (latency.py, burst.py, handoff.py).

Standard library only. Every process is started in a new session (its own process group) and
stopped by signalling that group, never by name; every wait is bounded.
"""

import json
import os
import queue
import signal
import statistics
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The peers (watchexec, systemfd, cargo-watch), installed with
#   nice -n 19 cargo install --locked --root DIR systemfd watchexec-cli cargo-watch
# and found in $HOT_PEERS/bin (DIR; default target/peers). Each script also takes
# --watchexec, --systemfd, --cargo-watch.
PEERS = Path(os.environ.get("HOT_PEERS", ROOT / "target/peers")) / "bin"


def default_paths() -> dict:
    """Binaries used by the benchmarks (overridable from the command line)."""
    return {
        "hot": str(ROOT / "target/release/hot"),
        "probe": str(ROOT / "target/release/examples/probe"),
        "watchexec": str(PEERS / "watchexec"),
        "systemfd": str(PEERS / "systemfd"),
        "cargo_watch": str(PEERS / "cargo-watch"),
    }


class Proc:
    """A child process in its own session; `stop()` signals the whole group, then SIGKILLs it.

    Use as a context manager so the group is stopped in a `finally`, whatever happens.
    """

    def __init__(self, argv, cwd=None, env=None, capture=False, stop_timeout=10.0, **popen):
        self.argv = [str(a) for a in argv]
        self.stop_timeout = stop_timeout
        self.popen = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            **popen,
        )

    def stop(self) -> int | None:
        """SIGTERM the group, wait (bounded), then SIGKILL whatever is left of the group."""
        return stop_group(self.popen, self.stop_timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        if self.popen.stdout:
            self.popen.stdout.close()


def stop_group(popen: subprocess.Popen, timeout: float = 10.0) -> int | None:
    """SIGTERM the process group led by popen (started with start_new_session=True), wait up to
    timeout, then SIGKILL the group (anything left in it) and every other group of its session;
    returns the exit status or None."""
    try:
        os.killpg(popen.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    sweep_session(popen.pid)
    try:
        return popen.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return None


def session_groups(sid: int) -> set[int]:
    """The process groups of every live process in session `sid` (from /proc)."""
    groups = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the comm field: state, ppid, pgrp, session
        if fields[0] != "Z" and int(fields[3]) == sid:
            groups.add(int(fields[2]))
    return groups


def sweep_session(sid: int) -> None:
    """SIGKILLs every process group left in session `sid`. Some watchers (watchexec, and
    cargo-watch) start their command in a process group of its own, which a signal to the
    watcher's group misses once the watcher is gone; the session (ours, from
    start_new_session) still holds them all."""
    for _ in range(20):
        groups = session_groups(sid)
        if not groups:
            return
        for pgid in groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)


class HotEvents:
    """Reads `hot --json` events from a Proc's stdout in a thread; each is stamped on arrival
    (`_t`, time.time_ns())."""

    def __init__(self, proc: Proc):
        self.queue: queue.Queue = queue.Queue()
        self.log: list[dict] = []
        self.thread = threading.Thread(target=self._read, args=(proc.popen.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for raw in stream:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            event["_t"] = time.time_ns()
            self.log.append(event)
            self.queue.put(event)

    def wait_for(self, predicate, timeout: float) -> dict | None:
        """The first event (not yet consumed) that satisfies predicate, or None at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                event = self.queue.get(timeout=left)
            except queue.Empty:
                return None
            if predicate(event):
                return event

    def drain(self) -> list[dict]:
        """Every event not yet consumed."""
        out = []
        while True:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                return out


def is_event(name, **fields):
    return lambda e: e.get("event") == name and all(e.get(k) == v for k, v in fields.items())


def wait_hot_started(events: HotEvents, timeout: float = 30.0) -> None:
    """hot's readiness: the `watching` event and the end of the first (start) wave."""
    if events.wait_for(is_event("watching"), timeout) is None:
        raise RuntimeError("hot: no `watching` event")
    if events.wait_for(is_event("wave_finished"), timeout) is None:
        raise RuntimeError("hot: first wave did not finish")


def read_stamps(path: Path) -> list[int]:
    """Nanosecond stamps (`date +%s%N`), one per run of the benchmarked command."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [int(line) for line in text.split() if line.isdigit()]


def percentile(values, p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def summary_ms(values_ms) -> str:
    if not values_ms:
        return "n/a"
    return (
        f"median {statistics.median(values_ms):7.1f}  p90 {percentile(values_ms, 90):7.1f}"
        f"  max {max(values_ms):7.1f}"
    )


def write_text(path: Path, text: str) -> None:
    """A plain save: truncate and write in place."""
    with open(path, "w") as f:
        f.write(text)


def atomic_save(path: Path, text: str) -> None:
    """An editor-style save: write a temporary file beside it, then rename it over."""
    tmp = path.with_name(path.name + ".tmp~")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (also readable as plain text)."""
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0); look at its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
