#!/usr/bin/env python3
"""Benchmark: how many times a task runs after a burst of file changes, and how soon.

hot and its peers (watchexec, cargo-watch, bacon; each at its default and, with --fast, at its
fastest setting; a peer not installed is skipped) run one after another, each in a fresh temp
project, all running the same command, `sh -c 'date +%s%N >> STAMPS'` (one stamp per run).
The project is a Cargo workspace of 100 crates, `src/m00` .. `src/m99`, of 50 modules each:
5,000 files `src/mNN/fNNNNN.rs`, in a git repository with a second branch that changes every
file. Five bursts, one after the other, each --reps times:

  rewrite:  every file rewritten in place, as fast as Python can;
  saves:    every file saved the editor way (FILE.tmp~ written, renamed over FILE), paced over
            about --seconds (sleeps of at most ~2 ms, far below every tool's quiet period);
  touches:  every file's times set to now, content unchanged (`touch`, as make and cargo mean it);
  fmt:      a real `cargo fmt --all` of the workspace (the bursts above leave every file
            unformatted, so rustfmt rewrites all 5,000);
  checkout: a real `git checkout -f` to the other branch (git holds its index lock meanwhile).

For each burst: the runs (stamps) from the burst's start until --window s after its end, split
into those that started during the burst and after it; the lateness of the first and the last
run after the burst's end (for fmt and checkout, the end is the command's exit); the longest
gap between two writes (rewrite, saves, touches: a gap longer than a tool's quiet period splits
the burst legitimately); the tool's CPU time (its main process, from /proc). For hot also its
`wave_started` events (how many files each wave saw). The tool `none` runs the same bursts
with no watcher: how long they take by themselves.

Readiness: hot's `watching` event and first wave; peers a fixed settle time (they print none).

    cargo build --release && python3 bench/burst.py [--files 5000] [--reps 2] [--fast] \\
        [--peers-dir DIR] [--tools hot,watchexec,cargo-watch,bacon] [--bursts touches,...]

bench/run.py runs the same measure (its `bursts`) beside the others.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import peers

CRATES = 100
CRATE_TOML = '[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\npath = "lib.rs"\n'
WORKSPACE_TOML = '[workspace]\nmembers = ["src/m*"]\nresolver = "2"\n'
BURSTS = ["rewrite", "saves", "touches", "fmt", "checkout"]


def stamp_command(stamps: Path) -> list[str]:
    return ["sh", "-c", f"date +%s%N >> {stamps}"]


def make_project(root: Path, files: int) -> list[Path]:
    """The workspace (see the module's doc) with `files` modules, committed on `main`, and a
    branch `other` that changes every one; `main` checked out. Returns the modules' paths."""
    out = []
    mods: dict[int, list[str]] = {}
    for i in range(files):
        k = i % CRATES
        d = root / "src" / f"m{k:02}"
        if i < CRATES:
            d.mkdir(parents=True)
            (d / "Cargo.toml").write_text(CRATE_TOML.format(name=f"m{k:02}"))
        p = d / f"f{i:05}.rs"
        # Unformatted on both branches, so that `cargo fmt` after a checkout rewrites them too.
        p.write_text(f"pub fn f{i}( ) {{}}\n")
        mods.setdefault(k, []).append(p.stem)
        out.append(p)
    for k, names in mods.items():
        (root / "src" / f"m{k:02}" / "lib.rs").write_text("".join(f"pub mod {n};\n" for n in names))
    (root / "src/a.rs").write_text("pub fn a() {}\n")
    (root / "Cargo.toml").write_text(WORKSPACE_TOML)
    (root / ".gitignore").write_text("/target\n/Cargo.lock\n/STAMPS\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A", "src")
    git(root, "commit", "-q", "-m", "main")
    git(root, "checkout", "-q", "-b", "other")
    for i, p in enumerate(out):
        p.write_text(f"pub fn f{i}( ) -> u8 {{ 3 }}\n")
    git(root, "commit", "-q", "-a", "-m", "other")
    git(root, "checkout", "-q", "main")
    return out


def git(root: Path, *args: str) -> None:
    env = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
                    "-c", "commit.gpgsign=false", *args], cwd=root, env=env, check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)


# --- the bursts: each returns the longest gap between two of its writes (ms), or None ---------

def burst_rewrite(paths: list[Path], tag: str) -> float:
    """Rewrites every file in place."""
    gap, last = 0.0, time.perf_counter()
    for i, p in enumerate(paths):
        common.write_text(p, f"pub fn f{i}() -> u32 {{ 1 }} // {tag}\n")
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    return gap * 1000


def burst_saves(paths: list[Path], tag: str, seconds: float) -> float:
    """Editor-saves every file, paced over `seconds`."""
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


def burst_touch(paths: list[Path]) -> float:
    """Sets every file's times to now, content unchanged."""
    gap, last = 0.0, time.perf_counter()
    for p in paths:
        os.utime(p, None)
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    return gap * 1000


def burst_fmt(root: Path) -> None:
    """A real `cargo fmt --all` of the workspace: one rustfmt over its 100 crates."""
    subprocess.run(["cargo", "fmt", "--all"], cwd=root, check=True, stdin=subprocess.DEVNULL,
                   capture_output=True)


def burst_checkout(root: Path, rep: int) -> None:
    """A real `git checkout -f` to the branch that changes every file (back to `main` on odd
    repetitions)."""
    git(root, "checkout", "-q", "-f", "other" if rep % 2 == 0 else "main")


def kinds(root: Path, files: list[Path], seconds: float) -> dict:
    return {
        "rewrite": lambda rep: burst_rewrite(files, f"rewrite {rep}"),
        "saves": lambda rep: burst_saves(files, f"saves {rep}", seconds),
        "touches": lambda rep: burst_touch(files),
        "fmt": lambda rep: burst_fmt(root),
        "checkout": lambda rep: burst_checkout(root, rep),
    }


# --- measuring -------------------------------------------------------------------------------

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
        "t_end": t_end,
        "burst_ms": (t_end - t_start) / 1e6,
        "max_gap_ms": max_gap,
        "cpu_s": cpu1 - cpu0,
        "runs": len(runs),
        "during": len(runs) - len(after),
        "after": len(after),
        "first_ms": (after[0] - t_end) / 1e6 if after else None,
        "last_ms": (after[-1] - t_end) / 1e6 if after else None,
    }


def wait_quiet(stamps: Path, quiet: float, limit: float) -> None:
    """Waits until no run has started for `quiet` seconds (bounded by `limit`), so that runs
    left over from one burst are not counted in the next."""
    deadline = time.monotonic() + limit
    last = len(common.read_stamps(stamps))
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = len(common.read_stamps(stamps))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def run(tools, paths: dict, files: int, reps: int, window: float, seconds: float, settle: float, log,
        only: list[str] | None = None) -> dict:
    """{tool: {burst: [measure() per repetition]}}; the tool "none" is the same bursts with no
    watcher. For hot each measure also holds `waves`: (files changed, ms from the burst's end
    to the event's arrival) per `wave_started`. `only`: the bursts to run (default all)."""
    results = {}
    for tool in [None] + list(tools):
        label = tool.label if tool else "none"
        log(f"  bursts: {label}")
        with tempfile.TemporaryDirectory(prefix="hot-bench-burst-") as tmp:
            root = Path(tmp)
            stamps = root / "STAMPS"
            bursts = {k: f for k, f in kinds(root, make_project(root, files), seconds).items()
                      if not only or k in only}
            if tool is None:
                results["none"] = {k: [measure(lambda: f(rep), stamps, 0, None) for rep in range(reps)]
                                   for k, f in bursts.items()}
                continue
            try:
                proc, events = peers.start(tool, paths, root, stamp_command(stamps), settle)
            except RuntimeError as e:
                log(f"  {label}: {e}")
                continue
            with proc:
                r = {k: [] for k in bursts}
                for rep in range(reps):
                    for name, f in bursts.items():
                        wait_quiet(stamps, 1.0, 15.0)
                        if events:
                            events.drain()
                        m = measure(lambda: f(rep), stamps, window, proc.popen.pid)
                        if events:
                            m["waves"] = [(e.get("changed"), (e["_t"] - m["t_end"]) / 1e6)
                                          for e in events.drain() if e.get("event") == "wave_started"]
                        r[name].append(m)
            results[tool] = r
    return results


def main() -> None:
    import report

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0, help="pace of the editor-save burst")
    parser.add_argument("--window", type=float, default=3.0, help="s after the burst in which runs are counted")
    parser.add_argument("--settle", type=float, default=3.0, help="s given to peers to start watching")
    parser.add_argument("--fast", action="store_true", help="each tool at its fastest setting too")
    parser.add_argument("--tools", default="hot,watchexec,cargo-watch,bacon")
    parser.add_argument("--bursts", default=",".join(BURSTS), help="which bursts, e.g. touches,rewrite")
    parser.add_argument("--hot", default=str(common.ROOT / "target/release/hot"))
    parser.add_argument("--peers-dir", default=os.environ.get("HOT_PEERS", str(common.ROOT / "target/peers")))
    args = parser.parse_args()
    paths = {b: str(Path(args.peers_dir) / "bin" / b) for b in peers.CRATES.values()}
    paths["hot"] = args.hot
    wanted = [t.strip() for t in args.tools.split(",")]
    tools = [t for t in peers.available(peers.TOOLS, paths) if t.kind in wanted and (args.fast or not t.fast)]
    for kind in wanted:
        if not any(t.kind == kind for t in tools):
            print(f"{kind} is not installed: skipped", file=sys.stderr)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    log(f"load average {os.getloadavg()[0]:.1f}; hot {peers.version(paths['hot'])}")
    only = [b.strip() for b in args.bursts.split(",")]
    results = run(tools, paths, args.files, args.reps, args.window, args.seconds, args.settle, log, only)
    print(report.burst_table(results, args.files, args.reps, args.window))


if __name__ == "__main__":
    main()
