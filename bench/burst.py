#!/usr/bin/env python3
"""Benchmark: how many times a task runs after a burst of file changes, and how soon.

Each tool (hot default and `--debounce 0ms`, watchexec default and `-d 0ms`, cargo-watch) gets a fresh temp project with
--files existing files under src/ (100 directories), the same Hotfile/command as latency.py:
`sh -c 'date +%s%N >> /abs/STAMPS'`, one stamp per run start. Two bursts, one after the other:

  (a) rewrite: a loop writes new content into every file, as fast as Python can;
  (b) editor saves: for every file, write FILE.tmp~ and rename it over FILE, paced so that the
      whole burst takes about --seconds (the pacing sleeps at most ~2 ms at a time, far below
      every tool's quiet period, so the burst is one continuous stream of events).

We also record the longest gap between two consecutive writes of the burst (a gap longer than
a tool's quiet period legitimately splits the burst), the CPU time the tool's main process used
(utime+stime from /proc, burst plus window), and a baseline run with no watcher (`none`).

For each burst we count the runs (stamps) from the burst's start until --window s after its end,
split into runs that started during the burst and after it, and the delay from the burst's end
to the first run that started after it (and to the last one). For hot we also keep its
`wave_started` events (how many files each wave saw) and any `note`/`error` events.

Readiness as in latency.py: hot's `watching` event and first wave; peers a fixed settle time.

    cargo build --release && python3 bench/burst.py [--files 5000] [--tools hot,watchexec]
"""

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import common
from latency import CARGO_TOML, HOTFILE, tool_argv


def make_project(root: Path, files: int) -> tuple[Path, list[Path]]:
    stamps = root / "STAMPS"
    paths = []
    for i in range(files):
        d = root / "src" / f"m{i % 100:02}"
        if i < 100:
            d.mkdir(parents=True)
        p = d / f"f{i:05}.rs"
        p.write_text(f"pub fn f{i}() {{}}\n")
        paths.append(p)
    (root / "src/a.rs").write_text("pub fn a() {}\n")
    (root / "Cargo.toml").write_text(CARGO_TOML)
    (root / "Hotfile").write_text(HOTFILE.format(stamps=stamps))
    return stamps, paths


def burst_rewrite(paths: list[Path], tag: str) -> float:
    """Rewrites every file; returns the longest gap between two consecutive writes (ms)."""
    gap, last = 0.0, time.perf_counter()
    for i, p in enumerate(paths):
        common.write_text(p, f"pub fn f{i}() -> u32 {{ 1 }} // {tag}\n")
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    return gap * 1000


def burst_saves(paths: list[Path], tag: str, seconds: float) -> float:
    """Editor-saves every file, paced over `seconds`; returns the longest gap between saves (ms)."""
    start = time.monotonic()
    period = seconds / len(paths)
    gap, last = 0.0, time.perf_counter()
    for i, p in enumerate(paths):
        ahead = start + i * period - time.monotonic()
        if ahead > 0.002:
            time.sleep(min(ahead, 0.002))
        common.atomic_save(p, f"pub fn f{i}() -> u32 {{ 2 }} // {tag}\n")
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    return gap * 1000


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (not its children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(burst, stamps: Path, window: float, pid: int | None) -> dict:
    cpu0 = cpu_seconds(pid) if pid else float("nan")
    t_start = time.time_ns()
    max_gap = burst()
    t_end = time.time_ns()
    time.sleep(window)
    cpu1 = cpu_seconds(pid) if pid else float("nan")
    runs = [s for s in common.read_stamps(stamps) if s >= t_start]
    after = [s for s in runs if s >= t_end]
    return {
        "burst_ms": (t_end - t_start) / 1e6,
        "max_gap_ms": max_gap,
        "cpu_s": cpu1 - cpu0,
        "runs": len(runs),
        "during": len(runs) - len(after),
        "after": len(after),
        "first_ms": (after[0] - t_end) / 1e6 if after else None,
        "last_ms": (after[-1] - t_end) / 1e6 if after else None,
    }


def bursts(files, args):
    return [
        ("rewrite", lambda: burst_rewrite(files, "rewrite")),
        ("saves", lambda: burst_saves(files, "saves", args.seconds)),
    ]


def run_tool(tool: str, paths: dict, args) -> dict:
    results = {}
    with tempfile.TemporaryDirectory(prefix="hot-bench-burst-") as tmp:
        root = Path(tmp)
        stamps, files = make_project(root, args.files)
        if tool == "none":
            return {name: measure(burst, stamps, 0, None) for name, burst in bursts(files, args)}
        with common.Proc(tool_argv(tool, paths, stamps), cwd=root, capture=tool.startswith("hot")) as proc:
            events = None
            if tool.startswith("hot"):
                events = common.HotEvents(proc)
                common.wait_hot_started(events, timeout=60)
            else:
                time.sleep(args.settle)
            time.sleep(0.5)
            for name, burst in bursts(files, args):
                results[name] = measure(burst, stamps, args.window, proc.popen.pid)
                if events:
                    new = events.drain()
                    results[name]["waves"] = [e.get("changed") for e in new if e.get("event") == "wave_started"]
                    results[name]["notes"] = [e for e in new if e.get("event") in ("note", "error", "loop_detected")]
    return results


def fmt(v):
    return "-" if v is None or v != v else f"{v:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=1.0, help="pace of the editor-save burst")
    parser.add_argument("--window", type=float, default=5.0, help="s after the burst in which runs are counted")
    parser.add_argument("--settle", type=float, default=3.0, help="s given to peers to start watching")
    parser.add_argument("--tools", default="none,hot,hot --debounce 0ms,watchexec,watchexec -d 0,cargo-watch",
                        help="`none` is the baseline: the bursts with no watcher running")
    for name, value in common.default_paths().items():
        parser.add_argument(f"--{name.replace('_', '-')}", default=value)
    args = parser.parse_args()
    paths = {k: getattr(args, k) for k in common.default_paths()}
    tools = [t.strip() for t in args.tools.split(",")]

    results = {}
    for tool in tools:
        print(f"running {tool} ...", flush=True)
        results[tool] = run_tool(tool, paths, args)

    print(f"\n{args.files} files; runs counted from the burst's start to {args.window:.0f} s after its end\n")
    rows = []
    for name in ["rewrite", "saves"]:
        for tool in tools:
            r = results[tool][name]
            rows.append([name, tool, f"{r['burst_ms']:.0f}", f"{r['max_gap_ms']:.1f}", "-" if r["cpu_s"] != r["cpu_s"] else f"{r['cpu_s']:.2f}",
                         r["runs"], r["during"], r["after"], fmt(r["first_ms"]), fmt(r["last_ms"])])
    print(common.table(["burst", "tool", "burst ms", "max gap ms", "tool cpu s", "runs", "during burst",
                        "after end", "end -> first run ms", "end -> last run ms"], rows))
    for tool in tools:
        for name in ["rewrite", "saves"]:
            r = results[tool][name]
            if "waves" in r:
                waves = r["waves"]
                shown = waves if len(waves) <= 12 else waves[:12] + ["..."]
                print(f"{tool} {name}: {len(waves)} waves, files changed per wave {shown}")
                kinds = Counter(n["event"] for n in r["notes"])
                if kinds:
                    print(f"  events: {dict(kinds)}; first: {r['notes'][0]}")


if __name__ == "__main__":
    main()
