#!/usr/bin/env python3
"""Early start (`gate`): edit -> served, with a server whose start-up takes 1 s behind a 1 s test.

    python3 bench/early.py [--edits 5] [--rounds 2] [--startup-ms 1000] [--test-s 1] [--hot PATH] [--probe PATH]

One temp project, two Hotfiles run one after the other (side by side in one run, so their ratio
holds on a loaded machine): `task "build"` (0.2 s) and `task "test"` (`sleep 1`) on a change of
`version`, and `examples/probe` (PROBE_STARTUP_MS=1000, `ready log="^ready$"`) as the service,
either `after "build" "test"` (the normal order) or `after "build"` + `gate "test"` (early
start). Per edit: the time from the write of `version` to the first answer of the new version
(edit -> served), and from the build's `node_finished` event to it (build -> served). A client
polls every 5 ms; every wait is bounded; hot and its children are stopped by process group.
"""

import argparse
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path

import common

HOTFILE = """\
defaults {{
    debounce "10ms"
}}
task "build" {{
    watch "version"
    run "sleep" "0.2"
}}
task "test" {{
    watch "version"
    run "sleep" "{test_s}"
}}
service "serve" {{
    {edges}
    socket "http" "127.0.0.1:0"
    env PROBE_VERSION_FILE="version" PROBE_STARTUP_MS="{startup_ms}"
    run "{probe}"
    ready log="^ready$"
}}
"""

CONFIGS = {
    "after build test (normal order)": 'after "build" "test"',
    'after build; gate "test" (early start)': 'after "build"\n    gate "test"',
}


def answer_version(addr, timeout=2.0) -> str | None:
    """The version the answering instance read at its start, or None (refused, failed)."""
    try:
        with socket.create_connection(addr, timeout=timeout) as s:
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return None
    for word in data.decode(errors="replace").split():
        if word.startswith("version="):
            return word[len("version="):]
    return None


def served(addr, version: str, timeout: float) -> int | None:
    """Polls every 5 ms until the instance of `version` answers; the time (ns) it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answer_version(addr) == version:
            return time.time_ns()
        time.sleep(0.005)
    return None


def measure(name: str, edges: str, paths: dict, args) -> dict:
    out = {"edit": [], "build": []}
    with tempfile.TemporaryDirectory(prefix="hot-bench-early-") as tmp:
        root = Path(tmp)
        (root / "version").write_text("0")
        (root / "Hotfile").write_text(HOTFILE.format(
            edges=edges, probe=paths["probe"], startup_ms=args.startup_ms, test_s=args.test_s))
        proc = common.Proc([paths["hot"], "watch", "--json"], cwd=root, capture=True)
        with proc:
            events = common.HotEvents(proc)
            listening = events.wait_for(common.is_event("listening"), 30)
            if listening is None:
                raise RuntimeError(f"{name}: no `listening` event")
            host, port = listening["addr"].rsplit(":", 1)
            addr = (host, int(port))
            common.wait_hot_started(events)
            if served(addr, "0", 30) is None:
                raise RuntimeError(f"{name}: the first instance never answered")
            for i in range(1, args.edits + 1):
                events.drain()
                t0 = time.time_ns()
                (root / "version").write_text(str(i))
                build = events.wait_for(common.is_event("node_finished", node="build"), 30)
                t = served(addr, str(i), 30)
                if build is None or t is None:
                    raise RuntimeError(f"{name}: edit {i} was not served")
                out["edit"].append((t - t0) / 1e6)
                out["build"].append((t - build["_t"]) / 1e6)
                if events.wait_for(common.is_event("wave_finished"), 30) is None:
                    raise RuntimeError(f"{name}: wave {i} did not finish")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=5, help="edits per round and configuration")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--startup-ms", type=int, default=1000)
    parser.add_argument("--test-s", default="1")
    for name, value in common.default_paths().items():
        parser.add_argument(f"--{name.replace('_', '-')}", default=value)
    args = parser.parse_args()
    paths = {k: str(Path(getattr(args, k)).resolve()) for k in common.default_paths()}

    results = {}
    # Interleaved rounds, so a burst of load on the machine hits both configurations.
    for _round in range(args.rounds):
        for name, edges in CONFIGS.items():
            print(f"{name} ...", flush=True)
            r = measure(name, edges, paths, args)
            for key in r:
                results.setdefault(name, {"edit": [], "build": []})[key].extend(r[key])
    print(f"\nedit -> served, start-up {args.startup_ms} ms behind a {args.test_s} s test (ms)\n")
    rows = []
    normal = statistics.median(next(iter(results.values()))["edit"])
    for name, r in results.items():
        edit = statistics.median(r["edit"])
        rows.append([name, len(r["edit"]), f"{edit:.0f}", f"{min(r['edit']):.0f}-{max(r['edit']):.0f}",
                     f"{statistics.median(r['build']):.0f}", f"{edit / normal:.2f}"])
    print(common.table(["config", "edits", "edit -> served (median)", "min-max", "build done -> served (median)",
                        "ratio to normal order"], rows))
    print(f"\nload average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
