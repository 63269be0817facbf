#!/usr/bin/env python3
"""Start-up cost of `hot --json watch` on a 100,000-file tree, next to watchexec and cargo-watch.

Builds the tree of benches/watch_tree.rs in a temp dir: 100,100 `.rs` files in 11,111
directories under src/ (110 top dirs x 100 leaf dirs x 9 files, plus 10 files per top dir),
and ignored target/ and node_modules/ trees (30,000 files in 3,000 dirs) listed in .gitignore.
The Hotfile makes every src file relevant:

    task "check" { watch "src/**/*.rs"; run "true" }

For hot it measures: spawn -> `{"event":"watching"}` on stdout; RSS (VmRSS) when the first wave
finishes (`wave_finished`) and again once the process has settled (background hashing done);
CPU time (utime+stime) over an idle window; edit -> `node_started` latency.

For watchexec and cargo-watch (from --peers, default $HOT_PEERS/bin), which print no
readiness event: RSS after --settle seconds, CPU over the same idle window, and edit -> first
stdout line of their command (`echo`), which includes spawning a shell and the command.

Every process is started in its own session and killed by process group; the temp dir is
removed. Python 3 stdlib only. Build hot first: `cargo build --release` (the binary lands in
this worktree's target/release/hot).

Usage: python3 bench/tree.py [--hot PATH] [--peers DIR] [--dir BASE] [--idle S] [--settle S]
                             [--scale N] [--no-peers] [--runs N]
"""

import argparse
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import common

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")


def build_tree(root, scale):
    """The tree of benches/watch_tree.rs; `scale` < 1 shrinks it for a quick try."""
    tops, leaves = max(1, round(110 * scale)), 100
    files = dirs = 0
    with open(os.path.join(root, ".gitignore"), "w") as f:
        f.write("target/\nnode_modules/\n")
    for t in range(tops):
        top = os.path.join(root, "src", f"m{t}")
        for l in range(leaves):
            leaf = os.path.join(top, f"l{l}")
            os.makedirs(leaf)
            dirs += 1
            for i in range(9):
                with open(os.path.join(leaf, f"f{i}.rs"), "w") as f:
                    f.write("pub fn f() -> u32 { 42 }\n")
                files += 1
        dirs += 1
        for i in range(10):
            with open(os.path.join(top, f"g{i}.rs"), "w") as f:
                f.write("pub fn g() {}\n")
            files += 1
    ignored = 0
    for name, n in (("target/debug/deps", 2000), ("node_modules", 1000)):
        for d in range(max(1, round(n * scale))):
            p = os.path.join(root, name, f"p{d}")
            os.makedirs(p)
            for i in range(10):
                with open(os.path.join(p, f"x{i}.rs"), "w") as f:
                    f.write("ignored")
                ignored += 1
    with open(os.path.join(root, "Hotfile"), "w") as f:
        f.write('task "check" { watch "src/**/*.rs"; run "true" }\n')
    return files, dirs + 1, ignored


def commit_tree(root):
    """Makes the tree a git repository with every file committed, as a real monorepo is (hot
    then takes the old contents of unchanged files from git's index); seconds at 100,000 files,
    minutes at 1,000,000. Returns the seconds it took."""
    t = time.monotonic()
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@localhost",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@localhost")
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "tree"]):
        subprocess.run(["git", "-C", root, *argv], env=env, check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return time.monotonic() - t


def rss_kb(pid):
    """VmRSS of the whole process group would need walking children; the watchers are single
    processes (their commands are short-lived), so the leader's VmRSS is what they hold."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_s(pid):
    """utime + stime of `pid` (its own threads; reaped children are not included)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # Fields 14 and 15; `rest` starts at field 3.
    return (int(rest[11]) + int(rest[12])) / TICK


class Proc:
    """A process in its own session whose stdout lines are time-stamped by a reader thread."""

    def __init__(self, argv, cwd):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.p.stdout:
            self.lines.put((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))
        self.lines.put((time.monotonic(), None))

    def wait_line(self, pred, timeout):
        """(time, line) of the first line matching `pred`, or None on timeout or exit."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                t, line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            if pred(line):
                return t, line

    def drain(self):
        while not self.lines.empty():
            self.lines.get_nowait()

    def kill(self):
        try:
            os.killpg(self.p.pid, signal.SIGTERM)
            self.p.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait()


def event(name):
    return lambda line: f'"event":"{name}"' in line.replace(" ", "")


def edit_latency(proc, root, pred, n=5):
    """Edit a tracked file n times; median seconds until a line matching `pred`."""
    lat = []
    for i in range(n):
        proc.drain()
        path = os.path.join(root, "src", "m0", f"l{i}", "f0.rs")
        t = time.monotonic()
        with open(path, "w") as f:
            # Unique bytes: hot (rightly) ignores a save that leaves the content unchanged.
            f.write(f"pub fn f() -> u64 {{ {time.time_ns()} }}\n")
        got = proc.wait_line(pred, 10)
        if got is None:
            return None
        lat.append(got[0] - t)
        time.sleep(0.5)
    return statistics.median(lat)


def measure_hot(hot, root, idle, settle):
    r = {"name": "hot"}
    p = Proc([hot, "--json", "watch"], root)
    try:
        got = p.wait_line(event("watching"), 60)
        if got is None:
            r["error"] = f"no watching event (exit {p.p.poll()})"
            return r
        r["ready_s"] = got[0] - p.t0
        got = p.wait_line(event("wave_finished"), 60)
        if got is None:
            r["error"] = "no wave_finished event"
            return r
        r["first_wave_s"] = got[0] - p.t0
        r["rss_wave_kb"] = rss_kb(p.p.pid)
        # Let background work (hashing the baseline) finish before calling it idle.
        time.sleep(settle)
        r["rss_kb"] = rss_kb(p.p.pid)
        r["startup_cpu_s"] = cpu_s(p.p.pid)
        c0 = cpu_s(p.p.pid)
        time.sleep(idle)
        r["idle_cpu_ms"] = (cpu_s(p.p.pid) - c0) * 1000
        r["edit_s"] = edit_latency(p, root, event("node_started"))
    finally:
        p.kill()
    return r


def measure_peer(name, argv, root, idle, settle):
    r = {"name": name}
    if not os.access(argv[0], os.X_OK):
        r["error"] = f"{argv[0]} not found"
        return r
    p = Proc(argv, root)
    try:
        time.sleep(settle)
        if p.p.poll() is not None:
            r["error"] = f"exited with {p.p.returncode}"
            return r
        r["rss_kb"] = rss_kb(p.p.pid)
        r["startup_cpu_s"] = cpu_s(p.p.pid)
        c0 = cpu_s(p.p.pid)
        time.sleep(idle)
        r["idle_cpu_ms"] = (cpu_s(p.p.pid) - c0) * 1000
        r["edit_s"] = edit_latency(p, root, lambda line: "bench-ran" in line)
    finally:
        p.kill()
    return r


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return f"{v:.3f} s"
    if unit == "ms":
        return f"{v:.0f} ms"
    if unit == "MB":
        return f"{v / 1024:.1f} MB"
    return str(v)


def ratio(v, base):
    if v is None or base is None or base == 0:
        return ""
    return f" ({v / base:.1f}x)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hot", default=os.path.join(REPO, "target", "release", "hot"))
    ap.add_argument("--peers", default=str(common.PEERS))
    ap.add_argument("--dir", default=None, help="base directory for the temp tree")
    ap.add_argument("--idle", type=float, default=3.0, help="idle CPU window (s)")
    ap.add_argument("--settle", type=float, default=3.0,
                    help="wait before RSS/idle CPU: after the first wave for hot, after spawn for peers")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink the tree (quick runs)")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--runs", type=int, default=1,
                    help="run hot this many times; the table shows the median-ready run")
    args = ap.parse_args()
    hot = os.path.abspath(args.hot)
    if not os.access(hot, os.X_OK):
        sys.exit(f"{hot}: not found; run `cargo build --release` first or pass --hot")

    tmp = tempfile.mkdtemp(prefix="hot-tree-", dir=args.dir)
    try:
        t = time.monotonic()
        files, dirs, ignored = build_tree(tmp, args.scale)
        print(f"tree: {files} .rs files in {dirs} dirs under src/ (+{ignored} ignored), "
              f"built in {time.monotonic() - t:.1f} s")
        # hot takes a background baseline only from files older than 3 s (ctime): let the tree
        # age past that, as a checkout that is not brand new has.
        time.sleep(3.5)
        runs = [measure_hot(hot, tmp, args.idle, args.settle) for _ in range(max(1, args.runs))]
        ok = [r for r in runs if "ready_s" in r]
        if len(runs) > 1:
            print("hot ready per run: " + ", ".join(fmt(r.get("ready_s"), "s") for r in runs))
        ok.sort(key=lambda r: r["ready_s"])
        results = [ok[len(ok) // 2] if ok else runs[0]]
        if not args.no_peers:
            wx = os.path.join(args.peers, "watchexec")
            cw = os.path.join(args.peers, "cargo-watch")
            results.append(measure_peer(
                "watchexec", [wx, "-w", "src", "-e", "rs", "--", "echo", "bench-ran"],
                tmp, args.idle, args.settle))
            # cargo-watch refuses to start outside a cargo project ("project root does not exist").
            with open(os.path.join(tmp, "Cargo.toml"), "w") as f:
                f.write('[package]\nname = "tree"\nversion = "0.1.0"\nedition = "2021"\n')
            results.append(measure_peer(
                "cargo-watch", [cw, "watch", "-w", "src", "-s", "echo bench-ran"],
                tmp, args.idle, args.settle))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = results[0]
    print()
    print(f"{'':12} {'ready':>10} {'1st wave':>10} {'RSS @wave':>10} {'RSS settled':>18} "
          f"{'start CPU':>16} {'idle CPU/' + str(args.idle) + 's':>16} {'edit->run':>18}")
    for r in results:
        if "error" in r:
            print(f"{r['name']:12} error: {r['error']}")
            continue
        print(f"{r['name']:12} {fmt(r.get('ready_s'), 's'):>10} {fmt(r.get('first_wave_s'), 's'):>10} "
              f"{fmt(r.get('rss_wave_kb'), 'MB'):>10} "
              f"{fmt(r.get('rss_kb'), 'MB') + ratio(r.get('rss_kb'), base.get('rss_kb')):>18} "
              f"{fmt(r.get('startup_cpu_s'), 's') + ratio(r.get('startup_cpu_s'), base.get('startup_cpu_s')):>16} "
              f"{fmt(r.get('idle_cpu_ms'), 'ms'):>16} "
              f"{fmt(r.get('edit_s'), 's') + ratio(r.get('edit_s'), base.get('edit_s')):>18}")
    print()
    print("ready: spawn -> {\"event\":\"watching\"} (watchexec and cargo-watch print no readiness event).")
    print(f"RSS settled / start CPU: {args.settle:.0f} s after the first wave (hot) or after spawn (peers);"
          " ratios are to hot.")
    print("edit->run: hot to node_started; peers to their command's first output line (shell + echo).")


if __name__ == "__main__":
    main()
