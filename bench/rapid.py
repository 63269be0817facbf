#!/usr/bin/env python3
"""Benchmark: saves that come in quick succession, e.g. repeated saves, a formatter, a generator.

Found while running burst.py: hot's loop detection (a task whose own run keeps changing its
inputs) also fires on changes made by someone else, when they keep arriving within hot's
grace period (debounce + 200 ms) after each run; the flagged paths are then ignored. This
measures what that costs: per tool, --rounds rounds of --saves plain saves of src/a.rs, one every
--interval ms (each with new content), then 1.5 s of quiet. Same project and command as
latency.py (one stamp per run start).

Reported per tool and interval: saves, runs, and how many rounds ended with a run that started
after the round's last save (otherwise the last content was never acted on: a lost change);
for hot, its `loop_detected` events.

    cargo build --release && python3 bench/rapid.py [--intervals 100,150,300]
"""

import argparse
import tempfile
import time
from pathlib import Path

import common
from latency import make_project, tool_argv


def run(tool: str, paths: dict, interval_ms: float, args) -> dict:
    with tempfile.TemporaryDirectory(prefix="hot-bench-rapid-") as tmp:
        root = Path(tmp)
        stamps = make_project(root)
        target = root / "src/a.rs"
        with common.Proc(tool_argv(tool, paths, stamps), cwd=root, capture=tool.startswith("hot")) as proc:
            events = None
            if tool.startswith("hot"):
                events = common.HotEvents(proc)
                common.wait_hot_started(events)
            else:
                time.sleep(args.settle)
            start = time.time_ns()
            covered = 0
            for r in range(args.rounds):
                last_t0 = 0
                for i in range(args.saves):
                    last_t0 = time.time_ns()
                    common.write_text(target, f"pub fn a() -> u32 {{ {r * 1000 + i} }}\n")
                    time.sleep(interval_ms / 1000)
                time.sleep(1.5)
                if any(s >= last_t0 for s in common.read_stamps(stamps)):
                    covered += 1
            runs = len([s for s in common.read_stamps(stamps) if s >= start])
            loops = len([e for e in events.log if e.get("event") == "loop_detected"]) if events else None
    return {"runs": runs, "covered": covered, "loops": loops}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tools", default="hot,watchexec,cargo-watch")
    parser.add_argument("--intervals", default="100,150,300", help="ms between saves")
    parser.add_argument("--saves", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=2.0)
    for name, value in common.default_paths().items():
        parser.add_argument(f"--{name.replace('_', '-')}", default=value)
    args = parser.parse_args()
    paths = {k: getattr(args, k) for k in common.default_paths()}
    rows = []
    for interval in [float(i) for i in args.intervals.split(",")]:
        for tool in [t.strip() for t in args.tools.split(",")]:
            print(f"running {tool}, a save every {interval:.0f} ms ...", flush=True)
            r = run(tool, paths, interval, args)
            rows.append([f"{interval:.0f}", tool, args.saves * args.rounds, r["runs"],
                         f"{r['covered']}/{args.rounds}", "-" if r["loops"] is None else r["loops"]])
    print(f"\n{args.rounds} rounds of {args.saves} saves of src/a.rs, 1.5 s quiet after each round\n")
    print(common.table(["interval ms", "tool", "saves", "runs", "rounds whose last save ran",
                        "loop_detected"], rows))


if __name__ == "__main__":
    main()
