#!/usr/bin/env python3
"""Benchmark: `hot ci --dry-run` on a generated 500-node Hotfile, as a whole process.

Parse + validate + plan, including process start-up. Target: median under 20 ms.

    cargo build --release && python3 bench/plan.py [--hot target/release/hot] [--nodes 500]
"""

import argparse
import random
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
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hot", default="target/release/hot")
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    hot = str(Path(args.hot).resolve())
    with tempfile.TemporaryDirectory(prefix="hot-bench-") as tmp:
        root = Path(tmp)
        (root / "Hotfile").write_text(hotfile(args.nodes))
        print(f"{args.nodes}-node Hotfile, {(root / 'Hotfile').stat().st_size} bytes, {args.runs} runs")
        for label, command in [
            ("hot check", [hot, "check"]),
            ("hot ci --dry-run", [hot, "ci", "--dry-run"]),
            ("hot graph --format json", [hot, "graph", "--format", "json"]),
            ("baseline: hot --version", [hot, "--version"]),
        ]:
            measure(command, root, 3)  # warm the page cache
            times = sorted(measure(command, root, args.runs))
            p95 = times[int(len(times) * 0.95) - 1]
            print(
                f"{label:26} min {times[0]:6.2f} ms  median {statistics.median(times):6.2f} ms  p95 {p95:6.2f} ms"
            )


if __name__ == "__main__":
    main()
