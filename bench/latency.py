#!/usr/bin/env python3
"""Benchmark: latency from a file change to the start of the task it triggers, and duplicate runs.

hot (default 10 ms debounce, and `--debounce 0ms`), watchexec (default 50 ms debounce, and
`-d 0ms`) and cargo-watch (default 0.5 s delay) run
one after another in one invocation, each in its own fresh temp project:

    src/a.rs, Cargo.toml (cargo-watch refuses to start without one), and
    Hotfile:  task "t" { watch "src/**/*.rs"; run "sh" "-c" "date +%s%N >> /abs/STAMPS" }

Every tool runs the same command line, `sh -c 'date +%s%N >> /abs/STAMPS'` (watchexec with
`--shell=none` so that argv is executed as is; cargo-watch with `-s`, which is `sh -c`).

Readiness: hot is ready once it printed the `watching` event and finished its first wave.
watchexec and cargo-watch have no readiness signal, so they get a fixed settle time (--settle)
after spawn and are started with --postpone (no initial run).

Then N plain saves (open, truncate, write new content) of src/a.rs, then N atomic saves (write
src/a.rs.tmp~, rename over src/a.rs). For each save t0 = time.time_ns() just before the write;
we wait (bounded) for a new stamp; latency = first stamp >= t0, minus t0. After each run is seen
we wait --gap ms; every further stamp before the next save is a duplicate run.

    cargo build --release && python3 bench/latency.py [--n 40] [--tools hot,watchexec,...] \\
        [--hot-build base=OTHER/hot --tools hot,hot@base,...] [--rounds 3]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import common

HOTFILE = """task "t" {{
    watch "src/**/*.rs"
    run "sh" "-c" "date +%s%N >> {stamps}"
}}
"""
CARGO_TOML = '[package]\nname = "bench"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\npath = "src/a.rs"\n'


def make_project(root: Path) -> Path:
    """The temp project; returns the STAMPS path."""
    stamps = root / "STAMPS"
    (root / "src").mkdir()
    (root / "src/a.rs").write_text("pub fn a() {}\n")
    (root / "Cargo.toml").write_text(CARGO_TOML)
    (root / "Hotfile").write_text(HOTFILE.format(stamps=stamps))
    return stamps


def tool_argv(tool: str, paths: dict, stamps: Path) -> list[str]:
    command = f"date +%s%N >> {stamps}"
    # Another build of hot, side by side in the same run: "hot@NAME" (see --hot-build).
    if tool.startswith("hot@"):
        name, _, rest = tool[len("hot@"):].partition(" ")
        binary = paths["builds"][name]
        return [binary, "watch", "--json", *rest.split()] if rest else [binary, "--json"]
    if tool == "hot":
        return [paths["hot"], "--json"]
    if tool == "hot --debounce 0ms":
        return [paths["hot"], "watch", "--json", "--debounce", "0ms"]
    if tool == "watchexec":
        return [paths["watchexec"], "-w", "src", "-e", "rs", "--postpone", "-n", "--", "sh", "-c", command]
    if tool == "watchexec -d 0":
        return [paths["watchexec"], "-w", "src", "-e", "rs", "--postpone", "-d", "0ms", "-n", "--", "sh", "-c", command]
    if tool == "cargo-watch":
        return [paths["cargo_watch"], "watch", "-w", "src", "--postpone", "-s", command]
    raise ValueError(tool)


def wait_new_stamp(stamps: Path, before: int, timeout: float) -> list[int]:
    """Poll (every ~0.5 ms) until STAMPS holds more than `before` stamps; bounded by timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = common.read_stamps(stamps)
        if len(got) > before:
            return got
        time.sleep(0.0005)
    return common.read_stamps(stamps)


def measure_saves(save, target: Path, stamps: Path, n: int, gap: float, timeout: float, label: str):
    """n saves; returns (latencies in ms, duplicate runs, missed saves)."""
    t0s = []
    missed = 0
    for i in range(n):
        before = len(common.read_stamps(stamps))
        text = f"pub fn a() -> u32 {{ {i} }} // {label} {time.time_ns()}\n"
        t0 = time.time_ns()
        save(target, text)
        t0s.append(t0)
        got = wait_new_stamp(stamps, before, timeout)
        if len(got) <= before:
            missed += 1
        time.sleep(gap)
    time.sleep(max(gap, 0.5))  # let late duplicates of the last save land
    all_stamps = common.read_stamps(stamps)
    latencies, duplicates = [], 0
    bounds = t0s[1:] + [time.time_ns()]
    for t0, t_next in zip(t0s, bounds):
        runs = [s for s in all_stamps if t0 <= s < t_next]
        if runs:
            latencies.append((runs[0] - t0) / 1e6)
            duplicates += len(runs) - 1
    return latencies, duplicates, missed


def run_tool(tool: str, paths: dict, args) -> dict:
    """One tool in a fresh project: start, wait until ready (or settle), measure both save kinds."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="hot-bench-latency-") as tmp:
        root = Path(tmp)
        stamps = make_project(root)
        argv = tool_argv(tool, paths, stamps)
        with common.Proc(argv, cwd=root, capture=tool.startswith("hot")) as proc:
            if tool.startswith("hot"):
                events = common.HotEvents(proc)
                common.wait_hot_started(events)
            else:
                time.sleep(args.settle)
            initial = len(common.read_stamps(stamps))
            for kind, save in [("plain", common.write_text), ("atomic", common.atomic_save)]:
                lat, dup, missed = measure_saves(
                    save, root / "src/a.rs", stamps, args.n, args.gap / 1000, args.timeout, kind
                )
                results[kind] = {"latencies": lat, "duplicates": dup, "missed": missed}
            results["initial_runs"] = initial
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40, help="saves of each kind")
    parser.add_argument("--tools", default="hot,hot --debounce 0ms,watchexec,watchexec -d 0,cargo-watch")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds given to peers to start watching")
    parser.add_argument("--gap", type=float, default=300, help="ms waited after each run, to catch duplicates")
    parser.add_argument("--timeout", type=float, default=3.0, help="s waited for a run after a save")
    parser.add_argument("--hot-build", action="append", default=[], metavar="NAME=PATH",
                        help="another hot binary, measured as tool `hot@NAME` (and `hot@NAME --debounce 0ms`)")
    parser.add_argument("--rounds", type=int, default=1, help="the tools one after another, this many times (results pooled)")
    for name, value in common.default_paths().items():
        parser.add_argument(f"--{name.replace('_', '-')}", default=value)
    args = parser.parse_args()
    paths = {k: getattr(args, k) for k in common.default_paths()}
    paths["builds"] = dict(b.split("=", 1) for b in args.hot_build)

    tools = [t.strip() for t in args.tools.split(",")]
    all_results = {}
    # Rounds interleave the tools, so that a load that changes during the run weighs on each.
    for round_ in range(args.rounds):
        for tool in tools:
            print(f"running {tool} (round {round_ + 1}) ...", flush=True)
            got = run_tool(tool, paths, args)
            pooled = all_results.setdefault(tool, {"initial_runs": 0})
            pooled["initial_runs"] += got["initial_runs"]
            for kind in ["plain", "atomic"]:
                into = pooled.setdefault(kind, {"latencies": [], "duplicates": 0, "missed": 0})
                into["latencies"] += got[kind]["latencies"]
                into["duplicates"] += got[kind]["duplicates"]
                into["missed"] += got[kind]["missed"]

    print(f"\nchange -> task start, {args.n} saves of each kind, {args.gap:.0f} ms after each run to catch duplicates (ms)\n")
    rows = []
    for kind in ["plain", "atomic"]:
        hot_median = None
        if "hot" in all_results and all_results["hot"][kind]["latencies"]:
            hot_median = statistics.median(all_results["hot"][kind]["latencies"])
        for tool in tools:
            r = all_results[tool][kind]
            lat = r["latencies"]
            if lat:
                median = statistics.median(lat)
                ratio = f"{median / hot_median:.1f}x" if hot_median else "n/a"
                rows.append([kind, tool, f"{median:.1f}", f"{common.percentile(lat, 90):.1f}",
                             f"{max(lat):.1f}", r["duplicates"], r["missed"], ratio])
            else:
                rows.append([kind, tool, "-", "-", "-", r["duplicates"], r["missed"], "n/a"])
    print(common.table(["save", "tool", "median", "p90", "max", "duplicates", "missed", "median / hot"], rows))
    for tool in tools:
        if not tool.startswith("hot") and all_results[tool]["initial_runs"]:
            print(f"note: {tool} ran {all_results[tool]['initial_runs']} time(s) before the first save")


if __name__ == "__main__":
    main()
