#!/usr/bin/env python3
"""Benchmark: `hot check`, `hot ci --dry-run` and `hot graph` on a generated 500-node Hotfile,
as whole processes, beside `hot --version` (process start-up alone).

Parse + validate + plan (+ lint for `check`), including process start-up. The commands take
turns, one run of each per round, so a loaded machine slows them alike; each median is also
given as a ratio to `hot --version`'s. Target: each within 10 ms and at most 2x `hot --version`.

    cargo build --release && python3 bench/plan.py [--hot target/release/hot] [--nodes 500]

With `--old PATH`, a second binary takes its turn in every round too (each command of each
binary once per round), so a change is measured old beside new on one loaded machine; each
binary's medians are also given as ratios to its own `--version`. Both are run from fresh copies
made side by side: the same bytes from a file written an hour earlier measured ~10% slower
than from a copy just made (one binary against a copy of itself, 200 rounds, load 3-4), which
is more than most changes it is asked to show.
"""

import argparse
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def hotfile(nodes: int) -> str:
    rng = random.Random(42)
    out = ["defaults {", '    ignore "**/*.tmp"', '    debounce "20ms"', "}"]
    for i in range(nodes):
        kind = "service" if i % 50 == 49 else "task"
        out.append(f'{kind} "n{i}" {{')
        out.append(f'    watch "crate{i % 40}/src/**/*.rs" "crate{i % 40}/Cargo.toml"')
        if i:
            deps = sorted({f'"n{rng.randrange(i)}"' for _ in range(rng.randint(0, 3))})
            if deps:
                out.append(f"    after {' '.join(deps)}")
        out.append(f'    run "cargo build -p crate{i % 40}"')
        out.append(f'    env RUST_LOG="info" N="{i}"')
        if kind == "service":
            out.append(f'    socket "http" "127.0.0.1:{20000 + i}"')
            out.append('    ready delay="100ms"')
        out.append("}")
    return "\n".join(out) + "\n"


def measure(command: list[str], cwd: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return times


COMMANDS = [
    ("hot check", ["check"]),
    ("hot ci --dry-run", ["ci", "--dry-run"]),
    ("hot graph --format json", ["graph", "--format", "json"]),
    ("hot --version (process start-up alone)", ["--version"]),
]
BASELINE = COMMANDS[-1][0]


def measure_all(hot: str, cwd: Path, runs: int) -> dict:
    """{label: [ms per run]} of COMMANDS, taking turns; three warm-up rounds first."""
    return measure_turns([hot], cwd, runs)[0]


def measure_turns(hots: list[str], cwd: Path, runs: int) -> list[dict]:
    """Per binary, {label: [ms per run]} of COMMANDS, all taking turns; three warm-up rounds
    first."""
    out = [{label: [] for label, _ in COMMANDS} for _ in hots]
    for round_ in range(runs + 3):
        for label, args in COMMANDS:
            for hot, times in zip(hots, out):
                ms = measure([hot, *args], cwd, 1)
                if round_ >= 3:
                    times[label] += ms
    return out


def report(name: str, results: dict) -> None:
    base = statistics.median(results[BASELINE])
    if name:
        print(name)
    for label, times in results.items():
        times = sorted(times)
        p95 = times[int(len(times) * 0.95) - 1]
        median = statistics.median(times)
        print(
            f"{label:40} min {times[0]:6.2f} ms  median {median:6.2f} ms  p95 {p95:6.2f} ms"
            f"  {median / base:5.2f}x --version"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hot", default="target/release/hot")
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--old", help="a second binary, measured taking turns with --hot")
    args = parser.parse_args()
    hots = [str(Path(args.hot).resolve())]
    if args.old:
        hots.append(str(Path(args.old).resolve()))
    with tempfile.TemporaryDirectory(prefix="hot-bench-") as tmp, tempfile.TemporaryDirectory(
        prefix="hot-bench-bin-"
    ) as bins:
        if args.old:
            # The names stay in the report; the copies are what runs.
            names, hots = hots, [shutil.copy(hot, Path(bins) / f"hot{i}") for i, hot in enumerate(hots)]
        else:
            names = hots
        root = Path(tmp)
        (root / "Hotfile").write_text(hotfile(args.nodes))
        print(f"{args.nodes}-node Hotfile, {(root / 'Hotfile').stat().st_size} bytes, {args.runs} runs")
        results = measure_turns(hots, root, args.runs)
        if args.old:
            report(f"new: {names[0]}", results[0])
            report(f"old: {names[1]}", results[1])
        else:
            report("", results[0])


if __name__ == "__main__":
    main()
