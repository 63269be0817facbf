#!/usr/bin/env python3
"""Benchmark: an edit made while a big tree moved into the project is walked -> start of the
edit's task, the moved tree's own wave, and SIGTERM during such a walk -> exit.

The project has `src/a.txt` (task "edit") and watches `src/big/**` (task "all"); a tree of
--files files is staged beside it and moved in with one rename, a save of src/a.txt follows
after each of --delays, and the tree is moved out again between trials.

    cargo build --release && python3 bench/movein.py [--files 100000] [--trials 3]
"""
import argparse, os, signal, sys, tempfile, time, statistics
from pathlib import Path
import common

HOTFILE = """task "edit" {{
    watch "src/a.txt"
    run "sh" "-c" "date +%s%N >> {stamps}"
}}
task "all" {{
    watch "src/big/**"
    run "sh" "-c" "date +%s%N >> {allstamps}"
}}
"""

def gen(big: Path, files: int, per_dir: int = 100):
    for d in range(files // per_dir):
        sub = big / f"d{d // 32}" / f"e{d}"
        sub.mkdir(parents=True)
        for i in range(per_dir):
            (sub / f"f{i}.txt").write_text(f"{d} {i}\n")

def wait_count(p: Path, n: int, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = common.read_stamps(p)
        if len(got) >= n:
            return got
        time.sleep(0.0005)
    return common.read_stamps(p)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hot", default=common.default_paths()["hot"])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--delays", default="0.02,0.1,0.3")
    a = ap.parse_args()
    delays = [float(x) for x in a.delays.split(",")]
    with tempfile.TemporaryDirectory(prefix="hot-movein-") as tmp:
        tmp = Path(tmp)
        root, staging = tmp / "p", tmp / "staging"
        (root / "src").mkdir(parents=True); staging.mkdir()
        stamps, allstamps = tmp / "STAMPS", tmp / "ALL"
        (root / "src/a.txt").write_text("0\n")
        (root / "Hotfile").write_text(HOTFILE.format(stamps=stamps, allstamps=allstamps))
        t = time.monotonic(); gen(staging / "big", a.files); print(f"generated {a.files} files in {time.monotonic()-t:.1f}s")
        lat, waves = [], []
        with common.Proc([a.hot, "--json"], cwd=root, capture=True) as proc:
            ev = common.HotEvents(proc)
            common.wait_hot_started(ev)
            for k in range(a.trials):
                delay = delays[k % len(delays)]
                n_edit, n_all = len(common.read_stamps(stamps)), len(common.read_stamps(allstamps))
                tm = time.time_ns()
                os.rename(staging / "big", root / "src/big")
                time.sleep(delay)
                t0 = time.time_ns()
                common.atomic_save(root / "src/a.txt", f"{k} {t0}\n")
                got = wait_count(stamps, n_edit + 1, 120)
                e = [s for s in got if s >= t0]
                lat.append((e[0] - t0) / 1e6 if e else float("nan"))
                ga = wait_count(allstamps, n_all + 1, 300)
                aa = [s for s in ga if s >= tm]
                waves.append((aa[0] - tm) / 1e6 if aa else float("nan"))
                print(f"trial {k}: edit {delay*1000:.0f} ms after mv -> task start {lat[-1]:.1f} ms; subtree wave {waves[-1]:.0f} ms after mv", flush=True)
                time.sleep(1.0)
                n_all = len(common.read_stamps(allstamps))
                os.rename(root / "src/big", staging / "big")
                wait_count(allstamps, n_all + 1, 300)
                time.sleep(1.0)
            # SIGTERM mid-walk
            os.rename(staging / "big", root / "src/big")
            time.sleep(0.05)
            t = time.monotonic()
            os.kill(proc.popen.pid, signal.SIGTERM)
            proc.popen.wait(60)
            print(f"SIGTERM 50 ms after mv -> exit in {(time.monotonic()-t)*1000:.0f} ms (status {proc.popen.returncode})")
        print("edit -> task start ms:", " ".join(f"{x:.1f}" for x in lat), "median", statistics.median(lat))

main()
